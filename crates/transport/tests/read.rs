//! The verified multi-store reader, the resumable writer and the fault-injecting wrapper.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::sync::Arc;
use std::time::Duration;

use dataseal_transport::conformance::pattern;
use dataseal_transport::{
    Block, Cid, Error, FailureKind, Faults, FaultyStore, ImportParams, MemoryStore, Profile,
    Transport, VerifiedRead, import_bytes, upload,
};

const C: usize = 1024;

fn params() -> ImportParams {
    ImportParams::new(Profile::V1RawLeaves, C as u64).unwrap()
}

async fn store_with(data: &[u8]) -> (Arc<MemoryStore>, Cid) {
    let store = Arc::new(MemoryStore::new());
    let root = store.add(&mut &data[..], &params()).await.unwrap();
    (store, root)
}

#[tokio::test]
async fn a_store_dying_mid_read_fails_over_with_exact_output() {
    let data = pattern(20 * C + 5, 1);
    let (good, root) = store_with(&data).await;
    // Serves the root and four leaves, then dies.
    let dying = FaultyStore::new(good.clone(), Faults::new().dead_after(5));
    let stores: Vec<Box<dyn Transport>> = vec![Box::new(dying), Box::new(good.clone())];
    // One block at a time: the accounting is exact.
    let mut read = VerifiedRead::new(root).window(1);
    let mut out = Vec::new();
    read.run(&stores, &mut out).await.unwrap();
    assert_eq!(out, data);
    let from_first = read.served().iter().filter(|s| s.store == 0).count();
    assert_eq!(from_first, 5);
    assert_eq!(read.served().len(), 22);
    // The dead store was asked once more, then demoted for the rest of the run.
    assert_eq!(read.failures().len(), 1);
    assert_eq!(read.failures()[0].kind, FailureKind::Unavailable);
}

#[tokio::test]
async fn a_store_dying_under_a_wide_window_fails_over_with_exact_output() {
    let data = pattern(40 * C + 5, 11);
    let (good, root) = store_with(&data).await;
    for window in [2, 8, 64] {
        let dying = FaultyStore::new(good.clone(), Faults::new().dead_after(5));
        let stores: Vec<Box<dyn Transport>> = vec![Box::new(dying), Box::new(good.clone())];
        let mut read = VerifiedRead::new(root).window(window);
        let mut out = Vec::new();
        read.run(&stores, &mut out).await.unwrap();
        assert_eq!(out, data, "window {window}");
        assert_eq!(read.served().len(), 42);
        assert_eq!(read.served().iter().filter(|s| s.store == 0).count(), 5);
        // Only the requests already under way when it died failed; later ones went
        // straight to the second store.
        assert!(!read.failures().is_empty());
        assert!(read.failures().len() <= window, "window {window}");
        assert!(
            read.failures()
                .iter()
                .all(|f| f.store == 0 && f.kind == FailureKind::Unavailable)
        );
        // Served is in file order: the root, then every leaf in turn.
        let blocks = import_bytes(&data, &params()).blocks;
        let served: Vec<Cid> = read.served().iter().map(|s| s.cid).collect();
        assert_eq!(served[0], root);
        let leaves: Vec<Cid> = blocks[..40].iter().map(|b| *b.cid()).collect();
        assert_eq!(served[1..41], leaves[..]);
    }
}

