//! The tamper-evident audit log: append-only JSON Lines, each line carrying the SHA-256
//! of the line before it, with DSSE-signed checkpoints.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{SigningKey, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AuditRecord, Error};

/// The DSSE payload type of an audit checkpoint.
pub const CHECKPOINT_PAYLOAD_TYPE: &str = "application/vnd.dataseal.audit-checkpoint+json";

/// The `prev` of the first line: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What kind of damage [`verify_log`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FaultKind {
    /// A line is not a well-formed log entry.
    Malformed,
    /// A line's bytes changed after the next line was written.
    Edited,
    /// Records are missing.
    Deleted,
    /// A record is out of order.
    Reordered,
    /// A line was added that the writer never wrote.
    Inserted,
    /// The log ends before a checkpoint the verifier knows of.
    Truncated,
    /// The last line is incomplete (a crash during an append).
    Torn,
    /// A checkpoint's signature does not verify, or it signs another chain, or its time
    /// is before the checkpoint before it.
    BadCheckpoint,
    /// Records after the last checkpoint, where a trusted checkpoint must cover the last
    /// record ([`verify_sealed_log`]).
    Unsealed,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed",
            Self::Edited => "edited",
            Self::Deleted => "deleted",
            Self::Reordered => "reordered",
            Self::Inserted => "inserted",
            Self::Truncated => "truncated",
            Self::Torn => "torn",
            Self::BadCheckpoint => "bad checkpoint",
            Self::Unsealed => "unsealed",
        })
    }
}

/// Where and how an audit log is broken. `line` counts from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}: {detail}")]
#[non_exhaustive]
pub struct AuditFault {
    /// The line at fault (1-based).
    pub line: usize,
    /// What happened there.
    pub kind: FaultKind,
    /// A sentence saying what was found.
    pub detail: String,
}

fn fault(line: usize, kind: FaultKind, detail: impl Into<String>) -> AuditFault {
    AuditFault {
        line,
        kind,
        detail: detail.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Decision,
    Refusal,
    Checkpoint,
}

/// What the audit log keeps of a request refused before any decision could be made:
/// malformed input (a request that does not parse, a stale clock, an unreadable grant
/// or approval, entities that do not load). A refusal is never an allow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Refusal {
    /// The decision point's clock.
    pub time: Timestamp,
    /// Always `"malformed"` today.
    pub refused: String,
    /// Why, in one line.
    pub reason: String,
    /// SHA-256 (hex) of the request's bytes, as received.
    pub request: String,
}

impl Refusal {
    /// A refusal of the request `bytes` as malformed, for `reason`, at `now`.
    #[must_use]
    pub fn malformed(bytes: &[u8], reason: impl Into<String>, now: Timestamp) -> Self {
        Self {
            time: now,
            refused: "malformed".to_owned(),
            reason: reason.into(),
            request: line_hash(bytes),
        }
    }
}

/// One line of the log.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    seq: u64,
    prev: String,
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    record: Option<AuditRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refusal: Option<Refusal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoint: Option<serde_json::Value>,
}

/// What a checkpoint signs: the number of lines before it and the hash of the last one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Lines before the checkpoint (so also the checkpoint line's `seq`).
    pub count: u64,
    /// SHA-256 (hex) of the line before the checkpoint ([`GENESIS`] for none).
    pub head: String,
    /// When it was signed.
    pub time: Timestamp,
}

/// The outcome of a successful [`verify_log`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuditReport {
    /// Lines in the log.
    pub lines: u64,
    /// Decision records.
    pub records: u64,
    /// Refusal records (requests refused as malformed).
    pub refusals: u64,
    /// Checkpoints, each verified.
    pub checkpoints: u64,
    /// SHA-256 (hex) of the last line ([`GENESIS`] for an empty log).
    pub head: String,
    /// The last checkpoint, if any.
    pub last_checkpoint: Option<Checkpoint>,
    /// Lines after the last checkpoint: only the chain protects them (and a later
    /// checkpoint, or an anchor kept elsewhere, will).
    pub unsigned_tail: u64,
}

fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

fn parse_line(bytes: &[u8]) -> Result<Line, String> {
    let line: Line = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let ok = match line.kind {
        Kind::Decision => {
            line.record.is_some() && line.refusal.is_none() && line.checkpoint.is_none()
        }
        Kind::Refusal => {
            line.refusal.is_some() && line.record.is_none() && line.checkpoint.is_none()
        }
        Kind::Checkpoint => {
            line.checkpoint.is_some() && line.record.is_none() && line.refusal.is_none()
        }
    };
    if !ok {
        return Err("kind does not match the fields present".to_owned());
    }
    if line.prev.len() != 64 || !line.prev.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("prev is not 64 hexadecimal characters".to_owned());
    }
    Ok(line)
}

fn check_checkpoint(
    value: &serde_json::Value,
    seq: u64,
    prev: &str,
    trust: Option<&TrustPolicy>,
) -> Result<Checkpoint, String> {
    let json = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    let envelope = Envelope::from_json(&json).map_err(|e| e.to_string())?;
    let payload = match trust {
        Some(policy) => {
            // Key validity windows are checked at the time the checkpoint claims.
            let claimed: Checkpoint = serde_json::from_slice(envelope.payload_unverified())
                .map_err(|e| format!("payload: {e}"))?;
            let verified = policy
                .verify(&envelope, CHECKPOINT_PAYLOAD_TYPE, claimed.time)
                .map_err(|e| format!("signature: {e}"))?;
            verified.into_payload()
        }
        None => {
            if envelope.payload_type() != CHECKPOINT_PAYLOAD_TYPE {
                return Err(format!("payload type {:?}", envelope.payload_type()));
            }
            envelope.payload_unverified().to_vec()
        }
    };
    let cp: Checkpoint = serde_json::from_slice(&payload).map_err(|e| format!("payload: {e}"))?;
    if cp.count != seq || cp.head != prev {
        return Err(format!(
            "it signs {} lines ending in {}, the log has {seq} ending in {prev}",
            cp.count, cp.head
        ));
    }
    Ok(cp)
}

/// [`verify_log`] for a log that must prove itself: every checkpoint signed by a key
/// `trust` accepts (within the key's validity window at the checkpoint's time), and the
/// last record covered by a checkpoint. A log without one, or with records after its
/// last checkpoint, fails with [`FaultKind::Unsealed`]: anyone can re-chain records
/// that no signature covers.
///
/// # Errors
///
/// The first [`AuditFault`].
pub fn verify_sealed_log(
    bytes: &[u8],
    trust: &TrustPolicy,
    anchor: Option<&Checkpoint>,
) -> Result<AuditReport, AuditFault> {
    let report = verify_log(bytes, Some(trust), anchor)?;
    if report.records + report.refusals > 0 && (report.checkpoints == 0 || report.unsigned_tail > 0)
    {
        let line = usize::try_from(report.lines).unwrap_or(usize::MAX);
        return Err(fault(
            line,
            FaultKind::Unsealed,
            if report.checkpoints == 0 {
                "no checkpoint signed by a trusted key: the records prove nothing".to_owned()
            } else {
                format!(
                    "the last {} line(s) come after the last signed checkpoint",
                    report.unsigned_tail
                )
            },
        ));
    }
    Ok(report)
}

/// Verifies a log as `dataseal audit verify` does: without keys, [`verify_log`] (the
/// chain, and checkpoints against it, signatures unchecked: whoever can write the file
/// can re-chain it); with keys, [`verify_sealed_log`] trusting exactly those keys to sign
/// checkpoints.
///
/// # Errors
///
/// The first [`AuditFault`].
pub fn verify_log_with_keys(
    bytes: &[u8],
    keys: &[dataseal_base::VerifyingKey],
    anchor: Option<&Checkpoint>,
) -> Result<AuditReport, AuditFault> {
    if keys.is_empty() {
        return verify_log(bytes, None, anchor);
    }
    let role: dataseal_base::Role = "audit".parse().map_err(|e| {
        fault(
            1,
            FaultKind::BadCheckpoint,
            format!("cannot name the checkpoint role: {e}"),
        )
    })?;
    let trust = keys
        .iter()
        .fold(TrustPolicy::new(), |t, k| t.trust(*k, role.clone()));
    verify_sealed_log(bytes, &trust, anchor)
}

