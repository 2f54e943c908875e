//! The sealed section of a manifest: what only holders of a version's key-encryption key
//! may read (format in `FORMAT.md` §10).

use std::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use dataseal_base::{KeyEncryptionKey, ObjectId};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::Error;
use crate::keywrap::{WRAPPED_LEN, WrappedKey};

/// The version byte of a sealed section.
pub const SEALED_VERSION: u8 = 1;
/// The version byte of a sealed section's body.
const BODY_VERSION: u8 = 1;
/// Associated-data label of the sealed section.
const SEALED_LABEL: &[u8] = b"dataseal-crypt v1 sealed section";
/// HKDF info of the key that seals the section.
const KEY_INFO: &[u8] = b"dataseal-crypt v1 sealed section key";
/// Nonce length (XChaCha20-Poly1305).
const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
const TAG_LEN: usize = 16;
/// The fixed part of one entry: id length, wrapped key, plaintext digest.
const ENTRY_FIXED: usize = 2 + WRAPPED_LEN + 32;
/// The largest sealed section accepted, in bytes (256 MiB: about 1.8 million entries with
/// 40-byte object ids; larger datasets split into sub-manifests).
pub const MAX_SEALED_LEN: usize = 256 << 20;

/// One object's entry in a [`SealedSection`]: its data key wrapped under the version's
/// key-encryption key, and the SHA-256 digest of its plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedEntry {
    /// The object.
    pub object_id: ObjectId,
    /// Its data key, wrapped for this object under the version's KEK.
    pub wrapped_key: WrappedKey,
    /// SHA-256 of the object's plaintext.
    pub plaintext_sha256: [u8; 32],
}

impl fmt::Debug for SealedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedEntry")
            .field("object_id", &self.object_id)
            .field("wrapped_key", &self.wrapped_key)
            .field("plaintext_sha256", &hex::encode(self.plaintext_sha256))
            .finish()
    }
}

/// The sealed section of a manifest: one [`SealedEntry`] per encrypted object, in the
/// byte order of their object ids, each id once. It is sealed (XChaCha20-Poly1305) under
/// a key derived from the version's key-encryption key and bound to a context (the
/// dataset and version it belongs to), so it opens only for KEK holders and only in the
/// manifest it was made for. Destroying the KEK makes it unreadable with the data.
///
/// ```
/// use dataseal_base::{DataKey, KeyEncryptionKey, ObjectId};
/// use dataseal_crypt::{SealedEntry, SealedSection, WrappedKey};
///
/// let kek = KeyEncryptionKey::generate()?;
/// let id: ObjectId = "ds@1.0.0/train.csv".parse()?;
/// let entry = SealedEntry {
///     wrapped_key: WrappedKey::wrap(&kek, &id, &DataKey::generate()?)?,
///     object_id: id.clone(),
///     plaintext_sha256: [7; 32],
/// };
/// let section = SealedSection::new(vec![entry])?;
/// let sealed = section.seal(&kek, "ds@1.0.0")?;
/// let opened = SealedSection::open(&sealed, &kek, "ds@1.0.0")?;
/// assert_eq!(opened, section);
/// assert!(opened.get(&id).is_some());
/// // Another version's context, or another KEK, does not open it.
/// assert!(SealedSection::open(&sealed, &kek, "ds@2.0.0").is_err());
/// assert!(SealedSection::open(&sealed, &KeyEncryptionKey::generate()?, "ds@1.0.0").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SealedSection {
    entries: Vec<SealedEntry>,
}

fn lp(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u64).to_be_bytes());
    out.extend_from_slice(field);
}

fn aad(context: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + SEALED_LABEL.len() + context.len());
    lp(&mut out, SEALED_LABEL);
    lp(&mut out, context.as_bytes());
    out
}

fn cipher(kek: &KeyEncryptionKey) -> XChaCha20Poly1305 {
    let hk = Hkdf::<Sha256>::new(None, kek.expose_secret());
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA-256's output limit: expand cannot fail.
    let _ = hk.expand(KEY_INFO, key.as_mut());
    XChaCha20Poly1305::new(&Key::from(*key))
}

