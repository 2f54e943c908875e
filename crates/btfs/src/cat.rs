//! Whole-file reads in one streamed `cat`, every leaf checked against the DAG.
//!
//! Nothing a node says is trusted to size anything: a raw root's length is read from the
//! stream itself, up to the block limit (the `block/stat` answer is only checked to be
//! within it), and a DAG's leaves are found by a lazy depth-first walk, one leaf at a time,
//! while the stream is cut. What is held at once is bounded whatever the DAG: the path
//! from the root to the current leaf (at most [`MAX_DEPTH`] internal nodes, each within
//! the block limit), a few recently decoded nodes ([`NODE_CACHE`]), the leaf being cut and
//! at most [`HASHING_AHEAD`] leaves being hashed. Children that hold no bytes are never
//! fetched, so the time taken follows the blocks the file's bytes need.

use std::collections::VecDeque;
use std::sync::Arc;

use dataseal_base::{Cid, codec};
use dataseal_transport::{Block, FileNode};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::client::{Lookup, read_limited, request_error};
use crate::{Client, Error};

/// Leaves hashed ahead of the one being written, at most.
const HASHING_AHEAD: usize = 4;
/// Leaves up to this length are hashed in place: a trip to the blocking pool would cost
/// more than the hash.
const HASH_IN_PLACE: usize = 16 << 10;
/// The most internal nodes on a path from the root to a leaf. Importers stay far below
/// (a balanced DAG of 174-link nodes reaches 2^64 bytes of 1 KiB chunks in 8 levels, a
/// trickle DAG in about 25); a deeper DAG is refused as malformed.
const MAX_DEPTH: usize = 32;
/// Internal nodes remembered after they were checked, by CID: a DAG that links one node
/// many times in a row fetches it once.
const NODE_CACHE: usize = 8;

/// A leaf being hashed, or already hashed, waiting for its turn to be written.
enum Hashing {
    Done(Option<Block>),
    Running(JoinHandle<Option<Block>>),
}

impl Hashing {
    fn start(cid: Cid, data: Vec<u8>) -> Self {
        if data.len() <= HASH_IN_PLACE {
            Self::Done(Block::new(cid, data).ok())
        } else {
            Self::Running(tokio::task::spawn_blocking(move || {
                Block::new(cid, data).ok()
            }))
        }
    }

    fn is_finished(&self) -> bool {
        match self {
            Self::Done(_) => true,
            Self::Running(handle) => handle.is_finished(),
        }
    }
}

/// Waits for the oldest leaf being hashed and writes it if it matched its CID.
async fn write_checked(
    hashing: &mut VecDeque<(Cid, Hashing)>,
    out: &mut (dyn AsyncWrite + Send + Unpin),
) -> Result<u64, Error> {
    let Some((cid, pending)) = hashing.pop_front() else {
        return Ok(0);
    };
    let block = match pending {
        Hashing::Done(block) => block,
        Hashing::Running(handle) => handle
            .await
            .map_err(|e| Error::io("hashing a leaf", std::io::Error::other(e)))?,
    }
    .ok_or(Error::Integrity { cid })?;
    write_all(out, block.data()).await?;
    Ok(block.len() as u64)
}

async fn write_all(out: &mut (dyn AsyncWrite + Send + Unpin), data: &[u8]) -> Result<(), Error> {
    out.write_all(data)
        .await
        .map_err(|e| Error::io("writing the file read", e))
}

/// What [`Client::cat_checked`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CatSummary {
    /// The file's length: the bytes written.
    pub bytes: u64,
    /// The blocks checked: the internal nodes fetched and the leaves cut from the stream.
    pub blocks: u64,
}

/// A leaf of the file: its CID and length, from its parent (never 0, never over the
/// block limit).
#[derive(Debug, Clone, Copy)]
struct Leaf {
    cid: Cid,
    len: usize,
}

/// An internal node on the path to the current leaf, and its next child to visit.
struct Frame {
    node: Arc<FileNode>,
    next: usize,
}

/// The leaves of a raw-leaf file, in file order, found lazily: a depth-first walk that
/// fetches an internal node only when the leaves before it have been taken.
struct Leaves<'c> {
    client: &'c Client,
    root: Cid,
    limit: u64,
    stack: Vec<Frame>,
    cache: VecDeque<(Cid, Arc<FileNode>)>,
    nodes: u64,
}

impl<'c> Leaves<'c> {
    /// Fetches and checks the root, a dag-pb node; returns the walk and the file length.
    async fn open(client: &'c Client, root: &Cid) -> Result<(Self, u64), Error> {
        let mut walk = Self {
            client,
            root: *root,
            limit: client.capabilities().max_block_len as u64,
            stack: Vec::new(),
            cache: VecDeque::new(),
            nodes: 0,
        };
        let node = walk.node(root, None).await?;
        let total = node.file_size();
        walk.stack.push(Frame { node, next: 0 });
        Ok((walk, total))
    }

