use serde::{Deserialize, Serialize};

use crate::Error;

/// A service tier earned from observed figures. Ordered: a higher tier meets every
/// requirement of the lower ones in the default parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Keeps data (passes retention challenges), may be slow or often offline.
    ColdArchive,
    /// Online and serving most reads within a few seconds.
    Standard,
    /// Almost always online, fast first bytes and high throughput.
    HighThroughput,
}

impl Tier {
    /// All tiers, lowest first.
    pub const ALL: [Self; 3] = [Self::ColdArchive, Self::Standard, Self::HighThroughput];
}

/// What one window must show to count for a tier. A requirement of `None` is not checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRequirement {
    /// Minimum share of availability probes answered.
    pub min_uptime: Option<f64>,
    /// Minimum share of retrievals that succeeded verified (needs at least one retrieval).
    pub min_retrieval_success: Option<f64>,
    /// Maximum 95th-percentile latency of successful retrievals, milliseconds (needs at
    /// least one).
    pub max_p95_latency_ms: Option<f64>,
    /// Minimum median throughput of successful retrievals, MiB/s (needs at least one
    /// retrieval with bytes and latency).
    pub min_median_throughput_mib_s: Option<f64>,
    /// Minimum share of retention challenges passed (needs at least one challenge).
    pub min_retention: Option<f64>,
}

/// Tier parameters: the window, the requirements, and the hysteresis.
///
/// A tier is **earned** after `promote_after` consecutive windows qualifying for it (or a
/// higher one), and **lost** after `demote_after` consecutive windows that fail even the
/// relaxed requirement (ratios lowered by `keep_margin`, latency and throughput bounds
/// loosened by the factor `1 + keep_slack`). Windows with fewer than
/// `min_probes_per_window` probes carry no information and change nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierParams {
    /// Window length, seconds.
    pub window_seconds: u32,
    /// Consecutive qualifying windows to earn a tier.
    pub promote_after: u32,
    /// Consecutive failing windows to lose it.
    pub demote_after: u32,
    /// Probes a window needs to count.
    pub min_probes_per_window: u32,
    /// Ratio hysteresis (subtracted from minimum ratios to keep a tier).
    pub keep_margin: f64,
    /// Bound hysteresis (latency bounds ×(1 + slack), throughput ÷(1 + slack) to keep).
    pub keep_slack: f64,
    /// Requirements of the cold-archive tier.
    pub cold_archive: TierRequirement,
    /// Requirements of the standard tier.
    pub standard: TierRequirement,
    /// Requirements of the high-throughput tier.
    pub high_throughput: TierRequirement,
}

impl Default for TierParams {
    fn default() -> Self {
        Self {
            window_seconds: 86_400,
            promote_after: 3,
            demote_after: 2,
            min_probes_per_window: 6,
            keep_margin: 0.03,
            keep_slack: 0.25,
            cold_archive: TierRequirement {
                min_uptime: Some(0.5),
                min_retrieval_success: None,
                max_p95_latency_ms: None,
                min_median_throughput_mib_s: None,
                min_retention: Some(0.95),
            },
            standard: TierRequirement {
                min_uptime: Some(0.95),
                min_retrieval_success: Some(0.95),
                max_p95_latency_ms: Some(2_000.0),
                min_median_throughput_mib_s: None,
                min_retention: Some(0.95),
            },
            high_throughput: TierRequirement {
                min_uptime: Some(0.99),
                min_retrieval_success: Some(0.99),
                max_p95_latency_ms: Some(500.0),
                min_median_throughput_mib_s: Some(20.0),
                min_retention: Some(0.99),
            },
        }
    }
}

