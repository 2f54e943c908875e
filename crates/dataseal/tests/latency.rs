//! A latency probe, not a test: prints the latency (p50, p99) of a read's decision
//! ([`Gate::decide_version`]) with the registry in the loop — an embedded SQLite file
//! and a PostgreSQL server — at 1,000 / 10,000 / 100,000 registered versions, against
//! the entities-file path (every version's record in the entity store, no registry),
//! in the same run. Nothing is asserted about time. Run it with
//!
//! ```sh
//! cargo test -p dataseal --test latency -- --ignored --nocapture --test-threads 1
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a probe"
)]

#[path = "../../registry/tests/common/mod.rs"]
mod pg;
#[path = "../../policy/tests/common/mod.rs"]
mod policy_common;

use std::time::{Duration, Instant};

use dataseal::policy::{
    AccessRequest, Action, Approval, ApprovalStatement, ApprovalVerifier, ApproverRole,
    EntityStore, Grant, GrantIssuer, GrantRequest, GrantVerifier, PolicyEngine, Presented,
    Principal, Resource,
};
use dataseal::registry::{Actor, Change, LifecycleState, Reason, Stewardship};
use dataseal::{Gate, SigningKey, SyncRegistry};
use dataseal_manifest::VerifiedManifest;
use policy_common::{Signer, Spec, directory, manifest, now, record, user};

/// How many of the registered versions are published (and read); the others are
/// registered only, as a registry's bulk of other versions would be.
const READ: usize = 1_000;
/// Decisions measured per configuration.
const DECISIONS: usize = 2_000;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// `n` signed versions of one dataset.
fn versions(n: usize) -> Vec<VerifiedManifest> {
    let signer = Signer::new();
    let spec = Spec::default();
    (0..n)
        .map(|i| signer.verified(&manifest(&spec, &format!("1.{}.{}", i / 1000, i % 1000))))
        .collect()
}

struct Keys {
    issuer: GrantIssuer,
    grants: GrantVerifier,
    owner: SigningKey,
    reviewer: SigningKey,
    approvers: ApprovalVerifier,
}

impl Keys {
    fn new() -> Self {
        let key = SigningKey::generate().unwrap();
        let owner = SigningKey::generate().unwrap();
        let reviewer = SigningKey::generate().unwrap();
        let approvers = ApprovalVerifier::new()
            .trust(
                owner.verifying_key(),
                user("olivia"),
                ApproverRole::DataOwner,
            )
            .trust(
                reviewer.verifying_key(),
                user("carol"),
                ApproverRole::Compliance,
            );
        Self {
            issuer: GrantIssuer::new(key.clone(), "probe"),
            grants: GrantVerifier::new(30).trust(key.verifying_key()),
            owner,
            reviewer,
            approvers,
        }
    }

    fn grant(&self, vm: &VerifiedManifest) -> Grant {
        self.issuer
            .issue(
                &GrantRequest {
                    principal: Principal::User(user("tess")),
                    actions: Action::DATA.into_iter().collect(),
                    cid: vm.cid(),
                    purpose: "training".parse().unwrap(),
                    region: "DE".parse().unwrap(),
                },
                now(),
            )
            .unwrap()
    }
}

fn actor(who: &str, role: &str) -> Actor {
    Actor::user(user(who), role.parse().unwrap())
}

/// Registers every version in `registry`; the read ones (every `step`-th) are approved
/// by olivia and carol with signed approvals and published.
fn fill(registry: &SyncRegistry, all: &[VerifiedManifest], step: usize, keys: &Keys) {
    let at = now();
    let spec = Spec::default();
    let stewardship = Stewardship {
        owner: user(spec.owner),
        organisation: spec.organisation.parse().unwrap(),
        uploader: user(spec.uploader),
        special_category_data: false,
    };
    for (i, vm) in all.iter().enumerate() {
        registry
            .register_published(
                vm,
                stewardship.clone(),
                actor("ulrich", "publisher"),
                Reason::new("probe").unwrap(),
                at,
            )
            .unwrap();
        if i % step != 0 {
            continue;
        }
        for (key, who, role) in [
            (&keys.owner, "olivia", ApproverRole::DataOwner),
            (&keys.reviewer, "carol", ApproverRole::Compliance),
        ] {
            let approval = Approval::sign(
                &ApprovalStatement {
                    approver: user(who),
                    cid: vm.cid(),
                    role,
                    time: at,
                },
                key,
            )
            .unwrap();
            registry.approve(&approval, &keys.approvers, at).unwrap();
        }
        registry
            .block_on(registry.registry().transition(
                &vm.cid(),
                LifecycleState::Published,
                &Change::new(
                    actor("olivia", "data-owner"),
                    Reason::new("probe").unwrap(),
                    at,
                ),
            ))
            .unwrap();
    }
}

