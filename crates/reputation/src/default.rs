use std::collections::HashMap;

use dataseal_base::{ProviderId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::decay::{DecaySpec, DecayedCounts, Forward, Tally};
use crate::tier::{Probe, TierTracker};
use crate::{
    DdSketch, Error, Event, EventKind, ModelId, Outcome, ParamsDigest, ScoreBreakdown,
    ScoringModel, Snapshot, Status, TierParams, params_digest,
};

/// How one Beta-scored signal forgets, and its prior.
///
/// Evidence halves every `half_life_hours` of wall-clock time and every
/// `half_life_events` later events of the same signal (`None`: no decay of that kind).
/// The sub-score is the posterior mean `(prior_success + s) / (prior_success +
/// prior_failure + s + f)` of the decayed counts `s`, `f`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalParams {
    /// Wall-clock half-life of evidence, hours.
    pub half_life_hours: Option<f64>,
    /// Half-life of evidence counted in later events of this signal.
    pub half_life_events: Option<f64>,
    /// Prior pseudo-successes.
    pub prior_success: f64,
    /// Prior pseudo-failures.
    pub prior_failure: f64,
}

impl SignalParams {
    fn spec(&self) -> DecaySpec {
        DecaySpec::new(self.half_life_hours, self.half_life_events)
    }

    fn validate(&self, name: &str) -> Result<(), Error> {
        let positive = |x: Option<f64>| x.is_none_or(|v| v.is_finite() && v > 0.0);
        let prior_ok = |v: f64| v.is_finite() && v >= 0.0;
        if positive(self.half_life_hours)
            && positive(self.half_life_events)
            && prior_ok(self.prior_success)
            && prior_ok(self.prior_failure)
            && self.prior_success + self.prior_failure > 0.0
        {
            Ok(())
        } else {
            Err(Error::InvalidParams(format!(
                "{name}: half-lives must be positive and finite, priors finite, >= 0 and not both 0"
            )))
        }
    }
}

/// Parameters of the latency sub-score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyParams {
    /// Relative accuracy of the DDSketch.
    pub sketch_alpha: f64,
    /// Buckets kept by the sketch.
    pub sketch_max_buckets: u32,
    /// Wall-clock half-life of latency samples, hours.
    pub half_life_hours: f64,
    /// The 95th-percentile latency that scores 1, milliseconds; slower scores
    /// `target / p95`.
    pub target_p95_ms: f64,
    /// The lowest latency sub-score: latency ranks, it never excludes.
    pub floor: f64,
}

/// Thresholds of the state transitions (compare Storj: suspension below 0.6 on its
/// online and unknown-audit scores, disqualification below 0.96 on its audit score).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionParams {
    /// Decided evidence (decayed successes + failures) a Beta signal needs before it can
    /// suspend a provider.
    pub min_evidence: f64,
    /// Decided retention evidence needed before it can disqualify a provider: more than
    /// to suspend, since disqualification is final.
    pub min_evidence_to_disqualify: f64,
    /// Probes in the uptime window needed before uptime can move a provider.
    pub min_probes: u32,
    /// Suspend when the retrieval sub-score falls below this.
    pub suspend_retrieval_below: f64,
    /// Suspend when windowed uptime falls below this.
    pub suspend_uptime_below: f64,
    /// Suspend when the unknown score (decided / (decided + unknown)) falls below this.
    pub suspend_unknown_below: f64,
    /// Lift a suspension only when every suspending figure is at least this (hysteresis).
    pub reinstate_at: f64,
    /// Disqualify when still below a suspension threshold this many hours after suspension.
    pub suspension_grace_hours: f64,
    /// Disqualify when the retention sub-score falls below this.
    pub disqualify_retention_below: f64,
}

/// Vetting of new providers: they are scored as usual but kept in [`Status::Vetting`]
/// (and so given only a capped share of placements) until both minimums are met.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VettingParams {
    /// Checks (probes, challenges and decided retrievals) needed.
    pub min_checks: u64,
    /// Hours since the first event needed.
    pub min_age_hours: f64,
}

