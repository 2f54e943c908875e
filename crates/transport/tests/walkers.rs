//! The DAG walkers (CAR export, completeness checks behind `pin`, `upload`, the verified
//! reader, the CAR reader's completeness check) against hostile DAGs: one child linked
//! 20,000 times at two levels, declared sizes that do not add up, leaves said to be huge,
//! DAGs deeper than any importer makes. Each is walked or refused in bounded memory and
//! time, never a panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use dataseal_transport::conformance::pattern;
use dataseal_transport::{
    Block, BlockStat, CarReader, Cid, DirStore, Error, ImportParams, MAX_BLOCK_LEN, MemoryStore,
    Profile, Transport, VerifiedRead, import_bytes, upload,
};

use dataseal_transport::fuzzing::{file_node, plain_node};

/// A store that counts the blocks read from it.
#[derive(Debug, Default)]
struct Counting {
    inner: MemoryStore,
    gets: AtomicU64,
    has: AtomicU64,
}

impl Counting {
    fn gets(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
    }
    fn asked(&self) -> u64 {
        self.has.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Transport for Counting {
    async fn put(&self, block: &Block) -> Result<(), Error> {
        self.inner.put(block).await
    }
    async fn get(&self, cid: &Cid) -> Result<Bytes, Error> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get(cid).await
    }
    async fn has(&self, cid: &Cid) -> Result<bool, Error> {
        self.has.fetch_add(1, Ordering::Relaxed);
        self.inner.has(cid).await
    }
    async fn stat(&self, cid: &Cid) -> Result<BlockStat, Error> {
        self.has.fetch_add(1, Ordering::Relaxed);
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

/// This process's peak resident memory, where the system says.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn is_malformed(result: &Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(result, Err(Error::Malformed { .. }))
}

async fn store_with(blocks: &[&Block]) -> Counting {
    let store = Counting::default();
    for block in blocks {
        store.put(block).await.unwrap();
    }
    store
}

async fn export(store: &dyn Transport, root: &Cid) -> Result<Vec<u8>, Error> {
    let mut car = Vec::new();
    store.export_car(root, &mut car).await?;
    Ok(car)
}

async fn read_car(car: &[u8]) -> Result<Vec<Block>, Error> {
    let mut reader = CarReader::new(car).await?.require_complete();
    let mut blocks = Vec::new();
    while let Some(block) = reader.next_block().await? {
        blocks.push(block);
    }
    Ok(blocks)
}

#[tokio::test]
async fn the_repeated_child_dag_is_walked_once_by_every_walker() {
    let started = Instant::now();
    // A root with 20,000 links to one node, whose 20,000 links all point at one empty raw
    // leaf: 4·10^8 paths to a leaf, three distinct blocks.
    let empty = Block::raw(&b""[..]);
    let child = file_node(&vec![(*empty.cid(), 0); 20_000], None);
    let root = file_node(&vec![(*child.cid(), 0); 20_000], None);
    assert!(root.len() < 1 << 20 && child.len() < 1 << 20);
    let blocks = [&empty, &child, &root];

    // CAR export: each distinct block once, root first, and the CAR reads back complete.
    let store = store_with(&blocks).await;
    let car = export(&store, root.cid()).await.unwrap();
    assert_eq!(store.gets(), 3);
    let read = read_car(&car).await.unwrap();
    assert_eq!(read, vec![root.clone(), child.clone(), empty.clone()]);

    // The verified reader: no leaf holds a byte, so only the root is read.
    let store = store_with(&blocks).await;
    let mut out = Vec::new();
    VerifiedRead::new(*root.cid())
        .run(&[&store], &mut out)
        .await
        .unwrap();
    assert!(out.is_empty());
    assert_eq!(store.gets(), 1);

    // Pinning checks completeness.
    let store = store_with(&blocks).await;
    store.pin(root.cid()).await.unwrap();
    // A missing leaf is found all the same.
    let holed = store_with(&[&child, &root]).await;
    match holed.pin(root.cid()).await {
        Err(Error::Incomplete { missing }) => assert_eq!(missing, *empty.cid()),
        other => panic!("{other:?}"),
    }

    // The on-disk store's pin walks the same way.
    let dir = tempfile::tempdir().unwrap();
    let disk = DirStore::open(dir.path()).unwrap();
    for block in blocks {
        disk.put(block).await.unwrap();
    }
    disk.pin(root.cid()).await.unwrap();
    let car = export(&disk, root.cid()).await.unwrap();
    assert_eq!(read_car(&car).await.unwrap().len(), 3);

    // Upload: three blocks sent, the leaf first, each asked about once; again, all skipped.
    let from = store_with(&blocks).await;
    let to = Counting::default();
    let report = upload(&from, &to, root.cid()).await.unwrap();
    assert_eq!((report.uploaded, report.skipped), (3, 0));
    assert_eq!((from.gets(), to.asked()), (3, 3));
    let again = upload(&from, &to, root.cid()).await.unwrap();
    assert_eq!((again.uploaded, again.skipped), (0, 3));
    to.pin(root.cid()).await.unwrap();

    // The same shape with one byte under every leaf.
    let x = Block::raw(&b"x"[..]);
    let child = file_node(&vec![(*x.cid(), 1); 20_000], None);
    let root = file_node(&vec![(*child.cid(), 20_000); 20_000], None);
    let store = store_with(&[&x, &child, &root]).await;
    let car = export(&store, root.cid()).await.unwrap();
    assert_eq!(read_car(&car).await.unwrap().len(), 3);
    store.pin(root.cid()).await.unwrap();
    let to = MemoryStore::new();
    assert_eq!(upload(&store, &to, root.cid()).await.unwrap().uploaded, 3);

    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    // Expanding the 4·10^8 paths would take tens of GiB.
    if let Some(peak) = peak_rss() {
        assert!(peak < 1 << 30, "peak resident memory {peak} bytes");
    }
}

#[tokio::test]
async fn the_verified_reader_walks_huge_nodes_lazily_and_skips_empty_children() {
    let started = Instant::now();
    let empty = Block::raw(&b""[..]);
    let x = Block::raw(&b"x"[..]);
    // A node of 20,000 links to one empty leaf: it holds no bytes.
    let hollow = file_node(&vec![(*empty.cid(), 0); 20_000], None);
    // A byte, 20,000 links to that node, a byte: 4·10^8 paths to the empty leaf, between
    // the two bytes of the file.
    let mut children = vec![(*x.cid(), 1)];
    children.extend(vec![(*hollow.cid(), 0); 20_000]);
    children.push((*x.cid(), 1));
    let root = file_node(&children, None);
    assert!(root.len() < MAX_BLOCK_LEN && hollow.len() < MAX_BLOCK_LEN);
    let store = store_with(&[&empty, &x, &hollow, &root]).await;
    for window in [1, 2, 8, 64] {
        let before = store.gets();
        let mut read = VerifiedRead::new(*root.cid()).window(window);
        let mut out = Vec::new();
        read.run(&[&store], &mut out).await.unwrap();
        assert_eq!(out, b"xx", "window {window}");
        // The root and the two bytes: the node holding none is never fetched.
        assert_eq!(store.gets() - before, 3, "window {window}");
        let served: Vec<Cid> = read.served().iter().map(|s| s.cid).collect();
        assert_eq!(served, [*root.cid(), *x.cid(), *x.cid()]);
    }
    // A range holding the second byte only.
    let mut read = VerifiedRead::range(*root.cid(), 1, 1);
    let mut out = Vec::new();
    read.run(&[&store], &mut out).await.unwrap();
    assert_eq!(out, b"x");
    assert_eq!(read.served().len(), 2);
    // `cat` reads the same way.
    let mut out = Vec::new();
    store.cat(root.cid(), &mut out).await.unwrap();
    assert_eq!(out, b"xx");

    // A node holding one byte under 100 empty children, linked 5,000 times: every copy
    // is read (each holds a byte of the file), its empty children never.
    let mut children = vec![(*empty.cid(), 0); 100];
    children.push((*x.cid(), 1));
    let small = file_node(&children, None);
    let wide = file_node(&vec![(*small.cid(), 1); 5_000], None);
    let store = store_with(&[&empty, &x, &small, &wide]).await;
    for window in [1, 16] {
        let before = store.gets();
        let mut read = VerifiedRead::new(*wide.cid()).window(window);
        let mut out = Vec::new();
        read.run(&[&store], &mut out).await.unwrap();
        assert!(out.len() == 5_000 && out.iter().all(|&b| b == b'x'));
        assert_eq!(store.gets() - before, 1 + 2 * 5_000, "window {window}");
        assert_eq!(read.served().len(), 1 + 2 * 5_000);
    }
    // A range starting deep into it reads only the nodes it needs.
    let mut read = VerifiedRead::range(*wide.cid(), 4_990, 10);
    let mut out = Vec::new();
    read.run(&[&store], &mut out).await.unwrap();
    assert_eq!(out, [b'x'; 10]);
    assert_eq!(read.served().len(), 1 + 2 * 10);

    // Sizes are still checked on every block read: a node said to hold a byte it lacks.
    let lying = file_node(&[(*x.cid(), 1), (*hollow.cid(), 1)], None);
    let store = store_with(&[&empty, &x, &hollow, &lying]).await;
    let read = VerifiedRead::new(*lying.cid())
        .run(&[&store], &mut Vec::new())
        .await;
    assert!(is_malformed(&read), "{read:?}");

    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    if let Some(peak) = peak_rss() {
        assert!(peak < 1 << 30, "peak resident memory {peak} bytes");
    }
}

#[tokio::test]
async fn the_car_completeness_check_holds_each_cid_once() {
    let started = Instant::now();
    // The repeated-child DAG: 40,000 links, three distinct blocks.
    let empty = Block::raw(&b""[..]);
    let child = file_node(&vec![(*empty.cid(), 0); 20_000], None);
    let root = file_node(&vec![(*child.cid(), 0); 20_000], None);
    let car_of = |blocks: Vec<&Block>| {
        let blocks: Vec<Block> = blocks.into_iter().cloned().collect();
        let root = *root.cid();
        async move {
            let mut writer = dataseal_transport::CarWriter::new(Vec::new(), &[root])
                .await
                .unwrap();
            for block in &blocks {
                writer.write(block).await.unwrap();
            }
            writer.finish().await.unwrap()
        }
    };
    // Root first, children first, blocks repeated: complete.
    for blocks in [
        vec![&root, &child, &empty],
        vec![&empty, &child, &root],
        vec![&root, &child, &root, &child, &empty],
    ] {
        let n = blocks.len();
        assert_eq!(read_car(&car_of(blocks).await).await.unwrap().len(), n);
    }
    // A block missing: named.
    for (blocks, missing) in [
        (vec![&root, &child], &empty),
        (vec![&root, &empty], &child),
        (vec![&child, &empty], &root),
    ] {
        match read_car(&car_of(blocks).await).await {
            Err(Error::Incomplete { missing: m }) => assert_eq!(m, *missing.cid()),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dags_whose_sizes_do_not_add_up_are_refused_by_every_walker() {
    let a = Block::raw(&b"abcd"[..]);
    let b = Block::raw(&b"efg"[..]);
    let mid = file_node(&[(*a.cid(), 4), (*b.cid(), 3)], None);
    let mut deep = file_node(&[(*a.cid(), 4)], None);
    let mut chain = vec![deep.clone()];
    for _ in 0..70 {
        deep = file_node(&[(*deep.cid(), 4)], None);
        chain.push(deep.clone());
    }
    let plain = plain_node(&[*a.cid()]);
    let refused = [
        // `filesize` disagreeing with the `blocksizes`.
        file_node(&[(*a.cid(), 4), (*b.cid(), 3)], Some(10)),
        // `blocksizes` that overflow.
        file_node(&[(*a.cid(), u64::MAX), (*b.cid(), 3)], None),
        // A raw leaf holding other than its parent says.
        file_node(&[(*a.cid(), 5)], None),
        // A file node holding other than its parent says.
        file_node(&[(*mid.cid(), 8)], None),
        // One node linked twice with two sizes (the second link is not followed, but
        // its size is checked against the first).
        file_node(&[(*mid.cid(), 7), (*mid.cid(), 6)], None),
        file_node(&[(*a.cid(), 4), (*a.cid(), 3)], None),
        // A file linking a node that is not a file.
        file_node(&[(*plain.cid(), 4)], None),
        // Deeper than any importer makes.
        deep,
    ];
    for root in &refused {
        let mut blocks: Vec<&Block> = vec![&a, &b, &mid, &plain, root];
        blocks.extend(chain.iter());
        let store = store_with(&blocks).await;
        let exported = export(&store, root.cid()).await;
        assert!(is_malformed(&exported), "export: {exported:?}");
        let pinned = store.pin(root.cid()).await;
        assert!(is_malformed(&pinned), "pin: {pinned:?}");
        assert!(store.pins().await.unwrap().is_empty());
        // The verified reader (what `verify --deep` runs) refuses it too.
        let read = VerifiedRead::new(*root.cid())
            .run(&[&store], &mut Vec::new())
            .await;
        assert!(is_malformed(&read), "read: {read:?}");
        let to = MemoryStore::new();
        let uploaded = upload(&store, &to, root.cid()).await;
        assert!(is_malformed(&uploaded), "upload: {uploaded:?}");
        // Nothing above a refused node was sent: the root never arrives.
        assert!(!to.has(root.cid()).await.unwrap());
    }

    // A node that is not UnixFS is walked as plain dag-pb: it declares no sizes.
    let store = store_with(&[&a, &plain]).await;
    assert_eq!(
        read_car(&export(&store, plain.cid()).await.unwrap())
            .await
            .unwrap()
            .len(),
        2
    );
    store.pin(plain.cid()).await.unwrap();
    // A directory of files, the way an importer wraps them.
    let file = import_bytes(
        &pattern(5000, 3),
        &ImportParams::new(Profile::V1RawLeaves, 1000).unwrap(),
    );
    let dir = plain_node(&[file.root, *a.cid()]);
    let store = MemoryStore::new();
    for block in file.blocks.iter().chain([&a, &dir]) {
        store.put(block).await.unwrap();
    }
    let car = export(&store, dir.cid()).await.unwrap();
    assert_eq!(read_car(&car).await.unwrap().len(), file.blocks.len() + 2);
    let to = MemoryStore::new();
    upload(&store, &to, dir.cid()).await.unwrap();
    to.pin(dir.cid()).await.unwrap();
}

#[tokio::test]
async fn huge_claimed_sizes_are_refused_without_panicking() {
    let a = Block::raw(&b"abcd"[..]);
    for size in [u64::MAX, 1 << 62, 8 << 30, (2 << 20) + 1] {
        // A raw leaf said to be over the block limit: refused even where the leaf is
        // only asked about, never read.
        let root = file_node(&[(*a.cid(), size)], None);
        let store = store_with(&[&a, &root]).await;
        let exported = export(&store, root.cid()).await;
        assert!(is_malformed(&exported), "{size}: {exported:?}");
        let pinned = store.pin(root.cid()).await;
        assert!(is_malformed(&pinned), "{size}: {pinned:?}");
        let uploaded = upload(&store, &MemoryStore::new(), root.cid()).await;
        assert!(is_malformed(&uploaded), "{size}: {uploaded:?}");

        // A node said to hold that much, over a leaf that holds 4 bytes.
        let mid = file_node(&[(*a.cid(), 4)], Some(size));
        let root = file_node(&[(*mid.cid(), size)], None);
        let store = store_with(&[&a, &mid, &root]).await;
        assert!(is_malformed(&export(&store, root.cid()).await));
        assert!(is_malformed(&store.pin(root.cid()).await));
        assert!(is_malformed(
            &upload(&store, &MemoryStore::new(), root.cid()).await
        ));

        // Two halves that each claim half of it: consistent sizes, but a leaf that
        // cannot hold them.
        let half = size / 2;
        let mid = file_node(&[(*a.cid(), half)], None);
        let root = file_node(&[(*mid.cid(), half), (*mid.cid(), half)], None);
        let store = store_with(&[&a, &mid, &root]).await;
        assert!(is_malformed(&export(&store, root.cid()).await));
    }
}

#[tokio::test]
async fn good_dags_walk_as_before() {
    for profile in [Profile::V1RawLeaves, Profile::V0] {
        for len in [0, 1, 1000, 174 * 100 + 1, 174 * 174 * 3 + 5] {
            let data = pattern(len, 7);
            let file = import_bytes(&data, &ImportParams::new(profile, 3).unwrap());
            let store = MemoryStore::new();
            for block in &file.blocks {
                store.put(block).await.unwrap();
            }
            let car = export(&store, &file.root).await.unwrap();
            let read = read_car(&car).await.unwrap();
            assert_eq!(read.first().map(|b| *b.cid()), Some(file.root));
            let distinct: std::collections::HashSet<Cid> =
                file.blocks.iter().map(|b| *b.cid()).collect();
            assert_eq!(read.len(), distinct.len(), "{profile:?} {len}");
            store.pin(&file.root).await.unwrap();
            let to = MemoryStore::new();
            let report = upload(&store, &to, &file.root).await.unwrap();
            assert_eq!(report.uploaded, distinct.len() as u64);
            to.pin(&file.root).await.unwrap();
            let mut out = Vec::new();
            to.cat(&file.root, &mut out).await.unwrap();
            assert!(out == data);
        }
    }
}

#[tokio::test]
async fn a_rooted_car_read_holds_only_the_dag_each_block_once() {
    let file = import_bytes(
        &pattern(5000, 4),
        &ImportParams::new(Profile::V1RawLeaves, 1000).unwrap(),
    );
    let car_of = |blocks: Vec<Block>| async move {
        let mut writer = dataseal_transport::CarWriter::new(Vec::new(), &[file.root])
            .await
            .unwrap();
        for block in &blocks {
            writer.write(block).await.unwrap();
        }
        writer.finish().await.unwrap()
    };
    let rooted = |car: Vec<u8>| async move {
        let mut reader = CarReader::new(&car[..]).await?.require_rooted();
        let mut n = 0;
        while reader.next_block().await?.is_some() {
            n += 1;
        }
        Ok::<usize, Error>(n)
    };
    // Root first, as a depth-first export writes it.
    let mut pre = file.blocks.clone();
    pre.rotate_right(1);
    assert_eq!(rooted(car_of(pre.clone()).await).await.unwrap(), 6);
    // Children first (as some packers write): complete, but not rooted.
    let post = car_of(file.blocks.clone()).await;
    assert_eq!(read_car(&post).await.unwrap().len(), 6);
    assert!(is_malformed(&rooted(post).await));
    // A stranger, or one block twice.
    let mut stranger = pre.clone();
    stranger.push(Block::raw(&b"stranger"[..]));
    assert!(is_malformed(&rooted(car_of(stranger).await).await));
    let mut twice = pre.clone();
    twice.push(pre[1].clone());
    assert!(is_malformed(&rooted(car_of(twice).await).await));
    // A leaf missing: the first one linked is named.
    let mut holed = pre.clone();
    holed.remove(2);
    match rooted(car_of(holed).await).await {
        Err(Error::Incomplete { missing }) => assert_eq!(missing, *pre[2].cid()),
        other => panic!("{other:?}"),
    }
}
