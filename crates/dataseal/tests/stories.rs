//! The two stories end to end on `dir:` stores: publish a governed version, let an
//! approved job fetch it; and every way they must refuse.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::{Path, PathBuf};

use dataseal::base::dsse::TrustPolicy;
use dataseal::manifest::verify_envelope;
use dataseal::policy::{
    AuditLog, EntityRef, EntityStore, Grant, GrantIssuer, GrantRequest, GrantVerifier,
    PolicyEngine, Principal, VersionRecord, VersionState, verify_log,
};
use dataseal::reputation::Outcome;
use dataseal::{
    DatasetMeta, DirCatalog, ErrorKind, Fetch, FileBroker, Gate, Identity, Problem, Provider,
    Publish, Published, SigningKey, Timestamp,
};

const META: &str = r#"{
  "datasetId": "stories",
  "version": "1.0.0",
  "license": "CC-BY-NC-4.0",
  "licenseConditions": {"academicUse": true, "attribution": true, "commercialUse": false,
                        "nonCommercialUse": true, "shareAlike": false, "tier": "research-only"},
  "purposes": ["research", "training"],
  "regions": ["EU"],
  "sensitivity": "internal"
}"#;

/// Deterministic, incompressible-looking bytes.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The files of the test dataset: sizes around the 64 KiB chunk's boundaries.
fn files() -> Vec<(&'static str, Vec<u8>)> {
    let c = 65_536 - 16;
    vec![
        ("labels.csv", b"id,label\n1,cat\n2,dog\n".to_vec()),
        ("train/a.bin", bytes(1, c)),
        ("train/b.bin", bytes(2, c + 1)),
        ("train/c.bin", bytes(3, 3 * c - 1)),
        ("val/d.bin", bytes(4, 200_000)),
    ]
}

struct World {
    root: tempfile::TempDir,
    publisher: SigningKey,
    compliance: SigningKey,
    grant_key: SigningKey,
    reader: Identity,
}

