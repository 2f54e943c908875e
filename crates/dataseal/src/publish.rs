//! Publishing a governed dataset version.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64ct::Encoding;
use dataseal_base::{Cid, ObjectId, ProviderId, Role, SigningKey, Timestamp};
use dataseal_crypt::{ChunkSize, Encryptor, SealedEntry, SealedSection};
use dataseal_manifest::{CanonicalPath, EncryptionHeader, ObjectEntry, cosign, manifest_cid, sign};
use dataseal_reputation::{Candidate, Placement, choose_providers};
use dataseal_transport::{Block, MAX_CHUNK_LEN, Transport, raw_leaves_root};
use rand::SeedableRng;

use crate::broker::KeyBroker;
use crate::catalog::{Catalog, CatalogEntry};
use crate::journal::Journal;
use crate::meta::DatasetMeta;
use crate::quarantine::{Quarantine, SourceFile};
use crate::rules::{PlacementRules, region_allowed};
use crate::store::{Provider, candidate_for, connect};
use crate::{Error, Progress, ProgressFn};

/// How often the journal records finished objects during a publish.
const JOURNAL_EVERY: Duration = Duration::from_secs(5);

/// Publishes a dataset version: quarantine, encryption, placement, manifest, signatures.
///
/// 1. **Quarantine** ([`Quarantine::check`]) reads and hashes every source file before
///    anything is encrypted; any problem stops the publish with a report naming every
///    file at fault, and nothing is stored.
/// 2. Every file is encrypted client-side (`dataseal-crypt` format v1) under a fresh data
///    key and salt, and each ciphertext chunk is put as a content-addressed block on the
///    providers chosen for it by [`choose_providers`] under its sensitivity class's
///    [`PlacementRules`] (replicas, regions, minimum tier), blocks a provider already has
///    being skipped; every object's root is pinned on them.
/// 3. The manifest lists every object's header and root CID; its sealed section (`FORMAT.md`
///    §10) holds the wrapped data keys and plaintext digests. It is signed in every role
///    given, and the signed envelope itself is stored as a UnixFS file on every provider.
/// 4. The version's key-encryption key goes to the [`KeyBroker`]; the [`Catalog`]
///    records where the envelope is.
///
/// **Resumable**: every random choice (keys, salts, nonces, placement seed, the creation
/// time) is written to a journal (a private directory, removed when the publish
/// completes) before any byte leaves. Re-running after a crash, killed at any point,
/// uploads only what is missing and yields the same manifest CID. A source file changed
/// since the interrupted run is refused, never encrypted under the same key and salt.
///
/// The API is synchronous: it runs its own async runtime, so call it from outside one
/// (in async code, from `spawn_blocking`).
pub struct Publish {
    source: PathBuf,
    meta: DatasetMeta,
    signers: Vec<(SigningKey, Role)>,
    journal: Option<PathBuf>,
    rules: PlacementRules,
    quarantine: Quarantine,
    chunk_size: ChunkSize,
    candidates: Vec<Candidate>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publish")
            .field("source", &self.source)
            .field("meta", &self.meta)
            .field(
                "signers",
                &self.signers.iter().map(|(_, r)| r).collect::<Vec<_>>(),
            )
            .field("journal", &self.journal)
            .field("rules", &self.rules)
            .field("quarantine", &self.quarantine)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

/// One published object and where it went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlacedObject {
    /// Its path.
    pub path: CanonicalPath,
    /// Its plaintext length.
    pub size: u64,
    /// The root CID of its ciphertext.
    pub root: Cid,
    /// The providers holding a replica.
    pub providers: Vec<ProviderId>,
    /// Blocks of the object (leaves and DAG nodes) put or found, over every replica.
    pub blocks: u64,
    /// Of those, the blocks uploaded by this run (the rest were already there).
    pub uploaded: u64,
}

/// What a publish made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Published {
    /// The new version's manifest CID: its name.
    pub manifest_cid: Cid,
    /// The root CID of its signed envelope in the stores.
    pub envelope_cid: Cid,
    /// The signed envelope (DSSE JSON).
    pub envelope: String,
    /// Every object, in path order.
    pub objects: Vec<PlacedObject>,
    /// Whether an interrupted publish was resumed.
    pub resumed: bool,
}