/// Every parameter of [`DefaultModel`], with the documented defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultParams {
    /// Verified retrievals (default: half-life 72 h and 35 retrievals, prior 4 : 0).
    pub retrieval: SignalParams,
    /// Retention challenges (default: half-life 720 h and 69 challenges, prior 1 : 0).
    pub retention: SignalParams,
    /// Disputes (default: half-life 4,320 h = 180 days, no event decay, prior 10 : 0).
    pub disputes: SignalParams,
    /// Unknown outcomes against decided ones, every kind (default: as retrieval).
    pub unknown: SignalParams,
    /// Weight of an integrity failure on a retrieval, in failures (default 3).
    pub integrity_failure_weight: f64,
    /// Weight of an open dispute, in lost disputes (default 0.25).
    pub dispute_opened_weight: f64,
    /// Uptime bucket width, seconds (default 3,600).
    pub uptime_bucket_seconds: u32,
    /// Buckets in the uptime window (default 24: the last day).
    pub uptime_buckets: u32,
    /// Latency (default: α = 1 %, 2,048 buckets, half-life 168 h, target p95 1,000 ms,
    /// floor 0.25).
    pub latency: LatencyParams,
    /// State transitions.
    pub transitions: TransitionParams,
    /// Vetting (default: 50 checks and 72 hours).
    pub vetting: VettingParams,
    /// Tier labels.
    pub tiers: TierParams,
}

impl Default for DefaultParams {
    fn default() -> Self {
        Self {
            retrieval: SignalParams {
                half_life_hours: Some(72.0),
                half_life_events: Some(35.0),
                prior_success: 4.0,
                prior_failure: 0.0,
            },
            retention: SignalParams {
                half_life_hours: Some(720.0),
                half_life_events: Some(69.0),
                prior_success: 1.0,
                prior_failure: 0.0,
            },
            disputes: SignalParams {
                half_life_hours: Some(4_320.0),
                half_life_events: None,
                prior_success: 10.0,
                prior_failure: 0.0,
            },
            unknown: SignalParams {
                half_life_hours: Some(72.0),
                half_life_events: Some(35.0),
                prior_success: 1.0,
                prior_failure: 0.0,
            },
            integrity_failure_weight: 3.0,
            dispute_opened_weight: 0.25,
            uptime_bucket_seconds: 3_600,
            uptime_buckets: 24,
            latency: LatencyParams {
                sketch_alpha: 0.01,
                sketch_max_buckets: 2_048,
                half_life_hours: 168.0,
                target_p95_ms: 1_000.0,
                floor: 0.25,
            },
            transitions: TransitionParams {
                min_evidence: 10.0,
                min_evidence_to_disqualify: 30.0,
                min_probes: 12,
                suspend_retrieval_below: 0.6,
                suspend_uptime_below: 0.6,
                suspend_unknown_below: 0.6,
                reinstate_at: 0.7,
                suspension_grace_hours: 168.0,
                disqualify_retention_below: 0.8,
            },
            vetting: VettingParams {
                min_checks: 50,
                min_age_hours: 72.0,
            },
            tiers: TierParams::default(),
        }
    }
}

impl DefaultParams {
    fn validate(&self) -> Result<(), Error> {
        self.retrieval.validate("retrieval")?;
        self.retention.validate("retention")?;
        self.disputes.validate("disputes")?;
        self.unknown.validate("unknown")?;
        self.tiers.validate()?;
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        let t = &self.transitions;
        let l = &self.latency;
        let ok = self.integrity_failure_weight.is_finite()
            && self.integrity_failure_weight >= 1.0
            && self.dispute_opened_weight.is_finite()
            && self.dispute_opened_weight >= 0.0
            && self.uptime_bucket_seconds > 0
            && self.uptime_buckets > 0
            && self.uptime_buckets <= 10_000
            && l.half_life_hours.is_finite()
            && l.half_life_hours > 0.0
            && l.target_p95_ms.is_finite()
            && l.target_p95_ms > 0.0
            && unit(l.floor)
            && t.min_evidence.is_finite()
            && t.min_evidence >= 0.0
            && t.min_evidence_to_disqualify.is_finite()
            && t.min_evidence_to_disqualify >= 0.0
            && unit(t.suspend_retrieval_below)
            && unit(t.suspend_uptime_below)
            && unit(t.suspend_unknown_below)
            && unit(t.reinstate_at)
            && unit(t.disqualify_retention_below)
            && t.suspension_grace_hours.is_finite()
            && t.suspension_grace_hours >= 0.0
            && self.vetting.min_age_hours.is_finite()
            && self.vetting.min_age_hours >= 0.0;
        DdSketch::new(l.sketch_alpha, l.sketch_max_buckets)?;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidParams(
                "default model: a weight, window, threshold or latency parameter is out of range"
                    .to_owned(),
            ))
        }
    }
}

