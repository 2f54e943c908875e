//! Every kind of tampering is rejected with the right error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use common::*;
use dataseal_crypt::{ChunkSize, Decryptor, Error, ObjectHeader, Salt};

const C: ChunkSize = ChunkSize::MIN;

fn three_chunks() -> (Vec<u8>, Encrypted) {
    let data = pattern(2 * C.plaintext_len() + 1000, 11);
    let e = encrypt(&data, C);
    assert_eq!(e.header.chunk_count(), 3);
    (data, e)
}

fn chunk_err(r: Result<Vec<u8>, Error>) -> u64 {
    match r {
        Err(Error::Chunk { index }) => index,
        other => panic!("expected a chunk error, got {other:?}"),
    }
}

#[test]
fn every_bit_of_a_small_object_is_protected() {
    let data = pattern(100, 12);
    let e = encrypt(&data, C);
    for pos in 0..e.ciphertext.len() {
        for bit in 0..8 {
            let mut ct = e.ciphertext.clone();
            ct[pos] ^= 1 << bit;
            assert_eq!(
                chunk_err(decrypt(&e.header, &ct)),
                0,
                "byte {pos} bit {bit}"
            );
        }
    }
}

#[test]
fn a_flipped_bit_in_any_chunk_or_tag_names_that_chunk() {
    let (_, e) = three_chunks();
    let len = e.ciphertext.len();
    let mut positions: Vec<usize> = (0..len).step_by(997).collect();
    for i in 0..3 {
        let start = i * C.bytes();
        let end = (start + C.bytes()).min(len);
        positions.extend([start, start + 1, (start + end) / 2, end - 17]);
        positions.extend(end - 16..end); // every tag byte
    }
    for pos in positions {
        let mut ct = e.ciphertext.clone();
        ct[pos] ^= 0x01;
        assert_eq!(
            chunk_err(decrypt(&e.header, &ct)),
            (pos / C.bytes()) as u64,
            "byte {pos}"
        );
    }
}

#[test]
fn truncation_anywhere_is_caught_at_the_short_chunk() {
    let (_, e) = three_chunks();
    let ct = &e.ciphertext;
    assert_eq!(chunk_err(decrypt(&e.header, &ct[..ct.len() - 1])), 2);
    assert_eq!(chunk_err(decrypt(&e.header, &ct[..ct.len() - 16])), 2);
    assert_eq!(chunk_err(decrypt(&e.header, &ct[..2 * C.bytes()])), 2);
    assert_eq!(chunk_err(decrypt(&e.header, &ct[..2 * C.bytes() - 1])), 1);
    assert_eq!(chunk_err(decrypt(&e.header, &ct[..C.bytes()])), 1);
    assert_eq!(chunk_err(decrypt(&e.header, &[])), 0);
}

#[test]
fn dropped_reordered_and_duplicated_chunks() {
    let (_, e) = three_chunks();
    let p = chunks(&e.ciphertext, C);
    let cat = |parts: &[&Vec<u8>]| {
        parts
            .iter()
            .flat_map(|v| v.iter().copied())
            .collect::<Vec<u8>>()
    };
    // Dropped middle chunk: chunk 2 arrives at position 1.
    assert_eq!(chunk_err(decrypt(&e.header, &cat(&[&p[0], &p[2]]))), 1);
    // Dropped first chunk.
    assert_eq!(chunk_err(decrypt(&e.header, &cat(&[&p[1], &p[2]]))), 0);
    // Dropped last chunk.
    assert_eq!(chunk_err(decrypt(&e.header, &cat(&[&p[0], &p[1]]))), 2);
    // Swapped.
    assert_eq!(
        chunk_err(decrypt(&e.header, &cat(&[&p[1], &p[0], &p[2]]))),
        0
    );
    // Duplicated.
    assert_eq!(
        chunk_err(decrypt(&e.header, &cat(&[&p[0], &p[0], &p[2]]))),
        1
    );
    // A full-size non-last chunk in the last position (with its length matched).
    let data = pattern(2 * C.plaintext_len(), 13);
    let e2 = encrypt(&data, C);
    let q = chunks(&e2.ciphertext, C);
    assert_eq!(chunk_err(decrypt(&e2.header, &cat(&[&q[0], &q[0]]))), 1);
}