impl Published {
    /// Blocks uploaded by this run, objects and envelope together.
    #[must_use]
    pub fn uploaded(&self) -> u64 {
        self.objects.iter().map(|o| o.uploaded).sum()
    }
}

impl Publish {
    /// A publish of the files under `source`, described by `meta`.
    #[must_use]
    pub fn new(source: impl Into<PathBuf>, meta: DatasetMeta) -> Self {
        Self {
            source: source.into(),
            meta,
            signers: Vec::new(),
            journal: None,
            rules: PlacementRules::default(),
            quarantine: Quarantine::default(),
            chunk_size: ChunkSize::DEFAULT,
            candidates: Vec::new(),
            progress: None,
        }
    }

    /// Signs the manifest with `key` in `role` (at least one signer is required).
    #[must_use]
    pub fn signer(mut self, key: SigningKey, role: Role) -> Self {
        self.signers.push((key, role));
        self
    }

    /// Keeps the publish journal in `dir` (default: a temporary directory, so that an
    /// interrupted publish cannot be resumed).
    #[must_use]
    pub fn journal(mut self, dir: impl Into<PathBuf>) -> Self {
        self.journal = Some(dir.into());
        self
    }

    /// The placement table (default [`PlacementRules::default`]).
    #[must_use]
    pub fn rules(mut self, rules: PlacementRules) -> Self {
        self.rules = rules;
        self
    }

    /// The quarantine limits (default [`Quarantine::default`]; the metadata's ignore
    /// patterns are added to them).
    #[must_use]
    pub fn quarantine(mut self, quarantine: Quarantine) -> Self {
        self.quarantine = quarantine;
        self
    }

    /// The chunk size (default 1 MiB).
    #[must_use]
    pub fn chunk_size(mut self, chunk_size: ChunkSize) -> Self {
        self.chunk_size = chunk_size;
        self
    }

    /// What a reputation model says of the providers (score, status, tier, region,
    /// network group). A provider without a candidate here counts as active, with score
    /// 1, no tier, and the region its [`Provider`] gives.
    #[must_use]
    pub fn candidates(mut self, candidates: impl IntoIterator<Item = Candidate>) -> Self {
        self.candidates.extend(candidates);
        self
    }

