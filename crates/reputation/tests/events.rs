//! The events schema (strict parsing, line numbers, skip-or-reject) and the hash-chained log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use common::*;
use dataseal_reputation::{
    Error, Event, EventKind, EventLog, LogHead, OnMalformed, Outcome, parse_events,
};

const GOOD: &str = r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"availability_probe","outcome":"success"}"#;

fn reason_at(text: &str) -> (usize, String) {
    match parse_events(text, OnMalformed::Reject) {
        Err(Error::MalformedEvent { line, reason }) => (line, reason),
        other => panic!("expected a malformed event, got {other:?}"),
    }
}

#[test]
fn every_field_round_trips_in_schema_order() {
    let e = ev(0, "p", EventKind::Retrieval, Outcome::Success)
        .with_region("DE".parse().unwrap())
        .with_network_group("AS3320".parse().unwrap());
    let line = e.to_json_line();
    assert_eq!(
        line,
        r#"{"v":1,"time":"2026-11-21T00:00:00Z","observer":"observer-1","provider":"p","kind":"retrieval","outcome":"success","verified":true,"latency_us":80000,"bytes":1048576,"region":"DE","network_group":"AS3320"}"#
    );
    assert_eq!(Event::from_json_line(&line).unwrap(), e);
}

#[test]
fn malformed_lines_are_reported_with_their_line_number() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"availability_probe","outcome":"success","extra":1}"#,
            "unknown field",
        ),
        (
            r#"{"v":2,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"availability_probe","outcome":"success"}"#,
            "schema version 2",
        ),
        (
            r#"{"v":1,"time":"2026-11-21 05:00:00","observer":"o","provider":"p","kind":"availability_probe","outcome":"success"}"#,
            "timestamp",
        ),
        (
            r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"has space","kind":"availability_probe","outcome":"success"}"#,
            "provider id",
        ),
        (
            r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"ping","outcome":"success"}"#,
            "unknown variant",
        ),
        (
            r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"availability_probe","outcome":"ok"}"#,
            "unknown variant",
        ),
        (
            r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"availability_probe","outcome":"success","verified":true}"#,
            "only a retrieval",
        ),
        (
            r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"dispute_opened","outcome":"success"}"#,
            "dispute_opened",
        ),
        (
            r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"dispute_resolved","outcome":"timeout"}"#,
            "dispute_resolved",
        ),
        (
            r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"retrieval","outcome":"success","latency_us":-1}"#,
            "invalid value",
        ),
        (
            r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"o","provider":"p","kind":"retrieval"}"#,
            "missing field",
        ),
        ("", "empty line"),
        ("[1,2]", "invalid type"),
    ];
    for (bad, why) in cases {
        let text = format!("{GOOD}\n{GOOD}\n{bad}\n{GOOD}\n");
        let (line, reason) = reason_at(&text);
        assert_eq!(line, 3, "{bad}");
        assert!(reason.contains(why), "{bad}: {reason}");
        let skipped = parse_events(&text, OnMalformed::Skip).unwrap();
        assert_eq!(skipped.events.len(), 3);
        assert_eq!(skipped.skipped.len(), 1);
        assert_eq!(skipped.skipped[0].line, 3);
    }
}

#[test]
fn skipping_counts_every_bad_line_and_keeps_order() {
    let text = format!("x\n{GOOD}\n\n{GOOD}\ny\r\n{GOOD}");
    let parsed = parse_events(&text, OnMalformed::Skip).unwrap();
    assert_eq!(parsed.events.len(), 3);
    let lines: Vec<usize> = parsed.skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, [1, 3, 5]);
    assert_eq!(reason_at(&text).0, 1);
}

#[test]
fn unverified_successful_reads_count_as_unknown() {
    let e = Event::new(
        ts(0),
        "o".parse().unwrap(),
        pid("p"),
        EventKind::Retrieval,
        Outcome::Success,
    );
    assert!(!e.is_verified_success());
    assert_eq!(e.effective_outcome(), Outcome::Unknown);
    assert!(
        Event::new(
            ts(0),
            "o".parse().unwrap(),
            pid("p"),
            EventKind::AvailabilityProbe,
            Outcome::Success
        )
        .verified()
        .is_err()
    );
}

