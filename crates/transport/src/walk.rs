//! Walking a DAG: exporting it, checking it is complete, copying it between stores.
//!
//! One walker serves all three. Nothing in a DAG sizes what it holds: a node's links are
//! read one at a time off its bytes as the walk reaches them, so what is held at once is
//! the path from the root to the current block (at most [`MAX_DEPTH`] nodes, each within
//! the block limit) whatever the link count, plus one entry per distinct block visited.
//! Every distinct block is visited once, so a DAG that links one node thousands of times
//! costs what its distinct blocks cost. Where a node is a UnixFS file, its declared sizes
//! are checked as the walk goes: against its own data and links, against each child's
//! (a raw leaf's length, a file node's total), and against every other link to the same
//! block; a DAG whose sizes do not add up is refused as malformed.

use std::collections::HashMap;

use dataseal_base::{Cid, codec};

use crate::block::store_key;
use crate::dagpb::LinkCursor;
use crate::unixfs::file_sizes;
use crate::{Block, Error, MAX_BLOCK_LEN, Transport};

/// The most dag-pb nodes on a path from the root to a block, the root included.
/// Importers stay far below (a balanced file DAG of 174-link nodes reaches 2^64 bytes in
/// 8 levels, a trickle DAG in about 25; nested directories add a level or two each); a
/// deeper DAG is refused as malformed, which bounds the path held in memory.
pub(crate) const MAX_DEPTH: usize = 64;

const WHAT: &str = "DAG";

/// What is known of a block once the walk has reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// A raw leaf or a UnixFS file node holding this many file bytes (for a raw leaf not
    /// read, the size its first file parent declared).
    Size(u64),
    /// A raw leaf reached only from nodes that are not files, and not read.
    Unsized,
    /// A dag-pb node that is not a UnixFS file (a directory, another dag-pb node).
    NotFile,
}

/// A dag-pb node on the path to the current block, with its next link.
#[derive(Debug)]
struct Frame {
    block: Block,
    links: LinkCursor,
    /// The `blocksizes` of a UnixFS file node (one per link), or `None`.
    sizes: Option<Vec<u64>>,
    next: usize,
}

/// The next thing a walk reaches.
#[derive(Debug)]
pub(crate) enum Step {
    /// A block not reached before: the caller reads it and hands it to
    /// [`DagWalk::enter`], or (a raw leaf it does not need to read) to
    /// [`DagWalk::pass`]. `declared` is the file size its parent gives it when the parent
    /// is a UnixFS file node.
    Visit { cid: Cid, declared: Option<u64> },
    /// A dag-pb node entered earlier whose links have all been walked.
    Leave(Block),
}

/// A depth-first walk of the DAG under a root, each distinct block once, each node before
/// its children (the order CAR exports use), with [`Step::Leave`] after them (the order
/// an upload stores them in).
#[derive(Debug)]
pub(crate) struct DagWalk {
    root: Cid,
    started: bool,
    stack: Vec<Frame>,
    known: HashMap<Cid, Known>,
}

impl DagWalk {
    pub(crate) fn new(root: &Cid) -> Self {
        Self {
            root: *root,
            started: false,
            stack: Vec::new(),
            known: HashMap::new(),
        }
    }

    /// The next step, or `None` once the whole DAG has been walked.
    pub(crate) fn step(&mut self) -> Result<Option<Step>, Error> {
        if !self.started {
            self.started = true;
            return Ok(Some(Step::Visit {
                cid: self.root,
                declared: None,
            }));
        }
        loop {
            let Some(frame) = self.stack.last_mut() else {
                return Ok(None);
            };
            let Some(cid) = frame.links.next_link()? else {
                let Some(done) = self.stack.pop() else {
                    return Ok(None);
                };
                return Ok(Some(Step::Leave(done.block)));
            };
            let parent = *frame.block.cid();
            let declared = frame
                .sizes
                .as_ref()
                .map(|sizes| sizes.get(frame.next).copied().unwrap_or(0));
            frame.next += 1;
            if let Some(size) = declared {
                if cid.codec() != codec::RAW && cid.codec() != codec::DAG_PB {
                    return Err(malformed(format!(
                        "the file node {parent} links {cid}, which is no UnixFS block"
                    )));
                }
                if cid.codec() == codec::RAW && size > MAX_BLOCK_LEN as u64 {
                    return Err(malformed(format!(
                        "the file node {parent} says its raw leaf {cid} holds {size} bytes, \
                         over the block limit of {MAX_BLOCK_LEN}"
                    )));
                }
            }
            let key = store_key(&cid);
            let Some(known) = self.known.get_mut(&key) else {
                return Ok(Some(Step::Visit { cid, declared }));
            };
            match (*known, declared) {
                (_, None) => {}
                (Known::Unsized, Some(size)) => *known = Known::Size(size),
                (Known::Size(held), Some(size)) if held == size => {}
                (Known::Size(held), Some(size)) => {
                    return Err(malformed(format!(
                        "{parent} says {cid} holds {size} bytes, but it holds {held}"
                    )));
                }
                (Known::NotFile, Some(_)) => {
                    return Err(not_a_file(&parent, &cid));
                }
            }
        }
    }

