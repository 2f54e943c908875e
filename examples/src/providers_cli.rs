//! `dataseal providers score|attest|simulate`: the command line over
//! `dataseal-reputation`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use dataseal_base::Timestamp;
use dataseal_reputation::{
    EventLog, Scenario, ScoreBreakdown, Scored, ScoringModel, attestation_file_name,
    baseline_models, simulate,
};
use serde::Serialize;

use crate::{AtomicFile, Failure, show};

/// The `providers` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Score every provider in an events file (JSON Lines) or hash-chained event log with
    /// the default model; exit 1 if a log's chain is broken, 2 on a malformed event.
    Score {
        /// The events file or event log.
        #[arg(long, value_name = "EVENTS.jsonl")]
        events: PathBuf,
        /// Score at this time (default: the last event's time).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
    /// Write a signed attestation of each provider's score to DIR/<provider>.dsse.json.
    Attest {
        /// The signing key (PKCS#8 PEM).
        #[arg(long, value_name = "signing.key")]
        key: PathBuf,
        /// The events file or event log.
        #[arg(long, value_name = "EVENTS.jsonl")]
        events: PathBuf,
        /// The directory to write the attestations in (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Issue at this time (default: the last event's time).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// Hours the attestations stay valid.
        #[arg(long, default_value_t = 24)]
        valid_hours: u32,
        /// The role the signature claims.
        #[arg(long, default_value = "observer")]
        role: String,
    },
    /// Run a simulation scenario (a built-in name or a JSON file) with the default model
    /// and the BTFS baseline; CSV on stdout, or the JSON report with --json.
    Simulate {
        /// A built-in scenario name or a scenario file.
        #[arg(long, value_name = "NAME|FILE")]
        scenario: String,
        /// The seed (replaces the scenario's own).
        #[arg(long)]
        seed: Option<u64>,
    },
}

fn rep(context: &str, err: &dataseal_reputation::Error) -> Failure {
    let code = match err {
        dataseal_reputation::Error::LogBroken { .. } | dataseal_reputation::Error::Signature(_) => {
            1
        }
        _ => 2,
    };
    Failure::new(code, format!("{context}: {err}"))
}

/// Reads an events file or a hash-chained log ([`EventLog::parse`]).
fn read_log(path: &Path) -> Result<EventLog, Failure> {
    let text = dataseal::keys::read_text(path)?;
    EventLog::parse(&text).map_err(|e| rep(&show(path), &e))
}

fn scored(log: &EventLog, at: Option<&str>) -> Result<Scored, Failure> {
    let at = at
        .map(|t| {
            t.parse::<Timestamp>()
                .map_err(|e| Failure::usage(format!("--at: {e}")))
        })
        .transpose()?;
    Scored::from_log(log, at).map_err(|e| rep("scoring", &e))
}

#[derive(Serialize)]
struct ScoreReport<'a> {
    model: String,
    params_digest: String,
    log_head: dataseal_reputation::LogHead,
    at: Timestamp,
    providers: &'a [ScoreBreakdown],
}

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::usage(format!("cannot write JSON: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| Failure::io("stdout", &e))
}

/// Runs one `providers` subcommand.
///
/// # Errors
///
/// A [`Failure`] with exit code 1 (broken log) or 2 (malformed input, bad arguments, I/O).
pub fn run(command: ProvidersCommand, json: bool) -> Result<(), Failure> {
    match command {
        ProvidersCommand::Score { events, at } => {
            let log = read_log(&events)?;
            let scored = scored(&log, at.as_deref())?;
            let (model, now, scores) = (scored.model(), scored.at(), scored.scores());
            if json {
                print_json(&ScoreReport {
                    model: model.model_id().to_string(),
                    params_digest: model.params_digest().to_string(),
                    log_head: log.head(),
                    at: now,
                    providers: &scores,
                })?;
            }
            for s in &scores {
                eprintln!(
                    "{}  {:.4}  {:?}  {}",
                    s.provider(),
                    s.score(),
                    s.status(),
                    s.tier().map_or("-".to_owned(), |t| format!("{t:?}"))
                );
            }
            eprintln!(
                "scored {} providers from {} events at {now}",
                scores.len(),
                scored.events()
            );
            Ok(())
        }
        ProvidersCommand::Attest {
            key,
            events,
            out,
            at,
            valid_hours,
            role,
        } => {
            let key = dataseal::keys::read_signing_key(&key)?;
            let role: dataseal_base::Role = role
                .parse()
                .map_err(|e| Failure::usage(format!("--role: {e}")))?;
            let log = read_log(&events)?;
            let scored = scored(&log, at.as_deref())?;
            let now = scored.at();
            let valid = i64::from(valid_hours.max(1)) * 3600;
            let expires = now.saturating_add_seconds(valid);
            let signed = scored
                .attest(valid, &key, Some(role))
                .map_err(|e| rep("attestation", &e))?;
            fs::create_dir_all(&out).map_err(|e| Failure::io(show(&out), &e))?;
            let mut written = Vec::new();
            for (provider, env) in signed {
                let path = out.join(attestation_file_name(&provider));
                let mut file = AtomicFile::create(&path, false)?;
                file.write_all(env.to_json().as_bytes())?;
                file.commit()?;
                written.push(path.display().to_string());
            }
            if json {
                print_json(
                    &serde_json::json!({ "attestations": written, "log_head": log.head(), "issued_at": now, "expires_at": expires }),
                )?;
            }
            eprintln!("wrote {} attestations to {}", written.len(), show(&out));
            Ok(())
        }
        ProvidersCommand::Simulate { scenario, seed } => {
            let mut s = if Path::new(&scenario).is_file() {
                let text = dataseal::keys::read_text(Path::new(&scenario))?;
                Scenario::from_json(&text).map_err(|e| rep(&scenario, &e))?
            } else {
                Scenario::builtin(&scenario).map_err(|e| {
                    Failure::usage(format!(
                        "{e} (built-in: {})",
                        Scenario::builtin_names().join(", ")
                    ))
                })?
            };
            if let Some(seed) = seed {
                s.seed = seed;
            }
            let mut models = baseline_models().map_err(|e| rep("models", &e))?;
            let report = simulate(&s, &mut models).map_err(|e| rep("simulation", &e))?;
            if json {
                print_json(&report)?;
            } else {
                let mut out = std::io::stdout().lock();
                write!(out, "{}", report.to_csv()).map_err(|e| Failure::io("stdout", &e))?;
            }
            for m in &report.models {
                eprintln!(
                    "{}: precision {}, recall {}, adversary share {}",
                    m.model,
                    m.precision.map_or("-".to_owned(), |v| format!("{v:.3}")),
                    m.recall.map_or("-".to_owned(), |v| format!("{v:.3}")),
                    m.adversary_share
                        .map_or("-".to_owned(), |v| format!("{v:.3}")),
                );
            }
            Ok(())
        }
    }
}
