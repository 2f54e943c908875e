//! Keys, trust and documents read from files, strictly and within bounds: what every
//! caller of the stories needs before it can publish, verify or fetch.
//!
//! Private-key files are read into buffers that are zeroed when dropped. Every read is
//! bounded, so a huge or endless file (a FIFO, `/dev/zero`) is refused, not read.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use std::path::PathBuf;

use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{Role, SigningKey, Timestamp, VerifyingKey};
use dataseal_crypt::{DataKey, Identity, ObjectHeader, Recipient};
use zeroize::Zeroizing;

use crate::{AtomicFile, Error};

/// The largest document [`read_document`] reads: 1 GiB (a manifest of a million objects
/// is about 150 MB).
pub const MAX_DOCUMENT: u64 = 1 << 30;

/// The largest key file read: 64 KiB (a PEM key is a few hundred bytes).
const MAX_KEY_FILE: u64 = 64 << 10;

/// Reads at most `max` bytes of a file into a buffer zeroed when dropped.
fn read_bounded(path: &Path, max: u64, what: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let file = File::open(path).map_err(|e| Error::io_at(&format!("open {what}"), path, e))?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| Error::io_at(&format!("read {what}"), path, e))?;
    if buf.len() as u64 > max {
        return Err(Error::Invalid(format!(
            "{what} {}: larger than {max} bytes",
            path.display()
        )));
    }
    Ok(buf)
}

/// Reads a whole document of at most [`MAX_DOCUMENT`] bytes.
///
/// # Errors
///
/// [`Error::Io`] naming the file when it cannot be read; [`Error::Invalid`] when it is
/// larger.
pub fn read_document(path: &Path) -> Result<Vec<u8>, Error> {
    read_bounded(path, MAX_DOCUMENT, "document").map(|b| b.to_vec())
}

/// Reads a UTF-8 text file of at most [`MAX_DOCUMENT`] bytes.
///
/// # Errors
///
/// As [`read_document`]; [`Error::Invalid`] when it is not UTF-8.
pub fn read_text(path: &Path) -> Result<String, Error> {
    String::from_utf8(read_document(path)?)
        .map_err(|_| Error::Invalid(format!("{}: not UTF-8", path.display())))
}

/// Reads an Ed25519 private key (PKCS#8 PEM, as `dataseal keygen` writes it); every copy
/// of the file's text is zeroed when dropped.
///
/// # Errors
///
/// [`Error::Io`] or [`Error::Invalid`] naming the file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, Error> {
    let bytes = read_bounded(path, MAX_KEY_FILE, "signing key")?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::Invalid(format!("{}: not a PEM file", path.display())))?;
    SigningKey::from_pkcs8_pem(text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

/// Reads an Ed25519 public key (SPKI PEM).
///
/// # Errors
///
/// [`Error::Io`] or [`Error::Invalid`] naming the file.
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, Error> {
    let bytes = read_bounded(path, MAX_KEY_FILE, "public key")?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::Invalid(format!("{}: not a PEM file", path.display())))?;
    VerifyingKey::from_spki_pem(text)
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

/// A trust policy from `KEY.pub=ROLE` entries: each a public key file trusted to sign
/// in a role (a key may be listed in several roles). Add thresholds with
/// [`with_thresholds`].
///
/// # Errors
///
/// [`Error::Invalid`] naming the entry at fault; the errors of [`read_verifying_key`].
pub fn trust_policy<S: AsRef<str>>(trust: &[S]) -> Result<TrustPolicy, Error> {
    let mut policy = TrustPolicy::new();
    for t in trust {
        let t = t.as_ref();
        let (file, role) = t
            .rsplit_once('=')
            .ok_or_else(|| Error::Invalid(format!("{t:?}: expected KEY.pub=ROLE")))?;
        let role: Role = role
            .parse()
            .map_err(|e| Error::Invalid(format!("{t:?}: {e}")))?;
        policy = policy.trust(read_verifying_key(Path::new(file))?, role);
    }
    Ok(policy)
}

/// Adds `ROLE=N` thresholds to a trust policy: at least N valid signatures in the role.
///
/// # Errors
///
/// [`Error::Invalid`] naming the entry at fault.
pub fn with_thresholds<S: AsRef<str>>(
    mut policy: TrustPolicy,
    thresholds: &[S],
) -> Result<TrustPolicy, Error> {
    for t in thresholds {
        let t = t.as_ref();
        let (role, n) = t
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("{t:?}: expected ROLE=N")))?;
        let role: Role = role
            .parse()
            .map_err(|e| Error::Invalid(format!("{t:?}: {e}")))?;
        let n: usize = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            Error::Invalid(format!("{t:?}: N must be a whole number of at least 1"))
        })?;
        policy = policy.threshold(role, n);
    }
    Ok(policy)
}

