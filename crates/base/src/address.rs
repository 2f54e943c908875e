use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::Error;

/// Multicodec codes for the content types dataseal addresses.
pub mod codec {
    /// Raw bytes: every ciphertext chunk is a raw block.
    pub const RAW: u64 = 0x55;
    /// dag-pb: UnixFS internal nodes (and CIDv0).
    pub const DAG_PB: u64 = 0x70;
    /// dag-json: manifests.
    pub const DAG_JSON: u64 = 0x0129;
    /// The multihash code of SHA2-256.
    pub const SHA2_256: u64 = 0x12;
}

/// A content identifier (CID) whose multihash is SHA2-256: the address of a block.
///
/// Only SHA2-256 multihashes are accepted, so every `Cid` can be checked against the
/// bytes it names with [`Cid::verify`]. Displayed in canonical text form: CIDv1 in
/// lowercase base32 (`bafk…`, `bafy…`), CIDv0 in base58btc (`Qm…`); parsed from any
/// multibase.
///
/// ```
/// use dataseal_base::{Cid, codec};
/// let cid = Cid::raw_sha256(b"hello");
/// assert_eq!(cid.codec(), codec::RAW);
/// assert!(cid.to_string().starts_with("bafkrei"));
/// assert!(cid.verify(b"hello"));
/// assert!(!cid.verify(b"hellO"));
/// let back: Cid = cid.to_string().parse()?;
/// assert_eq!(back, cid);
/// # Ok::<(), dataseal_base::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cid(cid::Cid);

impl Cid {
    /// The CIDv1 of `data` as a raw block (codec 0x55, SHA2-256).
    #[must_use]
    pub fn raw_sha256(data: &[u8]) -> Self {
        Self::v1_from_sha256(codec::RAW, Sha256::digest(data).into())
    }

    /// A CIDv1 with the given codec over an already computed SHA2-256 digest.
    #[must_use]
    pub fn v1_from_sha256(codec: u64, digest: [u8; 32]) -> Self {
        Self(cid::Cid::new_v1(codec, sha256_multihash(digest)))
    }

    /// A CIDv0 (implicitly dag-pb, base58btc) over an already computed SHA2-256 digest.
    #[must_use]
    pub fn v0_from_sha256(digest: [u8; 32]) -> Self {
        let mh = sha256_multihash(digest);
        // A CIDv0 is exactly a SHA2-256 multihash, so `new_v0` cannot fail for it.
        Self(cid::Cid::new_v0(mh).unwrap_or_else(|_| cid::Cid::new_v1(codec::DAG_PB, mh)))
    }

    /// The multicodec of the content (0x55 raw, 0x70 dag-pb, 0x0129 dag-json, …).
    #[must_use]
    pub fn codec(&self) -> u64 {
        self.0.codec()
    }

    /// The CID version: 0 or 1.
    #[must_use]
    pub fn version(&self) -> u8 {
        match self.0.version() {
            cid::Version::V0 => 0,
            cid::Version::V1 => 1,
        }
    }

    /// The SHA2-256 digest this CID commits to.
    #[must_use]
    pub fn sha256_digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.hash().digest());
        out
    }

    /// Whether `data` hashes to this CID's digest. The codec is not checked here: that
    /// `data` decodes as the named codec is the caller's business.
    #[must_use]
    pub fn verify(&self, data: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(data).into();
        subtle::ConstantTimeEq::ct_eq(&digest[..], self.0.hash().digest()).into()
    }

    /// The binary form (as used inside dag-pb links and CAR files).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    /// Parses the binary form.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCid`] if the bytes are not exactly one CID with a SHA2-256 multihash.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let cid = cid::Cid::try_from(bytes).map_err(|e| Error::InvalidCid(e.to_string()))?;
        Self::check(cid)
    }

    /// The same content as a CIDv1 (a CIDv0 becomes CIDv1 dag-pb with the same digest; a
    /// CIDv1 is returned unchanged).
    #[must_use]
    pub fn to_v1(&self) -> Self {
        match self.0.version() {
            cid::Version::V0 => Self::v1_from_sha256(self.codec(), self.sha256_digest()),
            cid::Version::V1 => *self,
        }
    }

    /// Reads one binary CID from the front of `bytes` (as CAR frames and dag-pb links hold
    /// them) and returns it with the bytes after it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCid`] if no valid SHA2-256 CID starts `bytes`.
    pub fn read_prefix(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let mut cursor = std::io::Cursor::new(bytes);
        let cid =
            cid::Cid::read_bytes(&mut cursor).map_err(|e| Error::InvalidCid(e.to_string()))?;
        let used = usize::try_from(cursor.position()).unwrap_or(bytes.len());
        Ok((Self::check(cid)?, bytes.get(used..).unwrap_or_default()))
    }

    /// The wrapped [`cid::Cid`], for interoperating with other IPLD crates.
    #[must_use]
    pub fn as_cid(&self) -> &cid::Cid {
        &self.0
    }

    fn check(cid: cid::Cid) -> Result<Self, Error> {
        if cid.hash().code() != codec::SHA2_256 || cid.hash().size() != 32 {
            return Err(Error::InvalidCid(format!(
                "multihash 0x{:x} of {} bytes; only sha2-256 is accepted",
                cid.hash().code(),
                cid.hash().size()
            )));
        }
        Ok(Self(cid))
    }
}