#[test]
fn a_chunk_moved_between_objects_is_rejected() {
    let a_data = pattern(2 * C.plaintext_len(), 14);
    let k = key(7);
    let a = encrypt_with(&k, &id("ds@1/a"), C, Salt::from_bytes([1; 32]), &a_data);
    // Same key, same salt, different object id: different payload keys.
    let b = encrypt_with(&k, &id("ds@1/b"), C, Salt::from_bytes([1; 32]), &a_data);
    // Same key, same object id, different salt.
    let c = encrypt_with(&k, &id("ds@1/a"), C, Salt::from_bytes([2; 32]), &a_data);
    for other in [&b, &c] {
        let mut mixed = a.ciphertext.clone();
        mixed[C.bytes()..].copy_from_slice(&other.ciphertext[C.bytes()..]);
        assert_eq!(chunk_err(decrypt_with(&k, &a.header, &mixed)), 1);
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let (_, e) = three_chunks();
    for extra in [&[0u8][..], &[0; 16], &vec![0; C.bytes()]] {
        let mut ct = e.ciphertext.clone();
        ct.extend_from_slice(extra);
        let err = decrypt(&e.header, &ct).unwrap_err();
        assert!(
            matches!(err, Error::TrailingData { expected } if expected == e.ciphertext.len() as u64),
            "{err}"
        );
        // Random access from a source that knows its length rejects it too.
        let dec = Decryptor::new(&key(7), &e.header).unwrap();
        let err = dec
            .decrypt_range(&mut &ct[..], 0, 1, &mut Vec::new())
            .unwrap_err();
        assert!(matches!(err, Error::TrailingData { .. }));
    }
}

#[test]
fn wrong_key_is_caught_by_the_commitment_before_any_chunk() {
    let (_, e) = three_chunks();
    for byte in [0u8, 8, 255] {
        assert!(matches!(
            Decryptor::new(&key(byte), &e.header),
            Err(Error::KeyCommitment)
        ));
    }
    let mut k = *key(7).expose_secret();
    k[31] ^= 1;
    let near = dataseal_crypt::DataKey::from_bytes(k);
    assert!(matches!(
        Decryptor::new(&near, &e.header),
        Err(Error::KeyCommitment)
    ));
}

/// Rewrites one field of the header's JSON form.
fn with_field(
    h: &ObjectHeader,
    field: &str,
    value: serde_json::Value,
) -> Result<ObjectHeader, Error> {
    let mut v: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
    v[field] = value;
    ObjectHeader::from_json(v.to_string().as_bytes())
}

#[test]
fn every_header_field_is_protected() {
    let (_, e) = three_chunks();
    let h = &e.header;
    let commitment_err = |h2: ObjectHeader| {
        assert!(
            matches!(Decryptor::new(&key(7), &h2), Err(Error::KeyCommitment)),
            "{h2:?}"
        );
    };
    // Fields bound into the key schedule: a change is caught by the commitment.
    commitment_err(with_field(h, "object_id", "test@1.0.0/objecT".into()).unwrap());
    commitment_err(with_field(h, "object_id", "test@1.0.0/object ".into()).unwrap());
    let mut salt = hex::encode(h.salt().as_bytes());
    salt.replace_range(0..1, if salt.starts_with('0') { "1" } else { "0" });
    commitment_err(with_field(h, "salt", salt.into()).unwrap());
    for byte in [0usize, 15, 31] {
        let mut commitment = *h.commitment().as_bytes();
        commitment[byte] ^= 0x20;
        commitment_err(with_field(h, "commitment", hex::encode(commitment).into()).unwrap());
    }
    let bigger = with_field(h, "chunk_size", 131_072.into());
    // The chunk count no longer follows from the length: a header error...
    assert!(matches!(bigger, Err(Error::Header(_))));
    // ...and with a consistent count, a commitment error.
    let mut v: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
    v["chunk_size"] = 131_072.into();
    v["chunk_count"] = 2.into();
    commitment_err(ObjectHeader::from_json(v.to_string().as_bytes()).unwrap());

    // Version and suite are checked when parsing.
    for (field, value) in [("version", 2), ("version", 0), ("suite", 2), ("suite", 0)] {
        let err = with_field(h, field, value.into()).unwrap_err();
        assert!(err.to_string().contains(field), "{err}");
    }
    // The chunk count must follow from the length.
    let err = with_field(h, "chunk_count", 4.into()).unwrap_err();
    assert!(err.to_string().contains("chunk_count"), "{err}");

    // The length is authenticated by the last chunk: longer or shorter fails there.
    let len = h.plaintext_len();
    for new_len in [len - 1, len + 1, len - 100] {
        let h2 = with_field(h, "plaintext_len", new_len.into()).unwrap();
        assert_eq!(chunk_err(decrypt(&h2, &e.ciphertext)), 2, "len {new_len}");
    }
    // A length that moves the boundary into the previous chunk fails there too.
    let mut v: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
    v["plaintext_len"] = (2 * C.plaintext_len() as u64).into();
    v["chunk_count"] = 2.into();
    let h2 = ObjectHeader::from_json(v.to_string().as_bytes()).unwrap();
    assert_eq!(chunk_err(decrypt(&h2, &e.ciphertext)), 1);
}

#[test]
fn header_parsing_is_strict() {
    let (_, e) = three_chunks();
    let good = e.header.to_json();
    assert_eq!(ObjectHeader::from_json(good.as_bytes()).unwrap(), e.header);
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (good.replacen('{', "{\"extra\":1,", 1), "extra"),
        (
            good.replacen("\"suite\":1", "\"suite\":1,\"suite\":1", 1),
            "duplicate",
        ),
        (
            good.replacen("\"version\":1", "\"version\":1.0", 1),
            "version",
        ),
        (
            good.replacen("\"version\":1", "\"version\":\"1\"", 1),
            "version",
        ),
        (good.replacen("\"suite\":1,", "", 1), "suite"),
        (
            good.replace(
                &hex::encode(e.header.salt().as_bytes()),
                &hex::encode(e.header.salt().as_bytes()).replacen('0', "A", 1),
            ),
            "salt",
        ),
        (
            good.replace(&hex::encode(e.header.salt().as_bytes()), "00"),
            "salt",
        ),
        (
            good.replace("\"object_id\":\"test@1.0.0/object\"", "\"object_id\":\"\""),
            "object_id",
        ),
        (
            good.replace(
                "\"object_id\":\"test@1.0.0/object\"",
                "\"object_id\":\"a\\u0000b\"",
            ),
            "object_id",
        ),
        (
            good.replace("\"chunk_size\":65536", "\"chunk_size\":65537"),
            "chunk_size",
        ),
        (
            good.replace("\"chunk_size\":65536", "\"chunk_size\":2097152"),
            "chunk_size",
        ),
        (
            good.replace(
                &format!("\"plaintext_len\":{}", e.header.plaintext_len()),
                "\"plaintext_len\":-1",
            ),
            "plaintext_len",
        ),
        (
            good.replace(
                &format!("\"plaintext_len\":{}", e.header.plaintext_len()),
                "\"plaintext_len\":9007199254740992",
            ),
            "plaintext_len",
        ),
        (format!("{good} x"), "trailing"),
        ("[]".to_owned(), "map"),
        ("".to_owned(), "EOF"),
        ("{".to_owned(), "EOF"),
    ];
    for (text, what) in cases {
        let err = ObjectHeader::from_json(text.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::Header(_)), "{what}: {err}");
        let _ = v;
    }
}

#[test]
fn errors_say_nothing_but_the_chunk_index() {
    let (_, e) = three_chunks();
    let mut ct = e.ciphertext.clone();
    ct[C.bytes() + 5] ^= 4;
    let err = decrypt(&e.header, &ct).unwrap_err();
    assert_eq!(err.to_string(), "chunk 1 failed authentication");
}
