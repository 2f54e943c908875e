//! Resuming an interrupted encryption: a chunk recomputed differently from its record is
//! never handed on (no two ciphertexts under one key and nonce), and the resume fails.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::collections::BTreeMap;
use std::io;

use common::{chunk, id, key, pattern};
use dataseal_crypt::{Cid, Encryptor, Error, Salt};
use proptest::prelude::*;

/// A store of chunks by index that records each chunk's CID (the journal) before storing
/// the chunk, and can be made to die after `dies_after` chunks.
#[derive(Default)]
struct Journaled {
    journal: Vec<Cid>,
    stored: BTreeMap<u64, Vec<u8>>,
    dies_after: Option<usize>,
}

impl Journaled {
    /// Stores a chunk; two different ciphertexts at one index is the failure resuming
    /// must prevent.
    fn store(&mut self, index: u64, ciphertext: &[u8]) {
        if let Some(old) = self.stored.get(&index) {
            assert!(
                old == ciphertext,
                "two different ciphertexts for chunk {index}: a two-time pad"
            );
        }
        self.stored.insert(index, ciphertext.to_vec());
    }
}

fn run(
    enc: &Encryptor,
    data: &[u8],
    store: &mut Journaled,
    recorded: Option<Vec<Cid>>,
) -> Result<(), Error> {
    let dies_after = store.dies_after.take();
    let mut handed = 0usize;
    let mut sink = |index: u64, ciphertext: &[u8], cid: &Cid| -> io::Result<()> {
        if dies_after == Some(handed) {
            return Err(io::Error::other("killed"));
        }
        handed += 1;
        if store.journal.len() as u64 == index {
            store.journal.push(*cid);
        }
        store.store(index, ciphertext);
        Ok(())
    };
    match recorded {
        Some(recorded) => enc.encrypt_resumed(data, &recorded, &mut sink).map(drop),
        None => enc.encrypt(data, &mut sink).map(drop),
    }
}

fn encryptor(salt: Salt) -> Encryptor {
    Encryptor::with_salt(&key(3), id("ds@1.0.0/resume.bin"), chunk(65_536), salt)
}

#[test]
fn an_unchanged_input_resumes_to_the_same_chunks() {
    let salt = Salt::generate().unwrap();
    let data = pattern(65_520 * 5 + 100, 1);
    let mut store = Journaled {
        dies_after: Some(3),
        ..Default::default()
    };
    assert!(run(&encryptor(salt), &data, &mut store, None).is_err());
    assert_eq!(store.journal.len(), 3);
    let recorded = store.journal.clone();
    run(&encryptor(salt), &data, &mut store, Some(recorded)).unwrap();
    assert_eq!(store.stored.len(), 6);
    assert_eq!(store.journal.len(), 6);
}

#[test]
fn a_changed_chunk_is_never_handed_on_and_fails_the_resume() {
    let salt = Salt::generate().unwrap();
    let data = pattern(65_520 * 5 + 100, 2);
    for changed_at in [0usize, 65_519, 65_520, 2 * 65_520 + 7] {
        let mut store = Journaled {
            dies_after: Some(3),
            ..Default::default()
        };
        assert!(run(&encryptor(salt), &data, &mut store, None).is_err());
        let recorded = store.journal.clone();
        let mut changed = data.clone();
        changed[changed_at] ^= 0x80;
        // `Journaled::store` panics on a second, different ciphertext at one index.
        match run(&encryptor(salt), &changed, &mut store, Some(recorded)) {
            Err(Error::ResumeMismatch { index }) => {
                assert_eq!(index, (changed_at / 65_520) as u64);
            }
            other => panic!("{changed_at}: {other:?}"),
        }
        // Nothing past the changed chunk was handed on either.
        assert_eq!(store.stored.len(), 3);
    }
}

#[test]
fn an_input_grown_or_shrunk_fails_the_resume() {
    let salt = Salt::generate().unwrap();
    let data = pattern(65_520 * 3, 3);
    let mut store = Journaled::default();
    run(&encryptor(salt), &data, &mut store, None).unwrap();
    let recorded = store.journal.clone();
    assert_eq!(recorded.len(), 3);
    // Longer: the old last chunk is no longer last, so it seals differently.
    let mut longer = data.clone();
    longer.extend_from_slice(b"more");
    assert!(matches!(
        run(
            &encryptor(salt),
            &longer,
            &mut store,
            Some(recorded.clone())
        ),
        Err(Error::ResumeMismatch { index: 2 })
    ));
    // Shorter by a whole chunk: every chunk it has matches... except that the new last
    // one is sealed as last.
    assert!(matches!(
        run(
            &encryptor(salt),
            &data[..65_520 * 2],
            &mut store,
            Some(recorded.clone())
        ),
        Err(Error::ResumeMismatch { index: 1 })
    ));
    // Another salt: nothing matches.
    let mut other = Journaled::default();
    assert!(matches!(
        run(
            &encryptor(Salt::generate().unwrap()),
            &data,
            &mut other,
            Some(recorded)
        ),
        Err(Error::ResumeMismatch { index: 0 })
    ));
    assert!(other.stored.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the input becomes between the interruption and the resume, no index ever
    /// receives two different ciphertexts, and the resume succeeds exactly when every
    /// recorded chunk comes out the same.
    #[test]
    fn no_index_is_ever_sealed_twice_differently(
        len in 0usize..(65_520 * 4),
        dies_after in 0usize..5,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        seed in any::<u64>(),
    ) {
        let salt = Salt::generate().unwrap();
        let data = pattern(len, seed);
        let mut store = Journaled { dies_after: Some(dies_after), ..Default::default() };
        let first = run(&encryptor(salt), &data, &mut store, None);
        let recorded = store.journal.clone();
        let mut changed = data.clone();
        if let Some(cut) = cut {
            changed.truncate(cut.index(changed.len() + 1));
        }
        for (at, byte) in edits {
            if !changed.is_empty() {
                let i = at.index(changed.len());
                changed[i] = byte;
            }
        }
        let resumed = run(&encryptor(salt), &changed, &mut store, Some(recorded.clone()));
        if resumed.is_ok() {
            // Every recorded chunk was reproduced.
            prop_assert!(store.journal.starts_with(&recorded));
        } else {
            prop_assert!(matches!(resumed, Err(Error::ResumeMismatch { .. })), "{resumed:?}");
        }
        if first.is_ok() && changed == data {
            prop_assert!(resumed.is_ok());
        }
    }
}
