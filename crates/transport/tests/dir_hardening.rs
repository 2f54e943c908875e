//! The on-disk store reads only regular files, and never more than its limit: symlinks,
//! FIFOs, sockets, devices and directories where a block, pin or marker should be are
//! refused without being followed or opened, oversized files without being read.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::fs;
use std::future::Future;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dataseal_transport::conformance::pattern;
use dataseal_transport::{
    Block, DirStore, Error, ImportParams, MAX_BLOCK_LEN, MemoryStore, Profile, Transport,
    VerifiedRead, fuzzing, import_bytes,
};
use proptest::prelude::*;

/// Runs `future` on its own thread and runtime, failing the test if it takes over ten
/// seconds (a hung thread is left behind rather than hanging the test binary).
fn within<T, F>(what: &str, future: F) -> T
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _ = tx.send(runtime.block_on(future));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} did not return within 10 s"))
}

/// A store holding one block, and that block.
fn store_with_block() -> (tempfile::TempDir, DirStore, Block) {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let block = Block::raw(pattern(1000, 7));
    within("put", {
        let (store, block) = (store.clone(), block.clone());
        async move { store.put(&block).await.unwrap() }
    });
    (dir, store, block)
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(status.success(), "mkfifo {} failed", path.display());
}

/// Replaces the block's file with whatever `place` puts at its path, then checks that
/// `get`, `get_block`, `has`, `stat` and a verified read refuse it, promptly, and that a
/// `put` restores the block.
fn refused_in_place_of_a_block(what: &str, mut place: impl FnMut(&Path)) {
    let (_dir, store, block) = store_with_block();
    let path = store.block_path(block.cid());
    fs::remove_file(&path).unwrap();
    place(&path);
    let cid = *block.cid();

    let s = store.clone();
    let (has, stat) = within(what, async move {
        (s.has(&cid).await.unwrap(), s.stat(&cid).await)
    });
    assert!(!has, "{what}: has() reported a block");
    assert!(
        matches!(stat, Err(Error::NotFound(_))),
        "{what}: stat gave {stat:?}"
    );

    let s = store.clone();
    let got = within(what, async move { s.get(&cid).await });
    assert!(
        matches!(got, Err(Error::Integrity { .. })),
        "{what}: get gave {got:?}"
    );
    // Quarantined: the name is free again, so the block reads as missing.
    assert!(
        fs::symlink_metadata(&path).is_err(),
        "{what}: not quarantined"
    );
    let s = store.clone();
    let got = within(what, async move { s.get_block(&cid).await });
    assert!(
        matches!(got, Err(Error::NotFound(_))),
        "{what}: get_block gave {got:?}"
    );

    // Put in place again, as the same kind of entry: a verified read refuses it too.
    let quarantined = path.with_file_name(format!(".corrupt-{cid}"));
    let _ = fs::remove_dir_all(&quarantined);
    let _ = fs::remove_file(&quarantined);
    place(&path);
    let s = store.clone();
    let read = within(what, async move {
        let mut out = Vec::new();
        VerifiedRead::new(cid).run(&[s], &mut out).await
    });
    assert!(read.is_err(), "{what}: a verified read succeeded");

    // And `put` repairs it.
    let (s, b) = (store.clone(), block.clone());
    let got = within(what, async move {
        s.put(&b).await.unwrap();
        s.get(b.cid()).await.unwrap()
    });
    assert_eq!(got, *block.data(), "{what}: put did not restore the block");
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_file());
}

#[test]
fn symlink_to_a_real_block_is_refused() {
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("block");
    refused_in_place_of_a_block("a symlink to a good copy of the block", |path| {
        // The target holds the right bytes: following the link would "work".
        fs::write(&target, pattern(1000, 7)).unwrap();
        std::os::unix::fs::symlink(&target, path).unwrap();
    });
    // The link was never followed: its target is untouched.
    assert_eq!(fs::read(&target).unwrap(), pattern(1000, 7));
}

#[test]
fn symlink_to_dev_zero_is_refused() {
    refused_in_place_of_a_block("a symlink to /dev/zero", |path| {
        std::os::unix::fs::symlink("/dev/zero", path).unwrap();
    });
}

#[test]
fn dangling_symlink_is_refused() {
    refused_in_place_of_a_block("a dangling symlink", |path| {
        std::os::unix::fs::symlink("/nonexistent/dataseal-block", path).unwrap();
    });
}

#[test]
fn fifo_is_refused_without_blocking() {
    refused_in_place_of_a_block("a FIFO", mkfifo);
}

#[test]
fn socket_is_refused() {
    let mut listeners = Vec::new();
    refused_in_place_of_a_block("a Unix socket", |path| {
        listeners.push(std::os::unix::net::UnixListener::bind(path).unwrap());
    });
}

