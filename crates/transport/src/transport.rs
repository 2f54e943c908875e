use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use dataseal_base::Cid;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::car::{CarReader, CarSummary, CarWriter};
use crate::read::{VerifiedRead, read_with};
use crate::unixfs::{FileBuilder, ImportParams};
use crate::walk::DagWalk;
use crate::{Block, BlockStat, Error};

/// A place blocks live: an in-memory map, a directory, an IPFS or BTFS node.
///
/// Blocks first: the required methods move single blocks by CID and record pins. The
/// provided methods (CAR import and export, adding and reading whole files) are built on
/// them and verify every block they read; an implementation backed by a node may override
/// them to use the node's own endpoints, as long as it keeps the same checks.
///
/// The trait is object-safe (`Box<dyn Transport>`, `Arc<dyn Transport>`), so a reader can
/// take an ordered list of different stores. Futures are `Send`. An implementation owns
/// no retry policy: it reports each failure once, and the caller decides whether to try
/// again, later, or elsewhere.
///
/// Nothing a store returns from [`Transport::get`] is trusted: use
/// [`Transport::get_block`] (or [`Block::new`]) to check it against its CID.
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Stores a block. Storing a block that is already present succeeds and changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`Error::BlockTooLarge`] over the store's limit, [`Error::Unavailable`],
    /// [`Error::Io`].
    async fn put(&self, block: &Block) -> Result<(), Error>;

    /// The bytes the store holds under `cid`, **unverified**: a remote store may lie.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::Unavailable`], [`Error::Io`]; a store that checks
    /// its own copies returns [`Error::Integrity`] for a corrupted one.
    async fn get(&self, cid: &Cid) -> Result<Bytes, Error>;

    /// Whether the store holds `cid`.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`], [`Error::Io`].
    async fn has(&self, cid: &Cid) -> Result<bool, Error>;

    /// What the store knows of `cid` without sending it.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::Unavailable`], [`Error::Io`].
    async fn stat(&self, cid: &Cid) -> Result<BlockStat, Error>;

    /// Pins the DAG under `root` (recursively): a pinned DAG is never dropped by the
    /// store's garbage collection. Pinning a pinned root succeeds.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] or [`Error::Incomplete`] if the store lacks a block of the DAG,
    /// [`Error::Unavailable`], [`Error::Io`].
    async fn pin(&self, root: &Cid) -> Result<(), Error>;

    /// Removes the pin on `root`; returns whether there was one.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`], [`Error::Io`].
    async fn unpin(&self, root: &Cid) -> Result<bool, Error>;

    /// The pinned roots.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`], [`Error::Io`].
    async fn pins(&self) -> Result<Vec<Cid>, Error>;

    /// Gets a block and checks it against its CID.
    ///
    /// The default hashes what [`Transport::get`] returns; a store that already checks
    /// its copies on the way out overrides this to hash once. A [`Block`] can only be
    /// made from checked bytes, so every implementation returns verified data; the
    /// [`VerifiedRead`](crate::VerifiedRead) reader also checks that it is the block
    /// asked for.
    ///
    /// # Errors
    ///
    /// As [`Transport::get`], plus [`Error::Integrity`] if the bytes do not hash to
    /// `cid`.
    async fn get_block(&self, cid: &Cid) -> Result<Block, Error> {
        Block::new(*cid, self.get(cid).await?)
    }

    /// Imports a CAR v1 stream: checks every block against its CID and stores it. Does
    /// not pin; call [`Transport::pin`] on the roots for that (which checks the DAG is
    /// complete).
    ///
    /// # Errors
    ///
    /// Whatever [`CarReader`] or [`Transport::put`] report; the blocks stored before
    /// the failure stay stored.
    async fn import_car(
        &self,
        car: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<CarSummary, Error> {
        let mut reader = CarReader::new(car).await?;
        let mut summary = CarSummary {
            roots: reader.roots().to_vec(),
            ..CarSummary::default()
        };
        while let Some(block) = reader.next_block().await? {
            self.put(&block).await?;
            summary.blocks += 1;
            summary.bytes += block.len() as u64;
        }
        Ok(summary)
    }

    /// Exports the DAG under `root` as a CAR v1 stream with `root` as its only root,
    /// blocks in depth-first order, root first, each once, each verified as it is read.
    ///
    /// The DAG's numbers size nothing: a node's links are read one at a time as the walk
    /// reaches them (memory is bounded by the path from the root, at most 64 nodes, and
    /// one entry per distinct block written), a block linked many times is read once, and
    /// a UnixFS file whose declared sizes do not add up is refused as malformed.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for a missing block, [`Error::Integrity`], [`Error::Malformed`]
    /// for a node whose links cannot be read, sizes that do not add up or a DAG more than
    /// 64 nodes deep, [`Error::Io`] if writing fails. What was written before the error is
    /// a valid prefix, not a complete CAR.
    async fn export_car(
        &self,
        root: &Cid,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<CarSummary, Error> {
        let mut writer = CarWriter::new(out, &[*root]).await?;
        let mut walk = DagWalk::new(root);
        while let Some(block) = walk.next(self).await? {
            writer.write(&block).await?;
        }
        let summary = CarSummary {
            roots: vec![*root],
            blocks: writer.blocks(),
            bytes: writer.bytes(),
        };
        writer.finish().await?;
        Ok(summary)
    }

    /// Adds a whole file: cuts it into chunks, builds its UnixFS DAG and stores each
    /// block the store does not already have (asking [`Transport::has`] first, so adding
    /// again after an interruption only sends what is missing). Returns the root CID.
    /// Does not pin.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if reading `file` fails, or what the store reports.
    async fn add(
        &self,
        file: &mut (dyn AsyncRead + Send + Unpin),
        params: &ImportParams,
    ) -> Result<Cid, Error> {
        let mut builder = FileBuilder::new(params.profile());
        let mut chunk = vec![0u8; params.chunk_size()];
        // Up to ADD_WINDOW leaves are stored at once (a store's writes and flushes, or a
        // node's round trips, overlap); a parent is stored only once every block stored
        // before it is, so no node lands before the data under it.
        let mut in_flight = FuturesUnordered::new();
        loop {
            let filled = fill(file, &mut chunk).await?;
            if filled == 0 {
                break;
            }
            // The chunk's leaf first, then any parent it completed.
            let mut blocks = builder
                .push_chunk(chunk.get(..filled).unwrap_or_default())?
                .into_iter();
            if let Some(leaf) = blocks.next() {
                while in_flight.len() >= ADD_WINDOW {
                    if let Some(result) = in_flight.next().await {
                        result?;
                    }
                }
                in_flight.push(put_if_missing(self, leaf));
            }
            let parents: Vec<Block> = blocks.collect();
            if !parents.is_empty() {
                while let Some(result) = in_flight.next().await {
                    result?;
                }
                put_missing(self, &parents).await?;
            }
            if filled < chunk.len() {
                break;
            }
        }
        while let Some(result) = in_flight.next().await {
            result?;
        }
        let (root, tail) = builder.finish();
        put_missing(self, &tail).await?;
        Ok(root)
    }

    /// Writes the whole file under `root` to `out`, every block verified. Returns the
    /// number of bytes written.
    ///
    /// # Errors
    ///
    /// As [`VerifiedRead::run`] with this store alone.
    async fn cat(
        &self,
        root: &Cid,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<u64, Error> {
        let mut read = VerifiedRead::new(*root);
        read_with(&mut read, &[self], out).await
    }
}

/// How many blocks [`Transport::add`] stores at once.
const ADD_WINDOW: usize = 8;

/// Puts a block unless the store has it.
async fn put_if_missing<T: Transport + ?Sized>(store: &T, block: Block) -> Result<(), Error> {
    if !store.has(block.cid()).await? {
        store.put(&block).await?;
    }
    Ok(())
}

/// Puts each block the store lacks.
async fn put_missing<T: Transport + ?Sized>(store: &T, blocks: &[Block]) -> Result<(), Error> {
    for block in blocks {
        if !store.has(block.cid()).await? {
            store.put(block).await?;
        }
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns the number of bytes read.
async fn fill(reader: &mut (dyn AsyncRead + Send + Unpin), buf: &mut [u8]) -> Result<usize, Error> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        let n = reader
            .read(rest)
            .await
            .map_err(|e| Error::io("reading the file to add", e))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

macro_rules! forward {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: Transport + ?Sized> Transport for $ty {
            async fn put(&self, block: &Block) -> Result<(), Error> {
                (**self).put(block).await
            }
            async fn get(&self, cid: &Cid) -> Result<Bytes, Error> {
                (**self).get(cid).await
            }
            async fn has(&self, cid: &Cid) -> Result<bool, Error> {
                (**self).has(cid).await
            }
            async fn stat(&self, cid: &Cid) -> Result<BlockStat, Error> {
                (**self).stat(cid).await
            }
            async fn pin(&self, root: &Cid) -> Result<(), Error> {
                (**self).pin(root).await
            }
            async fn unpin(&self, root: &Cid) -> Result<bool, Error> {
                (**self).unpin(root).await
            }
            async fn pins(&self) -> Result<Vec<Cid>, Error> {
                (**self).pins().await
            }
            async fn get_block(&self, cid: &Cid) -> Result<Block, Error> {
                (**self).get_block(cid).await
            }
            async fn import_car(
                &self,
                car: &mut (dyn AsyncRead + Send + Unpin),
            ) -> Result<CarSummary, Error> {
                (**self).import_car(car).await
            }
            async fn export_car(
                &self,
                root: &Cid,
                out: &mut (dyn AsyncWrite + Send + Unpin),
            ) -> Result<CarSummary, Error> {
                (**self).export_car(root, out).await
            }
            async fn add(
                &self,
                file: &mut (dyn AsyncRead + Send + Unpin),
                params: &ImportParams,
            ) -> Result<Cid, Error> {
                (**self).add(file, params).await
            }
            async fn cat(
                &self,
                root: &Cid,
                out: &mut (dyn AsyncWrite + Send + Unpin),
            ) -> Result<u64, Error> {
                (**self).cat(root, out).await
            }
        }
    )*};
}

forward!(&T, Box<T>, Arc<T>);
