//! Shared inputs and reference loops for the dataseal benchmarks.
//!
//! The criterion benches (`benches/crypt.rs`) and the `dataseal-throughput` probe both use
//! these: a fixed benchmark key and salt (never use them for real data), a cheap
//! deterministic input, a streaming reader of any length that holds only one small block
//! in memory, the "encrypt only" loop (the crate's chunk primitive without hashing), and
//! the primitive ceiling (raw ChaCha20-Poly1305 and SHA-256 over chunks, no framing).

use std::io::{self, Read};

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use dataseal_base::{Cid, DataKey, ObjectId};
use dataseal_crypt::{ChunkSize, Encryptor, Error, Salt, TAG_LEN};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// The benchmark data key. Public and fixed: for measurements only.
pub const BENCH_KEY: [u8; 32] = [0x42; 32];

/// The benchmark salt. Public and fixed so runs are reproducible: for measurements only.
pub const BENCH_SALT: [u8; 32] = [0x5a; 32];

/// The object id every benchmark object is encrypted under.
pub const BENCH_OBJECT_ID: &str = "bench@1.0.0/data.bin";

/// The fixed benchmark data key.
#[must_use]
pub fn bench_key() -> DataKey {
    DataKey::from_bytes(BENCH_KEY)
}

/// An encryptor under the benchmark key, salt and object id: the same input always gives
/// the same ciphertext.
///
/// # Errors
///
/// [`Error::Base`] if the object id were invalid (it is not).
pub fn bench_encryptor(chunk_size: ChunkSize) -> Result<Encryptor, Error> {
    let id: ObjectId = BENCH_OBJECT_ID.parse()?;
    Ok(Encryptor::with_salt(
        &bench_key(),
        id,
        chunk_size,
        Salt::from_bytes(BENCH_SALT),
    ))
}

/// Fills `buf` with a cheap deterministic pseudo-random pattern (SplitMix64 from `seed`).
pub fn fill_pattern(buf: &mut [u8], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        word.copy_from_slice(&next().to_le_bytes());
    }
    let tail = words.into_remainder();
    let last = next().to_le_bytes();
    for (dst, src) in tail.iter_mut().zip(last) {
        *dst = src;
    }
}

/// `len` bytes of the deterministic pattern.
#[must_use]
pub fn pattern(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    fill_pattern(&mut buf, len as u64);
    buf
}

/// A reader yielding `len` bytes of pattern without storing them: it cycles through one
/// 1 MiB block, so an input of any size costs one copy per byte and 1 MiB of memory.
#[derive(Debug)]
pub struct PatternReader {
    block: Vec<u8>,
    pos: usize,
    remaining: u64,
}

impl PatternReader {
    /// Bytes of the repeated block.
    pub const BLOCK: usize = 1 << 20;

    /// A reader of `len` bytes.
    #[must_use]
    pub fn new(len: u64) -> Self {
        // An odd block length keeps the pattern out of step with every chunk size.
        Self {
            block: pattern(Self::BLOCK - 1),
            pos: 0,
            remaining: len,
        }
    }
}

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.block.get(self.pos..).unwrap_or_default();
        let want = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        let n = buf.len().min(avail.len()).min(want);
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        if self.pos >= self.block.len() {
            self.pos = 0;
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// A sink for [`Encryptor::encrypt`] that throws every chunk away.
///
/// # Errors
///
/// Never.
pub fn discard_chunk(_index: u64, _ciphertext: &[u8], _cid: &Cid) -> io::Result<()> {
    Ok(())
}

/// Buffers for [`seal_only`], reused from call to call.
#[derive(Debug, Default)]
pub struct SealScratch {
    bufs: Vec<Vec<u8>>,
}

/// Encrypts `input` the way [`Encryptor::encrypt`] frames it, without hashing: windows of
/// two chunks per thread of the current rayon pool, each chunk copied into a reused buffer
/// and sealed in place with [`Encryptor::seal_chunk`] in parallel. Returns the ciphertext
/// length.
///
/// # Errors
///
/// [`Error::Chunk`] if a chunk is rejected (it cannot be: every chunk is `C − 16` bytes or
/// fewer).
pub fn seal_only(enc: &Encryptor, input: &[u8], scratch: &mut SealScratch) -> Result<u64, Error> {
    let p = enc.chunk_size().plaintext_len();
    let count = input.len().div_ceil(p).max(1) as u64;
    let window = 2 * rayon::current_num_threads().max(1);
    if scratch.bufs.len() != window {
        scratch.bufs = (0..window)
            .map(|_| Vec::with_capacity(enc.chunk_size().bytes()))
            .collect();
    }
    let mut first: u64 = 0;
    let mut total: u64 = 0;
    for group in input.chunks(p * window) {
        total += scratch
            .bufs
            .par_iter_mut()
            .zip(group.par_chunks(p))
            .enumerate()
            .map(|(j, (buf, plain))| {
                let index = first + j as u64;
                buf.clear();
                buf.extend_from_slice(plain);
                enc.seal_chunk(index, index + 1 == count, buf)?;
                Ok::<u64, Error>(buf.len() as u64)
            })
            .try_reduce(|| 0, |a, b| Ok(a + b))?;
        first += group.len().div_ceil(p) as u64;
    }
    Ok(total)
}

/// The primitive ceiling: raw ChaCha20-Poly1305 and SHA-256 over fixed-size chunks in
/// parallel, with no framing, no copies and no CIDs.
#[derive(Clone)]
pub struct Ceiling {
    aead: ChaCha20Poly1305,
}

impl std::fmt::Debug for Ceiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ceiling").finish_non_exhaustive()
    }
}

