//! Random access to a version: admitted once (verify, decide, release), then read by
//! ranges, each range fetched, re-hashed and decrypted in memory only.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex, PoisonError};

use dataseal_base::{Cid, ProviderId, Timestamp};
use dataseal_crypt::{Decryptor, KeyEncryptionKey, ObjectHeader, SealedSection};
use dataseal_manifest::VerifiedManifest;
use dataseal_policy::Decision;
use dataseal_transport::{FailureKind, Transport, VerifiedRead};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::broker::KeyBroker;
use crate::catalog::Catalog;
use crate::fetch::{Admitted, Fetch, Gate, Receipt, ReceiptObject, ServedChunk, record_read};
use crate::store::{Provider, connect};

/// A version opened for reading by [`Fetch::open`]: its signatures verified, the
/// decision made (and recorded), its key released. Objects are read with
/// [`OpenVersion::open`] (a seekable reader that fetches, verifies and decrypts only the
/// chunks a read touches) or whole with [`OpenVersion::read`]. Plaintext exists only in
/// memory: nothing is written to disk.
///
/// Cheap to clone (the state is shared); every reader it hands out may be used from
/// another thread.
#[derive(Clone)]
pub struct OpenVersion {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for OpenVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenVersion")
            .field("manifest", &self.shared.cid)
            .finish_non_exhaustive()
    }
}

struct Shared {
    cid: Cid,
    /// Taken only when dropped.
    rt: Option<tokio::runtime::Runtime>,
    /// The process that opened the version: its runtime's threads exist only there.
    pid: u32,
    providers: Vec<Provider>,
    /// Provider indices in read order.
    order: Vec<usize>,
    manifest: Arc<VerifiedManifest>,
    decision: Decision,
    kek: KeyEncryptionKey,
    section: SealedSection,
    window: usize,
    receipt: Receipt,
    log: Mutex<ReadLog>,
    progress: Mutex<Option<RangeProgressFn>>,
}

/// A progress callback; see [`OpenVersion::on_progress`].
type RangeProgressFn = Arc<dyn Fn(&RangeProgress<'_>) + Send + Sync>;

/// One range a reader fetched, re-hashed and decrypted, as reported to the callback
/// set with [`OpenVersion::on_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RangeProgress<'a> {
    /// The object's path.
    pub path: &'a str,
    /// Where the range starts in the object's plaintext.
    pub offset: u64,
    /// The range's plaintext length.
    pub len: u64,
    /// The object's plaintext length.
    pub size: u64,
    /// Plaintext bytes fetched by every reader of the version so far, this range
    /// included.
    pub total: u64,
}

impl Shared {
    /// The runtime, in the process that opened the version only: a forked child has
    /// none of its threads, and waiting for them would never end.
    fn runtime(&self) -> Result<&tokio::runtime::Runtime, Error> {
        if std::process::id() != self.pid {
            return Err(Error::Invalid(format!(
                "version {} was opened in another process (before a fork): open it again in this one",
                self.cid
            )));
        }
        self.rt
            .as_ref()
            .ok_or_else(|| Error::Invalid("the version is closed".to_owned()))
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            // Never waits for the runtime's worker threads: after a fork they do not
            // exist in this process.
            rt.shutdown_background();
        }
    }
}

/// What the readers have fetched so far.
#[derive(Default)]
struct ReadLog {
    blocks: BTreeMap<String, Vec<ServedChunk>>,
    integrity_failures: u64,
    remote_reads: u64,
    /// Plaintext bytes decrypted from fetched ranges.
    fetched: u64,
}

/// One object of an opened version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// Its path in the dataset.
    pub path: String,
    /// Its plaintext length in bytes.
    pub size: u64,
}

