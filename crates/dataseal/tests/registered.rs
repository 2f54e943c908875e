//! The stories with the registry in the loop, on an embedded SQLite file and on a
//! PostgreSQL server: the decision reads lifecycle, holds and revoked grants at
//! decision time, a fetch records its read, and erasure shreds the key, unpins the
//! blocks and signs a receipt.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests (the stories run as functions, once per backend)"
)]

mod common;
#[path = "../../registry/tests/common/mod.rs"]
mod pg;

use common::*;

use dataseal::base::dsse::TrustPolicy;
use dataseal::manifest::verify_envelope;
use dataseal::policy::{Principal, UserId, VersionState};
use dataseal::registry::{
    Actor, Change, HoldScope, LifecycleState, ReadRecord, Reason, Stewardship,
};
use dataseal::{
    Erase, ErasureReceipt, ErrorKind, Gate, KeyBroker, Provider, Published, Receipt, Role,
    SigningKey, SyncRegistry, Timestamp,
};

fn actor(user: &str, role: &str) -> Actor {
    Actor::user(UserId::new(user).unwrap(), Role::new(role).unwrap())
}

fn change(user: &str, role: &str, why: &str) -> Change {
    Change::new(
        actor(user, role),
        Reason::new(why).unwrap(),
        Timestamp::now(),
    )
}

fn stewardship() -> Stewardship {
    Stewardship {
        owner: "olivia".parse().unwrap(),
        organisation: "stories".parse().unwrap(),
        uploader: "ulrich".parse().unwrap(),
        special_category_data: false,
    }
}

/// Approves `cid` as its data owner (olivia) and a compliance reviewer (carol) do: two
/// signed approvals, verified against their keys and kept; the second moves it to
/// approved.
fn approve(registry: &SyncRegistry, cid: dataseal::Cid) {
    use dataseal::policy::{Approval, ApprovalStatement, ApprovalVerifier, ApproverRole};
    let owner = SigningKey::generate().unwrap();
    let reviewer = SigningKey::generate().unwrap();
    let approvers = ApprovalVerifier::new()
        .trust(
            owner.verifying_key(),
            "olivia".parse().unwrap(),
            ApproverRole::DataOwner,
        )
        .trust(
            reviewer.verifying_key(),
            "carol".parse().unwrap(),
            ApproverRole::Compliance,
        );
    let now = Timestamp::now();
    let mut state = None;
    for (key, who, role) in [
        (&owner, "olivia", ApproverRole::DataOwner),
        (&reviewer, "carol", ApproverRole::Compliance),
    ] {
        let approval = Approval::sign(
            &ApprovalStatement {
                approver: who.parse().unwrap(),
                cid,
                role,
                time: now,
            },
            key,
        )
        .unwrap();
        state = Some(registry.approve(&approval, &approvers, now).unwrap().state);
    }
    assert_eq!(state, Some(LifecycleState::Approved));
}

/// The registry at `url`, or a SQLite file in the world.
fn open_registry(w: &World, url: Option<&str>) -> SyncRegistry {
    let sqlite = format!("sqlite:{}", w.path("registry.db").display());
    SyncRegistry::open(url.unwrap_or(&sqlite)).unwrap()
}

struct Setup {
    w: World,
    providers: Vec<Provider>,
    published: Published,
    registry: SyncRegistry,
    decider: Decider,
}

impl Setup {
    /// A world with the version published; the registry at `url`, or a SQLite file in
    /// the world.
    fn new(url: Option<&str>) -> Self {
        let w = World::new();
        let mut providers = w.providers(&["a", "b"]);
        let published = w
            .publish()
            .run(&mut providers, &w.broker(), &w.catalog())
            .unwrap();
        let registry = open_registry(&w, url);
        // The entities say nothing is wrong with the version: only the registry can.
        let decider = Decider::new(&w, &published, VersionState::default());
        Self {
            w,
            providers,
            published,
            registry,
            decider,
        }
    }

    fn read(&mut self, out: &str) -> Result<dataseal::Fetched, dataseal::Error> {
        let grant = self
            .w
            .grant(&self.published, "research", 900, Timestamp::now());
        self.read_with(out, grant)
    }

