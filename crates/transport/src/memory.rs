use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use dataseal_base::Cid;

use crate::block::store_key;
use crate::walk::check_complete;
use crate::{Block, BlockStat, Error, MAX_BLOCK_LEN, Transport};

/// A store in memory: for tests, simulations and caches.
///
/// Blocks are kept under their CIDv1 (a CIDv0 and the matching CIDv1 share an entry);
/// pins are a set of roots. Cloning the bytes out is cheap (reference counted).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dataseal_transport::{Block, MemoryStore, Transport};
///
/// let store = MemoryStore::new();
/// let block = Block::raw(&b"chunk"[..]);
/// store.put(&block).await?;
/// assert_eq!(store.get_block(block.cid()).await?, block);
/// assert_eq!(store.stat(block.cid()).await?.len, 5);
/// # Ok::<(), dataseal_transport::Error>(())
/// # }).unwrap();
/// ```
pub struct MemoryStore {
    blocks: RwLock<HashMap<Cid, Bytes>>,
    pins: RwLock<BTreeMap<Cid, Cid>>,
    max_block_len: usize,
}

impl MemoryStore {
    /// An empty store accepting blocks up to [`MAX_BLOCK_LEN`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_block_len(MAX_BLOCK_LEN)
    }

    /// An empty store accepting blocks up to `max_block_len` bytes.
    #[must_use]
    pub fn with_max_block_len(max_block_len: usize) -> Self {
        Self {
            blocks: RwLock::default(),
            pins: RwLock::default(),
            max_block_len,
        }
    }

    /// The number of blocks held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.blocks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether the store holds no block.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes a block (pinned or not); returns whether it was there. For simulating a
    /// store that lost data.
    pub fn remove(&self, cid: &Cid) -> bool {
        self.blocks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&store_key(cid))
            .is_some()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("blocks", &self.len())
            .field("max_block_len", &self.max_block_len)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Transport for MemoryStore {
    async fn put(&self, block: &Block) -> Result<(), Error> {
        if block.len() > self.max_block_len {
            return Err(Error::BlockTooLarge {
                len: block.len() as u64,
                limit: self.max_block_len as u64,
            });
        }
        self.blocks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(store_key(block.cid()), block.data().clone());
        Ok(())
    }

    async fn get(&self, cid: &Cid) -> Result<Bytes, Error> {
        self.blocks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&store_key(cid))
            .cloned()
            .ok_or(Error::NotFound(*cid))
    }

    async fn has(&self, cid: &Cid) -> Result<bool, Error> {
        Ok(self
            .blocks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&store_key(cid)))
    }

    async fn stat(&self, cid: &Cid) -> Result<BlockStat, Error> {
        self.blocks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&store_key(cid))
            .map(|b| BlockStat::new(b.len() as u64))
            .ok_or(Error::NotFound(*cid))
    }

    async fn pin(&self, root: &Cid) -> Result<(), Error> {
        check_complete(self, root).await?;
        self.pins
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(store_key(root), *root);
        Ok(())
    }

    async fn unpin(&self, root: &Cid) -> Result<bool, Error> {
        Ok(self
            .pins
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&store_key(root))
            .is_some())
    }

    async fn pins(&self) -> Result<Vec<Cid>, Error> {
        Ok(self
            .pins
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .copied()
            .collect())
    }
}
