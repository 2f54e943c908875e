//! The verified multi-store reader.

use std::collections::{HashMap, HashSet, VecDeque};

use dataseal_base::Cid;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::dagpb::LinkCursor;
use crate::unixfs::FileLinks;
use crate::walk::MAX_DEPTH;
use crate::{Block, Error, Transport};

/// Which store served a block during a [`VerifiedRead`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Served {
    /// The block.
    pub cid: Cid,
    /// The store's index in the list passed to [`VerifiedRead::run`].
    pub store: usize,
    /// The block's length.
    pub len: u64,
}

/// The kind of a failed block request, as a reputation system counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The store said it does not have the block.
    NotFound,
    /// The store could not be reached.
    Unavailable,
    /// The store answered with bytes that do not hash to the CID.
    Integrity,
    /// Any other error (a local I/O error, a malformed answer).
    Other,
}

/// A block request that failed during a [`VerifiedRead`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failed {
    /// The block asked for.
    pub cid: Cid,
    /// The store's index in the list passed to [`VerifiedRead::run`].
    pub store: usize,
    /// What went wrong.
    pub kind: FailureKind,
    /// The error, as text.
    pub message: String,
}

/// A verified read of a UnixFS file, or of a byte range of it, from an ordered list of
/// stores.
///
/// Every block is re-hashed against its CID before a byte of it is used; a store that
/// answers with wrong bytes, does not have the block or cannot be reached is recorded and
/// the next store is asked, block by block. Stores that were unreachable during a run are
/// asked last for the rest of that run. The sizes in each node are checked against its
/// children's, so a lying DAG cannot shift bytes around.
///
/// Nothing in the DAG sizes what the read holds: the file is walked depth-first in file
/// order, each node's links read off its bytes only as the walk reaches them, so what is
/// held at once is the path from the root to the next block (at most 64 nodes, each
/// within the block limit) and the window of blocks fetched ahead, however many links a
/// node holds. Only children holding bytes of the range are fetched (one that declares no
/// bytes adds none to the file and is passed over, as `cat` does), so the time taken
/// follows the blocks the output needs, not the paths through the DAG.
///
/// Output is written in order. If a run fails (every store failed for some block), the
/// bytes already written stay valid and [`VerifiedRead::position`] says how far they
/// reach: calling [`VerifiedRead::run`] again resumes there, with the same or other
/// stores, after whatever back-off the caller chooses.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dataseal_transport::{Faults, FaultyStore, ImportParams, MemoryStore, Transport, VerifiedRead};
/// use std::sync::Arc;
///
/// let good = Arc::new(MemoryStore::new());
/// let data = vec![5u8; 10_000];
/// let root = good.add(&mut &data[..], &ImportParams::new(Default::default(), 4096)?).await?;
/// // A store that corrupts every block it serves, tried first.
/// let liar = FaultyStore::new(good.clone(), Faults::new().corrupt_every(1));
/// let stores: Vec<Box<dyn Transport>> = vec![Box::new(liar), Box::new(good)];
///
/// let mut read = VerifiedRead::range(root, 100, 5000);
/// let mut out = Vec::new();
/// read.run(&stores, &mut out).await?;
/// assert_eq!(out, data[100..5100]);
/// assert!(read.served().iter().all(|s| s.store == 1));
/// assert!(!read.failures().is_empty());
/// # Ok::<(), dataseal_transport::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedRead {
    root: Cid,
    start: u64,
    len: Option<u64>,
    position: u64,
    end: Option<u64>,
    file_len: Option<u64>,
    done: bool,
    window: usize,
    spread: usize,
    served: Vec<Served>,
    failures: Vec<Failed>,
}

/// The number of blocks a [`VerifiedRead`] fetches ahead by default.
pub const DEFAULT_READ_WINDOW: usize = 8;

impl VerifiedRead {
    /// A read of the whole file under `root`.
    #[must_use]
    pub fn new(root: Cid) -> Self {
        Self::with(root, 0, None)
    }

    /// A read of the `len` bytes at `offset` of the file under `root`.
    #[must_use]
    pub fn range(root: Cid, offset: u64, len: u64) -> Self {
        Self::with(root, offset, Some(len))
    }

