//! Real processes on one registry: two writers hammering the same versions never lose
//! an update or reach a state the rules forbid, and a writer killed (SIGKILL) at random
//! points leaves every version in its old state or its new one.
//!
//! The writers are this test binary run again with `DATASEAL_REGISTRY_WORKER` set, so
//! that only the `worker` test does anything.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{change, cid};
use dataseal_base::Cid;
use dataseal_registry::{Error, HoldId, HoldScope, LifecycleState, Registry, VersionStatus};

const WORKER_ENV: &str = "DATASEAL_REGISTRY_WORKER";
const VERSIONS: usize = 12;

fn names() -> Vec<Cid> {
    (0..VERSIONS).map(|i| cid(&format!("hammer-{i}"))).collect()
}

/// A tiny deterministic generator (xorshift), seeded per worker.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The worker: `DATASEAL_REGISTRY_WORKER=URL;SEED;STEPS`. Prints `RESULT t p l` (its
/// successful transitions, holds placed, holds lifted) when it finishes.
#[tokio::test(flavor = "current_thread")]
async fn worker() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let mut parts = spec.split(';');
    let url = parts.next().unwrap();
    let seed: u64 = parts.next().unwrap().parse().unwrap();
    let steps: usize = parts.next().unwrap().parse().unwrap();
    let r = Registry::open(url).await.unwrap();
    let mut rng = Rng(seed | 1);
    let versions = names();
    let who = change(&format!("worker-{seed}"), "steward", "hammer");
    let legal = change(&format!("worker-{seed}"), "legal", "hammer hold");
    let mut mine: Vec<HoldId> = Vec::new();
    let (mut transitions, mut placed, mut lifted) = (0u64, 0u64, 0u64);
    for _ in 0..steps {
        let c = versions[rng.below(versions.len())];
        match rng.below(10) {
            0..=5 => {
                let VersionStatus::Known(k) = r.status(&c).await.unwrap() else {
                    panic!("{c} unknown");
                };
                let targets = k.state.allowed_targets();
                if targets.is_empty() {
                    continue;
                }
                let to = targets[rng.below(targets.len())];
                // Erasure ends a version's story: make it rare.
                if to == LifecycleState::Erased && rng.below(4) != 0 {
                    continue;
                }
                let moved = if to == LifecycleState::Approved {
                    // As the facade approves: one approval kept, the second kept with
                    // the transition (which another worker may have made first).
                    r.record_approval_envelope(&c, b"{\"approval\":1}", who.at)
                        .await
                        .unwrap();
                    r.approve_verified(&c, b"{\"approval\":2}", &who).await
                } else {
                    r.transition_from(&c, k.state, to, &who).await
                };
                match moved {
                    Ok(_) => transitions += 1,
                    Err(Error::StateMismatch { .. } | Error::Held { .. }) => {}
                    Err(Error::IllegalTransition { .. }) if to == LifecycleState::Approved => {}
                    Err(e) => panic!("transition {c} {} -> {to}: {e}", k.state),
                }
            }
            6..=7 => {
                mine.push(r.place_hold(&HoldScope::Version(c), &legal).await.unwrap());
                placed += 1;
            }
            _ => {
                if !mine.is_empty() {
                    let h = mine.swap_remove(rng.below(mine.len()));
                    r.lift_hold(h, &legal).await.unwrap();
                    lifted += 1;
                }
            }
        }
    }
    println!("RESULT {transitions} {placed} {lifted}");
}

fn spawn_worker(url: &str, seed: u64, steps: usize, stdout: Stdio) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker", "--nocapture", "--test-threads=1"])
        .env(WORKER_ENV, format!("{url};{seed};{steps}"))
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

async fn setup(r: &Registry) {
    let who = change("setup", "publisher", "setup");
    for (i, c) in names().into_iter().enumerate() {
        let v = dataseal_registry::NewVersion::new(c, common::dataset(&format!("ds{}", i % 3)));
        r.register(&v, &who).await.unwrap();
    }
}

