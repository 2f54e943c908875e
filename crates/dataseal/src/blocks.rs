//! Single files and blocks on one store: content addresses computed locally, put, a
//! verified get across several stores, and CAR export and import.
//!
//! These are the building blocks under [`crate::Publish`] and [`crate::Fetch`], for
//! callers that move plain UnixFS files (or ciphertext they encrypted themselves):
//!
//! - [`file_root`] computes the CID `ipfs add --cid-version=1 --raw-leaves` gives a
//!   file, hashing on every core, without a store;
//! - [`put`] stores a file as a UnixFS DAG and pins it (a node's own root must equal
//!   the one computed locally);
//! - [`Get`] reads a root with every block re-hashed, failing over per block;
//! - [`car_export`] and [`car_import`] move a DAG as a CARv1 file, every block checked.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};

use dataseal_base::Cid;
use dataseal_btfs::CatSummary;
use dataseal_transport::{
    CarSummary, FileBuilder, ImportParams, Profile, Transport, VerifiedRead, raw_leaves_root,
};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{Error, Store};

/// Blocking I/O seen as tokio's async I/O: the synchronous API does one thing at a time,
/// so reading and writing files inline is what it wants.
#[derive(Debug)]
pub(crate) struct Blocking<T>(pub(crate) T);

impl<T: Read + Unpin> AsyncRead for Blocking<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.get_mut().0.read(buf.initialize_unfilled())?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: Write + Unpin> AsyncWrite for Blocking<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().0.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().0.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// The CIDv1 raw-leaf UnixFS root of everything `reader` yields, cut into chunks of
/// `params`' size, and the number of bytes read: the CID `ipfs add --cid-version=1
/// --raw-leaves --chunker=size-N` prints for the same bytes.
///
/// One thread reads into a fixed set of buffers, one thread per core hashes the chunks,
/// and the calling thread builds the DAG over the leaf CIDs in order. Memory: about
/// `2 × cores + 2` chunks.
///
/// # Errors
///
/// [`Error::Invalid`] for parameters other than CIDv1 raw leaves, [`Error::Io`] when the
/// reader fails, [`Error::Transport`] when the DAG cannot be built (a file too long for
/// UnixFS).
pub fn file_root(
    reader: &mut (impl Read + Send),
    params: &ImportParams,
) -> Result<(Cid, u64), Error> {
    if params.profile() != Profile::V1RawLeaves {
        return Err(Error::Invalid(
            "file_root computes CIDv1 raw-leaf roots only".to_owned(),
        ));
    }
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    raw_leaf_root_parallel(reader, params.chunk_size(), threads)
}

