//! Sealed sections (`FORMAT.md` §10): golden vectors (`tests/data/sealed.json`), an
//! independent re-derivation from the specification with the primitives alone, and
//! tampering, truncation and malformed bodies.
//!
//! Regenerate the vectors (only when the format changes, which needs a new version):
//! `cargo test -p dataseal-crypt --test sealed -- --ignored generate_sealed_vectors`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use dataseal_base::{DataKey, KeyEncryptionKey, ObjectId};
use dataseal_crypt::{Error, SealedEntry, SealedSection, WrappedKey};
use hkdf::Hkdf;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sealed.json");

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
    kek: String,
    context: String,
    nonce: String,
    entries: Vec<Entry>,
    body: String,
    sealed: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    object_id: String,
    wrapped_key: String,
    plaintext_sha256: String,
}

fn kek(hex_text: &str) -> KeyEncryptionKey {
    KeyEncryptionKey::from_hex(hex_text).unwrap()
}

fn nonce(hex_text: &str) -> [u8; 24] {
    hex::decode(hex_text).unwrap().try_into().unwrap()
}

fn section_of(v: &Vector) -> SealedSection {
    SealedSection::new(
        v.entries
            .iter()
            .map(|e| SealedEntry {
                object_id: e.object_id.parse().unwrap(),
                wrapped_key: e.wrapped_key.parse().unwrap(),
                plaintext_sha256: hex::decode(&e.plaintext_sha256)
                    .unwrap()
                    .try_into()
                    .unwrap(),
            })
            .collect(),
    )
    .unwrap()
}

fn load() -> Vectors {
    serde_json::from_slice(&std::fs::read(PATH).unwrap()).unwrap()
}

#[test]
fn the_crate_reproduces_every_vector() {
    let vectors = load();
    assert!(vectors.vectors.len() >= 3);
    for v in &vectors.vectors {
        let section = section_of(v);
        assert_eq!(hex::encode(&*section.to_body()), v.body, "{}: body", v.name);
        let sealed = section
            .seal_with_nonce(&kek(&v.kek), &v.context, &nonce(&v.nonce))
            .unwrap();
        assert_eq!(hex::encode(&sealed), v.sealed, "{}: sealed", v.name);
        let opened =
            SealedSection::open(&hex::decode(&v.sealed).unwrap(), &kek(&v.kek), &v.context)
                .unwrap();
        assert_eq!(opened, section, "{}: open", v.name);
    }
}

/// The specification, written against the primitives: `FORMAT.md` §10.
fn spec_seal(kek: &[u8], context: &str, nonce: &[u8; 24], entries: &[Entry]) -> (Vec<u8>, Vec<u8>) {
    let lp = |out: &mut Vec<u8>, f: &[u8]| {
        out.extend_from_slice(&(f.len() as u64).to_be_bytes());
        out.extend_from_slice(f);
    };
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.object_id.as_bytes().cmp(b.object_id.as_bytes()));
    let mut body = vec![1u8];
    body.extend_from_slice(&(sorted.len() as u32).to_be_bytes());
    for e in sorted {
        body.extend_from_slice(&(e.object_id.len() as u16).to_be_bytes());
        body.extend_from_slice(e.object_id.as_bytes());
        body.extend_from_slice(&hex::decode(&e.wrapped_key).unwrap());
        body.extend_from_slice(&hex::decode(&e.plaintext_sha256).unwrap());
    }
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&[]), kek)
        .expand(b"dataseal-crypt v1 sealed section key", &mut key)
        .unwrap();
    let mut aad = Vec::new();
    lp(&mut aad, b"dataseal-crypt v1 sealed section");
    lp(&mut aad, context.as_bytes());
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(&key.into());
    let mut ct = body.clone();
    let tag = cipher
        .encrypt_inout_detached(&(*nonce).into(), &aad, ct.as_mut_slice().into())
        .unwrap();
    let mut sealed = vec![1u8];
    sealed.extend_from_slice(nonce);
    sealed.extend_from_slice(&ct);
    sealed.extend_from_slice(&tag);
    (body, sealed)
}

#[test]
fn the_specification_reproduces_every_vector() {
    for v in &load().vectors {
        let (body, sealed) = spec_seal(
            &hex::decode(&v.kek).unwrap(),
            &v.context,
            &nonce(&v.nonce),
            &v.entries,
        );
        assert_eq!(hex::encode(body), v.body, "{}", v.name);
        assert_eq!(hex::encode(sealed), v.sealed, "{}", v.name);
    }
}

fn sample() -> (KeyEncryptionKey, Vec<u8>, SealedSection) {
    let v = &load().vectors[1];
    (kek(&v.kek), hex::decode(&v.sealed).unwrap(), section_of(v))
}

#[test]
fn every_flipped_bit_position_is_refused() {
    let (kek, sealed, _) = sample();
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        match SealedSection::open(&bad, &kek, "sealed@1.0.0") {
            Err(Error::SealedOpen) => {}
            Err(Error::SealedFormat(_)) if i == 0 => {}
            other => panic!("flip at {i}: {other:?}"),
        }
    }
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let (kek, sealed, _) = sample();
    for len in 0..sealed.len() {
        assert!(
            SealedSection::open(&sealed[..len], &kek, "sealed@1.0.0").is_err(),
            "truncated to {len}"
        );
    }
    let mut longer = sealed.clone();
    longer.push(0);
    assert!(matches!(
        SealedSection::open(&longer, &kek, "sealed@1.0.0"),
        Err(Error::SealedOpen)
    ));
}

