//! The simulation harness: synthetic providers with scripted behaviours, observed hour by
//! hour; every model under test sees the same events and is scored on what it flags and
//! where it places data.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use dataseal_base::{ProviderId, Region, Timestamp};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::{
    BtfsModel, BtfsParams, Candidate, DefaultModel, DefaultParams, Error, Event, EventKind,
    ModelId, NetworkGroup, ObserverId, Outcome, Placement, ScoringModel, Status, choose_providers,
};

/// How a group of simulated providers behaves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Behaviour {
    /// Serves everything; fails a small share at random.
    Honest {
        /// Share of operations that fail.
        fail_rate: f64,
    },
    /// Honest but unreliable: random failures, unknown outcomes on the observer's side,
    /// and a daily outage at a random hour.
    FlakyHonest {
        /// Share of reads that fail (probes fail half as often).
        fail_rate: f64,
        /// Share of reads whose outcome the observer cannot tell.
        unknown_rate: f64,
        /// Length of the daily outage, hours.
        outage_hours: u32,
    },
    /// Honest, but a share of reads takes many times longer.
    SlowTail {
        /// Share of slow reads.
        tail_rate: f64,
        /// How many times slower they are.
        tail_factor: f64,
    },
    /// Online for `on_hours`, then offline for `off_hours`, repeating (random phase).
    OnOff {
        /// Hours online per cycle.
        on_hours: u32,
        /// Hours offline per cycle.
        off_hours: u32,
    },
    /// Answers probes and retention challenges, fails real reads.
    SelectiveServing {
        /// Share of real reads failed.
        read_fail_rate: f64,
    },
    /// Loses data and fails reads, and rejoins under a fresh identity periodically.
    Whitewashing {
        /// Share of reads and challenges failed.
        fail_rate: f64,
        /// Days between fresh identities.
        rejoin_every_days: u32,
    },
    /// Many identities of one operator in one network group: honest at first, then all
    /// go dark together.
    SybilCluster {
        /// Days of honest service before going dark.
        honest_days: u32,
    },
}

impl Behaviour {
    /// The snake-case name of the behaviour.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Honest { .. } => "honest",
            Self::FlakyHonest { .. } => "flaky_honest",
            Self::SlowTail { .. } => "slow_tail",
            Self::OnOff { .. } => "on_off",
            Self::SelectiveServing { .. } => "selective_serving",
            Self::Whitewashing { .. } => "whitewashing",
            Self::SybilCluster { .. } => "sybil_cluster",
        }
    }

    /// Whether a model should flag it (the adversaries).
    #[must_use]
    pub fn is_bad(&self) -> bool {
        matches!(
            self,
            Self::OnOff { .. }
                | Self::SelectiveServing { .. }
                | Self::Whitewashing { .. }
                | Self::SybilCluster { .. }
        )
    }
}

/// A group of providers with one behaviour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderGroup {
    /// How many.
    pub count: u32,
    /// How they behave.
    pub behaviour: Behaviour,
}

fn default_reads() -> u32 {
    2
}
fn default_challenge_every() -> u32 {
    6
}
fn default_placements() -> u32 {
    100
}
fn default_replicas() -> usize {
    3
}
fn default_exploration() -> f64 {
    0.05
}

/// A simulation scenario: a JSON file (fields below; unknown fields rejected).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name, used in reports.
    pub name: String,
    /// What it exercises.
    #[serde(default)]
    pub description: String,
    /// Seed of every random draw; the same seed gives the same events and results.
    pub seed: u64,
    /// Days simulated (1 to 3,650).
    pub days: u32,
    /// Real reads per provider per hour (default 2).
    #[serde(default = "default_reads")]
    pub reads_per_hour: u32,
    /// Hours between retention challenges of a provider (default 6).
    #[serde(default = "default_challenge_every")]
    pub challenge_every_hours: u32,
    /// Objects placed per day, to measure the share adversaries capture (default 100).
    #[serde(default = "default_placements")]
    pub placements_per_day: u32,
    /// Replicas per object (default 3).
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// Exploration share for vetting newcomers (default 0.05).
    #[serde(default = "default_exploration")]
    pub exploration_share: f64,
    /// The providers.
    pub groups: Vec<ProviderGroup>,
}

