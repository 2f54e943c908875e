//! A log scored with the default model at one time, and the signed attestations of its
//! scores: what `dataseal providers score` and `attest` print and write.

use dataseal_base::dsse::Envelope;
use dataseal_base::{ProviderId, Role, SigningKey, Timestamp};

use crate::{
    DefaultModel, DefaultParams, Error, Event, EventLog, OnMalformed, ProviderAttestation,
    ScoreBreakdown, ScoringModel, parse_events,
};

impl EventLog {
    /// Reads an events file (JSON Lines, every line an event) or a hash-chained event
    /// log, told apart by the first record (a log's records start with `{"seq":`). A
    /// log's chain is verified.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedEvent`] naming the line; [`Error::LogBroken`] for a log whose
    /// chain does not verify.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.trim_start().starts_with("{\"seq\":") {
            Self::verify(text, None)
        } else {
            let parsed = parse_events(text, OnMalformed::Reject)?;
            Ok(Self::from_events(parsed.events))
        }
    }
}

/// Every provider of a log scored with the default model at one time.
#[derive(Debug)]
pub struct Scored {
    model: DefaultModel,
    at: Timestamp,
    window_start: Timestamp,
    log_head: crate::LogHead,
    events: usize,
}

impl Scored {
    /// Scores `log` with the default parameters at `at`, or at its last event's time.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] for a log with no events and no `at`.
    pub fn from_log(log: &EventLog, at: Option<Timestamp>) -> Result<Self, Error> {
        let mut model = DefaultModel::new(DefaultParams::default())?;
        model.observe_all(log.events());
        if let Some(at) = at {
            model.advance(at);
        }
        let at = model.now().ok_or_else(|| {
            Error::InvalidParams("no events and no time given: nothing to score".to_owned())
        })?;
        let window_start = log.events().iter().map(Event::time).min().unwrap_or(at);
        Ok(Self {
            model,
            at,
            window_start,
            log_head: log.head(),
            events: log.events().len(),
        })
    }

    /// The model, to ask it more.
    #[must_use]
    pub fn model(&self) -> &DefaultModel {
        &self.model
    }

    /// The time scored at.
    #[must_use]
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The number of events scored.
    #[must_use]
    pub fn events(&self) -> usize {
        self.events
    }

    /// Every provider's score and its factors.
    #[must_use]
    pub fn scores(&self) -> Vec<ScoreBreakdown> {
        self.model.scores()
    }

    /// One signed attestation per provider, issued at the scoring time and valid for
    /// `valid_seconds` (at least one second), signed by `key` claiming `role`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] or [`Error::Signature`] when an attestation cannot be
    /// built or signed.
    pub fn attest(
        &self,
        valid_seconds: i64,
        key: &SigningKey,
        role: Option<Role>,
    ) -> Result<Vec<(ProviderId, Envelope)>, Error> {
        let expires = self.at.saturating_add_seconds(valid_seconds.max(1));
        self.scores()
            .iter()
            .map(|s| {
                let a = ProviderAttestation::from_breakdown(
                    s,
                    self.model.model_id(),
                    self.model.params_digest(),
                    self.log_head,
                    self.window_start,
                    self.at,
                    expires,
                )?;
                Ok((s.provider().clone(), a.sign(key, role.clone())?))
            })
            .collect()
    }
}

/// The file name of a provider's attestation, `<provider>.dsse.json`, with every
/// character other than ASCII letters, digits, `.`, `_` and `-` replaced by `_`.
#[must_use]
pub fn attestation_file_name(provider: &ProviderId) -> String {
    let stem: String = provider
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.dsse.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_log_needs_a_time() {
        let log = EventLog::new();
        assert!(matches!(
            Scored::from_log(&log, None),
            Err(Error::InvalidParams(_))
        ));
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let scored = Scored::from_log(&log, Some(at)).unwrap();
        assert_eq!((scored.at(), scored.events()), (at, 0));
        assert!(scored.scores().is_empty());
    }

    #[test]
    fn events_files_and_logs_are_told_apart() {
        let log = EventLog::new();
        assert_eq!(EventLog::parse(&log.to_jsonl()).unwrap().events().len(), 0);
        assert!(matches!(
            EventLog::parse("{\"seq\":0}\n"),
            Err(Error::LogBroken { .. })
        ));
        assert!(matches!(
            EventLog::parse("not json\n"),
            Err(Error::MalformedEvent { line: 1, .. })
        ));
    }

    #[test]
    fn attestation_file_names_are_safe() {
        let p: ProviderId = "eu-1.node_2".parse().unwrap();
        assert_eq!(attestation_file_name(&p), "eu-1.node_2.dsse.json");
    }
}