impl World {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        for (path, data) in files() {
            let p = root.path().join("src").join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        Self {
            root,
            publisher: SigningKey::generate().unwrap(),
            compliance: SigningKey::generate().unwrap(),
            grant_key: SigningKey::generate().unwrap(),
            reader: Identity::generate(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn providers(&self, names: &[&str]) -> Vec<Provider> {
        names
            .iter()
            .map(|n| {
                let dir = self.path(&format!("stores/{n}"));
                Provider::open(&format!("{n}@DE=dir:{}", dir.display()), true).unwrap()
            })
            .collect()
    }

    fn broker(&self) -> FileBroker {
        FileBroker::new(self.path("keys"))
            .recipients([self.reader.to_public()])
            .identities([self.reader.clone()])
    }

    fn catalog(&self) -> DirCatalog {
        DirCatalog::new(self.path("catalog"))
    }

    fn publish(&self) -> Publish {
        Publish::new(
            self.path("src"),
            DatasetMeta::from_json(META.as_bytes()).unwrap(),
        )
        .signer(self.publisher.clone(), "publisher".parse().unwrap())
        .signer(self.compliance.clone(), "compliance".parse().unwrap())
        .chunk_size(dataseal::crypt::ChunkSize::new(65_536).unwrap())
    }

    fn trust(&self) -> TrustPolicy {
        TrustPolicy::new()
            .trust(self.publisher.verifying_key(), "publisher".parse().unwrap())
            .trust(
                self.compliance.verifying_key(),
                "compliance".parse().unwrap(),
            )
    }

    fn grant(&self, published: &Published, purpose: &str, ttl: i64, at: Timestamp) -> Grant {
        GrantIssuer::new(self.grant_key.clone(), "stories")
            .with_ttl_seconds(ttl)
            .issue(
                &GrantRequest {
                    principal: Principal::User("tess".parse().unwrap()),
                    cid: published.manifest_cid,
                    purpose: purpose.parse().unwrap(),
                    region: "DE".parse().unwrap(),
                },
                at,
            )
            .unwrap()
    }

    fn fetch(&self, published: &Published, purpose: &str) -> Fetch {
        Fetch::new(
            published.manifest_cid,
            self.trust(),
            Principal::User("tess".parse().unwrap()),
            dataseal::policy::Action::Train,
            purpose.parse().unwrap(),
            "DE".parse().unwrap(),
        )
        .job("job-1")
    }
}

struct Decider {
    engine: PolicyEngine,
    entities: EntityStore,
    verifier: GrantVerifier,
    audit: AuditLog,
}

impl Decider {
    fn new(world: &World, published: &Published, state: VersionState) -> Self {
        let engine = PolicyEngine::with_defaults().unwrap();
        let verified =
            verify_envelope(&envelope_of(published), &world.trust(), Timestamp::now()).unwrap();
        let record = VersionRecord {
            owner: "olivia".parse().unwrap(),
            organisation: "stories".parse().unwrap(),
            uploader: "ulrich".parse().unwrap(),
            state,
        };
        let mut b = EntityStore::builder(&engine);
        b.add_user(
            &"tess".parse().unwrap(),
            &[EntityRef::Role("trainer".parse().unwrap())],
        )
        .unwrap();
        b.add_version(&verified, &record).unwrap();
        let entities = b.build().unwrap();
        Self {
            engine,
            entities,
            verifier: GrantVerifier::new(30).trust(world.grant_key.verifying_key()),
            audit: AuditLog::open(world.path("audit.jsonl")),
        }
    }

    fn gate(&self) -> Gate<'_> {
        Gate {
            engine: &self.engine,
            entities: &self.entities,
            verifier: &self.verifier,
            audit: Some(&self.audit),
        }
    }
}

fn envelope_of(p: &Published) -> dataseal::base::dsse::Envelope {
    dataseal::base::dsse::Envelope::from_json(p.envelope.as_bytes()).unwrap()
}

/// Every regular file under `dir`, relative.
fn listing(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

fn assert_same_as_source(out: &Path) {
    for (path, data) in files() {
        assert_eq!(std::fs::read(out.join(path)).unwrap(), data, "{path}");
    }
    assert_eq!(listing(out).len(), files().len(), "{:?}", listing(out));
}

#[test]
fn publish_then_fetch_round_trips_every_file() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    assert!(!published.resumed);
    assert_eq!(published.objects.len(), 5);
    for o in &published.objects {
        assert_eq!(
            o.providers.len(),
            2,
            "internal class: two replicas of {}",
            o.path
        );
    }

    let now = Timestamp::now();
    let grant = w.grant(&published, "research", 900, now);
    let decider = Decider::new(&w, &published, VersionState::default());
    let out = w.path("out");
    let fetched = w
        .fetch(&published, "research")
        .grant(grant)
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap();
    assert_same_as_source(&out);
    assert_eq!(fetched.files.len(), 5);
    assert!(fetched.files.iter().all(|f| !f.resumed));
    assert_eq!(fetched.receipt.manifest_cid, published.manifest_cid);
    assert_eq!(fetched.receipt.job.as_deref(), Some("job-1"));
    let c_blocks = &fetched
        .receipt
        .objects
        .iter()
        .find(|o| o.path == "train/c.bin")
        .unwrap()
        .blocks;
    assert_eq!(c_blocks.len(), 3 + 1, "three leaves and their parent");
    assert!(
        fetched
            .events
            .iter()
            .all(|e| e.outcome() == Outcome::Success)
    );
    // The receipt signs and verifies.
    let signer = SigningKey::generate().unwrap();
    let env = fetched.receipt.sign(&signer).unwrap();
    assert_eq!(env.payload_type(), dataseal::RECEIPT_PAYLOAD_TYPE);
    // Every decision is in the audit log.
    let report = verify_log(&std::fs::read(w.path("audit.jsonl")).unwrap(), None, None).unwrap();
    assert_eq!(report.records, 1);

    // Fetching again into the same directory reads nothing: every file is complete.
    let again = w
        .fetch(&published, "research")
        .grant(w.grant(&published, "research", 900, now))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap();
    assert!(again.files.iter().all(|f| f.resumed));
    assert!(again.receipt.objects.iter().all(|o| o.blocks.is_empty()));
}

#[test]
fn no_plaintext_reaches_a_store_or_the_manifest() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    let mut windows = std::collections::HashSet::new();
    for (_, data) in files() {
        for win in data.windows(32) {
            windows.insert(win.to_vec());
        }
    }
    let mut scanned = 0usize;
    for dir in [w.path("stores"), w.path("catalog")] {
        for rel in listing(&dir) {
            let bytes = std::fs::read(dir.join(&rel)).unwrap();
            scanned += bytes.len();
            for win in bytes.windows(32) {
                assert!(!windows.contains(win), "plaintext in {rel}");
            }
        }
    }
    for win in published.envelope.as_bytes().windows(32) {
        assert!(!windows.contains(win), "plaintext in the envelope");
    }
    assert!(scanned > 2 * files().iter().map(|(_, d)| d.len()).sum::<usize>());
}

#[test]
fn quarantine_names_every_problem_and_stores_nothing() {
    let w = World::new();
    let src = w.path("src");
    std::fs::write(src.join("empty.txt"), b"").unwrap();
    std::fs::write(src.join("copy.bin"), bytes(1, 65_536 - 16)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
    std::fs::write(src.join("image.png"), b"this is not a PNG at all").unwrap();
    let mut providers = w.providers(&["a", "b"]);
    let err = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.exit_code(), 2);
    let dataseal::Error::Quarantine(report) = &err else {
        panic!("{err}")
    };
    let find = |p: &str| {
        report
            .files
            .iter()
            .find(|(f, _)| f == p)
            .map(|(_, x)| x.clone())
    };
    assert_eq!(find("empty.txt"), Some(Problem::Empty));
    assert_eq!(find("link"), Some(Problem::Symlink));
    assert!(
        matches!(find("copy.bin"), Some(Problem::Duplicate { .. }))
            || matches!(find("train/a.bin"), Some(Problem::Duplicate { .. }))
    );
    assert!(matches!(
        find("image.png"),
        Some(Problem::TypeMismatch { .. })
    ));
    assert!(
        listing(&w.path("stores"))
            .iter()
            .all(|f| !f.starts_with("a/blocks") && !f.starts_with("b/blocks"))
    );
    assert!(listing(&w.path("catalog")).is_empty());
    assert!(listing(&w.path("keys")).is_empty());
}

#[test]
fn refusals_write_nothing_and_map_to_their_exit_codes() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    let now = Timestamp::now();
    let decider = Decider::new(&w, &published, VersionState::default());
    let out = w.path("out");

