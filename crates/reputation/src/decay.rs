//! Forward decay (Cormode, Shkapenyuk, Srivastava and Xu, ICDE 2009): each event is added
//! with a weight that grows with its time and its index, relative to a landmark, and a
//! query multiplies by the inverse growth at the query time. The decayed sum is then a
//! closed form of the event sequence, so any split of the sequence into batches gives
//! the same bits. Landmarks move (and sums are rescaled) only when an event's own
//! exponent passes a bound, which again depends on the sequence alone.

use serde::{Deserialize, Serialize};

use crate::bits;

/// How fast evidence fades: by wall-clock time and by later events of the same signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DecaySpec {
    /// 1 / half-life in seconds (0: no time decay).
    per_second: f64,
    /// 1 / half-life in events (0: no event decay).
    per_event: f64,
}

impl DecaySpec {
    pub(crate) fn new(half_life_hours: Option<f64>, half_life_events: Option<f64>) -> Self {
        Self {
            per_second: half_life_hours.map_or(0.0, |h| 1.0 / (h * 3600.0)),
            per_event: half_life_events.map_or(0.0, |n| 1.0 / n),
        }
    }
}

/// Rescale when an event's exponent passes this (2^64 ≈ 1.8e19, far from f64's range).
const RESCALE_AT: f64 = 64.0;

/// The landmark of one forward-decayed signal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Forward {
    landmark_time: i64,
    landmark_index: u64,
    index: u64,
    started: bool,
}

impl Forward {
    /// Registers one event at `time`: the weight to add it with, and the factor to
    /// multiply existing sums by first (when the landmark moves).
    pub(crate) fn tick(&mut self, time: i64, spec: DecaySpec) -> (f64, Option<f64>) {
        if !self.started {
            self.started = true;
            self.landmark_time = time;
        }
        self.index = self.index.saturating_add(1);
        let exponent = self.exponent(time, self.index, spec);
        if exponent > RESCALE_AT {
            self.landmark_time = time;
            self.landmark_index = self.index;
            (1.0, Some((-exponent).exp2()))
        } else {
            (exponent.exp2(), None)
        }
    }

    fn exponent(&self, time: i64, index: u64, spec: DecaySpec) -> f64 {
        let dt = time.saturating_sub(self.landmark_time) as f64;
        let dn = index.saturating_sub(self.landmark_index) as f64;
        dt * spec.per_second + dn * spec.per_event
    }

    /// The factor turning stored sums into decayed evidence at `now`.
    pub(crate) fn factor_at(&self, now: i64, spec: DecaySpec) -> f64 {
        (-self.exponent(now, self.index, spec)).exp2()
    }
}

/// Decayed counts of successes, failures and unknowns for one signal (a Beta posterior's
/// evidence).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DecayedCounts {
    forward: Forward,
    #[serde(with = "bits::f64")]
    success: f64,
    #[serde(with = "bits::f64")]
    failure: f64,
    #[serde(with = "bits::f64")]
    unknown: f64,
}

/// Which count an observation adds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tally {
    Success,
    Failure,
    Unknown,
}

/// Decayed evidence at a point in time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Evidence {
    pub(crate) success: f64,
    pub(crate) failure: f64,
    pub(crate) unknown: f64,
}

impl Evidence {
    /// Posterior mean of Beta(prior_success + success, prior_failure + failure).
    pub(crate) fn mean(&self, prior_success: f64, prior_failure: f64) -> f64 {
        let a = prior_success + self.success;
        let b = prior_failure + self.failure;
        if a + b > 0.0 { a / (a + b) } else { 1.0 }
    }

    /// Success and failure evidence together (unknowns excluded).
    pub(crate) fn decided(&self) -> f64 {
        self.success + self.failure
    }
}

impl DecayedCounts {
    pub(crate) fn add(&mut self, time: i64, tally: Tally, weight: f64, spec: DecaySpec) {
        let (w, rescale) = self.forward.tick(time, spec);
        if let Some(f) = rescale {
            self.success *= f;
            self.failure *= f;
            self.unknown *= f;
        }
        let w = w * weight;
        match tally {
            Tally::Success => self.success += w,
            Tally::Failure => self.failure += w,
            Tally::Unknown => self.unknown += w,
        }
    }

    pub(crate) fn at(&self, now: i64, spec: DecaySpec) -> Evidence {
        let f = self.forward.factor_at(now, spec);
        Evidence {
            success: self.success * f,
            failure: self.failure * f,
            unknown: self.unknown * f,
        }
    }
}