/// The largest object header read: 64 KiB (a header is a few hundred bytes).
const MAX_HEADER_FILE: u64 = 64 << 10;

/// Reads a data key file: 64 hexadecimal characters and an optional line ending, as
/// [`write_data_key`] writes it.
///
/// # Errors
///
/// [`Error::Io`] or [`Error::Invalid`] naming the file.
pub fn read_data_key(path: &Path) -> Result<DataKey, Error> {
    let bytes = read_bounded(path, MAX_KEY_FILE, "key file")?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::Invalid(format!(
            "key file {}: invalid key: not 64 hexadecimal characters",
            path.display()
        ))
    })?;
    DataKey::from_hex(text).map_err(|e| Error::Invalid(format!("key file {}: {e}", path.display())))
}

/// Writes a new random 256-bit data key to `path` (mode 0600), never replacing a file.
///
/// # Errors
///
/// [`Error::Invalid`] if `path` exists; [`Error::Io`] if it cannot be written.
pub fn write_data_key(path: &Path) -> Result<(), Error> {
    if path.exists() {
        return Err(Error::Invalid(format!(
            "{} already exists; refusing to overwrite it",
            path.display()
        )));
    }
    let key = DataKey::generate()
        .map_err(|e| Error::Invalid(format!("cannot generate a data key: {e}")))?;
    let mut file = AtomicFile::create(path, true)?;
    file.write_all(key.to_hex_line().as_bytes())?;
    file.commit_new()
}

/// Reads and strictly parses an object header (the `header.json` beside a ciphertext).
///
/// # Errors
///
/// [`Error::Io`] naming the file; [`Error::Crypt`] when it is malformed.
pub fn read_header(path: &Path) -> Result<ObjectHeader, Error> {
    let bytes = read_bounded(path, MAX_HEADER_FILE, "header")?;
    ObjectHeader::from_json(&bytes)
        .map_err(|e| Error::crypt(format!("header {}", path.display()), e))
}

/// The key files [`generate_key_dir`] wrote.
#[derive(Debug)]
#[non_exhaustive]
pub struct KeyDir {
    /// `signing.key` (0600), `signing.pub`, `recipient.key` (0600), `recipient.pub`.
    pub files: Vec<PathBuf>,
    /// The age recipient keys can be sealed to (also in `recipient.pub`).
    pub recipient: Recipient,
}