    fn read_with(
        &mut self,
        out: &str,
        grant: dataseal::policy::Grant,
    ) -> Result<dataseal::Fetched, dataseal::Error> {
        let gate = Gate {
            registry: Some(&self.registry),
            ..self.decider.gate()
        };
        self.w.fetch(&self.published, "research").grant(grant).run(
            &mut self.providers,
            &self.w.catalog(),
            &self.w.broker(),
            &gate,
            &self.w.path(out),
        )
    }

    fn refused(&mut self, out: &str, kind: ErrorKind) -> dataseal::Error {
        let e = self.read(out).unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert!(!self.w.path(out).exists(), "{out}: nothing is written");
        e
    }

    fn register(&self) {
        let verified = verify_envelope(
            &envelope_of(&self.published),
            &self.w.trust(),
            Timestamp::now(),
        )
        .unwrap();
        self.registry
            .register_published(
                &verified,
                stewardship(),
                actor("ulrich", "publisher"),
                Reason::new("new version").unwrap(),
                Timestamp::now(),
            )
            .unwrap();
    }

    fn to(&self, state: LifecycleState) {
        if state == LifecycleState::Approved {
            return approve(&self.registry, self.published.manifest_cid);
        }
        self.registry
            .block_on(self.registry.registry().transition(
                &self.published.manifest_cid,
                state,
                &change("olivia", "data-owner", "review done"),
            ))
            .unwrap();
    }
}

#[test]
fn the_registry_decides_at_decision_time() {
    the_registry_decides_at_decision_time_on(None);
}

fn the_registry_decides_at_decision_time_on(url: Option<&str>) {
    let mut s = Setup::new(url);
    let cid = s.published.manifest_cid;

    // Unknown to the registry: denied, nothing written.
    let e = s.refused("out-unknown", ErrorKind::Denied);
    assert!(e.to_string().contains("not in the registry"), "{e}");

    // Registered, still quarantined, then approved but not published: refused.
    s.register();
    s.refused("out-quarantined", ErrorKind::Denied);
    s.to(LifecycleState::Approved);
    s.refused("out-approved", ErrorKind::Denied);

    // Published: read, and the read is recorded with its receipt.
    s.to(LifecycleState::Published);
    let fetched = s.read("out").unwrap();
    assert_same_as_source(&s.w.path("out"));
    let reads = s
        .registry
        .block_on(s.registry.registry().reads_of(&cid))
        .unwrap();
    assert_eq!(reads.len(), 1);
    let read: &ReadRecord = &reads[0];
    assert_eq!(read.principal, Principal::User("tess".parse().unwrap()));
    assert_eq!(read.job.as_deref(), Some("job-1"));
    let receipt: Receipt = serde_json::from_slice(read.receipt.as_ref().unwrap()).unwrap();
    assert_eq!(receipt, fetched.receipt);

    // A legal hold takes effect on the next decision (4); lifting it, on the next.
    let hold = s
        .registry
        .block_on(s.registry.registry().place_hold(
            &HoldScope::Version(cid),
            &change("lee", "legal", "case 2026-117"),
        ))
        .unwrap();
    s.refused("out-held", ErrorKind::Blocked);
    s.registry
        .block_on(
            s.registry
                .registry()
                .lift_hold(hold, &change("lee", "legal", "case closed")),
        )
        .unwrap();
    s.read("out-lifted").unwrap();

    // A grant revoked before it expires is refused on the next decision; another is not.
    let revoked = s.w.grant(&s.published, "research", 900, Timestamp::now());
    let id = s
        .decider
        .verifier
        .verify(&revoked, Timestamp::now())
        .unwrap()
        .id()
        .clone();
    s.registry
        .block_on(
            s.registry
                .registry()
                .revoke_grant(&id, &change("olivia", "data-owner", "job cancelled")),
        )
        .unwrap();
    let e = s.read_with("out-revoked", revoked).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    assert!(!s.w.path("out-revoked").exists());
    s.read("out-other-grant").unwrap();

    // Revoked in the registry: 4.
    s.to(LifecycleState::Revoked);
    s.refused("out-version-revoked", ErrorKind::Blocked);
}

#[test]
fn erasure_shreds_the_key_unpins_and_signs_a_receipt() {
    erasure_shreds_the_key_unpins_and_signs_a_receipt_on(None);
}

