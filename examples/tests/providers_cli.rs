//! `dataseal providers score|attest|simulate`, run as the built binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

use std::path::Path;
use std::process::{Command, Output};

fn dataseal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dataseal"))
        .args(args)
        .output()
        .unwrap()
}

fn events(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for h in 0..48 {
        for (p, ok) in [("good", true), ("bad", h % 2 == 0)] {
            let outcome = if ok { "success" } else { "failure" };
            let verified = if ok {
                ",\"verified\":true,\"latency_us\":90000"
            } else {
                ""
            };
            text.push_str(&format!(
                "{{\"v\":1,\"time\":\"2026-11-{:02}T{:02}:00:00Z\",\"observer\":\"o\",\"provider\":\"{p}\",\"kind\":\"retrieval\",\"outcome\":\"{outcome}\"{verified}}}\n",
                21 + h / 24,
                h % 24
            ));
        }
    }
    let path = dir.join("events.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn score_prints_every_provider_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let ev = events(dir.path());
    let out = dataseal(&[
        "providers",
        "score",
        "--events",
        ev.to_str().unwrap(),
        "--at",
        "2026-11-23T00:00:00Z",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["model"], "dataseal-default/1");
    assert_eq!(json["at"], "2026-11-23T00:00:00Z");
    assert_eq!(json["log_head"]["len"], 96);
    let providers = json["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 2);
    let bad = providers.iter().find(|p| p["provider"] == "bad").unwrap();
    let good = providers.iter().find(|p| p["provider"] == "good").unwrap();
    assert!(bad["score"].as_f64().unwrap() < good["score"].as_f64().unwrap());
    assert_eq!(bad["status"], "suspended");
}

#[test]
fn malformed_events_and_broken_logs_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let ev = events(dir.path());
    let mut text = std::fs::read_to_string(&ev).unwrap();
    text.push_str("{\"v\":1}\n");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, &text).unwrap();
    let out = dataseal(&["providers", "score", "--events", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 97"));
    // A hash-chained log with an edited record: exit 1, naming the line.
    let parsed = dataseal_reputation::parse_events(
        &std::fs::read_to_string(&ev).unwrap(),
        dataseal_reputation::OnMalformed::Reject,
    )
    .unwrap();
    let log = dataseal_reputation::EventLog::from_events(parsed.events).to_jsonl();
    let path = dir.path().join("log.jsonl");
    std::fs::write(&path, &log).unwrap();
    assert!(
        dataseal(&["providers", "score", "--events", path.to_str().unwrap()])
            .status
            .success()
    );
    std::fs::write(
        &path,
        log.replacen("\"observer\":\"o\"", "\"observer\":\"x\"", 1),
    )
    .unwrap();
    let out = dataseal(&["providers", "score", "--events", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
}

#[test]
fn attest_writes_verifiable_attestations() {
    let dir = tempfile::tempdir().unwrap();
    let ev = events(dir.path());
    let key = dataseal_base::SigningKey::generate().unwrap();
    let key_path = dir.path().join("signing.key");
    std::fs::write(&key_path, key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let out_dir = dir.path().join("att");
    let out = dataseal(&[
        "providers",
        "attest",
        "--key",
        key_path.to_str().unwrap(),
        "--events",
        ev.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = dataseal_base::dsse::Envelope::from_json(
        &std::fs::read(out_dir.join("good.dsse.json")).unwrap(),
    )
    .unwrap();
    let policy = dataseal_base::dsse::TrustPolicy::new()
        .trust(key.verifying_key(), "observer".parse().unwrap());
    let a = dataseal_reputation::ProviderAttestation::verify(
        &env,
        &policy,
        "2026-11-22T23:30:00Z".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(a.provider.as_str(), "good");
    assert_eq!(a.log_head.len, 96);
}

#[test]
fn simulate_runs_a_scenario_file_and_a_builtin_name_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, r#"{"name":"tiny","seed":1,"days":2,"groups":[{"count":5,"behaviour":{"kind":"honest","fail_rate":0.0}},{"count":2,"behaviour":{"kind":"selective_serving","read_fail_rate":0.9}}]}"#).unwrap();
    let out = dataseal(&[
        "providers",
        "simulate",
        "--scenario",
        path.to_str().unwrap(),
        "--seed",
        "7",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["seed"], 7);
    assert_eq!(json["models"].as_array().unwrap().len(), 2);
    let csv = dataseal(&[
        "providers",
        "simulate",
        "--scenario",
        path.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("scenario,seed"));
    let unknown = dataseal(&["providers", "simulate", "--scenario", "no-such-scenario"]);
    assert_eq!(unknown.status.code(), Some(2));
}