fn sample_log() -> (EventLog, String) {
    let log = EventLog::from_events(mixed_stream(3));
    let text = log.to_jsonl();
    (log, text)
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn join(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn broken_at(text: &str, head: Option<&LogHead>) -> (usize, String) {
    match EventLog::verify(text, head) {
        Err(Error::LogBroken { line, problem }) => (line, problem),
        other => panic!("expected a broken log, got {:?}", other.map(|l| l.head())),
    }
}

#[test]
fn an_intact_log_verifies_and_extends_its_old_head() {
    let (log, text) = sample_log();
    let back = EventLog::verify(&text, Some(&log.head())).unwrap();
    assert_eq!(back, log);
    assert_eq!(
        EventLog::verify(&text, None).unwrap().events(),
        log.events()
    );
    let mut grown = log.clone();
    let old = grown.head();
    let line = grown.append(probe(99_999, "p", true));
    let text2 = format!("{text}{line}\n");
    assert_eq!(
        EventLog::verify(&text2, Some(&old)).unwrap().head(),
        grown.head()
    );
    assert_eq!(
        EventLog::verify("", Some(&LogHead::EMPTY)).unwrap().head(),
        LogHead::EMPTY
    );
}

#[test]
fn edits_deletions_insertions_reorderings_and_truncation_are_located() {
    let (log, text) = sample_log();
    let head = log.head();
    let l = lines(&text);
    assert!(l.len() > 10);

    // An edit of record 4 (line 5) shows at line 5.
    let mut edited = l.clone();
    edited[4] = edited[4].replace("observer-1", "observer-2");
    let (line, problem) = broken_at(&join(&edited), None);
    assert_eq!(line, 5, "{problem}");
    assert!(problem.contains("edited"));

    // The same bytes re-spaced are not canonical.
    let mut spaced = l.clone();
    spaced[2] = spaced[2].replacen(":", ": ", 1);
    assert_eq!(broken_at(&join(&spaced), None).0, 3);

    // A deletion shows where the gap is.
    let mut deleted = l.clone();
    deleted.remove(6);
    let (line, problem) = broken_at(&join(&deleted), None);
    assert_eq!(line, 7);
    assert!(problem.contains("deleted"), "{problem}");

    // A swap of two records.
    let mut swapped = l.clone();
    swapped.swap(3, 4);
    assert_eq!(broken_at(&join(&swapped), None).0, 4);

    // An insertion of a forged record with a correct prev: the old record after it is out of order.
    let mut inserted = l.clone();
    let mut prefix = EventLog::from_events(log.events()[..5].to_vec());
    let forged = prefix.append(probe(1, "p", true));
    inserted.insert(5, forged);
    let (line, problem) = broken_at(&join(&inserted), None);
    assert_eq!(line, 7, "{problem}");
    assert!(problem.contains("inserted"));

    // Truncation and a rewritten last record need the trusted head.
    let truncated = join(&l[..l.len() - 2]);
    assert!(EventLog::verify(&truncated, None).is_ok());
    let (line, problem) = broken_at(&truncated, Some(&head));
    assert_eq!(line, l.len() - 2);
    assert!(problem.contains("truncated"));
    let mut last = l.clone();
    let n = last.len();
    last[n - 1] = last[n - 1].replace("\"v\":1,\"time\":\"2026", "\"v\":1,\"time\":\"2027");
    if last[n - 1] == l[n - 1] {
        panic!("the edit changed nothing");
    }
    let (line, problem) = broken_at(&join(&last), Some(&head));
    assert_eq!(line, n);
    assert!(problem.contains("trusted head"), "{problem}");

    // Garbage in the middle.
    let mut garbage = l.clone();
    garbage[1] = "not json".to_owned();
    assert_eq!(broken_at(&join(&garbage), None).0, 2);
}
