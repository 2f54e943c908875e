//! Keys, trust and documents read from files, strictly and within bounds: what every
//! caller of the stories needs before it can publish, verify or fetch.
//!
//! Private-key files are read into buffers that are zeroed when dropped. Every read is
//! bounded, so a huge or endless file (a FIFO, `/dev/zero`) is refused, not read.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{Role, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::Error;

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

#[cfg(test)]
mod tests {
    use super::*;

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