    fn with(root: Cid, start: u64, len: Option<u64>) -> Self {
        Self {
            root,
            start,
            len,
            position: start,
            end: None,
            file_len: None,
            done: false,
            window: DEFAULT_READ_WINDOW,
            spread: 1,
            served: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Fetches up to `blocks` blocks at a time (at least 1; default
    /// [`DEFAULT_READ_WINDOW`]), in file order. Blocks are still used and written strictly
    /// in order, so at most `blocks` blocks are held in memory; a wider window hides each
    /// request's round trip.
    #[must_use]
    pub fn window(mut self, blocks: usize) -> Self {
        self.window = blocks.max(1);
        self
    }

    /// Spreads the requests over the first `stores` reachable stores, which take turns
    /// being asked first (default 1: every block is asked of the first reachable store
    /// first). Failover is unchanged: a block one store cannot serve is asked of every
    /// other store, in order.
    ///
    /// With a window of several blocks, spreading reads from several nodes at once.
    #[must_use]
    pub fn spread(mut self, stores: usize) -> Self {
        self.spread = stores.max(1);
        self
    }

    /// The root of the file read.
    #[must_use]
    pub fn root(&self) -> &Cid {
        &self.root
    }

    /// The file offset of the next byte to write: where a resumed run starts.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The number of bytes written so far, over every run.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.position - self.start
    }

    /// The file's length, once the root has been read.
    #[must_use]
    pub fn file_len(&self) -> Option<u64> {
        self.file_len
    }

    /// Whether every byte asked for has been written.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Every block served, in order, with the store that served it (over every run).
    #[must_use]
    pub fn served(&self) -> &[Served] {
        &self.served
    }

    /// Every failed block request (over every run).
    #[must_use]
    pub fn failures(&self) -> &[Failed] {
        &self.failures
    }

    /// Reads (or resumes reading) into `out`, asking `stores` in order for each block.
    /// Returns the number of bytes written over every run.
    ///
    /// # Errors
    ///
    /// [`Error::Exhausted`] when no store could serve a block (with one store, that
    /// store's error itself); [`Error::Range`] for a range outside the file;
    /// [`Error::Malformed`] for a verified block that is not a UnixFS file node, whose
    /// sizes disagree with its parent's, or with children more than 64 levels below the
    /// root; [`Error::Io`] if writing to `out` fails.
    pub async fn run<S: Transport>(
        &mut self,
        stores: &[S],
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<u64, Error> {
        read_with(self, stores, out).await
    }
}

/// A node of the file still to be read: its CID, the file offset of its first byte, the
/// size its parent gives it (`None` for the root) and a number unique within the run.
#[derive(Debug, Clone, Copy)]
struct Pending {
    cid: Cid,
    offset: u64,
    expected: Option<u64>,
    id: u64,
    /// The nodes from the root down to this one, itself included.
    depth: usize,
}

/// The links of a node on the path not reached yet, read one at a time off the node's
/// bytes (as [`crate::walk`] reads them).
#[derive(Debug)]
struct Links {
    links: LinkCursor,
    /// The size the node gives each link, in order.
    sizes: Vec<u64>,
    /// The index of the next link.
    next: usize,
    /// The file offset of the next link's first byte.
    offset: u64,
    /// The depth of the node's children.
    depth: usize,
}

impl Links {
    /// The next child holding bytes of `position..end`, or `None` once no later child
    /// does. Children that hold no bytes, or only bytes outside the range, are passed
    /// over without being fetched: they cannot add a byte to the output.
    fn next_wanted(
        &mut self,
        position: u64,
        end: u64,
        next_id: &mut u64,
    ) -> Result<Option<Pending>, Error> {
        // One size per link: the node's sizes were checked against its links.
        while let Some(&size) = self.sizes.get(self.next) {
            self.next += 1;
            let offset = self.offset;
            if offset >= end {
                return Ok(None);
            }
            self.offset = offset.saturating_add(size);
            if size == 0 || self.offset <= position {
                if !self.links.skip_link()? {
                    return Ok(None);
                }
                continue;
            }
            let Some(cid) = self.links.next_link()? else {
                return Ok(None);
            };
            let id = *next_id;
            *next_id += 1;
            return Ok(Some(Pending {
                cid,
                offset,
                expected: Some(size),
                id,
                depth: self.depth,
            }));
        }
        Ok(None)
    }
}

/// A node on the path from the root to the next block to write: its children already
/// fetched or being fetched (in file order, at most the window), then its links not
/// reached yet (`None` once no later child is wanted). The bottom frame holds the root.
#[derive(Debug)]
struct Frame {
    queued: VecDeque<Pending>,
    rest: Option<Links>,
}

/// A block fetched (with the index of the store that served it), or why not.
type Outcome = Result<(Block, usize), Error>;

/// What one fetch brings back: the node's id, the outcome and every failed request.
type Fetched = (u64, Outcome, Vec<Failed>);

/// The read itself: a lazy depth-first walk in file order.
///
/// What is held at once is the path from the root to the next block (at most
/// [`MAX_DEPTH`] nodes, each one verified block with one size per link), plus at most
/// `window` blocks fetched or being fetched ahead, whatever the nodes' link counts. Each
/// node's links are read off its bytes as the walk reaches them, and only children
/// holding bytes of the range are fetched, so the time taken follows the blocks the
/// output needs (and the links of the nodes read).
pub(crate) async fn read_with<S: Transport>(
    read: &mut VerifiedRead,
    stores: &[S],
    out: &mut (dyn AsyncWrite + Send + Unpin),
) -> Result<u64, Error> {
    let window = read.window;
    let spread = read.spread;
    let mut demoted = vec![false; stores.len()];
    let mut next_id = 1u64;
    // Fetched blocks waiting for their turn, and the fetches under way: together at most
    // `window` blocks, the next one always among them.
    let mut ready: HashMap<u64, Outcome> = HashMap::new();
    let mut in_flight: HashSet<u64> = HashSet::new();
    let mut fetches = FuturesUnordered::new();
    let root = Pending {
        cid: read.root,
        offset: 0,
        expected: None,
        id: 0,
        depth: 1,
    };
    in_flight.insert(root.id);
    fetches.push(fetch(
        stores,
        store_order(&demoted, spread, root.id),
        root.cid,
        root.id,
    ));
    let mut stack = vec![Frame {
        queued: VecDeque::from([root]),
        rest: None,
    }];
    // The end of the range, known once the root has been read (before any frame has
    // links to walk).
    let mut end = 0u64;
    while !read.done {
        // Fetch ahead in file order: the next wanted child of the deepest node first,
        // until `window` blocks are fetched or being fetched. Every child taken off a
        // node's links is fetched at once, so the next block is always on its way.
        let mut outstanding = ready.len() + in_flight.len();
        let mut next_queued = false;
        'fill: for frame in stack.iter_mut().rev() {
            next_queued |= !frame.queued.is_empty();
            while let Some(links) = frame.rest.as_mut() {
                if next_queued && outstanding >= window {
                    break 'fill;
                }
                let Some(child) = links.next_wanted(read.position, end, &mut next_id)? else {
                    frame.rest = None;
                    break;
                };
                in_flight.insert(child.id);
                let order = store_order(&demoted, spread, child.id);
                fetches.push(fetch(stores, order, child.cid, child.id));
                frame.queued.push_back(child);
                outstanding += 1;
                next_queued = true;
            }
        }
        // Nodes whose wanted children have all been read are done with.
        while stack
            .last()
            .is_some_and(|frame| frame.queued.is_empty() && frame.rest.is_none())
        {
            stack.pop();
        }
        let Some(frame) = stack.last() else {
            read.done = true;
            break;
        };
        let Some(&next) = frame.queued.front() else {
            // Unreachable: the deepest node left has a child on its way.
            return Err(Error::malformed("verified read", "no block in flight"));
        };
        let Some(outcome) = ready.remove(&next.id) else {
            let Some((id, outcome, failed)) = fetches.next().await else {
                // Unreachable: the next node is always ready or in flight.
                return Err(Error::malformed("verified read", "no block in flight"));
            };
            in_flight.remove(&id);
            for f in failed {
                if f.kind == FailureKind::Unavailable
                    && let Some(flag) = demoted.get_mut(f.store)
                {
                    *flag = true;
                }
                read.failures.push(f);
            }
            ready.insert(id, outcome);
            continue;
        };
        // A later block's failure surfaces only when that block's turn comes, so every
        // byte before it is written first.
        let (block, store) = outcome?;
        if let Some(frame) = stack.last_mut() {
            frame.queued.pop_front();
        }
        read.served.push(Served {
            cid: next.cid,
            store,
            len: block.len() as u64,
        });
        let node = FileLinks::decode(&block)?;
        match next.expected {
            Some(size) if size != node.file_size => {
                return Err(Error::malformed(
                    "UnixFS file",
                    format!(
                        "{} holds {} bytes but its parent says {size}",
                        next.cid, node.file_size
                    ),
                ));
            }
            Some(_) => {}
            None => end = resolve_range(read, node.file_size)?,
        }
        let data = &node.data;
        let data_end = next.offset.saturating_add(data.len() as u64);
        if data_end > read.position && next.offset < end {
            let from = read.position.max(next.offset) - next.offset;
            let to = end.min(data_end) - next.offset;
            let slice = data.get(from as usize..to as usize).unwrap_or_default();
            out.write_all(slice)
                .await
                .map_err(|e| Error::io("writing the file read", e))?;
            read.position = next.offset + to;
        }
        if node.links.count() == 0 {
            continue;
        }
        if next.depth > MAX_DEPTH {
            // Every node on the path is held while its children are read: a bound on
            // the path bounds them.
            return Err(Error::malformed(
                "UnixFS file",
                format!(
                    "{} is more than {MAX_DEPTH} levels below the root {}",
                    next.cid, read.root
                ),
            ));
        }
        stack.push(Frame {
            queued: VecDeque::new(),
            rest: Some(Links {
                links: node.links,
                sizes: node.blocksizes,
                next: 0,
                offset: data_end,
                depth: next.depth + 1,
            }),
        });
    }
    out.flush()
        .await
        .map_err(|e| Error::io("writing the file read", e))?;
    Ok(read.written())
}

/// The order in which to ask the stores for node `id`: reachable stores before ones found
/// unreachable in this run, each group in the caller's order, with the first `spread`
/// reachable stores taking turns at the front.
fn store_order(demoted: &[bool], spread: usize, id: u64) -> Vec<usize> {
    let (mut order, down): (Vec<usize>, Vec<usize>) =
        (0..demoted.len()).partition(|&i| !demoted.get(i).copied().unwrap_or(false));
    let turns = spread.min(order.len());
    if let Some(front) = order.get_mut(..turns)
        && turns > 1
    {
        front.rotate_left((id % turns as u64) as usize);
    }
    order.extend(down);
    order
}

/// Gets one verified block, asking the stores in `order` until one serves it.
async fn fetch<S: Transport>(stores: &[S], order: Vec<usize>, cid: Cid, id: u64) -> Fetched {
    let mut errors: Vec<(usize, Error)> = Vec::new();
    let mut failed = Vec::new();
    for index in order {
        let Some(store) = stores.get(index) else {
            continue;
        };
        // A `Block` can only be made by hashing or checking its bytes, so one that
        // names the CID asked for holds exactly those bytes, whatever the store.
        let result = match store.get_block(&cid).await {
            Ok(block) if *block.cid() == cid => Ok(block),
            Ok(other) => Err(Error::CidMismatch {
                expected: Box::new(cid),
                got: Box::new(*other.cid()),
            }),
            Err(e) => Err(e),
        };
        match result {
            Ok(block) => return (id, Ok((block, index)), failed),
            Err(error) => {
                let kind = match &error {
                    Error::NotFound(_) => FailureKind::NotFound,
                    Error::Unavailable(_) => FailureKind::Unavailable,
                    Error::Integrity { .. } | Error::CidMismatch { .. } => FailureKind::Integrity,
                    _ => FailureKind::Other,
                };
                failed.push(Failed {
                    cid,
                    store: index,
                    kind,
                    message: error.to_string(),
                });
                errors.push((index, error));
            }
        }
    }
    errors.sort_by_key(|(index, _)| *index);
    let error = if stores.len() == 1
        && let Some((_, error)) = errors.pop()
    {
        error
    } else {
        Error::Exhausted {
            cid,
            failures: errors.into_iter().map(|(_, e)| e).collect(),
        }
    };
    (id, Err(error), failed)
}

/// Fixes the end of the read once the file's length is known.
fn resolve_range(read: &mut VerifiedRead, file_len: u64) -> Result<u64, Error> {
    read.file_len = Some(file_len);
    let len = read.len.unwrap_or(file_len.saturating_sub(read.start));
    let end = read
        .start
        .checked_add(len)
        .filter(|&end| end <= file_len)
        .ok_or(Error::Range {
            offset: read.start,
            len,
            file_len,
        })?;
    read.end = Some(end);
    Ok(end)
}
