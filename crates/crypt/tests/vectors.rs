//! Golden vectors (`tests/data/vectors.json`) and an independent re-derivation of the
//! format from `FORMAT.md`, written against the primitives rather than this crate.
//!
//! Regenerate the vectors (only when the format changes, which needs a new version):
//! `cargo test -p dataseal-crypt --test vectors -- --ignored generate_vectors`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use common::*;
use dataseal_crypt::{ChunkSize, DataKey, ObjectHeader, Salt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors.json");

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vectors {
    description: String,
    vectors: Vec<Vector>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    name: String,
    data_key: String,
    salt: String,
    object_id: String,
    chunk_size: u64,
    plaintext_len: usize,
    plaintext_seed: u64,
    header: serde_json::Value,
    ciphertext_sha256: String,
    chunk_cids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ciphertext_hex: Option<String>,
}

fn cases() -> Vec<(&'static str, &'static str, u64, usize)> {
    let p64 = 65_536 - 16;
    let p1m = 1_048_576 - 16;
    vec![
        ("empty", "vectors@1.0.0/empty", 65_536, 0),
        ("one byte", "vectors@1.0.0/one", 65_536, 1),
        (
            "non-ASCII object id",
            "vectors@1.0.0/données/été.csv",
            65_536,
            100,
        ),
        (
            "one short of a full chunk",
            "vectors@1.0.0/p-1",
            65_536,
            p64 - 1,
        ),
        ("exactly one full chunk", "vectors@1.0.0/p", 65_536, p64),
        (
            "one past a full chunk",
            "vectors@1.0.0/p+1",
            65_536,
            p64 + 1,
        ),
        (
            "three chunks and a bit",
            "vectors@1.0.0/3p+5",
            65_536,
            3 * p64 + 5,
        ),
        ("128 KiB chunks", "vectors@1.0.0/c128k", 131_072, 1000),
        (
            "1 MiB chunks, two of them",
            "vectors@1.0.0/c1m",
            1_048_576,
            p1m + 1,
        ),
    ]
}

fn make(name: &str, object_id: &str, c: u64, len: usize, n: usize) -> Vector {
    let key_bytes: [u8; 32] = std::array::from_fn(|i| i as u8 + n as u8);
    let salt_bytes: [u8; 32] = std::array::from_fn(|i| 0xff - i as u8 - n as u8);
    let data = pattern(len, n as u64);
    let e = encrypt_with(
        &DataKey::from_bytes(key_bytes),
        &id(object_id),
        chunk(c),
        Salt::from_bytes(salt_bytes),
        &data,
    );
    Vector {
        name: name.to_owned(),
        data_key: hex::encode(key_bytes),
        salt: hex::encode(salt_bytes),
        object_id: object_id.to_owned(),
        chunk_size: c,
        plaintext_len: len,
        plaintext_seed: n as u64,
        header: serde_json::from_str(&e.header.to_json()).unwrap(),
        ciphertext_sha256: hex::encode(Sha256::digest(&e.ciphertext)),
        chunk_cids: e.cids.iter().map(ToString::to_string).collect(),
        ciphertext_hex: (e.ciphertext.len() <= 256).then(|| hex::encode(&e.ciphertext)),
    }
}

#[test]
#[ignore = "regenerates tests/data/vectors.json"]
fn generate_vectors() {
    let vectors = cases()
        .into_iter()
        .enumerate()
        .map(|(n, (name, object_id, c, len))| make(name, object_id, c, len, n))
        .collect();
    let doc = Vectors {
        description: "dataseal-crypt format v1 golden vectors; see tests/data/README.md".to_owned(),
        vectors,
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    std::fs::write(PATH, text).unwrap();
}

fn load() -> Vectors {
    serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap()
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

#[test]
fn this_implementation_reproduces_every_vector() {
    let doc = load();
    assert_eq!(doc.vectors.len(), cases().len());
    for v in &doc.vectors {
        let key = DataKey::from_bytes(hex32(&v.data_key));
        let data = pattern(v.plaintext_len, v.plaintext_seed);
        let e = encrypt_with(
            &key,
            &id(&v.object_id),
            chunk(v.chunk_size),
            Salt::from_bytes(hex32(&v.salt)),
            &data,
        );
        let header_json: serde_json::Value = serde_json::from_str(&e.header.to_json()).unwrap();
        assert_eq!(header_json, v.header, "{}", v.name);
        assert_eq!(
            hex::encode(Sha256::digest(&e.ciphertext)),
            v.ciphertext_sha256,
            "{}",
            v.name
        );
        let cids: Vec<String> = e.cids.iter().map(ToString::to_string).collect();
        assert_eq!(cids, v.chunk_cids, "{}", v.name);
        if let Some(ct) = &v.ciphertext_hex {
            assert_eq!(&hex::encode(&e.ciphertext), ct, "{}", v.name);
        }
        // And the stored header decrypts the stored ciphertext.
        let header = ObjectHeader::from_json(v.header.to_string().as_bytes()).unwrap();
        assert_eq!(
            decrypt_with(&key, &header, &e.ciphertext).unwrap(),
            data,
            "{}",
            v.name
        );
    }
}

fn lp(h: &mut Sha256, field: &[u8]) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field);
}

/// A second, minimal implementation of FORMAT.md §2–§5, built only from the primitives.
fn spec_encrypt(
    dek: [u8; 32],
    salt: [u8; 32],
    object_id: &str,
    c: u64,
    pt: &[u8],
) -> ([u8; 32], Vec<u8>, Vec<String>) {
    let mut h = Sha256::new();
    lp(&mut h, b"dataseal-crypt v1 transcript");
    lp(&mut h, &1u64.to_be_bytes());
    lp(&mut h, &1u64.to_be_bytes());
    lp(&mut h, &c.to_be_bytes());
    lp(&mut h, object_id.as_bytes());
    lp(&mut h, &salt);
    let t = h.finalize();
    let hk = hkdf::Hkdf::<Sha256>::new(Some(&salt), &dek);
    let mut k = [0u8; 32];
    let mut cm = [0u8; 32];
    hk.expand(
        &[&b"dataseal-crypt v1 payload key"[..], &t].concat(),
        &mut k,
    )
    .unwrap();
    hk.expand(
        &[&b"dataseal-crypt v1 key commitment"[..], &t].concat(),
        &mut cm,
    )
    .unwrap();
    let aead = chacha20poly1305::ChaCha20Poly1305::new(&k.into());
    let p = c as usize - 16;
    let pieces: Vec<&[u8]> = if pt.is_empty() {
        vec![&[][..]]
    } else {
        pt.chunks(p).collect()
    };
    let mut out = Vec::new();
    let mut cids = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&(i as u64).to_be_bytes());
        nonce[11] = u8::from(i + 1 == pieces.len());
        let mut buf = piece.to_vec();
        let tag = aead
            .encrypt_inout_detached(&nonce.into(), b"", buf.as_mut_slice().into())
            .unwrap();
        buf.extend_from_slice(&tag);
        // CIDv1 raw sha2-256, base32 lowercase with the "b" multibase prefix.
        let mut bin = vec![0x01, 0x55, 0x12, 0x20];
        bin.extend_from_slice(&Sha256::digest(&buf));
        cids.push(format!("b{}", base32_lower(&bin)));
        out.extend_from_slice(&buf);
    }
    (cm, out, cids)
}

/// RFC 4648 base32, lowercase, no padding.
fn base32_lower(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((acc >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[test]
fn the_written_specification_reproduces_every_vector() {
    for v in load().vectors {
        let data = pattern(v.plaintext_len, v.plaintext_seed);
        let (cm, ct, cids) = spec_encrypt(
            hex32(&v.data_key),
            hex32(&v.salt),
            &v.object_id,
            v.chunk_size,
            &data,
        );
        assert_eq!(v.header["commitment"], hex::encode(cm), "{}", v.name);
        assert_eq!(
            hex::encode(Sha256::digest(&ct)),
            v.ciphertext_sha256,
            "{}",
            v.name
        );
        assert_eq!(cids, v.chunk_cids, "{}", v.name);
        let count = ChunkSize::new(v.chunk_size)
            .unwrap()
            .chunk_count(v.plaintext_len as u64);
        assert_eq!(v.header["chunk_count"], count, "{}", v.name);
    }
}