    /// Enters a block the caller read for [`Step::Visit`]: checks it against what its
    /// parent declares and, for a dag-pb node, starts walking its links.
    pub(crate) fn enter(&mut self, block: &Block, declared: Option<u64>) -> Result<(), Error> {
        let cid = *block.cid();
        let known = match cid.codec() {
            codec::RAW => Known::Size(block.len() as u64),
            codec::DAG_PB => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(malformed(format!(
                        "{cid} is more than {MAX_DEPTH} levels below the root {}",
                        self.root
                    )));
                }
                let (links, data) = LinkCursor::new(block.data().clone())?;
                let sizes = file_sizes(data.as_ref(), links.count())?;
                let known = sizes
                    .as_ref()
                    .map_or(Known::NotFile, |s| Known::Size(s.total));
                self.check(&cid, known, declared)?;
                self.known.insert(store_key(&cid), known);
                self.stack.push(Frame {
                    block: block.clone(),
                    links,
                    sizes: sizes.map(|s| s.blocksizes),
                    next: 0,
                });
                return Ok(());
            }
            other => {
                return Err(malformed(format!(
                    "cannot follow the links of {cid} (codec 0x{other:x})"
                )));
            }
        };
        self.check(&cid, known, declared)?;
        self.known.insert(store_key(&cid), known);
        Ok(())
    }

    /// Passes over a raw leaf the caller did not read: it asked whether a store holds it,
    /// and maybe (`held`) how long the store says it is, which must be what its parent
    /// declares. Without `held`, its size stays what its parent declares.
    pub(crate) fn pass(
        &mut self,
        cid: &Cid,
        declared: Option<u64>,
        held: Option<u64>,
    ) -> Result<(), Error> {
        let known = match held {
            Some(len) => {
                self.check(cid, Known::Size(len), declared)?;
                Known::Size(len)
            }
            None => declared.map_or(Known::Unsized, Known::Size),
        };
        self.known.insert(store_key(cid), known);
        Ok(())
    }

    fn check(&self, cid: &Cid, known: Known, declared: Option<u64>) -> Result<(), Error> {
        let Some(size) = declared else {
            return Ok(());
        };
        let parent = self
            .stack
            .last()
            .map_or(self.root, |frame| *frame.block.cid());
        match known {
            Known::Size(held) if held == size => Ok(()),
            Known::Size(held) => Err(malformed(format!(
                "{cid} holds {held} bytes but its parent {parent} says {size}"
            ))),
            Known::Unsized | Known::NotFile => Err(not_a_file(&parent, cid)),
        }
    }

    /// The next block in depth-first order, each node before its children, read from
    /// `store` and checked; `None` when the whole DAG has been visited.
    pub(crate) async fn next<T>(&mut self, store: &T) -> Result<Option<Block>, Error>
    where
        T: Transport + ?Sized,
    {
        while let Some(step) = self.step()? {
            if let Step::Visit { cid, declared } = step {
                let block = store.get_block(&cid).await?;
                self.enter(&block, declared)?;
                return Ok(Some(block));
            }
        }
        Ok(None)
    }
}

fn malformed(detail: String) -> Error {
    Error::malformed(WHAT, detail)
}

fn not_a_file(parent: &Cid, cid: &Cid) -> Error {
    malformed(format!(
        "the file node {parent} links {cid}, which is not a UnixFS file block"
    ))
}

/// Checks that a store holds every block of the DAG under `root`, for the store's own
/// `pin`. Raw leaves are only asked about ([`Transport::stat`]), and read only when the
/// store's length is not what the leaf's parent declares; dag-pb nodes are read and
/// checked as [`DagWalk`] checks them.
pub(crate) async fn check_complete<T>(store: &T, root: &Cid) -> Result<(), Error>
where
    T: Transport + ?Sized,
{
    let mut walk = DagWalk::new(root);
    while let Some(step) = walk.step()? {
        let Step::Visit { cid, declared } = step else {
            continue;
        };
        if cid.codec() == codec::RAW {
            let held = match store.stat(&cid).await {
                Ok(stat) => stat.len,
                Err(Error::NotFound(_)) if cid == *root => return Err(Error::NotFound(cid)),
                Err(Error::NotFound(_)) => return Err(Error::Incomplete { missing: cid }),
                Err(e) => return Err(e),
            };
            if declared.is_none_or(|size| size == held) {
                walk.pass(&cid, declared, Some(held))?;
            } else {
                // A length other than its parent's: the block decides, read and checked
                // (a damaged copy is an integrity failure, a genuine one a malformed DAG).
                let block = store.get_block(&cid).await?;
                walk.enter(&block, declared)?;
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
        walk.enter(&block, declared)?;
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
/// The DAG's numbers size nothing: its nodes' links are read one at a time as the walk
/// reaches them, each distinct block is visited once however often it is linked, and a
/// UnixFS file whose declared sizes do not add up (or whose raw leaves are said to be
/// over the block limit) is refused before its blocks are sent.
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
/// What either store reports; [`Error::Malformed`] for a node whose links cannot be read,
/// sizes that do not add up, or a DAG more than 64 nodes deep.
pub async fn upload<F, T>(from: &F, to: &T, root: &Cid) -> Result<UploadReport, Error>
where
    F: Transport + ?Sized,
    T: Transport + ?Sized,
{
    let mut report = UploadReport::default();
    let mut walk = DagWalk::new(root);
    while let Some(step) = walk.step()? {
        match step {
            Step::Leave(block) => send(to, &block, &mut report).await?,
            Step::Visit { cid, declared } if cid.codec() == codec::RAW => {
                if to.has(&cid).await? {
                    report.skipped += 1;
                    walk.pass(&cid, declared, None)?;
                } else {
                    let block = from.get_block(&cid).await?;
                    walk.enter(&block, declared)?;
                    to.put(&block).await?;
                    report.uploaded += 1;
                    report.uploaded_bytes += block.len() as u64;
                }
            }
            Step::Visit { cid, declared } => {
                let block = from.get_block(&cid).await?;
                walk.enter(&block, declared)?;
            }
        }
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
