//! A researcher's first hour: write a scoring model, plug it into the harness, and compare
//! it with the default model and the BTFS baseline on every built-in scenario.
//!
//! The model here is deliberately simple: one exponential moving average of "it worked"
//! over every check (probe, read, challenge), flagging a provider while the average is
//! below a threshold. Run it with
//!
//! ```text
//! cargo run --release -p dataseal-reputation --example ema_model
//! ```
//!
//! and it prints one CSV row per scenario and model. Change `ALPHA` or `FLAG_BELOW`, or
//! the scoring rule in `observe`, and run it again.

use std::collections::BTreeMap;

use dataseal_reputation::{
    Error, Event, EventKind, ModelId, Outcome, ParamsDigest, ProviderId, Scenario, ScoreBreakdown,
    ScoringModel, SimulationReport, Snapshot, Status, Timestamp, baseline_models, params_digest,
    simulate,
};
use serde::{Deserialize, Serialize};

/// The model's parameters. Everything that changes scores belongs here, so that the
/// parameter digest names the exact model that ran.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct EmaParams {
    /// Weight of the newest observation.
    alpha: f64,
    /// Flag (suspend) below this average.
    flag_below: f64,
}

/// The model: per provider, the moving average and how many checks it has seen.
struct EmaModel {
    id: ModelId,
    params: EmaParams,
    digest: ParamsDigest,
    averages: BTreeMap<ProviderId, (f64, u64)>,
    now: Option<Timestamp>,
}

impl EmaModel {
    fn new(params: EmaParams) -> Result<Self, Error> {
        let digest = params_digest(&params)?;
        Ok(Self {
            id: "ema-success/1".parse()?,
            params,
            digest,
            averages: BTreeMap::new(),
            now: None,
        })
    }
}

impl ScoringModel for EmaModel {
    fn model_id(&self) -> ModelId {
        self.id.clone()
    }

    fn params_digest(&self) -> ParamsDigest {
        self.digest
    }

    fn observe(&mut self, event: &Event) {
        self.now = Some(self.now.map_or(event.time(), |n| n.max(event.time())));
        // Only checks count, and an unknown outcome tells us nothing.
        let worked = match (event.kind(), event.effective_outcome()) {
            (EventKind::DisputeOpened | EventKind::DisputeResolved, _) | (_, Outcome::Unknown) => {
                return;
            }
            (_, Outcome::Success) => 1.0,
            _ => 0.0,
        };
        let entry = self
            .averages
            .entry(event.provider().clone())
            .or_insert((1.0, 0));
        entry.0 += self.params.alpha * (worked - entry.0);
        entry.1 += 1;
    }

    fn advance(&mut self, now: Timestamp) {
        self.now = Some(self.now.map_or(now, |n| n.max(now)));
    }

    fn now(&self) -> Option<Timestamp> {
        self.now
    }

    fn providers(&self) -> Vec<ProviderId> {
        self.averages.keys().cloned().collect()
    }

    fn score(&self, provider: &ProviderId) -> Option<ScoreBreakdown> {
        let (average, checks) = *self.averages.get(provider)?;
        let status = if average < self.params.flag_below {
            Status::Suspended
        } else {
            Status::Active
        };
        Some(
            ScoreBreakdown::new(provider.clone(), self.now?, average, status)
                .with_factor("success_ema", average)
                .with_figure("checks", checks as f64),
        )
    }

    fn snapshot(&self) -> Snapshot {
        let state: Vec<(String, u64, u64)> = self
            .averages
            .iter()
            .map(|(p, (a, n))| (p.to_string(), a.to_bits(), *n))
            .collect();
        Snapshot {
            model: self.model_id(),
            params: self.digest,
            state: serde_json::json!({ "now": self.now, "averages": state }),
        }
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Error> {
        #[derive(Deserialize)]
        struct State {
            now: Option<Timestamp>,
            averages: Vec<(ProviderId, u64, u64)>,
        }
        let value = snapshot.state_for(&self.model_id(), &self.digest)?;
        let state: State =
            serde_json::from_value(value.clone()).map_err(|e| Error::Snapshot(e.to_string()))?;
        self.now = state.now;
        self.averages = state
            .averages
            .into_iter()
            .map(|(p, a, n)| (p, (f64::from_bits(a), n)))
            .collect();
        Ok(())
    }
}

fn main() -> Result<(), Error> {
    println!("{}", SimulationReport::CSV_HEADER);
    for name in Scenario::builtin_names() {
        let scenario = Scenario::builtin(name)?;
        let mut models = baseline_models()?;
        models.push(Box::new(EmaModel::new(EmaParams {
            alpha: 0.05,
            flag_below: 0.7,
        })?));
        let report = simulate(&scenario, &mut models)?;
        print!("{}", report.to_csv_rows());
    }
    Ok(())
}