fn erasure_shreds_the_key_unpins_and_signs_a_receipt_on(url: Option<&str>) {
    let mut s = Setup::new(url);
    let cid = s.published.manifest_cid;
    s.register();
    s.to(LifecycleState::Approved);
    s.to(LifecycleState::Published);
    s.read("out").unwrap();
    let dpo = SigningKey::generate().unwrap();
    let erase = Erase::new(
        cid,
        s.w.trust(),
        actor("dora", "privacy"),
        Reason::new("erasure request 41").unwrap(),
    );
    let broker = s.w.broker();
    let key_file = broker.key_path(&cid);
    let run_erase = |s: &mut Setup| {
        erase.run(
            &s.registry,
            &[&broker as &dyn KeyBroker],
            &mut s.providers,
            &s.w.catalog(),
            &dpo,
        )
    };
    assert!(key_file.exists());

    // Under a legal hold, erasure is refused and nothing is destroyed.
    let hold = s
        .registry
        .block_on(
            s.registry
                .registry()
                .place_hold(&HoldScope::Version(cid), &change("lee", "legal", "case 9")),
        )
        .unwrap();
    let e = run_erase(&mut s).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Blocked, "{e}");
    assert!(key_file.exists());
    s.read("out-still").unwrap_err(); // held
    s.registry
        .block_on(
            s.registry
                .registry()
                .lift_hold(hold, &change("lee", "legal", "case closed")),
        )
        .unwrap();

    let (envelope, receipt) = run_erase(&mut s).unwrap();
    // The key copy is gone: no release can open it.
    assert!(!key_file.exists());
    assert_eq!(receipt.keys_destroyed.len(), 1);
    assert!(receipt.keys_destroyed[0].starts_with("file:"));
    // Every store unpinned the envelope and every object.
    assert_eq!(receipt.stores.len(), 2);
    for store in &receipt.stores {
        assert_eq!(
            store.unpinned.len(),
            s.published.objects.len() + 1,
            "{store:?}"
        );
    }
    for p in &s.providers {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pins = rt.block_on(p.store().transport().pins()).unwrap();
        for store in &receipt.stores {
            for root in &store.unpinned {
                assert!(!pins.contains(root), "{root} still pinned");
            }
        }
    }
    // The receipt verifies against the eraser's key, not another; the registry keeps it.
    let trust = TrustPolicy::new().trust(dpo.verifying_key(), "privacy".parse().unwrap());
    let json = envelope.to_json();
    assert_eq!(
        ErasureReceipt::verify(json.as_bytes(), &trust, Timestamp::now()).unwrap(),
        receipt
    );
    let other = TrustPolicy::new().trust(
        SigningKey::generate().unwrap().verifying_key(),
        "privacy".parse().unwrap(),
    );
    let e = ErasureReceipt::verify(json.as_bytes(), &other, Timestamp::now()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Verification);
    assert_eq!(
        s.registry
            .block_on(s.registry.registry().erasure_receipt(&cid))
            .unwrap(),
        Some(json.into_bytes())
    );

    // Erasing again is harmless: nothing left to destroy.
    let (_, again) = run_erase(&mut s).unwrap_or_else(|e| panic!("{e}"));
    assert!(again.keys_destroyed.is_empty());

    // A fetch of the erased version is refused (4) before any block is read: with every
    // store emptied, a fetch that read anything would fail as unavailable instead.
    for name in ["a", "b"] {
        std::fs::remove_dir_all(s.w.path(&format!("stores/{name}/blocks"))).unwrap();
    }
    let e = s.refused("out-erased", ErrorKind::Blocked);
    assert!(e.to_string().contains("erased"), "{e}");
}

#[test]
fn dual_approval_through_the_registry() {
    dual_approval_through_the_registry_on(None);
}