fn raw_leaf_root_parallel(
    reader: &mut (impl Read + Send),
    chunk_size: usize,
    threads: usize,
) -> Result<(Cid, u64), Error> {
    let threads = threads.max(1);
    let slots = 2 * threads + 2;
    let (free_tx, free_rx) = mpsc::sync_channel::<Vec<u8>>(slots);
    for _ in 0..slots {
        let _ = free_tx.send(vec![0u8; chunk_size]);
    }
    let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Vec<u8>, usize)>(slots);
    // Shared by the hashers and dropped with the last of them, so the reader never
    // waits on a queue nobody drains.
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = mpsc::channel::<(u64, Cid, usize)>();
    std::thread::scope(|scope| {
        let read = scope.spawn(move || -> io::Result<u64> {
            let mut total = 0u64;
            let mut index = 0u64;
            // Stops when the input ends, or when the hashers have stopped (the
            // buffers stop coming back).
            while let Ok(mut buf) = free_rx.recv() {
                let filled = fill(reader, &mut buf)?;
                if filled == 0 {
                    break;
                }
                total += filled as u64;
                if work_tx.send((index, buf, filled)).is_err() {
                    break;
                }
                index += 1;
                if filled < chunk_size {
                    break;
                }
            }
            Ok(total)
        });
        for _ in 0..threads {
            let (work_rx, done_tx, free_tx) = (work_rx.clone(), done_tx.clone(), free_tx.clone());
            scope.spawn(move || {
                loop {
                    let job = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok((index, buf, len)) = job else { break };
                    let cid = Cid::raw_sha256(buf.get(..len).unwrap_or_default());
                    if done_tx.send((index, cid, len)).is_err() {
                        break;
                    }
                    let _ = free_tx.send(buf);
                }
            });
        }
        drop((done_tx, free_tx, work_rx));
        let mut builder = FileBuilder::new(Profile::V1RawLeaves);
        let mut waiting: BTreeMap<u64, (Cid, usize)> = BTreeMap::new();
        let mut next = 0u64;
        let mut built = Ok(());
        'collect: for (index, cid, len) in done_rx {
            waiting.insert(index, (cid, len));
            while let Some((cid, len)) = waiting.remove(&next) {
                if let Err(e) = builder.push_raw_leaf(cid, len as u64) {
                    built = Err(Error::transport("building the file's DAG", e));
                    break 'collect;
                }
                next += 1;
            }
        }
        // Leaving the loop early drops the receiver: the hashers stop, the buffers
        // stop coming back and the reader stops.
        let total = match read.join() {
            Ok(Ok(total)) => total,
            Ok(Err(e)) => return Err(Error::io("reading the input", e)),
            Err(_) => {
                return Err(Error::io(
                    "reading the input",
                    io::Error::other("the reading thread failed"),
                ));
            }
        };
        built?;
        Ok((builder.finish().0, total))
    })
}

/// Reads until `buf` is full or the input ends.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The UnixFS root CID of an encrypted object from its chunk CIDs: every chunk is
/// `chunk_size` bytes of ciphertext except the last, which holds the rest of
/// `ciphertext_len`.
///
/// # Errors
///
/// [`Error::Invalid`] if the lengths do not fit the chunk list; [`Error::Transport`] if
/// no UnixFS DAG can describe them.
pub fn object_root(cids: &[Cid], chunk_size: u64, ciphertext_len: u64) -> Result<Cid, Error> {
    let full = chunk_size.saturating_mul(cids.len().saturating_sub(1) as u64);
    let last = ciphertext_len.checked_sub(full).ok_or_else(|| {
        Error::Invalid("the chunk list does not fit the ciphertext length".to_owned())
    })?;
    let count = cids.len();
    let leaves = cids.iter().enumerate().map(|(i, cid)| {
        let len = if i + 1 == count { last } else { chunk_size };
        (*cid, len)
    });
    raw_leaves_root(leaves)
        .map(|(root, _)| root)
        .map_err(|e| Error::transport("computing the object's root CID", e))
}

/// Stores a file as a UnixFS DAG with `params` and pins it; returns its root.
///
/// On a `dir:` store only the blocks it lacks are written. A node adds the file itself,
/// and its root must equal the one computed locally from the same bytes.
///
/// # Errors
///
/// The store's error ([`Error::Transport`] or [`Error::Node`]); a node whose root
/// differs is a [`crate::ErrorKind::Verification`] failure.
pub fn put(
    store: &mut Store,
    reader: impl Read + Send + Unpin,
    params: &ImportParams,
) -> Result<Cid, Error> {
    let context = format!("storing a file in {}", store.spec());
    let mut reader = Blocking(reader);
    crate::runtime()?.block_on(async {
        store.detect().await;
        if let Some(client) = store.node() {
            let root = client
                .add_file(&mut reader, params)
                .await
                .map_err(|e| Error::node(&context, e))?;
            client
                .pin_checked(&root)
                .await
                .map_err(|e| Error::node(&context, e))?;
            Ok(root)
        } else {
            let t = store.transport();
            let root = t
                .add(&mut reader, params)
                .await
                .map_err(|e| Error::transport(&context, e))?;
            t.pin(&root)
                .await
                .map_err(|e| Error::transport(&context, e))?;
            Ok(root)
        }
    })
}