#[tokio::test]
async fn spreading_takes_turns_across_stores_and_keeps_failover() {
    let data = pattern(30 * C + 7, 12);
    let (a, root) = store_with(&data).await;
    let (b, _) = store_with(&data).await;
    let (c, _) = store_with(&data).await;
    let stores: Vec<Arc<dyn Transport>> = vec![a.clone(), b.clone(), c.clone()];
    let mut read = VerifiedRead::new(root).window(6).spread(3);
    let mut out = Vec::new();
    read.run(&stores, &mut out).await.unwrap();
    assert_eq!(out, data);
    for store in 0..3 {
        let n = read.served().iter().filter(|s| s.store == store).count();
        assert!(n >= 9, "store {store} served {n} of 32 blocks");
    }
    // Spreading over two of three: the third is only a fallback.
    let mut read = VerifiedRead::new(root).window(6).spread(2);
    let mut out = Vec::new();
    read.run(&stores, &mut out).await.unwrap();
    assert_eq!(out, data);
    assert!(read.served().iter().all(|s| s.store < 2));
    // A liar among the spread stores is caught on every block it serves, and the block is
    // asked of the others.
    let liar = FaultyStore::new(b.clone(), Faults::new().corrupt_every(1));
    let stores: Vec<Box<dyn Transport>> = vec![Box::new(a.clone()), Box::new(liar), Box::new(c)];
    let mut read = VerifiedRead::new(root).window(6).spread(3);
    let mut out = Vec::new();
    read.run(&stores, &mut out).await.unwrap();
    assert_eq!(out, data);
    assert!(read.served().iter().all(|s| s.store != 1));
    assert!(
        read.failures()
            .iter()
            .all(|f| f.store == 1 && f.kind == FailureKind::Integrity)
    );
    assert!(read.failures().len() >= 9);
}

#[tokio::test]
async fn a_later_blocks_failure_surfaces_after_every_byte_before_it() {
    let data = pattern(12 * C, 13);
    let file = import_bytes(&data, &params());
    let root = file.root;
    // The store lacks the ninth leaf; a window of 8 asks for it early.
    let missing = *file.blocks[8].cid();
    let partial = MemoryStore::new();
    for block in &file.blocks {
        if *block.cid() != missing {
            partial.put(block).await.unwrap();
        }
    }
    let mut read = VerifiedRead::new(root).window(8);
    let mut out = Vec::new();
    let err = read.run(&[&partial], &mut out).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let leaf_index = 8;
    assert_eq!(read.position(), (leaf_index * C) as u64);
    assert_eq!(out, data[..leaf_index * C]);
    // And resuming with a complete store finishes the file.
    let (good, _) = store_with(&data).await;
    read.run(&[good.as_ref()], &mut out).await.unwrap();
    assert_eq!(out, data);
}

#[tokio::test]
async fn a_store_killed_during_a_read_is_demoted() {
    let data = pattern(8 * C, 2);
    let (good, root) = store_with(&data).await;
    let flaky = Arc::new(FaultyStore::new(good.clone(), Faults::new()));
    flaky.set_dead(true);
    let stores: Vec<Arc<dyn Transport>> = vec![flaky.clone(), good.clone()];
    let mut out = Vec::new();
    let mut read = VerifiedRead::new(root);
    read.run(&stores, &mut out).await.unwrap();
    assert_eq!(out, data);
    assert_eq!(flaky.calls(), 1, "a dead store is asked once per run");
    flaky.set_dead(false);
    let mut again = VerifiedRead::new(root);
    let mut out = Vec::new();
    again.run(&stores, &mut out).await.unwrap();
    assert!(again.served().iter().all(|s| s.store == 0));
}

#[tokio::test]
async fn a_failed_read_resumes_where_it_stopped() {
    let data = pattern(10 * C + 1, 3);
    let (good, root) = store_with(&data).await;
    let dying = FaultyStore::new(good.clone(), Faults::new().dead_after(4));
    let mut read = VerifiedRead::range(root, 100, 9 * C as u64);
    let mut out = Vec::new();
    let err = read.run(&[&dying], &mut out).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err}");
    assert!(!read.is_done());
    // The root and three leaves were served: everything written is correct.
    assert_eq!(read.position(), 3 * C as u64);
    assert_eq!(out, data[100..3 * C]);
    assert_eq!(read.written(), out.len() as u64);

    read.run(&[good.as_ref()], &mut out).await.unwrap();
    assert!(read.is_done());
    assert_eq!(out, data[100..100 + 9 * C]);
    // Resuming fetched the root again and only the leaves still needed.
    let after: Vec<_> = read.served()[4..].iter().map(|s| s.cid).collect();
    assert_eq!(after.len(), 1 + 7);
    assert_eq!(after[0], root);
    // Running a finished read again writes nothing.
    read.run(&[good.as_ref()], &mut out).await.unwrap();
    assert_eq!(out.len(), 9 * C);
}