    /// Calls `f` as bytes are encrypted and stored.
    #[must_use]
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Runs the publish on `providers`, depositing the key with `broker` and recording
    /// the version in `catalog`.
    ///
    /// # Errors
    ///
    /// [`Error::Quarantine`] naming every problem of the source (nothing is stored);
    /// [`Error::Invalid`] for missing signers, metadata or a bad journal;
    /// [`Error::Unavailable`] when too few providers are eligible or a store cannot be
    /// reached; [`Error::Transport`] when a store refuses a block or answers with another
    /// CID than ours.
    pub fn run(
        &self,
        providers: &mut [Provider],
        broker: &dyn KeyBroker,
        catalog: &dyn Catalog,
    ) -> Result<Published, Error> {
        let (dataset_id, version) = self.meta.identity()?;
        let context = format!("{dataset_id}@{version}");
        if self.signers.is_empty() {
            return Err(Error::Invalid(
                "a publish needs at least one signing key".to_owned(),
            ));
        }
        if providers.is_empty() {
            return Err(Error::Invalid(
                "a publish needs at least one store".to_owned(),
            ));
        }
        let rt = connect(providers)?;

        // 1. Quarantine, before anything is encrypted.
        let mut quarantine = self.quarantine.clone();
        quarantine.ignore.extend(self.meta.ignore.iter().cloned());
        let files = quarantine.check(&self.source)?;

        // 2. The journal: every random choice, kept before any byte leaves.
        let tmp;
        let journal_dir = match &self.journal {
            Some(d) => d.clone(),
            None => {
                tmp = tempfile::tempdir().map_err(|e| Error::io("creating a journal", e))?;
                tmp.path().join("journal")
            }
        };
        let mut journal = Journal::open(
            &journal_dir,
            &context,
            self.meta.created.unwrap_or_else(Timestamp::now),
        )?;
        let kek = journal.kek()?;
        let ids = files
            .iter()
            .map(|f| {
                let id: ObjectId = format!("{context}/{}", f.path)
                    .parse()
                    .map_err(|e| Error::Invalid(format!("object id of {}: {e}", f.path)))?;
                Ok((f.path.as_str().to_owned(), f.sha256, id))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        journal.reconcile(&ids, &kek)?;
        journal.save()?;

        // 3. Placement: which providers hold each object.
        let class = self.meta.sensitivity();
        let rule = self.rules.rule(class);
        let manifest_regions = self.meta.regions.clone().unwrap_or_default();
        let eligible: Vec<Candidate> = providers
            .iter()
            .map(|p| candidate_for(&self.candidates, p))
            .filter(|c| region_allowed(&rule.regions, &manifest_regions, c.region.as_ref()))
            .collect();
        let placement = Placement {
            replicas: rule.replicas,
            min_tier: rule.min_tier,
            allowed_regions: None,
            distinct_network_groups: true,
            exploration_share: 0.0,
        };
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(journal.placement_seed());
        let mut plans = Vec::with_capacity(files.len());
        for f in &files {
            let chosen = choose_providers(&eligible, &placement, &mut rng).map_err(|e| {
                Error::Unavailable(format!(
                    "placing {} ({class:?} class: {} replicas, regions {:?}, minimum tier {:?}): {e}",
                    f.path, rule.replicas, rule.regions, rule.min_tier
                ))
            })?;
            let idx: Vec<usize> = chosen
                .iter()
                .filter_map(|id| providers.iter().position(|p| p.id() == id))
                .collect();
            plans.push(idx);
        }

        let total: u64 = files.iter().map(|f| f.size).sum();
        let mut progress = Progress {
            bytes_done: 0,
            bytes_total: total,
            object: String::new(),
        };

        // 4. Encrypt and store every object. Only a resumed publish asks the stores
        // which blocks they already hold.
        let resumed = journal.resumed();
        let mut objects = Vec::with_capacity(files.len());
        let mut entries = Vec::with_capacity(files.len());
        let mut placed = Vec::with_capacity(files.len());
        let mut saved = Instant::now();
        let recorded = if resumed {
            journal.recorded_chunks()?
        } else {
            std::collections::BTreeMap::new()
        };
        let mut chunk_log = journal.chunk_log()?;
        for ((f, plan), (_, _, id)) in files.iter().zip(&plans).zip(&ids) {
            let (dek, salt) = journal.keys_of(f.path.as_str())?;
            let encryptor = Encryptor::with_salt(&dek, id.clone(), self.chunk_size, salt);
            let stores: Vec<(&ProviderId, &dyn Transport)> = plan
                .iter()
                .filter_map(|&i| providers.get(i))
                .map(|p| (p.id(), p.store().transport()))
                .collect();
            progress.object = f.path.as_str().to_owned();
            let done = journal.object(f.path.as_str())?.done.clone();
            let (header, placed_object) = match rt.block_on(already_stored(done, &stores)) {
                Some(root) => {
                    let header = encryptor
                        .header(f.size)
                        .map_err(|e| Error::crypt(f.path.as_str(), e))?;
                    let blocks = header.chunk_count() * stores.len() as u64;
                    (
                        header,
                        PlacedObject {
                            path: f.path.clone(),
                            size: f.size,
                            root,
                            providers: stores.iter().map(|(id, _)| (*id).clone()).collect(),
                            blocks,
                            uploaded: 0,
                        },
                    )
                }
                None => {
                    let chunks = Chunks {
                        check: resumed,
                        recorded: recorded.get(f.path.as_str()).map_or(&[][..], Vec::as_slice),
                        log: &mut chunk_log,
                    };
                    let stored =
                        self.store_object(&rt, f, &encryptor, &stores, chunks, &mut progress)?;
                    chunk_log.sync()?;
                    stored
                }
            };
            progress.bytes_done = progress
                .bytes_done
                .max(objects_done_bytes(&placed) + f.size);
            self.report(&progress);
            journal.mark_done_in_memory(f.path.as_str(), &placed_object.root);
            if saved.elapsed() >= JOURNAL_EVERY {
                journal.save()?;
                saved = Instant::now();
            }
            let wrapped = journal.object(f.path.as_str())?.wrapped_key.clone();
            entries.push(SealedEntry {
                object_id: id.clone(),
                wrapped_key: wrapped,
                plaintext_sha256: f.sha256,
            });
            objects.push(ObjectEntry {
                encryption: Some(
                    EncryptionHeader::from_json(&header.to_json())
                        .map_err(|e| Error::manifest(f.path.as_str(), e))?,
                ),
                path: f.path.clone(),
                root_cid: Some(placed_object.root),
                sha256: None,
                size: f.size,
            });
            placed.push(placed_object);
        }
        journal.save()?;

        // 5. The manifest, its sealed section and signatures.
        let section =
            SealedSection::new(entries).map_err(|e| Error::crypt("the sealed section", e))?;
        let sealed = section
            .seal_with_nonce(&kek, &context, &journal.sealed_nonce()?)
            .map_err(|e| Error::crypt("sealing the sealed section", e))?;
        let manifest = self.meta.manifest(
            objects,
            journal.created(),
            Some(base64ct::Base64::encode_string(&sealed)),
        )?;
        let mut signers = self.signers.iter();
        let mut envelope = match signers.next() {
            Some((key, role)) => sign(&manifest, key, role.clone())
                .map_err(|e| Error::manifest("signing the manifest", e))?,
            None => return Err(Error::Invalid("no signing key".to_owned())),
        };
        for (key, role) in signers {
            cosign(&mut envelope, key, role.clone())
                .map_err(|e| Error::manifest("co-signing the manifest", e))?;
        }
        // Only the envelope is needed from here on: the manifest's structures and the
        // payload go before its JSON form is built, which keeps the peak for a manifest
        // of many objects to about one copy of it.
        drop(manifest);
        let manifest_cid = manifest_cid(envelope.payload_unverified());
        let envelope_json = envelope.to_json();
        drop(envelope);

        // 6. The envelope as content-addressed blocks, on every provider: one leaf at a
        //    time, so no second copy of the envelope is held; the DAG is the one
        //    `import_bytes` would build over the same chunks.
        let every: Vec<(&ProviderId, &dyn Transport)> = providers
            .iter()
            .map(|p| (p.id(), p.store().transport()))
            .collect();
        let envelope_root = rt.block_on(async {
            let mut leaves = Vec::new();
            for chunk in envelope_json.as_bytes().chunks(MAX_CHUNK_LEN) {
                let leaf = Block::raw(chunk.to_vec());
                put_missing(&leaf, &every, resumed).await?;
                leaves.push((*leaf.cid(), chunk.len() as u64));
            }
            let (root, nodes) =
                raw_leaves_root(leaves).map_err(|e| Error::transport("envelope", e))?;
            for node in &nodes {
                put_missing(node, &every, resumed).await?;
            }
            pin_all(&root, &every).await?;
            Ok::<_, Error>(root)
        })?;

        // 7. The key and the catalog entry; then the journal goes.
        broker.deposit(&manifest_cid, &kek)?;
        catalog.record(&CatalogEntry {
            manifest: manifest_cid,
            envelope: envelope_root,
            envelope_len: envelope_json.len() as u64,
            dataset_id,
            version: version.to_string(),
            published: Timestamp::now(),
        })?;
        journal.finish()?;
        Ok(Published {
            manifest_cid,
            envelope_cid: envelope_root,
            envelope: envelope_json,
            objects: placed,
            resumed,
        })
    }

    fn report(&self, progress: &Progress) {
        if let Some(f) = &self.progress {
            f(progress);
        }
    }

    /// Encrypts one file, putting every block on every chosen store.
    fn store_object(
        &self,
        rt: &tokio::runtime::Runtime,
        f: &SourceFile,
        encryptor: &Encryptor,
        stores: &[(&ProviderId, &dyn Transport)],
        chunks: Chunks<'_>,
        progress: &mut Progress,
    ) -> Result<(dataseal_crypt::ObjectHeader, PlacedObject), Error> {
        let Chunks {
            check,
            recorded,
            log,
        } = chunks;
        let file =
            std::fs::File::open(&f.location).map_err(|e| Error::io_at("open", &f.location, e))?;
        let mut leaves: Vec<(Cid, u64)> = Vec::new();
        let mut blocks = 0u64;
        let mut uploaded = 0u64;
        let mut failure: Option<Error> = None;
        let base = progress.bytes_done;
        let plain_per_chunk = encryptor.chunk_size().plaintext_len() as u64;
        let mut sink = |index: u64, ciphertext: &[u8], cid: &Cid| -> std::io::Result<()> {
            // A chunk an interrupted run logged is already known (and was checked to be
            // the same); any other is logged before it leaves.
            if index >= recorded.len() as u64
                && let Err(e) = log.record(f.path.as_str(), index, cid)
            {
                failure = Some(e);
                return Err(std::io::Error::other("the chunk log cannot be written"));
            }
            let block = Block::raw(ciphertext.to_vec());
            match rt.block_on(put_missing(&block, stores, check)) {
                Ok(n) => {
                    uploaded += n;
                    blocks += stores.len() as u64;
                    leaves.push((*cid, ciphertext.len() as u64));
                    progress.bytes_done = base + ((index + 1) * plain_per_chunk).min(f.size);
                    self.report(progress);
                    Ok(())
                }
                Err(e) => {
                    failure = Some(e);
                    Err(std::io::Error::other("a store refused a block"))
                }
            }
        };
        let header = encryptor.encrypt_resumed(std::io::BufReader::new(file), recorded, &mut sink);
        if let Some(e) = failure {
            return Err(e);
        }
        let header = header.map_err(|e| Error::crypt(f.path.as_str(), e))?;
        if header.plaintext_len() != f.size {
            return Err(Error::Invalid(format!(
                "{} changed while it was encrypted ({} bytes checked, {} encrypted)",
                f.path,
                f.size,
                header.plaintext_len()
            )));
        }
        let (root, dag) =
            raw_leaves_root(leaves).map_err(|e| Error::transport(f.path.as_str(), e))?;
        rt.block_on(async {
            for block in &dag {
                uploaded += put_missing(block, stores, check).await?;
                blocks += stores.len() as u64;
            }
            pin_all(&root, stores).await
        })?;
        Ok((
            header,
            PlacedObject {
                path: f.path.clone(),
                size: f.size,
                root,
                providers: stores.iter().map(|(id, _)| (*id).clone()).collect(),
                blocks,
                uploaded,
            },
        ))
    }
}

/// How an object's chunks are stored: whether stores are asked what they hold first (a
/// resumed publish), what the chunk log says of chunks already out, where new ones are
/// logged.
struct Chunks<'a> {
    check: bool,
    recorded: &'a [Cid],
    log: &'a mut crate::journal::ChunkLog,
}

fn objects_done_bytes(placed: &[PlacedObject]) -> u64 {
    placed.iter().map(|o| o.size).sum()
}

/// The root a journal recorded for an object, if every store still has it.
async fn already_stored(
    done: Option<String>,
    stores: &[(&ProviderId, &dyn Transport)],
) -> Option<Cid> {
    let root: Cid = done?.parse().ok()?;
    for (_, s) in stores {
        if !s.has(&root).await.unwrap_or(false) {
            return None;
        }
    }
    Some(root)
}

/// Puts a block on every store that lacks it; returns how many it was put on. With
/// `check` off (a fresh publish, whose blocks are new) stores are not asked first:
/// putting is idempotent, and some nodes answer for a missing block only after a
/// timeout.
async fn put_missing(
    block: &Block,
    stores: &[(&ProviderId, &dyn Transport)],
    check: bool,
) -> Result<u64, Error> {
    let mut n = 0;
    for (id, s) in stores {
        let present = check
            && s.has(block.cid())
                .await
                .map_err(|e| Error::transport(format!("store {id}: block {}", block.cid()), e))?;
        if !present {
            s.put(block)
                .await
                .map_err(|e| Error::transport(format!("store {id}: putting {}", block.cid()), e))?;
            n += 1;
        }
    }
    Ok(n)
}

async fn pin_all(root: &Cid, stores: &[(&ProviderId, &dyn Transport)]) -> Result<(), Error> {
    for (id, s) in stores {
        s.pin(root)
            .await
            .map_err(|e| Error::transport(format!("store {id}: pinning {root}"), e))?;
    }
    Ok(())
}