fn nonce(index: usize) -> Nonce {
    let mut n = [0u8; 12];
    let (_, low) = n.split_at_mut(4);
    low.copy_from_slice(&(index as u64).to_be_bytes());
    Nonce::from(n)
}

fn fold(digest: &[u8]) -> u8 {
    digest.iter().fold(0, |a, b| a ^ b)
}

impl Ceiling {
    /// A ceiling under the benchmark key.
    #[must_use]
    pub fn new() -> Self {
        Self {
            aead: ChaCha20Poly1305::new(&Key::from(BENCH_KEY)),
        }
    }

    /// Encrypts every `plaintext_len`-byte chunk of `buf` in place (the chunk's tag goes to
    /// a local), then hashes the ciphertext and tag with SHA-256: the work of one chunk of
    /// our format. Returns a byte folded from all digests.
    ///
    /// # Errors
    ///
    /// The AEAD's error (only for chunks of 256 GiB or more).
    pub fn seal_and_hash(
        &self,
        buf: &mut [u8],
        plaintext_len: usize,
    ) -> Result<u8, chacha20poly1305::aead::Error> {
        buf.par_chunks_mut(plaintext_len)
            .enumerate()
            .map(|(i, chunk)| {
                let tag = self
                    .aead
                    .encrypt_inout_detached(&nonce(i), &[], chunk.into())?;
                let mut h = Sha256::new();
                h.update(&*chunk);
                h.update(tag.as_slice());
                Ok(fold(&h.finalize()))
            })
            .try_reduce(|| 0, |a, b| Ok(a ^ b))
    }

    /// Encrypts every `plaintext_len`-byte chunk of `buf` in place: ChaCha20-Poly1305 alone.
    /// Returns a byte folded from all tags.
    ///
    /// # Errors
    ///
    /// The AEAD's error (only for chunks of 256 GiB or more).
    pub fn seal(
        &self,
        buf: &mut [u8],
        plaintext_len: usize,
    ) -> Result<u8, chacha20poly1305::aead::Error> {
        buf.par_chunks_mut(plaintext_len)
            .enumerate()
            .map(|(i, chunk)| {
                let tag = self
                    .aead
                    .encrypt_inout_detached(&nonce(i), &[], chunk.into())?;
                Ok(fold(&tag))
            })
            .try_reduce(|| 0, |a, b| Ok(a ^ b))
    }
}

impl Default for Ceiling {
    fn default() -> Self {
        Self::new()
    }
}

/// SHA-256 of every `chunk_len`-byte chunk of `buf` in parallel: hashing alone. Returns a
/// byte folded from all digests.
#[must_use]
pub fn sha256_chunks(buf: &[u8], chunk_len: usize) -> u8 {
    buf.par_chunks(chunk_len)
        .map(|chunk| fold(&Sha256::digest(chunk)))
        .reduce(|| 0, |a, b| a ^ b)
}

/// The plaintext and ciphertext bytes of one chunk of `chunk_size`.
#[must_use]
pub fn chunk_lens(chunk_size: ChunkSize) -> (usize, usize) {
    (chunk_size.bytes() - TAG_LEN, chunk_size.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_reader_streams_exactly() {
        let mut r = PatternReader::new(3 * PatternReader::BLOCK as u64 + 5);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 3 * PatternReader::BLOCK + 5);
        assert_eq!(&all[..10], &all[PatternReader::BLOCK - 1..][..10]);
    }

    #[test]
    fn seal_only_matches_encrypt() {
        let c = ChunkSize::MIN;
        let enc = bench_encryptor(c).unwrap();
        let input = pattern(5 * c.plaintext_len() + 77);
        let mut sink = dataseal_crypt::WriteSink::new(Vec::new());
        enc.encrypt(&input[..], &mut sink).unwrap();
        let (ct, _) = sink.finish().unwrap();
        let n = seal_only(&enc, &input, &mut SealScratch::default()).unwrap();
        assert_eq!(n, ct.len() as u64);
    }

    #[test]
    fn ceiling_runs() {
        let mut buf = pattern(300_000);
        let c = Ceiling::new();
        c.seal_and_hash(&mut buf, 65_520).unwrap();
        c.seal(&mut buf, 65_520).unwrap();
        let _ = sha256_chunks(&buf, 65_536);
    }
}