/// Times `DECISIONS` allowed decisions, round robin over the read versions.
fn measure(gate: &Gate<'_>, read: &[(&VerifiedManifest, Grant)]) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(DECISIONS);
    for i in 0..DECISIONS {
        let (vm, grant) = &read[(i * 7919) % read.len()];
        let request = AccessRequest::new(
            Principal::User(user("tess")),
            Action::Train,
            Resource::Version(vm.cid()),
            "training".parse().unwrap(),
            "DE".parse().unwrap(),
            now(),
        );
        let presented = Presented {
            grant: Some(grant.clone()),
            approvals: Vec::new(),
        };
        let t = Instant::now();
        let decision = gate.decide_version(vm, request, &presented);
        samples.push(t.elapsed());
        assert!(decision.is_ok(), "{decision:?}");
    }
    (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    )
}

/// Where a decision's time goes with the registry: its read, the entity store with
/// the version's record, the decision alone; p50 of each, on stderr.
fn breakdown(
    registry: &SyncRegistry,
    engine: &PolicyEngine,
    people: &EntityStore,
    read: &[(&VerifiedManifest, Grant)],
) {
    let spec = Spec::default();
    let mut view = Vec::new();
    let mut with = Vec::new();
    for (vm, _) in read.iter().take(500) {
        let t = Instant::now();
        registry
            .block_on(registry.registry().decision_view(&vm.cid(), None))
            .unwrap();
        view.push(t.elapsed());
        let t = Instant::now();
        people.with_version(engine, vm, &record(&spec)).unwrap();
        with.push(t.elapsed());
    }
    eprintln!(
        "  registry read p50 {}, entity store with the version p50 {}",
        us(percentile(&mut view, 0.5)),
        us(percentile(&mut with, 0.5))
    );
}

#[test]
#[ignore = "a latency probe: run by hand with --ignored --nocapture"]
fn decision_latency_with_the_registry() {
    let keys = Keys::new();
    let engine = PolicyEngine::with_defaults().unwrap();
    let mut people = EntityStore::builder(&engine);
    directory(&mut people);
    let people = people.build().unwrap();
    let cluster = pg::PgCluster::start().expect("PostgreSQL is needed for this probe");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!(
        "| versions | entities file p50 | p99 | SQLite p50 | p99 | p99 ratio | PostgreSQL p50 | p99 | p99 ratio |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // DATASEAL_PROBE_SIZES=1000,10000 measures only those sizes.
    let sizes: Vec<usize> = std::env::var("DATASEAL_PROBE_SIZES").map_or_else(
        |_| vec![1_000, 10_000, 100_000],
        |v| v.split(',').map(|n| n.trim().parse().unwrap()).collect(),
    );
    for n in sizes {
        let t = Instant::now();
        let all = versions(n);
        let step = n / READ.min(n);
        let read: Vec<(&VerifiedManifest, Grant)> = all
            .iter()
            .step_by(step)
            .map(|vm| (vm, keys.grant(vm)))
            .collect();
        // The entities-file path: every version's record in the store.
        let mut b = EntityStore::builder(&engine);
        directory(&mut b);
        let spec = Spec::default();
        for vm in &all {
            b.add_version(vm, &record(&spec)).unwrap();
        }
        let file_store = b.build().unwrap();
        let file_gate = Gate {
            engine: &engine,
            entities: &file_store,
            verifier: &keys.grants,
            audit: None,
            approvals: Some(&keys.approvers),
            registry: None,
        };
        let (f50, f99) = measure(&file_gate, &read);
        drop(file_store);
        let built = t.elapsed();

        let mut row = format!("| {n} | {} | {} ", us(f50), us(f99));
        let sqlite = format!("sqlite:{}", dir.path().join(format!("r{n}.db")).display());
        let postgres = rt.block_on(cluster.fresh_database());
        for url in [sqlite, postgres] {
            let t = Instant::now();
            let registry = SyncRegistry::open(&url).unwrap();
            fill(&registry, &all, step, &keys);
            let filled = t.elapsed();
            let gate = Gate {
                engine: &engine,
                entities: &people,
                verifier: &keys.grants,
                audit: None,
                approvals: Some(&keys.approvers),
                registry: Some(&registry),
            };
            let (p50, p99) = measure(&gate, &read);
            breakdown(&registry, &engine, &people, &read);
            row += &format!(
                "| {} | {} | {:.2}× ",
                us(p50),
                us(p99),
                p99.as_secs_f64() / f99.as_secs_f64()
            );
            eprintln!(
                "{n} versions, {}: filled in {:.1} s",
                url.split(':').next().unwrap_or_default(),
                filled.as_secs_f64()
            );
        }
        eprintln!(
            "{n} versions: signed and built in {:.1} s",
            built.as_secs_f64()
        );
        println!("{row}|");
    }
}
