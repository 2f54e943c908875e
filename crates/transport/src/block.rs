use std::fmt;

use bytes::Bytes;
use dataseal_base::{Cid, codec};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::varint;

/// The largest block the stores in this crate accept unless configured otherwise: 2 MiB.
///
/// Every block dataseal itself makes is at most 1 MiB (a ciphertext chunk) or a few KiB
/// (an internal UnixFS node); the margin admits the dag-pb leaves of a CIDv0 import at
/// 1 MiB chunks, which are a few bytes over 1 MiB.
pub const MAX_BLOCK_LEN: usize = 2 << 20;

/// A block whose bytes are known to hash to its CID.
///
/// The only way to make one is to hash the bytes ([`Block::raw`]) or to check them
/// ([`Block::new`]), so holding a `Block` means holding verified data. Cloning is cheap:
/// the bytes are reference-counted.
///
/// ```
/// use dataseal_transport::Block;
///
/// let block = Block::raw(&b"hello"[..]);
/// assert!(block.cid().to_string().starts_with("bafkrei"));
/// assert!(Block::new(*block.cid(), &b"hello"[..]).is_ok());
/// assert!(Block::new(*block.cid(), &b"hellO"[..]).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Block {
    cid: Cid,
    data: Bytes,
}

impl Block {
    /// Checks that `data` hashes to `cid` (SHA2-256) and pairs them.
    ///
    /// # Errors
    ///
    /// [`Error::Integrity`] naming `cid` if it does not.
    pub fn new(cid: Cid, data: impl Into<Bytes>) -> Result<Self, Error> {
        let data = data.into();
        if cid.verify(&data) {
            Ok(Self { cid, data })
        } else {
            Err(Error::Integrity { cid })
        }
    }

    /// Pairs bytes already checked against `cid` by the caller (a store that verified
    /// them on the way in), without hashing them again.
    pub(crate) fn checked(cid: Cid, data: Bytes) -> Self {
        Self { cid, data }
    }

    /// A raw block (CIDv1, codec 0x55): how every ciphertext chunk is addressed.
    #[must_use]
    pub fn raw(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        Self {
            cid: Cid::raw_sha256(&data),
            data,
        }
    }

    /// A dag-pb block, addressed by a CIDv1 or (with `v0`) a CIDv0.
    pub(crate) fn dag_pb(data: Vec<u8>, v0: bool) -> Self {
        let hash: [u8; 32] = Sha256::digest(&data).into();
        let cid = if v0 {
            Cid::v0_from_sha256(hash)
        } else {
            Cid::v1_from_sha256(codec::DAG_PB, hash)
        };
        Self {
            cid,
            data: data.into(),
        }
    }

    /// The block's CID.
    #[must_use]
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The block's bytes.
    #[must_use]
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The length of the block's bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the block has no bytes (the empty raw block is a valid block: the empty
    /// file's CIDv1).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The CID and the bytes.
    #[must_use]
    pub fn into_parts(self) -> (Cid, Bytes) {
        (self.cid, self.data)
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("cid", &self.cid)
            .field("len", &self.data.len())
            .finish()
    }
}

/// What a store knows about a block without sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockStat {
    /// The block's length in bytes.
    pub len: u64,
}

impl BlockStat {
    /// A stat for a block of `len` bytes.
    #[must_use]
    pub fn new(len: u64) -> Self {
        Self { len }
    }
}

/// The key a block is stored under: its CIDv1. A CIDv0 and the CIDv1 dag-pb CID with the
/// same digest name the same bytes, so they share one entry.
pub(crate) fn store_key(cid: &Cid) -> Cid {
    if cid.version() == 0 {
        Cid::v1_from_sha256(cid.codec(), cid.sha256_digest())
    } else {
        *cid
    }
}

/// Splits one binary CID off the front of `bytes` (CIDv0: a bare SHA2-256 multihash;
/// CIDv1: version, codec and multihash varints).
pub(crate) fn split_cid(bytes: &[u8]) -> Result<(Cid, &[u8]), Error> {
    let bad = |detail: &str| Error::malformed("CID", detail.to_owned());
    let cid_len = if bytes.first() == Some(&0x12) {
        34
    } else {
        let (version, rest) = varint::decode_multiformat(bytes).map_err(|e| bad(e.describe()))?;
        if version != 1 {
            return Err(bad(&format!("unknown CID version {version}")));
        }
        let (_codec, rest) = varint::decode_multiformat(rest).map_err(|e| bad(e.describe()))?;
        let (_hash, rest) = varint::decode_multiformat(rest).map_err(|e| bad(e.describe()))?;
        let (size, rest) = varint::decode_multiformat(rest).map_err(|e| bad(e.describe()))?;
        let size = usize::try_from(size).map_err(|_| bad("digest length overflows"))?;
        let header = bytes.len() - rest.len();
        header
            .checked_add(size)
            .ok_or_else(|| bad("digest length overflows"))?
    };
    let (cid_bytes, rest) = bytes
        .split_at_checked(cid_len)
        .ok_or_else(|| bad("truncated CID"))?;
    let cid = Cid::from_bytes(cid_bytes).map_err(|e| bad(&e.to_string()))?;
    Ok((cid, rest))
}
