//! A latency probe, not a test: prints decision latency (p50, p99) with slicing and
//! with plain unsliced Cedar at 1,000 / 10,000 / 100,000 dataset versions and 10 /
//! 1,000 / 10,000 grant links, plus grant verification and audit appends. Nothing is
//! asserted about time. Run it with
//!
//! ```sh
//! cargo test -p dataseal-policy --test latency -- --ignored --nocapture --test-threads 1
//! ```
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "a probe")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use dataseal_base::{Cid, Timestamp};
use dataseal_policy::*;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

struct Setup {
    engine: PolicyEngine,
    store: EntityStore,
    versions: Vec<Cid>,
    grants: usize,
}

fn setup(datasets: usize, grants: usize) -> Setup {
    let engine = PolicyEngine::with_defaults().unwrap();
    let signer = Signer::new();
    let mut b = EntityStore::builder(&engine);
    directory(&mut b);
    let spec = Spec::default();
    let mut versions = Vec::with_capacity(datasets);
    for i in 0..datasets {
        let vm = signer.verified(&manifest(&spec, &format!("1.{}.{}", i / 1000, i % 1000)));
        versions.push(vm.cid());
        b.add_version(&vm, &record(&spec)).unwrap();
    }
    for g in 0..grants {
        b.add_user(&user(&format!("grantee-{g}")), &[]).unwrap();
    }
    let store = b.build().unwrap();
    let links = (0..grants).map(|g| {
        TemplateLink::data_access(
            format!("grant-{g}"),
            EntityRef::User(user(&format!("grantee-{g}"))),
            EntityRef::Version(versions[g % versions.len()]),
        )
    });
    let engine = PolicyEngine::builder().links(links).build().unwrap();
    Setup {
        engine,
        store,
        versions,
        grants,
    }
}

fn requests(
    s: &Setup,
    issuer: &GrantIssuer,
    verifier: &GrantVerifier,
    n: usize,
) -> Vec<AccessRequest> {
    (0..n)
        .map(|i| {
            // Half by a trainer on any version, half by a grantee on its linked version.
            let (who, cid) = if i % 2 == 0 {
                (u("tess"), s.versions[(i * 7919) % s.versions.len()])
            } else {
                let g = (i * 104_729) % s.grants;
                (
                    Principal::User(user(&format!("grantee-{g}"))),
                    s.versions[g % s.versions.len()],
                )
            };
            let grant = issuer
                .issue(
                    &GrantRequest {
                        principal: who.clone(),
                        actions: Action::DATA.into_iter().collect(),
                        cid,
                        purpose: "training".parse().unwrap(),
                        region: "DE".parse().unwrap(),
                    },
                    now(),
                )
                .unwrap();
            AccessRequest::new(
                who,
                Action::Train,
                Resource::Version(cid),
                "training".parse().unwrap(),
                "DE".parse().unwrap(),
                now(),
            )
            .with_grant(verifier.verify(&grant, now()).unwrap())
        })
        .collect()
}

fn measure(reqs: &[AccessRequest], f: impl Fn(&AccessRequest) -> bool) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(reqs.len());
    for r in reqs {
        let t = Instant::now();
        let allowed = f(r);
        samples.push(t.elapsed());
        assert!(allowed, "{r:?}");
    }
    (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    )
}

#[test]
#[ignore = "a latency probe: run by hand with --ignored --nocapture"]
fn decision_latency() {
    let key = dataseal_base::SigningKey::generate().unwrap();
    let issuer = GrantIssuer::new(key.clone(), "probe");
    let verifier = GrantVerifier::new(30).trust(key.verifying_key());
    println!(
        "| datasets | grant links | sliced p50 | sliced p99 | unsliced p50 | unsliced p99 | p50 ratio |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (datasets, grants) in [(1_000, 10), (10_000, 1_000), (100_000, 10_000)] {
        let t = Instant::now();
        let s = setup(datasets, grants);
        let built = t.elapsed();
        let reqs = requests(&s, &issuer, &verifier, 2_000);
        let (p50, p99) = measure(&reqs, |r| s.engine.decide(&s.store, r).is_allowed());
        let unsliced_reqs = &reqs[..reqs.len().min(if grants >= 10_000 { 300 } else { 1_000 })];
        let (u50, u99) = measure(unsliced_reqs, |r| {
            s.engine.decide_unsliced(&s.store, r).is_allowed()
        });
        println!(
            "| {datasets} | {grants} | {p50:.1?} | {p99:.1?} | {u50:.1?} | {u99:.1?} | {:.1}x |",
            u50.as_secs_f64() / p50.as_secs_f64()
        );
        eprintln!("  (set-up, signing and indexing: {built:.1?})");
    }
}

#[test]
#[ignore = "a latency probe: run by hand with --ignored --nocapture"]
fn grant_and_audit_latency() {
    let key = dataseal_base::SigningKey::generate().unwrap();
    let issuer = GrantIssuer::new(key.clone(), "probe");
    let verifier = GrantVerifier::new(30).trust(key.verifying_key());
    let req = GrantRequest {
        principal: u("tess"),
        actions: Action::DATA.into_iter().collect(),
        cid: Cid::raw_sha256(b"v"),
        purpose: "training".parse().unwrap(),
        region: "DE".parse().unwrap(),
    };
    let grants: Vec<Grant> = (0..2_000)
        .map(|_| issuer.issue(&req, now()).unwrap())
        .collect();
    let mut samples: Vec<Duration> = grants
        .iter()
        .map(|g| {
            let t = Instant::now();
            verifier.verify(g, now()).unwrap();
            t.elapsed()
        })
        .collect();
    println!(
        "grant verify: p50 {:.1?}, p99 {:.1?}",
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99)
    );

    let w = World::new(&[("open", Spec::default())]);
    let d = w.decide(&w.request(u("tess"), Action::Train, "open", "training", "DE"));
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path().join("audit.jsonl"))
        .with_checkpoints(dataseal_base::SigningKey::generate().unwrap(), 1_000);
    let t: Timestamp = now();
    let mut samples: Vec<Duration> = (0..2_000)
        .map(|_| {
            let s = Instant::now();
            log.append(d.audit_record(), t).unwrap();
            s.elapsed()
        })
        .collect();
    println!(
        "audit append (with fsync): p50 {:.1?}, p99 {:.1?}",
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99)
    );
    let bytes = std::fs::read(log.path()).unwrap();
    let s = Instant::now();
    let report = verify_log(&bytes, None, None).unwrap();
    println!(
        "audit verify: {} lines in {:.1?}",
        report.lines,
        s.elapsed()
    );
}
