//! The object header: everything a reader needs besides the key and the ciphertext.

use std::fmt;

use dataseal_base::ObjectId;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Suite 1: ChaCha20-Poly1305 (IETF) with keys derived by HKDF-SHA-256.
pub const SUITE: u8 = 1;
/// Bytes of Poly1305 tag at the end of every ciphertext chunk.
pub const TAG_LEN: usize = 16;
/// The largest plaintext the format describes: 2^53 − 1 bytes, so that every length is
/// an exact JSON (and DAG-JSON) integer.
pub const MAX_PLAINTEXT_LEN: u64 = (1 << 53) - 1;

/// The size of a ciphertext chunk in bytes, tag included: a power of two from 64 KiB to
/// 1 MiB. One chunk is one content-addressed block.
///
/// ```
/// use dataseal_crypt::ChunkSize;
/// assert_eq!(ChunkSize::DEFAULT.get(), 1 << 20);
/// assert_eq!(ChunkSize::new(65536)?.plaintext_len(), 65536 - 16);
/// assert!(ChunkSize::new(100_000).is_err());
/// # Ok::<(), dataseal_crypt::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkSize(u32);

impl ChunkSize {
    /// 64 KiB, the smallest chunk size.
    pub const MIN: Self = Self(1 << 16);
    /// 1 MiB, the largest chunk size: the largest block every BTFS and Kubo generation
    /// exchanges.
    pub const MAX: Self = Self(1 << 20);
    /// The default: 1 MiB.
    pub const DEFAULT: Self = Self::MAX;

    /// Checks a chunk size given in bytes.
    ///
    /// # Errors
    ///
    /// [`Error::ChunkSize`] unless `bytes` is a power of two from 65536 to 1048576.
    pub fn new(bytes: u64) -> Result<Self, Error> {
        if bytes.is_power_of_two()
            && bytes >= u64::from(Self::MIN.0)
            && bytes <= u64::from(Self::MAX.0)
        {
            u32::try_from(bytes)
                .map(Self)
                .map_err(|_| Error::ChunkSize(bytes))
        } else {
            Err(Error::ChunkSize(bytes))
        }
    }

    /// The chunk size in bytes (ciphertext, tag included).
    #[must_use]
    pub fn get(self) -> u32 {
        self.0
    }

    /// The chunk size as a `usize`.
    #[must_use]
    pub fn bytes(self) -> usize {
        self.0 as usize
    }

    /// Plaintext bytes carried by every chunk but the last: `C − 16`.
    #[must_use]
    pub fn plaintext_len(self) -> usize {
        self.bytes() - TAG_LEN
    }

    /// The number of chunks of an object of `plaintext_len` bytes: at least one (an empty
    /// object is one empty last chunk), otherwise ⌈len / (C − 16)⌉.
    #[must_use]
    pub fn chunk_count(self, plaintext_len: u64) -> u64 {
        let p = self.plaintext_len() as u64;
        plaintext_len.div_ceil(p).max(1)
    }

    /// Total ciphertext bytes of an object of `plaintext_len` bytes.
    #[must_use]
    pub fn ciphertext_len(self, plaintext_len: u64) -> u64 {
        plaintext_len + TAG_LEN as u64 * self.chunk_count(plaintext_len)
    }
}

impl Default for ChunkSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for ChunkSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

macro_rules! bytes32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps 32 bytes.
            #[must_use]
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The 32 bytes.
            #[must_use]
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), hex::encode(self.0))
            }
        }
    };
}

bytes32! {
    /// The 32-byte random salt of one object: fresh for every encryption.
    Salt
}

impl Salt {
    /// A fresh salt from the operating system's secure random generator.
    ///
    /// # Errors
    ///
    /// [`Error::Base`] if the generator fails.
    pub fn generate() -> Result<Self, Error> {
        let mut salt = [0u8; 32];
        dataseal_base::random_bytes(&mut salt)?;
        Ok(Self(salt))
    }
}

bytes32! {
    /// The key commitment: binds the data key to the header, so a wrong key or a foreign
    /// header is caught before any chunk is opened.
    Commitment
}

/// Describes one encrypted object: format, suite, chunk size, object id, salt, key
/// commitment, plaintext length and chunk count. It travels in the signed manifest, not in
/// front of the ciphertext.
///
/// Parsing is strict: unknown or duplicated fields, a version or suite other than 1, a
/// chunk size out of range, non-canonical hex, a length beyond 2^53 − 1 or a chunk count
/// that does not follow from the length are all rejected.
///
/// ```
/// use dataseal_crypt::ObjectHeader;
/// let json = r#"{"chunk_count":1,"chunk_size":65536,
///   "commitment":"0000000000000000000000000000000000000000000000000000000000000000",
///   "object_id":"ds@1.0.0/a.bin","plaintext_len":5,
///   "salt":"1111111111111111111111111111111111111111111111111111111111111111",
///   "suite":1,"version":1}"#;
/// let header = ObjectHeader::from_json(json.as_bytes())?;
/// assert_eq!(header.plaintext_len(), 5);
/// assert!(ObjectHeader::from_json(json.replace("\"suite\":1", "\"suite\":2").as_bytes()).is_err());
/// # Ok::<(), dataseal_crypt::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawHeader", into = "RawHeader")]
pub struct ObjectHeader {
    chunk_size: ChunkSize,
    object_id: ObjectId,
    salt: Salt,
    commitment: Commitment,
    plaintext_len: u64,
}

