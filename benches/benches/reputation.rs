//! Costs of `dataseal-reputation`'s hot paths.
//!
//! - `sketch_insert`: [`DdSketch::add`] of log-normal latencies with a Pareto tail, at
//!   α = 1 % and 2 % (time per insert; the sketch is warm, so this is the steady state);
//! - `sketch_quantile`: one quantile query on a sketch of 100,000 values;
//! - `score_query`: [`ScoringModel::score`] of one provider, for the default model and the
//!   BTFS baseline, after 30 simulated days of probes, reads and challenges for 1,000 and
//!   10,000 providers (the provider asked for changes every iteration, so the state is
//!   not all in the cache);
//! - `score_all`: [`ScoringModel::scores`] of every provider followed by
//!   [`order_for_read`] and [`choose_providers`] over the result: the full cost of ranking a
//!   population for a read or a placement;
//! - `ingest`: [`ScoringModel::observe`] per event across 10,000 providers.
//!
//! Before measuring, the bench prints the sketch's largest relative error against exact
//! quantiles of the same 100,000 values (q = 0.5 … 0.999), for the record in BENCHMARKS.md.
//! Under `cargo test --benches` the populations are small and each benchmark runs once.
#![expect(
    clippy::expect_used,
    reason = "a benchmark whose setup or measured call fails must stop loudly, not time an error path"
)]

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dataseal_reputation::{
    BtfsModel, BtfsParams, Candidate, DdSketch, DefaultModel, DefaultParams, Event, EventKind,
    ObserverId, Outcome, Placement, ProviderId, ScoringModel, Timestamp, choose_providers,
    order_for_read,
};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// 2026-11-21T00:00:00Z.
const T0: i64 = 1_795_219_200;

fn full_run() -> bool {
    let bench = std::env::args().any(|a| a == "--bench");
    let test = std::env::args().any(|a| a == "--test");
    bench && !test
}

/// Provider counts: 1,000 and 10,000 under `cargo bench`, 50 in test mode.
fn populations() -> Vec<usize> {
    if full_run() {
        vec![1_000, 10_000]
    } else {
        vec![50]
    }
}

/// Log-normal latencies in ms around 80 ms, one in 50 stretched by a Pareto factor.
fn latencies(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let u: f64 = rng.random::<f64>().max(1e-12);
            let v: f64 = rng.random::<f64>();
            let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            let mut x = 80.0 * (0.5 * z).exp();
            if i % 50 == 0 {
                x /= rng.random::<f64>().max(1e-6);
            }
            x
        })
        .collect()
}

fn ts(offset: i64) -> Timestamp {
    Timestamp::from_unix_seconds(T0 + offset).expect("time in range")
}

fn provider(i: usize) -> ProviderId {
    format!("provider-{i:05}").parse().expect("valid id")
}