impl Fetch {
    /// Admits a read of the version as [`Fetch::run`] does (the registry, the envelope
    /// and its signatures, the decision, recorded in the audit log and the registry,
    /// then the key) and hands back the version opened for random access instead of
    /// writing it anywhere. Takes the providers: the opened version reads through them.
    ///
    /// No block of any object is read before the decision allows; a Deny leaves
    /// nothing open.
    ///
    /// # Errors
    ///
    /// As [`Fetch::run`] for everything up to the first block.
    pub fn open(
        &self,
        mut providers: Vec<Provider>,
        catalog: &dyn Catalog,
        broker: &dyn KeyBroker,
        gate: &Gate<'_>,
    ) -> Result<OpenVersion, Error> {
        if providers.is_empty() {
            return Err(Error::Invalid("a read needs at least one store".to_owned()));
        }
        let rt = connect(&mut providers)?;
        let now = Timestamp::now();
        let Admitted {
            manifest,
            decision,
            kek,
            section,
        } = self.admit(&rt, &providers, catalog, broker, gate, now)?;
        let rule = self.placement().rule(manifest.manifest().sensitivity);
        let order = self.read_order(&providers, rule.min_tier)?;
        let receipt = self.receipt(now, Vec::new());
        record_read(gate, self.principal(), &receipt)?;
        Ok(OpenVersion {
            shared: Arc::new(Shared {
                cid: *self.manifest_cid(),
                rt: Some(rt),
                pid: std::process::id(),
                providers,
                order,
                manifest,
                decision,
                kek,
                section,
                window: self.read_window(),
                receipt,
                log: Mutex::new(ReadLog::default()),
                progress: Mutex::new(None),
            }),
        })
    }
}

impl OpenVersion {
    /// The version's manifest CID.
    #[must_use]
    pub fn cid(&self) -> &Cid {
        &self.shared.cid
    }

    /// The verified manifest.
    #[must_use]
    pub fn manifest(&self) -> &VerifiedManifest {
        &self.shared.manifest
    }

    /// The decision that allowed the read.
    #[must_use]
    pub fn decision(&self) -> &Decision {
        &self.shared.decision
    }

    /// Every object, in the manifest's (path) order.
    #[must_use]
    pub fn files(&self) -> Vec<ObjectInfo> {
        self.shared
            .manifest
            .manifest()
            .objects
            .iter()
            .map(|o| ObjectInfo {
                path: o.path.as_str().to_owned(),
                size: o.size,
            })
            .collect()
    }