impl ObjectHeader {
    pub(crate) fn new(
        chunk_size: ChunkSize,
        object_id: ObjectId,
        salt: Salt,
        commitment: Commitment,
        plaintext_len: u64,
    ) -> Result<Self, Error> {
        if plaintext_len > MAX_PLAINTEXT_LEN {
            return Err(Error::TooLarge);
        }
        Ok(Self {
            chunk_size,
            object_id,
            salt,
            commitment,
            plaintext_len,
        })
    }

    /// Parses the JSON form strictly (see the type's documentation).
    ///
    /// # Errors
    ///
    /// [`Error::Header`] naming the offending field.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Header(e.to_string()))
    }

    /// The JSON form: keys in lexicographic order, no whitespace.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serialising plain strings and integers cannot fail.
        serde_json::to_string(&RawHeader::from(self.clone())).unwrap_or_default()
    }

    /// The format version (always 1).
    #[must_use]
    pub fn version(&self) -> u8 {
        FORMAT_VERSION
    }

    /// The suite (always 1).
    #[must_use]
    pub fn suite(&self) -> u8 {
        SUITE
    }

    /// The ciphertext chunk size.
    #[must_use]
    pub fn chunk_size(&self) -> ChunkSize {
        self.chunk_size
    }

    /// The object id bound into the keys.
    #[must_use]
    pub fn object_id(&self) -> &ObjectId {
        &self.object_id
    }

    /// The object's random salt.
    #[must_use]
    pub fn salt(&self) -> &Salt {
        &self.salt
    }

    /// The key commitment.
    #[must_use]
    pub fn commitment(&self) -> &Commitment {
        &self.commitment
    }

    /// The plaintext length in bytes.
    #[must_use]
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// The number of chunks.
    #[must_use]
    pub fn chunk_count(&self) -> u64 {
        self.chunk_size.chunk_count(self.plaintext_len)
    }

    /// The total ciphertext length in bytes.
    #[must_use]
    pub fn ciphertext_len(&self) -> u64 {
        self.chunk_size.ciphertext_len(self.plaintext_len)
    }

    /// The plaintext length of chunk `index`, or `None` past the last chunk.
    #[must_use]
    pub fn chunk_plaintext_len(&self, index: u64) -> Option<usize> {
        let count = self.chunk_count();
        let p = self.chunk_size.plaintext_len();
        if index + 1 < count {
            Some(p)
        } else if index + 1 == count {
            let full = (count - 1) * p as u64;
            usize::try_from(self.plaintext_len - full).ok()
        } else {
            None
        }
    }
}

/// The wire form of the header, with every field as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    chunk_count: u64,
    chunk_size: u64,
    commitment: String,
    object_id: String,
    plaintext_len: u64,
    salt: String,
    suite: u64,
    version: u64,
}

impl From<ObjectHeader> for RawHeader {
    fn from(h: ObjectHeader) -> Self {
        Self {
            chunk_count: h.chunk_count(),
            chunk_size: u64::from(h.chunk_size.get()),
            commitment: hex::encode(h.commitment.0),
            object_id: h.object_id.as_str().to_owned(),
            plaintext_len: h.plaintext_len,
            salt: hex::encode(h.salt.0),
            suite: u64::from(SUITE),
            version: u64::from(FORMAT_VERSION),
        }
    }
}

fn parse_hex32(field: &str, text: &str) -> Result<[u8; 32], String> {
    let canonical = text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !canonical {
        return Err(format!(
            "{field}: expected 64 lowercase hexadecimal characters"
        ));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|e| format!("{field}: {e}"))?;
    Ok(out)
}

impl TryFrom<RawHeader> for ObjectHeader {
    type Error = String;
    fn try_from(raw: RawHeader) -> Result<Self, String> {
        if raw.version != u64::from(FORMAT_VERSION) {
            return Err(format!(
                "version: unsupported format version {}",
                raw.version
            ));
        }
        if raw.suite != u64::from(SUITE) {
            return Err(format!("suite: unsupported suite {}", raw.suite));
        }
        let chunk_size = ChunkSize::new(raw.chunk_size).map_err(|e| format!("chunk_size: {e}"))?;
        let object_id = ObjectId::new(raw.object_id).map_err(|e| format!("object_id: {e}"))?;
        let salt = Salt(parse_hex32("salt", &raw.salt)?);
        let commitment = Commitment(parse_hex32("commitment", &raw.commitment)?);
        if raw.plaintext_len > MAX_PLAINTEXT_LEN {
            return Err("plaintext_len: larger than 2^53 - 1".to_owned());
        }
        let expected = chunk_size.chunk_count(raw.plaintext_len);
        if raw.chunk_count != expected {
            return Err(format!(
                "chunk_count: {} does not match plaintext_len {} at chunk_size {} (expected {expected})",
                raw.chunk_count, raw.plaintext_len, raw.chunk_size
            ));
        }
        Ok(Self {
            chunk_size,
            object_id,
            salt,
            commitment,
            plaintext_len: raw.plaintext_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_counts() {
        let c = ChunkSize::MIN;
        let p = c.plaintext_len() as u64;
        assert_eq!(c.chunk_count(0), 1);
        assert_eq!(c.chunk_count(1), 1);
        assert_eq!(c.chunk_count(p), 1);
        assert_eq!(c.chunk_count(p + 1), 2);
        assert_eq!(c.ciphertext_len(0), 16);
        assert_eq!(c.ciphertext_len(p + 1), p + 1 + 32);
        for bad in [0, 1, 32768, 65535, 65537, 2 << 20, 3 << 16, u64::MAX] {
            assert!(ChunkSize::new(bad).is_err(), "{bad}");
        }
        for good in [1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20] {
            assert_eq!(u64::from(ChunkSize::new(good).unwrap().get()), good);
        }
    }
}