#[test]
fn directory_is_refused() {
    refused_in_place_of_a_block("a directory", |path| {
        fs::create_dir(path).unwrap();
        fs::write(path.join("inside"), b"x").unwrap();
    });
}

#[test]
fn oversized_sparse_file_is_refused_quickly() {
    let (_dir, store, block) = store_with_block();
    let path = store.block_path(block.cid());
    // 8 GiB, sparse: reading it whole would take the memory and the time.
    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(8 << 30).unwrap();
    drop(file);
    let cid = *block.cid();
    let start = Instant::now();
    let s = store.clone();
    let (get, get_block, read) = within("an 8 GiB block file", async move {
        let mut out = Vec::new();
        (
            s.get(&cid).await,
            s.get_block(&cid).await,
            VerifiedRead::new(cid)
                .run(std::slice::from_ref(&s), &mut out)
                .await,
        )
    });
    assert!(start.elapsed() < Duration::from_secs(5));
    for got in [get.map(|_| ()), get_block.map(|_| ())] {
        match got {
            Err(Error::BlockTooLarge { len, limit }) => {
                assert_eq!(len, 8 << 30);
                assert_eq!(limit, MAX_BLOCK_LEN as u64);
            }
            other => panic!("an 8 GiB block file gave {other:?}"),
        }
    }
    assert!(read.is_err());
    // Left in place for `put`, which replaces it.
    let (s, b) = (store.clone(), block.clone());
    let got = within("put over an 8 GiB file", async move {
        s.put(&b).await.unwrap();
        s.get(b.cid()).await.unwrap()
    });
    assert_eq!(got, *block.data());
    assert_eq!(fs::metadata(&path).unwrap().len(), 1000);
}

#[test]
fn block_files_are_bounded_by_the_configured_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap().with_max_block_len(1000);
    let exact = Block::raw(pattern(1000, 1));
    let over = Block::raw(pattern(1001, 2));
    let path = store.block_path(over.cid());
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, over.data()).unwrap();
    let (s, e, o) = (store.clone(), exact.clone(), *over.cid());
    let (exact_got, over_got) = within("limit", async move {
        s.put(&e).await.unwrap();
        (s.get(e.cid()).await, s.get(&o).await)
    });
    assert_eq!(exact_got.unwrap(), *exact.data());
    assert!(
        matches!(
            over_got,
            Err(Error::BlockTooLarge {
                len: 1001,
                limit: 1000
            })
        ),
        "{over_got:?}"
    );
    // Another handle on the same directory, with the default limit, reads it: the
    // smaller limit did not quarantine it.
    let wide = DirStore::open(dir.path()).unwrap();
    let got = within("default limit", async move { wide.get(&o).await });
    assert_eq!(got.unwrap(), *over.data());
}

#[test]
fn has_and_stat_do_not_follow_symlinks() {
    let (_dir, store, block) = store_with_block();
    let other = Block::raw(pattern(10, 3));
    let link = store.block_path(other.cid());
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(store.block_path(block.cid()), &link).unwrap();
    let cid = *other.cid();
    let (has, stat) = within("has/stat", async move {
        (store.has(&cid).await.unwrap(), store.stat(&cid).await)
    });
    assert!(!has);
    assert!(matches!(stat, Err(Error::NotFound(_))), "{stat:?}");
}

/// A store holding a pinned block, for the pin tests.
fn pinned_store() -> (tempfile::TempDir, DirStore, Block) {
    let (dir, store, block) = store_with_block();
    let (s, cid) = (store.clone(), *block.cid());
    within("pin", async move { s.pin(&cid).await.unwrap() });
    (dir, store, block)
}

#[test]
fn pins_refuse_special_and_oversized_files() {
    type Place = fn(&Path);
    let cases: [(&str, Place); 4] = [
        ("a symlink", |p| {
            std::os::unix::fs::symlink("/dev/zero", p).unwrap();
        }),
        ("a FIFO", mkfifo),
        ("a directory", |p| fs::create_dir(p).unwrap()),
        ("an oversized file", |p| {
            fs::File::create(p).unwrap().set_len(8 << 30).unwrap();
        }),
    ];
    for (what, place) in cases {
        let (_dir, store, block) = pinned_store();
        let pin = store.root().join("pins").join("zzz-extra");
        place(&pin);
        let s = store.clone();
        let got = within(what, async move { s.pins().await });
        assert!(
            matches!(
                got,
                Err(Error::Malformed {
                    what: "pin file",
                    ..
                })
            ),
            "{what} as a pin file gave {got:?}"
        );
        // Remove it and the pins list again.
        let _ = fs::remove_dir(&pin);
        let _ = fs::remove_file(&pin);
        let got = within(what, async move { store.pins().await });
        assert_eq!(got.unwrap(), vec![*block.cid()]);
    }
}