/// Generates a key directory: an Ed25519 signing key pair (`signing.key`, PKCS#8 PEM,
/// 0600; `signing.pub`, SPKI PEM) and an age X25519 identity (`recipient.key`, 0600;
/// `recipient.pub`). A new directory is created 0700. All four files appear, or none:
/// nothing is written if any already exists.
///
/// # Errors
///
/// [`Error::Invalid`] naming existing files; [`Error::Io`] when the directory or a file
/// cannot be written.
pub fn generate_key_dir(dir: &Path, now: Timestamp) -> Result<KeyDir, Error> {
    let names = [
        ("signing.key", true),
        ("signing.pub", false),
        ("recipient.key", true),
        ("recipient.pub", false),
    ];
    let paths: Vec<(PathBuf, bool)> = names
        .iter()
        .map(|(name, secret)| (dir.join(name), *secret))
        .collect();
    let existing: Vec<String> = paths
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Error::Invalid(format!(
            "refusing to overwrite existing key files: {}",
            existing.join(", ")
        )));
    }
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(dir)
        .map_err(|e| Error::io_at("create directory", dir, e))?;
    let signing = SigningKey::generate()
        .map_err(|e| Error::Invalid(format!("cannot generate a signing key: {e}")))?;
    let signing_pem = signing
        .to_pkcs8_pem()
        .map_err(|e| Error::Invalid(format!("signing key: {e}")))?;
    let verifying_pem = signing
        .verifying_key()
        .to_spki_pem()
        .map_err(|e| Error::Invalid(format!("signing key: {e}")))?;
    let identity = Identity::generate();
    let identity_file = identity.to_identity_file(now);
    let recipient = identity.to_public();
    let recipient_line = format!("{recipient}\n");
    let contents: [&[u8]; 4] = [
        signing_pem.as_bytes(),
        verifying_pem.as_bytes(),
        identity_file.as_bytes(),
        recipient_line.as_bytes(),
    ];
    // All four under temporary names first, then renamed in; if a rename fails, the ones
    // already renamed are removed, so no half key set is left behind.
    let mut pending = Vec::with_capacity(4);
    for ((path, secret), bytes) in paths.iter().zip(contents) {
        let mut file = AtomicFile::create(path, *secret)?;
        file.write_all(bytes)?;
        pending.push(file);
    }
    let mut done: Vec<PathBuf> = Vec::with_capacity(4);
    for file in pending {
        let dest = file.dest().to_path_buf();
        if let Err(e) = file.commit_new() {
            for path in &done {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
        done.push(dest);
    }
    Ok(KeyDir {
        files: done,
        recipient,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_dirs_appear_whole_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("k");
        let made = generate_key_dir(&keys, Timestamp::now()).unwrap();
        assert_eq!(made.files.len(), 4);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&keys), 0o700);
        assert_eq!(mode(&keys.join("signing.key")), 0o600);
        assert_eq!(mode(&keys.join("recipient.key")), 0o600);
        let key = read_signing_key(&keys.join("signing.key")).unwrap();
        let public = read_verifying_key(&keys.join("signing.pub")).unwrap();
        assert_eq!(key.verifying_key(), public);
        assert!(matches!(
            generate_key_dir(&keys, Timestamp::now()),
            Err(Error::Invalid(_))
        ));
        let data = dir.path().join("data.key");
        write_data_key(&data).unwrap();
        assert_eq!(mode(&data), 0o600);
        read_data_key(&data).unwrap();
        assert!(matches!(write_data_key(&data), Err(Error::Invalid(_))));
        std::fs::write(dir.path().join("bad.key"), "zz").unwrap();
        assert!(matches!(
            read_data_key(&dir.path().join("bad.key")),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn bounded_reads_refuse_larger_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.key");
        std::fs::write(&p, vec![b'a'; (MAX_KEY_FILE + 1) as usize]).unwrap();
        assert!(matches!(read_signing_key(&p), Err(Error::Invalid(_))));
        assert!(matches!(
            read_verifying_key(&dir.path().join("missing.pub")),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn trust_entries_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let p = dir.path().join("k.pub");
        std::fs::write(&p, key.verifying_key().to_spki_pem().unwrap()).unwrap();
        let good = format!("{}=publisher", p.display());
        let ok = trust_policy(std::slice::from_ref(&good)).unwrap();
        assert!(with_thresholds(ok, &["publisher=1"]).is_ok());
        for (trust, threshold) in [
            (p.display().to_string(), "publisher=1"),
            (good.clone(), "publisher=0"),
            (good.clone(), "publisher"),
            (format!("{}=Not A Role", p.display()), "publisher=1"),
        ] {
            assert!(
                matches!(
                    trust_policy(std::slice::from_ref(&trust))
                        .and_then(|p| with_thresholds(p, &[threshold])),
                    Err(Error::Invalid(_))
                ),
                "{trust} {threshold}"
            );
        }
    }
}