const BUILTIN: &[(&str, &str)] = &[
    ("mixed", include_str!("../scenarios/mixed.json")),
    ("on-off", include_str!("../scenarios/on-off.json")),
    (
        "selective-serving",
        include_str!("../scenarios/selective-serving.json"),
    ),
    (
        "flaky-honest",
        include_str!("../scenarios/flaky-honest.json"),
    ),
    (
        "whitewashing",
        include_str!("../scenarios/whitewashing.json"),
    ),
    ("sybil", include_str!("../scenarios/sybil.json")),
];

impl Scenario {
    /// Parses and checks a scenario file.
    ///
    /// # Errors
    ///
    /// [`Error::Scenario`] naming the problem.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let s: Self = serde_json::from_str(text).map_err(|e| Error::Scenario(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    /// The names of the built-in scenarios (shipped in `scenarios/`).
    #[must_use]
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in scenario by name.
    ///
    /// # Errors
    ///
    /// [`Error::Scenario`] for an unknown name.
    pub fn builtin(name: &str) -> Result<Self, Error> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| Error::Scenario(format!("no built-in scenario {name:?}")))?;
        Self::from_json(text)
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |m: &str| Err(Error::Scenario(m.to_owned()));
        if self.days == 0 || self.days > 3_650 {
            return bad("days must be 1 to 3650");
        }
        if self.challenge_every_hours == 0 || self.replicas == 0 || self.replicas > 1_000 {
            return bad("challenge_every_hours must be positive and replicas 1 to 1000");
        }
        if self.reads_per_hour > 1_000 || self.placements_per_day > 1_000_000 {
            return bad("at most 1000 reads per hour and 1,000,000 placements per day");
        }
        if !(0.0..=1.0).contains(&self.exploration_share) {
            return bad("exploration_share must be in [0, 1]");
        }
        let total: u64 = self.groups.iter().map(|g| u64::from(g.count)).sum();
        if total == 0 || total > 1_000_000 {
            return bad("between 1 and 1,000,000 providers");
        }
        let rate = |x: f64| (0.0..=1.0).contains(&x);
        for g in &self.groups {
            let ok = match &g.behaviour {
                Behaviour::Honest { fail_rate } => rate(*fail_rate),
                Behaviour::FlakyHonest {
                    fail_rate,
                    unknown_rate,
                    outage_hours,
                } => rate(*fail_rate) && rate(*unknown_rate) && *outage_hours < 24,
                Behaviour::SlowTail {
                    tail_rate,
                    tail_factor,
                } => rate(*tail_rate) && tail_factor.is_finite() && *tail_factor >= 1.0,
                Behaviour::OnOff {
                    on_hours,
                    off_hours,
                } => *on_hours <= 100_000 && *off_hours <= 100_000 && on_hours + off_hours > 0,
                Behaviour::SelectiveServing { read_fail_rate } => rate(*read_fail_rate),
                Behaviour::Whitewashing {
                    fail_rate,
                    rejoin_every_days,
                } => rate(*fail_rate) && (1..=3_650).contains(rejoin_every_days),
                Behaviour::SybilCluster { .. } => true,
            };
            if !ok {
                return bad(&format!(
                    "{} group: a rate or period is out of range",
                    g.behaviour.name()
                ));
            }
        }
        Ok(())
    }
}

/// The default model and the BTFS baseline with their default parameters: the models
/// every comparison starts from.
///
/// # Errors
///
/// None with the default parameters; the `Result` is that of the constructors.
pub fn baseline_models() -> Result<Vec<Box<dyn ScoringModel>>, Error> {
    Ok(vec![
        Box::new(DefaultModel::new(DefaultParams::default())?),
        Box::new(BtfsModel::new(BtfsParams::default())?),
    ])
}

