//! Checking a version without its keys, and re-replicating what is short of replicas.

use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{Cid, ProviderId, Timestamp};
use dataseal_crypt::ObjectHeader;
use dataseal_manifest::VerifiedManifest;
use dataseal_reputation::{Candidate, Placement, choose_providers};
use dataseal_transport::{Transport, VerifiedRead, upload};
use rand::SeedableRng;

use crate::catalog::Catalog;
use crate::fetch::resolve;
use crate::rules::{PlacementRules, region_allowed};
use crate::store::{Provider, candidate_for, connect};
use crate::{Error, runtime};

/// Where one object's replicas are, as found by a deep verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectReplicas {
    /// The object's path.
    pub path: String,
    /// Its root CID.
    pub root: Cid,
    /// Replicas its sensitivity class asks for.
    pub required: usize,
    /// The providers that served every block of it, each re-hashed.
    pub complete: Vec<ProviderId>,
    /// The providers that could not, with why (a missing block, a bad one, no answer).
    pub incomplete: Vec<(ProviderId, String)>,
}

impl ObjectReplicas {
    /// Whether fewer providers hold a full replica than the class asks for.
    #[must_use]
    pub fn under_replicated(&self) -> bool {
        self.complete.len() < self.required
    }
}

/// What [`Verify`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The verified manifest.
    pub manifest: VerifiedManifest,
    /// With [`Verify::deep`], every object's replicas, in path order; otherwise empty.
    pub objects: Vec<ObjectReplicas>,
}

impl VerifyReport {
    /// The objects below their class's replication factor.
    pub fn under_replicated(&self) -> impl Iterator<Item = &ObjectReplicas> {
        self.objects.iter().filter(|o| o.under_replicated())
    }
}

/// Verifies a version without any key: the envelope read from the stores (or given)
/// carries exactly the manifest the CID names and its signatures meet the trust
/// policy; with [`Verify::deep`], every block of every object is read from every store
/// and re-hashed, and the report says per object which stores hold a full replica.
///
/// A deep verification fails ([`Error::Verification`], the dataset is incomplete) when
/// some object has no full replica on any store; objects that merely have fewer replicas
/// than their class asks for are reported ([`VerifyReport::under_replicated`]) for
/// [`Repair`] to fix.
#[derive(Debug, Clone)]
pub struct Verify {
    manifest: Cid,
    trust: TrustPolicy,
    envelope: Option<Vec<u8>>,
    deep: bool,
    rules: PlacementRules,
    window: usize,
}

impl Verify {
    /// A verification of version `manifest` against `trust`.
    #[must_use]
    pub fn new(manifest: Cid, trust: TrustPolicy) -> Self {
        Self {
            manifest,
            trust,
            envelope: None,
            deep: false,
            rules: PlacementRules::default(),
            window: dataseal_transport::DEFAULT_READ_WINDOW,
        }
    }

    /// Uses this envelope (DSSE JSON) instead of reading it from the stores.
    #[must_use]
    pub fn envelope(mut self, json: Vec<u8>) -> Self {
        self.envelope = Some(json);
        self
    }

    /// Also reads every block of every object from every store.
    #[must_use]
    pub fn deep(mut self, deep: bool) -> Self {
        self.deep = deep;
        self
    }

    /// The placement table that says how many replicas each class needs.
    #[must_use]
    pub fn rules(mut self, rules: PlacementRules) -> Self {
        self.rules = rules;
        self
    }

