//! Walking a DAG: exporting it, checking it is complete, copying it between stores.

use std::collections::HashSet;

use dataseal_base::{Cid, codec};

use crate::block::store_key;
use crate::dagpb::PbNode;
use crate::{Block, Error, Transport};

/// The links of a block: none for raw, the dag-pb links in order, an error for a codec
/// whose links this crate cannot read.
fn links_of(block: &Block) -> Result<Vec<Cid>, Error> {
    match block.cid().codec() {
        codec::RAW => Ok(Vec::new()),
        codec::DAG_PB => Ok(PbNode::decode(block.data())?
            .links
            .into_iter()
            .map(|l| l.cid)
            .collect()),
        other => Err(Error::malformed(
            "DAG",
            format!(
                "cannot follow the links of {} (codec 0x{other:x})",
                block.cid()
            ),
        )),
    }
}

/// Visits every block of the DAG under `root` once, depth first, each node before its
/// children (the order CAR exports use), each verified against its CID.
#[derive(Debug)]
pub(crate) struct DagWalk {
    seen: HashSet<Cid>,
    stack: Vec<Cid>,
}

impl DagWalk {
    pub(crate) fn new(root: &Cid) -> Self {
        Self {
            seen: HashSet::new(),
            stack: vec![*root],
        }
    }

    /// The next block, or `None` when the whole DAG has been visited.
    pub(crate) async fn next<T>(&mut self, store: &T) -> Result<Option<Block>, Error>
    where
        T: Transport + ?Sized,
    {
        while let Some(cid) = self.stack.pop() {
            if !self.seen.insert(store_key(&cid)) {
                continue;
            }
            let block = store.get_block(&cid).await?;
            self.stack.extend(links_of(&block)?.into_iter().rev());
            return Ok(Some(block));
        }
        Ok(None)
    }
}

/// Checks that `store` holds every block of the DAG under `root`. Raw leaves are only
/// asked about ([`Transport::has`]), not read.
pub(crate) async fn check_complete<T>(store: &T, root: &Cid) -> Result<(), Error>
where
    T: Transport + ?Sized,
{
    let mut seen = HashSet::new();
    let mut stack = vec![*root];
    while let Some(cid) = stack.pop() {
        if !seen.insert(store_key(&cid)) {
            continue;
        }
        if cid.codec() == codec::RAW {
            if !store.has(&cid).await? {
                return Err(if cid == *root {
                    Error::NotFound(cid)
                } else {
                    Error::Incomplete { missing: cid }
                });
            }
            continue;
        }
        let block = match store.get_block(&cid).await {
            Ok(block) => block,
            Err(Error::NotFound(missing)) if missing != *root => {
                return Err(Error::Incomplete { missing });
            }
            Err(e) => return Err(e),
        };
        stack.extend(links_of(&block)?.into_iter().rev());
    }
    Ok(())
}

/// What [`upload`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct UploadReport {
    /// Blocks the destination lacked, now stored.
    pub uploaded: u64,
    /// Bytes of those blocks.
    pub uploaded_bytes: u64,
    /// Blocks the destination already had.
    pub skipped: u64,
}

/// Copies the DAG under `root` from `from` to `to`, sending only the blocks `to` lacks.
///
/// Every block read from `from` is verified. Children are stored before their parents,
/// and each block is asked about ([`Transport::has`]) before it is read or sent, so a run
/// that was interrupted resumes by calling `upload` again: what arrived is skipped, raw
/// leaves already present are not even read from `from`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dataseal_transport::{ImportParams, MemoryStore, Transport, upload};
///
/// let local = MemoryStore::new();
/// let remote = MemoryStore::new();
/// let data: Vec<u8> = (0..3000u32).map(|i| (i / 7) as u8).collect();
/// let params = ImportParams::new(Default::default(), 1024)?;
/// let root = local.add(&mut &data[..], &params).await?;
/// let first = upload(&local, &remote, &root).await?;
/// assert_eq!(first.uploaded, 4); // three leaves and their parent
/// let again = upload(&local, &remote, &root).await?;
/// assert_eq!((again.uploaded, again.skipped), (0, 4));
/// # Ok::<(), dataseal_transport::Error>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// What either store reports; [`Error::Malformed`] for a node whose links cannot be read.
pub async fn upload<F, T>(from: &F, to: &T, root: &Cid) -> Result<UploadReport, Error>
where
    F: Transport + ?Sized,
    T: Transport + ?Sized,
{
    let mut report = UploadReport::default();
    let mut seen = HashSet::new();
    // A frame holds a CID still to visit, or a node whose children are all done.
    let mut stack: Vec<(Cid, Option<Block>)> = vec![(*root, None)];
    while let Some((cid, expanded)) = stack.pop() {
        if let Some(block) = expanded {
            send(to, &block, &mut report).await?;
            continue;
        }
        if !seen.insert(store_key(&cid)) {
            continue;
        }
        if cid.codec() == codec::RAW {
            if to.has(&cid).await? {
                report.skipped += 1;
            } else {
                let block = from.get_block(&cid).await?;
                to.put(&block).await?;
                report.uploaded += 1;
                report.uploaded_bytes += block.len() as u64;
            }
            continue;
        }
        let block = from.get_block(&cid).await?;
        let links = links_of(&block)?;
        stack.push((cid, Some(block)));
        stack.extend(links.into_iter().rev().map(|l| (l, None)));
    }
    Ok(report)
}

async fn send<T: Transport + ?Sized>(
    to: &T,
    block: &Block,
    report: &mut UploadReport,
) -> Result<(), Error> {
    if to.has(block.cid()).await? {
        report.skipped += 1;
    } else {
        to.put(block).await?;
        report.uploaded += 1;
        report.uploaded_bytes += block.len() as u64;
    }
    Ok(())
}
