use std::collections::BTreeMap;

use dataseal_base::{ProviderId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Error, Event, ModelId, ParamsDigest, Tier};

/// Where a provider stands. Suspension and disqualification are states a model moves a
/// provider into, not score values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// New: still short of the minimum number of checks or the minimum age. Scored as
    /// usual, but given only a capped share of placements.
    Vetting,
    /// In good standing.
    Active,
    /// Temporarily excluded from placement (reversible when the evidence recovers).
    Suspended,
    /// Permanently excluded.
    Disqualified,
}

impl Status {
    /// Suspended or disqualified: the model flags the provider as bad.
    #[must_use]
    pub fn is_flagged(self) -> bool {
        matches!(self, Self::Suspended | Self::Disqualified)
    }
}

/// A provider's score at a point in time, with every factor named.
///
/// `factors` are sub-scores in `[0, 1]`; `figures` are the observed quantities behind
/// them (their names carry their units: `latency.p95_ms`, `uptime.ratio`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreBreakdown {
    provider: ProviderId,
    at: Timestamp,
    score: f64,
    status: Status,
    tier: Option<Tier>,
    factors: BTreeMap<String, f64>,
    figures: BTreeMap<String, f64>,
}

impl ScoreBreakdown {
    /// A breakdown with the overall score (clamped to `[0, 1]`, NaN becomes 0) and
    /// status; add factors and figures with the `with_*` methods.
    #[must_use]
    pub fn new(provider: ProviderId, at: Timestamp, score: f64, status: Status) -> Self {
        Self {
            provider,
            at,
            score: unit(score),
            status,
            tier: None,
            factors: BTreeMap::new(),
            figures: BTreeMap::new(),
        }
    }

    /// Adds a named sub-score (clamped to `[0, 1]`).
    #[must_use]
    pub fn with_factor(mut self, name: &str, value: f64) -> Self {
        self.factors.insert(name.to_owned(), unit(value));
        self
    }

    /// Adds a named figure (non-finite values become 0).
    #[must_use]
    pub fn with_figure(mut self, name: &str, value: f64) -> Self {
        self.figures
            .insert(name.to_owned(), if value.is_finite() { value } else { 0.0 });
        self
    }

    /// Sets the tier label.
    #[must_use]
    pub fn with_tier(mut self, tier: Option<Tier>) -> Self {
        self.tier = tier;
        self
    }

    /// The provider.
    #[must_use]
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// The time the score is for.
    #[must_use]
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The overall score in `[0, 1]`; higher is better.
    #[must_use]
    pub fn score(&self) -> f64 {
        self.score
    }

    /// The provider's status.
    #[must_use]
    pub fn status(&self) -> Status {
        self.status
    }

    /// The tier label earned, if the model assigns tiers.
    #[must_use]
    pub fn tier(&self) -> Option<Tier> {
        self.tier
    }

    /// The named sub-scores.
    #[must_use]
    pub fn factors(&self) -> &BTreeMap<String, f64> {
        &self.factors
    }

    /// The named figures.
    #[must_use]
    pub fn figures(&self) -> &BTreeMap<String, f64> {
        &self.figures
    }
}

fn unit(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

/// A model's whole state, tagged with the model id and parameter digest it belongs to.
/// Floats are stored as their bit patterns, so restoring gives bit-identical scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The model that wrote it.
    pub model: ModelId,
    /// The digest of the parameters it ran with.
    pub params: ParamsDigest,
    /// The model's own state.
    pub state: serde_json::Value,
}

impl Snapshot {
    /// Checks that this snapshot belongs to `model` with `params`, and returns the state.
    ///
    /// # Errors
    ///
    /// [`Error::Snapshot`] on a mismatch.
    pub fn state_for(
        &self,
        model: &ModelId,
        params: &ParamsDigest,
    ) -> Result<&serde_json::Value, Error> {
        if &self.model != model {
            return Err(Error::Snapshot(format!(
                "written by model {}, not {model}",
                self.model
            )));
        }
        if &self.params != params {
            return Err(Error::Snapshot(format!(
                "written with parameters {}, not {params}",
                self.params
            )));
        }
        Ok(&self.state)
    }
}

/// A scoring model: a deterministic function of (event sequence, parameters, time).
///
/// The model never reads a clock: time enters through event times and [`advance`].
/// Implementations must give the same scores for the same events in the same order
/// whatever the batching (calls to [`observe`] and [`advance`] interleaved in any way,
/// as long as the final time is the same), and the same scores after
/// [`snapshot`]/[`restore`]. The trait is object safe, so the simulation harness can
/// compare `Box<dyn ScoringModel>`s.
///
/// [`advance`]: ScoringModel::advance
/// [`observe`]: ScoringModel::observe
/// [`snapshot`]: ScoringModel::snapshot
/// [`restore`]: ScoringModel::restore
pub trait ScoringModel {
    /// The model's id and version.
    fn model_id(&self) -> ModelId;

    /// The digest of its parameters.
    fn params_digest(&self) -> ParamsDigest;

    /// Takes in one event. The model's time becomes at least the event's time.
    fn observe(&mut self, event: &Event);

    /// Takes in events in order.
    fn observe_all(&mut self, events: &[Event]) {
        for e in events {
            self.observe(e);
        }
    }

    /// Moves the model's time forward to `now` (never back).
    fn advance(&mut self, now: Timestamp);

    /// The model's time: the latest event time or `advance` time; `None` before either.
    fn now(&self) -> Option<Timestamp>;

    /// Every provider the model has information about, in id order.
    fn providers(&self) -> Vec<ProviderId>;

    /// The provider's score at the model's time, or `None` for "no information".
    fn score(&self, provider: &ProviderId) -> Option<ScoreBreakdown>;

    /// Every provider's score, in id order.
    fn scores(&self) -> Vec<ScoreBreakdown> {
        self.providers()
            .iter()
            .filter_map(|p| self.score(p))
            .collect()
    }

    /// The whole state.
    fn snapshot(&self) -> Snapshot;

    /// Replaces the state with a snapshot's.
    ///
    /// # Errors
    ///
    /// [`Error::Snapshot`] if it belongs to another model or parameters, or is malformed.
    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Error>;
}