    /// Opens object `path` for reading: a [`Read`] + [`Seek`] reader that fetches only
    /// the chunks a read touches (re-hashing every block, failing over per block),
    /// authenticates each chunk and decrypts it in memory. Sequential reads fetch ahead.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a path the version does not have;
    /// [`Error::Verification`] for an object without encryption header or sealed entry.
    pub fn open(&self, path: &str) -> Result<ObjectReader, Error> {
        self.shared.runtime()?;
        let m = self.shared.manifest.manifest();
        let entry = m
            .objects
            .iter()
            .find(|o| o.path.as_str() == path)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "version {} has no object {path:?}",
                    self.shared.cid
                ))
            })?;
        let (Some(root), Some(enc)) = (entry.root_cid, entry.encryption.as_ref()) else {
            return Err(Error::Verification(format!(
                "{path}: not an encrypted object (no root CID or encryption header)"
            )));
        };
        let header = ObjectHeader::from_json(enc.as_json().as_bytes())
            .map_err(|e| Error::crypt(format!("{path}: header"), e))?;
        if header.plaintext_len() != entry.size {
            return Err(Error::Verification(format!(
                "{path}: the manifest says {} bytes, its encryption header {}",
                entry.size,
                header.plaintext_len()
            )));
        }
        let sealed = self.shared.section.get(header.object_id()).ok_or_else(|| {
            Error::Verification(format!("{path}: no entry in the sealed section"))
        })?;
        let dek = sealed
            .wrapped_key
            .unwrap(&self.shared.kek, header.object_id())
            .map_err(|e| Error::crypt(format!("{path}: data key"), e))?;
        let digest = sealed.plaintext_sha256;
        let decryptor =
            Decryptor::new(&dek, &header).map_err(|e| Error::crypt(path.to_owned(), e))?;
        let cipher_chunk = header.chunk_size().bytes() as u64;
        let plain_chunk = header.chunk_size().plaintext_len() as u64;
        Ok(ObjectReader {
            shared: Arc::clone(&self.shared),
            path: path.to_owned(),
            root,
            size: entry.size,
            digest,
            ciphertext_len: header.ciphertext_len(),
            chunk_count: header.chunk_count(),
            cipher_chunk,
            plain_chunk,
            decryptor,
            pos: 0,
            first: 0,
            held: 0,
            window: Vec::new(),
            ahead: None,
            spare: Vec::new(),
        })
    }

    /// Reads object `path` whole into memory and checks it against the plaintext digest
    /// in the sealed section as well as chunk by chunk.
    ///
    /// # Errors
    ///
    /// As [`OpenVersion::open`] and [`ObjectReader::read_bytes`];
    /// [`Error::Verification`] when the plaintext does not match its digest.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        let mut reader = self.open(path)?;
        let mut out = vec![0u8; usize::try_from(reader.size).unwrap_or(usize::MAX)];
        let mut done = 0;
        while done < out.len() {
            let n = reader.read_bytes(out.get_mut(done..).unwrap_or_default())?;
            if n == 0 {
                return Err(Error::Verification(format!("{path}: ended early")));
            }
            done += n;
        }
        if <[u8; 32]>::from(Sha256::digest(&out)) != reader.digest {
            return Err(Error::Verification(format!(
                "{path}: the decrypted bytes do not match the digest in the sealed section"
            )));
        }
        Ok(out)
    }

    /// The reproducibility receipt of what the readers have fetched so far: every
    /// block, with the provider that served it, per object in path order.
    #[must_use]
    pub fn receipt(&self) -> Receipt {
        let log = self
            .shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut receipt = self.shared.receipt.clone();
        let m = self.shared.manifest.manifest();
        receipt.objects = m
            .objects
            .iter()
            .filter_map(|o| {
                let blocks = log.blocks.get(o.path.as_str())?;
                Some(ReceiptObject {
                    path: o.path.as_str().to_owned(),
                    root: o.root_cid?,
                    blocks: blocks.clone(),
                })
            })
            .collect();
        receipt
    }

    /// Calls `report` after every range any reader of this version (those already open
    /// included) fetched, re-hashed and decrypted, on the thread that read it; replaces
    /// the callback set before. `report` must not block for long: the read waits.
    pub fn on_progress(&self, report: impl Fn(&RangeProgress<'_>) + Send + Sync + 'static) {
        *self
            .shared
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(report));
    }

    /// Stops calling the progress callback.
    pub fn clear_progress(&self) {
        *self
            .shared
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Plaintext bytes the readers have fetched and decrypted so far.
    #[must_use]
    pub fn bytes_fetched(&self) -> u64 {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fetched
    }

    /// How many ranges the readers have fetched from the stores.
    #[must_use]
    pub fn remote_reads(&self) -> u64 {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remote_reads
    }

    /// How many blocks a store served that did not hash to their CID (each routed
    /// around).
    #[must_use]
    pub fn integrity_failures(&self) -> u64 {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .integrity_failures
    }
}

