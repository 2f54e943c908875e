//! The store subcommands of `dataseal`: `cid`, `put`, `get`, `car export`, `car import`,
//! and the object root CID that `encrypt --json` reports.
//!
//! A store is named by a spec: `dir:PATH` is the on-disk block store (the embedded
//! default); `kubo:URL` is a node speaking the Kubo RPC API under `/api/v0` (Kubo, or
//! js-ipfs: which one is asked with `version`), and `btfs:URL` a BTFS node (`/api/v1`),
//! both reached with `dataseal-btfs`.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use dataseal_base::Cid;
use dataseal_btfs::{Capabilities, CatSummary, Client};
use dataseal_transport::{
    DirStore, Error, FileBuilder, ImportParams, Profile, Transport, VerifiedRead, raw_leaves_root,
};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{AtomicFile, EXIT_USAGE, EXIT_VERIFY, Failure, progress_bar, show};

/// Exit code: unavailable (no store could serve, network error).
pub const EXIT_UNAVAILABLE: u8 = 5;

/// The exit code for a transport error: [`EXIT_VERIFY`] when data did not verify (a
/// block that does not hash to its CID, every store answering with such blocks, an
/// incomplete DAG), [`EXIT_UNAVAILABLE`] when no store could serve (not found,
/// unreachable), [`EXIT_USAGE`] for malformed input, bad parameters and I/O errors.
#[must_use]
pub fn exit_code(err: &Error) -> u8 {
    match err {
        Error::Integrity { .. } | Error::CidMismatch { .. } | Error::Incomplete { .. } => {
            EXIT_VERIFY
        }
        Error::Exhausted { .. } if err.is_integrity() => EXIT_VERIFY,
        Error::NotFound(_) | Error::Unavailable(_) | Error::Exhausted { .. } => EXIT_UNAVAILABLE,
        // Malformed input, a block or range out of bounds, a local I/O error; and, as
        // `Error` is non-exhaustive, any variant added later until it gets its own code.
        _ => EXIT_USAGE,
    }
}

fn failure(context: impl std::fmt::Display, err: &Error) -> Failure {
    Failure::new(exit_code(err), format!("{context}: {err}"))
}

/// The exit code for an error from a node: [`EXIT_VERIFY`] when data did not verify (the
/// node's CID differs from the one computed locally, a block that does not hash to its
/// CID, an incomplete DAG), [`EXIT_USAGE`] for a bad address, an unsupported request, a
/// local I/O error or a block over the limit, and [`EXIT_UNAVAILABLE`] when the node
/// could not serve (unreachable, too slow, an HTTP error, a block it lacks, an answer
/// that does not parse).
#[must_use]
pub fn node_exit_code(err: &dataseal_btfs::Error) -> u8 {
    use dataseal_btfs::Error as E;
    if err.is_integrity() {
        return EXIT_VERIFY;
    }
    match err {
        E::Incomplete { .. } => EXIT_VERIFY,
        E::Transport(inner) => exit_code(inner),
        E::InvalidUrl { .. } | E::Unsupported(_) | E::Io { .. } | E::BlockTooLarge { .. } => {
            EXIT_USAGE
        }
        _ => EXIT_UNAVAILABLE,
    }
}

fn node_failure(context: impl std::fmt::Display, err: &dataseal_btfs::Error) -> Failure {
    Failure::new(node_exit_code(err), format!("{context}: {err}"))
}

/// A store named by a spec.
#[derive(Debug)]
pub struct Store {
    kind: StoreKind,
}

#[derive(Debug)]
enum StoreKind {
    Dir(DirStore),
    /// A node; `detect` for `kubo:`, whose capabilities depend on what the node is.
    Node {
        client: Client,
        detect: bool,
    },
}

impl Store {
    /// The store as a [`Transport`].
    #[must_use]
    pub fn transport(&self) -> &dyn Transport {
        match &self.kind {
            StoreKind::Dir(dir) => dir,
            StoreKind::Node { client, .. } => client,
        }
    }