    /// The next leaf holding bytes, or `None` after the last.
    async fn next(&mut self) -> Result<Option<Leaf>, Error> {
        loop {
            let depth = self.stack.len();
            let Some(frame) = self.stack.last_mut() else {
                return Ok(None);
            };
            let Some(child) = frame.node.children().get(frame.next).copied() else {
                self.stack.pop();
                continue;
            };
            frame.next += 1;
            // A child that holds no bytes adds nothing to the file: not fetched (the
            // verified reader skips it too).
            if child.file_size() == 0 {
                continue;
            }
            if child.cid().codec() == codec::RAW {
                // Checked against the limit when its parent was.
                let len = usize::try_from(child.file_size()).map_err(|_| Error::BlockTooLarge {
                    len: child.file_size(),
                    limit: self.limit,
                })?;
                return Ok(Some(Leaf {
                    cid: *child.cid(),
                    len,
                }));
            }
            if depth >= MAX_DEPTH {
                return Err(malformed(format!(
                    "{} is more than {MAX_DEPTH} levels below the root {}",
                    child.cid(),
                    self.root
                )));
            }
            let node = self.node(child.cid(), Some(child.file_size())).await?;
            self.stack.push(Frame { node, next: 0 });
        }
    }

    /// An internal node, fetched and checked (or remembered), holding `expected` bytes
    /// as its parent says (the root: any).
    async fn node(&mut self, cid: &Cid, expected: Option<u64>) -> Result<Arc<FileNode>, Error> {
        let node = match self.cache.iter().find(|(c, _)| c == cid) {
            Some((_, node)) => node.clone(),
            None => {
                let node = Arc::new(self.fetch(cid).await?);
                if self.cache.len() >= NODE_CACHE {
                    self.cache.pop_front();
                }
                self.cache.push_back((*cid, node.clone()));
                node
            }
        };
        if let Some(size) = expected
            && size != node.file_size()
        {
            return Err(malformed(format!(
                "{cid} holds {} bytes but its parent says {size}",
                node.file_size(),
            )));
        }
        Ok(node)
    }

    /// Fetches an internal node and checks that it is one this read can follow: a UnixFS
    /// file node with children and no data of its own, whose raw children fit in a block.
    async fn fetch(&mut self, cid: &Cid) -> Result<FileNode, Error> {
        let block = self.client.get_checked(cid).await?;
        self.nodes += 1;
        let node = FileNode::decode(&block)?;
        if node.children().is_empty() || !node.data().is_empty() {
            return Err(Error::Unsupported(format!(
                "a streamed read of {}: {cid} is a leaf or holds data itself \
                 (not a raw-leaf file)",
                self.root
            )));
        }
        if let Some(big) = node
            .children()
            .iter()
            .find(|c| c.cid().codec() == codec::RAW && c.file_size() > self.limit)
        {
            return Err(Error::BlockTooLarge {
                len: big.file_size(),
                limit: self.limit,
            });
        }
        Ok(node)
    }
}

/// A DAG that cannot describe the file it claims to.
fn malformed(detail: String) -> Error {
    dataseal_transport::Error::Malformed {
        what: "UnixFS file",
        detail,
    }
    .into()
}

/// An error found after part of the file was written: [`Error::Unsupported`] promises
/// that nothing was, so a file this read cannot follow past its start (one mixing raw and
/// dag-pb leaves) is reported as malformed for this read.
fn after_writing(err: Error, written: u64) -> Error {
    match err {
        Error::Unsupported(detail) if written > 0 => {
            malformed(format!("after {written} bytes written: {detail}"))
        }
        other => other,
    }
}

