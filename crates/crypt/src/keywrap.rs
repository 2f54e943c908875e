//! Key wrapping: data keys under a key-encryption key, and key-encryption keys sealed to
//! age X25519 recipients.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use dataseal_base::{DataKey, KeyEncryptionKey, ObjectId};
use zeroize::Zeroizing;

use crate::Error;

const WRAP_VERSION: u8 = 1;
const WRAP_LABEL: &[u8] = b"dataseal-crypt v1 data key wrap";
pub(crate) const WRAPPED_LEN: usize = 1 + 24 + 32 + 16;

/// A data key wrapped under a key-encryption key: version byte `0x01`, a random 24-byte
/// XChaCha20 nonce, the encrypted 32-byte key and a 16-byte Poly1305 tag (73 bytes),
/// written as 146 lowercase hexadecimal characters. The object id is authenticated as
/// associated data, so a wrapped key only opens for the object it was made for.
///
/// ```
/// use dataseal_base::{DataKey, KeyEncryptionKey, ObjectId};
/// use dataseal_crypt::WrappedKey;
///
/// let kek = KeyEncryptionKey::generate()?;
/// let dek = DataKey::generate()?;
/// let id: ObjectId = "ds@1.0.0/a".parse()?;
/// let wrapped = WrappedKey::wrap(&kek, &id, &dek)?;
/// let text = wrapped.to_string();
/// let back: WrappedKey = text.parse()?;
/// assert_eq!(back.unwrap(&kek, &id)?, dek);
/// assert!(back.unwrap(&kek, &"ds@1.0.0/b".parse()?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WrappedKey([u8; WRAPPED_LEN]);

fn wrap_aad(object_id: &ObjectId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + WRAP_LABEL.len() + object_id.as_bytes().len());
    for field in [WRAP_LABEL, object_id.as_bytes()] {
        aad.extend_from_slice(&(field.len() as u64).to_be_bytes());
        aad.extend_from_slice(field);
    }
    aad
}

impl WrappedKey {
    /// Wraps `dek` for `object_id` under `kek`, with a fresh random nonce.
    ///
    /// # Errors
    ///
    /// [`Error::Base`] if the random generator fails.
    pub fn wrap(
        kek: &KeyEncryptionKey,
        object_id: &ObjectId,
        dek: &DataKey,
    ) -> Result<Self, Error> {
        let mut out = [0u8; WRAPPED_LEN];
        let (version, rest) = out.split_at_mut(1);
        let (nonce, rest) = rest.split_at_mut(24);
        let (body, tag_out) = rest.split_at_mut(32);
        if let Some(v) = version.first_mut() {
            *v = WRAP_VERSION;
        }
        dataseal_base::random_bytes(nonce)?;
        body.copy_from_slice(dek.expose_secret());
        let cipher = XChaCha20Poly1305::new(&Key::from(*kek.expose_secret()));
        let nonce = XNonce::try_from(&*nonce).map_err(|_| Error::KeyUnwrap("nonce"))?;
        let tag = cipher
            .encrypt_inout_detached(&nonce, &wrap_aad(object_id), body.into())
            .map_err(|_| Error::KeyUnwrap("encryption failed"))?;
        tag_out.copy_from_slice(&tag);
        Ok(Self(out))
    }

    /// Recovers the data key.
    ///
    /// # Errors
    ///
    /// [`Error::KeyUnwrap`] for an unknown version, a wrong key-encryption key, a wrong
    /// object id or any modification.
    pub fn unwrap(&self, kek: &KeyEncryptionKey, object_id: &ObjectId) -> Result<DataKey, Error> {
        let (version, rest) = self.0.split_at(1);
        let (nonce, rest) = rest.split_at(24);
        let (body, tag) = rest.split_at(32);
        if version != [WRAP_VERSION] {
            return Err(Error::WrappedKeyFormat);
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(body);
        let cipher = XChaCha20Poly1305::new(&Key::from(*kek.expose_secret()));
        let nonce = XNonce::try_from(nonce).map_err(|_| Error::KeyUnwrap("nonce"))?;
        let tag = Tag::try_from(tag).map_err(|_| Error::KeyUnwrap("tag"))?;
        cipher
            .decrypt_inout_detached(
                &nonce,
                &wrap_aad(object_id),
                key.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| Error::KeyUnwrap("authentication failed (wrong key or object id)"))?;
        Ok(DataKey::from_bytes(*key))
    }

    /// A wrapped key from its 73 raw bytes (checked when it is unwrapped).
    pub(crate) fn from_array(bytes: [u8; WRAPPED_LEN]) -> Self {
        Self(bytes)
    }

    /// The 73 raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey({self})")
    }
}

impl FromStr for WrappedKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let canonical = s.len() == 2 * WRAPPED_LEN
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !canonical {
            return Err(Error::KeyUnwrap(
                "expected 146 lowercase hexadecimal characters",
            ));
        }
        let mut out = [0u8; WRAPPED_LEN];
        hex::decode_to_slice(s, &mut out).map_err(|_| Error::WrappedKeyFormat)?;
        Ok(Self(out))
    }
}

