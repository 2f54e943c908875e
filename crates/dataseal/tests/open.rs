//! Random access to a version (`Fetch::open`): every range equals the source, a read
//! fetches only the chunks it touches, refusals read no block, lying stores are routed
//! around and tampering everywhere is caught.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::io::{Read, Seek, SeekFrom};

use common::*;
use dataseal::policy::VersionState;
use dataseal::{ErrorKind, OpenVersion, Provider, Published, Timestamp};

const PLAIN: u64 = 65_536 - 16;

fn open_with(
    w: &World,
    published: &Published,
    providers: Vec<Provider>,
    state: VersionState,
    purpose: &str,
) -> Result<OpenVersion, dataseal::Error> {
    let decider = Decider::new(w, published, state);
    w.fetch(published, purpose)
        .grant(w.grant(published, purpose, 900, Timestamp::now()))
        .envelope(published.envelope.as_bytes().to_vec())
        .open(providers, &w.catalog(), &w.broker(), &decider.gate())
}

/// Opened by tess for research, nothing wrong with the version.
fn open_fine(w: &World, published: &Published) -> Result<OpenVersion, dataseal::Error> {
    open_with(
        w,
        published,
        w.providers(&["a", "b"]),
        VersionState::default(),
        "research",
    )
}

fn published(w: &World) -> Published {
    let mut providers = w.providers(&["a", "b"]);
    w.publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap()
}

#[test]
fn every_range_reads_as_the_source() {
    let w = World::new();
    let p = published(&w);
    let version = open_fine(&w, &p).unwrap();
    assert_eq!(version.cid(), &p.manifest_cid);
    let listed: Vec<(String, u64)> = version
        .files()
        .into_iter()
        .map(|f| (f.path, f.size))
        .collect();
    let mut expected: Vec<(String, u64)> = files()
        .into_iter()
        .map(|(p, d)| (p.to_owned(), d.len() as u64))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);

    for (path, data) in files() {
        assert_eq!(version.read(path).unwrap(), data, "{path} whole");
        let mut r = version.open(path).unwrap();
        assert_eq!(r.size(), data.len() as u64);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, data, "{path} streamed");
        // Around every chunk boundary, reads that start before, on and after it, and
        // spans across it.
        let len = data.len() as u64;
        for k in 0..=len / PLAIN + 1 {
            let edge = k * PLAIN;
            for start in [
                edge.saturating_sub(1),
                edge,
                edge + 1,
                edge.saturating_sub(300),
            ] {
                for want in [1usize, 2, 600, PLAIN as usize + 5] {
                    r.seek(SeekFrom::Start(start)).unwrap();
                    let mut buf = vec![0u8; want];
                    let mut got = 0;
                    loop {
                        let n = r.read(&mut buf[got..]).unwrap();
                        if n == 0 {
                            break;
                        }
                        got += n;
                        if got == want {
                            break;
                        }
                    }
                    let s = usize::try_from(start.min(len)).unwrap();
                    let e = (s + want).min(data.len());
                    assert_eq!(&buf[..got], &data[s..e], "{path} at {start} for {want}");
                }
            }
        }
        // Seeks from the end and the current position; past the end reads nothing.
        assert_eq!(r.seek(SeekFrom::End(0)).unwrap(), len);
        assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0);
        assert!(r.seek(SeekFrom::Current(-(len as i64) - 1)).is_err());
        assert_eq!(r.seek(SeekFrom::End(5)).unwrap(), len + 5);
        assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0);
    }
}