    /// For a `kubo:` node: asks it what it is (`version`) and adopts the matching
    /// capabilities (Kubo, an older go-ipfs or js-ipfs).
    ///
    /// # Errors
    ///
    /// The node's error if it does not answer.
    pub async fn detect(&mut self) -> Result<(), dataseal_btfs::Error> {
        if let StoreKind::Node { client, detect } = &mut self.kind
            && *detect
        {
            let version = client.version().await?;
            *client = client.with_capabilities(Capabilities::kubo_compatible(&version));
            *detect = false;
        }
        Ok(())
    }
}

/// Opens the store a spec names. No request is sent to a node yet.
///
/// # Errors
///
/// A usage [`Failure`] for an unknown spec, a node address that is not an `http(s)` URL,
/// or a store that cannot be opened; with `must_exist`, also for a `dir:` store that does
/// not exist.
pub fn open_store(spec: &str, must_exist: bool) -> Result<Store, Failure> {
    let Some((scheme, rest)) = spec.split_once(':') else {
        return Err(Failure::usage(format!(
            "invalid store {spec:?}: expected dir:PATH, kubo:URL or btfs:URL"
        )));
    };
    let kind = match scheme {
        "dir" if !rest.is_empty() => {
            let path = Path::new(rest);
            if must_exist && !path.join("dataseal-blockstore").is_file() {
                return Err(Failure::usage(format!(
                    "store {spec:?}: no dataseal block store in {}",
                    show(path)
                )));
            }
            StoreKind::Dir(
                DirStore::open(path).map_err(|e| failure(format!("store {spec:?}"), &e))?,
            )
        }
        "kubo" | "btfs" => {
            let caps = if scheme == "btfs" {
                Capabilities::btfs()
            } else {
                Capabilities::kubo()
            };
            let client =
                Client::new(rest, caps).map_err(|e| node_failure(format!("store {spec:?}"), &e))?;
            StoreKind::Node {
                client,
                detect: scheme == "kubo",
            }
        }
        _ => {
            return Err(Failure::usage(format!(
                "invalid store {spec:?}: expected dir:PATH, kubo:URL or btfs:URL"
            )));
        }
    };
    Ok(Store { kind })
}

fn parse_cid(text: &str) -> Result<Cid, Failure> {
    text.parse()
        .map_err(|e| Failure::usage(format!("ROOT_CID: {e}")))
}

fn params(chunk_size: u64) -> Result<ImportParams, Failure> {
    ImportParams::new(Profile::V1RawLeaves, chunk_size)
        .map_err(|e| Failure::usage(format!("--chunk-size: {e}")))
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("cannot start the async runtime", &e))
}

/// Blocking I/O seen as tokio's async I/O: the command line does one thing at a time,
/// so reading and writing files inline is what it wants.
#[derive(Debug)]
pub struct Blocking<T>(pub T);

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

fn open_input(path: &Path) -> Result<(File, u64), Failure> {
    let file =
        File::open(path).map_err(|e| Failure::io(format!("cannot read {}", show(path)), &e))?;
    let len = file
        .metadata()
        .map_err(|e| Failure::io(format!("cannot read {}", show(path)), &e))?
        .len();
    Ok((file, len))
}

/// What `dataseal cid` reports.
#[derive(Debug, Serialize)]
pub struct CidReport {
    /// The root CID.
    pub root_cid: String,
    /// The file's length.
    pub bytes: u64,
    /// The chunk size used.
    pub chunk_size: u64,
}

/// `dataseal cid [--chunk-size BYTES] FILE`: the root CID `ipfs add --cid-version=1
/// --raw-leaves --chunker=size-BYTES FILE` prints, computed locally.
///
/// # Errors
///
/// A usage [`Failure`] for a chunk size of 0 or over 1 MiB, or an unreadable file.
pub fn cid_cmd(file: &Path, chunk_size: u64) -> Result<CidReport, Failure> {
    let params = params(chunk_size)?;
    let (input, len) = open_input(file)?;
    let bar = progress_bar(len, "hashing");
    let mut reader = bar.wrap_read(input);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let (root, total) =
        raw_leaf_root_parallel(&mut reader, params.chunk_size(), threads).map_err(|e| match e {
            RootError::Read(e) => Failure::io(format!("cannot read {}", show(file)), &e),
            RootError::Build(e) => failure(show(file), &e),
        })?;
    bar.finish_and_clear();
    Ok(CidReport {
        root_cid: root.to_string(),
        bytes: total,
        chunk_size,
    })
}

