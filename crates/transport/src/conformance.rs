//! The conformance suite every [`Transport`] implementation runs (feature `test-util`).
//!
//! Call [`run_all`] from a test with a fresh, empty store:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use dataseal_transport::{MemoryStore, conformance};
//!
//! conformance::run_all(&MemoryStore::new()).await;
//! # });
//! ```
//!
//! Each check is also public, so an implementation that cannot do one thing can still run
//! the others and say why it skips the rest. A failing check panics with a message that
//! names it, as `assert!` does in a test. Checks use small chunk sizes (the importer
//! accepts any size from 1 byte) so that multi-level DAGs stay small, and store different
//! content, so they can share one store in any order.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "conformance checks report failures by panicking, as assertions in a test do"
)]

use dataseal_base::Cid;

use crate::{
    Block, CarReader, CarWriter, Error, FailureKind, Faults, FaultyStore, ImportParams, Profile,
    Transport, VerifiedRead, import_bytes,
};

/// The chunk size the checks use.
pub const CHUNK: usize = 1024;

/// Deterministic test bytes: `len` bytes from a generator seeded with `seed`.
#[must_use]
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn params(profile: Profile, chunk: usize) -> ImportParams {
    ImportParams::new(profile, chunk as u64).unwrap()
}

/// Runs every check, in order.
pub async fn run_all<T: Transport + ?Sized>(store: &T) {
    block_round_trip(store).await;
    has_and_stat(store).await;
    not_found(store).await;
    add_and_cat(store).await;
    byte_ranges(store).await;
    corrupt_answers_are_caught(store).await;
    pin_and_unpin(store).await;
    car_round_trip(store).await;
}

/// `put` then `get` returns the same bytes, for raw and dag-pb blocks (CIDv1 and CIDv0);
/// putting a block twice succeeds; `get_block` verifies.
pub async fn block_round_trip<T: Transport + ?Sized>(store: &T) {
    let raw = Block::raw(pattern(3000, 1));
    store.put(&raw).await.expect("block_round_trip: put");
    store.put(&raw).await.expect("block_round_trip: put again");
    let got = store.get(raw.cid()).await.expect("block_round_trip: get");
    assert_eq!(
        &got,
        raw.data(),
        "block_round_trip: get returned other bytes"
    );
    assert_eq!(
        store
            .get_block(raw.cid())
            .await
            .expect("block_round_trip: get_block"),
        raw
    );
    let empty = Block::raw(Vec::new());
    store
        .put(&empty)
        .await
        .expect("block_round_trip: put empty");
    assert!(
        store
            .get(empty.cid())
            .await
            .expect("block_round_trip: get empty")
            .is_empty()
    );
    for v0 in [false, true] {
        let profile = if v0 {
            Profile::V0
        } else {
            Profile::V1RawLeaves
        };
        let file = import_bytes(&pattern(3 * CHUNK, 2), &params(profile, CHUNK));
        let node = file.blocks.last().unwrap();
        store.put(node).await.expect("block_round_trip: put dag-pb");
        assert_eq!(
            &store
                .get(node.cid())
                .await
                .expect("block_round_trip: get dag-pb"),
            node.data()
        );
    }
}

/// `has` is false before `put` and true after; `stat` gives the length, or not-found.
pub async fn has_and_stat<T: Transport + ?Sized>(store: &T) {
    let block = Block::raw(pattern(777, 3));
    assert!(!store.has(block.cid()).await.expect("has_and_stat: has"));
    match store.stat(block.cid()).await {
        Err(Error::NotFound(cid)) => assert_eq!(cid, *block.cid()),
        other => panic!("has_and_stat: stat of a missing block gave {other:?}"),
    }
    store.put(&block).await.expect("has_and_stat: put");
    assert!(store.has(block.cid()).await.expect("has_and_stat: has"));
    assert_eq!(
        store
            .stat(block.cid())
            .await
            .expect("has_and_stat: stat")
            .len,
        777
    );
}

/// Getting a block the store never held is `Error::NotFound` naming it.
pub async fn not_found<T: Transport + ?Sized>(store: &T) {
    let missing = Cid::raw_sha256(b"dataseal conformance: never stored");
    match store.get(&missing).await {
        Err(Error::NotFound(cid)) => assert_eq!(cid, missing),
        other => panic!("not_found: get of a missing block gave {other:?}"),
    }
    match store.get_block(&missing).await {
        Err(Error::NotFound(_)) => {}
        other => panic!("not_found: get_block of a missing block gave {other:?}"),
    }
    let mut out = Vec::new();
    assert!(
        store.cat(&missing, &mut out).await.is_err(),
        "not_found: cat of a missing file succeeded"
    );
    assert!(out.is_empty());
}

