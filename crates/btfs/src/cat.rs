//! Whole-file reads in one streamed `cat`, every leaf checked against the DAG.

use std::collections::VecDeque;

use dataseal_base::{Cid, codec};
use dataseal_transport::{Block, FileNode};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::client::{Lookup, request_error};
use crate::{Client, Error};

/// Leaves hashed ahead of the one being written, at most.
const HASHING_AHEAD: usize = 4;

/// Waits for the oldest leaf being hashed and writes it if it matched its CID.
async fn write_checked(
    hashing: &mut VecDeque<(Cid, JoinHandle<Option<Block>>)>,
    out: &mut (dyn AsyncWrite + Send + Unpin),
) -> Result<u64, Error> {
    let Some((cid, handle)) = hashing.pop_front() else {
        return Ok(0);
    };
    let block = handle
        .await
        .map_err(|e| Error::io("hashing a leaf", std::io::Error::other(e)))?
        .ok_or(Error::Integrity { cid })?;
    out.write_all(block.data())
        .await
        .map_err(|e| Error::io("writing the file read", e))?;
    Ok(block.len() as u64)
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

/// A leaf of the file: its CID and length, from its parent.
struct Leaf {
    cid: Cid,
    len: u64,
}

impl Client {
    /// Reads a whole CIDv1 raw-leaf UnixFS file (what `ipfs add --cid-version=1
    /// --raw-leaves` and `dataseal put` make) in one streamed `cat` request, with every
    /// byte verified before it is written.
    ///
    /// The internal nodes are fetched first with `block/get`, each checked against its
    /// CID, and their sizes against their children's; they give every leaf's CID and
    /// length. The `cat` stream is then cut at those lengths and each leaf is hashed
    /// against its CID before a byte of it reaches `out`. One request carries the data
    /// instead of one per block, which is several times faster against a node whose
    /// per-request cost dominates (js-ipfs).
    ///
    /// On an error, the bytes already written are a verified prefix of the file; a caller
    /// that wants failover reads the rest (or all) with
    /// [`VerifiedRead`](dataseal_transport::VerifiedRead) from other stores.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for a file this path cannot check leaf by leaf (dag-pb
    /// leaves, as a CIDv0 import has, or data inside internal nodes): nothing has been
    /// written, and a [`VerifiedRead`](dataseal_transport::VerifiedRead) reads it;
    /// [`Error::Integrity`] naming the first leaf or node whose bytes do not match;
    /// [`Error::Malformed`] for a stream shorter or longer than the DAG says, or a node
    /// that is not a UnixFS file; [`Error::NotFound`]; [`Error::Io`] if writing fails; and
    /// the request errors.
    pub async fn cat_checked(
        &self,
        root: &Cid,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<CatSummary, Error> {
        let (leaves, nodes) = self.leaves_of(root).await?;
        let total: u64 = leaves.iter().map(|l| l.len).sum();
        let query = [("arg", root.to_string())];
        let (endpoint, mut response) = self
            .post("cat", &query, None, Lookup::Dag)
            .await
            .map_err(|e| self.missing(e, root, Lookup::Dag))?;
        let mut leaves = leaves.into_iter();
        let mut current = leaves.next();
        let mut buf: Vec<u8> = Vec::with_capacity(
            current
                .as_ref()
                .map_or(0, |l| usize::try_from(l.len).unwrap_or(0)),
        );
        let mut written = 0u64;
        let mut checked = nodes;
        // Leaves being hashed on the blocking pool while the next ones arrive, in file
        // order; each is written once its hash matches.
        let mut hashing: VecDeque<(Cid, JoinHandle<Option<Block>>)> = VecDeque::new();
        while let Some(mut chunk) = response
            .chunk()
            .await
            .map_err(|e| request_error(&endpoint, &e))?
        {
            while !chunk.is_empty() {
                let Some(leaf) = current.as_ref() else {
                    return Err(Error::malformed(
                        &endpoint,
                        format!("the file is {total} bytes but the node sent more"),
                    ));
                };
                let want = usize::try_from(leaf.len)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(buf.len());
                let take = want.min(chunk.len());
                buf.extend_from_slice(chunk.split_to(take).as_ref());
                if buf.len() as u64 == leaf.len {
                    let (cid, data) = (leaf.cid, std::mem::take(&mut buf));
                    hashing.push_back((
                        cid,
                        tokio::task::spawn_blocking(move || Block::new(cid, data).ok()),
                    ));
                    current = leaves.next();
                    if let Some(next) = &current {
                        buf.reserve(usize::try_from(next.len).unwrap_or(0));
                    }
                    while hashing.len() > HASHING_AHEAD
                        || hashing.front().is_some_and(|(_, h)| h.is_finished())
                    {
                        written += write_checked(&mut hashing, out).await?;
                        checked += 1;
                    }
                }
            }
        }
        while !hashing.is_empty() {
            written += write_checked(&mut hashing, out).await?;
            checked += 1;
        }
        // Zero-length leaves need no bytes from the stream.
        while let Some(leaf) = current.take() {
            if leaf.len != 0 || !buf.is_empty() {
                return Err(Error::malformed(
                    &endpoint,
                    format!("the stream ended after {written} of the file's {total} bytes"),
                ));
            }
            Block::new(leaf.cid, Vec::new()).map_err(|_| Error::Integrity { cid: leaf.cid })?;
            checked += 1;
            current = leaves.next();
        }
        out.flush()
            .await
            .map_err(|e| Error::io("writing the file read", e))?;
        Ok(CatSummary {
            bytes: written,
            blocks: checked,
        })
    }

    /// The leaves of a raw-leaf file in order, and the number of internal nodes read,
    /// every node checked.
    async fn leaves_of(&self, root: &Cid) -> Result<(Vec<Leaf>, u64), Error> {
        if root.codec() == codec::RAW {
            let len = self.stat_checked(root).await?;
            return Ok((vec![Leaf { cid: *root, len }], 0));
        }
        let mut leaves = Vec::new();
        let mut nodes = 0u64;
        // Depth first, in file order: (CID, the size the parent gives it).
        let mut stack: Vec<(Cid, Option<u64>)> = vec![(*root, None)];
        while let Some((cid, expected)) = stack.pop() {
            if cid.codec() == codec::RAW {
                leaves.push(Leaf {
                    cid,
                    len: expected.unwrap_or(0),
                });
                continue;
            }
            let block = self.get_checked(&cid).await?;
            nodes += 1;
            let node = FileNode::decode(&block)?;
            if expected.is_some_and(|size| size != node.file_size()) {
                return Err(dataseal_transport::Error::Malformed {
                    what: "UnixFS file",
                    detail: format!(
                        "{cid} holds {} bytes but its parent says {}",
                        node.file_size(),
                        expected.unwrap_or(0)
                    ),
                }
                .into());
            }
            if node.children().is_empty() || !node.data().is_empty() {
                return Err(Error::Unsupported(format!(
                    "a streamed read of {root}: {cid} is a leaf or holds data itself \
                     (not a raw-leaf file)"
                )));
            }
            let limit = self.capabilities().max_block_len as u64;
            if let Some(big) = node
                .children()
                .iter()
                .find(|c| c.cid().codec() == codec::RAW && c.file_size() > limit)
            {
                return Err(Error::BlockTooLarge {
                    len: big.file_size(),
                    limit,
                });
            }
            stack.extend(
                node.children()
                    .iter()
                    .rev()
                    .map(|c| (*c.cid(), Some(c.file_size()))),
            );
        }
        Ok((leaves, nodes))
    }
}