/// Why [`raw_leaf_root_parallel`] failed.
enum RootError {
    Read(io::Error),
    Build(Error),
}

/// The CIDv1 raw-leaf UnixFS root of everything `reader` yields, cut into `chunk_size`
/// chunks, and the number of bytes read. One thread reads into a fixed set of buffers,
/// `threads` threads hash the chunks, and the calling thread builds the DAG over the leaf
/// CIDs in order: the result is exactly [`FileBuilder`]'s, at the speed of the hashing
/// spread over the cores. Memory: `2 × threads + 2` chunk buffers.
fn raw_leaf_root_parallel(
    reader: &mut (impl Read + Send),
    chunk_size: usize,
    threads: usize,
) -> Result<(Cid, u64), RootError> {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex, mpsc};

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
                    built = Err(RootError::Build(e));
                    break 'collect;
                }
                next += 1;
            }
        }
        // Leaving the loop early drops the receiver: the hashers stop, the buffers
        // stop coming back and the reader stops.
        let total = match read.join() {
            Ok(Ok(total)) => total,
            Ok(Err(e)) => return Err(RootError::Read(e)),
            Err(_) => {
                return Err(RootError::Read(io::Error::other(
                    "the reading thread failed",
                )));
            }
        };
        built?;
        Ok((builder.finish().0, total))
    })
}

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
/// A usage [`Failure`] if the lengths do not fit the chunk list.
pub fn object_root(cids: &[Cid], chunk_size: u64, ciphertext_len: u64) -> Result<Cid, Failure> {
    let full = chunk_size.saturating_mul(cids.len().saturating_sub(1) as u64);
    let last = ciphertext_len
        .checked_sub(full)
        .ok_or_else(|| Failure::usage("the chunk list does not fit the ciphertext length"))?;
    let count = cids.len();
    let leaves = cids.iter().enumerate().map(|(i, cid)| {
        let len = if i + 1 == count { last } else { chunk_size };
        (*cid, len)
    });
    raw_leaves_root(leaves)
        .map(|(root, _)| root)
        .map_err(|e| failure("computing the object's root CID", &e))
}

/// What `dataseal put` reports.
#[derive(Debug, Serialize)]
pub struct PutReport {
    /// The root CID.
    pub root_cid: String,
    /// The file's length.
    pub bytes: u64,
    /// The chunk size used.
    pub chunk_size: u64,
    /// The store written to.
    pub store: String,
}

/// `dataseal put --store SPEC [--chunk-size BYTES] FILE`: stores the file as a UnixFS
/// file (CIDv1, raw leaves), sending only the blocks the store lacks, and pins it.
///
/// # Errors
///
/// A [`Failure`] with the code [`exit_code`] gives the transport error.
pub fn put_cmd(spec: &str, chunk_size: u64, file: &Path) -> Result<PutReport, Failure> {
    let params = params(chunk_size)?;
    let mut store = open_store(spec, false)?;
    let (input, len) = open_input(file)?;
    let bar = progress_bar(len, "storing");
    let mut reader = Blocking(bar.wrap_read(input));
    let context = format!("storing {} in {spec}", show(file));
    let root = runtime()?.block_on(async {
        match &mut store.kind {
            StoreKind::Dir(dir) => {
                let root = dir
                    .add(&mut reader, &params)
                    .await
                    .map_err(|e| failure(&context, &e))?;
                dir.pin(&root).await.map_err(|e| failure(&context, &e))?;
                Ok(root)
            }
            StoreKind::Node { .. } => {
                store
                    .detect()
                    .await
                    .map_err(|e| node_failure(&context, &e))?;
                let StoreKind::Node { client, .. } = &store.kind else {
                    return Err(Failure::usage("the store changed kind"));
                };
                // The node adds the file itself; its root must equal the one computed
                // here from the same bytes (exit 1 otherwise).
                let root = client
                    .add_file(&mut reader, &params)
                    .await
                    .map_err(|e| node_failure(&context, &e))?;
                client
                    .pin_checked(&root)
                    .await
                    .map_err(|e| node_failure(&context, &e))?;
                Ok(root)
            }
        }
    });
    bar.finish_and_clear();
    let root = root?;
    Ok(PutReport {
        root_cid: root.to_string(),
        bytes: len,
        chunk_size,
        store: spec.to_owned(),
    })
}

