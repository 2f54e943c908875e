use std::collections::{BTreeMap, BTreeSet};

use dataseal_base::{ProviderId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{
    Error, Event, EventKind, ModelId, Outcome, ParamsDigest, ScoreBreakdown, ScoringModel,
    Snapshot, Status, params_digest,
};

/// Parameters of [`BtfsModel`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BtfsParams {
    /// Weight of uptime (BTFS: 0.6).
    pub uptime_weight: f64,
    /// Weight of age (BTFS: 0.2).
    pub age_weight: f64,
    /// Weight of version (BTFS: 0.1).
    pub version_weight: f64,
    /// Weight of activity (BTFS: 0.1).
    pub activity_weight: f64,
    /// Days of age that earn the full age term.
    pub age_full_days: f64,
    /// The version term: we observe no software versions, so every provider gets this.
    pub version_score: f64,
    /// Days looked back for the activity term.
    pub activity_window_days: u32,
    /// Our addition, not BTFS's: flag (suspend) below this score, so the baseline's
    /// detection can be measured like any model's.
    pub flag_below: f64,
}

impl Default for BtfsParams {
    fn default() -> Self {
        Self {
            uptime_weight: 0.6,
            age_weight: 0.2,
            version_weight: 0.1,
            activity_weight: 0.1,
            age_full_days: 30.0,
            version_score: 1.0,
            activity_window_days: 7,
            flag_below: 0.6,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct HostState {
    first_seen: i64,
    probes: u64,
    probes_ok: u64,
    active_days: BTreeSet<i64>,
}

/// BTFS's published host score as a baseline model, `btfs-host-score/1`:
/// `0.6·uptime + 0.2·age + 0.1·version + 0.1·activity`.
///
/// Our reading of each term, from what an observer can see:
/// - **uptime**: the share of availability probes answered over the host's whole life
///   (BTFS's hub pings hosts and keeps a lifetime ratio; it does not decay);
/// - **age**: days since the first event, divided by `age_full_days` (30), at most 1;
/// - **version**: BTFS rewards running the latest release; events carry no version,
///   so every host gets `version_score` (1);
/// - **activity**: the share of the last `activity_window_days` (7) days on which the
///   host answered at least one probe or served one verified retrieval.
///
/// Retrievals, retention challenges and disputes do not enter the score, as in BTFS.
/// BTFS publishes no suspension rule; so its detections can be counted, this model
/// flags a host as suspended while its score is below `flag_below` (0.6). It never
/// disqualifies and has no vetting.
#[derive(Clone, Debug)]
pub struct BtfsModel {
    params: BtfsParams,
    digest: ParamsDigest,
    hosts: BTreeMap<ProviderId, HostState>,
    now: Option<Timestamp>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    now: Option<Timestamp>,
    hosts: BTreeMap<ProviderId, HostState>,
}

const MODEL_ID: &str = "btfs-host-score/1";
const DAY: i64 = 86_400;

impl BtfsModel {
    /// A model with `params`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] for negative or non-finite weights, or a zero window.
    pub fn new(params: BtfsParams) -> Result<Self, Error> {
        let finite = [
            params.uptime_weight,
            params.age_weight,
            params.version_weight,
            params.activity_weight,
            params.version_score,
            params.flag_below,
        ]
        .iter()
        .all(|x| x.is_finite() && *x >= 0.0);
        let age_ok = params.age_full_days.is_finite() && params.age_full_days > 0.0;
        if !finite || !age_ok || params.activity_window_days == 0 {
            return Err(Error::InvalidParams(
                "btfs: weights must be finite and >= 0, age_full_days and activity_window_days positive"
                    .to_owned(),
            ));
        }
        let digest = params_digest(&params)?;
        Ok(Self {
            params,
            digest,
            hosts: BTreeMap::new(),
            now: None,
        })
    }
}

impl ScoringModel for BtfsModel {
    fn model_id(&self) -> ModelId {
        ModelId::from_static(MODEL_ID)
    }

    fn params_digest(&self) -> ParamsDigest {
        self.digest
    }

    fn observe(&mut self, event: &Event) {
        let time = event.time();
        self.now = Some(self.now.map_or(time, |n| n.max(time)));
        let t = time.unix_seconds();
        let window = i64::from(self.params.activity_window_days);
        let host = self
            .hosts
            .entry(event.provider().clone())
            .or_insert_with(|| HostState {
                first_seen: t,
                ..HostState::default()
            });
        let outcome = event.effective_outcome();
        let active = match event.kind() {
            EventKind::AvailabilityProbe if outcome != Outcome::Unknown => {
                host.probes += 1;
                host.probes_ok += u64::from(outcome == Outcome::Success);
                outcome == Outcome::Success
            }
            EventKind::Retrieval => event.is_verified_success(),
            _ => false,
        };
        if active {
            let day = t.div_euclid(DAY);
            host.active_days.insert(day);
            let newest = host.active_days.last().copied().unwrap_or(day);
            host.active_days.retain(|d| *d > newest - window);
        }
    }

    fn advance(&mut self, now: Timestamp) {
        self.now = Some(self.now.map_or(now, |n| n.max(now)));
    }

    fn now(&self) -> Option<Timestamp> {
        self.now
    }

    fn providers(&self) -> Vec<ProviderId> {
        self.hosts.keys().cloned().collect()
    }

    fn score(&self, provider: &ProviderId) -> Option<ScoreBreakdown> {
        let at = self.now?;
        let host = self.hosts.get(provider)?;
        let p = &self.params;
        let now = at.unix_seconds();
        let uptime = if host.probes == 0 {
            0.0
        } else {
            host.probes_ok as f64 / host.probes as f64
        };
        let age_days = (now - host.first_seen) as f64 / DAY as f64;
        let age = (age_days / p.age_full_days).clamp(0.0, 1.0);
        let today = now.div_euclid(DAY);
        let window = i64::from(p.activity_window_days);
        let active = host
            .active_days
            .iter()
            .filter(|d| **d > today - window && **d <= today)
            .count();
        let activity = active as f64 / f64::from(p.activity_window_days);
        let version = p.version_score.clamp(0.0, 1.0);
        let score = p.uptime_weight * uptime
            + p.age_weight * age
            + p.version_weight * version
            + p.activity_weight * activity;
        let status = if score < p.flag_below {
            Status::Suspended
        } else {
            Status::Active
        };
        Some(
            ScoreBreakdown::new(provider.clone(), at, score, status)
                .with_factor("uptime", uptime)
                .with_factor("age", age)
                .with_factor("version", version)
                .with_factor("activity", activity)
                .with_figure("uptime.probes", host.probes as f64)
                .with_figure("age_days", age_days)
                .with_figure("active_days", active as f64),
        )
    }

    fn snapshot(&self) -> Snapshot {
        let state = State {
            now: self.now,
            hosts: self.hosts.clone(),
        };
        Snapshot {
            model: self.model_id(),
            params: self.digest,
            state: serde_json::to_value(&state).unwrap_or_default(),
        }
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Error> {
        let value = snapshot.state_for(&self.model_id(), &self.digest)?;
        let state: State =
            serde_json::from_value(value.clone()).map_err(|e| Error::Snapshot(e.to_string()))?;
        self.now = state.now;
        self.hosts = state.hosts;
        Ok(())
    }
}
