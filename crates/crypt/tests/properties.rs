//! Property tests: round trip and range equivalence for arbitrary data and sizes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use common::*;
use dataseal_crypt::{ChunkSize, Decryptor};
use proptest::prelude::*;

fn sizes() -> impl Strategy<Value = ChunkSize> {
    prop_oneof![Just(ChunkSize::MIN), Just(ChunkSize::new(1 << 17).unwrap())]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(len in 0usize..400_000, seed in any::<u64>(), c in sizes(), k in any::<[u8; 32]>(), salt in any::<[u8; 32]>()) {
        let data = pattern(len, seed);
        let key = dataseal_crypt::DataKey::from_bytes(k);
        let e = encrypt_with(&key, &id("p@1/x"), c, dataseal_crypt::Salt::from_bytes(salt), &data);
        prop_assert_eq!(e.ciphertext.len() as u64, c.ciphertext_len(len as u64));
        let back = decrypt_with(&key, &e.header, &e.ciphertext).unwrap();
        prop_assert!(back == data);
    }

    #[test]
    fn range_equals_slice_of_full_decryption(len in 1usize..300_000, seed in any::<u64>(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(), c in sizes()) {
        let data = pattern(len, seed);
        let e = encrypt(&data, c);
        let (x, y) = (a.index(len + 1), b.index(len + 1));
        let (off, end) = (x.min(y), x.max(y));
        let mut out = Vec::new();
        Decryptor::new(&key(7), &e.header).unwrap()
            .decrypt_range(&mut &e.ciphertext[..], off as u64, (end - off) as u64, &mut out).unwrap();
        prop_assert!(out == data[off..end]);
    }

    #[test]
    fn header_json_round_trips(len in 0u64..(1 << 53), c in sizes(), salt in any::<[u8; 32]>(), name in "[a-z0-9@./_-]{1,40}") {
        let enc = dataseal_crypt::Encryptor::with_salt(&key(1), id(&name), c, dataseal_crypt::Salt::from_bytes(salt));
        let h = enc.header(len).unwrap();
        let parsed = dataseal_crypt::ObjectHeader::from_json(h.to_json().as_bytes()).unwrap();
        prop_assert_eq!(parsed, h);
    }

    #[test]
    fn any_single_bit_flip_is_rejected(pos in any::<prop::sample::Index>(), bit in 0u8..8, len in 0usize..140_000) {
        let data = pattern(len, 99);
        let e = encrypt(&data, ChunkSize::MIN);
        let mut ct = e.ciphertext.clone();
        let p = pos.index(ct.len());
        ct[p] ^= 1 << bit;
        let err = decrypt(&e.header, &ct).unwrap_err();
        let chunk_index = (p / ChunkSize::MIN.bytes()) as u64;
        let named = match err {
            dataseal_crypt::Error::Chunk { index } => Some(index),
            _ => None,
        };
        prop_assert_eq!(named, Some(chunk_index));
    }
}
