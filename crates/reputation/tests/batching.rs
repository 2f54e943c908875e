//! Property: the same events give the same scores whatever the batching.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use common::*;
use dataseal_reputation::{
    BtfsModel, BtfsParams, DefaultModel, DefaultParams, Event, ScoringModel,
};
use proptest::prelude::*;

fn models() -> Vec<Box<dyn ScoringModel>> {
    vec![
        Box::new(DefaultModel::new(DefaultParams::default()).unwrap()),
        Box::new(BtfsModel::new(BtfsParams::default()).unwrap()),
    ]
}

fn run(events: &[Event], cuts: &[usize], model: &mut dyn ScoringModel, end: i64) {
    let mut start = 0;
    for &cut in cuts {
        let cut = cut.min(events.len()).max(start);
        model.observe_all(&events[start..cut]);
        if let Some(last) = events[start..cut].last() {
            // Advancing between batches to the batch's own end changes nothing.
            model.advance(last.time());
        }
        start = cut;
    }
    model.observe_all(&events[start..]);
    model.advance(ts(end));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn any_batch_split_gives_identical_scores(
        hours in 1i64..120,
        mut cuts in proptest::collection::vec(0usize..2_000, 0..12),
    ) {
        let events = mixed_stream(hours);
        cuts.sort_unstable();
        let end = hours * 3600 + 7200;
        for (mut whole, mut split) in models().into_iter().zip(models()) {
            run(&events, &[], whole.as_mut(), end);
            run(&events, &cuts, split.as_mut(), end);
            prop_assert_eq!(whole.scores(), split.scores());
            prop_assert_eq!(whole.snapshot(), split.snapshot());
        }
    }
}

#[test]
fn one_event_at_a_time_equals_one_batch() {
    let events = mixed_stream(300);
    for (mut a, mut b) in models().into_iter().zip(models()) {
        a.observe_all(&events);
        for e in &events {
            b.observe(e);
            b.advance(e.time());
        }
        assert_eq!(a.scores(), b.scores());
    }
}

#[test]
#[ignore = "timing: run with --release --ignored --nocapture to print events per second"]
fn ingest_rate() {
    let events = mixed_stream(20_000);
    let mut m = DefaultModel::new(DefaultParams::default()).unwrap();
    let start = std::time::Instant::now();
    m.observe_all(&events);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "default model: {} events in {secs:.3} s = {:.2} million events/s on one core",
        events.len(),
        events.len() as f64 / secs / 1e6
    );
    // 10,000 providers, so the state does not sit in the cache.
    let many: Vec<Event> = (0..2_000_000i64)
        .map(|i| {
            let p = format!("p{}", i % 10_000);
            let at = i / 10_000 * 60;
            if i % 3 == 0 {
                probe(at, &p, i % 97 != 0)
            } else {
                read(at, &p, i % 89 != 0)
            }
        })
        .collect();
    let mut m = DefaultModel::new(DefaultParams::default()).unwrap();
    let start = std::time::Instant::now();
    m.observe_all(&many);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "default model, 10,000 providers: {:.2} million events/s on one core",
        many.len() as f64 / secs / 1e6
    );
    let mut b = BtfsModel::new(BtfsParams::default()).unwrap();
    let start = std::time::Instant::now();
    b.observe_all(&events);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "btfs baseline: {:.2} million events/s",
        events.len() as f64 / secs / 1e6
    );
}