/// One uptime bucket: its index and the probes answered / decided in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Bucket {
    index: i64,
    ok: u32,
    all: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
enum Standing {
    Active,
    Suspended { since: i64 },
    Disqualified { at: i64 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ProviderState {
    first_seen: i64,
    checks: u64,
    retrieval: DecayedCounts,
    retention: DecayedCounts,
    disputes: DecayedCounts,
    unknown: DecayedCounts,
    uptime: Vec<Bucket>,
    latency_forward: Forward,
    latency: DdSketch,
    tier: TierTracker,
    standing: Standing,
}

/// The specs derived from the parameters once.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Specs {
    retrieval: DecaySpec,
    retention: DecaySpec,
    disputes: DecaySpec,
    unknown: DecaySpec,
    latency: DecaySpec,
}

/// The default scoring model, `dataseal-default/1`.
///
/// Per provider and signal it keeps forward-decayed Beta evidence (retrievals, retention
/// challenges, disputes, unknowns), a windowed uptime ratio, a decayed DDSketch of
/// verified-retrieval latency and a tier state machine. The score is the product of the
/// sub-scores `retrieval`, `availability`, `retention`, `latency` and `disputes`, each in
/// `[0, 1]`. Status changes are evaluated after every event at the event's time, so they
/// too are a function of the event sequence alone. See the crate README for the
/// reasoning and the defaults.
///
/// ```
/// use dataseal_reputation::{DefaultModel, DefaultParams, Event, EventKind, Outcome, ScoringModel, Status};
/// let mut model = DefaultModel::new(DefaultParams::default())?;
/// let t0: dataseal_base::Timestamp = "2026-11-21T00:00:00Z".parse()?;
/// let p: dataseal_base::ProviderId = "p1".parse()?;
/// for i in 0..100 {
///     let t = t0.saturating_add_seconds(i * 3600);
///     let e = Event::new(t, "o".parse()?, p.clone(), EventKind::AvailabilityProbe, Outcome::Success);
///     model.observe(&e);
/// }
/// let s = model.score(&p).ok_or("no information")?;
/// assert_eq!(s.status(), Status::Active);
/// assert!(s.factors()["availability"] > 0.95);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct DefaultModel {
    params: DefaultParams,
    digest: ParamsDigest,
    specs: Specs,
    index: HashMap<ProviderId, usize>,
    states: Vec<ProviderState>,
    ids: Vec<ProviderId>,
    now: Option<Timestamp>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    now: Option<Timestamp>,
    providers: Vec<(ProviderId, ProviderState)>,
}

const MODEL_ID: &str = "dataseal-default/1";

impl DefaultModel {
    /// A model with `params`, and no events yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] naming a parameter out of range.
    pub fn new(params: DefaultParams) -> Result<Self, Error> {
        params.validate()?;
        let digest = params_digest(&params)?;
        let specs = Specs {
            retrieval: params.retrieval.spec(),
            retention: params.retention.spec(),
            disputes: params.disputes.spec(),
            unknown: params.unknown.spec(),
            latency: DecaySpec::new(Some(params.latency.half_life_hours), None),
        };
        Ok(Self {
            params,
            digest,
            specs,
            index: HashMap::new(),
            states: Vec::new(),
            ids: Vec::new(),
            now: None,
        })
    }

    /// The parameters.
    #[must_use]
    pub fn params(&self) -> &DefaultParams {
        &self.params
    }