#[tokio::test]
async fn every_store_failing_is_exhausted_naming_the_block() {
    let data = pattern(3 * C, 4);
    let (good, root) = store_with(&data).await;
    let file = import_bytes(&data, &params());
    let leaf = *file.blocks[1].cid();
    let partial = MemoryStore::new();
    for block in &file.blocks {
        if *block.cid() != leaf {
            partial.put(block).await.unwrap();
        }
    }
    let stores: Vec<Box<dyn Transport>> = vec![Box::new(partial), Box::new(MemoryStore::new())];
    let mut out = Vec::new();
    let err = VerifiedRead::new(root)
        .run(&stores, &mut out)
        .await
        .unwrap_err();
    match &err {
        Error::Exhausted { cid, failures } => {
            assert_eq!(*cid, leaf, "the first store lacks only this leaf");
            assert_eq!(failures.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_integrity());
    assert!(err.to_string().contains("store 0") && err.to_string().contains("store 1"));

    // Both stores lie: an integrity failure.
    let stores: Vec<Box<dyn Transport>> = vec![
        Box::new(FaultyStore::new(
            good.clone(),
            Faults::new().corrupt_every(1),
        )),
        Box::new(FaultyStore::new(
            good.clone(),
            Faults::new().corrupt_every(1),
        )),
    ];
    let err = VerifiedRead::new(root)
        .run(&stores, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(err.is_integrity(), "{err}");
    let no_stores: Vec<Box<dyn Transport>> = Vec::new();
    assert!(matches!(
        VerifiedRead::new(root)
            .run(&no_stores, &mut Vec::new())
            .await,
        Err(Error::Exhausted { .. })
    ));
}

/// Builds a dag-pb file node by hand (links with empty names), for lying DAGs.
fn node(children: &[(Cid, u64)], blocksizes: &[u64], filesize: u64) -> Block {
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field(key: u8, bytes: &[u8], out: &mut Vec<u8>) {
        out.push(key);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }
    let mut unixfs = vec![0x08, 0x02, 0x18];
    varint(filesize, &mut unixfs);
    for size in blocksizes {
        unixfs.push(0x20);
        varint(*size, &mut unixfs);
    }
    let mut out = Vec::new();
    for (cid, tsize) in children {
        let mut link = Vec::new();
        field(0x0a, &cid.to_bytes(), &mut link);
        field(0x12, b"", &mut link);
        link.push(0x18);
        varint(*tsize, &mut link);
        field(0x12, &link, &mut out);
    }
    field(0x0a, &unixfs, &mut out);
    let digest = Cid::raw_sha256(&out).sha256_digest();
    Block::new(Cid::v1_from_sha256(0x70, digest), out).unwrap()
}

#[tokio::test]
async fn a_dag_lying_about_sizes_cannot_shift_bytes() {
    let store = MemoryStore::new();
    let a = Block::raw(&b"abcd"[..]);
    let b = Block::raw(&b"efghij"[..]);
    store.put(&a).await.unwrap();
    store.put(&b).await.unwrap();
    let honest = node(&[(*a.cid(), 4), (*b.cid(), 6)], &[4, 6], 10);
    let lying = node(&[(*a.cid(), 4), (*b.cid(), 6)], &[5, 5], 10);
    store.put(&honest).await.unwrap();
    store.put(&lying).await.unwrap();
    let mut out = Vec::new();
    store.cat(honest.cid(), &mut out).await.unwrap();
    assert_eq!(out, b"abcdefghij");
    let mut out = Vec::new();
    let err = store.cat(lying.cid(), &mut out).await.unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
    // A range that starts inside the second child.
    let mut read = VerifiedRead::range(*honest.cid(), 5, 3);
    let mut out = Vec::new();
    read.run(&[&store], &mut out).await.unwrap();
    assert_eq!(out, b"fgh");
    assert_eq!(read.served().len(), 2, "the first leaf is not fetched");
}

#[tokio::test]
async fn upload_sends_only_what_is_missing_and_resumes() {
    let data = pattern(200 * C + 3, 5);
    let (local, root) = store_with(&data).await;
    let total = import_bytes(&data, &params()).blocks.len() as u64;
    let remote = Arc::new(MemoryStore::new());
    // The remote dies part-way through.
    let dying = FaultyStore::new(remote.clone(), Faults::new().dead_after(150));
    assert!(matches!(
        upload(local.as_ref(), &dying, &root).await,
        Err(Error::Unavailable(_))
    ));
    let arrived = remote.len() as u64;
    assert!(arrived > 0 && arrived < total);
    // Children go before parents: the root is not there yet.
    assert!(!remote.has(&root).await.unwrap());
    let report = upload(local.as_ref(), remote.as_ref(), &root)
        .await
        .unwrap();
    assert_eq!(report.uploaded, total - arrived);
    assert_eq!(report.skipped, arrived);
    remote.pin(&root).await.unwrap();
    let mut out = Vec::new();
    remote.cat(&root, &mut out).await.unwrap();
    assert_eq!(out, data);
}

#[tokio::test]
async fn add_again_sends_only_what_is_missing() {
    let data = pattern(10 * C, 6);
    let inner = Arc::new(MemoryStore::new());
    let counting = FaultyStore::new(inner.clone(), Faults::new());
    counting.add(&mut &data[..], &params()).await.unwrap();
    let first = counting.calls();
    assert_eq!(first, 2 * 11, "one has and one put per block");
    counting.add(&mut &data[..], &params()).await.unwrap();
    assert_eq!(counting.calls() - first, 11, "only has the second time");
}

#[tokio::test]
async fn faults_are_deterministic() {
    let inner = Arc::new(MemoryStore::new());
    let block = Block::raw(&b"x"[..]);
    inner.put(&block).await.unwrap();

    let dropping = FaultyStore::new(inner.clone(), Faults::new().drop_every(2));
    assert!(dropping.has(block.cid()).await.unwrap()); // call 1
    assert!(!dropping.has(block.cid()).await.unwrap()); // call 2: dropped
    assert!(dropping.get(block.cid()).await.is_ok()); // call 3
    assert!(matches!(
        dropping.get(block.cid()).await,
        Err(Error::NotFound(_))
    )); // call 4
    let lost = Block::raw(&b"lost write"[..]);
    dropping.put(&lost).await.unwrap(); // call 5
    dropping.put(&lost).await.unwrap(); // call 6: dropped, but already stored
    let lost2 = Block::raw(&b"lost write 2"[..]);
    dropping.put(&lost2).await.unwrap(); // call 7
    let lost3 = Block::raw(&b"lost write 3"[..]);
    dropping.put(&lost3).await.unwrap(); // call 8: silently lost
    assert!(inner.has(lost2.cid()).await.unwrap());
    assert!(!inner.has(lost3.cid()).await.unwrap());

    let failing = FaultyStore::new(inner.clone(), Faults::new().fail_every(3));
    let results: Vec<bool> = futures_results(&failing, &block, 6).await;
    assert_eq!(results, [true, true, false, true, true, false]);

    let corrupting = FaultyStore::new(inner.clone(), Faults::new().corrupt_every(1));
    let bytes = corrupting.get(block.cid()).await.unwrap();
    assert_ne!(&bytes, block.data());
    let empty = Block::raw(Vec::new());
    inner.put(&empty).await.unwrap();
    assert_eq!(corrupting.get(empty.cid()).await.unwrap().len(), 1);

    let dead = FaultyStore::new(inner.clone(), Faults::new().dead_after(0));
    assert!(matches!(dead.pins().await, Err(Error::Unavailable(_))));

    let slow = FaultyStore::new(inner.clone(), Faults::new().delay(Duration::from_millis(1)));
    assert!(slow.has(block.cid()).await.unwrap());
    assert_eq!(slow.inner().len(), inner.len());
}

async fn futures_results<T: Transport>(store: &T, block: &Block, n: usize) -> Vec<bool> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(store.get(block.cid()).await.is_ok());
    }
    out
}

/// A memory store that records the order of the blocks put into it and, when
/// `swapping`, answers every `get_block` with a genuine block that was not asked for.
#[derive(Debug, Default)]
struct Wrapped {
    inner: MemoryStore,
    order: std::sync::Mutex<Vec<Cid>>,
    swapping: bool,
}

fn unasked_block() -> Block {
    Block::raw(&b"a block nobody asked for"[..])
}

#[async_trait::async_trait]
impl Transport for Wrapped {
    async fn put(&self, block: &Block) -> Result<(), Error> {
        // Yield first, so the stores overlap and their order is not the call order.
        tokio::task::yield_now().await;
        self.inner.put(block).await?;
        self.order.lock().unwrap().push(*block.cid());
        Ok(())
    }
    async fn get(&self, cid: &Cid) -> Result<bytes::Bytes, Error> {
        self.inner.get(cid).await
    }
    async fn get_block(&self, cid: &Cid) -> Result<Block, Error> {
        if self.swapping {
            Ok(unasked_block())
        } else {
            self.inner.get_block(cid).await
        }
    }
    async fn has(&self, cid: &Cid) -> Result<bool, Error> {
        self.inner.has(cid).await
    }
    async fn stat(&self, cid: &Cid) -> Result<dataseal_transport::BlockStat, Error> {
        self.inner.stat(cid).await
    }
    async fn pin(&self, root: &Cid) -> Result<(), Error> {
        self.inner.pin(root).await
    }
    async fn unpin(&self, root: &Cid) -> Result<bool, Error> {
        self.inner.unpin(root).await
    }
    async fn pins(&self) -> Result<Vec<Cid>, Error> {
        self.inner.pins().await
    }
}

#[tokio::test]
async fn add_stores_every_parent_after_the_blocks_under_it() {
    // Three levels at 4-byte chunks: 174² + 1 leaves.
    let params = ImportParams::new(Profile::V1RawLeaves, 4).unwrap();
    let data = pattern(4 * (174 * 174 + 1), 14);
    let store = Wrapped::default();
    let root = store.add(&mut &data[..], &params).await.unwrap();
    let order = store.order.lock().unwrap().clone();
    let file = import_bytes(&data, &params);
    assert_eq!(root, file.root);
    assert_eq!(order.last(), Some(&root));
    // Where each block was first stored (a chunk repeated in the file is one block).
    let mut position = std::collections::HashMap::new();
    for (i, c) in order.iter().enumerate() {
        position.entry(*c).or_insert(i);
    }
    let mut parents = 0;
    for block in &file.blocks {
        let node = dataseal_transport::FileNode::decode(block).unwrap();
        for child in node.children() {
            assert!(position[child.cid()] < position[block.cid()]);
        }
        parents += usize::from(!node.children().is_empty());
    }
    assert_eq!(parents, 175 + 2 + 1);
    let mut out = Vec::new();
    VerifiedRead::new(root)
        .run(&[&store], &mut out)
        .await
        .unwrap();
    assert!(out == data);
}

#[tokio::test]
async fn a_genuine_block_under_the_wrong_cid_is_refused() {
    let data = pattern(5 * C + 1, 15);
    let (good, root) = store_with(&data).await;
    let swapping = Wrapped {
        swapping: true,
        ..Wrapped::default()
    };
    let mut out = Vec::new();
    let err = VerifiedRead::new(root)
        .run(&[&swapping], &mut out)
        .await
        .unwrap_err();
    match &err {
        Error::CidMismatch { expected, got } => {
            assert_eq!(**expected, root);
            assert_eq!(**got, *unasked_block().cid());
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_integrity());
    assert!(out.is_empty());
    // Behind it, an honest store serves every block; every refusal is on record.
    let stores: Vec<&dyn Transport> = vec![&swapping, good.as_ref()];
    let mut read = VerifiedRead::new(root);
    read.run(&stores, &mut out).await.unwrap();
    assert_eq!(out, data);
    assert_eq!(read.failures().len(), 7);
    assert!(
        read.failures()
            .iter()
            .all(|f| f.store == 0 && f.kind == FailureKind::Integrity)
    );
}