/// Blocks one store served during a [`Get`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StoreUse {
    /// The store, as its spec.
    pub store: String,
    /// Verified blocks it served.
    pub blocks: usize,
    /// Requests to it that failed (not found, unreachable, bad bytes).
    pub failures: usize,
}

/// What a [`Get`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct GetReport {
    /// The root read.
    pub root_cid: String,
    /// The file's length.
    pub file_len: u64,
    /// The first byte written.
    pub offset: u64,
    /// The number of bytes written.
    pub bytes_written: u64,
    /// Per store, in the order given.
    pub stores: Vec<StoreUse>,
}

/// A verified read of one UnixFS file (or a byte range of it) from one or more stores.
///
/// Every block is re-hashed before a byte of it is written; the stores are tried in
/// order per block. A whole file from a node is first read in one streamed `cat` whose
/// every leaf is checked; on any failure the read starts again block by block over
/// every store.
#[derive(Debug, Clone)]
pub struct Get {
    root: Cid,
    range: Option<(u64, u64)>,
    window: usize,
    spread: usize,
    stream: bool,
}

impl Get {
    /// Reads the whole file under `root`.
    #[must_use]
    pub fn new(root: Cid) -> Self {
        Self {
            root,
            range: None,
            window: dataseal_transport::DEFAULT_READ_WINDOW,
            spread: 1,
            stream: true,
        }
    }

    /// Reads only `len` bytes from `offset`.
    #[must_use]
    pub fn range(mut self, offset: u64, len: u64) -> Self {
        self.range = Some((offset, len));
        self
    }

    /// Blocks fetched ahead ([`VerifiedRead::window`]).
    #[must_use]
    pub fn window(mut self, blocks: usize) -> Self {
        self.window = blocks;
        self
    }

    /// Stores that take turns being asked first ([`VerifiedRead::spread`]).
    #[must_use]
    pub fn spread(mut self, stores: usize) -> Self {
        self.spread = stores;
        self
    }

    /// Whether a whole file from a node (the first store, no range, no spread) may be
    /// read in one streamed, checked `cat` (the default) or always block by block.
    #[must_use]
    pub fn stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    /// Runs the read into `out`, which is truncated and rewritten if a streamed read
    /// has to start again.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] without a store; the read's [`Error::Transport`]: a
    /// verification failure when a store served bad bytes and no other served good ones,
    /// unavailable when no store had the block.
    pub fn run(&self, stores: &mut [Store], out: &mut File) -> Result<GetReport, Error> {
        if stores.is_empty() {
            return Err(Error::Invalid("at least one store is required".to_owned()));
        }
        let root = self.root;
        let mut read = match self.range {
            Some((offset, len)) => VerifiedRead::range(root, offset, len),
            None => VerifiedRead::new(root),
        }
        .window(self.window)
        .spread(self.spread);
        let mut streamed: Option<CatSummary> = None;
        let mut stream_failed = false;
        let written = {
            let mut writer = Blocking(&mut *out);
            crate::runtime()?.block_on(async {
                for store in stores.iter_mut() {
                    // A node that does not answer keeps its default capabilities: the
                    // read then records it as unavailable and moves on.
                    store.detect().await;
                }
                if self.stream
                    && self.range.is_none()
                    && self.spread == 1
                    && let Some(client) = stores.first().and_then(Store::node)
                {
                    match client.cat_checked(&root, &mut writer).await {
                        Ok(summary) => {
                            streamed = Some(summary);
                            return Ok(summary.bytes);
                        }
                        Err(dataseal_btfs::Error::Unsupported(_)) => {}
                        Err(_) => {
                            stream_failed = true;
                            let file = &mut *writer.0;
                            file.set_len(0)
                                .and_then(|()| file.seek(io::SeekFrom::Start(0)).map(drop))
                                .map_err(|source| dataseal_transport::Error::Io {
                                    context: "restarting the output".to_owned(),
                                    source,
                                })?;
                        }
                    }
                }
                let transports: Vec<&dyn Transport> = stores.iter().map(Store::transport).collect();
                read.run(&transports, &mut writer).await
            })
        }
        .map_err(|e| Error::transport(format!("reading {root}"), e))?;
        let uses = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let mut blocks = read.served().iter().filter(|s| s.store == i).count();
                let mut failures = read.failures().iter().filter(|f| f.store == i).count();
                if i == 0 {
                    blocks += streamed.map_or(0, |s| usize::try_from(s.blocks).unwrap_or(0));
                    failures += usize::from(stream_failed);
                }
                StoreUse {
                    store: store.spec().to_string(),
                    blocks,
                    failures,
                }
            })
            .collect();
        Ok(GetReport {
            root_cid: root.to_string(),
            file_len: streamed.map_or(read.file_len().unwrap_or(0), |s| s.bytes),
            offset: self.range.map_or(0, |(offset, _)| offset),
            bytes_written: written,
            stores: uses,
        })
    }
}

