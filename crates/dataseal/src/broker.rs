//! Key release: a version's key-encryption key reaches a reader only after the policy
//! decision point allowed the read.

use std::fmt;
use std::path::{Path, PathBuf};

use dataseal_base::{Cid, KeyEncryptionKey};
use dataseal_crypt::{Identity, Recipient, open_kek, seal_kek};
use dataseal_policy::Decision;

use crate::Error;
use crate::fsutil::write_atomic;

/// The largest sealed key file read, in bytes.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Proof that the decision point allowed a read of one version: made only by the
/// facade, from an Allow decision, and handed to [`KeyBroker::release`].
#[derive(Debug)]
pub struct Release<'a> {
    version: &'a Cid,
    decision: &'a Decision,
}

impl<'a> Release<'a> {
    /// Only for an allowed decision.
    pub(crate) fn new(version: &'a Cid, decision: &'a Decision) -> Option<Self> {
        decision.is_allowed().then_some(Self { version, decision })
    }

    /// The version whose key is asked for.
    #[must_use]
    pub fn version(&self) -> &Cid {
        self.version
    }

    /// The decision that allowed it (always an Allow).
    #[must_use]
    pub fn decision(&self) -> &Decision {
        self.decision
    }
}

/// Keeps versions' key-encryption keys, and releases one only against a [`Release`].
///
/// The embedded default is [`FileBroker`]; a key service (a KMS, an HSM, the registry)
/// implements the same trait. Destroying every copy of a version's key erases it
/// (crypto-shredding): its ciphertext stays on the network, unreadable.
pub trait KeyBroker: fmt::Debug + Send + Sync {
    /// Keeps the key-encryption key of a newly published version. Depositing the same
    /// key again (a resumed publish) is not an error.
    ///
    /// # Errors
    ///
    /// Whatever keeps the broker from storing it.
    fn deposit(&self, version: &Cid, kek: &KeyEncryptionKey) -> Result<(), Error>;

    /// Releases the key-encryption key of `release.version()`.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the broker holds no key for the version (never
    /// deposited here, or destroyed); [`Error::Verification`] when it holds one the
    /// caller cannot open.
    fn release(&self, release: &Release<'_>) -> Result<KeyEncryptionKey, Error>;

    /// Destroys every copy of the version's key-encryption key the broker holds
    /// (crypto-shredding) and returns the ids of the copies destroyed; none if it holds
    /// none (destroying twice is not an error). After it returns, no copy can be
    /// released or opened.
    ///
    /// # Errors
    ///
    /// Whatever keeps the broker from destroying a copy: the erasure is then not done.
    fn destroy(&self, version: &Cid) -> Result<Vec<String>, Error>;
}

/// The embedded key broker: a directory of `CID.kek.age` files, each a version's
/// key-encryption key sealed to age X25519 recipients (`FORMAT.md` §9), so standard age
/// tools open them too. Deposits seal to the broker's recipients; releases open with the
/// reader's identities.
#[derive(Debug, Clone)]
pub struct FileBroker {
    dir: PathBuf,
    recipients: Vec<Recipient>,
    identities: Vec<Identity>,
}

impl FileBroker {
    /// A broker over `dir` (created on the first deposit).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            recipients: Vec::new(),
            identities: Vec::new(),
        }
    }

    /// Deposits are sealed to these recipients too.
    #[must_use]
    pub fn recipients(mut self, recipients: impl IntoIterator<Item = Recipient>) -> Self {
        self.recipients.extend(recipients);
        self
    }

    /// Releases open with these identities.
    #[must_use]
    pub fn identities(mut self, identities: impl IntoIterator<Item = Identity>) -> Self {
        self.identities.extend(identities);
        self
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding a version's sealed key.
    #[must_use]
    pub fn key_path(&self, version: &Cid) -> PathBuf {
        self.dir.join(format!("{version}.kek.age"))
    }
}

impl KeyBroker for FileBroker {
    fn deposit(&self, version: &Cid, kek: &KeyEncryptionKey) -> Result<(), Error> {
        if self.recipients.is_empty() {
            return Err(Error::Invalid(
                "the key broker has no recipient to seal the key-encryption key to".to_owned(),
            ));
        }
        let sealed = seal_kek(kek, &self.recipients)
            .map_err(|e| Error::crypt("sealing the key-encryption key", e))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io_at("create", &self.dir, e))?;
        write_atomic(&self.key_path(version), &sealed, true)
    }

    fn release(&self, release: &Release<'_>) -> Result<KeyEncryptionKey, Error> {
        use std::io::Read;
        let path = self.key_path(release.version());
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Unavailable(format!(
                    "no key-encryption key for version {} in {}",
                    release.version(),
                    self.dir.display()
                )));
            }
            Err(e) => return Err(Error::io_at("open", &path, e)),
        };
        let mut sealed = Vec::new();
        file.take(MAX_KEY_FILE + 1)
            .read_to_end(&mut sealed)
            .map_err(|e| Error::io_at("read", &path, e))?;
        if sealed.len() as u64 > MAX_KEY_FILE {
            return Err(Error::Invalid(format!(
                "{}: larger than 64 KiB",
                path.display()
            )));
        }
        if self.identities.is_empty() {
            return Err(Error::Invalid(
                "no identity to open the key-encryption key with".to_owned(),
            ));
        }
        open_kek(&sealed, &self.identities).map_err(|e| {
            Error::Verification(format!(
                "the key-encryption key in {} does not open with the identity given: {e}",
                path.display()
            ))
        })
    }

    /// Overwrites the sealed key file with zeros, syncs it, and removes it. Its id is
    /// `file:` and the SHA-256 (hex) of the sealed bytes, which names the copy without
    /// revealing anything of the key.
    fn destroy(&self, version: &Cid) -> Result<Vec<String>, Error> {
        use sha2::{Digest, Sha256};
        use std::io::Write;
        let path = self.key_path(version);
        let sealed = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io_at("read", &path, e)),
        };
        let id = format!("file:{}", hex::encode(Sha256::digest(&sealed)));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| Error::io_at("open", &path, e))?;
        file.write_all(&vec![0u8; sealed.len()])
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io_at("overwrite", &path, e))?;
        drop(file);
        std::fs::remove_file(&path).map_err(|e| Error::io_at("remove", &path, e))?;
        crate::fsutil::sync_dir(&self.dir);
        Ok(vec![id])
    }
}
