#![allow(clippy::unwrap_used, reason = "tests")]
mod common;
use common::*;
use dataseal_policy::*;

#[test]
fn smoke() {
    let w = World::new(&[("open", Spec::default())]);
    let d = w.decide(&w.request(u("tess"), Action::Train, "open", "training", "DE"));
    println!(
        "{:?} {:?} {:?}",
        d.effect(),
        d.determining_policies(),
        d.errors()
    );
    let d = w.decide(&w.request(sa("job-7"), Action::Train, "open", "training", "DE"));
    println!(
        "{:?} {:?} {:?}",
        d.effect(),
        d.determining_policies(),
        d.errors()
    );
}