fn malformed(what: impl Into<String>) -> Error {
    Error::SealedFormat(what.into())
}

/// Reads `n` bytes at the front of `rest`, advancing it.
fn take<'a>(rest: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], Error> {
    if rest.len() < n {
        return Err(malformed(format!("truncated in {what}")));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

impl SealedSection {
    /// A section of these entries, sorted by object id.
    ///
    /// # Errors
    ///
    /// [`Error::SealedFormat`] if an object id appears twice, or the section would be
    /// larger than [`MAX_SEALED_LEN`].
    pub fn new(mut entries: Vec<SealedEntry>) -> Result<Self, Error> {
        entries.sort_by(|a, b| a.object_id.as_bytes().cmp(b.object_id.as_bytes()));
        for pair in entries.windows(2) {
            if let [a, b] = pair
                && a.object_id == b.object_id
            {
                return Err(malformed(format!("object id {} listed twice", a.object_id)));
            }
        }
        let len: usize = entries
            .iter()
            .map(|e| ENTRY_FIXED + e.object_id.as_bytes().len())
            .sum();
        if len + 5 + 1 + NONCE_LEN + TAG_LEN > MAX_SEALED_LEN {
            return Err(malformed("larger than the 256 MiB limit"));
        }
        Ok(Self { entries })
    }

    /// The entries, in object-id byte order.
    #[must_use]
    pub fn entries(&self) -> &[SealedEntry] {
        &self.entries
    }

    /// The entry of one object.
    #[must_use]
    pub fn get(&self, object_id: &ObjectId) -> Option<&SealedEntry> {
        self.entries
            .binary_search_by(|e| e.object_id.as_bytes().cmp(object_id.as_bytes()))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// The section's plaintext body (`FORMAT.md` §10.1).
    #[must_use]
    pub fn to_body(&self) -> Zeroizing<Vec<u8>> {
        let len: usize = self
            .entries
            .iter()
            .map(|e| ENTRY_FIXED + e.object_id.as_bytes().len())
            .sum();
        let mut out = Zeroizing::new(Vec::with_capacity(5 + len + TAG_LEN));
        out.push(BODY_VERSION);
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            let id = e.object_id.as_bytes();
            out.extend_from_slice(&(id.len() as u16).to_be_bytes());
            out.extend_from_slice(id);
            out.extend_from_slice(e.wrapped_key.as_bytes());
            out.extend_from_slice(&e.plaintext_sha256);
        }
        out
    }

    /// Parses a plaintext body strictly: version 1, exactly the announced number of
    /// entries, valid object ids in strictly increasing byte order, nothing after them.
    ///
    /// # Errors
    ///
    /// [`Error::SealedFormat`] naming what is wrong.
    pub fn from_body(body: &[u8]) -> Result<Self, Error> {
        let mut rest = body;
        if take(&mut rest, 1, "the version")? != [BODY_VERSION] {
            return Err(malformed("unknown body version"));
        }
        let count = take(&mut rest, 4, "the entry count")?;
        let count = u32::from_be_bytes(
            count
                .try_into()
                .map_err(|_| malformed("truncated in the entry count"))?,
        ) as usize;
        // Every entry takes at least ENTRY_FIXED + 1 bytes: a count the body cannot hold
        // is refused before anything is allocated for it.
        if count > rest.len() / (ENTRY_FIXED + 1) {
            return Err(malformed(format!(
                "announces {count} entries, more than its length can hold"
            )));
        }
        let mut entries: Vec<SealedEntry> = Vec::with_capacity(count);
        for i in 0..count {
            let what = format!("entry {i}");
            let len = take(&mut rest, 2, &what)?;
            let len = usize::from(u16::from_be_bytes(
                len.try_into()
                    .map_err(|_| malformed(format!("truncated in {what}")))?,
            ));
            let id = take(&mut rest, len, &what)?;
            let id = std::str::from_utf8(id)
                .map_err(|_| malformed(format!("{what}: object id is not UTF-8")))?;
            let object_id: ObjectId = id
                .parse()
                .map_err(|e| malformed(format!("{what}: object id: {e}")))?;
            let mut wrapped = [0u8; WRAPPED_LEN];
            wrapped.copy_from_slice(take(&mut rest, WRAPPED_LEN, &what)?);
            let mut digest = [0u8; 32];
            digest.copy_from_slice(take(&mut rest, 32, &what)?);
            if let Some(prev) = entries.last()
                && prev.object_id.as_bytes() >= object_id.as_bytes()
            {
                return Err(malformed(format!(
                    "{what}: object ids not in strictly increasing byte order"
                )));
            }
            entries.push(SealedEntry {
                object_id,
                wrapped_key: WrappedKey::from_array(wrapped),
                plaintext_sha256: digest,
            });
        }
        if !rest.is_empty() {
            return Err(malformed(format!(
                "{} bytes after the last entry",
                rest.len()
            )));
        }
        Ok(Self { entries })
    }

    /// Seals the section under `kek` for `context` (the dataset and version it belongs
    /// to, `DATASET@VERSION`), with a fresh random nonce.
    ///
    /// # Errors
    ///
    /// [`Error::Base`] if the random generator fails.
    pub fn seal(&self, kek: &KeyEncryptionKey, context: &str) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        dataseal_base::random_bytes(&mut nonce)?;
        self.seal_with_nonce(kek, context, &nonce)
    }

    /// Seals the section with a given nonce, so that a resumed publish reproduces the
    /// sealed bytes exactly.
    ///
    /// <div class="warning">A nonce must be random, and must never seal two different
    /// sections under one key-encryption key: keep it with the inputs it sealed, and
    /// reuse it only for the same section.</div>
    ///
    /// # Errors
    ///
    /// [`Error::SealedFormat`] if encryption fails (it cannot for sections within
    /// [`MAX_SEALED_LEN`]).
    pub fn seal_with_nonce(
        &self,
        kek: &KeyEncryptionKey,
        context: &str,
        nonce: &[u8; NONCE_LEN],
    ) -> Result<Vec<u8>, Error> {
        let body = self.to_body();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len() + TAG_LEN);
        out.push(SEALED_VERSION);
        out.extend_from_slice(nonce);
        let start = out.len();
        out.extend_from_slice(&body);
        let n = XNonce::from(*nonce);
        let tag = cipher(kek)
            .encrypt_inout_detached(
                &n,
                &aad(context),
                out.get_mut(start..).unwrap_or_default().into(),
            )
            .map_err(|_| malformed("encryption failed"))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens a sealed section: checks the version, authenticates it under `kek` and
    /// `context`, then parses the body ([`SealedSection::from_body`]).
    ///
    /// # Errors
    ///
    /// [`Error::SealedFormat`] for a section that is malformed, too short or larger than
    /// [`MAX_SEALED_LEN`], or whose body is malformed; [`Error::SealedOpen`] when it does
    /// not authenticate (a wrong key-encryption key, another version's context, or any
    /// modification).
    pub fn open(sealed: &[u8], kek: &KeyEncryptionKey, context: &str) -> Result<Self, Error> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(malformed("larger than the 256 MiB limit"));
        }
        let mut rest = sealed;
        if take(&mut rest, 1, "the version")? != [SEALED_VERSION] {
            return Err(malformed("unknown version"));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(take(&mut rest, NONCE_LEN, "the nonce")?);
        if rest.len() < TAG_LEN {
            return Err(malformed("truncated in the tag"));
        }
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let tag = Tag::try_from(tag).map_err(|_| malformed("tag"))?;
        let mut body = Zeroizing::new(ciphertext.to_vec());
        cipher(kek)
            .decrypt_inout_detached(
                &XNonce::from(nonce),
                &aad(context),
                body.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| Error::SealedOpen)?;
        Self::from_body(&body)
    }
}
