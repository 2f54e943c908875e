//! The simulation harness: determinism, outputs, and the comparison the README reports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

use dataseal_reputation::{Error, Scenario, SimulationReport, baseline_models, simulate};

fn short(name: &str, days: u32) -> Scenario {
    let mut s = Scenario::builtin(name).unwrap();
    s.days = days;
    s
}

fn run(s: &Scenario) -> SimulationReport {
    simulate(s, &mut baseline_models().unwrap()).unwrap()
}

#[test]
fn every_builtin_scenario_parses() {
    for name in Scenario::builtin_names() {
        let s = Scenario::builtin(name).unwrap();
        assert_eq!(s.name, name);
        let file = std::fs::read_to_string(format!(
            "{}/scenarios/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert_eq!(Scenario::from_json(&file).unwrap(), s);
    }
    assert!(matches!(Scenario::builtin("nope"), Err(Error::Scenario(_))));
    assert!(Scenario::from_json(r#"{"name":"x","seed":1,"days":0,"groups":[]}"#).is_err());
    assert!(
        Scenario::from_json(r#"{"name":"x","seed":1,"days":1,"groups":[],"extra":1}"#).is_err()
    );
    for bad in [
        r#"{"kind":"on_off","on_hours":4294967295,"off_hours":1}"#,
        r#"{"kind":"whitewashing","fail_rate":0.5,"rejoin_every_days":4294967295}"#,
        r#"{"kind":"honest","fail_rate":1.5}"#,
        r#"{"kind":"flaky_honest","fail_rate":0.1,"unknown_rate":0.1,"outage_hours":24}"#,
    ] {
        let text = format!(
            r#"{{"name":"x","seed":1,"days":1,"groups":[{{"count":1,"behaviour":{bad}}}]}}"#
        );
        assert!(
            matches!(Scenario::from_json(&text), Err(Error::Scenario(_))),
            "{bad}"
        );
    }
}

#[test]
fn same_seed_same_report_and_outputs_are_well_formed() {
    let s = short("mixed", 3);
    let a = run(&s);
    let b = run(&s);
    assert_eq!(a, b);
    assert_eq!(a.models.len(), 2);
    let csv = a.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    let columns = SimulationReport::CSV_HEADER.split(',').count();
    for l in &lines {
        assert_eq!(l.split(',').count(), columns, "{l}");
    }
    let json: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
    assert_eq!(json["models"][0]["model"], "dataseal-default/1");
    let mut other = s.clone();
    other.seed += 1;
    assert_ne!(run(&other).events, 0);
}

#[test]
fn default_model_beats_the_btfs_baseline_on_selective_serving_and_on_off() {
    for name in ["selective-serving", "on-off"] {
        let r = run(&short(name, 8));
        let (d, b) = (&r.models[0], &r.models[1]);
        let key = if name == "on-off" {
            "on_off"
        } else {
            "selective_serving"
        };
        let (dr, br) = (d.recall_by_behaviour[key], b.recall_by_behaviour[key]);
        assert!(dr >= 0.9, "{name}: default recall {dr}");
        assert!(dr > br || d.precision > b.precision, "{name}: {dr} vs {br}");
        assert_eq!(d.false_disqualifications, 0, "{name}");
    }
}

#[test]
#[ignore = "timing: run with --release --ignored --nocapture"]
fn ten_thousand_providers_for_thirty_days() {
    let mut s = Scenario::builtin("mixed").unwrap();
    for g in &mut s.groups {
        g.count *= 80; // 125 providers become 10,000
    }
    s.days = 30;
    let start = std::time::Instant::now();
    let r = run(&s);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} identities, {} events, 2 models: {secs:.1} s ({:.2} million events/s per model including scoring and placement)",
        r.identities,
        r.events,
        r.events as f64 * 2.0 / secs / 1e6
    );
    print!("{}", r.to_csv());
}
