//! Helpers shared by the integration tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub,
    reason = "test code: a failure should panic with context"
)]

use dataseal_reputation::{Event, EventKind, Outcome, ProviderId, Timestamp};

pub const T0: i64 = 1_795_219_200; // 2026-11-21T00:00:00Z

pub fn ts(offset_seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(T0 + offset_seconds).unwrap()
}

pub fn pid(s: &str) -> ProviderId {
    s.parse().unwrap()
}

pub fn ev(at: i64, provider: &str, kind: EventKind, outcome: Outcome) -> Event {
    let e = Event::new(
        ts(at),
        "observer-1".parse().unwrap(),
        pid(provider),
        kind,
        outcome,
    );
    if kind == EventKind::Retrieval && outcome == Outcome::Success {
        e.verified()
            .unwrap()
            .with_latency_us(80_000)
            .with_bytes(1 << 20)
    } else {
        e
    }
}

pub fn probe(at: i64, provider: &str, ok: bool) -> Event {
    let o = if ok {
        Outcome::Success
    } else {
        Outcome::Timeout
    };
    ev(at, provider, EventKind::AvailabilityProbe, o)
}

pub fn read(at: i64, provider: &str, ok: bool) -> Event {
    let o = if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    ev(at, provider, EventKind::Retrieval, o)
}

pub fn challenge(at: i64, provider: &str, ok: bool) -> Event {
    let o = if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    ev(at, provider, EventKind::RetentionChallenge, o)
}

/// A mixed, deterministic stream: `hours` hours of probes, reads and challenges for a
/// few providers with different failure patterns.
pub fn mixed_stream(hours: i64) -> Vec<Event> {
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 1000) as u32
    };
    for h in 0..hours {
        for (i, p) in ["good", "flaky", "bad", "slow"].iter().enumerate() {
            let fail_per_mille = [5, 80, 600, 10][i];
            let at = h * 3600 + i as i64 * 60;
            out.push(probe(at, p, rnd() >= fail_per_mille));
            let mut r = read(at + 5, p, rnd() >= fail_per_mille);
            if *p == "slow" && r.is_verified_success() {
                r = r.with_latency_us(u64::from(rnd()) * 5_000);
            }
            out.push(r);
            if h % 6 == 0 {
                out.push(challenge(at + 10, p, rnd() >= fail_per_mille / 4));
            }
            if rnd() < 3 {
                out.push(ev(at + 20, p, EventKind::Retrieval, Outcome::Unknown));
            }
        }
    }
    out
}
