//! The stories with the registry in the loop (an embedded SQLite file): the decision
//! reads lifecycle, holds and revoked grants at decision time, a fetch records its
//! read, and erasure shreds the key, unpins the blocks and signs a receipt.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

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

struct Setup {
    w: World,
    providers: Vec<Provider>,
    published: Published,
    registry: SyncRegistry,
    decider: Decider,
}

impl Setup {
    fn new() -> Self {
        let w = World::new();
        let mut providers = w.providers(&["a", "b"]);
        let published = w
            .publish()
            .run(&mut providers, &w.broker(), &w.catalog())
            .unwrap();
        let url = format!("sqlite:{}", w.path("registry.db").display());
        let registry = SyncRegistry::open(&url).unwrap();
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
    let mut s = Setup::new();
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
    let mut s = Setup::new();
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
    let e = erase
        .run(
            &s.registry,
            &[&broker as &dyn KeyBroker],
            &mut s.providers,
            &s.w.catalog(),
            &dpo,
        )
        .unwrap_err();
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

    let (envelope, receipt) = erase
        .run(
            &s.registry,
            &[&broker as &dyn KeyBroker],
            &mut s.providers,
            &s.w.catalog(),
            &dpo,
        )
        .unwrap();
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
    let (_, again) = erase
        .run(
            &s.registry,
            &[&broker as &dyn KeyBroker],
            &mut s.providers,
            &s.w.catalog(),
            &dpo,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.keys_destroyed.is_empty());

    // A fetch of the erased version is refused (4) before any block is read: with every
    // store emptied, a fetch that read anything would fail as unavailable instead.
    for name in ["a", "b"] {
        std::fs::remove_dir_all(s.w.path(&format!("stores/{name}/blocks"))).unwrap();
    }
    let e = s.refused("out-erased", ErrorKind::Blocked);
    assert!(e.to_string().contains("erased"), "{e}");
}