    // No grant: denied (3).
    let err = w
        .fetch(&published, "research")
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    // A grant for another purpose than the request's: denied.
    let err = w
        .fetch(&published, "research")
        .grant(w.grant(&published, "training", 900, now))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    // A purpose the manifest does not allow.
    let err = w
        .fetch(&published, "advertising")
        .grant(w.grant(&published, "advertising", 900, now))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    // An expired grant.
    let old = Timestamp::from_unix_seconds(now.unix_seconds() - 3600).unwrap();
    let err = w
        .fetch(&published, "research")
        .grant(w.grant(&published, "research", 60, old))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(listing(&out).is_empty(), "{:?}", listing(&out));

    // Revoked, held, erased: blocked (4).
    for state in [
        VersionState {
            revoked: true,
            ..VersionState::default()
        },
        VersionState {
            legal_hold: true,
            ..VersionState::default()
        },
        VersionState {
            erased: true,
            ..VersionState::default()
        },
    ] {
        let blocked = Decider::new(&w, &published, state);
        let err = w
            .fetch(&published, "research")
            .grant(w.grant(&published, "research", 900, now))
            .run(
                &mut providers,
                &w.catalog(),
                &w.broker(),
                &blocked.gate(),
                &out,
            )
            .unwrap_err();
        assert_eq!(err.exit_code(), 4, "{err}");
        assert!(listing(&out).is_empty());
    }

