//! Entry points for the fuzz targets. Not part of the public API.
//!
//! Each function takes arbitrary bytes and must return without panicking, whatever they
//! hold.

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use dataseal_base::{Cid, codec};

use crate::dagpb::PbNode;
use crate::{
    CarReader, DirStore, FileNode, ImportParams, ImportedFile, MemoryStore, Profile, Transport,
    VerifiedRead, import_bytes,
};

/// Drives a future that never waits (its input is in memory) to completion.
fn run_ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    // An in-memory reader is always ready; bound the polls anyway.
    for _ in 0..1_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

/// Reads `data` as a CAR file to the end, verifying every block and completeness.
/// Returns the number of blocks read before the end or the first error.
pub fn car(data: &[u8]) -> usize {
    // Read again as a depth-first export (rooted): never more blocks than complete.
    let rooted = run_ready(async {
        let Ok(reader) = CarReader::new(data).await else {
            return 0;
        };
        let mut reader = reader.require_rooted();
        let mut blocks = 0;
        while let Ok(Some(_)) = reader.next_block().await {
            blocks += 1;
        }
        blocks
    })
    .unwrap_or(0);
    let complete = run_ready(async {
        let Ok(reader) = CarReader::new(data).await else {
            return 0;
        };
        let mut reader = reader.require_complete();
        let mut blocks = 0;
        while let Ok(Some(_)) = reader.next_block().await {
            blocks += 1;
        }
        blocks
    })
    .unwrap_or(0);
    complete.max(rooted)
}

/// Decodes `data` as a dag-pb node, and as a UnixFS file node under both a CIDv1 and
/// a CIDv0. Returns whether the dag-pb decoding succeeded.
pub fn dag_pb(data: &[u8]) -> bool {
    let bytes = Bytes::copy_from_slice(data);
    let decoded = PbNode::decode(&bytes).is_ok();
    let digest = Cid::raw_sha256(data).sha256_digest();
    for cid in [
        Cid::v1_from_sha256(codec::DAG_PB, digest),
        Cid::v0_from_sha256(digest),
        Cid::raw_sha256(data),
    ] {
        let _ = FileNode::decode_parts(&cid, &bytes);
    }
    decoded
}

/// Decodes `data` as the UnixFS `Data` message of an otherwise well-formed dag-pb node.
/// Returns whether it decoded as a file node.
pub fn unixfs(data: &[u8]) -> bool {
    let node = crate::dagpb::encode(&[], data);
    let bytes = Bytes::from(node);
    let cid = Cid::v1_from_sha256(codec::DAG_PB, Cid::raw_sha256(&bytes).sha256_digest());
    FileNode::decode_parts(&cid, &bytes).is_ok()
}

/// The file whose blocks [`dir_store`] corrupts: 3,000 bytes at 1 KiB chunks (three
/// leaves and a root), once per profile.
struct DirFixture {
    data: Vec<u8>,
    files: Vec<ImportedFile>,
}

static DIR_FIXTURE: LazyLock<DirFixture> = LazyLock::new(|| {
    let data: Vec<u8> = (0..3_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let files = [Profile::V1RawLeaves, Profile::V0]
        .into_iter()
        .filter_map(|profile| ImportParams::new(profile, 1024).ok())
        .map(|params| import_bytes(&data, &params))
        .collect();
    DirFixture { data, files }
});

/// The largest block the store in [`dir_store`] accepts: small, so that oversized block
/// files are within a fuzzer's reach.
pub const DIR_STORE_MAX_BLOCK: usize = 2048;

/// Writes `bytes` as the file at `path`, creating its directory.
fn write_file(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, bytes);
}

/// Reads the fixture file through `stores` with a [`VerifiedRead`]; `Err` if the read
/// succeeded with bytes other than the original (an `Ok(false)` is a failed read).
fn verified_read<S: Transport>(root: Cid, stores: &[S], original: &[u8]) -> Result<bool, String> {
    let mut out = Vec::new();
    let mut read = VerifiedRead::new(root);
    match run_ready(read.run(stores, &mut out)) {
        None => Err("a verified read over a local store did not complete".to_owned()),
        Some(Ok(_)) if out != original => {
            Err("a verified read returned bytes other than the file's".to_owned())
        }
        Some(Ok(_)) => Ok(true),
        Some(Err(_)) => Ok(false),
    }
}

