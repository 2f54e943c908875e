//! The audit log: appends, checkpoints, and every kind of tampering, located.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use std::path::Path;

use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{SigningKey, Timestamp};
use dataseal_policy::*;
use sha2::{Digest, Sha256};

fn now() -> Timestamp {
    "2026-11-21T12:00:00Z".parse().unwrap()
}

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        time: now().saturating_add_seconds(i as i64),
        decision: if i.is_multiple_of(3) {
            Effect::Deny
        } else {
            Effect::Allow
        },
        principal: format!("user:u{i}"),
        action: Action::Train,
        resource: "version:bafyexample".to_owned(),
        purpose: "training".parse().unwrap(),
        region: "DE".parse().unwrap(),
        grant: None,
        policies: vec!["role.trainer.data".to_owned()],
        forbid: false,
        errors: vec![],
        policy_set: "00".repeat(32),
        entities: "11".repeat(32),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    log: AuditLog,
    trust: TrustPolicy,
}

/// `records` records with a checkpoint after every line whose seq + 1 is a multiple of
/// 4: lines 1-4 hold records (seq 0-3), line 5 a checkpoint (seq 4), lines 6-8 records,
/// line 9 a checkpoint, and so on.
fn fixture(records: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let trust = TrustPolicy::new().trust(key.verifying_key(), "audit".parse().unwrap());
    let log = AuditLog::open(dir.path().join("audit.jsonl")).with_checkpoints(key, 4);
    for i in 0..records {
        log.append(&record(i), now()).unwrap();
    }
    Fixture {
        _dir: dir,
        log,
        trust,
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn verify(f: &Fixture) -> Result<AuditReport, AuditFault> {
    let anchor = read_anchor(&f.log).unwrap();
    verify_log(
        &std::fs::read(f.log.path()).unwrap(),
        Some(&f.trust),
        anchor.as_ref(),
    )
}

fn sha(line: &str) -> String {
    hex(Sha256::digest(line.as_bytes()).as_slice())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn expect(f: &Fixture, kind: FaultKind, line: usize) {
    let fault = verify(f).unwrap_err();
    assert_eq!((fault.kind, fault.line), (kind, line), "{fault}");
}

#[test]
fn a_clean_log_verifies() {
    let f = fixture(9);
    let r = verify(&f).unwrap();
    assert_eq!((r.lines, r.records, r.checkpoints), (11, 9, 2));
    assert_eq!(r.unsigned_tail, 2);
    assert_eq!(r.last_checkpoint.unwrap().count, 8);
    let cp = f.log.checkpoint(now()).unwrap();
    assert_eq!(cp.count, 11);
    let r = verify(&f).unwrap();
    assert_eq!((r.lines, r.checkpoints, r.unsigned_tail), (12, 3, 0));
    assert_eq!(read_anchor(&f.log).unwrap().unwrap(), cp);
    // An empty log verifies too.
    assert_eq!(verify_log(b"", None, None).unwrap().lines, 0);
}

#[test]
fn an_edited_record_is_found() {
    let f = fixture(10);
    let mut l = lines(f.log.path());
    l[2] = l[2].replace("\"allow\"", "\"deny\"");
    write(f.log.path(), &l);
    expect(&f, FaultKind::Edited, 3);
}

#[test]
fn an_edit_with_the_chain_recomputed_breaks_the_next_checkpoint() {
    let f = fixture(10);
    let mut l = lines(f.log.path());
    l[1] = l[1].replace("user:u1", "user:mallory");
    // The forger fixes every later prev; the signed checkpoint cannot be fixed.
    for i in 2..l.len() {
        let prev = sha(&l[i - 1]);
        let mut v: serde_json::Value = serde_json::from_str(&l[i]).unwrap();
        v["prev"] = serde_json::Value::String(prev);
        l[i] = serde_json::to_string(&v).unwrap();
    }
    write(f.log.path(), &l);
    expect(&f, FaultKind::BadCheckpoint, 5);
}

#[test]
fn an_edit_of_the_last_line_is_found_by_the_anchor() {
    // 6 records: lines 1-4, checkpoint 5, records 6-7; then a checkpoint on demand
    // (line 8, also kept as the anchor). The forger drops the checkpoint line and edits
    // the last record, which no later line vouches for.
    let f = fixture(6);
    f.log.checkpoint(now()).unwrap();
    let mut l = lines(f.log.path());
    l.pop();
    l[6] = l[6].replace("user:u5", "user:mallory");
    write(f.log.path(), &l);
    expect(&f, FaultKind::Edited, 7);
}

#[test]
fn a_deleted_record_is_found() {
    let f = fixture(10);
    let mut l = lines(f.log.path());
    l.remove(5);
    write(f.log.path(), &l);
    expect(&f, FaultKind::Deleted, 6);

    let f = fixture(10);
    let mut l = lines(f.log.path());
    l.remove(0);
    write(f.log.path(), &l);
    expect(&f, FaultKind::Deleted, 1);
}

#[test]
fn reordered_records_are_found() {
    let f = fixture(10);
    let mut l = lines(f.log.path());
    l.swap(4, 5);
    write(f.log.path(), &l);
    expect(&f, FaultKind::Reordered, 5);

    // A record moved far back.
    let f = fixture(10);
    let mut l = lines(f.log.path());
    let moved = l.remove(1);
    l.insert(8, moved);
    write(f.log.path(), &l);
    expect(&f, FaultKind::Reordered, 2);
}

#[test]
fn inserted_records_are_found() {
    // A forged record chained onto line 2, with the next sequence number.
    let f = fixture(10);
    let mut l = lines(f.log.path());
    let mut v: serde_json::Value = serde_json::from_str(&l[2]).unwrap();
    v["prev"] = serde_json::Value::String(sha(&l[1]));
    v["record"]["principal"] = serde_json::Value::String("user:mallory".to_owned());
    l.insert(2, serde_json::to_string(&v).unwrap());
    write(f.log.path(), &l);
    expect(&f, FaultKind::Inserted, 3);

    // A replayed copy of an earlier line.
    let f = fixture(10);
    let mut l = lines(f.log.path());
    let copy = l[1].clone();
    l.insert(6, copy);
    write(f.log.path(), &l);
    expect(&f, FaultKind::Inserted, 7);
}

#[test]
fn truncation_is_found_against_the_anchor() {
    let f = fixture(10);
    let mut l = lines(f.log.path());
    l.truncate(6);
    write(f.log.path(), &l);
    expect(&f, FaultKind::Truncated, 7);
    // Without the anchor, a cut at a line boundary looks like a shorter log: keep
    // checkpoints somewhere else too.
    let bytes = std::fs::read(f.log.path()).unwrap();
    assert!(verify_log(&bytes, Some(&f.trust), None).is_ok());

    // Dropping exactly the checkpoint line the anchor was written after.
    let f = fixture(3);
    f.log.checkpoint(now()).unwrap();
    let mut l = lines(f.log.path());
    l.pop();
    write(f.log.path(), &l);
    expect(&f, FaultKind::Truncated, 4);
}

#[test]
fn a_torn_last_line_is_reported_and_never_merged() {
    let f = fixture(5);
    let before = std::fs::read(f.log.path()).unwrap();
    let mut torn = before.clone();
    torn.extend_from_slice(b"{\"seq\":7,\"prev\":\"ab");
    std::fs::write(f.log.path(), &torn).unwrap();
    expect(&f, FaultKind::Torn, 7);
    // Appending refuses to glue a record onto the torn line.
    let err = f.log.append(&record(99), now()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Audit(AuditFault {
                kind: FaultKind::Torn,
                line: 7,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(f.log.path()).unwrap(), torn);
    // Recovery keeps the torn bytes aside, then appends go on.
    let saved = f.log.recover_torn_tail().unwrap().unwrap();
    assert_eq!(std::fs::read(&saved).unwrap(), b"{\"seq\":7,\"prev\":\"ab");
    assert_eq!(std::fs::read(f.log.path()).unwrap(), before);
    assert_eq!(f.log.recover_torn_tail().unwrap(), None);
    f.log.append(&record(99), now()).unwrap();
    assert_eq!(verify(&f).unwrap().records, 6);
}

#[test]
fn malformed_lines_and_foreign_checkpoints() {
    let f = fixture(5);
    let mut l = lines(f.log.path());
    l[1] = "not json".to_owned();
    write(f.log.path(), &l);
    expect(&f, FaultKind::Malformed, 2);

    // A checkpoint signed by a key the verifier does not trust.
    let f = fixture(5);
    let bytes = std::fs::read(f.log.path()).unwrap();
    let other = TrustPolicy::new().trust(
        SigningKey::generate().unwrap().verifying_key(),
        "audit".parse().unwrap(),
    );
    let fault = verify_log(&bytes, Some(&other), None).unwrap_err();
    assert_eq!((fault.kind, fault.line), (FaultKind::BadCheckpoint, 5));
}

#[test]
fn concurrent_writers_interleave_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let key = SigningKey::generate().unwrap();
    let trust = TrustPolicy::new().trust(key.verifying_key(), "audit".parse().unwrap());
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let path = path.clone();
            let key = key.clone();
            s.spawn(move || {
                // Each writer opens the file itself, as separate processes would.
                let log = AuditLog::open(path).with_checkpoints(key, 10);
                for i in 0..25 {
                    log.append(&record(t * 100 + i), now()).unwrap();
                }
            });
        }
    });
    let r = verify_log(&std::fs::read(&path).unwrap(), Some(&trust), None).unwrap();
    assert_eq!(r.records, 100);
    assert!(r.checkpoints >= 9, "{r:?}");
}

#[test]
fn a_malformed_last_line_blocks_appends_and_is_located() {
    let f = fixture(3);
    let mut bytes = std::fs::read(f.log.path()).unwrap();
    bytes.extend_from_slice(b"{\"seq\":3}\n");
    std::fs::write(f.log.path(), &bytes).unwrap();
    let err = f.log.append(&record(9), now()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Audit(AuditFault {
                kind: FaultKind::Malformed,
                line: 4,
                ..
            })
        ),
        "{err}"
    );
    expect(&f, FaultKind::Malformed, 4);
}

