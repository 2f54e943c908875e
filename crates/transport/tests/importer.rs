//! The UnixFS importer against its own decoder: every file reads back whole and in any
//! byte range, in both profiles, and the raw-leaf root is a function of the chunk CIDs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use dataseal_transport::conformance::pattern;
use dataseal_transport::{
    Cid, FileNode, ImportParams, MAX_LINKS, MemoryStore, Profile, Transport, VerifiedRead,
    import_bytes, raw_leaves_root,
};
use proptest::prelude::*;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn imports_read_back(
        len in 0usize..4000,
        chunk in 1u64..300,
        v0 in any::<bool>(),
        range in (0usize..4000, 0usize..4000),
        window in 1usize..20,
        spread in 1usize..3,
    ) {
        let profile = if v0 { Profile::V0 } else { Profile::V1RawLeaves };
        let data = pattern(len, len as u64 ^ chunk);
        let file = import_bytes(&data, &ImportParams::new(profile, chunk).unwrap());
        prop_assert_eq!(*file.blocks.last().unwrap().cid(), file.root);
        for block in &file.blocks {
            prop_assert!(block.cid().verify(block.data()));
            let node = FileNode::decode(block).unwrap();
            prop_assert!(node.children().len() <= MAX_LINKS);
        }
        let store = MemoryStore::new();
        let offset = range.0.min(len);
        let n = range.1.min(len - offset);
        let out = block_on(async {
            for block in &file.blocks {
                store.put(block).await.unwrap();
            }
            let mut out = Vec::new();
            // The same store twice, so spreading has somewhere to go.
            VerifiedRead::range(file.root, offset as u64, n as u64)
                .window(window)
                .spread(spread)
                .run(&[&store, &store], &mut out)
                .await
                .unwrap();
            out
        });
        prop_assert_eq!(&out[..], &data[offset..offset + n]);
    }

    #[test]
    fn raw_leaf_root_is_a_function_of_the_chunk_cids(len in 1usize..5000, chunk in 1usize..64) {
        let data = pattern(len, 9);
        let file = import_bytes(&data, &ImportParams::new(Profile::V1RawLeaves, chunk as u64).unwrap());
        let leaves = data.chunks(chunk).map(|c| (Cid::raw_sha256(c), c.len() as u64));
        let (root, _) = raw_leaves_root(leaves).unwrap();
        prop_assert_eq!(root, file.root);
    }
}

#[test]
fn three_levels_at_tiny_chunks() {
    let len = MAX_LINKS * MAX_LINKS + 1;
    let data = pattern(len, 3);
    let file = import_bytes(&data, &ImportParams::new(Profile::V1RawLeaves, 1).unwrap());
    let root = FileNode::decode(file.blocks.last().unwrap()).unwrap();
    assert_eq!(root.file_size(), len as u64);
    assert_eq!(root.children().len(), 2);
    let store = MemoryStore::new();
    let out = block_on(async {
        for block in &file.blocks {
            store.put(block).await.unwrap();
        }
        let mut out = Vec::new();
        store.cat(&file.root, &mut out).await.unwrap();
        out
    });
    assert_eq!(out, data);
}

#[test]
fn known_cids() {
    // `ipfs add --cid-version=1 --raw-leaves` and plain `ipfs add` of the empty file.
    let empty_v1 = import_bytes(b"", &ImportParams::default());
    assert_eq!(
        empty_v1.root.to_string(),
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    );
    let empty_v0 = import_bytes(b"", &ImportParams::kubo_default());
    assert_eq!(
        empty_v0.root.to_string(),
        "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
    );
    assert_eq!(
        empty_v0.blocks[0].data().as_ref(),
        [0x0a, 0x04, 0x08, 0x02, 0x18, 0x00]
    );
}
