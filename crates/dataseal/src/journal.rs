//! The publish journal: every random choice of a publish, kept before anything is
//! uploaded, so that a publish killed at any point resumes to the same manifest CID.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::io::Write;

use dataseal_base::{Cid, DataKey, KeyEncryptionKey, Timestamp};
use dataseal_crypt::{Salt, WrappedKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Error;
use crate::fsutil::{create_private_dir, write_atomic};

const JOURNAL_VERSION: u32 = 1;
const JOURNAL_FILE: &str = "journal.json";
/// Where every chunk's CID is logged before the chunk is stored (JSON lines).
const CHUNK_LOG: &str = "chunks.jsonl";
/// The largest chunk log read, in bytes (a CID line is about 60 bytes).
const MAX_CHUNK_LOG: u64 = 1 << 30;
/// The largest journal read, in bytes.
const MAX_JOURNAL: u64 = 1 << 30;

/// One object's choices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct JournalObject {
    /// The data key, hex.
    pub dek: String,
    /// The salt, hex.
    pub salt: String,
    /// The wrapped data key.
    pub wrapped_key: WrappedKey,
    /// SHA-256 of the plaintext when the journal was written, hex.
    pub plaintext_sha256: String,
    /// The root CID, once every replica holds every block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JournalFile {
    journal_version: u32,
    dataset: String,
    created: Timestamp,
    kek: String,
    sealed_nonce: String,
    placement_seed: u64,
    objects: BTreeMap<String, JournalObject>,
}

/// A publish journal in a private directory (mode 0700, the file 0600): it holds the
/// version's key-encryption key and every data key until the publish completes, and is
/// removed then.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    file: JournalFile,
    resumed: bool,
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    dataseal_base::random_bytes(&mut b)
        .map_err(|e| Error::Invalid(format!("random generator: {e}")))?;
    Ok(b)
}

fn unhex<const N: usize>(text: &str, what: &str) -> Result<Zeroizing<[u8; N]>, Error> {
    let mut out = Zeroizing::new([0u8; N]);
    hex::decode_to_slice(text, out.as_mut())
        .map_err(|_| Error::Invalid(format!("publish journal: {what} is not {N} bytes of hex")))?;
    Ok(out)
}

impl Journal {
    /// Opens the journal in `dir` for `dataset` (`DATASET@VERSION`), or starts one.
    pub(crate) fn open(dir: &Path, dataset: &str, created: Timestamp) -> Result<Self, Error> {
        use std::io::Read;
        let path = dir.join(JOURNAL_FILE);
        match std::fs::File::open(&path) {
            Ok(f) => {
                let mut bytes = Vec::new();
                f.take(MAX_JOURNAL + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::io_at("read", &path, e))?;
                let file: JournalFile = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::Invalid(format!("{}: not a publish journal: {e}", path.display()))
                })?;
                if file.journal_version != JOURNAL_VERSION {
                    return Err(Error::Invalid(format!(
                        "{}: journal version {} is not supported",
                        path.display(),
                        file.journal_version
                    )));
                }
                if file.dataset != dataset {
                    return Err(Error::Invalid(format!(
                        "{}: the interrupted publish was of {}, not {dataset}",
                        path.display(),
                        file.dataset
                    )));
                }
                Ok(Self {
                    dir: dir.to_path_buf(),
                    file,
                    resumed: true,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_private_dir(dir)?;
                let seed = u64::from_be_bytes(random::<8>()?);
                Ok(Self {
                    dir: dir.to_path_buf(),
                    file: JournalFile {
                        journal_version: JOURNAL_VERSION,
                        dataset: dataset.to_owned(),
                        created,
                        kek: hex::encode(random::<32>()?),
                        sealed_nonce: hex::encode(random::<24>()?),
                        placement_seed: seed,
                        objects: BTreeMap::new(),
                    },
                    resumed: false,
                })
            }
            Err(e) => Err(Error::io_at("open", &path, e)),
        }
    }

    /// Whether an interrupted publish is being resumed.
    pub(crate) fn resumed(&self) -> bool {
        self.resumed
    }

    pub(crate) fn created(&self) -> Timestamp {
        self.file.created
    }

    pub(crate) fn kek(&self) -> Result<KeyEncryptionKey, Error> {
        Ok(KeyEncryptionKey::from_bytes(*unhex::<32>(
            &self.file.kek,
            "kek",
        )?))
    }

    pub(crate) fn sealed_nonce(&self) -> Result<[u8; 24], Error> {
        Ok(*unhex::<24>(&self.file.sealed_nonce, "sealedNonce")?)
    }

    pub(crate) fn placement_seed(&self) -> u64 {
        self.file.placement_seed
    }

