//! Throughput of `dataseal-crypt` against the primitives it is built from.
//!
//! Every group runs at chunk sizes of 64 KiB, 256 KiB and 1 MiB and on rayon pools of one
//! and two threads, over an in-memory input of 64 MiB (about 1 MiB under `cargo test
//! --benches`, where criterion runs each benchmark once):
//!
//! - `encrypt_cid`: [`Encryptor::encrypt`] into a sink that discards, CIDs included;
//! - `encrypt_only`: the same framing without hashing ([`Encryptor::seal_chunk`]);
//! - `decrypt_verify`: [`Decryptor::decrypt`] to [`io::sink`];
//! - `decrypt_range`: [`Decryptor::decrypt_range`] of 1 MiB and of 4 KiB at unaligned
//!   offsets;
//! - `ceiling_seal_sha256`, `ceiling_seal`, `ceiling_sha256`: raw ChaCha20-Poly1305 in
//!   place plus SHA-256 of each ciphertext chunk, each alone, with no framing: the
//!   ceiling the first group is measured against, in the same run.
//!
//! Throughput is plaintext bytes per second.
#![expect(
    clippy::expect_used,
    reason = "a benchmark whose setup or measured call fails must stop loudly, not time an error path"
)]

use std::hint::black_box;
use std::io;
use std::sync::LazyLock;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use dataseal_benches::{
    Ceiling, SealScratch, bench_encryptor, bench_key, chunk_lens, discard_chunk, pattern,
    seal_only, sha256_chunks,
};
use dataseal_crypt::{ChunkSize, Decryptor, ObjectHeader, WriteSink};
use rayon::{ThreadPool, ThreadPoolBuilder};

/// Ciphertext chunk sizes, in KiB.
const CHUNK_KIB: [u64; 3] = [64, 256, 1024];
/// Rayon pool sizes.
const THREADS: [usize; 2] = [1, 2];

/// Plaintext bytes per measured call: 64 MiB under `cargo bench`, a little over 1 MiB (two
/// chunks of the largest size) in test mode, where `cargo test --benches` runs unoptimised
/// code and does not pass `--bench`.
fn input_len() -> usize {
    let bench = std::env::args().any(|a| a == "--bench");
    let test = std::env::args().any(|a| a == "--test");
    if bench && !test {
        64 << 20
    } else {
        (1 << 20) + 12_345
    }
}

static INPUT: LazyLock<Vec<u8>> = LazyLock::new(|| pattern(input_len()));

static POOLS: LazyLock<Vec<(usize, ThreadPool)>> = LazyLock::new(|| {
    THREADS
        .iter()
        .map(|&n| {
            let pool = ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("build a rayon pool");
            (n, pool)
        })
        .collect()
});

/// One encrypted copy of [`INPUT`] per chunk size.
struct Encrypted {
    kib: u64,
    header: ObjectHeader,
    ciphertext: Vec<u8>,
}

static ENCRYPTED: LazyLock<Vec<Encrypted>> = LazyLock::new(|| {
    CHUNK_KIB
        .iter()
        .map(|&kib| {
            let enc = bench_encryptor(chunk(kib)).expect("encryptor");
            let mut sink = WriteSink::new(Vec::with_capacity(INPUT.len() + (1 << 20)));
            let header = enc.encrypt(&INPUT[..], &mut sink).expect("encrypt");
            let (ciphertext, _) = sink.finish().expect("finish");
            Encrypted {
                kib,
                header,
                ciphertext,
            }
        })
        .collect()
});

fn chunk(kib: u64) -> ChunkSize {
    ChunkSize::new(kib << 10).expect("a valid chunk size")
}

fn label(kib: u64) -> String {
    if kib >= 1024 {
        format!("{}MiB", kib >> 10)
    } else {
        format!("{kib}KiB")
    }
}

fn id(kib: u64, threads: usize) -> BenchmarkId {
    BenchmarkId::new(label(kib), format!("{threads}t"))
}

fn group<'a>(c: &'a mut Criterion, name: &str, bytes: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes as u64));
    // One call moves tens of MiB: keep the iteration count flat so a sample stays short.
    g.sampling_mode(SamplingMode::Flat);
    g
}

fn encrypt_cid(c: &mut Criterion) {
    let input = &INPUT[..];
    let mut g = group(c, "encrypt_cid", input.len());
    for kib in CHUNK_KIB {
        let enc = bench_encryptor(chunk(kib)).expect("encryptor");
        for (threads, pool) in POOLS.iter() {
            g.bench_function(id(kib, *threads), |b| {
                b.iter(|| {
                    pool.install(|| enc.encrypt(black_box(input), &mut discard_chunk))
                        .expect("encrypt")
                });
            });
        }
    }
    g.finish();
}