impl Client {
    /// Reads a whole CIDv1 raw-leaf UnixFS file (what `ipfs add --cid-version=1
    /// --raw-leaves` and `dataseal put` make) in one streamed `cat` request, with every
    /// byte verified before it is written.
    ///
    /// The internal nodes are fetched with `block/get` as the read reaches them, each
    /// checked against its CID and its size against its parent's; they give every leaf's
    /// CID and length. The `cat` stream is cut at those lengths and each leaf is hashed
    /// against its CID before a byte of it reaches `out`. One request carries the data
    /// instead of one per block, which is several times faster against a node whose
    /// per-request cost dominates (js-ipfs).
    ///
    /// No number from the node sizes anything: a raw root is read up to the block limit
    /// ([`Capabilities::max_block_len`](crate::Capabilities)) whatever `block/stat`
    /// says, and the DAG is walked lazily, so any DAG is read in bounded memory (the path
    /// to the current leaf and a few leaves), and children holding no bytes are skipped.
    ///
    /// On an error, the bytes already written are a verified prefix of the file; a caller
    /// that wants failover reads the rest (or all) with
    /// [`VerifiedRead`](dataseal_transport::VerifiedRead) from other stores.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for a file this path cannot check leaf by leaf (dag-pb
    /// leaves, as a CIDv0 import has, or data inside internal nodes), found before
    /// anything was written (found later, in a file that mixes kinds of leaves, it is
    /// malformed for this read); a [`VerifiedRead`](dataseal_transport::VerifiedRead)
    /// reads it;
    /// [`Error::Integrity`] naming the first leaf or node whose bytes do not match;
    /// [`Error::Malformed`] for a stream shorter or longer than the DAG says, or a
    /// `block/stat` answer over the block limit; a transport
    /// [`Malformed`](dataseal_transport::Error::Malformed) error for a node that is not a
    /// UnixFS file, sizes that do not add up or a DAG more than 32 levels deep;
    /// [`Error::BlockTooLarge`] for a raw leaf (or raw root) over the block limit;
    /// [`Error::NotFound`]; [`Error::Io`] if writing fails; and the request errors.
    pub async fn cat_checked(
        &self,
        root: &Cid,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<CatSummary, Error> {
        if root.codec() == codec::RAW {
            return self.cat_raw(root, out).await;
        }
        let (mut leaves, total) = Leaves::open(self, root).await?;
        // The first leaf is found before the stream is asked for, so a file this read
        // cannot follow is refused before anything is written.
        let mut current = leaves.next().await?;
        if current.is_none() {
            // No leaf holds a byte: the file is empty, whatever the node would stream.
            return Ok(CatSummary {
                bytes: 0,
                blocks: leaves.nodes,
            });
        }
        let query = [("arg", root.to_string())];
        let (endpoint, mut response) = self
            .post("cat", &query, None, Lookup::Dag)
            .await
            .map_err(|e| self.missing(e, root, Lookup::Dag))?;
        let mut buf: Vec<u8> = Vec::with_capacity(current.map_or(0, |l| l.len));
        let mut written = 0u64;
        let mut cut = 0u64;
        // Leaves being hashed while the next ones arrive, in file order; each is written
        // once its hash matches.
        let mut hashing: VecDeque<(Cid, Hashing)> = VecDeque::new();
        while let Some(mut chunk) = response
            .chunk()
            .await
            .map_err(|e| request_error(&endpoint, &e))?
        {
            while !chunk.is_empty() {
                let Some(leaf) = current else {
                    return Err(Error::malformed(
                        &endpoint,
                        format!("the file is {total} bytes but the node sent more"),
                    ));
                };
                let take = leaf.len.saturating_sub(buf.len()).min(chunk.len());
                buf.extend_from_slice(chunk.split_to(take).as_ref());
                if buf.len() < leaf.len {
                    continue;
                }
                hashing.push_back((leaf.cid, Hashing::start(leaf.cid, std::mem::take(&mut buf))));
                cut += 1;
                while hashing.len() > HASHING_AHEAD
                    || hashing.front().is_some_and(|(_, h)| h.is_finished())
                {
                    written += write_checked(&mut hashing, out).await?;
                }
                current = leaves.next().await.map_err(|e| after_writing(e, written))?;
                if let Some(next) = current {
                    buf.reserve(next.len);
                }
            }
        }
        while !hashing.is_empty() {
            written += write_checked(&mut hashing, out).await?;
        }
        if current.is_some() || !buf.is_empty() {
            return Err(Error::malformed(
                &endpoint,
                format!("the stream ended after {written} of the file's {total} bytes"),
            ));
        }
        out.flush()
            .await
            .map_err(|e| Error::io("writing the file read", e))?;
        Ok(CatSummary {
            bytes: written,
            blocks: leaves.nodes + cut,
        })
    }

    /// A file that is one raw block: its length is whatever the stream holds, up to the
    /// block limit, and the bytes must hash to the CID. The node's `block/stat` answer
    /// only says whether it holds the block; a size over the limit is a bad answer.
    async fn cat_raw(
        &self,
        root: &Cid,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<CatSummary, Error> {
        let limit = self.capabilities().max_block_len;
        // Over the block limit, the answer is malformed; within it, only a hint.
        self.stat_checked(root).await?;
        let query = [("arg", root.to_string())];
        let (endpoint, response) = self
            .post("cat", &query, None, Lookup::Dag)
            .await
            .map_err(|e| self.missing(e, root, Lookup::Dag))?;
        let data = read_limited(&endpoint, response, limit).await?;
        let block = Block::new(*root, data).map_err(|_| Error::Integrity { cid: *root })?;
        write_all(out, block.data()).await?;
        out.flush()
            .await
            .map_err(|e| Error::io("writing the file read", e))?;
        Ok(CatSummary {
            bytes: block.len() as u64,
            blocks: 1,
        })
    }
}