/// `add` gives the same root as the importer and `cat` gives the file back, for files of
/// 0, 1, C−1, C, C+1, 3C+7 and 175·C+1 bytes (a two-level tree), in both profiles.
pub async fn add_and_cat<T: Transport + ?Sized>(store: &T) {
    for profile in [Profile::V1RawLeaves, Profile::V0] {
        let params = params(profile, CHUNK);
        for (i, len) in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 7,
            175 * CHUNK + 1,
        ]
        .into_iter()
        .enumerate()
        {
            let data = pattern(len, 100 + i as u64);
            let expected = import_bytes(&data, &params).root;
            let root = store
                .add(&mut &data[..], &params)
                .await
                .unwrap_or_else(|e| panic!("add_and_cat: add of {len} bytes: {e}"));
            assert_eq!(
                root, expected,
                "add_and_cat: root of {len} bytes ({profile:?})"
            );
            let mut out = Vec::new();
            let written = store
                .cat(&root, &mut out)
                .await
                .unwrap_or_else(|e| panic!("add_and_cat: cat of {len} bytes: {e}"));
            assert_eq!(written, len as u64);
            assert!(out == data, "add_and_cat: cat of {len} bytes differs");
        }
    }
}

/// Byte ranges of a multi-chunk file read back exactly; a range past the end is
/// `Error::Range`.
pub async fn byte_ranges<T: Transport + ?Sized>(store: &T) {
    let data = pattern(5 * CHUNK + 3, 4);
    let params = params(Profile::V1RawLeaves, CHUNK);
    let root = store
        .add(&mut &data[..], &params)
        .await
        .expect("byte_ranges: add");
    let n = data.len() as u64;
    let c = CHUNK as u64;
    for (offset, len) in [
        (0, 0),
        (0, 1),
        (0, n),
        (c - 1, 2),
        (c, c),
        (c + 1, 3 * c),
        (n - 1, 1),
        (n, 0),
        (2 * c + 5, n - 2 * c - 5),
    ] {
        let mut read = VerifiedRead::range(root, offset, len);
        let mut out = Vec::new();
        read.run(&[store], &mut out)
            .await
            .unwrap_or_else(|e| panic!("byte_ranges: {offset}+{len}: {e}"));
        assert!(
            out[..] == data[offset as usize..(offset + len) as usize],
            "byte_ranges: {offset}+{len} differs"
        );
        assert!(read.is_done());
        assert_eq!(read.file_len(), Some(n));
    }
    let mut read = VerifiedRead::range(root, n - 1, 2);
    match read.run(&[store], &mut Vec::new()).await {
        Err(Error::Range { file_len, .. }) => assert_eq!(file_len, n),
        other => panic!("byte_ranges: a range past the end gave {other:?}"),
    }
}

/// A store that answers with wrong bytes is caught: `get_block` fails with
/// `Error::Integrity`, the verified reader never writes a wrong byte and fails over to
/// the next store, recording which served each block.
pub async fn corrupt_answers_are_caught<T: Transport + ?Sized>(store: &T) {
    let data = pattern(3 * CHUNK + 1, 5);
    let params = params(Profile::V1RawLeaves, CHUNK);
    let root = store
        .add(&mut &data[..], &params)
        .await
        .expect("corrupt: add");
    let liar = FaultyStore::new(store, Faults::new().corrupt_every(1));
    match liar.get_block(&root).await {
        Err(Error::Integrity { cid }) => assert_eq!(cid, root),
        other => panic!("corrupt: get_block of a corrupted block gave {other:?}"),
    }

    let alone: Vec<Box<dyn Transport + '_>> = vec![Box::new(FaultyStore::new(
        store,
        Faults::new().corrupt_every(1),
    ))];
    let mut out = Vec::new();
    let err = VerifiedRead::new(root)
        .run(&alone, &mut out)
        .await
        .expect_err("corrupt: a read from a lying store succeeded");
    assert!(
        err.is_integrity(),
        "corrupt: {err} is not an integrity failure"
    );
    assert!(
        out.is_empty(),
        "corrupt: bytes were written from a lying store"
    );

    // Lies only on every other call: the reader must still produce exact output.
    let stores: Vec<Box<dyn Transport + '_>> = vec![
        Box::new(FaultyStore::new(store, Faults::new().corrupt_every(2))),
        Box::new(store),
    ];
    let mut read = VerifiedRead::new(root);
    let mut out = Vec::new();
    read.run(&stores, &mut out)
        .await
        .expect("corrupt: failover read");
    assert!(out == data, "corrupt: failover output differs");
    assert_eq!(read.served().len(), 5, "corrupt: one root and four leaves");
    assert!(
        read.failures()
            .iter()
            .all(|f| f.store == 0 && f.kind == FailureKind::Integrity)
    );
    assert!(!read.failures().is_empty());
    for failure in read.failures() {
        assert!(
            read.served()
                .iter()
                .any(|s| s.cid == failure.cid && s.store == 1),
            "corrupt: a block store 0 lied about was not served by store 1"
        );
    }
}

