//! The conformance suite on the in-memory and on-disk stores, and what is particular to
//! each: the on-disk layout, crash safety, verification of files on disk, durable pins.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::fs;

use dataseal_transport::conformance::{self, pattern};
use dataseal_transport::{
    Block, DirStore, Error, ImportParams, MAX_BLOCK_LEN, MemoryStore, Profile, Transport,
    import_bytes,
};

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run_all(&MemoryStore::new()).await;
}

#[tokio::test]
async fn dir_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(&DirStore::open(dir.path()).unwrap()).await;
}

#[tokio::test(flavor = "current_thread")]
async fn dir_store_conforms_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    conformance::block_round_trip(&DirStore::open(dir.path()).unwrap()).await;
}

#[test]
fn dir_store_works_without_a_runtime() {
    // Polled by a minimal executor, outside tokio: file work runs inline.
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let block = Block::raw(&b"no runtime"[..]);
    let fut = async {
        store.put(&block).await.unwrap();
        store.get_block(block.cid()).await.unwrap()
    };
    let got = futures_lite_block_on(fut);
    assert_eq!(got, block);
}

fn futures_lite_block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[tokio::test]
async fn dir_store_layout_is_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("dataseal-blockstore")).unwrap(),
        "dataseal-blockstore 1\n"
    );
    let block = Block::raw(&b"layout"[..]);
    store.put(&block).await.unwrap();
    let name = block.cid().to_string();
    let shard = &name[name.len() - 3..name.len() - 1];
    let path = dir.path().join("blocks").join(shard).join(&name);
    assert_eq!(store.block_path(block.cid()), path);
    assert_eq!(fs::read(&path).unwrap(), b"layout");
    // No temporary file is left behind.
    let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A CIDv0 block lives under its CIDv1 name.
    let v0 = import_bytes(b"v0 leaf", &ImportParams::kubo_default());
    store.put(&v0.blocks[0]).await.unwrap();
    let v1_name = dataseal_base::Cid::v1_from_sha256(0x70, v0.root.sha256_digest()).to_string();
    assert!(store.block_path(&v0.root).ends_with(&v1_name));
    assert!(store.has(&v0.root).await.unwrap());
}

#[tokio::test]
async fn dir_store_catches_corruption_on_disk_and_heals_on_put() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let block = Block::raw(pattern(5000, 1));
    store.put(&block).await.unwrap();
    let path = store.block_path(block.cid());
    let mut bytes = fs::read(&path).unwrap();
    bytes[100] ^= 0x40;
    fs::write(&path, &bytes).unwrap();

    match store.get(block.cid()).await {
        Err(Error::Integrity { cid }) => assert_eq!(cid, *block.cid()),
        other => panic!("a corrupted file gave {other:?}"),
    }
    // Quarantined: no longer present, kept beside for inspection.
    assert!(!store.has(block.cid()).await.unwrap());
    let quarantined = path
        .parent()
        .unwrap()
        .join(format!(".corrupt-{}", block.cid()));
    assert!(quarantined.exists());
    store.put(&block).await.unwrap();
    assert_eq!(store.get_block(block.cid()).await.unwrap(), block);

    // A truncated file (as a crash could leave under a temporary name, never the final
    // one) is caught the same way.
    fs::write(&path, &block.data()[..10]).unwrap();
    assert!(matches!(
        store.get(block.cid()).await,
        Err(Error::Integrity { .. })
    ));
    // Putting over a corrupted file repairs it.
    fs::write(&path, b"garbage").unwrap();
    store.put(&block).await.unwrap();
    assert_eq!(fs::read(&path).unwrap(), block.data().as_ref());
}

#[tokio::test]
async fn dir_store_ignores_leftover_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let block = Block::raw(&b"after a crash"[..]);
    let path = store.block_path(block.cid());
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    // What a crash mid-write leaves: a partial temporary file, never the final name.
    fs::write(path.parent().unwrap().join(".tmp-crashed"), b"after a").unwrap();
    fs::write(dir.path().join("pins").join(".tmp-crashed"), b"bafy").unwrap();
    assert!(!store.has(block.cid()).await.unwrap());
    assert!(store.pins().await.unwrap().is_empty());
    store.put(&block).await.unwrap();
    assert_eq!(store.get_block(block.cid()).await.unwrap(), block);
}

#[tokio::test]
async fn dir_store_pins_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let data = pattern(10_000, 2);
    let params = ImportParams::new(Profile::V0, 4096).unwrap();
    let root = {
        let store = DirStore::open(dir.path()).unwrap();
        let root = store.add(&mut &data[..], &params).await.unwrap();
        store.pin(&root).await.unwrap();
        root
    };
    let store = DirStore::open(dir.path()).unwrap();
    assert_eq!(store.pins().await.unwrap(), vec![root]);
    assert_eq!(store.pins().await.unwrap()[0].to_string(), root.to_string());
    let mut out = Vec::new();
    store.cat(&root, &mut out).await.unwrap();
    assert_eq!(out, data);
}

#[tokio::test]
async fn dir_store_rejects_another_layout() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("dataseal-blockstore"),
        "dataseal-blockstore 9\n",
    )
    .unwrap();
    assert!(matches!(
        DirStore::open(dir.path()),
        Err(Error::Malformed { .. })
    ));
}

#[tokio::test]
async fn dir_store_concurrent_readers_and_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let blocks: Vec<Block> = (0..16).map(|i| Block::raw(pattern(100_000, i))).collect();
    let mut tasks = Vec::new();
    for round in 0..4 {
        for block in blocks.clone() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.put(&block).await.unwrap();
                if round > 0 {
                    // Any reader sees either nothing or the whole block.
                    match store.get_block(block.cid()).await {
                        Ok(got) => assert_eq!(got, block),
                        Err(Error::NotFound(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    for block in &blocks {
        assert_eq!(store.get_block(block.cid()).await.unwrap(), *block);
    }
}

#[tokio::test]
async fn stores_refuse_blocks_over_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let big = Block::raw(vec![0u8; MAX_BLOCK_LEN + 1]);
    let small_limit = Block::raw(vec![0u8; 101]);
    let stores: Vec<Box<dyn Transport>> = vec![
        Box::new(MemoryStore::new()),
        Box::new(DirStore::open(dir.path()).unwrap()),
    ];
    for store in &stores {
        match store.put(&big).await {
            Err(Error::BlockTooLarge { len, limit }) => {
                assert_eq!(
                    (len, limit),
                    (MAX_BLOCK_LEN as u64 + 1, MAX_BLOCK_LEN as u64)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(!store.has(big.cid()).await.unwrap());
    }
    let limited = MemoryStore::with_max_block_len(100);
    assert!(limited.put(&small_limit).await.is_err());
    let limited = DirStore::open(dir.path()).unwrap().with_max_block_len(100);
    assert!(limited.put(&small_limit).await.is_err());
}

#[tokio::test]
async fn memory_store_remove_simulates_loss() {
    let store = MemoryStore::new();
    let block = Block::raw(&b"lost"[..]);
    store.put(&block).await.unwrap();
    assert_eq!(store.len(), 1);
    assert!(store.remove(block.cid()));
    assert!(store.is_empty());
    assert!(!store.remove(block.cid()));
}