mod any_change {
    use proptest::prelude::*;

    use super::*;

    /// 9 records and checkpoints after every 4 lines, closed by a checkpoint on demand,
    /// which is also the anchor.
    fn closed_log() -> (Fixture, Vec<u8>, Checkpoint) {
        let f = fixture(9);
        let anchor = f.log.checkpoint(now()).unwrap();
        let bytes = std::fs::read(f.log.path()).unwrap();
        (f, bytes, anchor)
    }

    fn check(f: &Fixture, bytes: &[u8], anchor: &Checkpoint) -> Result<AuditReport, AuditFault> {
        verify_log(bytes, Some(&f.trust), Some(anchor))
    }

    fn split(bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn join(lines: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in lines {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any change to a byte of any line but the closing checkpoint is found (that
        /// line's signature covers its payload; its key id is only a hint).
        #[test]
        fn any_byte_change_is_found(at in any::<usize>(), byte in any::<u8>()) {
            let (f, bytes, anchor) = closed_log();
            let last_start = bytes[..bytes.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
            let i = at % last_start;
            prop_assume!(bytes[i] != byte);
            let mut changed = bytes.clone();
            changed[i] = byte;
            prop_assert!(check(&f, &changed, &anchor).is_err());
        }

        /// Deleting, duplicating or moving any line, or cutting the log anywhere, is found.
        #[test]
        fn any_structural_change_is_found(a in any::<usize>(), b in any::<usize>(), op in 0u8..4) {
            let (f, bytes, anchor) = closed_log();
            prop_assert!(check(&f, &bytes, &anchor).is_ok());
            let mut lines = split(&bytes);
            let n = lines.len();
            let (a, b) = (a % n, b % n);
            let changed = match op {
                0 => {
                    lines.remove(a);
                    join(&lines)
                }
                1 => {
                    let copy = lines[a].clone();
                    lines.insert(b, copy);
                    join(&lines)
                }
                2 => {
                    prop_assume!(a != b);
                    let moved = lines.remove(a);
                    lines.insert(b, moved);
                    join(&lines)
                }
                _ => {
                    let cut = a % bytes.len();
                    bytes[..cut].to_vec()
                }
            };
            prop_assert!(check(&f, &changed, &anchor).is_err());
        }
    }
}

#[test]
fn a_writer_whose_clock_was_read_earlier_never_signs_a_checkpoint_back_in_time() {
    // Concurrent writers read the clock before taking the lock: the one that read it
    // earlier may append later.
    let f = fixture(4);
    let last = read_anchor(&f.log).unwrap().unwrap();
    let earlier = now().saturating_add_seconds(-30);
    for i in 4..8 {
        f.log.append(&record(i), earlier).unwrap();
    }
    let after = read_anchor(&f.log).unwrap().unwrap();
    assert_eq!(after.time, last.time);
    verify(&f).unwrap();
}