/// Blocks served by one store during `get`.
#[derive(Debug, Serialize)]
pub struct StoreUse {
    /// The store spec.
    pub store: String,
    /// Blocks it served.
    pub blocks: usize,
    /// Requests to it that failed.
    pub failures: usize,
}

/// What `dataseal get` reports.
#[derive(Debug, Serialize)]
pub struct GetReport {
    /// The root CID.
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

/// `dataseal get --store SPEC [--store SPEC …] [--range OFFSET:LEN] ROOT_CID OUTPUT`:
/// reads with every block verified, trying the stores in order per block; see
/// [`GetOptions`] (`--window`, `--spread`, `--blockwise`).
///
/// # Errors
///
/// A [`Failure`] with the code [`exit_code`] gives the transport error; OUTPUT is then
/// not created.
pub fn get_cmd(
    specs: &[String],
    range: Option<(u64, u64)>,
    options: GetOptions,
    root: &str,
    output: &Path,
) -> Result<GetReport, Failure> {
    if specs.is_empty() {
        return Err(Failure::usage("at least one --store is required"));
    }
    let root = parse_cid(root)?;
    let mut stores = specs
        .iter()
        .map(|spec| open_store(spec, true))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = AtomicFile::create(output, false)?;
    let mut read = match range {
        Some((offset, len)) => VerifiedRead::range(root, offset, len),
        None => VerifiedRead::new(root),
    }
    .window(options.window)
    .spread(options.spread);
    let mut streamed: Option<CatSummary> = None;
    let mut stream_failed = false;
    let result = {
        let mut writer = Blocking(out.file());
        runtime()?.block_on(async {
            for store in &mut stores {
                // A node that does not answer keeps its default capabilities: the read
                // then records it as unavailable and moves on to the next store.
                let _ = store.detect().await;
            }
            // A whole raw-leaf file from a node: one streamed `cat`, checked leaf by leaf.
            // On any failure, start again block by block over every store.
            if options.stream
                && range.is_none()
                && options.spread == 1
                && let Some(StoreKind::Node { client, .. }) = stores.first().map(|s| &s.kind)
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
                            .map_err(|source| Error::Io {
                                context: "restarting the output".to_owned(),
                                source,
                            })?;
                    }
                }
            }
            let transports: Vec<&dyn Transport> = stores.iter().map(Store::transport).collect();
            read.run(&transports, &mut writer).await
        })
    };
    let written = result.map_err(|e| failure(format!("reading {root}"), &e))?;
    out.commit()?;
    let stores = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut blocks = read.served().iter().filter(|s| s.store == i).count();
            let mut failures = read.failures().iter().filter(|f| f.store == i).count();
            if i == 0 {
                blocks += streamed.map_or(0, |s| usize::try_from(s.blocks).unwrap_or(0));
                failures += usize::from(stream_failed);
            }
            StoreUse {
                store: spec.clone(),
                blocks,
                failures,
            }
        })
        .collect();
    Ok(GetReport {
        root_cid: root.to_string(),
        file_len: streamed.map_or(read.file_len().unwrap_or(0), |s| s.bytes),
        offset: range.map_or(0, |(offset, _)| offset),
        bytes_written: written,
        stores,
    })
}