fn dual_approval_through_the_registry_on(url: Option<&str>) {
    use dataseal::policy::{
        Approval, ApprovalStatement, ApprovalVerifier, ApproverRole, AuditLog, EntityRef,
        EntityStore, GrantVerifier, PolicyEngine,
    };
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let mut meta = dataseal::DatasetMeta::from_json(META.as_bytes()).unwrap();
    meta.sensitivity = Some(dataseal::Sensitivity::Restricted);
    let published = w
        .publish_meta(meta)
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    let cid = published.manifest_cid;
    let now = Timestamp::now();
    let registry = open_registry(&w, url);
    let verified = verify_envelope(&envelope_of(&published), &w.trust(), now).unwrap();
    registry
        .register_published(
            &verified,
            stewardship(),
            actor("ulrich", "publisher"),
            Reason::new("new version").unwrap(),
            now,
        )
        .unwrap();

    // The decision point knows tess (reads) and carol (compliance); the version's record
    // comes from the registry.
    let engine = PolicyEngine::with_defaults().unwrap();
    let mut b = EntityStore::builder(&engine);
    let group = EntityRef::Group("stories".parse().unwrap());
    b.add_user(
        &"tess".parse().unwrap(),
        &[EntityRef::Role("trainer".parse().unwrap()), group.clone()],
    )
    .unwrap();
    b.add_user(
        &"carol".parse().unwrap(),
        &[
            EntityRef::Role("compliance-reviewer".parse().unwrap()),
            group,
        ],
    )
    .unwrap();
    let entities = b.build().unwrap();
    let key = || SigningKey::generate().unwrap();
    let (olivia, carol, ulrich, mallory) = (key(), key(), key(), key());
    let approvers = ApprovalVerifier::new()
        .trust(
            olivia.verifying_key(),
            "olivia".parse().unwrap(),
            ApproverRole::DataOwner,
        )
        .trust(
            carol.verifying_key(),
            "carol".parse().unwrap(),
            ApproverRole::Compliance,
        )
        .trust(
            ulrich.verifying_key(),
            "ulrich".parse().unwrap(),
            ApproverRole::DataOwner,
        );
    let verifier = GrantVerifier::new(30).trust(w.grant_key.verifying_key());
    let audit = AuditLog::open(w.path("audit.jsonl"));
    let gate = Gate {
        engine: &engine,
        entities: &entities,
        verifier: &verifier,
        audit: Some(&audit),
        approvals: Some(&approvers),
        registry: Some(&registry),
    };
    let approval = |key: &SigningKey, who: &str, role| {
        Approval::sign(
            &ApprovalStatement {
                approver: who.parse().unwrap(),
                cid,
                role,
                time: now,
            },
            key,
        )
        .unwrap()
    };
    let kept = || registry.approvals(&cid).unwrap().len();
    let mut fetch = |out: &str| {
        w.fetch(&published, "research")
            .grant(w.grant(&published, "research", 900, Timestamp::now()))
            .run(
                &mut providers,
                &w.catalog(),
                &w.broker(),
                &gate,
                &w.path(out),
            )
    };
    assert_eq!(
        fetch("out-quarantined").unwrap_err().kind(),
        ErrorKind::Denied
    );

    // Refused, and nothing recorded: the uploader, a forged signature, a key trusted
    // for the other role.
    let refusals = [
        (
            approval(&ulrich, "ulrich", ApproverRole::DataOwner),
            ErrorKind::Denied,
        ),
        (
            approval(&mallory, "olivia", ApproverRole::DataOwner),
            ErrorKind::Verification,
        ),
        (
            approval(&olivia, "olivia", ApproverRole::Compliance),
            ErrorKind::Verification,
        ),
    ];
    for (a, kind) in &refusals {
        let e = registry.approve(a, &approvers, now).unwrap_err();
        assert_eq!(e.kind(), *kind, "{e}");
        assert_eq!(kept(), 0);
    }

    // The data owner: kept, still quarantined; the same role again is refused.
    let first = registry
        .approve(
            &approval(&olivia, "olivia", ApproverRole::DataOwner),
            &approvers,
            now,
        )
        .unwrap();
    assert_eq!(first.state, LifecycleState::Quarantined);
    assert_eq!(
        first.approvals.data_owner().map(ToString::to_string),
        Some("olivia".to_owned())
    );
    let e = registry
        .approve(
            &approval(&olivia, "olivia", ApproverRole::DataOwner),
            &approvers,
            now,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert_eq!(kept(), 1);

    // Compliance: both in, the version moves to approved.
    let second = registry
        .approve(
            &approval(&carol, "carol", ApproverRole::Compliance),
            &approvers,
            now,
        )
        .unwrap();
    assert_eq!(second.state, LifecycleState::Approved);
    let history = registry
        .block_on(registry.registry().history(&cid))
        .unwrap();
    assert_eq!(history.last().unwrap().to, LifecycleState::Approved);
    assert_eq!(history.last().unwrap().actor, actor("carol", "compliance"));

    // Published, the version is read with the approvals the registry keeps: the job
    // presents none.
    registry
        .block_on(registry.registry().transition(
            &cid,
            LifecycleState::Published,
            &change("olivia", "data-owner", "release"),
        ))
        .unwrap();
    fetch("out").unwrap();
    assert_same_as_source(&w.path("out"));
}

#[test]
fn the_retention_sweep_carries_out_each_on_expiry_action_and_skips_held_versions() {
    the_retention_sweep_carries_out_each_on_expiry_action_and_skips_held_versions_on(None);
}

fn the_retention_sweep_carries_out_each_on_expiry_action_and_skips_held_versions_on(
    url: Option<&str>,
) {
    use dataseal::manifest::RetentionAction;
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let registry = open_registry(&w, url);
    let until = Timestamp::now().saturating_add_seconds(5);
    let mut publish = |version: &str, on_expiry: &str| {
        let mut meta: serde_json::Value = serde_json::from_str(META).unwrap();
        meta["version"] = version.into();
        meta["retention"] = serde_json::json!({"onExpiry": on_expiry, "until": until.to_string()});
        let meta = dataseal::DatasetMeta::from_json(meta.to_string().as_bytes()).unwrap();
        let published = w
            .publish_meta(meta)
            .journal(w.path(&format!("journal-{version}")))
            .run(&mut providers, &w.broker(), &w.catalog())
            .unwrap();
        let verified =
            verify_envelope(&envelope_of(&published), &w.trust(), Timestamp::now()).unwrap();
        registry
            .register_published(
                &verified,
                stewardship(),
                actor("ulrich", "publisher"),
                Reason::new("new version").unwrap(),
                Timestamp::now(),
            )
            .unwrap();
        approve(&registry, published.manifest_cid);
        registry
            .block_on(registry.registry().transition(
                &published.manifest_cid,
                LifecycleState::Published,
                &change("olivia", "data-owner", "release"),
            ))
            .unwrap();
        published.manifest_cid
    };
    let deleted = publish("1.0.0", "delete");
    let archived = publish("1.0.1", "archive");
    let reviewed = publish("1.0.2", "review");
    let held = publish("1.0.3", "delete");
    registry
        .block_on(
            registry
                .registry()
                .place_hold(&HoldScope::Version(held), &change("lee", "legal", "case 3")),
        )
        .unwrap();
    let broker = w.broker();
    let dpo = SigningKey::generate().unwrap();
    let sweep = dataseal::Sweep::new(w.trust(), actor("retention-bot", "privacy"));
    let run = |providers: &mut [Provider], at: Timestamp| {
        sweep
            .run(
                &registry,
                &[&broker as &dyn KeyBroker],
                providers,
                &w.catalog(),
                &dpo,
                at,
            )
            .unwrap()
    };

    // Before the end of retention: nothing is due.
    assert!(run(&mut providers, Timestamp::now()).is_empty());

    let later = until.saturating_add_seconds(60);
    let report = run(&mut providers, later);
    let by_cid = |c| report.iter().find(|s| s.cid == c);
    assert_eq!(report.len(), 3, "{report:?}");
    let d = by_cid(deleted).unwrap();
    assert_eq!(d.on_expiry, RetentionAction::Delete);
    let (state, receipt) = d.outcome.clone().unwrap();
    assert_eq!(state, LifecycleState::Erased);
    assert_eq!(receipt.unwrap().1.keys_destroyed.len(), 1);
    assert!(!broker.key_path(&deleted).exists());
    assert_eq!(
        by_cid(archived).unwrap().outcome.clone().unwrap().0,
        LifecycleState::Archived
    );
    assert_eq!(
        by_cid(reviewed).unwrap().outcome.clone().unwrap().0,
        LifecycleState::Expired
    );
    // The held version was left alone, key and all.
    assert!(by_cid(held).is_none());
    assert!(broker.key_path(&held).exists());
    let state = |c| match registry.status(&c).unwrap() {
        dataseal::registry::VersionStatus::Known(k) => k.state,
        other => panic!("{other:?}"),
    };
    assert_eq!(state(held), LifecycleState::Published);
    assert_eq!(state(deleted), LifecycleState::Erased);

    // Sweeping again finds nothing new.
    assert!(run(&mut providers, later).is_empty());
}

/// Every story above, each in a new database of one throw-away PostgreSQL cluster.
/// The state the registry holds for `cid` now.
fn state_of(registry: &SyncRegistry, cid: &dataseal::Cid) -> LifecycleState {
    match registry.status(cid).unwrap() {
        dataseal::registry::VersionStatus::Known(k) => k.state,
        other => panic!("{cid}: {other:?}"),
    }
}

/// Publishing is not something done to a whole dataset.
fn authorize_dataset_publish(
    steward: &dataseal::Steward<'_>,
    dataset: &dataseal::DatasetId,
) -> dataseal::Error {
    steward
        .authorize_dataset(
            dataset,
            &actor("sam", "steward"),
            dataseal::policy::Action::Publish,
            Timestamp::now(),
        )
        .unwrap_err()
}

#[test]
fn governance_changes_are_decided_by_role() {
    governance_changes_are_decided_by_role_on(None);
}

fn governance_changes_are_decided_by_role_on(url: Option<&str>) {
    use dataseal::policy::{EntityRef, EntityStore};
    let s = Setup::new(url);
    let cid = s.published.manifest_cid;
    s.register();
    s.to(LifecycleState::Approved);
    let verified =
        verify_envelope(&envelope_of(&s.published), &s.w.trust(), Timestamp::now()).unwrap();

    // Who holds which role: the version's owner and uploader come from the registry.
    let mut b = EntityStore::builder(&s.decider.engine);
    for (user, roles) in [
        ("sam", &["steward"][..]),
        ("carol", &["compliance-reviewer"]),
        ("olivia", &["data-owner"]),
        ("ulrich", &["uploader", "compliance-reviewer"]),
        ("tess", &["trainer"]),
        ("mallory", &["auditor"]),
    ] {
        let mut parents = vec![EntityRef::Group("stories".parse().unwrap())];
        parents.extend(roles.iter().map(|r| EntityRef::Role(r.parse().unwrap())));
        b.add_user(&user.parse().unwrap(), &parents).unwrap();
    }
    b.add_dataset(
        &"stories".parse().unwrap(),
        &"olivia".parse().unwrap(),
        &"stories".parse().unwrap(),
        &[],
    )
    .unwrap();
    let entities = b.build().unwrap();
    let gate = Gate {
        entities: &entities,
        registry: Some(&s.registry),
        ..s.decider.gate()
    };
    assert_eq!(
        dataseal::Steward::new(Gate {
            registry: None,
            ..gate
        })
        .unwrap_err()
        .kind(),
        ErrorKind::Invalid
    );
    let steward = dataseal::Steward::new(gate).unwrap();
    let refused = |e: dataseal::Error, kind: ErrorKind, state: LifecycleState| {
        assert_eq!(e.kind(), kind, "{e}");
        assert_eq!(state_of(&s.registry, &cid), state, "nothing changed: {e}");
        e
    };

    // A role the principal does not hold is refused before any policy is asked.
    let e = steward
        .transition(
            &verified,
            LifecycleState::Published,
            &change("mallory", "steward", "claims a role"),
        )
        .unwrap_err();
    let e = refused(e, ErrorKind::Denied, LifecycleState::Approved);
    assert!(
        e.to_string().contains("does not hold the role steward"),
        "{e}"
    );
    // A role held, but one no policy lets publish: the trainer, and the auditor.
    for (user, role) in [("tess", "trainer"), ("mallory", "auditor")] {
        let e = steward
            .transition(
                &verified,
                LifecycleState::Published,
                &change(user, role, "not my call"),
            )
            .unwrap_err();
        refused(e, ErrorKind::Denied, LifecycleState::Approved);
    }
    // No change moves a version back to quarantine.
    let e = steward
        .transition(
            &verified,
            LifecycleState::Quarantined,
            &change("sam", "steward", "back"),
        )
        .unwrap_err();
    refused(e, ErrorKind::Invalid, LifecycleState::Approved);

    // The steward publishes; the registry records who, in which role.
    steward
        .transition(
            &verified,
            LifecycleState::Published,
            &change("sam", "steward", "release 1"),
        )
        .unwrap();
    assert_eq!(state_of(&s.registry, &cid), LifecycleState::Published);
    let history = s
        .registry
        .block_on(s.registry.registry().history(&cid))
        .unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.actor, actor("sam", "steward"));
    assert_eq!(last.to, LifecycleState::Published);

    // A hold: only roles allowed to place one; erasure under it is blocked (exit 4),
    // even for the compliance reviewer who may erase.
    let e = steward
        .place_hold(&verified, &change("olivia", "data-owner", "mine"))
        .unwrap_err();
    refused(e, ErrorKind::Denied, LifecycleState::Published);
    let hold = steward
        .place_hold(&verified, &change("sam", "steward", "case 2026-118"))
        .unwrap();
    let e = steward
        .transition(
            &verified,
            LifecycleState::Erased,
            &change("carol", "compliance-reviewer", "request 77"),
        )
        .unwrap_err();
    refused(e, ErrorKind::Blocked, LifecycleState::Published);
    // Lifting needs a role allowed to lift, and the one that placed it.
    let e = steward
        .lift_hold(&verified, hold, &change("tess", "trainer", "done"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    let e = steward
        .lift_hold(
            &verified,
            hold,
            &change("carol", "compliance-reviewer", "done"),
        )
        .unwrap_err();
    assert!(e.to_string().contains("role"), "{e}");
    let active = |id| {
        s.registry
            .block_on(s.registry.registry().hold(id))
            .unwrap()
            .lifted
            .is_none()
    };
    assert!(active(hold), "still held");
    steward
        .lift_hold(&verified, hold, &change("sam", "steward", "case closed"))
        .unwrap();
    assert!(!active(hold));

    // Separation of duties: the uploader cannot approve what they uploaded, even in a
    // role that approves (carol can). A data action is no governance change.
    let authorize = |user: &str, role: &str, action| {
        steward.authorize(&verified, &actor(user, role), action, Timestamp::now())
    };
    use dataseal::policy::Action::{Approve, Train};
    assert!(authorize("carol", "compliance-reviewer", Approve).is_ok());
    let e = authorize("ulrich", "compliance-reviewer", Approve).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    assert!(
        e.to_string().contains("duties.uploader-cannot-approve"),
        "{e}"
    );
    let e = authorize("tess", "trainer", Train).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");

    // A hold on the whole dataset: placed and lifted by roles allowed to, and it blocks
    // the version's erasure while active; a dataset the entities do not list is denied.
    let dataset: dataseal::DatasetId = "stories".parse().unwrap();
    let e = steward
        .place_dataset_hold(&dataset, &change("tess", "trainer", "mine"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    let unknown: dataseal::DatasetId = "elsewhere".parse().unwrap();
    let e = steward
        .place_dataset_hold(&unknown, &change("sam", "steward", "case 2026-119"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    let on_dataset = steward
        .place_dataset_hold(
            &dataset,
            &change("carol", "compliance-reviewer", "case 2026-119"),
        )
        .unwrap();
    let e = steward
        .transition(
            &verified,
            LifecycleState::Erased,
            &change("carol", "compliance-reviewer", "request 78"),
        )
        .unwrap_err();
    refused(e, ErrorKind::Blocked, LifecycleState::Published);
    let e = steward
        .lift_hold(&verified, on_dataset, &change("sam", "steward", "wrong"))
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Invalid,
        "not a hold on the version: {e}"
    );
    steward
        .lift_dataset_hold(
            &dataset,
            on_dataset,
            &change("carol", "compliance-reviewer", "case closed"),
        )
        .unwrap();
    assert!(!active(on_dataset));
    let e = authorize_dataset_publish(&steward, &dataset);
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");

    // The owner revokes their own version.
    steward
        .transition(
            &verified,
            LifecycleState::Revoked,
            &change("olivia", "data-owner", "withdrawn"),
        )
        .unwrap();
    assert_eq!(state_of(&s.registry, &cid), LifecycleState::Revoked);
}

#[test]
fn every_story_on_postgres() {
    let Some(cluster) = pg::PgCluster::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stories: [fn(Option<&str>); 5] = [
        the_registry_decides_at_decision_time_on,
        erasure_shreds_the_key_unpins_and_signs_a_receipt_on,
        dual_approval_through_the_registry_on,
        the_retention_sweep_carries_out_each_on_expiry_action_and_skips_held_versions_on,
        governance_changes_are_decided_by_role_on,
    ];
    for story in stories {
        let url = rt.block_on(cluster.fresh_database());
        story(Some(&url));
    }
}