#[test]
fn a_read_fetches_only_the_chunks_it_touches() {
    let w = World::new();
    let p = published(&w);
    let version = open_fine(&w, &p).unwrap();
    assert_eq!(version.remote_reads(), 0, "opening reads no object");
    let data = files()
        .into_iter()
        .find(|(p, _)| *p == "train/c.bin")
        .unwrap()
        .1;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    version.on_progress(move |p| {
        log.lock()
            .unwrap()
            .push((p.path.to_owned(), p.offset, p.len, p.size, p.total));
    });
    let mut r = version.open("train/c.bin").unwrap();
    r.seek(SeekFrom::Start(PLAIN + 10)).unwrap();
    let mut buf = [0u8; 100];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(&buf[..], &data[PLAIN as usize + 10..PLAIN as usize + 110]);
    assert_eq!(version.remote_reads(), 1);
    let size = data.len() as u64;
    let second = PLAIN.min(size - PLAIN);
    assert_eq!(
        *seen.lock().unwrap(),
        [("train/c.bin".to_owned(), PLAIN, second, size, second)],
        "one range reported: the chunk read"
    );
    assert_eq!(version.bytes_fetched(), second);
    // The same chunk again: no fetch, nothing reported.
    r.seek(SeekFrom::Start(PLAIN + 500)).unwrap();
    r.read_exact(&mut buf).unwrap();
    assert_eq!(version.remote_reads(), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
    let receipt = version.receipt();
    assert_eq!(receipt.objects.len(), 1);
    let leaves_and_parent = receipt.objects[0].blocks.len();
    assert!(
        (1..=2).contains(&leaves_and_parent),
        "one leaf (and its parent), not the object: {leaves_and_parent}"
    );
    assert_eq!(receipt.job.as_deref(), Some("job-1"));
    // A whole read from the start reports ranges that tile the object, in order.
    seen.lock().unwrap().clear();
    let mut whole = version.open("train/c.bin").unwrap();
    let mut all = Vec::new();
    whole.read_to_end(&mut all).unwrap();
    assert_eq!(all, data);
    let ranges = seen.lock().unwrap().clone();
    let mut next = 0;
    for (_, offset, len, _, _) in &ranges {
        assert_eq!(*offset, next);
        next += len;
    }
    assert_eq!(next, size);
    assert_eq!(ranges.last().unwrap().4, second + size);
    version.clear_progress();
}

/// Every block the version's readers were served came from `provider`.
fn assert_all_served_by(version: &OpenVersion, provider: &str) {
    let receipt = version.receipt();
    let blocks = receipt.objects.iter().flat_map(|o| &o.blocks);
    let others: Vec<_> = blocks.filter(|b| b.provider.as_str() != provider).collect();
    assert!(
        others.is_empty(),
        "served by another store than {provider}: {others:?}"
    );
}

#[test]
fn refusals_read_no_block() {
    let w = World::new();
    let p = published(&w);
    // Every block gone: a read would fail with "unavailable", so a refusal must come
    // from the decision, before any block is asked for.
    for store in ["a", "b"] {
        std::fs::remove_dir_all(w.path(&format!("stores/{store}/blocks"))).unwrap();
        std::fs::create_dir_all(w.path(&format!("stores/{store}/blocks"))).unwrap();
    }
    let denied = open_with(
        &w,
        &p,
        w.providers(&["a", "b"]),
        VersionState::default(),
        "analytics",
    )
    .unwrap_err();
    assert_eq!(denied.kind(), ErrorKind::Denied, "{denied}");
    let revoked = VersionState {
        revoked: true,
        ..VersionState::default()
    };
    let blocked = open_with(&w, &p, w.providers(&["a", "b"]), revoked, "research").unwrap_err();
    assert_eq!(blocked.kind(), ErrorKind::Blocked, "{blocked}");
    // Allowed: opening still reads nothing; the first read finds no block.
    let version = open_fine(&w, &p).unwrap();
    let err = version.read("train/a.bin").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(version.open("no/such.bin").is_err());
}

#[test]
fn a_lying_store_is_routed_around_and_tampering_everywhere_is_caught() {
    let w = World::new();
    let p = published(&w);
    assert!(corrupt_store(&w.path("stores/a")) > 0);
    let version = open_fine(&w, &p).unwrap();
    for (path, data) in files() {
        assert_eq!(version.read(path).unwrap(), data, "{path}");
    }
    assert!(version.integrity_failures() > 0);
    assert_all_served_by(&version, "b");

    // Both stores lie: no range of an object is returned.
    assert!(corrupt_store(&w.path("stores/b")) > 0);
    let version = open_fine(&w, &p).unwrap();
    for (path, _) in files() {
        let err = version.read(path).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Verification | ErrorKind::Unavailable),
            "{path}: {err}"
        );
        let mut r = version.open(path).unwrap();
        r.seek(SeekFrom::Start(0)).unwrap();
        assert!(r.read(&mut [0u8; 16]).is_err(), "{path}");
    }
}