    fn ensure(&mut self, provider: &ProviderId, time: i64) -> Result<usize, Error> {
        let i = match self.index.get(provider) {
            Some(i) => *i,
            None => {
                let i = self.states.len();
                let latency = DdSketch::new(
                    self.params.latency.sketch_alpha,
                    self.params.latency.sketch_max_buckets,
                )?;
                self.states.push(ProviderState {
                    first_seen: time,
                    checks: 0,
                    retrieval: DecayedCounts::default(),
                    retention: DecayedCounts::default(),
                    disputes: DecayedCounts::default(),
                    unknown: DecayedCounts::default(),
                    uptime: vec![
                        Bucket {
                            index: i64::MIN,
                            ok: 0,
                            all: 0
                        };
                        self.params.uptime_buckets as usize
                    ],
                    latency_forward: Forward::default(),
                    latency,
                    tier: TierTracker::default(),
                    standing: Standing::Active,
                });
                self.ids.push(provider.clone());
                self.index.insert(provider.clone(), i);
                i
            }
        };
        Ok(i)
    }
}

fn uptime_at(buckets: &[Bucket], now: i64, width: u32) -> (u32, u32) {
    let current = now.div_euclid(i64::from(width));
    let oldest = current.saturating_sub(buckets.len() as i64 - 1);
    buckets
        .iter()
        .filter(|b| b.index >= oldest && b.index <= current)
        .fold((0, 0), |(ok, all), b| (ok + b.ok, all + b.all))
}

fn uptime_ratio(ok: u32, all: u32) -> f64 {
    (f64::from(ok) + 1.0) / (f64::from(all) + 1.0)
}

impl ProviderState {
    fn observe(&mut self, e: &Event, p: &DefaultParams, specs: &Specs) {
        let t = e.time().unix_seconds();
        let outcome = e.effective_outcome();
        let decided = !matches!(outcome, Outcome::Unknown);
        let ok = outcome == Outcome::Success;
        match e.kind() {
            EventKind::Retrieval => {
                let (tally, weight) = match outcome {
                    Outcome::Success => (Tally::Success, 1.0),
                    Outcome::Failure | Outcome::Timeout => (Tally::Failure, 1.0),
                    Outcome::IntegrityFailure => (Tally::Failure, p.integrity_failure_weight),
                    Outcome::Unknown => (Tally::Unknown, 1.0),
                };
                self.retrieval.add(t, tally, weight, specs.retrieval);
                if let (true, Some(us)) = (ok, e.latency_us()) {
                    let (w, rescale) = self.latency_forward.tick(t, specs.latency);
                    if let Some(f) = rescale {
                        self.latency.scale(f);
                    }
                    self.latency.add_weighted(us as f64 / 1000.0, w);
                }
                if decided {
                    self.tier.record(
                        t,
                        Probe::Retrieval {
                            ok,
                            latency_us: e.latency_us(),
                            bytes: e.bytes(),
                        },
                        &p.tiers,
                    );
                }
            }
            EventKind::AvailabilityProbe => {
                if decided {
                    let width = i64::from(p.uptime_bucket_seconds);
                    let index = t.div_euclid(width);
                    let len = self.uptime.len() as i64;
                    let slot = usize::try_from(index.rem_euclid(len.max(1))).unwrap_or(0);
                    if let Some(b) = self.uptime.get_mut(slot) {
                        if b.index < index {
                            *b = Bucket {
                                index,
                                ok: 0,
                                all: 0,
                            };
                        }
                        if b.index == index {
                            b.ok += u32::from(ok);
                            b.all += 1;
                        }
                    }
                    self.tier.record(t, Probe::Availability(ok), &p.tiers);
                }
            }
            EventKind::RetentionChallenge => {
                // A timed-out challenge says the provider was offline, not that it lost
                // data: like Storj's audits of offline nodes, it does not count here.
                let tally = match outcome {
                    Outcome::Success => Some(Tally::Success),
                    Outcome::Failure | Outcome::IntegrityFailure => Some(Tally::Failure),
                    Outcome::Timeout | Outcome::Unknown => None,
                };
                if let Some(tally) = tally {
                    self.retention.add(t, tally, 1.0, specs.retention);
                    self.tier.record(t, Probe::Retention(ok), &p.tiers);
                }
            }
            EventKind::DisputeOpened => {
                self.disputes
                    .add(t, Tally::Failure, p.dispute_opened_weight, specs.disputes);
            }
            EventKind::DisputeResolved => {
                let tally = if ok { Tally::Success } else { Tally::Failure };
                self.disputes.add(t, tally, 1.0, specs.disputes);
            }
        }
        let is_check = matches!(
            e.kind(),
            EventKind::Retrieval | EventKind::AvailabilityProbe | EventKind::RetentionChallenge
        );
        if is_check {
            let tally = if decided {
                Tally::Success
            } else {
                Tally::Unknown
            };
            self.unknown.add(t, tally, 1.0, specs.unknown);
            if decided {
                self.checks += 1;
            }
        }
        self.transition(t, p, specs);
    }

