//! What the facade's tests share: a source dataset, keys, providers, the decision point.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers shared by several test binaries, each using a part of them"
)]

use std::path::{Path, PathBuf};

use dataseal::base::dsse::TrustPolicy;
use dataseal::manifest::verify_envelope;
use dataseal::policy::{
    AuditLog, EntityRef, EntityStore, Grant, GrantIssuer, GrantRequest, GrantVerifier,
    PolicyEngine, Principal, VersionRecord, VersionState,
};
use dataseal::{
    DatasetMeta, DirCatalog, Fetch, FileBroker, Gate, Identity, Provider, Publish, Published,
    SigningKey, Timestamp,
};

pub const META: &str = r#"{
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
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
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
pub fn files() -> Vec<(&'static str, Vec<u8>)> {
    let c = 65_536 - 16;
    vec![
        ("labels.csv", b"id,label\n1,cat\n2,dog\n".to_vec()),
        ("train/a.bin", bytes(1, c)),
        ("train/b.bin", bytes(2, c + 1)),
        ("train/c.bin", bytes(3, 3 * c - 1)),
        ("val/d.bin", bytes(4, 200_000)),
    ]
}

pub struct World {
    pub root: tempfile::TempDir,
    pub publisher: SigningKey,
    pub compliance: SigningKey,
    pub grant_key: SigningKey,
    pub reader: Identity,
}

impl World {
    pub fn new() -> Self {
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

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn providers(&self, names: &[&str]) -> Vec<Provider> {
        names
            .iter()
            .map(|n| {
                let dir = self.path(&format!("stores/{n}"));
                Provider::open(&format!("{n}@DE=dir:{}", dir.display()), true).unwrap()
            })
            .collect()
    }

    pub fn broker(&self) -> FileBroker {
        FileBroker::new(self.path("keys"))
            .recipients([self.reader.to_public()])
            .identities([self.reader.clone()])
    }

    pub fn catalog(&self) -> DirCatalog {
        DirCatalog::new(self.path("catalog"))
    }

    pub fn publish(&self) -> Publish {
        self.publish_meta(DatasetMeta::from_json(META.as_bytes()).unwrap())
    }

    pub fn publish_meta(&self, meta: DatasetMeta) -> Publish {
        Publish::new(self.path("src"), meta)
            .signer(self.publisher.clone(), "publisher".parse().unwrap())
            .signer(self.compliance.clone(), "compliance".parse().unwrap())
            .chunk_size(dataseal::crypt::ChunkSize::new(65_536).unwrap())
    }

    pub fn trust(&self) -> TrustPolicy {
        TrustPolicy::new()
            .trust(self.publisher.verifying_key(), "publisher".parse().unwrap())
            .trust(
                self.compliance.verifying_key(),
                "compliance".parse().unwrap(),
            )
    }

    pub fn grant(&self, published: &Published, purpose: &str, ttl: i64, at: Timestamp) -> Grant {
        GrantIssuer::new(self.grant_key.clone(), "stories")
            .with_ttl_seconds(ttl)
            .issue(
                &GrantRequest {
                    principal: Principal::User("tess".parse().unwrap()),
                    cid: published.manifest_cid,
                    actions: [dataseal::policy::Action::Train].into(),
                    purpose: purpose.parse().unwrap(),
                    region: "DE".parse().unwrap(),
                },
                at,
            )
            .unwrap()
    }

    pub fn fetch(&self, published: &Published, purpose: &str) -> Fetch {
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

impl World {
    /// Fetches `published` for research with a fresh 15-minute grant.
    pub fn read(
        &self,
        providers: &mut [Provider],
        published: &Published,
        decider: &Decider,
        out: &Path,
    ) -> Result<dataseal::Fetched, dataseal::Error> {
        self.fetch(published, "research")
            .grant(self.grant(published, "research", 900, Timestamp::now()))
            .run(
                providers,
                &self.catalog(),
                &self.broker(),
                &decider.gate(),
                out,
            )
    }
}

pub struct Decider {
    pub engine: PolicyEngine,
    pub entities: EntityStore,
    pub verifier: GrantVerifier,
    pub audit: AuditLog,
}

impl Decider {
    pub fn new(world: &World, published: &Published, state: VersionState) -> Self {
        let engine = PolicyEngine::with_defaults().unwrap();
        let verified =
            verify_envelope(&envelope_of(published), &world.trust(), Timestamp::now()).unwrap();
        let record = VersionRecord {
            owner: "olivia".parse().unwrap(),
            organisation: "stories".parse().unwrap(),
            uploader: "ulrich".parse().unwrap(),
            special_category_data: false,
            state,
        };
        let mut b = EntityStore::builder(&engine);
        b.add_user(
            &"tess".parse().unwrap(),
            &[
                EntityRef::Role("trainer".parse().unwrap()),
                EntityRef::Group("stories".parse().unwrap()),
            ],
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

    pub fn gate(&self) -> Gate<'_> {
        Gate {
            engine: &self.engine,
            entities: &self.entities,
            verifier: &self.verifier,
            audit: Some(&self.audit),
            approvals: None,
            registry: None,
        }
    }
}

pub fn envelope_of(p: &Published) -> dataseal::base::dsse::Envelope {
    dataseal::base::dsse::Envelope::from_json(p.envelope.as_bytes()).unwrap()
}

/// Every regular file under `dir`, relative.
pub fn listing(dir: &Path) -> Vec<String> {
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

pub fn assert_same_as_source(out: &Path) {
    for (path, data) in files() {
        assert_eq!(std::fs::read(out.join(path)).unwrap(), data, "{path}");
    }
    assert_eq!(listing(out).len(), files().len(), "{:?}", listing(out));
}

/// Flips one byte of every block file of an object in one store.
pub fn corrupt_store(store: &Path) -> usize {
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