/// One model's results on one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// The model.
    pub model: ModelId,
    /// Detected adversary identities / (detected adversaries + flagged honest ones);
    /// `None` if nothing was flagged. An adversary counts as detected only when flagged
    /// at or after the onset of its misbehaviour.
    pub precision: Option<f64>,
    /// Detected adversary identities / all adversary identities (`None` without adversaries).
    pub recall: Option<f64>,
    /// Recall per adversary behaviour.
    pub recall_by_behaviour: BTreeMap<String, f64>,
    /// Median hours from the onset of misbehaviour to the first flag, over detected
    /// adversary identities.
    pub median_hours_to_detect: Option<f64>,
    /// Honest, flaky-honest and slow-tail identities ever flagged.
    pub false_flags: u32,
    /// Honest, flaky-honest and slow-tail identities ever disqualified.
    pub false_disqualifications: u32,
    /// Of those, flaky-honest ones.
    pub flaky_disqualified: u32,
    /// Mean Spearman correlation of the honest providers' ranking between consecutive days.
    pub rank_stability: Option<f64>,
    /// Share of placed replicas that landed on adversary identities.
    pub adversary_share: Option<f64>,
    /// Objects that could not be placed (too few eligible providers).
    pub failed_placements: u32,
}

/// The results of one scenario for every model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    /// The scenario's name.
    pub scenario: String,
    /// Its seed.
    pub seed: u64,
    /// Days simulated.
    pub days: u32,
    /// Provider identities that appeared (a whitewasher counts once per identity).
    pub identities: u64,
    /// Adversary identities among them.
    pub adversaries: u64,
    /// Events generated.
    pub events: u64,
    /// One report per model, in the order given.
    pub models: Vec<ModelReport>,
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(String::new, |v| format!("{v:.4}"))
}

impl SimulationReport {
    /// The CSV header matching [`SimulationReport::to_csv_rows`].
    pub const CSV_HEADER: &'static str = "scenario,seed,days,model,precision,recall,recall_on_off,recall_selective_serving,recall_whitewashing,recall_sybil_cluster,median_hours_to_detect,false_flags,false_disqualifications,flaky_disqualified,rank_stability,adversary_share,failed_placements";

    /// One CSV row per model (no header; empty cells for undefined figures).
    #[must_use]
    pub fn to_csv_rows(&self) -> String {
        let mut out = String::new();
        for m in &self.models {
            let r = |b: &str| fmt_opt(m.recall_by_behaviour.get(b).copied());
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                self.scenario,
                self.seed,
                self.days,
                m.model,
                fmt_opt(m.precision),
                fmt_opt(m.recall),
                r("on_off"),
                r("selective_serving"),
                r("whitewashing"),
                r("sybil_cluster"),
                m.median_hours_to_detect
                    .map_or_else(String::new, |v| format!("{v:.1}")),
                m.false_flags,
                m.false_disqualifications,
                m.flaky_disqualified,
                fmt_opt(m.rank_stability),
                fmt_opt(m.adversary_share),
                m.failed_placements,
            );
        }
        out
    }

    /// The CSV form: header and one row per model.
    #[must_use]
    pub fn to_csv(&self) -> String {
        format!("{}\n{}", Self::CSV_HEADER, self.to_csv_rows())
    }

    /// The JSON form.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// A simulated provider slot: one operator, possibly several identities over time.
struct Slot {
    behaviour: Behaviour,
    rng: ChaCha8Rng,
    base_ms: f64,
    phase: u32,
    outage_start: u32,
    region: Region,
    group: NetworkGroup,
    prefix: String,
}

/// What the harness tracks per identity, per model.
#[derive(Clone, Default)]
struct Track {
    first_flag_hour: Option<u32>,
    /// First flag at or after the onset of misbehaviour (adversaries only).
    detected_hour: Option<u32>,
    disqualified: bool,
}

struct Identity {
    id: ProviderId,
    slot: usize,
    onset_hour: Option<u32>,
}