/// Opened with a read window of one chunk, so that every sequential load after the
/// second fetches the next chunk on the read-ahead thread.
fn open_window_one(w: &World, p: &Published, stores: &[&str]) -> OpenVersion {
    let decider = Decider::new(w, p, VersionState::default());
    w.fetch(p, "research")
        .grant(w.grant(p, "research", 900, Timestamp::now()))
        .envelope(p.envelope.as_bytes().to_vec())
        .window(1)
        .open(
            w.providers(stores),
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
        )
        .unwrap()
}

/// Reads `r` to its end in pieces of `piece` bytes.
fn read_in_pieces(r: &mut dataseal::ObjectReader, piece: usize) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; piece];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return all;
        }
        all.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn sequential_reads_with_read_ahead_equal_the_source_however_the_reader_moves() {
    let w = World::new();
    let p = published(&w);
    let version = open_window_one(&w, &p, &["a", "b"]);
    let ranges = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&ranges);
    version.on_progress(move |r| log.lock().unwrap().push((r.offset, r.len)));
    for (path, data) in files() {
        let len = data.len() as u64;
        for piece in [1000, PLAIN as usize, 3 * PLAIN as usize] {
            ranges.lock().unwrap().clear();
            let mut r = version.open(path).unwrap();
            assert_eq!(read_in_pieces(&mut r, piece), data, "{path} in {piece}s");
            // The ranges reported tile the object, in order, read-ahead or not.
            let mut next = 0;
            for (offset, n) in ranges.lock().unwrap().iter() {
                assert_eq!(*offset, next, "{path}");
                next += n;
            }
            assert_eq!(next, len, "{path}");
        }
        // Moving while a read-ahead is under way: back to the start, forward past the
        // window being fetched, and onto it.
        let mut r = version.open(path).unwrap();
        let mut head = vec![0u8; (PLAIN as usize + 10).min(data.len())];
        r.read_exact(&mut head).unwrap();
        for start in [0, 3 * PLAIN + 7, PLAIN + 1, 2 * PLAIN, 0] {
            if start >= len {
                continue;
            }
            r.seek(SeekFrom::Start(start)).unwrap();
            let rest = read_in_pieces(&mut r, 777);
            assert_eq!(rest, &data[start as usize..], "{path} from {start}");
        }
    }
}

#[test]
fn the_read_ahead_routes_around_a_lying_store_and_never_hands_out_a_bad_chunk() {
    let w = World::new();
    let p = published(&w);
    assert!(corrupt_store(&w.path("stores/a")) > 0);
    let version = open_window_one(&w, &p, &["a", "b"]);
    for (path, data) in files() {
        let mut r = version.open(path).unwrap();
        assert_eq!(read_in_pieces(&mut r, 4096), data, "{path}");
    }
    assert!(version.integrity_failures() > 0);
    assert_all_served_by(&version, "b");

    // Only the lying store: the read fails at the first chunk, read-ahead or not, and
    // keeps failing (no chunk is ever released).
    let version = open_window_one(&w, &p, &["a"]);
    for (path, _) in files() {
        let mut r = version.open(path).unwrap();
        let mut buf = [0u8; 4096];
        assert!(r.read(&mut buf).is_err(), "{path}");
        assert!(r.read(&mut buf).is_err(), "{path}");
    }
}