    /// The figures that can suspend a provider, each `None` without enough evidence.
    fn suspending(&self, t: i64, p: &DefaultParams, specs: &Specs) -> [Option<f64>; 3] {
        let tr = &p.transitions;
        let r = self.retrieval.at(t, specs.retrieval);
        let retrieval = (r.decided() >= tr.min_evidence)
            .then(|| r.mean(p.retrieval.prior_success, p.retrieval.prior_failure));
        let (ok, all) = uptime_at(&self.uptime, t, p.uptime_bucket_seconds);
        let uptime = (all >= tr.min_probes).then(|| uptime_ratio(ok, all));
        let u = self.unknown.at(t, specs.unknown);
        let unknown = (u.success + u.unknown >= tr.min_evidence).then(|| {
            let a = p.unknown.prior_success + u.success;
            a / (a + p.unknown.prior_failure + u.unknown)
        });
        [retrieval, uptime, unknown]
    }

    fn transition(&mut self, t: i64, p: &DefaultParams, specs: &Specs) {
        let tr = &p.transitions;
        if matches!(self.standing, Standing::Disqualified { .. }) {
            return;
        }
        let ret = self.retention.at(t, specs.retention);
        if ret.decided() >= tr.min_evidence_to_disqualify
            && ret.mean(p.retention.prior_success, p.retention.prior_failure)
                < tr.disqualify_retention_below
        {
            self.standing = Standing::Disqualified { at: t };
            return;
        }
        let figures = self.suspending(t, p, specs);
        let limits = [
            tr.suspend_retrieval_below,
            tr.suspend_uptime_below,
            tr.suspend_unknown_below,
        ];
        let below = figures
            .iter()
            .zip(limits)
            .any(|(f, limit)| f.is_some_and(|v| v < limit));
        let short_of_reinstating = figures
            .iter()
            .any(|f| f.is_some_and(|v| v < tr.reinstate_at));
        match self.standing {
            Standing::Active if below => self.standing = Standing::Suspended { since: t },
            Standing::Suspended { since } => {
                if below && (t - since) as f64 >= tr.suspension_grace_hours * 3600.0 {
                    self.standing = Standing::Disqualified { at: t };
                } else if !short_of_reinstating {
                    self.standing = Standing::Active;
                }
            }
            _ => {}
        }
    }