#[test]
fn marker_refuses_special_and_oversized_files() {
    type Place = fn(&Path);
    let cases: [(&str, Place); 5] = [
        ("a symlink to /dev/zero", |p| {
            std::os::unix::fs::symlink("/dev/zero", p).unwrap();
        }),
        ("a symlink to a good marker", |p| {
            let target = p.with_file_name("elsewhere");
            fs::write(&target, "dataseal-blockstore 1\n").unwrap();
            std::os::unix::fs::symlink(target, p).unwrap();
        }),
        ("a FIFO", mkfifo),
        ("a directory", |p| fs::create_dir(p).unwrap()),
        ("an oversized file", |p| {
            fs::File::create(p).unwrap().set_len(8 << 30).unwrap();
        }),
    ];
    for (what, place) in cases {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("dataseal-blockstore");
        place(&marker);
        let root = dir.path().to_path_buf();
        let got = within(what, async move { DirStore::open(root).map(|_| ()) });
        assert!(
            matches!(
                got,
                Err(Error::Malformed {
                    what: "block store",
                    ..
                })
            ),
            "{what} as the marker gave {got:?}"
        );
    }
}

/// The blocks of a small file (three raw leaves and a root) in a fresh store.
fn small_file() -> (Vec<u8>, dataseal_transport::ImportedFile) {
    let data = pattern(3000, 11);
    let file = import_bytes(
        &data,
        &ImportParams::new(Profile::V1RawLeaves, 1024).unwrap(),
    );
    (data, file)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever bytes the block files hold, a verified read over the store returns the
    /// file or an error: never other bytes, never a panic; with a good store behind, the
    /// file.
    #[test]
    fn arbitrary_block_files_never_panic_a_verified_read(
        contents in proptest::collection::vec(
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..1500)),
            4,
        ),
        offset in 0u64..3000,
        len in 0u64..3000,
    ) {
        let (data, file) = small_file();
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        for (block, content) in file.blocks.iter().zip(&contents) {
            let path = store.block_path(block.cid());
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, content.as_deref().unwrap_or(block.data())).unwrap();
        }
        let root = file.root;
        let good = MemoryStore::new();
        let blocks = file.blocks.clone();
        let (alone, ranged, backed) = within("verified read", async move {
            let mut whole = Vec::new();
            let alone = VerifiedRead::new(root).run(std::slice::from_ref(&store), &mut whole).await;
            let len = len.min(3000 - offset);
            let mut part = Vec::new();
            let ranged = VerifiedRead::range(root, offset, len)
                .run(std::slice::from_ref(&store), &mut part)
                .await;
            for block in &blocks {
                good.put(block).await.unwrap();
            }
            let stores: Vec<Box<dyn Transport>> = vec![Box::new(store), Box::new(good)];
            let mut backed = Vec::new();
            VerifiedRead::new(root).run(&stores, &mut backed).await.unwrap();
            (alone.map(|_| whole), ranged.map(|_| part), backed)
        });
        if let Ok(whole) = alone {
            prop_assert_eq!(&whole, &data);
        }
        if let Ok(part) = ranged {
            let start = offset as usize;
            prop_assert_eq!(&part[..], &data[start..start + part.len()]);
            prop_assert_eq!(part.len() as u64, len.min(3000 - offset));
        }
        prop_assert_eq!(backed, data);
    }

    /// The `dir_store` fuzz target's body holds its invariants on arbitrary input.
    #[test]
    fn dir_store_fuzz_body_holds(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        if let Err(e) = fuzzing::dir_store(&data) {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn dir_store_fuzz_body_on_crafted_inputs() {
    // Untouched; each block replaced by garbage, an oversized file, a symlink, a
    // directory; both profiles.
    let mut inputs: Vec<Vec<u8>> = vec![vec![0], vec![1]];
    for profile in [0u8, 1] {
        for block in 0u8..4 {
            inputs.push(vec![profile, block, 3, 0, 1, 2, 3]);
            let mut big = vec![profile, block, 0x01, 0x09];
            big.extend(std::iter::repeat_n(0xaa, 0x0901));
            inputs.push(big);
            inputs.push(vec![profile, 0x80 | block, (block + 1) % 4, 0]);
            inputs.push(vec![profile, 0x80 | block, block, 0]);
            inputs.push(vec![profile, 0x40 | block, 0, 0]);
        }
    }
    let mut served_untouched = 0;
    for (i, input) in inputs.iter().enumerate() {
        let served = fuzzing::dir_store(input).unwrap_or_else(|e| panic!("input {i}: {e}"));
        if i < 2 {
            served_untouched += served;
        }
    }
    // Untouched stores serve every block twice (get and get_block), for both profiles.
    assert_eq!(served_untouched, 16);
}