/// Verifies a whole log: every line parses, sequence numbers run 0, 1, 2, … without gap
/// or repeat, every line's `prev` is the SHA-256 of the line before, every checkpoint
/// signs exactly the chain before it (with a key `trust` accepts, when given), and the
/// log reaches `anchor` (the last checkpoint known from elsewhere), if given.
///
/// # Errors
///
/// The first [`AuditFault`], naming the line (1-based) and the kind of damage.
pub fn verify_log(
    bytes: &[u8],
    trust: Option<&TrustPolicy>,
    anchor: Option<&Checkpoint>,
) -> Result<AuditReport, AuditFault> {
    let (complete, torn) = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => (
            bytes.get(..end).unwrap_or_default(),
            bytes.get(end + 1..).unwrap_or_default(),
        ),
        None => (&[][..], bytes),
    };
    let lines: Vec<&[u8]> = if complete.is_empty() && bytes.first() != Some(&b'\n') {
        Vec::new()
    } else {
        complete.split(|b| *b == b'\n').collect()
    };
    let hashes: Vec<String> = lines.iter().map(|l| line_hash(l)).collect();
    let mut parsed = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let line = parse_line(l).map_err(|e| fault(i + 1, FaultKind::Malformed, e))?;
        parsed.push(line);
    }
    let mut report = AuditReport {
        lines: 0,
        records: 0,
        refusals: 0,
        checkpoints: 0,
        head: GENESIS.to_owned(),
        last_checkpoint: None,
        unsigned_tail: 0,
    };
    let mut expected = 0u64;
    for (i, line) in parsed.iter().enumerate() {
        let n = i + 1;
        let prev_hash = if i == 0 {
            GENESIS
        } else {
            hashes.get(i - 1).map_or(GENESIS, String::as_str)
        };
        if line.seq == expected {
            if line.prev != prev_hash {
                let at = n.saturating_sub(1).max(1);
                return Err(fault(
                    at,
                    FaultKind::Edited,
                    if n == 1 {
                        "the first line does not start the chain".to_owned()
                    } else {
                        format!(
                            "line {n} records another hash for line {at}: line {at} was changed"
                        )
                    },
                ));
            }
        } else if line.seq < expected {
            let before_previous = if i >= 2 {
                hashes.get(i - 2).map_or(GENESIS, String::as_str)
            } else {
                GENESIS
            };
            let previous_seq = i.checked_sub(1).and_then(|p| parsed.get(p)).map(|p| p.seq);
            if i >= 1 && previous_seq == Some(line.seq) && line.prev == before_previous {
                return Err(fault(
                    n - 1,
                    FaultKind::Inserted,
                    format!(
                        "line {} was not written by the log: line {n} chains to the line before it",
                        n - 1
                    ),
                ));
            }
            if lines
                .iter()
                .take(i)
                .any(|earlier| *earlier == lines.get(i).copied().unwrap_or_default())
            {
                return Err(fault(
                    n,
                    FaultKind::Inserted,
                    format!("line {n} repeats an earlier line (seq {})", line.seq),
                ));
            }
            return Err(fault(
                n,
                FaultKind::Reordered,
                format!(
                    "seq {} where {expected} was expected: the line belongs earlier",
                    line.seq
                ),
            ));
        } else {
            if parsed.iter().skip(i + 1).any(|later| later.seq == expected) {
                return Err(fault(
                    n,
                    FaultKind::Reordered,
                    format!(
                        "seq {} where {expected} was expected: seq {expected} comes later",
                        line.seq
                    ),
                ));
            }
            return Err(fault(
                n,
                FaultKind::Deleted,
                format!(
                    "seq {} where {expected} was expected: {} record(s) before line {n} are missing",
                    line.seq,
                    line.seq - expected
                ),
            ));
        }
        match line.kind {
            Kind::Decision => {
                report.records += 1;
                report.unsigned_tail += 1;
            }
            Kind::Refusal => {
                report.refusals += 1;
                report.unsigned_tail += 1;
            }
            Kind::Checkpoint => {
                let value = line
                    .checkpoint
                    .as_ref()
                    .ok_or_else(|| fault(n, FaultKind::Malformed, "checkpoint without envelope"))?;
                let cp = check_checkpoint(value, line.seq, &line.prev, trust)
                    .map_err(|e| fault(n, FaultKind::BadCheckpoint, e))?;
                if let Some(before) = &report.last_checkpoint
                    && cp.time < before.time
                {
                    return Err(fault(
                        n,
                        FaultKind::BadCheckpoint,
                        format!(
                            "signed at {}, before the checkpoint before it ({}): checkpoint times only move forward",
                            cp.time, before.time
                        ),
                    ));
                }
                report.checkpoints += 1;
                report.unsigned_tail = 0;
                report.last_checkpoint = Some(cp);
            }
        }
        expected += 1;
    }
    report.lines = expected;
    report.head = hashes.last().cloned().unwrap_or_else(|| GENESIS.to_owned());
    if !torn.is_empty() {
        return Err(fault(
            lines.len() + 1,
            FaultKind::Torn,
            format!(
                "the last line is incomplete ({} bytes without a newline): an append was interrupted",
                torn.len()
            ),
        ));
    }
    if let Some(anchor) = anchor {
        let truncated = || {
            fault(
                lines.len() + 1,
                FaultKind::Truncated,
                format!(
                    "the log has {} lines but a checkpoint was signed after line {}: it was cut short",
                    report.lines, anchor.count
                ),
            )
        };
        if anchor.count > report.lines {
            return Err(truncated());
        }
        let at = usize::try_from(anchor.count).unwrap_or(usize::MAX);
        let chain_head = if at == 0 {
            GENESIS
        } else {
            hashes.get(at - 1).map_or(GENESIS, String::as_str)
        };
        if chain_head != anchor.head {
            return Err(fault(
                at.max(1),
                FaultKind::Edited,
                format!(
                    "the chain up to line {at} differs from the one the anchor checkpoint signed"
                ),
            ));
        }
        // The anchor is written after its own checkpoint line (line count + 1): the log
        // holds at least that line.
        if anchor.count == report.lines {
            return Err(truncated());
        }
    }
    Ok(report)
}