#[test]
fn wrong_key_and_wrong_context_are_refused() {
    let (kek, sealed, section) = sample();
    assert_eq!(
        SealedSection::open(&sealed, &kek, "sealed@1.0.0").unwrap(),
        section
    );
    for context in ["sealed@1.0.1", "other@1.0.0", "", "sealed@1.0.0 "] {
        assert!(matches!(
            SealedSection::open(&sealed, &kek, context),
            Err(Error::SealedOpen)
        ));
    }
    let other = KeyEncryptionKey::generate().unwrap();
    assert!(matches!(
        SealedSection::open(&sealed, &other, "sealed@1.0.0"),
        Err(Error::SealedOpen)
    ));
}

fn entry(id: &str) -> SealedEntry {
    let kek = KeyEncryptionKey::generate().unwrap();
    let object_id: ObjectId = id.parse().unwrap();
    SealedEntry {
        wrapped_key: WrappedKey::wrap(&kek, &object_id, &DataKey::generate().unwrap()).unwrap(),
        object_id,
        plaintext_sha256: [9; 32],
    }
}

#[test]
fn malformed_bodies_are_refused() {
    let section = SealedSection::new(vec![entry("d@1.0.0/b"), entry("d@1.0.0/a")]).unwrap();
    assert_eq!(section.entries()[0].object_id.as_str(), "d@1.0.0/a");
    let body = section.to_body().to_vec();
    assert_eq!(SealedSection::from_body(&body).unwrap(), section);
    let refused = |bytes: &[u8], why: &str| {
        assert!(
            matches!(SealedSection::from_body(bytes), Err(Error::SealedFormat(_))),
            "{why}"
        );
    };
    refused(&[], "empty");
    let mut v = body.clone();
    v[0] = 2;
    refused(&v, "version 2");
    let mut v = body.clone();
    v[1..5].copy_from_slice(&3u32.to_be_bytes());
    refused(&v, "one entry more than present");
    let mut v = body.clone();
    v[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
    refused(&v, "a count no body can hold");
    let mut v = body.clone();
    v[1..5].copy_from_slice(&1u32.to_be_bytes());
    refused(&v, "trailing entry");
    let mut v = body.clone();
    v.push(0);
    refused(&v, "trailing byte");
    for len in 0..body.len() {
        refused(&body[..len], "truncated");
    }
    // The two entries swapped: out of order.
    let one = 2 + "d@1.0.0/a".len() + 73 + 32;
    let mut v = body[..5].to_vec();
    v.extend_from_slice(&body[5 + one..]);
    v.extend_from_slice(&body[5..5 + one]);
    refused(&v, "out of order");
    // The first entry twice.
    let mut v = body[..5 + one].to_vec();
    v.extend_from_slice(&body[5..5 + one]);
    refused(&v, "repeated");
    // An object id that is not UTF-8, and one with a control character.
    let mut v = body.clone();
    v[7] = 0xff;
    refused(&v, "not UTF-8");
    let mut v = body.clone();
    v[7] = 0x01;
    refused(&v, "control character");
    assert!(SealedSection::new(vec![entry("d@1.0.0/a"), entry("d@1.0.0/a")]).is_err());
}

proptest! {
    #[test]
    fn bodies_round_trip(ids in proptest::collection::btree_set("[a-z0-9/._-]{1,40}", 0..20)) {
        let entries: Vec<SealedEntry> = ids.iter().map(|id| entry(&format!("p@1.0.0/{id}"))).collect();
        let section = SealedSection::new(entries).unwrap();
        let body = section.to_body();
        prop_assert_eq!(&SealedSection::from_body(&body).unwrap(), &section);
    }

    #[test]
    fn arbitrary_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SealedSection::from_body(&bytes);
    }
}

#[test]
#[ignore = "regenerates tests/data/sealed.json; run only when the format changes"]
fn generate_sealed_vectors() {
    let mut vectors = Vec::new();
    for (name, kek_seed, context, ids) in [
        ("empty section", 1u8, "sealed@1.0.0", vec![]),
        (
            "three objects, given out of order",
            2,
            "sealed@1.0.0",
            vec![
                "sealed@1.0.0/train/b.bin",
                "sealed@1.0.0/labels.csv",
                "sealed@1.0.0/train/a.bin",
            ],
        ),
        (
            "non-ASCII object id",
            3,
            "données@2.1.0",
            vec!["données@2.1.0/été.csv"],
        ),
    ] {
        let kek = KeyEncryptionKey::from_bytes([kek_seed; 32]);
        let entries: Vec<Entry> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let object_id: ObjectId = id.parse().unwrap();
                let dek = DataKey::from_bytes([0x40 + i as u8; 32]);
                Entry {
                    object_id: (*id).to_owned(),
                    wrapped_key: WrappedKey::wrap(&kek, &object_id, &dek)
                        .unwrap()
                        .to_string(),
                    plaintext_sha256: hex::encode([0x80 + i as u8; 32]),
                }
            })
            .collect();
        let nonce = [kek_seed.wrapping_mul(17); 24];
        let (body, sealed) = spec_seal(kek.expose_secret(), context, &nonce, &entries);
        vectors.push(Vector {
            name: name.to_owned(),
            kek: hex::encode(kek.expose_secret()),
            context: context.to_owned(),
            nonce: hex::encode(nonce),
            entries,
            body: hex::encode(body),
            sealed: hex::encode(sealed),
        });
    }
    let file = Vectors {
        description: "Golden vectors of dataseal sealed sections, version 1 (FORMAT.md §10)".into(),
        vectors,
    };
    std::fs::write(PATH, serde_json::to_string_pretty(&file).unwrap() + "\n").unwrap();
}
