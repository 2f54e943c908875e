//! Round trips at every chunk boundary, range decryption, resumption.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use common::*;
use dataseal_crypt::{ChunkSize, ChunkSource, Decryptor, Encryptor, Error, SeekSource, TAG_LEN};

fn boundary_sizes(c: ChunkSize) -> Vec<usize> {
    let p = c.plaintext_len();
    vec![0, 1, p - 1, p, p + 1, 3 * p - 1, 3 * p, 3 * p + 1]
}

#[test]
fn every_boundary_round_trips_at_64k_and_1m_with_one_and_two_threads() {
    for c in [ChunkSize::MIN, ChunkSize::MAX] {
        for threads in [1, 2] {
            for len in boundary_sizes(c) {
                let data = pattern(len, len as u64);
                let e = pool(threads).install(|| encrypt(&data, c));
                let h = &e.header;
                assert_eq!(h.plaintext_len(), len as u64);
                assert_eq!(h.chunk_count(), c.chunk_count(len as u64));
                assert_eq!(e.ciphertext.len() as u64, h.ciphertext_len());
                assert_eq!(e.cids.len() as u64, h.chunk_count());
                // Every chunk but the last is exactly C bytes; every CID addresses its chunk.
                let parts = chunks(&e.ciphertext, c);
                assert_eq!(parts.len() as u64, h.chunk_count().max(1));
                for (i, (part, cid)) in parts.iter().zip(&e.cids).enumerate() {
                    if i + 1 < parts.len() {
                        assert_eq!(part.len(), c.bytes());
                    }
                    assert!(cid.verify(part), "chunk {i} CID");
                    assert_eq!(
                        cid.to_string(),
                        dataseal_crypt::Cid::raw_sha256(part).to_string()
                    );
                }
                let back = pool(threads).install(|| decrypt(h, &e.ciphertext)).unwrap();
                assert!(back == data, "len {len} C {c} threads {threads}");
            }
        }
    }
}

#[test]
fn empty_object_is_one_empty_last_chunk() {
    let e = encrypt(&[], ChunkSize::MIN);
    assert_eq!(e.header.chunk_count(), 1);
    assert_eq!(e.ciphertext.len(), TAG_LEN);
    assert_eq!(decrypt(&e.header, &e.ciphertext).unwrap(), b"");
}

#[test]
fn same_key_and_salt_give_the_same_ciphertext_whatever_the_threads() {
    let data = pattern(5 * 65_520 + 17, 1);
    let a = pool(1).install(|| encrypt(&data, ChunkSize::MIN));
    let b = pool(2).install(|| encrypt(&data, ChunkSize::MIN));
    assert_eq!(a.ciphertext, b.ciphertext);
    assert_eq!(a.cids, b.cids);
    assert_eq!(a.header, b.header);
}

#[test]
fn fresh_salts_give_different_ciphertexts() {
    let data = pattern(1000, 2);
    let k = key(1);
    let mk = || {
        let enc = Encryptor::new(&k, id("a@1/b"), ChunkSize::MIN).unwrap();
        let mut sink = dataseal_crypt::WriteSink::new(Vec::new());
        let h = enc.encrypt(&data[..], &mut sink).unwrap();
        (h, sink.finish().unwrap().0)
    };
    let (h1, c1) = mk();
    let (h2, c2) = mk();
    assert_ne!(h1.salt(), h2.salt());
    assert_ne!(c1, c2);
    assert_eq!(decrypt_with(&k, &h1, &c1).unwrap(), data);
    assert_eq!(decrypt_with(&k, &h2, &c2).unwrap(), data);
}

#[test]
fn reencrypting_any_chunk_reproduces_it_exactly() {
    let c = ChunkSize::MIN;
    let p = c.plaintext_len();
    let data = pattern(3 * p + 100, 3);
    let e = encrypt(&data, c);
    let enc = Encryptor::with_salt(&key(7), id("test@1.0.0/object"), c, *e.header.salt());
    let parts = chunks(&e.ciphertext, c);
    let count = e.header.chunk_count();
    for (i, plain) in data.chunks(p).enumerate() {
        let mut buf = plain.to_vec();
        let cid = enc
            .encrypt_chunk(i as u64, i as u64 + 1 == count, &mut buf)
            .unwrap();
        assert_eq!(buf, parts[i], "chunk {i}");
        assert_eq!(cid, e.cids[i]);
    }
    // A plaintext longer than C − 16 is refused, not split.
    let mut too_long = vec![0u8; p + 1];
    assert!(matches!(
        enc.encrypt_chunk(0, false, &mut too_long),
        Err(Error::Chunk { index: 0 })
    ));
}