/// Pinning needs the whole DAG; pins are listed; unpinning says whether there was a pin.
pub async fn pin_and_unpin<T: Transport + ?Sized>(store: &T) {
    let missing = Cid::raw_sha256(b"dataseal conformance: never pinned");
    assert!(
        store.pin(&missing).await.is_err(),
        "pin: pinned a missing block"
    );

    // Only the root of a three-leaf file: the DAG is incomplete.
    let partial = import_bytes(&pattern(3 * CHUNK, 6), &params(Profile::V1RawLeaves, CHUNK));
    store
        .put(partial.blocks.last().unwrap())
        .await
        .expect("pin: put");
    match store.pin(&partial.root).await {
        Err(Error::Incomplete { .. } | Error::NotFound(_)) => {}
        other => panic!("pin: pinning an incomplete DAG gave {other:?}"),
    }

    let data = pattern(2 * CHUNK + 9, 7);
    let root = store
        .add(&mut &data[..], &params(Profile::V1RawLeaves, CHUNK))
        .await
        .expect("pin: add");
    store.pin(&root).await.expect("pin: pin");
    store.pin(&root).await.expect("pin: pin again");
    assert!(store.pins().await.expect("pin: pins").contains(&root));
    assert!(store.unpin(&root).await.expect("pin: unpin"));
    assert!(!store.unpin(&root).await.expect("pin: unpin again"));
    assert!(!store.pins().await.expect("pin: pins").contains(&root));
}

/// A CAR export holds the whole DAG, verified and complete, root first; importing a
/// CAR stores every block, so the file can be read back and pinned.
pub async fn car_round_trip<T: Transport + ?Sized>(store: &T) {
    let params = params(Profile::V1RawLeaves, 256);
    let data = pattern(175 * 256 + 1, 8);
    let expected = import_bytes(&data, &params);
    let root = store.add(&mut &data[..], &params).await.expect("car: add");
    let mut car = Vec::new();
    let summary = store
        .export_car(&root, &mut car)
        .await
        .expect("car: export");
    assert_eq!(summary.roots, vec![root]);
    let mut reader = CarReader::new(&car[..])
        .await
        .expect("car: header")
        .require_complete();
    assert_eq!(reader.roots(), &[root]);
    let mut blocks = Vec::new();
    while let Some(block) = reader.next_block().await.expect("car: read") {
        blocks.push(block);
    }
    assert_eq!(
        blocks.first().map(|b| *b.cid()),
        Some(root),
        "car: root first"
    );
    assert_eq!(blocks.len(), expected.blocks.len(), "car: block count");
    assert_eq!(summary.blocks, blocks.len() as u64);

    // A CAR of a file the store has never seen.
    let other = import_bytes(&pattern(4 * 256 + 3, 9), &params);
    let mut writer = CarWriter::new(Vec::new(), &[other.root]).await.unwrap();
    for block in other.blocks.iter().rev() {
        writer.write(block).await.unwrap();
    }
    let car = writer.finish().await.unwrap();
    let summary = store.import_car(&mut &car[..]).await.expect("car: import");
    assert_eq!(summary.roots, vec![other.root]);
    assert_eq!(summary.blocks, other.blocks.len() as u64);
    let mut out = Vec::new();
    store
        .cat(&other.root, &mut out)
        .await
        .expect("car: cat after import");
    assert!(out == pattern(4 * 256 + 3, 9), "car: imported file differs");
    store.pin(&other.root).await.expect("car: pin after import");
}