impl serde::Serialize for WrappedKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for WrappedKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An age X25519 recipient (`age1…`): a public key a key-encryption key can be sealed to.
#[derive(Clone)]
pub struct Recipient(age::x25519::Recipient);

impl FromStr for Recipient {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        s.trim()
            .parse::<age::x25519::Recipient>()
            .map(Self)
            .map_err(|e| Error::Age(format!("invalid recipient: {e}")))
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.0)
    }
}

/// An age X25519 identity (`AGE-SECRET-KEY-1…`): the secret that opens sealed
/// key-encryption keys. Never printed by `Debug`.
#[derive(Clone)]
pub struct Identity(age::x25519::Identity);

impl Identity {
    /// A fresh identity from the operating system's secure random generator.
    #[must_use]
    pub fn generate() -> Self {
        Self(age::x25519::Identity::generate())
    }

    /// The recipient (public key) of this identity.
    #[must_use]
    pub fn to_public(&self) -> Recipient {
        Recipient(self.0.to_public())
    }

    /// The secret in its `AGE-SECRET-KEY-1…` form.
    #[must_use]
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.to_string().expose_secret().to_owned())
    }

    /// The contents of an identity file as `age-keygen` writes it: comment lines naming
    /// the creation time and the public key, then the secret.
    #[must_use]
    pub fn to_identity_file(&self, created: dataseal_base::Timestamp) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "# created: {created}\n# public key: {}\n{}\n",
            self.to_public(),
            self.0.to_string().expose_secret()
        ))
    }

    /// Parses an identity file: one `AGE-SECRET-KEY-1…` per line; blank lines and lines
    /// starting with `#` are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::Age`] naming the first line that is not a valid X25519 identity, or if
    /// the file holds none.
    pub fn parse_file(text: &str) -> Result<Vec<Self>, Error> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let id = line
                .parse::<age::x25519::Identity>()
                .map_err(|_| Error::Age(format!("line {}: not an age X25519 identity", n + 1)))?;
            out.push(Self(id));
        }
        if out.is_empty() {
            return Err(Error::Age("the identity file holds no identity".to_owned()));
        }
        Ok(out)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity(public: {})", self.0.to_public())
    }
}

/// Seals `data` to one or more age recipients as a standard binary age file (used for a
/// manifest's sealed section: plaintext digests and wrapped keys only key holders may
/// read).
///
/// # Errors
///
/// [`Error::Age`] if `recipients` is empty or age fails.
pub fn seal_to_recipients(data: &[u8], recipients: &[Recipient]) -> Result<Vec<u8>, Error> {
    if recipients.is_empty() {
        return Err(Error::Age("no recipients".to_owned()));
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| &r.0 as &dyn age::Recipient))
            .map_err(|e| Error::Age(e.to_string()))?;
    let mut out = Vec::with_capacity(256 * recipients.len() + data.len() + data.len() / 4);
    let mut writer = encryptor.wrap_output(&mut out)?;
    writer.write_all(data)?;
    writer.finish()?;
    Ok(out)
}

/// Opens an age file sealed to any of `identities`, refusing a plaintext longer than
/// `max_len` bytes.
///
/// # Errors
///
/// [`Error::Age`] if the file is malformed, no identity matches, the payload fails
/// authentication, or it is longer than `max_len`.
pub fn open_sealed(
    age_file: &[u8],
    identities: &[Identity],
    max_len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let decryptor =
        age::Decryptor::new_buffered(age_file).map_err(|e| Error::Age(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| &i.0 as &dyn age::Identity))
        .map_err(|e| Error::Age(e.to_string()))?;
    let mut plain = Zeroizing::new(Vec::new());
    (&mut reader)
        .take(max_len as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| Error::Age(format!("payload: {e}")))?;
    if plain.len() > max_len {
        return Err(Error::Age(format!(
            "the sealed payload is longer than {max_len} bytes"
        )));
    }
    Ok(plain)
}

/// Seals a key-encryption key to one or more age recipients: the result is a standard
/// binary age file whose plaintext is the 32 raw key bytes, so `rage -d -i KEY` or
/// `age -d -i KEY` recovers it.
///
/// # Errors
///
/// [`Error::Age`] if `recipients` is empty or age fails.
pub fn seal_kek(kek: &KeyEncryptionKey, recipients: &[Recipient]) -> Result<Vec<u8>, Error> {
    seal_to_recipients(kek.expose_secret(), recipients)
}

/// Opens a key-encryption key sealed by [`seal_kek`] (or by any age implementation over
/// 32 raw bytes) with any of `identities`.
///
/// # Errors
///
/// [`Error::Age`] if the file is malformed, no identity matches, or the plaintext is not
/// exactly 32 bytes.
pub fn open_kek(age_file: &[u8], identities: &[Identity]) -> Result<KeyEncryptionKey, Error> {
    let plain = open_sealed(age_file, identities, 32)?;
    let bytes: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| Error::Age("the sealed key is not 32 bytes".to_owned()))?;
    Ok(KeyEncryptionKey::from_bytes(bytes))
}
