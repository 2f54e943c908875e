//! Selection under constraints, the exploration cap, read order; and the sketch's error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

use std::collections::{BTreeSet, HashMap};

use dataseal_reputation::{
    Candidate, DdSketch, Error, Placement, Status, Tier, choose_providers, order_for_read,
};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

fn cand(id: &str, score: f64, status: Status, group: &str) -> Candidate {
    Candidate {
        provider: id.parse().unwrap(),
        score,
        status,
        tier: Some(Tier::Standard),
        region: Some(if id.ends_with('u') { "US" } else { "DE" }.parse().unwrap()),
        network_group: Some(group.parse().unwrap()),
    }
}

fn pool() -> Vec<Candidate> {
    let mut v = Vec::new();
    for i in 0..20 {
        v.push(cand(
            &format!("a{i}"),
            0.5 + f64::from(i) / 40.0,
            Status::Active,
            &format!("AS{i}"),
        ));
    }
    for i in 0..20 {
        v.push(cand(
            &format!("n{i}"),
            1.0,
            Status::Vetting,
            &format!("NEW{i}"),
        ));
    }
    v.push(cand("s", 1.0, Status::Suspended, "S"));
    v.push(cand("d", 1.0, Status::Disqualified, "D"));
    v
}

#[test]
fn newcomers_are_capped_at_the_exploration_share() {
    let c = pool();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let placement = Placement::new(3);
    let (mut total, mut new) = (0, 0);
    for _ in 0..4000 {
        let chosen = choose_providers(&c, &placement, &mut rng).unwrap();
        assert!(
            chosen
                .iter()
                .filter(|p| p.as_str().starts_with('n'))
                .count()
                <= 1
        );
        assert!(
            !chosen
                .iter()
                .any(|p| p.as_str() == "s" || p.as_str() == "d")
        );
        total += chosen.len();
        new += chosen
            .iter()
            .filter(|p| p.as_str().starts_with('n'))
            .count();
    }
    let share = new as f64 / total as f64;
    assert!(share <= 0.05 + 0.01 && share > 0.03, "{share}");
    // Share 0: never a newcomer while established providers suffice.
    let none = Placement {
        exploration_share: 0.0,
        ..Placement::new(3)
    };
    for _ in 0..200 {
        let chosen = choose_providers(&c, &none, &mut rng).unwrap();
        assert!(!chosen.iter().any(|p| p.as_str().starts_with('n')));
    }
}

#[test]
fn higher_scores_are_chosen_more_often() {
    let c: Vec<Candidate> = pool()
        .into_iter()
        .filter(|c| c.status == Status::Active)
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..3000 {
        for p in choose_providers(&c, &Placement::new(1), &mut rng).unwrap() {
            *counts.entry(p.to_string()).or_default() += 1;
        }
    }
    assert!(counts["a19"] > counts["a0"], "{counts:?}");
}

