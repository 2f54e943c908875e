use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Event, Sha256Digest};

/// Where an event log stands: how many records it holds and the SHA-256 of its last
/// record line (all zeros for an empty log).
///
/// Attestations carry the head they were computed from; keeping a head (or signing it)
/// is what lets [`EventLog::verify`] detect truncation or a rewritten tail, which a hash
/// chain alone cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogHead {
    /// SHA-256 of the last record's line (without its newline).
    pub hash: Sha256Digest,
    /// Number of records.
    pub len: u64,
}

impl LogHead {
    /// The head of an empty log.
    pub const EMPTY: Self = Self {
        hash: Sha256Digest::ZERO,
        len: 0,
    };
}

/// What [`EventLog::verify`] found wrong (carried in [`Error::LogBroken`] as text).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogProblem {
    /// The line is not a record in canonical form.
    Malformed(String),
    /// Records are missing before this line (deleted, or moved later).
    Gap {
        /// The sequence number expected here.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// A record repeats or comes too early (inserted, duplicated or reordered).
    OutOfOrder {
        /// The sequence number expected here.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// This line does not hash to the `prev` of the next one: it was edited.
    Edited,
    /// The log ends before the trusted head's record count.
    Truncated {
        /// Records present.
        records: u64,
        /// Records in the trusted head.
        trusted: u64,
    },
    /// The record at the trusted head's position differs from it: the tail was rewritten.
    HeadMismatch,
}

impl fmt::Display for LogProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "not a log record: {why}"),
            Self::Gap { expected, found } => write!(
                f,
                "record {expected} expected, {found} found: records deleted or moved"
            ),
            Self::OutOfOrder { expected, found } => write!(
                f,
                "record {expected} expected, {found} found: a record inserted, repeated or reordered"
            ),
            Self::Edited => f.write_str(
                "this record does not hash to the prev recorded on the next line: it was edited",
            ),
            Self::Truncated { records, trusted } => write!(
                f,
                "truncated: {records} records where the trusted head has {trusted}"
            ),
            Self::HeadMismatch => f.write_str(
                "this record differs from the trusted head: the log was rewritten from here back",
            ),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    seq: u64,
    prev: Sha256Digest,
    event: serde_json::Value,
}

/// An append-only, hash-chained event log.
///
/// File format: JSON Lines, one record per line, each exactly
/// `{"seq":N,"prev":"sha256:<hex>","event":<event line>}` where `N` counts from 0, `prev`
/// is the SHA-256 of the previous record's line (without its newline; all zeros for the
/// first) and the event is in the canonical form [`Event::to_json_line`] writes. Records
/// must be in this exact form, so every log has one encoding and every edit shows.
///
/// ```
/// use dataseal_reputation::{Event, EventKind, EventLog, Outcome};
/// let mut log = EventLog::new();
/// let t = "2026-11-21T05:00:00Z".parse()?;
/// log.append(Event::new(t, "o".parse()?, "p".parse()?, EventKind::AvailabilityProbe, Outcome::Success));
/// let text = log.to_jsonl();
/// let back = EventLog::verify(&text, Some(&log.head()))?;
/// assert_eq!(back.head(), log.head());
/// let edited = text.replace("success", "timeout");
/// assert!(EventLog::verify(&edited, Some(&log.head())).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventLog {
    events: Vec<Event>,
    head: LogHead,
}

impl Default for LogHead {
    fn default() -> Self {
        Self::EMPTY
    }
}

fn record_line(seq: u64, prev: &Sha256Digest, event: &Event) -> String {
    format!(
        "{{\"seq\":{seq},\"prev\":\"{prev}\",\"event\":{}}}",
        event.to_json_line()
    )
}

impl EventLog {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A log of `events`, in order.
    #[must_use]
    pub fn from_events(events: impl IntoIterator<Item = Event>) -> Self {
        let mut log = Self::new();
        for e in events {
            log.append(e);
        }
        log
    }

    /// Appends an event and returns its record line (without newline), for the caller
    /// to append to the log file.
    pub fn append(&mut self, event: Event) -> String {
        let line = record_line(self.head.len, &self.head.hash, &event);
        self.head = LogHead {
            len: self.head.len.saturating_add(1),
            hash: Sha256Digest::of(line.as_bytes()),
        };
        self.events.push(event);
        line
    }

    /// The current head.
    #[must_use]
    pub fn head(&self) -> LogHead {
        self.head
    }

    /// The events, in order.
    #[must_use]
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The whole log in its file format, each record followed by a newline.
    #[must_use]
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        let mut prev = Sha256Digest::ZERO;
        for (seq, event) in (0u64..).zip(&self.events) {
            let line = record_line(seq, &prev, event);
            prev = Sha256Digest::of(line.as_bytes());
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// Reads a log and verifies its chain; with `trusted`, also that the log extends
    /// that head (same record at the head's position, at least as many records).
    ///
    /// Detects edited, deleted, inserted, reordered and non-canonical records anywhere,
    /// and, against a trusted head, truncation and a rewritten tail.
    ///
    /// # Errors
    ///
    /// [`Error::LogBroken`] with the 1-based line and a [`LogProblem`] description.
    pub fn verify(text: &str, trusted: Option<&LogHead>) -> Result<Self, Error> {
        let broken = |line: usize, problem: LogProblem| Error::LogBroken {
            line,
            problem: problem.to_string(),
        };
        let mut log = Self::new();
        let mut hashes: Vec<Sha256Digest> = Vec::new();
        for (i, line) in text.split_terminator('\n').enumerate() {
            let number = i + 1;
            let raw: RawRecord = serde_json::from_str(line)
                .map_err(|e| broken(number, LogProblem::Malformed(e.to_string())))?;
            let expected = log.head.len;
            if raw.seq > expected {
                return Err(broken(
                    number,
                    LogProblem::Gap {
                        expected,
                        found: raw.seq,
                    },
                ));
            }
            if raw.seq < expected {
                return Err(broken(
                    number,
                    LogProblem::OutOfOrder {
                        expected,
                        found: raw.seq,
                    },
                ));
            }
            if raw.prev != log.head.hash {
                return Err(broken(number.saturating_sub(1).max(1), LogProblem::Edited));
            }
            let event = Event::from_value(raw.event, number)
                .map_err(|e| broken(number, LogProblem::Malformed(e.to_string())))?;
            let canonical = log.append(event);
            if canonical != line {
                return Err(broken(
                    number,
                    LogProblem::Malformed("not in canonical form".to_owned()),
                ));
            }
            hashes.push(log.head.hash);
        }
        if let Some(head) = trusted {
            if head.len > log.head.len {
                return Err(broken(
                    usize::try_from(log.head.len).unwrap_or(usize::MAX),
                    LogProblem::Truncated {
                        records: log.head.len,
                        trusted: head.len,
                    },
                ));
            }
            if head.len > 0 {
                let index = usize::try_from(head.len - 1).unwrap_or(usize::MAX);
                if hashes.get(index) != Some(&head.hash) {
                    return Err(broken(index.saturating_add(1), LogProblem::HeadMismatch));
                }
            } else if head.hash != Sha256Digest::ZERO {
                return Err(broken(0, LogProblem::HeadMismatch));
            }
        }
        Ok(log)
    }
}