    /// Runs the verification.
    ///
    /// # Errors
    ///
    /// [`Error::Verification`] / [`Error::Manifest`] for an envelope that does not verify
    /// or carries another manifest, and (deep) for an object no store holds whole;
    /// [`Error::Unavailable`] when the envelope cannot be read from any store.
    pub fn run(
        &self,
        providers: &mut [Provider],
        catalog: &dyn Catalog,
    ) -> Result<VerifyReport, Error> {
        if providers.is_empty() && (self.deep || self.envelope.is_none()) {
            return Err(Error::Invalid(
                "a verification needs at least one store".to_owned(),
            ));
        }
        let rt = connect(providers)?;
        let given = self.envelope.as_deref();
        let now = Timestamp::now();
        let manifest = resolve(
            &rt,
            &self.manifest,
            given,
            catalog,
            providers,
            &self.trust,
            now,
        )?;
        if !self.deep {
            return Ok(VerifyReport {
                manifest,
                objects: Vec::new(),
            });
        }
        let required = self.rules.rule(manifest.manifest().sensitivity).replicas;
        let mut objects = Vec::new();
        for entry in &manifest.manifest().objects {
            let path = entry.path.as_str().to_owned();
            let (Some(root), Some(enc)) = (entry.root_cid, entry.encryption.as_ref()) else {
                return Err(Error::Verification(format!(
                    "{path}: not an encrypted object (no root CID or encryption header)"
                )));
            };
            let header = ObjectHeader::from_json(enc.as_json().as_bytes())
                .map_err(|e| Error::crypt(format!("{path}: header"), e))?;
            let mut replicas = ObjectReplicas {
                path,
                root,
                required,
                complete: Vec::new(),
                incomplete: Vec::new(),
            };
            for p in providers.iter() {
                match rt.block_on(read_whole(p.store().transport(), root, self.window)) {
                    Ok(len) if len == header.ciphertext_len() => {
                        replicas.complete.push(p.id().clone());
                    }
                    Ok(len) => replicas.incomplete.push((
                        p.id().clone(),
                        format!(
                            "{len} bytes of ciphertext where the header says {}",
                            header.ciphertext_len()
                        ),
                    )),
                    Err(e) => replicas.incomplete.push((p.id().clone(), e.to_string())),
                }
            }
            if replicas.complete.is_empty() {
                let why: Vec<String> = replicas
                    .incomplete
                    .iter()
                    .map(|(p, e)| format!("{p}: {e}"))
                    .collect();
                return Err(Error::Verification(format!(
                    "the dataset is incomplete: no store holds all of {} ({root}): {}",
                    replicas.path,
                    why.join("; ")
                )));
            }
            objects.push(replicas);
        }
        Ok(VerifyReport { manifest, objects })
    }
}

/// Reads every block of the file under `root` from one store, re-hashing each, and
/// returns its length.
async fn read_whole(
    store: &dyn Transport,
    root: Cid,
    window: usize,
) -> Result<u64, dataseal_transport::Error> {
    let mut read = VerifiedRead::new(root).window(window);
    let mut sink = tokio::io::sink();
    read.run(&[store], &mut sink).await
}

/// One object [`Repair`] re-replicated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepairedObject {
    /// The object's path.
    pub path: String,
    /// Full replicas before the repair.
    pub before: usize,
    /// The providers that received a replica, each re-verified after the copy.
    pub added: Vec<ProviderId>,
    /// Blocks sent.
    pub uploaded: u64,
    /// Replicas still missing when no further provider was eligible.
    pub still_missing: usize,
}

/// What [`Repair`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepairReport {
    /// The deep verification the repair started from.
    pub before: VerifyReport,
    /// Every object that was under-replicated.
    pub objects: Vec<RepairedObject>,
}

impl RepairReport {
    /// Whether every object now has the replicas its class asks for.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.objects.iter().all(|o| o.still_missing == 0)
    }
}

/// Re-replicates the objects of a version that are below their class's replication
/// factor onto the next eligible providers.
///
/// It starts with a deep [`Verify`]; for each object short of replicas it picks the
/// missing number among the providers that do not hold it whole, under the class's
/// regions and minimum tier, by [`choose_providers`]; copies the object's blocks from a
/// provider that holds it whole (only the blocks the destination lacks, each verified),
/// with the version's envelope, pins both, and reads the copy back, every block
/// re-hashed, before counting it.
#[derive(Debug, Clone)]
pub struct Repair {
    verify: Verify,
    candidates: Vec<Candidate>,
}