/// The simulation start: 2026-01-01T00:00:00Z.
const START: i64 = 1_767_225_600;

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len();
    if n < 3 || n != b.len() {
        return None;
    }
    let ranks = |v: &[f64]| {
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|i, j| {
            let x = v.get(*i).copied().unwrap_or_default();
            let y = v.get(*j).copied().unwrap_or_default();
            x.total_cmp(&y)
        });
        let mut r = vec![0.0; n];
        let mut i = 0;
        while i < n {
            let mut j = i;
            let vi = idx
                .get(i)
                .and_then(|k| v.get(*k))
                .copied()
                .unwrap_or_default();
            while j + 1 < n
                && idx
                    .get(j + 1)
                    .and_then(|k| v.get(*k))
                    .copied()
                    .unwrap_or_default()
                    == vi
            {
                j += 1;
            }
            let avg = (i + j) as f64 / 2.0;
            for k in i..=j {
                if let Some(slot) = idx.get(k).and_then(|x| r.get_mut(*x)) {
                    *slot = avg;
                }
            }
            i = j + 1;
        }
        r
    };
    let (ra, rb) = (ranks(a), ranks(b));
    let mean = (n as f64 - 1.0) / 2.0;
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        num += (x - mean) * (y - mean);
        da += (x - mean) * (x - mean);
        db += (y - mean) * (y - mean);
    }
    if da == 0.0 || db == 0.0 {
        return None;
    }
    Some(num / (da * db).sqrt())
}