    /// Makes sure the journal lists exactly these files with these digests: new files get
    /// fresh keys and salts; a file whose content changed, or that is gone, since the
    /// interrupted publish is refused (its key and salt must never encrypt other bytes).
    pub(crate) fn reconcile(
        &mut self,
        files: &[(String, [u8; 32], dataseal_base::ObjectId)],
        kek: &KeyEncryptionKey,
    ) -> Result<(), Error> {
        for (path, sha, _) in files {
            if let Some(o) = self.file.objects.get(path)
                && o.plaintext_sha256 != hex::encode(sha)
            {
                return Err(Error::Invalid(format!(
                    "{path} changed since the interrupted publish: restore it, or remove the publish journal in {} to start over",
                    self.dir.display()
                )));
            }
        }
        if let Some(gone) = self
            .file
            .objects
            .keys()
            .find(|k| !files.iter().any(|(p, _, _)| p == *k))
        {
            return Err(Error::Invalid(format!(
                "{gone} was part of the interrupted publish and is gone: restore it, or remove the publish journal in {} to start over",
                self.dir.display()
            )));
        }
        for (path, sha, id) in files {
            if self.file.objects.contains_key(path) {
                continue;
            }
            let dek = DataKey::from_bytes(random::<32>()?);
            let wrapped = WrappedKey::wrap(kek, id, &dek)
                .map_err(|e| Error::crypt(format!("wrapping the key of {path}"), e))?;
            self.file.objects.insert(
                path.clone(),
                JournalObject {
                    dek: dek.to_hex_line().trim_end().to_owned(),
                    salt: hex::encode(random::<32>()?),
                    wrapped_key: wrapped,
                    plaintext_sha256: hex::encode(sha),
                    done: None,
                },
            );
        }
        Ok(())
    }

    pub(crate) fn object(&self, path: &str) -> Result<&JournalObject, Error> {
        self.file
            .objects
            .get(path)
            .ok_or_else(|| Error::Invalid(format!("publish journal: no entry for {path}")))
    }

    pub(crate) fn keys_of(&self, path: &str) -> Result<(DataKey, Salt), Error> {
        let o = self.object(path)?;
        Ok((
            DataKey::from_bytes(*unhex::<32>(&o.dek, "dek")?),
            Salt::from_bytes(*unhex::<32>(&o.salt, "salt")?),
        ))
    }

    /// Records that every replica of an object holds every block (written with the
    /// next [`Journal::save`]).
    pub(crate) fn mark_done_in_memory(&mut self, path: &str, root: &dataseal_base::Cid) {
        if let Some(o) = self.file.objects.get_mut(path) {
            o.done = Some(root.to_string());
        }
    }

    /// Writes the journal (atomically, mode 0600).
    pub(crate) fn save(&self) -> Result<(), Error> {
        let json = Zeroizing::new(
            serde_json::to_vec(&self.file)
                .map_err(|e| Error::Invalid(format!("publish journal: {e}")))?,
        );
        write_atomic(&self.dir.join(JOURNAL_FILE), &json, true)
    }

    /// The chunk CIDs an interrupted publish logged, per object path, in order: every
    /// chunk that may have reached a store. A last line without its newline (the process
    /// died writing it) was never followed by an upload and is left out.
    pub(crate) fn recorded_chunks(&self) -> Result<BTreeMap<String, Vec<Cid>>, Error> {
        use std::io::Read;
        let log = self.dir.join(CHUNK_LOG);
        let file = match std::fs::File::open(&log) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(Error::io_at("open", &log, e)),
        };
        let mut text = String::new();
        file.take(MAX_CHUNK_LOG)
            .read_to_string(&mut text)
            .map_err(|e| Error::io_at("read", &log, e))?;
        let complete = text
            .rfind('\n')
            .map_or("", |end| text.get(..end).unwrap_or(""));
        let mut out: BTreeMap<String, Vec<Cid>> = BTreeMap::new();
        for (n, line) in complete.lines().enumerate() {
            let bad =
                |why: &str| Error::Invalid(format!("{} line {}: {why}", log.display(), n + 1));
            let record: ChunkRecord =
                serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
            let cids = out.entry(record.object).or_default();
            if record.index != cids.len() as u64 {
                return Err(bad("chunk records out of order"));
            }
            cids.push(record.cid);
        }
        Ok(out)
    }

    /// Opens the publish's chunk log for appending.
    pub(crate) fn chunk_log(&self) -> Result<ChunkLog, Error> {
        let log = self.dir.join(CHUNK_LOG);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| Error::io_at("open", &log, e))?;
        Ok(ChunkLog { file, path: log })
    }

    /// Removes the journal once the publish is complete.
    pub(crate) fn finish(self) -> Result<(), Error> {
        let path = self.dir.join(JOURNAL_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io_at("remove", &path, e)),
        }
        let chunks = self.dir.join(CHUNK_LOG);
        match std::fs::remove_file(&chunks) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io_at("remove", &chunks, e)),
        }
        let _ = std::fs::remove_dir(&self.dir);
        Ok(())
    }
}

/// One line of the chunk log.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChunkRecord {
    object: String,
    index: u64,
    cid: Cid,
}

/// The publish's chunk log: each chunk's CID is written before the chunk goes to any
/// store, so a resumed publish knows every ciphertext already out and never lets a
/// different one follow it under the same key and nonce. Each record is one `write` to
/// the file, so it survives the process being killed at any point; the log is flushed
/// to disk after every object ([`ChunkLog::sync`]).
#[derive(Debug)]
pub(crate) struct ChunkLog {
    file: std::fs::File,
    path: PathBuf,
}

impl ChunkLog {
    /// Records chunk `index` of `object` as `cid`.
    pub(crate) fn record(&mut self, object: &str, index: u64, cid: &Cid) -> Result<(), Error> {
        let record = ChunkRecord {
            object: object.to_owned(),
            index,
            cid: *cid,
        };
        let mut line =
            serde_json::to_vec(&record).map_err(|e| Error::Invalid(format!("chunk log: {e}")))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| Error::io_at("write", &self.path, e))
    }

    /// Flushes the log to disk.
    pub(crate) fn sync(&self) -> Result<(), Error> {
        self.file
            .sync_data()
            .map_err(|e| Error::io_at("flush", &self.path, e))
    }
}