/// Writes the DAG under `root` from `store` as a CARv1 file: every block re-hashed
/// before it is written.
///
/// # Errors
///
/// The store's error; a missing block is unavailable, a bad one a verification failure.
pub fn car_export(
    store: &mut Store,
    root: &Cid,
    out: impl Write + Send + Unpin,
) -> Result<CarSummary, Error> {
    let context = format!("exporting {root} from {}", store.spec());
    let mut writer = Blocking(out);
    crate::runtime()?.block_on(async {
        store.detect().await;
        if let Some(client) = store.node() {
            client
                .export_car_checked(root, &mut writer)
                .await
                .map_err(|e| Error::node(&context, e))
        } else {
            store
                .transport()
                .export_car(root, &mut writer)
                .await
                .map_err(|e| Error::transport(&context, e))
        }
    })
}

/// Reads a CARv1 file into `store`, every block verified, then pins its roots: which
/// fails (a verification failure) if the CAR did not hold every block they reach.
///
/// # Errors
///
/// The store's error; a malformed CAR is invalid input.
pub fn car_import(store: &mut Store, input: impl Read + Send + Unpin) -> Result<CarSummary, Error> {
    let context = format!("importing a CAR into {}", store.spec());
    let mut reader = Blocking(input);
    crate::runtime()?.block_on(async {
        store.detect().await;
        if let Some(client) = store.node() {
            let summary = client
                .import_car_checked(&mut reader)
                .await
                .map_err(|e| Error::node(&context, e))?;
            for root in &summary.roots {
                client
                    .pin_checked(root)
                    .await
                    .map_err(|e| Error::node(&context, e))?;
            }
            Ok(summary)
        } else {
            let t = store.transport();
            let summary = t
                .import_car(&mut reader)
                .await
                .map_err(|e| Error::transport(&context, e))?;
            for root in &summary.roots {
                t.pin(root)
                    .await
                    .map_err(|e| Error::transport(&context, e))?;
            }
            Ok(summary)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_root_matches_the_builder() {
        let params = ImportParams::new(Profile::V1RawLeaves, 1024).unwrap();
        for len in [0usize, 1, 1023, 1024, 1025, 10 * 1024 + 7, 200 * 1024] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let (root, total) = file_root(&mut &data[..], &params).unwrap();
            assert_eq!(total, len as u64);
            let expected = dataseal_transport::import_bytes(&data, &params).root;
            assert_eq!(root, expected, "len {len}");
        }
    }

    #[test]
    fn object_root_refuses_lengths_that_do_not_fit() {
        let cid = Cid::raw_sha256(b"x");
        assert!(matches!(
            object_root(&[cid, cid], 10, 5),
            Err(Error::Invalid(_))
        ));
    }
}