/// Writes fuzzer bytes as the block files of an on-disk store ([`DirStore`]) holding a
/// small UnixFS file, then reads every block through the store and the whole file through
/// a [`VerifiedRead`], alone and with a good store behind it.
///
/// `data` is a profile byte (V1 raw leaves or V0) then a script of records: a selector
/// byte (its low bits pick the block, `0x80` puts a symlink to another block's file in
/// its place, `0x40` a directory), a little-endian `u16` length and that many bytes, which
/// replace the block's file. Blocks no record names hold their true bytes.
///
/// Returns the number of blocks the store served, or what went wrong: a block or a read
/// that returned bytes other than the true ones, or a read that failed although a good
/// store was behind it or every block had been put again.
///
/// # Errors
///
/// A broken invariant, as text (the fuzz target panics with it).
pub fn dir_store(data: &[u8]) -> Result<usize, String> {
    let fixture = &*DIR_FIXTURE;
    let Some((&profile, mut script)) = data.split_first() else {
        return Ok(0);
    };
    let Some(file) = fixture
        .files
        .get(usize::from(profile) % fixture.files.len().max(1))
    else {
        return Ok(0);
    };
    let Ok(dir) = tempfile::tempdir() else {
        return Ok(0);
    };
    let Ok(store) = DirStore::open(dir.path()) else {
        return Ok(0);
    };
    let store = store.with_max_block_len(DIR_STORE_MAX_BLOCK);
    let paths: Vec<_> = file
        .blocks
        .iter()
        .map(|b| store.block_path(b.cid()))
        .collect();
    for (block, path) in file.blocks.iter().zip(&paths) {
        write_file(path, block.data());
    }
    while let [selector, lo, hi, rest @ ..] = script {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let (bytes, tail) = rest.split_at(len);
        script = tail;
        let index = usize::from(selector & 0x3f) % paths.len().max(1);
        let Some(path) = paths.get(index) else {
            continue;
        };
        let _ = std::fs::remove_file(path);
        if selector & 0x80 != 0 {
            let target = paths.get(usize::from(lo & 0x3f) % paths.len().max(1));
            #[cfg(unix)]
            if let Some(target) = target {
                let _ = std::os::unix::fs::symlink(target, path);
            }
            #[cfg(not(unix))]
            let _ = target;
        } else if selector & 0x40 != 0 {
            let _ = std::fs::create_dir_all(path);
        } else {
            write_file(path, bytes);
        }
    }

    // Every block the store serves is the true one.
    let mut served = 0;
    for block in &file.blocks {
        for got in [
            run_ready(store.get(block.cid())).and_then(Result::ok),
            run_ready(store.get_block(block.cid()))
                .and_then(Result::ok)
                .map(|b| b.data().clone()),
        ]
        .into_iter()
        .flatten()
        {
            if got != *block.data() {
                return Err(format!("block {} read back other bytes", block.cid()));
            }
            served += 1;
        }
    }
    let _ = run_ready(store.has(&file.root));
    let _ = run_ready(store.stat(&file.root));

    // A read over the damaged store alone is either right or an error; with a good store
    // behind it, it is right.
    verified_read(file.root, std::slice::from_ref(&store), &fixture.data)?;
    let good = MemoryStore::new();
    for block in &file.blocks {
        let _ = run_ready(good.put(block));
    }
    let stores: Vec<Box<dyn Transport>> = vec![Box::new(store.clone()), Box::new(good)];
    if !verified_read(file.root, &stores, &fixture.data)? {
        return Err("a verified read failed with a good store behind".to_owned());
    }

    // Putting every block again repairs the store, whatever was on disk.
    for block in &file.blocks {
        if let Some(Err(e)) = run_ready(store.put(block)) {
            return Err(format!("put over a damaged file failed: {e}"));
        }
    }
    if !verified_read(file.root, &[store], &fixture.data)? {
        return Err("a verified read failed after every block was put again".to_owned());
    }
    Ok(served)
}

fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_len(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    put_varint((field << 3) | 2, out);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn put_uint(field: u64, value: u64, out: &mut Vec<u8>) {
    put_varint(field << 3, out);
    put_varint(value, out);
}

/// A dag-pb UnixFS file node linking `children` (CID, `blocksizes` entry), declaring
/// `filesize` (else the wrapping sum of the entries), with no data of its own: encoded
/// by hand, so it can say anything, including what readers must refuse (sizes that do
/// not add up, one child linked thousands of times).
#[must_use]
pub fn file_node(children: &[(Cid, u64)], filesize: Option<u64>) -> crate::Block {
    let mut node = Vec::with_capacity(children.len() * 42 + 16);
    let mut link = Vec::new();
    for (cid, _) in children {
        link.clear();
        put_len(1, &cid.to_bytes(), &mut link);
        put_len(2, &link, &mut node);
    }
    let mut unixfs = Vec::new();
    put_uint(1, 2, &mut unixfs);
    let sum = children.iter().fold(0u64, |a, (_, s)| a.wrapping_add(*s));
    put_uint(3, filesize.unwrap_or(sum), &mut unixfs);
    for (_, size) in children {
        put_uint(4, *size, &mut unixfs);
    }
    put_len(1, &unixfs, &mut node);
    let node = Bytes::from(node);
    let cid = Cid::v1_from_sha256(codec::DAG_PB, Cid::raw_sha256(&node).sha256_digest());
    // The CID was just computed from these bytes.
    crate::Block::new(cid, node.clone()).unwrap_or_else(|_| crate::Block::raw(node))
}

/// A dag-pb node that is not UnixFS at all: links to `children` and no data.
#[must_use]
pub fn plain_node(children: &[Cid]) -> crate::Block {
    let mut node = Vec::new();
    for cid in children {
        let mut link = Vec::new();
        put_len(1, &cid.to_bytes(), &mut link);
        put_len(2, &link, &mut node);
    }
    let node = Bytes::from(node);
    let cid = Cid::v1_from_sha256(codec::DAG_PB, Cid::raw_sha256(&node).sha256_digest());
    // The CID was just computed from these bytes.
    crate::Block::new(cid, node.clone()).unwrap_or_else(|_| crate::Block::raw(node))
}