fn sha256_multihash(digest: [u8; 32]) -> multihash::Multihash<64> {
    // The digest is 32 bytes, well inside the 64-byte capacity, so wrapping cannot fail.
    multihash::Multihash::<64>::wrap(codec::SHA2_256, &digest).unwrap_or_default()
}

impl TryFrom<cid::Cid> for Cid {
    type Error = Error;
    fn try_from(cid: cid::Cid) -> Result<Self, Error> {
        Self::check(cid)
    }
}

impl FromStr for Cid {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let cid = cid::Cid::try_from(s).map_err(|e| Error::InvalidCid(format!("{s:?}: {e}")))?;
        Self::check(cid)
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({})", self.0)
    }
}

impl Serialize for Cid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Cid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_raw_cid() {
        // `ipfs add --cid-version=1 --raw-leaves` of the empty file.
        assert_eq!(
            Cid::raw_sha256(b"").to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
    }

    #[test]
    fn v0_round_trip() {
        let cid: Cid = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
            .parse()
            .unwrap();
        assert_eq!(cid.version(), 0);
        assert_eq!(cid.codec(), codec::DAG_PB);
        assert_eq!(
            Cid::v0_from_sha256(cid.sha256_digest()).to_string(),
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
        );
        assert_eq!(Cid::from_bytes(&cid.to_bytes()).unwrap(), cid);
    }

    #[test]
    fn any_base_in_canonical_out() {
        let cid = Cid::raw_sha256(b"x");
        let b58 = cid
            .as_cid()
            .to_string_of_base(cid::multibase::Base::Base58Btc)
            .unwrap();
        let parsed: Cid = b58.parse().unwrap();
        assert_eq!(parsed.to_string(), cid.to_string());
    }

    #[test]
    fn v1_and_prefixes() {
        let v0: Cid = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
            .parse()
            .unwrap();
        let v1 = v0.to_v1();
        assert_eq!(v1.version(), 1);
        assert_eq!(v1.codec(), codec::DAG_PB);
        assert_eq!(v1.sha256_digest(), v0.sha256_digest());
        assert_eq!(v1.to_v1(), v1);
        let raw = Cid::raw_sha256(b"abc");
        let mut framed = raw.to_bytes();
        framed.extend_from_slice(b"rest");
        let (back, rest) = Cid::read_prefix(&framed).unwrap();
        assert_eq!((back, rest), (raw, &b"rest"[..]));
        let mut v0_framed = v0.to_bytes();
        v0_framed.push(7);
        assert_eq!(Cid::read_prefix(&v0_framed).unwrap(), (v0, &[7u8][..]));
        assert!(Cid::read_prefix(&[0x01, 0x55]).is_err());
        assert!(Cid::read_prefix(&[]).is_err());
    }

    #[test]
    fn rejects_non_sha256() {
        let mh = multihash::Multihash::<64>::wrap(0x1e, &[0u8; 32]).unwrap();
        let blake = cid::Cid::new_v1(codec::RAW, mh);
        assert!(Cid::try_from(blake).is_err());
        assert!("not-a-cid".parse::<Cid>().is_err());
        assert!(Cid::from_bytes(&[1, 2, 3]).is_err());
    }

    #[test]
    fn serde_as_string() {
        let cid = Cid::raw_sha256(b"y");
        let json = serde_json::to_string(&cid).unwrap();
        assert_eq!(json, format!("\"{cid}\""));
        assert_eq!(serde_json::from_str::<Cid>(&json).unwrap(), cid);
    }
}