/// How `dataseal get` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetOptions {
    /// Blocks fetched ahead ([`VerifiedRead::window`]).
    pub window: usize,
    /// Stores that take turns being asked first ([`VerifiedRead::spread`]).
    pub spread: usize,
    /// Whether a whole file from a node (the first store, no range, no spread) is read in
    /// one streamed `cat`, every leaf checked ([`Client::cat_checked`]), before falling
    /// back to block-by-block reads.
    pub stream: bool,
}

impl Default for GetOptions {
    fn default() -> Self {
        Self {
            window: dataseal_transport::DEFAULT_READ_WINDOW,
            spread: 1,
            stream: true,
        }
    }
}

/// What `dataseal car export` and `car import` report.
#[derive(Debug, Serialize)]
pub struct CarReport {
    /// The roots in the CAR header.
    pub roots: Vec<String>,
    /// The number of blocks.
    pub blocks: u64,
    /// The total length of the blocks.
    pub bytes: u64,
    /// The CAR file.
    pub car: String,
}

/// `dataseal car export --store SPEC ROOT_CID OUT.car`.
///
/// # Errors
///
/// A [`Failure`] with the code [`exit_code`] gives the transport error; OUT.car is then
/// not created.
pub fn car_export_cmd(spec: &str, root: &str, out_path: &Path) -> Result<CarReport, Failure> {
    let root = parse_cid(root)?;
    let mut store = open_store(spec, true)?;
    let mut out = AtomicFile::create(out_path, false)?;
    let context = format!("exporting {root}");
    let result = {
        let mut writer = Blocking(io::BufWriter::new(out.file()));
        runtime()?.block_on(async {
            store
                .detect()
                .await
                .map_err(|e| node_failure(&context, &e))?;
            let summary = match &store.kind {
                StoreKind::Dir(dir) => dir
                    .export_car(&root, &mut writer)
                    .await
                    .map_err(|e| failure(&context, &e))?,
                StoreKind::Node { client, .. } => client
                    .export_car_checked(&root, &mut writer)
                    .await
                    .map_err(|e| node_failure(&context, &e))?,
            };
            Ok::<_, Failure>(summary)
        })
    };
    let summary = result?;
    out.commit()?;
    Ok(CarReport {
        roots: summary.roots.iter().map(ToString::to_string).collect(),
        blocks: summary.blocks,
        bytes: summary.bytes,
        car: show(out_path),
    })
}

/// `dataseal car import --store SPEC IN.car`: every block verified and stored, then the
/// roots pinned, which fails (exit 1) if the CAR did not hold every block they reach.
///
/// # Errors
///
/// A [`Failure`] with the code [`exit_code`] gives the transport error.
pub fn car_import_cmd(spec: &str, car: &Path) -> Result<CarReport, Failure> {
    let mut store = open_store(spec, false)?;
    let (input, _) = open_input(car)?;
    let mut reader = Blocking(io::BufReader::new(input));
    let context = format!("importing {}", show(car));
    let summary = runtime()?.block_on(async {
        store
            .detect()
            .await
            .map_err(|e| node_failure(&context, &e))?;
        match &store.kind {
            StoreKind::Dir(dir) => {
                let summary = dir
                    .import_car(&mut reader)
                    .await
                    .map_err(|e| failure(&context, &e))?;
                for root in &summary.roots {
                    dir.pin(root).await.map_err(|e| failure(&context, &e))?;
                }
                Ok(summary)
            }
            StoreKind::Node { client, .. } => {
                let summary = client
                    .import_car_checked(&mut reader)
                    .await
                    .map_err(|e| node_failure(&context, &e))?;
                for root in &summary.roots {
                    client
                        .pin_checked(root)
                        .await
                        .map_err(|e| node_failure(&context, &e))?;
                }
                Ok::<_, Failure>(summary)
            }
        }
    })?;
    Ok(CarReport {
        roots: summary.roots.iter().map(ToString::to_string).collect(),
        blocks: summary.blocks,
        bytes: summary.bytes,
        car: show(car),
    })
}