impl TierParams {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |m: &str| Err(Error::InvalidParams(format!("tiers: {m}")));
        if self.window_seconds == 0 || self.promote_after == 0 || self.demote_after == 0 {
            return bad("window_seconds, promote_after and demote_after must be positive");
        }
        if !((0.0..1.0).contains(&self.keep_margin)
            && self.keep_slack >= 0.0
            && self.keep_slack.is_finite())
        {
            return bad("keep_margin must be in [0, 1) and keep_slack finite and >= 0");
        }
        for r in [&self.cold_archive, &self.standard, &self.high_throughput] {
            let ratios = [r.min_uptime, r.min_retrieval_success, r.min_retention];
            if ratios.iter().flatten().any(|x| !(0.0..=1.0).contains(x)) {
                return bad("minimum ratios must be in [0, 1]");
            }
            let bounds = [r.max_p95_latency_ms, r.min_median_throughput_mib_s];
            if bounds
                .iter()
                .flatten()
                .any(|x| !(x.is_finite() && *x >= 0.0))
            {
                return bad("latency and throughput bounds must be finite and >= 0");
            }
        }
        Ok(())
    }

    fn requirement(&self, tier: Tier) -> &TierRequirement {
        match tier {
            Tier::ColdArchive => &self.cold_archive,
            Tier::Standard => &self.standard,
            Tier::HighThroughput => &self.high_throughput,
        }
    }
}

/// What one provider showed in one window. Latency and throughput are kept as counts of
/// retrievals within each tier's bound, so a window needs no sketch of its own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct WindowFigures {
    probes: u32,
    probes_ok: u32,
    retrievals: u32,
    retrievals_ok: u32,
    challenges: u32,
    challenges_ok: u32,
    /// Per tier (low to high): successful retrievals within the strict / relaxed latency bound.
    fast: [u32; 3],
    fast_relaxed: [u32; 3],
    /// Per tier: successful retrievals with bytes and latency, and those at or above the
    /// strict / relaxed throughput bound.
    timed: u32,
    quick: [u32; 3],
    quick_relaxed: [u32; 3],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    Availability(bool),
    Retention(bool),
    Retrieval {
        ok: bool,
        latency_us: Option<u64>,
        bytes: Option<u64>,
    },
}

fn ratio(ok: u32, all: u32) -> f64 {
    if all == 0 {
        1.0
    } else {
        f64::from(ok) / f64::from(all)
    }
}

impl WindowFigures {
    fn record(&mut self, probe: Probe, params: &TierParams) {
        match probe {
            Probe::Availability(ok) => {
                self.probes += 1;
                self.probes_ok += u32::from(ok);
            }
            Probe::Retention(ok) => {
                self.challenges += 1;
                self.challenges_ok += u32::from(ok);
            }
            Probe::Retrieval {
                ok,
                latency_us,
                bytes,
            } => {
                self.retrievals += 1;
                if !ok {
                    return;
                }
                self.retrievals_ok += 1;
                let slack = 1.0 + params.keep_slack;
                let ms = latency_us.map(|us| us as f64 / 1000.0);
                for (i, tier) in Tier::ALL.into_iter().enumerate() {
                    let req = params.requirement(tier);
                    let (fast, relaxed) = match (req.max_p95_latency_ms, ms) {
                        (Some(bound), Some(ms)) => (ms <= bound, ms <= bound * slack),
                        (Some(_), None) => (false, false),
                        (None, _) => (true, true),
                    };
                    if let (Some(f), Some(r)) = (self.fast.get_mut(i), self.fast_relaxed.get_mut(i))
                    {
                        *f += u32::from(fast);
                        *r += u32::from(relaxed);
                    }
                }
                if let (Some(us), Some(b)) = (latency_us, bytes) {
                    self.timed += 1;
                    let mib_s = (b as f64 / 1_048_576.0) / (us.max(1) as f64 / 1e6);
                    for (i, tier) in Tier::ALL.into_iter().enumerate() {
                        let bound = params
                            .requirement(tier)
                            .min_median_throughput_mib_s
                            .unwrap_or(0.0);
                        if let (Some(q), Some(r)) =
                            (self.quick.get_mut(i), self.quick_relaxed.get_mut(i))
                        {
                            *q += u32::from(mib_s >= bound);
                            *r += u32::from(mib_s >= bound / slack);
                        }
                    }
                }
            }
        }
    }