    // A trust policy that does not know the compliance key: verification fails (1).
    let partial =
        TrustPolicy::new().trust(w.publisher.verifying_key(), "publisher".parse().unwrap());
    let err = Fetch::new(
        published.manifest_cid,
        partial.trust(
            SigningKey::generate().unwrap().verifying_key(),
            "compliance".parse().unwrap(),
        ),
        Principal::User("tess".parse().unwrap()),
        dataseal::policy::Action::Train,
        "research".parse().unwrap(),
        "DE".parse().unwrap(),
    )
    .grant(w.grant(&published, "research", 900, now))
    .run(
        &mut providers,
        &w.catalog(),
        &w.broker(),
        &decider.gate(),
        &out,
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");

    // A tampered envelope given directly: it names another manifest (1).
    let mut doc: serde_json::Value = serde_json::from_str(&published.envelope).unwrap();
    let payload = doc["payload"].as_str().unwrap().to_owned();
    let flipped = if payload.as_bytes()[40] == b'A' {
        "B"
    } else {
        "A"
    };
    doc["payload"] = format!("{}{flipped}{}", &payload[..40], &payload[41..]).into();
    let tampered = doc.to_string();
    let err = w
        .fetch(&published, "research")
        .envelope(tampered.into_bytes())
        .grant(w.grant(&published, "research", 900, now))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(listing(&out).is_empty());

    // Every decision, allowed or not, went to the audit log.
    let report = verify_log(&std::fs::read(w.path("audit.jsonl")).unwrap(), None, None).unwrap();
    assert_eq!(report.records, 7);
}

/// Flips one byte of every block file of an object in one store.
fn corrupt_store(store: &Path) -> usize {
    let mut n = 0;
    for rel in listing(&store.join("blocks")) {
        let p = store.join("blocks").join(rel);
        let mut b = std::fs::read(&p).unwrap();
        if let Some(x) = b.get_mut(7) {
            *x ^= 0x20;
            n += 1;
        }
        std::fs::write(&p, b).unwrap();
    }
    n
}

#[test]
fn a_lying_store_is_routed_around_and_reported() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    assert!(corrupt_store(&w.path("stores/a")) > 5);
    let decider = Decider::new(&w, &published, VersionState::default());
    let out = w.path("out");
    let fetched = w
        .fetch(&published, "research")
        .grant(w.grant(&published, "research", 900, Timestamp::now()))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap();
    assert_same_as_source(&out);
    let bad: Vec<_> = fetched
        .events
        .iter()
        .filter(|e| e.outcome() == Outcome::IntegrityFailure)
        .collect();
    assert!(!bad.is_empty());
    assert!(bad.iter().all(|e| e.provider().as_str() == "a"));
    assert!(
        fetched
            .receipt
            .objects
            .iter()
            .flat_map(|o| &o.blocks)
            .all(|b| b.provider.as_str() == "b")
    );

    // Both stores lie: verification fails (1), no file is left under a final name.
    corrupt_store(&w.path("stores/b"));
    let out2 = w.path("out2");
    let err = w
        .fetch(&published, "research")
        .grant(w.grant(&published, "research", 900, Timestamp::now()))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out2,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(listing(&out2).is_empty(), "{:?}", listing(&out2));
}