/// A seekable reader of one object of an [`OpenVersion`]; see [`OpenVersion::open`].
///
/// [`Read`] errors carry the facade's [`Error`] (`io::Error::get_ref` then
/// `downcast_ref::<dataseal::Error>()`); [`ObjectReader::read_bytes`] returns it
/// directly.
pub struct ObjectReader {
    shared: Arc<Shared>,
    path: String,
    root: Cid,
    size: u64,
    digest: [u8; 32],
    ciphertext_len: u64,
    chunk_count: u64,
    cipher_chunk: u64,
    plain_chunk: u64,
    decryptor: Decryptor,
    pos: u64,
    /// The index of the first chunk held.
    first: u64,
    /// How many chunks are held, from `first`.
    held: u64,
    /// The chunks held, decrypted in place: chunk `first + k` starts at
    /// `k * cipher_chunk` (its tag's bytes follow its plaintext). Kept across loads, so
    /// a sequential read allocates (and the kernel zeroes) its window once.
    window: Vec<u8>,
    /// The next window, being fetched and re-hashed on another thread while this one
    /// is decrypted and read (started only by sequential reads).
    ahead: Option<ReadAhead>,
    /// A buffer for the next read-ahead: the window before last, kept for reuse.
    spare: Vec<u8>,
}

/// A window fetched ahead of the reader, on its own thread.
struct ReadAhead {
    /// Its first chunk.
    index: u64,
    /// Its ciphertext length.
    len: u64,
    /// The ciphertext, re-hashed block by block, or why not.
    thread: std::thread::JoinHandle<(Vec<u8>, Result<(), Error>)>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl ObjectReader {
    /// The object's path.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Its plaintext length.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The current position.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Moves to byte `pos` (past the end reads nothing).
    pub fn set_position(&mut self, pos: u64) {
        self.pos = pos;
    }

    /// Reads into `buf` from the current position, as [`Read::read`] does, with the
    /// facade's error.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] / [`Error::Unavailable`] when no store serves a block that
    /// hashes right; [`Error::Crypt`] when a chunk does not authenticate.
    pub fn read_bytes(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        let index = self.pos / self.plain_chunk;
        if !(self.first..self.first + self.held).contains(&index) {
            self.load(index)?;
        }
        let k = index - self.first;
        // The chunk's plaintext: a whole chunk but the last, which ends with the object.
        let start = k * self.cipher_chunk;
        let plain = self.plain_chunk.min(self.size - index * self.plain_chunk);
        let at = self.pos - index * self.plain_chunk;
        let from = usize::try_from(start + at).unwrap_or(usize::MAX);
        let to = usize::try_from(start + plain).unwrap_or(usize::MAX);
        let Some(available) = self.window.get(from..to) else {
            return Err(Error::Verification(format!(
                "{}: chunk {index} missing",
                self.path
            )));
        };
        let n = available.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), available.get(..n)) {
            to.copy_from_slice(from);
        }
        self.pos += n as u64;
        Ok(n)
    }

    /// Fetches, checks and decrypts the chunks from `index`: the reader's window of
    /// them when the read continues the chunks held (sequential), else one. A
    /// sequential load also starts fetching the window after it on another thread, so
    /// that its blocks are fetched and re-hashed while this one is decrypted and read.
    fn load(&mut self, index: u64) -> Result<(), Error> {
        // In a forked child the runtime (and any read-ahead thread) does not exist.
        self.shared.runtime()?;
        let sequential = index == self.first + self.held && self.held > 0;
        let want = if sequential {
            self.shared.window as u64
        } else {
            1
        };
        let (count, offset, len) = self.span(index, want);
        // Nothing is held until the whole window has been checked and decrypted.
        self.held = 0;
        match self.ahead.take() {
            Some(ahead) if ahead.index == index && ahead.len == len => {
                let (buf, result) = ahead.thread.join().unwrap_or_else(|_| {
                    let lost =
                        Error::Invalid(format!("{}: the read-ahead thread failed", self.path));
                    (Vec::new(), Err(lost))
                });
                self.spare = std::mem::replace(&mut self.window, buf);
                result?;
            }
            // A read-ahead of another window (the reader moved) finishes on its own.
            _ => {
                self.window.clear();
                fetch(
                    &self.shared,
                    &self.path,
                    self.root,
                    offset,
                    len,
                    &mut self.window,
                )?;
            }
        }
        let next = index + count;
        if sequential && next < self.chunk_count {
            self.read_ahead(next);
        }
        let step = usize::try_from(self.cipher_chunk).unwrap_or(usize::MAX);
        for (k, chunk) in self.window.chunks_mut(step).enumerate() {
            self.decryptor
                .decrypt_chunk_slice(index + k as u64, chunk)
                .map_err(|e| Error::crypt(self.path.clone(), e))?;
        }
        self.first = index;
        self.held = count;
        let shared = &self.shared;
        let start = index * self.plain_chunk;
        let plain = (count * self.plain_chunk).min(self.size - start);
        let total = {
            let mut log = shared.log.lock().unwrap_or_else(PoisonError::into_inner);
            log.fetched += plain;
            log.fetched
        };
        // Called with no lock held: the callback may ask the version anything.
        let report = shared
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(report) = report {
            report(&RangeProgress {
                path: &self.path,
                offset: start,
                len: plain,
                size: self.size,
                total,
            });
        }
        Ok(())
    }

    /// Up to `want` chunks from `index` (at least one): how many, and the offset and
    /// length of their ciphertext.
    fn span(&self, index: u64, want: u64) -> (u64, u64, u64) {
        let count = want.min(self.chunk_count.saturating_sub(index)).max(1);
        let offset = index * self.cipher_chunk;
        let len = (count * self.cipher_chunk).min(self.ciphertext_len.saturating_sub(offset));
        (count, offset, len)
    }

    /// Starts fetching the window of chunks from `index` on another thread, into the
    /// spare buffer. If the thread cannot be started, the load fetches it itself.
    fn read_ahead(&mut self, index: u64) {
        let (_, offset, len) = self.span(index, self.shared.window as u64);
        let (shared, path, root) = (Arc::clone(&self.shared), self.path.clone(), self.root);
        let mut buf = std::mem::take(&mut self.spare);
        let thread = std::thread::Builder::new()
            .name("dataseal-read-ahead".to_owned())
            .spawn(move || {
                buf.clear();
                let result = fetch(&shared, &path, root, offset, len, &mut buf);
                (buf, result)
            });
        if let Ok(thread) = thread {
            self.ahead = Some(ReadAhead { index, len, thread });
        }
    }
}