    fn breakdown(
        &self,
        id: &ProviderId,
        at: Timestamp,
        p: &DefaultParams,
        specs: &Specs,
    ) -> ScoreBreakdown {
        let now = at.unix_seconds();
        let r = self.retrieval.at(now, specs.retrieval);
        let ret = self.retention.at(now, specs.retention);
        let d = self.disputes.at(now, specs.disputes);
        let u = self.unknown.at(now, specs.unknown);
        let (ok, all) = uptime_at(&self.uptime, now, p.uptime_bucket_seconds);
        let retrieval = r.mean(p.retrieval.prior_success, p.retrieval.prior_failure);
        let retention = ret.mean(p.retention.prior_success, p.retention.prior_failure);
        let disputes = d.mean(p.disputes.prior_success, p.disputes.prior_failure);
        let availability = uptime_ratio(ok, all);
        let p50 = self.latency.quantile(0.5);
        let p95 = self.latency.quantile(0.95);
        let p99 = self.latency.quantile(0.99);
        let latency = p95.map_or(1.0, |v| {
            if v <= p.latency.target_p95_ms {
                1.0
            } else {
                (p.latency.target_p95_ms / v).max(p.latency.floor)
            }
        });
        let score = retrieval * availability * retention * latency * disputes;
        let age_hours = (now - self.first_seen) as f64 / 3600.0;
        let status = match self.standing {
            Standing::Disqualified { .. } => Status::Disqualified,
            Standing::Suspended { .. } => Status::Suspended,
            Standing::Active
                if self.checks < p.vetting.min_checks || age_hours < p.vetting.min_age_hours =>
            {
                Status::Vetting
            }
            Standing::Active => Status::Active,
        };
        let mut b = ScoreBreakdown::new(id.clone(), at, score, status)
            .with_tier(self.tier.tier_at(now, &p.tiers))
            .with_factor("retrieval", retrieval)
            .with_factor("availability", availability)
            .with_factor("retention", retention)
            .with_factor("latency", latency)
            .with_factor("disputes", disputes)
            .with_figure("retrieval.successes", r.success)
            .with_figure("retrieval.failures", r.failure)
            .with_figure("retrieval.unknown", r.unknown)
            .with_figure("uptime.probes", f64::from(all))
            .with_figure(
                "uptime.ratio",
                if all == 0 {
                    0.0
                } else {
                    f64::from(ok) / f64::from(all)
                },
            )
            .with_figure("retention.passes", ret.success)
            .with_figure("retention.failures", ret.failure)
            .with_figure("disputes.cleared", d.success)
            .with_figure("disputes.against", d.failure)
            .with_figure(
                "unknown.share",
                if u.success + u.unknown > 0.0 {
                    u.unknown / (u.success + u.unknown)
                } else {
                    0.0
                },
            )
            .with_figure("checks", self.checks as f64)
            .with_figure("age_hours", age_hours);
        for (name, v) in [
            ("latency.p50_ms", p50),
            ("latency.p95_ms", p95),
            ("latency.p99_ms", p99),
        ] {
            if let Some(v) = v {
                b = b.with_figure(name, v);
            }
        }
        b
    }
}

impl ScoringModel for DefaultModel {
    fn model_id(&self) -> ModelId {
        ModelId::from_static(MODEL_ID)
    }

    fn params_digest(&self) -> ParamsDigest {
        self.digest
    }

    fn observe(&mut self, event: &Event) {
        let time = event.time();
        self.now = Some(self.now.map_or(time, |n| n.max(time)));
        if let Ok(i) = self.ensure(event.provider(), time.unix_seconds())
            && let Some(state) = self.states.get_mut(i)
        {
            state.observe(event, &self.params, &self.specs);
        }
    }

    fn advance(&mut self, now: Timestamp) {
        self.now = Some(self.now.map_or(now, |n| n.max(now)));
    }

    fn now(&self) -> Option<Timestamp> {
        self.now
    }

    fn providers(&self) -> Vec<ProviderId> {
        let mut ids = self.ids.clone();
        ids.sort();
        ids
    }

    fn score(&self, provider: &ProviderId) -> Option<ScoreBreakdown> {
        let now = self.now?;
        let state = self.states.get(*self.index.get(provider)?)?;
        Some(state.breakdown(provider, now, &self.params, &self.specs))
    }

    fn snapshot(&self) -> Snapshot {
        let mut providers: Vec<(ProviderId, ProviderState)> = self
            .ids
            .iter()
            .cloned()
            .zip(self.states.iter().cloned())
            .collect();
        providers.sort_by(|a, b| a.0.cmp(&b.0));
        let state = State {
            now: self.now,
            providers,
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
        self.index.clear();
        self.ids.clear();
        self.states.clear();
        for (i, (id, s)) in state.providers.into_iter().enumerate() {
            if s.uptime.len() != self.params.uptime_buckets as usize {
                return Err(Error::Snapshot(
                    "uptime window of another length".to_owned(),
                ));
            }
            self.index.insert(id.clone(), i);
            self.ids.push(id);
            self.states.push(s);
        }
        Ok(())
    }
}