#[test]
fn an_interrupted_publish_resumes_to_the_same_manifest() {
    let w = World::new();
    let journal = w.path("journal");
    // Too few providers for two replicas: the publish stops after its journal is kept.
    let mut one = w.providers(&["a"]);
    let err = w
        .publish()
        .journal(&journal)
        .run(&mut one, &w.broker(), &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
    assert!(journal.join("journal.json").is_file());

    // Two resumes from the same journal, one into empty stores and one into stores that
    // already hold part of the blocks, name the same version.
    let copy = w.path("journal-copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(journal.join("journal.json"), copy.join("journal.json")).unwrap();

    let mut two = w.providers(&["a", "b"]);
    let first = w
        .publish()
        .journal(&journal)
        .run(&mut two, &w.broker(), &w.catalog())
        .unwrap();
    assert!(first.resumed);
    assert!(
        !journal.join("journal.json").exists(),
        "a finished publish removes its journal"
    );

    // Drop every block of one store: the second resume uploads those only.
    std::fs::remove_dir_all(w.path("stores/b")).unwrap();
    let mut again = w.providers(&["a", "b"]);
    let second = w
        .publish()
        .journal(&copy)
        .run(&mut again, &w.broker(), &w.catalog())
        .unwrap();
    assert_eq!(second.manifest_cid, first.manifest_cid);
    assert_eq!(second.envelope, first.envelope);
    let blocks: u64 = second.objects.iter().map(|o| o.blocks).sum();
    assert_eq!(
        second.uploaded() * 2,
        blocks,
        "only store b's half was uploaded"
    );

    // A source file changed since the interruption is refused, never re-encrypted under
    // the same key and salt.
    let copy2 = w.path("journal-copy2");
    std::fs::create_dir_all(&copy2).unwrap();
    std::fs::copy(copy.join("journal.json"), copy2.join("journal.json")).ok();
    let w2 = w.path("src/labels.csv");
    std::fs::write(&w2, b"id,label\n1,cow\n").unwrap();
    let mut p = w.providers(&["a", "b"]);
    // The copy's journal is gone (finished); start one and interrupt it again.
    let mut single = w.providers(&["a"]);
    let _ = w
        .publish()
        .journal(&copy2)
        .run(&mut single, &w.broker(), &w.catalog());
    std::fs::write(&w2, b"id,label\n1,hen\n").unwrap();
    let err = w
        .publish()
        .journal(&copy2)
        .run(&mut p, &w.broker(), &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("labels.csv"), "{err}");
}

#[test]
fn verify_reports_replicas_and_repair_restores_them() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();

    // Offline: the envelope and signatures only.
    let shallow = dataseal::Verify::new(published.manifest_cid, w.trust())
        .run(&mut providers, &w.catalog())
        .unwrap();
    assert_eq!(shallow.manifest.cid(), published.manifest_cid);
    assert!(shallow.objects.is_empty());

    // Deep: every object whole on both stores.
    let deep = dataseal::Verify::new(published.manifest_cid, w.trust())
        .deep(true)
        .run(&mut providers, &w.catalog())
        .unwrap();
    assert_eq!(deep.objects.len(), 5);
    assert!(deep.objects.iter().all(|o| o.complete.len() == 2));
    assert_eq!(deep.under_replicated().count(), 0);

    // Store b loses every block: each object has one replica of the two it needs.
    std::fs::remove_dir_all(w.path("stores/b/blocks")).unwrap();
    std::fs::create_dir_all(w.path("stores/b/blocks")).unwrap();
    let deep = dataseal::Verify::new(published.manifest_cid, w.trust())
        .deep(true)
        .run(&mut providers, &w.catalog())
        .unwrap();
    assert_eq!(deep.under_replicated().count(), 5);
    for o in &deep.objects {
        assert_eq!(o.complete.len(), 1);
        assert_eq!(o.complete[0].as_str(), "a");
        assert_eq!(o.incomplete.len(), 1);
    }

    // Repair onto a new provider c (b is eligible too; the choice is seeded).
    let mut three = w.providers(&["a", "b", "c"]);
    let repaired = dataseal::Repair::new(published.manifest_cid, w.trust())
        .run(&mut three, &w.catalog())
        .unwrap();
    assert!(repaired.complete());
    assert_eq!(repaired.objects.len(), 5);
    assert!(
        repaired
            .objects
            .iter()
            .all(|o| o.added.len() == 1 && o.uploaded > 0)
    );
    let after = dataseal::Verify::new(published.manifest_cid, w.trust())
        .deep(true)
        .run(&mut three, &w.catalog())
        .unwrap();
    assert_eq!(after.under_replicated().count(), 0);
    // A second repair has nothing to do.
    let again = dataseal::Repair::new(published.manifest_cid, w.trust())
        .run(&mut three, &w.catalog())
        .unwrap();
    assert!(again.objects.is_empty());

    // Every replica gone: the dataset is incomplete (1).
    for n in ["a", "b", "c"] {
        let blocks = w.path(&format!("stores/{n}/blocks"));
        std::fs::remove_dir_all(&blocks).unwrap();
        std::fs::create_dir_all(&blocks).unwrap();
    }
    let err = dataseal::Verify::new(published.manifest_cid, w.trust())
        .envelope(published.envelope.clone().into_bytes())
        .deep(true)
        .run(&mut three, &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(err.to_string().contains("incomplete"), "{err}");
    // Without the envelope in any store, the version cannot be read (5).
    let err = dataseal::Verify::new(published.manifest_cid, w.trust())
        .run(&mut three, &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
}
