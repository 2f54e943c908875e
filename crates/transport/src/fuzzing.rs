//! Entry points for the fuzz targets. Not part of the public API.
//!
//! Each function takes arbitrary bytes and must return without panicking, whatever they
//! hold.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use dataseal_base::{Cid, codec};

use crate::dagpb::PbNode;
use crate::{CarReader, FileNode};

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
    run_ready(async {
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
    .unwrap_or(0)
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