/// Runs `scenario` against every model in `models` (each fed the same events in the same
/// order, hour by hour) and reports detection, stability and placement figures.
///
/// # Errors
///
/// [`Error::Scenario`] for an invalid scenario.
pub fn simulate(
    scenario: &Scenario,
    models: &mut [Box<dyn ScoringModel>],
) -> Result<SimulationReport, Error> {
    scenario.validate()?;
    let observer = ObserverId::new("sim-observer")?;
    let regions = ["DE", "US", "IN"];
    let mut slots: Vec<Slot> = Vec::new();
    let mut group_counter = 0u32;
    for (gi, g) in scenario.groups.iter().enumerate() {
        let cluster_group = NetworkGroup::new(format!("AS{}", 64_512 + gi))?;
        for i in 0..g.count {
            let index = slots.len() as u64;
            let mut rng = ChaCha8Rng::seed_from_u64(
                scenario.seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            let base_ms = 40.0 + 160.0 * rng.random::<f64>();
            let phase = rng.random_range(0..1_000_000u32);
            let outage_start = rng.random_range(0..24u32);
            group_counter += 1;
            let group = if matches!(g.behaviour, Behaviour::SybilCluster { .. }) {
                cluster_group.clone()
            } else {
                NetworkGroup::new(format!("AS{}", 100 + group_counter))?
            };
            slots.push(Slot {
                behaviour: g.behaviour.clone(),
                rng,
                base_ms,
                phase,
                outage_start,
                region: Region::new(*regions.get(slots.len() % 3).unwrap_or(&"DE"))?,
                group,
                prefix: format!("{}-{gi}-{i}", g.behaviour.name()),
            });
        }
    }
    let hours = scenario.days * 24;
    let n_models = models.len();
    let mut identities: Vec<Identity> = Vec::new();
    let mut current: Vec<usize> = Vec::with_capacity(slots.len());
    for (s, slot) in slots.iter().enumerate() {
        current.push(identities.len());
        identities.push(Identity {
            id: ProviderId::new(format!("{}-g0", slot.prefix))?,
            slot: s,
            onset_hour: None,
        });
    }
    let mut tracks: Vec<Vec<Track>> = vec![Vec::new(); n_models];
    let mut placed = vec![(0u64, 0u64, 0u32); n_models];
    let mut yesterday: Vec<HashMap<ProviderId, f64>> = vec![HashMap::new(); n_models];
    let mut stability: Vec<Vec<f64>> = vec![Vec::new(); n_models];
    let mut events_total = 0u64;
    let mut place_rngs: Vec<ChaCha8Rng> = (0..n_models)
        .map(|_| ChaCha8Rng::seed_from_u64(scenario.seed.wrapping_add(0x5eed)))
        .collect();
    let mut events: Vec<Event> = Vec::new();
    for hour in 0..hours {
        let day = hour / 24;
        events.clear();
        for (s, slot) in slots.iter_mut().enumerate() {
            if let Behaviour::Whitewashing {
                rejoin_every_days, ..
            } = slot.behaviour
                && hour > 0
                && hour % (rejoin_every_days * 24) == 0
            {
                let generation = hour / (rejoin_every_days * 24);
                if let Some(c) = current.get_mut(s) {
                    *c = identities.len();
                }
                identities.push(Identity {
                    id: ProviderId::new(format!("{}-g{generation}", slot.prefix))?,
                    slot: s,
                    onset_hour: None,
                });
            }
            let Some(ident) = current.get(s).and_then(|i| identities.get_mut(*i)) else {
                continue;
            };
            let (offline, misbehaving) = match slot.behaviour {
                Behaviour::OnOff {
                    on_hours,
                    off_hours,
                } => {
                    let off = (hour + slot.phase) % (on_hours + off_hours) >= on_hours;
                    (off, off)
                }
                Behaviour::FlakyHonest { outage_hours, .. } => (
                    (hour % 24 + 24 - slot.outage_start) % 24 < outage_hours,
                    false,
                ),
                Behaviour::SybilCluster { honest_days } => {
                    let dark = day >= honest_days;
                    (dark, dark)
                }
                Behaviour::SelectiveServing { .. } | Behaviour::Whitewashing { .. } => {
                    (false, true)
                }
                _ => (false, false),
            };
            if misbehaving && ident.onset_hour.is_none() {
                ident.onset_hour = Some(hour);
            }
            let t0 = START + i64::from(hour) * 3600 + (s as i64 % 3000);
            let at = |offset: i64| Timestamp::from_unix_seconds(t0 + offset);
            let mk = |at: Timestamp, kind, outcome| {
                Event::new(at, observer.clone(), ident.id.clone(), kind, outcome)
                    .with_region(slot.region.clone())
                    .with_network_group(slot.group.clone())
            };
            // Availability probe.
            let probe_ok = !offline
                && match slot.behaviour {
                    Behaviour::Honest { fail_rate } => slot.rng.random::<f64>() >= fail_rate,
                    Behaviour::FlakyHonest { fail_rate, .. } => {
                        slot.rng.random::<f64>() >= fail_rate / 2.0
                    }
                    _ => slot.rng.random::<f64>() >= 0.005,
                };
            let outcome = if probe_ok {
                Outcome::Success
            } else {
                Outcome::Timeout
            };
            events.push(mk(at(0)?, EventKind::AvailabilityProbe, outcome));
            // Real reads.
            for r in 0..scenario.reads_per_hour {
                let u: f64 = slot.rng.random::<f64>();
                let outcome = if offline {
                    Outcome::Timeout
                } else {
                    match slot.behaviour {
                        Behaviour::Honest { fail_rate } if u < fail_rate => Outcome::Failure,
                        Behaviour::FlakyHonest {
                            fail_rate,
                            unknown_rate,
                            ..
                        } => {
                            if u < fail_rate {
                                Outcome::Failure
                            } else if u < fail_rate + unknown_rate {
                                Outcome::Unknown
                            } else {
                                Outcome::Success
                            }
                        }
                        Behaviour::SelectiveServing { read_fail_rate } if u < read_fail_rate => {
                            if u < read_fail_rate / 2.0 {
                                Outcome::Timeout
                            } else {
                                Outcome::Failure
                            }
                        }
                        Behaviour::Whitewashing { fail_rate, .. } if u < fail_rate => {
                            Outcome::IntegrityFailure
                        }
                        Behaviour::SlowTail { .. }
                        | Behaviour::SybilCluster { .. }
                        | Behaviour::OnOff { .. }
                            if u < 0.005 =>
                        {
                            Outcome::Failure
                        }
                        _ => Outcome::Success,
                    }
                };
                let mut ms = slot.base_ms * (0.3 * gaussian(&mut slot.rng)).exp();
                if let Behaviour::SlowTail {
                    tail_rate,
                    tail_factor,
                } = slot.behaviour
                    && slot.rng.random::<f64>() < tail_rate
                {
                    ms *= tail_factor;
                }
                let mut e = mk(at(600 + i64::from(r) * 60)?, EventKind::Retrieval, outcome);
                if outcome == Outcome::Success {
                    e = e
                        .verified()?
                        .with_latency_us((ms * 1000.0) as u64)
                        .with_bytes(1 << 20);
                } else if outcome == Outcome::Timeout {
                    e = e.with_latency_us(30_000_000);
                }
                events.push(e);
            }
            // Retention challenge.
            if hour % scenario.challenge_every_hours == 0 {
                let fail = offline
                    || match slot.behaviour {
                        Behaviour::Whitewashing { fail_rate, .. } => {
                            slot.rng.random::<f64>() < fail_rate
                        }
                        Behaviour::FlakyHonest { fail_rate, .. } => {
                            slot.rng.random::<f64>() < fail_rate / 4.0
                        }
                        _ => slot.rng.random::<f64>() < 0.002,
                    };
                let outcome = if !fail {
                    Outcome::Success
                } else if offline {
                    Outcome::Timeout
                } else {
                    Outcome::IntegrityFailure
                };
                events.push(mk(at(1800)?, EventKind::RetentionChallenge, outcome));
            }
        }
        events_total += events.len() as u64;
        let end = Timestamp::from_unix_seconds(START + i64::from(hour + 1) * 3600 - 1)?;
        let live: Vec<usize> = current.clone();
        for (m, model) in models.iter_mut().enumerate() {
            model.observe_all(&events);
            model.advance(end);
            let track = tracks
                .get_mut(m)
                .ok_or_else(|| Error::Scenario("model index".to_owned()))?;
            track.resize(identities.len(), Track::default());
            let mut candidates: Vec<Candidate> = Vec::with_capacity(live.len());
            for i in &live {
                let Some(ident) = identities.get(*i) else {
                    continue;
                };
                let Some(b) = model.score(&ident.id) else {
                    continue;
                };
                if let Some(t) = track.get_mut(*i) {
                    if b.status().is_flagged() && t.first_flag_hour.is_none() {
                        t.first_flag_hour = Some(hour);
                    }
                    if b.status().is_flagged()
                        && t.detected_hour.is_none()
                        && ident.onset_hour.is_some_and(|o| hour >= o)
                    {
                        t.detected_hour = Some(hour);
                    }
                    if b.status() == Status::Disqualified {
                        t.disqualified = true;
                    }
                }
                let slot = slots.get(ident.slot);
                let mut c = Candidate::from_breakdown(&b);
                c.region = slot.map(|s| s.region.clone());
                c.network_group = slot.map(|s| s.group.clone());
                candidates.push(c);
            }
            if hour % 24 == 23 {
                // Placements with this model's view.
                let placement = Placement {
                    exploration_share: scenario.exploration_share,
                    ..Placement::new(scenario.replicas)
                };
                let bad: HashMap<&ProviderId, bool> = live
                    .iter()
                    .filter_map(|i| identities.get(*i))
                    .map(|ident| {
                        let b = slots.get(ident.slot).is_some_and(|s| s.behaviour.is_bad());
                        (&ident.id, b)
                    })
                    .collect();
                let rng = place_rngs
                    .get_mut(m)
                    .ok_or_else(|| Error::Scenario("rng".to_owned()))?;
                let tally = placed
                    .get_mut(m)
                    .ok_or_else(|| Error::Scenario("tally".to_owned()))?;
                for _ in 0..scenario.placements_per_day {
                    match choose_providers(&candidates, &placement, rng) {
                        Ok(chosen) => {
                            for p in &chosen {
                                tally.0 += 1;
                                tally.1 += u64::from(bad.get(p).copied().unwrap_or(false));
                            }
                        }
                        Err(_) => tally.2 += 1,
                    }
                }
                // Rank stability of honest providers between consecutive days.
                let today: HashMap<ProviderId, f64> = candidates
                    .iter()
                    .filter(|c| !bad.get(&c.provider).copied().unwrap_or(true))
                    .map(|c| (c.provider.clone(), c.score))
                    .collect();
                if let Some(prev) = yesterday.get(m) {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    let mut keys: Vec<&ProviderId> = today.keys().collect();
                    keys.sort();
                    for k in keys {
                        if let (Some(x), Some(y)) = (prev.get(k), today.get(k)) {
                            a.push(*x);
                            b.push(*y);
                        }
                    }
                    if let (Some(rho), Some(st)) = (spearman(&a, &b), stability.get_mut(m)) {
                        st.push(rho);
                    }
                }
                if let Some(y) = yesterday.get_mut(m) {
                    *y = today;
                }
            }
        }
    }
    let mut reports = Vec::with_capacity(n_models);
    for (m, model) in models.iter().enumerate() {
        let track = tracks.get(m).cloned().unwrap_or_default();
        let (mut flagged, mut flagged_bad, mut bad_total) = (0u32, 0u32, 0u32);
        let (mut false_flags, mut false_dq, mut flaky_dq) = (0u32, 0u32, 0u32);
        let mut per: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        let mut delays: Vec<f64> = Vec::new();
        for (i, ident) in identities.iter().enumerate() {
            let Some(slot) = slots.get(ident.slot) else {
                continue;
            };
            let t = track.get(i).cloned().unwrap_or_default();
            if slot.behaviour.is_bad() {
                bad_total += 1;
                let e = per.entry(slot.behaviour.name().to_owned()).or_default();
                e.1 += 1;
                if let (Some(f), Some(o)) = (t.detected_hour, ident.onset_hour) {
                    flagged += 1;
                    flagged_bad += 1;
                    e.0 += 1;
                    delays.push(f64::from(f.saturating_sub(o)));
                }
            } else {
                let is_flagged = t.first_flag_hour.is_some();
                flagged += u32::from(is_flagged);
                false_flags += u32::from(is_flagged);
                false_dq += u32::from(t.disqualified);
                flaky_dq += u32::from(
                    t.disqualified && matches!(slot.behaviour, Behaviour::FlakyHonest { .. }),
                );
            }
        }
        delays.sort_by(f64::total_cmp);
        let median = if delays.is_empty() {
            None
        } else {
            let n = delays.len();
            let mid = n / 2;
            let hi = delays.get(mid).copied().unwrap_or_default();
            Some(if n % 2 == 1 {
                hi
            } else {
                (delays.get(mid - 1).copied().unwrap_or_default() + hi) / 2.0
            })
        };
        let st = stability.get(m).cloned().unwrap_or_default();
        let (replicas, bad_replicas, failed) = placed.get(m).copied().unwrap_or_default();
        reports.push(ModelReport {
            model: model.model_id(),
            precision: (flagged > 0).then(|| f64::from(flagged_bad) / f64::from(flagged)),
            recall: (bad_total > 0).then(|| f64::from(flagged_bad) / f64::from(bad_total)),
            recall_by_behaviour: per
                .into_iter()
                .map(|(k, (d, n))| (k, f64::from(d) / f64::from(n.max(1))))
                .collect(),
            median_hours_to_detect: median,
            false_flags,
            false_disqualifications: false_dq,
            flaky_disqualified: flaky_dq,
            rank_stability: (!st.is_empty()).then(|| st.iter().sum::<f64>() / st.len() as f64),
            adversary_share: (replicas > 0).then(|| bad_replicas as f64 / replicas as f64),
            failed_placements: failed,
        });
    }
    let adversaries = identities
        .iter()
        .filter(|i| slots.get(i.slot).is_some_and(|s| s.behaviour.is_bad()))
        .count() as u64;
    Ok(SimulationReport {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        days: scenario.days,
        identities: identities.len() as u64,
        adversaries,
        events: events_total,
        models: reports,
    })
}