    fn meets(&self, tier: Tier, params: &TierParams, relaxed: bool) -> bool {
        let req = params.requirement(tier);
        let margin = if relaxed { params.keep_margin } else { 0.0 };
        let i = tier as usize;
        let ratio_ok = |min: Option<f64>, ok: u32, all: u32| {
            min.is_none_or(|m| all > 0 && ratio(ok, all) >= m - margin)
        };
        let fast = if relaxed {
            self.fast_relaxed.get(i)
        } else {
            self.fast.get(i)
        };
        let quick = if relaxed {
            self.quick_relaxed.get(i)
        } else {
            self.quick.get(i)
        };
        ratio_ok(req.min_uptime, self.probes_ok, self.probes)
            && ratio_ok(
                req.min_retrieval_success,
                self.retrievals_ok,
                self.retrievals,
            )
            && ratio_ok(req.min_retention, self.challenges_ok, self.challenges)
            && req.max_p95_latency_ms.is_none_or(|_| {
                self.retrievals_ok > 0
                    && ratio(fast.copied().unwrap_or(0), self.retrievals_ok) >= 0.95
            })
            && req.min_median_throughput_mib_s.is_none_or(|_| {
                self.timed > 0 && ratio(quick.copied().unwrap_or(0), self.timed) >= 0.5
            })
    }

    fn best(&self, params: &TierParams, relaxed: bool) -> Option<Tier> {
        Tier::ALL
            .into_iter()
            .rev()
            .find(|t| self.meets(*t, params, relaxed))
    }
}

/// The tier state machine of one provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TierTracker {
    current: Option<Tier>,
    window: Option<i64>,
    figures: WindowFigures,
    up_streak: u32,
    up_to: Option<Tier>,
    down_streak: u32,
}

impl TierTracker {
    /// Records an observation at `time`, closing the open window first if `time` is past it.
    /// A late observation (before the open window) counts in the open window.
    pub(crate) fn record(&mut self, time: i64, probe: Probe, params: &TierParams) {
        let w = time.div_euclid(i64::from(params.window_seconds));
        match self.window {
            Some(open) if w > open => {
                self.close(params);
                self.window = Some(w);
            }
            None => self.window = Some(w),
            Some(_) => {}
        }
        self.figures.record(probe, params);
    }

    fn close(&mut self, params: &TierParams) {
        let figures = std::mem::take(&mut self.figures);
        if figures.probes < params.min_probes_per_window {
            return;
        }
        let strict = figures.best(params, false);
        if strict > self.current {
            self.up_streak += 1;
            self.up_to = if self.up_streak == 1 {
                strict
            } else {
                self.up_to.min(strict)
            };
            if self.up_streak >= params.promote_after {
                self.current = self.up_to;
                self.up_streak = 0;
                self.down_streak = 0;
                return;
            }
        } else {
            self.up_streak = 0;
        }
        if let Some(current) = self.current {
            if figures.meets(current, params, true) {
                self.down_streak = 0;
            } else {
                self.down_streak += 1;
                if self.down_streak >= params.demote_after {
                    self.current = figures.best(params, true).filter(|t| *t < current);
                    self.down_streak = 0;
                    self.up_streak = 0;
                }
            }
        }
    }

    /// The tier at `now`: the open window counts as closed if `now` is past its end.
    pub(crate) fn tier_at(&self, now: i64, params: &TierParams) -> Option<Tier> {
        let w = now.div_euclid(i64::from(params.window_seconds));
        match self.window {
            Some(open) if w > open => {
                let mut t = self.clone();
                t.close(params);
                t.current
            }
            _ => self.current,
        }
    }
}