#[test]
fn constraints_are_respected_and_reproducible() {
    let mut c = pool();
    for (i, x) in c.iter_mut().enumerate() {
        x.network_group = Some(format!("AS{}", i % 3).parse().unwrap());
    }
    let p = Placement {
        exploration_share: 0.0,
        ..Placement::new(3)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let chosen = choose_providers(&c, &p, &mut rng).unwrap();
    let groups: BTreeSet<_> = chosen
        .iter()
        .map(|id| {
            c.iter()
                .find(|x| &x.provider == id)
                .unwrap()
                .network_group
                .clone()
        })
        .collect();
    assert_eq!(groups.len(), 3);
    assert!(matches!(
        choose_providers(&c, &Placement::new(4), &mut rng),
        Err(Error::NotEnoughProviders {
            wanted: 4,
            found: 3
        })
    ));
    // Region and tier.
    let mut c = pool();
    c[5].provider = "a5u".parse().unwrap();
    c[5].region = Some("US".parse().unwrap());
    let us = Placement {
        allowed_regions: Some(BTreeSet::from(["US".parse().unwrap()])),
        ..Placement::new(1)
    };
    assert_eq!(
        choose_providers(&c, &us, &mut rng).unwrap()[0].as_str(),
        "a5u"
    );
    c[7].tier = Some(Tier::HighThroughput);
    let fast = Placement {
        min_tier: Some(Tier::HighThroughput),
        exploration_share: 0.0,
        ..Placement::new(1)
    };
    assert_eq!(
        choose_providers(&c, &fast, &mut rng).unwrap()[0].as_str(),
        "a7"
    );
    // Same seed, same choice.
    let a = choose_providers(&c, &Placement::new(3), &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
    let b = choose_providers(&c, &Placement::new(3), &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
    assert_eq!(a, b);
    assert!(
        choose_providers(
            &c,
            &Placement {
                exploration_share: 1.5,
                ..Placement::new(1)
            },
            &mut rng
        )
        .is_err()
    );
}

#[test]
fn reads_go_to_the_best_first_and_suspended_last() {
    let order = order_for_read(&pool());
    // Vetting newcomers are scored as usual: a perfect one reads first.
    assert_eq!(order.first().unwrap().as_str(), "n0");
    let active: Vec<_> = order
        .iter()
        .filter(|p| p.as_str().starts_with('a'))
        .collect();
    assert_eq!(active.first().unwrap().as_str(), "a19");
    assert_eq!(order.last().unwrap().as_str(), "s");
    assert!(!order.iter().any(|p| p.as_str() == "d"));
    assert_eq!(order.len(), 41);
}

fn exact(sorted: &[f64], q: f64) -> f64 {
    let i = ((q * sorted.len() as f64).floor() as usize).min(sorted.len() - 1);
    sorted[i]
}

#[test]
fn sketch_quantiles_are_within_alpha_of_exact_ones() {
    for alpha in [0.01, 0.02, 0.05] {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut s = DdSketch::new(alpha, 2048).unwrap();
        let mut parts = [
            DdSketch::new(alpha, 2048).unwrap(),
            DdSketch::new(alpha, 2048).unwrap(),
        ];
        let mut values = Vec::new();
        for i in 0..100_000 {
            // Log-normal latencies (ms) with a Pareto tail.
            let u: f64 = rng.random::<f64>().max(1e-12);
            let v: f64 = rng.random::<f64>();
            let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            let mut x = 80.0 * (0.5 * z).exp();
            if i % 50 == 0 {
                x *= 1.0 / rng.random::<f64>().max(1e-6);
            }
            values.push(x);
            s.add(x);
            parts[i % 2].add(x);
        }
        values.sort_by(f64::total_cmp);
        let [mut a, b] = parts;
        a.merge(&b).unwrap();
        for q in [0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let e = exact(&values, q);
            for sketch in [&s, &a] {
                let got = sketch.quantile(q).unwrap();
                assert!(
                    (got - e).abs() <= alpha * e * (1.0 + 1e-9),
                    "alpha {alpha} q {q}: {got} vs {e}"
                );
            }
        }
        assert_eq!(a.count(), 100_000.0);
    }
    assert!(DdSketch::new(0.0, 2048).is_err());
    assert!(DdSketch::new(1.0, 2048).is_err());
    assert!(DdSketch::new(0.01, 4).is_err());
    assert!(DdSketch::new(0.01, 2048).unwrap().quantile(0.5).is_none());
}

#[test]
fn sketch_collapses_only_the_lowest_buckets() {
    let mut s = DdSketch::new(0.01, 64).unwrap();
    for i in 0..10_000 {
        s.add(1.0 + f64::from(i));
    }
    let p99 = s.quantile(0.99).unwrap();
    assert!((p99 - 9901.0).abs() <= 0.01 * 9901.0, "{p99}");
    assert!(s.quantile(0.01).unwrap() <= 10_000.0);
}