/// Checks every invariant the rules promise, and returns per-version counts of
/// (transitions, holds placed, holds lifted).
async fn check_invariants(r: &Registry) -> (u64, u64, u64) {
    let mut totals = (0, 0, 0);
    for c in names() {
        let VersionStatus::Known(k) = r.status(&c).await.unwrap() else {
            panic!("{c} unknown");
        };
        let history = r.history(&c).await.unwrap();
        let holds = r.holds_covering(&c).await.unwrap();
        // The history is a chain of allowed moves ending in the current state.
        assert_eq!(history[0].from, None);
        for pair in history.windows(2) {
            assert_eq!(pair[1].from, Some(pair[0].to), "{c}: broken chain");
            assert!(pair[0].to.can_move_to(pair[1].to), "{c}: forbidden move");
            assert!(pair[1].revision > pair[0].revision);
        }
        assert_eq!(history.last().unwrap().to, k.state);
        // Every change took its own revision: none was lost or doubled.
        let mut events: HashMap<u64, &str> = HashMap::new();
        for t in &history[1..] {
            assert!(events.insert(t.revision, "transition").is_none(), "{c}");
        }
        for h in &holds {
            assert!(
                events.insert(h.placed_revision.unwrap(), "place").is_none(),
                "{c}"
            );
            if let Some(l) = h.lifted_revision {
                assert!(events.insert(l, "lift").is_none(), "{c}");
            }
        }
        assert_eq!(
            events.len() as u64,
            k.revision,
            "{c}: revisions and events disagree"
        );
        // No move the holds forbid happened while one was active.
        for t in &history[1..] {
            if t.to.refused_while_held() {
                for h in &holds {
                    let placed = h.placed_revision.unwrap();
                    let active =
                        placed < t.revision && h.lifted_revision.is_none_or(|l| l > t.revision);
                    assert!(
                        !active,
                        "{c}: {} at revision {} under {}",
                        t.to, t.revision, h.id
                    );
                }
            }
        }
        assert_eq!(
            k.active_holds,
            holds.iter().filter(|h| h.is_active()).count() as u64
        );
        totals.0 += history.len() as u64 - 1;
        totals.1 += holds.len() as u64;
        totals.2 += holds.iter().filter(|h| !h.is_active()).count() as u64;
    }
    totals
}

fn result_of(child: Child) -> (u64, u64, u64) {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "a worker failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, rest)| rest.trim()))
        .unwrap_or_else(|| panic!("no RESULT line in {stdout}"));
    let n: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
    (n[0], n[1], n[2])
}

async fn two_writers(url: &str) {
    let r = Registry::open(url).await.unwrap();
    setup(&r).await;
    let a = spawn_worker(url, 11, 400, Stdio::piped());
    let b = spawn_worker(url, 29, 400, Stdio::piped());
    let (ra, rb) = (result_of(a), result_of(b));
    let found = check_invariants(&r).await;
    assert_eq!(
        found,
        (ra.0 + rb.0, ra.1 + rb.1, ra.2 + rb.2),
        "lost or phantom updates"
    );
    assert!(
        found.0 > 10 && found.1 > 10,
        "too little happened: {found:?}"
    );
    r.close().await;
}

/// Kills a writer at random points, again and again; after each kill every version is
/// in a consistent state (old or new, never in between).
async fn killed_writers(url: &str, rounds: u64) {
    let r = Registry::open(url).await.unwrap();
    setup(&r).await;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..rounds {
        let mut child = spawn_worker(url, 1000 + round, 1_000_000, Stdio::null());
        std::thread::sleep(Duration::from_millis(150 + rng.below(250) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        check_invariants(&r).await;
    }
    // The writers got work done between the kills.
    let (transitions, placed, _) = check_invariants(&r).await;
    assert!(transitions + placed > rounds, "{transitions} {placed}");
    r.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    two_writers(&format!("sqlite:{}", dir.path().join("r.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_processes() {
    let Some(pg) = common::PgCluster::start() else {
        return;
    };
    two_writers(&pg.fresh_database().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_writer() {
    let dir = tempfile::tempdir().unwrap();
    killed_writers(&format!("sqlite:{}", dir.path().join("r.db").display()), 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_writer() {
    let Some(pg) = common::PgCluster::start() else {
        return;
    };
    killed_writers(&pg.fresh_database().await, 20).await;
}