/// An append-only audit log file. Appends are serialised across processes by an
/// exclusive lock on the file; each append writes one complete line with one write
/// call, then syncs.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    signer: Option<(SigningKey, u64)>,
    anchor: Option<PathBuf>,
}

/// What an append wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Appended {
    /// The record's sequence number.
    pub seq: u64,
    /// SHA-256 (hex) of the record's line.
    pub hash: String,
    /// The checkpoint written right after it, if one was due.
    pub checkpoint: Option<Checkpoint>,
}

struct Tail {
    next_seq: u64,
    head: String,
}

impl AuditLog {
    /// A log at `path` (created on the first append), without checkpoints.
    #[must_use]
    pub fn open(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            signer: None,
            anchor: None,
        }
    }

    /// Keeps the truncation anchor (the latest checkpoint) at `path` instead of beside
    /// the log: somewhere whoever can rewrite the log cannot.
    #[must_use]
    pub fn with_anchor(mut self, path: impl Into<PathBuf>) -> Self {
        self.anchor = Some(path.into());
        self
    }

    /// Signs a checkpoint with `key` after every line whose `seq + 1` is a multiple of
    /// `every` (at least 1) — so at least one per `every` lines —, and on demand
    /// ([`AuditLog::checkpoint`]).
    #[must_use]
    pub fn with_checkpoints(mut self, key: SigningKey, every: u64) -> Self {
        self.signer = Some((key, every.max(1)));
        self
    }

    /// The log's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the latest checkpoint is also kept, for detecting truncation: the path
    /// given to [`AuditLog::with_anchor`], else `LOG.checkpoint` beside the log.
    #[must_use]
    pub fn anchor_path(&self) -> PathBuf {
        if let Some(anchor) = &self.anchor {
            return anchor.clone();
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".checkpoint");
        self.path.with_file_name(name)
    }

    fn locked(&self) -> Result<File, Error> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| Error::io(format!("opening {}", self.path.display()), e))?;
        file.lock()
            .map_err(|e| Error::io(format!("locking {}", self.path.display()), e))?;
        Ok(file)
    }

    /// Reads the last line under the lock; refuses a torn tail.
    fn tail(&self, file: &mut File) -> Result<Tail, Error> {
        let io = |e| Error::io(format!("reading {}", self.path.display()), e);
        let len = file.seek(SeekFrom::End(0)).map_err(io)?;
        if len == 0 {
            return Ok(Tail {
                next_seq: 0,
                head: GENESIS.to_owned(),
            });
        }
        let mut window = 4096u64;
        let last = loop {
            let from = len.saturating_sub(window);
            file.seek(SeekFrom::Start(from)).map_err(io)?;
            let mut buf = vec![0u8; usize::try_from(len - from).unwrap_or(0)];
            file.read_exact(&mut buf).map_err(io)?;
            if buf.last() != Some(&b'\n') {
                let mut all = Vec::new();
                file.seek(SeekFrom::Start(0)).map_err(io)?;
                file.read_to_end(&mut all).map_err(io)?;
                let line = all.iter().filter(|b| **b == b'\n').count() + 1;
                return Err(Error::Audit(fault(
                    line,
                    FaultKind::Torn,
                    "the last line is incomplete: an append was interrupted; run recover_torn_tail before appending",
                )));
            }
            buf.pop();
            if let Some(nl) = buf.iter().rposition(|b| *b == b'\n') {
                break buf.split_off(nl + 1);
            }
            if from == 0 {
                break buf;
            }
            window = window.saturating_mul(2);
        };
        let line = match parse_line(&last) {
            Ok(line) => line,
            Err(e) => {
                let mut all = Vec::new();
                file.seek(SeekFrom::Start(0)).map_err(io)?;
                file.read_to_end(&mut all).map_err(io)?;
                let n = all.iter().filter(|b| **b == b'\n').count();
                return Err(Error::Audit(fault(n, FaultKind::Malformed, e)));
            }
        };
        Ok(Tail {
            next_seq: line.seq + 1,
            head: line_hash(&last),
        })
    }

    fn write_line(&self, file: &mut File, line: &Line) -> Result<String, Error> {
        let mut bytes =
            serde_json::to_vec(line).map_err(|e| Error::Request(format!("audit record: {e}")))?;
        let hash = line_hash(&bytes);
        bytes.push(b'\n');
        let io = |e| Error::io(format!("appending to {}", self.path.display()), e);
        file.write_all(&bytes).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(hash)
    }

    fn write_checkpoint(
        &self,
        file: &mut File,
        key: &SigningKey,
        tail: &Tail,
        now: Timestamp,
    ) -> Result<Checkpoint, Error> {
        // Checkpoint times only move forward. Writers read their clock before they get
        // the lock, so one that read it earlier may sign after a later one: it signs at
        // the last checkpoint's time instead (the anchor is written under this lock).
        let time = match read_anchor(self).ok().flatten() {
            Some(last) if last.time > now => last.time,
            _ => now,
        };
        let cp = Checkpoint {
            count: tail.next_seq,
            head: tail.head.clone(),
            time,
        };
        let payload =
            serde_json::to_vec(&cp).map_err(|e| Error::Request(format!("checkpoint: {e}")))?;
        let envelope = Envelope::sign(CHECKPOINT_PAYLOAD_TYPE, payload, key, None)?;
        let value: serde_json::Value = serde_json::from_str(&envelope.to_json())
            .map_err(|e| Error::Request(format!("checkpoint: {e}")))?;
        let line = Line {
            seq: tail.next_seq,
            prev: tail.head.clone(),
            kind: Kind::Checkpoint,
            record: None,
            refusal: None,
            checkpoint: Some(value),
        };
        self.write_line(file, &line)?;
        // The anchor: written whole under a temporary name, then renamed.
        let anchor = self.anchor_path();
        let tmp = anchor.with_extension("checkpoint.tmp");
        let text = serde_json::to_vec(&cp).map_err(|e| Error::Request(e.to_string()))?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &anchor))
            .map_err(|e| Error::io(format!("writing {}", anchor.display()), e))?;
        Ok(cp)
    }

    /// Appends a decision record (and a checkpoint, when one is due).
    ///
    /// # Errors
    ///
    /// [`Error::Io`]; [`Error::Audit`] with [`FaultKind::Torn`] if the log ends in an
    /// incomplete line (nothing is appended until [`AuditLog::recover_torn_tail`] ran).
    pub fn append(&self, record: &AuditRecord, now: Timestamp) -> Result<Appended, Error> {
        self.append_line(Kind::Decision, Some(record.clone()), None, now)
    }

    /// Appends the record of a request refused as malformed (and a checkpoint, when one
    /// is due).
    ///
    /// # Errors
    ///
    /// As [`AuditLog::append`].
    pub fn append_refusal(&self, refusal: &Refusal, now: Timestamp) -> Result<Appended, Error> {
        self.append_line(Kind::Refusal, None, Some(refusal.clone()), now)
    }

    fn append_line(
        &self,
        kind: Kind,
        record: Option<AuditRecord>,
        refusal: Option<Refusal>,
        now: Timestamp,
    ) -> Result<Appended, Error> {
        let mut file = self.locked()?;
        let tail = self.tail(&mut file)?;
        let seq = tail.next_seq;
        let line = Line {
            seq,
            prev: tail.head.clone(),
            kind,
            record,
            refusal,
            checkpoint: None,
        };
        let hash = self.write_line(&mut file, &line)?;
        let mut checkpoint = None;
        if let Some((key, every)) = &self.signer
            && (seq + 1) % every == 0
        {
            let after = Tail {
                next_seq: seq + 1,
                head: hash.clone(),
            };
            checkpoint = Some(self.write_checkpoint(&mut file, key, &after, now)?);
        }
        Ok(Appended {
            seq,
            hash,
            checkpoint,
        })
    }

    /// Signs a checkpoint now.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] if the log has no checkpoint key; as [`AuditLog::append`].
    pub fn checkpoint(&self, now: Timestamp) -> Result<Checkpoint, Error> {
        let Some((key, _)) = &self.signer else {
            return Err(Error::Request(
                "this audit log has no checkpoint key".to_owned(),
            ));
        };
        let mut file = self.locked()?;
        let tail = self.tail(&mut file)?;
        self.write_checkpoint(&mut file, key, &tail, now)
    }

    /// After a crash mid-append: moves an incomplete last line into `LOG.torn-OFFSET`
    /// and cuts it from the log, so appends can go on. Returns the path it was saved
    /// to, or `None` if the log ends cleanly. Nothing is dropped silently.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub fn recover_torn_tail(&self) -> Result<Option<PathBuf>, Error> {
        let mut file = self.locked()?;
        let io = |e| Error::io(format!("recovering {}", self.path.display()), e);
        let mut all = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut all).map_err(io)?;
        if all.is_empty() || all.last() == Some(&b'\n') {
            return Ok(None);
        }
        let keep = all.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        let torn = all.get(keep..).unwrap_or_default();
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".torn-{keep}"));
        let saved = self.path.with_file_name(name);
        std::fs::write(&saved, torn).map_err(io)?;
        file.set_len(keep as u64).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(Some(saved))
    }
}

/// Reads the anchor checkpoint written beside a log, if there is one.
///
/// # Errors
///
/// [`Error::Io`] if it exists but cannot be read; [`Error::Request`] if it is malformed.
pub fn read_anchor(log: &AuditLog) -> Result<Option<Checkpoint>, Error> {
    let path = log.anchor_path();
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Request(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}