/// Fetches `len` ciphertext bytes at `offset` of the object `root` (`path` in the
/// version) into `buf`, every block re-hashed and failed over as [`VerifiedRead`] does,
/// and records which store served which block and the integrity failures seen.
fn fetch(
    shared: &Shared,
    path: &str,
    root: Cid,
    offset: u64,
    len: u64,
    buf: &mut Vec<u8>,
) -> Result<(), Error> {
    let providers = || shared.order.iter().filter_map(|&i| shared.providers.get(i));
    let stores: Vec<&dyn Transport> = providers().map(|p| p.store().transport()).collect();
    let names: Vec<&ProviderId> = providers().map(Provider::id).collect();
    let mut read = VerifiedRead::range(root, offset, len).window(shared.window);
    let result = shared.runtime()?.block_on(read.run(&stores, buf));
    {
        let mut log = shared.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.remote_reads += 1;
        log.integrity_failures += read
            .failures()
            .iter()
            .filter(|f| f.kind == FailureKind::Integrity)
            .count() as u64;
        let served = log.blocks.entry(path.to_owned()).or_default();
        served.extend(read.served().iter().filter_map(|s| {
            names.get(s.store).map(|p| ServedChunk {
                cid: s.cid,
                provider: (*p).clone(),
            })
        }));
    }
    result.map_err(|e| Error::transport(format!("{path}: reading {root}"), e))?;
    if buf.len() as u64 != len {
        return Err(Error::Verification(format!(
            "{path}: {len} bytes asked at {offset}, {} served",
            buf.len()
        )));
    }
    Ok(())
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read_bytes(buf).map_err(std::io::Error::other)
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let Some(target) = target else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            ));
        };
        self.pos = target;
        Ok(target)
    }
}
