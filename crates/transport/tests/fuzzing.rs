//! The fuzzing entry points never panic, whatever bytes they are fed.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use dataseal_transport::conformance::pattern;
use dataseal_transport::{CarWriter, ImportParams, Profile, fuzzing, import_bytes};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzzing::car(&data);
        fuzzing::dag_pb(&data);
        fuzzing::unixfs(&data);
    }
}

fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..seed.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut m = seed.to_vec();
            m[i] ^= flip;
            out.push(m);
        }
        out.push(seed[..i].to_vec());
        let mut dup = seed.to_vec();
        dup.insert(i, seed[i]);
        out.push(dup);
    }
    out
}

#[tokio::test]
async fn mutated_valid_inputs_never_panic() {
    let file = import_bytes(
        &pattern(700, 1),
        &ImportParams::new(Profile::V0, 100).unwrap(),
    );
    let mut writer = CarWriter::new(Vec::new(), &[file.root]).await.unwrap();
    for block in file.blocks.iter().rev() {
        writer.write(block).await.unwrap();
    }
    let car = writer.finish().await.unwrap();
    assert_eq!(fuzzing::car(&car), file.blocks.len());
    let root = file.blocks.last().unwrap().data().to_vec();
    assert!(fuzzing::dag_pb(&root));
    for m in mutations(&car) {
        fuzzing::car(&m);
    }
    for m in mutations(&root) {
        fuzzing::dag_pb(&m);
    }
    // Pathological headers: deep, long, indefinite.
    for bytes in [
        vec![0x0a, 0xbf, 0xff],
        vec![0x09, 0xa2, 0x65, b'r', b'o', b'o', b't', b's', 0x9b, 0xff],
        vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    ] {
        assert_eq!(fuzzing::car(&bytes), 0);
    }
    assert!(!fuzzing::unixfs(&[0x08]));
    assert!(fuzzing::unixfs(&[0x08, 0x02, 0x18, 0x00]));
}
