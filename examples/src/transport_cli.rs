//! The store subcommands of `dataseal`: `cid`, `put`, `get`, `car export`, `car import`,
//! and the object root CID that `encrypt --json` reports: argument handling and reports
//! over [`dataseal::blocks`], which does the work.
//!
//! A store is named by a spec ([`dataseal::StoreSpec`]): `dir:PATH` is the on-disk block
//! store (the embedded default); `kubo:URL` is a node speaking the Kubo RPC API under
//! `/api/v0` (Kubo, or js-ipfs: which one is asked with `version`), and `btfs:URL` a
//! BTFS node (`/api/v1`).

use std::fs::File;
use std::io;
use std::path::Path;

use dataseal::blocks::{self, Get};
use dataseal::{Cid, Store, StoreSpec};
use dataseal_transport::{ImportParams, Profile};
use serde::Serialize;

use crate::{AtomicFile, Failure, progress_bar, show};

pub use dataseal::blocks::{GetReport, StoreUse};

/// Exit code: unavailable (no store could serve, network error).
pub const EXIT_UNAVAILABLE: u8 = 5;

/// A facade error as a [`Failure`], with `context` in front of its message.
fn failure(context: impl std::fmt::Display, err: &dataseal::Error) -> Failure {
    Failure::new(err.exit_code(), format!("{context}: {err}"))
}

/// Opens the store a spec names; with `must_exist`, a `dir:` store must already be one.
fn open_store(spec: &str, must_exist: bool) -> Result<Store, Failure> {
    let parsed: StoreSpec = spec
        .parse()
        .map_err(|e: dataseal::Error| Failure::from(e))?;
    Store::open(&parsed, !must_exist).map_err(Failure::from)
}

fn parse_cid(text: &str) -> Result<Cid, Failure> {
    text.parse()
        .map_err(|e| Failure::usage(format!("ROOT_CID: {e}")))
}

fn params(chunk_size: u64) -> Result<ImportParams, Failure> {
    ImportParams::new(Profile::V1RawLeaves, chunk_size)
        .map_err(|e| Failure::usage(format!("--chunk-size: {e}")))
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
/// --raw-leaves --chunker=size-BYTES FILE` prints, computed locally
/// ([`blocks::file_root`]).
///
/// # Errors
///
/// A usage [`Failure`] for a chunk size of 0 or over 1 MiB, or an unreadable file.
pub fn cid_cmd(file: &Path, chunk_size: u64) -> Result<CidReport, Failure> {
    let params = params(chunk_size)?;
    let (input, len) = open_input(file)?;
    let bar = progress_bar(len, "hashing");
    let result = blocks::file_root(&mut bar.wrap_read(input), &params);
    bar.finish_and_clear();
    let (root, total) = result.map_err(|e| failure(show(file), &e))?;
    Ok(CidReport {
        root_cid: root.to_string(),
        bytes: total,
        chunk_size,
    })
}

/// The UnixFS root CID of an encrypted object from its chunk CIDs
/// ([`blocks::object_root`]).
///
/// # Errors
///
/// A usage [`Failure`] if the lengths do not fit the chunk list.
pub fn object_root(cids: &[Cid], chunk_size: u64, ciphertext_len: u64) -> Result<Cid, Failure> {
    blocks::object_root(cids, chunk_size, ciphertext_len).map_err(Failure::from)
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
/// file (CIDv1, raw leaves) and pins it ([`blocks::put`]).
///
/// # Errors
///
/// A [`Failure`] with the facade error's exit code.
pub fn put_cmd(spec: &str, chunk_size: u64, file: &Path) -> Result<PutReport, Failure> {
    let params = params(chunk_size)?;
    let mut store = open_store(spec, false)?;
    let (input, len) = open_input(file)?;
    let bar = progress_bar(len, "storing");
    let result = blocks::put(&mut store, bar.wrap_read(input), &params);
    bar.finish_and_clear();
    let root = result.map_err(|e| failure(format!("storing {}", show(file)), &e))?;
    Ok(PutReport {
        root_cid: root.to_string(),
        bytes: len,
        chunk_size,
        store: spec.to_owned(),
    })
}

/// How `dataseal get` reads (see [`Get`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetOptions {
    /// Blocks fetched ahead.
    pub window: usize,
    /// Stores that take turns being asked first.
    pub spread: usize,
    /// Whether a whole file from a node may be read in one streamed, checked `cat`.
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

/// `dataseal get --store SPEC [--store SPEC …] [--range OFFSET:LEN] ROOT_CID OUTPUT`:
/// reads with every block verified, trying the stores in order per block ([`Get`]).
///
/// # Errors
///
/// A [`Failure`] with the facade error's exit code; OUTPUT is then not created.
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
    let mut get = Get::new(root)
        .window(options.window)
        .spread(options.spread)
        .stream(options.stream);
    if let Some((offset, len)) = range {
        get = get.range(offset, len);
    }
    let report = get.run(&mut stores, out.file()).map_err(Failure::from)?;
    out.commit()?;
    Ok(report)
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

/// `dataseal car export --store SPEC ROOT_CID OUT.car` ([`blocks::car_export`]).
///
/// # Errors
///
/// A [`Failure`] with the facade error's exit code; OUT.car is then not created.
pub fn car_export_cmd(spec: &str, root: &str, out_path: &Path) -> Result<CarReport, Failure> {
    let root = parse_cid(root)?;
    let mut store = open_store(spec, true)?;
    let mut out = AtomicFile::create(out_path, false)?;
    let summary = blocks::car_export(&mut store, &root, io::BufWriter::new(out.file()))
        .map_err(Failure::from)?;
    out.commit()?;
    Ok(CarReport {
        roots: summary.roots.iter().map(ToString::to_string).collect(),
        blocks: summary.blocks,
        bytes: summary.bytes,
        car: show(out_path),
    })
}

/// `dataseal car import --store SPEC IN.car`: every block verified and stored, then the
/// roots pinned ([`blocks::car_import`]).
///
/// # Errors
///
/// A [`Failure`] with the facade error's exit code.
pub fn car_import_cmd(spec: &str, car: &Path) -> Result<CarReport, Failure> {
    let mut store = open_store(spec, false)?;
    let (input, _) = open_input(car)?;
    let summary = blocks::car_import(&mut store, io::BufReader::new(input))
        .map_err(|e| failure(format!("importing {}", show(car)), &e))?;
    Ok(CarReport {
        roots: summary.roots.iter().map(ToString::to_string).collect(),
        blocks: summary.blocks,
        bytes: summary.bytes,
        car: show(car),
    })
}
