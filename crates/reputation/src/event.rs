use dataseal_base::{ProviderId, Timestamp};
use serde::{Deserialize, Serialize};

use dataseal_base::Region;

use crate::{Error, NetworkGroup, ObserverId};

/// The version of the event schema this crate reads and writes (the `v` field).
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// What was observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A real read of stored content by a client.
    Retrieval,
    /// A cheap liveness check (a ping, a `block/stat`, a DHT lookup).
    AvailabilityProbe,
    /// A proof that the provider still holds data it was given (a random-range read
    /// checked against the content address, or a storage proof).
    RetentionChallenge,
    /// A complaint against the provider was opened.
    DisputeOpened,
    /// A complaint was settled: `success` clears the provider, `failure` finds it at fault.
    DisputeResolved,
}

/// How it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It worked (for a retrieval: only together with `verified: true`).
    Success,
    /// The provider answered with an error or refused.
    Failure,
    /// No answer in time.
    Timeout,
    /// The provider answered with bytes that do not match the content address.
    IntegrityFailure,
    /// The observer cannot tell (its own network failed, it was cancelled). Kept apart
    /// from failures: it never counts against a provider as a failure.
    Unknown,
}

/// One observation of one provider by one observer: a line of an events file.
///
/// JSON Lines schema, version 1 (one object per line, UTF-8, fields in this order when
/// written, unknown fields rejected when read):
///
/// | field | type | required | meaning |
/// |---|---|---|---|
/// | `v` | integer | yes | schema version, `1` |
/// | `time` | string | yes | when it happened, RFC 3339 `YYYY-MM-DDTHH:MM:SSZ` |
/// | `observer` | string | yes | who observed ([`ObserverId`]) |
/// | `provider` | string | yes | who was observed ([`ProviderId`]) |
/// | `kind` | string | yes | `retrieval`, `availability_probe`, `retention_challenge`, `dispute_opened`, `dispute_resolved` |
/// | `outcome` | string | yes | `success`, `failure`, `timeout`, `integrity_failure`, `unknown` |
/// | `verified` | bool | no (false) | retrievals only: every block was re-hashed against its CID |
/// | `latency_us` | integer | no | time to the last byte, microseconds |
/// | `bytes` | integer | no | payload bytes transferred |
/// | `region` | string | no | where the provider is: ISO 3166-1 alpha-2, `EU`, `EEA` or `GLOBAL` ([`Region`]) |
/// | `network_group` | string | no | its network (AS number, prefix: [`NetworkGroup`]) |
///
/// Rules beyond the types: `verified: true` only on a retrieval; a retrieval with outcome
/// `success` but without `verified: true` counts as `unknown`, never as a success; a
/// `dispute_opened` names the disputed outcome (`failure`, `timeout` or
/// `integrity_failure`); a `dispute_resolved` is `success` (provider cleared) or `failure`
/// (provider at fault).
///
/// ```
/// use dataseal_reputation::{Event, EventKind, Outcome};
/// let line = r#"{"v":1,"time":"2026-11-21T05:00:00Z","observer":"client-1","provider":"12D3KooWA","kind":"retrieval","outcome":"success","verified":true,"latency_us":81000,"bytes":1048576}"#;
/// let event = Event::from_json_line(line)?;
/// assert_eq!(event.kind(), EventKind::Retrieval);
/// assert!(event.is_verified_success());
/// assert_eq!(event.to_json_line(), line);
/// # Ok::<(), dataseal_reputation::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    time: Timestamp,
    observer: ObserverId,
    provider: ProviderId,
    kind: EventKind,
    outcome: Outcome,
    verified: bool,
    latency_us: Option<u64>,
    bytes: Option<u64>,
    region: Option<Region>,
    network_group: Option<NetworkGroup>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    v: u32,
    time: Timestamp,
    observer: ObserverId,
    provider: ProviderId,
    kind: EventKind,
    outcome: Outcome,
    #[serde(default, skip_serializing_if = "is_false")]
    verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latency_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network_group: Option<NetworkGroup>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Event {
    /// A new event with no optional fields; add them with the `with_*` methods.
    #[must_use]
    pub fn new(
        time: Timestamp,
        observer: ObserverId,
        provider: ProviderId,
        kind: EventKind,
        outcome: Outcome,
    ) -> Self {
        Self {
            time,
            observer,
            provider,
            kind,
            outcome,
            verified: false,
            latency_us: None,
            bytes: None,
            region: None,
            network_group: None,
        }
    }

    /// Marks a retrieval as verified (every block re-hashed against its CID).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] if the event is not a retrieval.
    pub fn verified(mut self) -> Result<Self, Error> {
        if self.kind != EventKind::Retrieval {
            return Err(Error::InvalidParams(
                "verified: only a retrieval can be verified".to_owned(),
            ));
        }
        self.verified = true;
        Ok(self)
    }

    /// Sets the latency in microseconds.
    #[must_use]
    pub fn with_latency_us(mut self, latency_us: u64) -> Self {
        self.latency_us = Some(latency_us);
        self
    }

    /// Sets the bytes transferred.
    #[must_use]
    pub fn with_bytes(mut self, bytes: u64) -> Self {
        self.bytes = Some(bytes);
        self
    }

    /// Sets the provider's region.
    #[must_use]
    pub fn with_region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Sets the provider's network group.
    #[must_use]
    pub fn with_network_group(mut self, group: NetworkGroup) -> Self {
        self.network_group = Some(group);
        self
    }

    /// When it happened.
    #[must_use]
    pub fn time(&self) -> Timestamp {
        self.time
    }

    /// Who observed.
    #[must_use]
    pub fn observer(&self) -> &ObserverId {
        &self.observer
    }

    /// Who was observed.
    #[must_use]
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// What was observed.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The outcome as written.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The outcome a model should use: a retrieval reported as `success` without
    /// `verified: true` becomes [`Outcome::Unknown`], since only verified reads count.
    #[must_use]
    pub fn effective_outcome(&self) -> Outcome {
        if self.kind == EventKind::Retrieval && self.outcome == Outcome::Success && !self.verified {
            Outcome::Unknown
        } else {
            self.outcome
        }
    }

    /// Whether this is a retrieval that succeeded with every block verified.
    #[must_use]
    pub fn is_verified_success(&self) -> bool {
        self.kind == EventKind::Retrieval && self.outcome == Outcome::Success && self.verified
    }

    /// Whether the `verified` flag is set.
    #[must_use]
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// Latency in microseconds, if measured.
    #[must_use]
    pub fn latency_us(&self) -> Option<u64> {
        self.latency_us
    }

    /// Bytes transferred, if counted.
    #[must_use]
    pub fn bytes(&self) -> Option<u64> {
        self.bytes
    }

    /// The provider's region, if known.
    #[must_use]
    pub fn region(&self) -> Option<&Region> {
        self.region.as_ref()
    }

    /// The provider's network group, if known.
    #[must_use]
    pub fn network_group(&self) -> Option<&NetworkGroup> {
        self.network_group.as_ref()
    }

    /// Parses one line of the schema strictly.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedEvent`] (with line 1) naming what is wrong.
    pub fn from_json_line(line: &str) -> Result<Self, Error> {
        Self::parse_at(line, 1)
    }

    fn parse_at(line: &str, number: usize) -> Result<Self, Error> {
        let bad = |reason: String| Error::MalformedEvent {
            line: number,
            reason,
        };
        if line.trim().is_empty() {
            return Err(bad("empty line".to_owned()));
        }
        let raw: RawEvent = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if raw.v != EVENT_SCHEMA_VERSION {
            return Err(bad(format!(
                "schema version {} (this reader knows {EVENT_SCHEMA_VERSION})",
                raw.v
            )));
        }
        if raw.verified && raw.kind != EventKind::Retrieval {
            return Err(bad("verified: only a retrieval can be verified".to_owned()));
        }
        match (raw.kind, raw.outcome) {
            (EventKind::DisputeOpened, Outcome::Success | Outcome::Unknown) => {
                return Err(bad(
                    "a dispute_opened names the disputed outcome: failure, timeout or integrity_failure"
                        .to_owned(),
                ));
            }
            (EventKind::DisputeResolved, o)
                if !matches!(o, Outcome::Success | Outcome::Failure) =>
            {
                return Err(bad(
                    "a dispute_resolved is success (provider cleared) or failure (provider at fault)"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        Ok(Self {
            time: raw.time,
            observer: raw.observer,
            provider: raw.provider,
            kind: raw.kind,
            outcome: raw.outcome,
            verified: raw.verified,
            latency_us: raw.latency_us,
            bytes: raw.bytes,
            region: raw.region,
            network_group: raw.network_group,
        })
    }

    /// The line form (no trailing newline): fields in schema order, optional ones omitted
    /// when absent.
    #[must_use]
    pub fn to_json_line(&self) -> String {
        let raw = RawEvent {
            v: EVENT_SCHEMA_VERSION,
            time: self.time,
            observer: self.observer.clone(),
            provider: self.provider.clone(),
            kind: self.kind,
            outcome: self.outcome,
            verified: self.verified,
            latency_us: self.latency_us,
            bytes: self.bytes,
            region: self.region.clone(),
            network_group: self.network_group.clone(),
        };
        // Strings, integers and booleans always serialise.
        serde_json::to_string(&raw).unwrap_or_default()
    }

    pub(crate) fn from_value(value: serde_json::Value, line: usize) -> Result<Self, Error> {
        Self::parse_at(&value.to_string(), line)
    }
}

/// What to do with a malformed line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnMalformed {
    /// Stop at the first malformed line and return its error.
    Reject,
    /// Skip it, and report it in [`ParsedEvents::skipped`].
    Skip,
}

/// A line that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedLine {
    /// The 1-based line number.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// The events read from a JSON Lines text, and the lines skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedEvents {
    /// The events, in file order.
    pub events: Vec<Event>,
    /// Malformed lines skipped under [`OnMalformed::Skip`] (always empty under `Reject`).
    pub skipped: Vec<SkippedLine>,
}

/// Parses an events file (JSON Lines, schema above). A final newline is optional; any other
/// empty line is malformed.
///
/// ```
/// use dataseal_reputation::{parse_events, OnMalformed, Error};
/// let text = "{\"v\":1,\"time\":\"2026-11-21T05:00:00Z\",\"observer\":\"o\",\"provider\":\"p\",\"kind\":\"availability_probe\",\"outcome\":\"success\"}\nnot json\n";
/// let parsed = parse_events(text, OnMalformed::Skip)?;
/// assert_eq!((parsed.events.len(), parsed.skipped[0].line), (1, 2));
/// assert!(matches!(parse_events(text, OnMalformed::Reject), Err(Error::MalformedEvent { line: 2, .. })));
/// # Ok::<(), Error>(())
/// ```
///
/// # Errors
///
/// [`Error::MalformedEvent`] with the 1-based line number of the first malformed line,
/// under [`OnMalformed::Reject`].
pub fn parse_events(text: &str, on_malformed: OnMalformed) -> Result<ParsedEvents, Error> {
    let mut out = ParsedEvents::default();
    for (i, line) in text.lines().enumerate() {
        match Event::parse_at(line, i + 1) {
            Ok(event) => out.events.push(event),
            Err(Error::MalformedEvent { line, reason }) if on_malformed == OnMalformed::Skip => {
                out.skipped.push(SkippedLine { line, reason });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