/// 30 days for `n` providers: an availability probe every 30 minutes, a verified read every
/// 2 hours, a retention challenge every day; a few providers fail often. Events are in time
/// order.
fn history(n: usize, days: i64) -> Vec<Event> {
    let observer: ObserverId = "observer-1".parse().expect("valid id");
    let providers: Vec<ProviderId> = (0..n).map(provider).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::new();
    for step in 0..days * 48 {
        let at = ts(step * 1800);
        for (i, p) in providers.iter().enumerate() {
            let bad = i % 17 == 0;
            let fail = rng.random::<f64>() < if bad { 0.3 } else { 0.01 };
            let kind = if step % 48 == 0 {
                EventKind::RetentionChallenge
            } else if step % 4 == 0 {
                EventKind::Retrieval
            } else {
                EventKind::AvailabilityProbe
            };
            let outcome = if fail {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            let mut e = Event::new(at, observer.clone(), p.clone(), kind, outcome);
            if kind == EventKind::Retrieval && outcome == Outcome::Success {
                e = e
                    .verified()
                    .expect("a retrieval")
                    .with_latency_us(40_000 + rng.random_range(0..200_000u64))
                    .with_bytes(1 << 20);
            }
            out.push(e);
        }
    }
    out
}

fn print_sketch_error() {
    let values = latencies(100_000, 4);
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    for alpha in [0.01, 0.02] {
        let mut s = DdSketch::new(alpha, 2048).expect("valid sketch");
        for v in &values {
            s.add(*v);
        }
        let mut worst: f64 = 0.0;
        for q in [0.5, 0.75, 0.9, 0.95, 0.99, 0.999] {
            let i = ((q * sorted.len() as f64).floor() as usize).min(sorted.len() - 1);
            let exact = sorted.get(i).copied().expect("in range");
            let got = s.quantile(q).expect("non-empty");
            worst = worst.max((got - exact).abs() / exact);
        }
        eprintln!(
            "sketch alpha {alpha}: largest relative error {:.3} % over q = 0.5..0.999 of 100,000 values",
            worst * 100.0
        );
    }
}

fn sketch(c: &mut Criterion) {
    print_sketch_error();
    let values = latencies(100_000, 9);
    let mut g = c.benchmark_group("sketch_insert");
    g.throughput(Throughput::Elements(values.len() as u64));
    for alpha in [0.01, 0.02] {
        let mut warm = DdSketch::new(alpha, 2048).expect("valid sketch");
        for v in &values {
            warm.add(*v);
        }
        g.bench_with_input(BenchmarkId::from_parameter(alpha), &alpha, |b, _| {
            b.iter_batched_ref(
                || warm.clone(),
                |s| {
                    for v in &values {
                        s.add(black_box(*v));
                    }
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sketch_quantile");
    let mut s = DdSketch::new(0.01, 2048).expect("valid sketch");
    for v in &values {
        s.add(*v);
    }
    g.bench_function("p99", |b| {
        b.iter(|| black_box(&s).quantile(black_box(0.99)))
    });
    g.finish();
}

fn models() -> Vec<(&'static str, Box<dyn ScoringModel>)> {
    vec![
        (
            "default",
            Box::new(DefaultModel::new(DefaultParams::default()).expect("default params")),
        ),
        (
            "btfs",
            Box::new(BtfsModel::new(BtfsParams::default()).expect("default params")),
        ),
    ]
}

fn scores(c: &mut Criterion) {
    let days = if full_run() { 30 } else { 2 };
    for n in populations() {
        let events = history(n, days);
        let ids: Vec<ProviderId> = (0..n).map(provider).collect();
        for (name, mut model) in models() {
            model.observe_all(&events);
            model.advance(ts(days * 86_400));

            let mut g = c.benchmark_group("score_query");
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| {
                    // A stride coprime with n walks every provider.
                    i = (i + 7919) % n;
                    black_box(model.score(ids.get(i).expect("in range")))
                });
            });
            g.finish();

            let mut g = c.benchmark_group("score_all");
            g.throughput(Throughput::Elements(n as u64));
            g.sample_size(20);
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let placement = Placement::new(3);
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| {
                    let all: Vec<Candidate> = model
                        .scores()
                        .iter()
                        .map(Candidate::from_breakdown)
                        .collect();
                    let order = order_for_read(&all);
                    let chosen = choose_providers(&all, &placement, &mut rng);
                    black_box((order, chosen))
                });
            });
            g.finish();
        }
    }
}

fn ingest(c: &mut Criterion) {
    let n = if full_run() { 10_000 } else { 50 };
    let events = history(n, 1);
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(10);
    for (name, model) in models() {
        let fresh = model.snapshot();
        g.bench_function(BenchmarkId::new(name, n), |b| {
            b.iter_batched_ref(
                || {
                    let (_, mut m) = models()
                        .into_iter()
                        .find(|(m, _)| *m == name)
                        .expect("known model");
                    m.restore(&fresh).expect("own snapshot");
                    m
                },
                |m| m.observe_all(black_box(&events)),
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, sketch, scores, ingest);
criterion_main!(benches);