#[test]
fn single_chunk_decryption_checks_position_and_length() {
    let c = ChunkSize::MIN;
    let data = pattern(2 * c.plaintext_len() + 5, 4);
    let e = encrypt(&data, c);
    let dec = Decryptor::new(&key(7), &e.header).unwrap();
    let parts = chunks(&e.ciphertext, c);
    let mut first = parts[0].clone();
    dec.decrypt_chunk(0, &mut first).unwrap();
    assert_eq!(first, &data[..c.plaintext_len()]);
    let mut moved = parts[0].clone();
    assert!(matches!(
        dec.decrypt_chunk(1, &mut moved),
        Err(Error::Chunk { index: 1 })
    ));
    let mut beyond = parts[0].clone();
    assert!(matches!(
        dec.decrypt_chunk(3, &mut beyond),
        Err(Error::Chunk { index: 3 })
    ));
    let mut last = parts[2].clone();
    dec.decrypt_chunk(2, &mut last).unwrap();
    assert_eq!(last, &data[2 * c.plaintext_len()..]);
}

/// A source that records which chunks were read.
struct Counting<'a> {
    inner: &'a [u8],
    read: Vec<u64>,
}

impl ChunkSource for Counting<'_> {
    fn read_chunk(&mut self, index: u64, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read.push(index);
        let mut s = self.inner;
        s.read_chunk(index, offset, buf)
    }
}

#[test]
fn ranges_at_and_across_chunk_boundaries() {
    for c in [ChunkSize::MIN, ChunkSize::MAX] {
        let p = c.plaintext_len();
        let data = pattern(3 * p + 1234, 5);
        let e = encrypt(&data, c);
        let dec = Decryptor::new(&key(7), &e.header).unwrap();
        let offsets = [
            0,
            1,
            p - 1,
            p,
            p + 1,
            2 * p - 3,
            3 * p - 1,
            3 * p,
            data.len() - 1,
            data.len(),
        ];
        let lens = [0, 1, 2, 16, p - 1, p, p + 2, 2 * p + 1];
        for &off in &offsets {
            for &len in &lens {
                if off + len > data.len() {
                    continue;
                }
                let mut src = Counting {
                    inner: &e.ciphertext,
                    read: Vec::new(),
                };
                let mut out = Vec::new();
                dec.decrypt_range(&mut src, off as u64, len as u64, &mut out)
                    .unwrap();
                assert!(out == data[off..off + len], "C {c} off {off} len {len}");
                // Only the chunks covering the range were touched.
                let expected: Vec<u64> = if len == 0 {
                    vec![]
                } else {
                    ((off / p) as u64..=((off + len - 1) / p) as u64).collect()
                };
                assert_eq!(src.read, expected, "C {c} off {off} len {len}");
            }
        }
    }
}

#[test]
fn range_from_a_file_and_out_of_bounds() {
    let c = ChunkSize::MIN;
    let data = pattern(2 * c.plaintext_len() + 10, 6);
    let e = encrypt(&data, c);
    let mut f = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut f, &e.ciphertext).unwrap();
    let dec = Decryptor::new(&key(7), &e.header).unwrap();
    let mut src = SeekSource(f);
    let mut out = Vec::new();
    dec.decrypt_range(&mut src, 65_000, 2_000, &mut out)
        .unwrap();
    assert_eq!(out, &data[65_000..67_000]);
    let n = data.len() as u64;
    for (off, len) in [(n, 1), (n + 1, 0), (0, n + 1), (u64::MAX, 2), (5, u64::MAX)] {
        let err = dec
            .decrypt_range(&mut src, off, len, &mut Vec::new())
            .unwrap_err();
        assert!(matches!(err, Error::Range { .. }), "{off} {len}: {err}");
    }
    // The empty range at the very end is fine.
    dec.decrypt_range(&mut src, n, 0, &mut Vec::new()).unwrap();
}

#[test]
fn tampering_outside_the_range_does_not_matter_inside_it_does() {
    let c = ChunkSize::MIN;
    let p = c.plaintext_len();
    let data = pattern(3 * p, 7);
    let mut e = encrypt(&data, c);
    e.ciphertext[2 * c.bytes() + 10] ^= 0x80;
    let dec = Decryptor::new(&key(7), &e.header).unwrap();
    let mut out = Vec::new();
    dec.decrypt_range(&mut &e.ciphertext[..], 10, (p + 5) as u64, &mut out)
        .unwrap();
    assert_eq!(out, &data[10..p + 15]);
    let err = dec.decrypt_range(&mut &e.ciphertext[..], (2 * p) as u64, 1, &mut Vec::new());
    assert!(matches!(err, Err(Error::Chunk { index: 2 })));
    let err = dec.decrypt_range(
        &mut &e.ciphertext[..],
        (p - 1) as u64,
        (p + 2) as u64,
        &mut Vec::new(),
    );
    assert!(matches!(err, Err(Error::Chunk { index: 2 })));
}

