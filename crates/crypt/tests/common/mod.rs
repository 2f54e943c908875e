//! Helpers shared by the integration tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers: a failure should panic")]

use dataseal_crypt::{ChunkSize, DataKey, Decryptor, Encryptor, ObjectHeader, ObjectId, Salt};

/// The deterministic test plaintext of `tests/data/README.md`: a 64-bit LCG
/// (x ← x·6364136223846793005 + 1442695040888963407 mod 2^64, starting at `seed`),
/// each byte the top 8 bits of the next state.
pub(crate) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

pub(crate) fn key(byte: u8) -> DataKey {
    DataKey::from_bytes([byte; 32])
}

pub(crate) fn id(s: &str) -> ObjectId {
    s.parse().unwrap()
}

pub(crate) fn chunk(c: u64) -> ChunkSize {
    ChunkSize::new(c).unwrap()
}

pub(crate) struct Encrypted {
    pub(crate) header: ObjectHeader,
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) cids: Vec<dataseal_crypt::Cid>,
}

pub(crate) fn encrypt_with(
    key: &DataKey,
    id: &ObjectId,
    c: ChunkSize,
    salt: Salt,
    data: &[u8],
) -> Encrypted {
    let enc = Encryptor::with_salt(key, id.clone(), c, salt);
    let mut sink = dataseal_crypt::WriteSink::new(Vec::new());
    let header = enc.encrypt(data, &mut sink).unwrap();
    let (ciphertext, cids) = sink.finish().unwrap();
    Encrypted {
        header,
        ciphertext,
        cids,
    }
}

pub(crate) fn encrypt(data: &[u8], c: ChunkSize) -> Encrypted {
    encrypt_with(
        &key(7),
        &id("test@1.0.0/object"),
        c,
        Salt::from_bytes([9; 32]),
        data,
    )
}

pub(crate) fn decrypt(
    header: &ObjectHeader,
    ciphertext: &[u8],
) -> Result<Vec<u8>, dataseal_crypt::Error> {
    decrypt_with(&key(7), header, ciphertext)
}

pub(crate) fn decrypt_with(
    key: &DataKey,
    header: &ObjectHeader,
    ciphertext: &[u8],
) -> Result<Vec<u8>, dataseal_crypt::Error> {
    let mut out = Vec::new();
    Decryptor::new(key, header)?.decrypt(ciphertext, &mut out)?;
    Ok(out)
}

pub(crate) fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// Splits a chunk stream into its chunks.
pub(crate) fn chunks(ct: &[u8], c: ChunkSize) -> Vec<Vec<u8>> {
    ct.chunks(c.bytes()).map(<[u8]>::to_vec).collect()
}
