//! The verified multi-store reader.

use dataseal_base::Cid;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::unixfs::FileNode;
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
    served: Vec<Served>,
    failures: Vec<Failed>,
}

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
            served: Vec::new(),
            failures: Vec::new(),
        }
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
    /// [`Error::Malformed`] for a verified block that is not a UnixFS file node or whose
    /// sizes disagree with its parent's; [`Error::Io`] if writing to `out` fails.
    pub async fn run<S: Transport>(
        &mut self,
        stores: &[S],
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<u64, Error> {
        read_with(self, stores, out).await
    }
}

pub(crate) async fn read_with<S: Transport>(
    read: &mut VerifiedRead,
    stores: &[S],
    out: &mut (dyn AsyncWrite + Send + Unpin),
) -> Result<u64, Error> {
    let mut demoted = vec![false; stores.len()];
    let mut stack: Vec<(Cid, u64, Option<u64>)> = vec![(read.root, 0, None)];
    while !read.done {
        let Some((cid, node_off, expected)) = stack.pop() else {
            read.done = true;
            break;
        };
        let block = fetch(read, stores, &mut demoted, &cid).await?;
        let node = FileNode::decode(&block)?;
        let end = match expected {
            Some(size) if size != node.file_size() => {
                return Err(Error::malformed(
                    "UnixFS file",
                    format!(
                        "{cid} holds {} bytes but its parent says {size}",
                        node.file_size()
                    ),
                ));
            }
            Some(_) => read.end.unwrap_or(0),
            None => resolve_range(read, node.file_size())?,
        };
        let data = node.data();
        let data_end = node_off.saturating_add(data.len() as u64);
        if data_end > read.position && node_off < end {
            let from = read.position.max(node_off) - node_off;
            let to = end.min(data_end) - node_off;
            let slice = data.get(from as usize..to as usize).unwrap_or_default();
            out.write_all(slice)
                .await
                .map_err(|e| Error::io("writing the file read", e))?;
            read.position = node_off + to;
        }
        let mut child_off = data_end;
        let mut wanted = Vec::new();
        for child in node.children() {
            let child_end = child_off.saturating_add(child.file_size());
            if child_end > read.position && child_off < end {
                wanted.push((*child.cid(), child_off, Some(child.file_size())));
            }
            child_off = child_end;
        }
        stack.extend(wanted.into_iter().rev());
    }
    out.flush()
        .await
        .map_err(|e| Error::io("writing the file read", e))?;
    Ok(read.written())
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

/// Gets one verified block, trying the stores in order (unreachable ones last).
async fn fetch<S: Transport>(
    read: &mut VerifiedRead,
    stores: &[S],
    demoted: &mut [bool],
    cid: &Cid,
) -> Result<Block, Error> {
    let order: Vec<usize> = (0..stores.len())
        .filter(|&i| !demoted.get(i).copied().unwrap_or(false))
        .chain((0..stores.len()).filter(|&i| demoted.get(i).copied().unwrap_or(false)))
        .collect();
    let mut errors: Vec<(usize, Error)> = Vec::new();
    for index in order {
        let Some(store) = stores.get(index) else {
            continue;
        };
        let result = match store.get(cid).await {
            Ok(bytes) => Block::new(*cid, bytes),
            Err(e) => Err(e),
        };
        match result {
            Ok(block) => {
                read.served.push(Served {
                    cid: *cid,
                    store: index,
                    len: block.len() as u64,
                });
                return Ok(block);
            }
            Err(error) => {
                let kind = match &error {
                    Error::NotFound(_) => FailureKind::NotFound,
                    Error::Unavailable(_) => FailureKind::Unavailable,
                    Error::Integrity { .. } => FailureKind::Integrity,
                    _ => FailureKind::Other,
                };
                if kind == FailureKind::Unavailable
                    && let Some(flag) = demoted.get_mut(index)
                {
                    *flag = true;
                }
                read.failures.push(Failed {
                    cid: *cid,
                    store: index,
                    kind,
                    message: error.to_string(),
                });
                errors.push((index, error));
            }
        }
    }
    errors.sort_by_key(|(index, _)| *index);
    if stores.len() == 1
        && let Some((_, error)) = errors.pop()
    {
        return Err(error);
    }
    Err(Error::Exhausted {
        cid: *cid,
        failures: errors.into_iter().map(|(_, e)| e).collect(),
    })
}