#[test]
fn readers_that_return_short_reads_still_work() {
    /// Yields at most 7 bytes per read and sometimes an `Interrupted` error.
    struct Dribble<'a>(&'a [u8], u32);
    impl std::io::Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.1 += 1;
            if self.1.is_multiple_of(5) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let c = ChunkSize::MIN;
    let data = pattern(c.plaintext_len() * 2, 8);
    let enc = Encryptor::with_salt(
        &key(7),
        id("test@1.0.0/object"),
        c,
        dataseal_crypt::Salt::from_bytes([9; 32]),
    );
    let mut sink = dataseal_crypt::WriteSink::new(Vec::new());
    let header = enc.encrypt(Dribble(&data, 0), &mut sink).unwrap();
    let (ct, _) = sink.finish().unwrap();
    assert_eq!(ct, encrypt(&data, c).ciphertext);
    let mut out = Vec::new();
    Decryptor::new(&key(7), &header)
        .unwrap()
        .decrypt(Dribble(&ct, 0), &mut out)
        .unwrap();
    assert_eq!(out, data);
}

#[test]
fn sink_and_reader_errors_propagate() {
    let c = ChunkSize::MIN;
    let data = pattern(c.plaintext_len() * 5, 9);
    let enc = Encryptor::with_salt(
        &key(7),
        id("a@1/b"),
        c,
        dataseal_crypt::Salt::from_bytes([1; 32]),
    );
    let mut seen = 0u64;
    let mut failing = |i: u64, _: &[u8], _: &dataseal_crypt::Cid| {
        seen = i;
        if i == 3 {
            Err(std::io::Error::other("disk full"))
        } else {
            Ok(())
        }
    };
    let err = enc.encrypt(&data[..], &mut failing).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err}");
    assert_eq!(seen, 3);

    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("broken pipe"))
        }
    }
    let err = enc
        .encrypt(Broken, &mut dataseal_crypt::WriteSink::new(Vec::new()))
        .unwrap_err();
    assert!(matches!(err, Error::Io(_)));
}

#[test]
fn sink_sees_chunks_in_order() {
    let c = ChunkSize::MIN;
    let data = pattern(c.plaintext_len() * 9 + 1, 10);
    let enc = Encryptor::with_salt(
        &key(7),
        id("a@1/b"),
        c,
        dataseal_crypt::Salt::from_bytes([1; 32]),
    );
    let mut order = Vec::new();
    let mut sink = |i: u64, ct: &[u8], cid: &dataseal_crypt::Cid| {
        assert!(cid.verify(ct));
        order.push(i);
        Ok(())
    };
    pool(2)
        .install(|| enc.encrypt(&data[..], &mut sink))
        .unwrap();
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

/// The reader never runs more than a few chunks per thread ahead of the sink: memory stays
/// bounded whatever the input size, with one thread or two, inside a pool or not.
#[test]
fn the_reader_stays_a_bounded_distance_ahead_of_the_sink() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Counting {
        left: u64,
        read: Arc<AtomicU64>,
    }
    impl std::io::Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (buf.len() as u64).min(self.left) as usize;
            buf[..n].fill(0x5a);
            self.left -= n as u64;
            self.read.fetch_add(n as u64, Ordering::SeqCst);
            Ok(n)
        }
    }

    let c = ChunkSize::MIN;
    let p = c.plaintext_len() as u64;
    for threads in [1usize, 2] {
        let read = Arc::new(AtomicU64::new(0));
        let reader = Counting {
            left: 200 * p,
            read: Arc::clone(&read),
        };
        let enc = Encryptor::with_salt(
            &key(7),
            id("a@1/b"),
            c,
            dataseal_crypt::Salt::from_bytes([1; 32]),
        );
        let mut max_ahead = 0u64;
        let mut sink = |i: u64, _: &[u8], _: &dataseal_crypt::Cid| {
            let emitted = (i + 1) * p;
            max_ahead = max_ahead.max(read.load(Ordering::SeqCst).saturating_sub(emitted));
            Ok(())
        };
        let header = pool(threads)
            .install(|| enc.encrypt(reader, &mut sink))
            .unwrap();
        assert_eq!(header.chunk_count(), 200);
        // At most (2 + 1) chunks per thread in flight, plus the look-ahead byte.
        assert!(
            max_ahead <= 3 * threads as u64 * p + 1,
            "{threads} thread(s): {max_ahead} bytes ahead"
        );
    }
}