impl Repair {
    /// A repair of version `manifest`, whose envelope must verify against `trust`.
    #[must_use]
    pub fn new(manifest: Cid, trust: TrustPolicy) -> Self {
        Self {
            verify: Verify::new(manifest, trust).deep(true),
            candidates: Vec::new(),
        }
    }

    /// The placement table (replicas, regions and tiers per class).
    #[must_use]
    pub fn rules(mut self, rules: PlacementRules) -> Self {
        self.verify = self.verify.rules(rules);
        self
    }

    /// What a reputation model says of the providers (score, status, tier, region).
    #[must_use]
    pub fn candidates(mut self, candidates: impl IntoIterator<Item = Candidate>) -> Self {
        self.candidates.extend(candidates);
        self
    }

    /// Runs the repair.
    ///
    /// # Errors
    ///
    /// The errors of [`Verify::run`]; [`Error::Transport`] when a copy fails;
    /// [`Error::Verification`] when a copy does not read back whole. Too few eligible
    /// providers is not an error: [`RepairedObject::still_missing`] says how many
    /// replicas are still missing.
    pub fn run(
        &self,
        providers: &mut [Provider],
        catalog: &dyn Catalog,
    ) -> Result<RepairReport, Error> {
        let before = self.verify.run(providers, catalog)?;
        let rt = runtime()?;
        let m = before.manifest.manifest();
        let rule = self.verify.rules.rule(m.sensitivity);
        let envelope = catalog.lookup(&self.verify.manifest)?;
        // Seeded from the version: the same repair of the same state picks the same
        // providers.
        let digest = <sha2::Sha256 as sha2::Digest>::digest(self.verify.manifest.to_string());
        let mut seed = [0u8; 8];
        seed.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(u64::from_be_bytes(seed));
        let mut objects = Vec::new();
        for o in before.under_replicated() {
            let need = o.required - o.complete.len();
            let eligible: Vec<Candidate> = providers
                .iter()
                .filter(|p| !o.complete.contains(p.id()))
                .map(|p| candidate_for(&self.candidates, p))
                .filter(|c| region_allowed(&rule.regions, &m.regions, c.region.as_ref()))
                .collect();
            let mut chosen = Vec::new();
            for n in (1..=need).rev() {
                let placement = Placement {
                    replicas: n,
                    min_tier: rule.min_tier,
                    allowed_regions: None,
                    distinct_network_groups: true,
                    exploration_share: 0.0,
                };
                if let Ok(c) = choose_providers(&eligible, &placement, &mut rng) {
                    chosen = c;
                    break;
                }
            }
            let source = o
                .complete
                .first()
                .and_then(|id| providers.iter().find(|p| p.id() == id))
                .ok_or_else(|| Error::Verification(format!("{}: no full replica", o.path)))?;
            let mut done = RepairedObject {
                path: o.path.clone(),
                before: o.complete.len(),
                added: Vec::new(),
                uploaded: 0,
                still_missing: need,
            };
            for id in chosen {
                let Some(dest) = providers.iter().find(|p| *p.id() == id) else {
                    continue;
                };
                let (from, to) = (source.store().transport(), dest.store().transport());
                let copy = |root: Cid| async move {
                    let report = upload(from, to, &root).await?;
                    to.pin(&root).await?;
                    Ok::<_, dataseal_transport::Error>(report.uploaded)
                };
                done.uploaded += rt
                    .block_on(copy(o.root))
                    .map_err(|e| Error::transport(format!("{}: copying to {id}", o.path), e))?;
                if let Some(entry) = &envelope {
                    done.uploaded += rt.block_on(copy(entry.envelope)).map_err(|e| {
                        Error::transport(format!("the envelope: copying to {id}"), e)
                    })?;
                }
                rt.block_on(read_whole(to, o.root, self.verify.window))
                    .map_err(|e| {
                        Error::Verification(format!(
                            "{}: the copy on {id} does not read back: {e}",
                            o.path
                        ))
                    })?;
                done.added.push(id);
                done.still_missing -= 1;
            }
            objects.push(done);
        }
        Ok(RepairReport { before, objects })
    }
}