fn encrypt_only(c: &mut Criterion) {
    let input = &INPUT[..];
    let mut g = group(c, "encrypt_only", input.len());
    for kib in CHUNK_KIB {
        let enc = bench_encryptor(chunk(kib)).expect("encryptor");
        for (threads, pool) in POOLS.iter() {
            let mut scratch = SealScratch::default();
            g.bench_function(id(kib, *threads), |b| {
                b.iter(|| {
                    pool.install(|| seal_only(&enc, black_box(input), &mut scratch))
                        .expect("seal")
                });
            });
        }
    }
    g.finish();
}

fn decrypt_verify(c: &mut Criterion) {
    let mut g = group(c, "decrypt_verify", INPUT.len());
    let key = bench_key();
    for e in ENCRYPTED.iter() {
        let dec = Decryptor::new(&key, &e.header).expect("decryptor");
        for (threads, pool) in POOLS.iter() {
            g.bench_function(id(e.kib, *threads), |b| {
                b.iter(|| {
                    pool.install(|| dec.decrypt(black_box(&e.ciphertext[..]), io::sink()))
                        .expect("decrypt")
                });
            });
        }
    }
    g.finish();
}

fn decrypt_range(c: &mut Criterion) {
    let len = INPUT.len() as u64;
    // Odd offsets: neither range starts on a chunk boundary. (The test-mode input is too
    // short for a whole MiB after the offset.)
    let ranges = [
        ("1MiB", (len / 7) | 1, (1u64 << 20).min(len / 2)),
        ("4KiB", (len / 3) | 1, 4096),
    ];
    let key = bench_key();
    for (name, offset, range_len) in ranges {
        let mut g = c.benchmark_group(format!("decrypt_range_{name}"));
        g.throughput(Throughput::Bytes(range_len));
        for e in ENCRYPTED.iter() {
            let dec = Decryptor::new(&key, &e.header).expect("decryptor");
            let mut out = Vec::with_capacity(1 << 21);
            for (threads, pool) in POOLS.iter() {
                g.bench_function(id(e.kib, *threads), |b| {
                    b.iter(|| {
                        out.clear();
                        let mut source = black_box(&e.ciphertext[..]);
                        pool.install(|| {
                            dec.decrypt_range(&mut source, offset, range_len, &mut out)
                        })
                        .expect("decrypt_range");
                    });
                });
            }
        }
        g.finish();
    }
}

fn ceiling(c: &mut Criterion) {
    let ceiling = Ceiling::new();
    let mut buf = INPUT.clone();
    let len = buf.len();
    {
        let mut g = group(c, "ceiling_seal_sha256", len);
        for kib in CHUNK_KIB {
            let (p, _) = chunk_lens(chunk(kib));
            for (threads, pool) in POOLS.iter() {
                g.bench_function(id(kib, *threads), |b| {
                    b.iter(|| {
                        pool.install(|| ceiling.seal_and_hash(black_box(&mut buf), p))
                            .expect("seal")
                    });
                });
            }
        }
        g.finish();
    }
    {
        let mut g = group(c, "ceiling_seal", len);
        for kib in CHUNK_KIB {
            let (p, _) = chunk_lens(chunk(kib));
            for (threads, pool) in POOLS.iter() {
                g.bench_function(id(kib, *threads), |b| {
                    b.iter(|| {
                        pool.install(|| ceiling.seal(black_box(&mut buf), p))
                            .expect("seal")
                    });
                });
            }
        }
        g.finish();
    }
    {
        let mut g = group(c, "ceiling_sha256", len);
        for kib in CHUNK_KIB {
            let (_, full) = chunk_lens(chunk(kib));
            for (threads, pool) in POOLS.iter() {
                g.bench_function(id(kib, *threads), |b| {
                    b.iter(|| pool.install(|| sha256_chunks(black_box(&buf), full)));
                });
            }
        }
        g.finish();
    }
}

fn config() -> Criterion {
    // About 2.5 s per benchmark and 3 minutes for the whole run; pass
    // `--measurement-time`/`--sample-size` for steadier figures.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = ceiling, encrypt_cid, encrypt_only, decrypt_verify, decrypt_range
}
criterion_main!(benches);
