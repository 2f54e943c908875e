//! Against a real node: js-ipfs 0.66.1 (Kubo-style `/api/v0`), started by the harness on
//! 127.0.0.1 with a fresh repository. One node is shared by the tests of this binary; the
//! failover test starts and stops a second one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod harness;
mod server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use dataseal_btfs::{Capabilities, Cid, Client, Error, MissingBlocks, Transport};
use dataseal_transport::{
    Block, BlockStat, CarReader, CarWriter, FailureKind, ImportParams, Profile, VerifiedRead,
    conformance, import_bytes,
};
use harness::Node;

/// js-ipfs's capabilities, with a shorter DAG limit so that pinning an incomplete DAG
/// (which js-ipfs answers by waiting) fails sooner, and a block limit with room for a
/// loaded machine (a present block must never time out).
fn client(api: &str) -> Client {
    let mut caps = Capabilities::js_ipfs();
    caps.missing_blocks = MissingBlocks::WaitUpTo {
        block: Duration::from_secs(3),
        dag: Duration::from_secs(10),
    };
    Client::new(api, caps).unwrap()
}

fn params(profile: Profile, chunk: u64) -> ImportParams {
    ImportParams::new(profile, chunk).unwrap()
}

/// The node's own `cat` of `root`.
async fn node_cat(api: &str, root: &Cid) -> Vec<u8> {
    let response = server::http()
        .post(format!("{api}/api/v0/cat?arg={root}"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "cat: {}", response.status());
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn the_node_is_recognised_as_js_ipfs() {
    let Some(node) = harness::shared() else {
        return;
    };
    let probe = Client::new(node.api(), Capabilities::kubo()).unwrap();
    assert!(!probe.id().await.unwrap().is_empty());
    let version = probe.version().await.unwrap();
    assert!(version.is_js_ipfs(), "{version:?}");
    assert_eq!(
        Capabilities::kubo_compatible(&version),
        Capabilities::js_ipfs()
    );
    // The address may carry the API prefix.
    let with_prefix =
        Client::new(&format!("{}/api/v0/", node.api()), Capabilities::js_ipfs()).unwrap();
    assert_eq!(with_prefix.url(), node.api());
    assert!(!with_prefix.id().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    let Some(node) = harness::shared() else {
        return;
    };
    conformance::run_all(&client(node.api())).await;
}

#[tokio::test]
async fn added_files_have_our_cid_and_the_node_serves_the_same_bytes() {
    let Some(node) = harness::shared() else {
        return;
    };
    let client = client(node.api());
    let kib = 1024u64;
    let mut cases = Vec::new();
    for profile in [Profile::V1RawLeaves, Profile::V0] {
        for len in [0, 1, kib - 1, kib, kib + 1, 174 * kib, 174 * kib + 1] {
            cases.push((profile, kib, len));
        }
    }
    // Real sizes: 1 MiB chunks (dataseal's default) and Kubo's 256 KiB.
    cases.push((Profile::V1RawLeaves, 1 << 20, (3 << 20) + 5));
    cases.push((Profile::V1RawLeaves, 256 * kib, (1 << 20) + 1));
    for (i, &(profile, chunk, len)) in cases.iter().enumerate() {
        let data = conformance::pattern(len as usize, 1000 + i as u64);
        let params = params(profile, chunk);
        let expected = import_bytes(&data, &params).root;
        let root = client.add_file(&mut &data[..], &params).await.unwrap();
        assert_eq!(root, expected, "{profile:?} chunk {chunk} len {len}");
        assert!(
            node_cat(node.api(), &root).await == data,
            "the node's cat differs for {len} bytes"
        );
        let mut ours = Vec::new();
        client.cat(&root, &mut ours).await.unwrap();
        assert!(ours == data);
    }
}

#[tokio::test]
async fn a_node_that_ignores_the_cid_version_flag_is_caught() {
    let Some(node) = harness::shared() else {
        return;
    };
    // BTFS's trap, reproduced on a real node: ask with the wrong parameter name and the
    // node silently makes a CIDv0 with dag-pb leaves.
    let mut caps = Capabilities::js_ipfs();
    caps.cid_version_param = "v".to_owned();
    let client = Client::new(node.api(), caps).unwrap();
    let data = conformance::pattern(5000, 7);
    let params = params(Profile::V1RawLeaves, 1024);
    match client.add_file(&mut &data[..], &params).await {
        Err(Error::CidMismatch { expected, got }) => {
            assert_eq!(*expected, import_bytes(&data, &params).root);
            assert_eq!(got.version(), 0);
        }
        other => panic!("expected a CID mismatch, got {other:?}"),
    }
    // Through the Transport trait it fails closed as an integrity failure.
    let err = Transport::add(&client, &mut &data[..], &params)
        .await
        .unwrap_err();
    assert!(err.is_integrity(), "{err}");
}

#[tokio::test]
async fn our_car_is_imported_and_the_nodes_export_verifies() {
    let Some(node) = harness::shared() else {
        return;
    };
    let client = client(node.api());
    let params = params(Profile::V1RawLeaves, 1024);
    let data = conformance::pattern(200 * 1024 + 17, 42);
    let file = import_bytes(&data, &params);

    // Ours → the node.
    let mut writer = CarWriter::new(Vec::new(), &[file.root]).await.unwrap();
    for block in file.blocks.iter().rev() {
        writer.write(block).await.unwrap();
    }
    let car = writer.finish().await.unwrap();
    let summary = client.import_car(&mut &car[..]).await.unwrap();
    assert_eq!(summary.roots, vec![file.root]);
    assert_eq!(summary.blocks, file.blocks.len() as u64);
    client.pin(&file.root).await.unwrap();
    assert!(node_cat(node.api(), &file.root).await == data);

    // The node's own `dag/export`, read raw and verified by our reader.
    let raw = server::http()
        .post(format!(
            "{}/api/v0/dag/export?arg={}",
            node.api(),
            file.root
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // Rooted: the node writes each block once, after a block linking it.
    let mut reader = CarReader::new(&raw[..]).await.unwrap().require_rooted();
    assert_eq!(reader.roots(), &[file.root]);
    let mut count = 0;
    while let Some(block) = reader.next_block().await.unwrap() {
        assert!(file.blocks.contains(&block));
        count += 1;
    }
    assert_eq!(count, file.blocks.len());

    // And through the client: a CAR v1 with one root, root first, complete.
    let mut out = Vec::new();
    let summary = client.export_car(&file.root, &mut out).await.unwrap();
    assert_eq!(summary.blocks, file.blocks.len() as u64);
    let mut reader = CarReader::new(&out[..]).await.unwrap().require_rooted();
    assert_eq!(reader.roots(), &[file.root]);
    assert_eq!(
        reader.next_block().await.unwrap().map(|b| *b.cid()),
        Some(file.root)
    );
    while reader.next_block().await.unwrap().is_some() {}

    // A root the node lacks.
    let missing = Cid::raw_sha256(b"dataseal: never exported");
    match client.export_car_checked(&missing, &mut Vec::new()).await {
        Err(Error::NotFound(cid)) => assert_eq!(cid, missing),
        other => panic!("export of a missing root gave {other:?}"),
    }
}

/// A store that stops its node on the `after`-th `get`, then asks the stopped node.
#[derive(Debug)]
struct StopsMidRead<'a> {
    client: Client,
    node: &'a Node,
    after: u64,
    gets: AtomicU64,
}

#[async_trait]
impl Transport for StopsMidRead<'_> {
    async fn put(&self, block: &Block) -> Result<(), dataseal_transport::Error> {
        self.client.put(block).await
    }
    async fn get(&self, cid: &Cid) -> Result<Bytes, dataseal_transport::Error> {
        if self.gets.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            tokio::task::block_in_place(|| self.node.stop());
        }
        self.client.get(cid).await
    }
    async fn has(&self, cid: &Cid) -> Result<bool, dataseal_transport::Error> {
        self.client.has(cid).await
    }
    async fn stat(&self, cid: &Cid) -> Result<BlockStat, dataseal_transport::Error> {
        self.client.stat(cid).await
    }
    async fn pin(&self, root: &Cid) -> Result<(), dataseal_transport::Error> {
        self.client.pin(root).await
    }
    async fn unpin(&self, root: &Cid) -> Result<bool, dataseal_transport::Error> {
        self.client.unpin(root).await
    }
    async fn pins(&self) -> Result<Vec<Cid>, dataseal_transport::Error> {
        self.client.pins().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_mid_read_fails_over() {
    let Some(shared) = harness::shared() else {
        return;
    };
    let Some(second) = Node::start() else {
        return;
    };
    let params = params(Profile::V1RawLeaves, 64 * 1024);
    let data = conformance::pattern(20 * 64 * 1024 + 999, 77);
    let first = client(second.api());
    let backup = client(shared.api());
    let root = first.add_file(&mut &data[..], &params).await.unwrap();
    assert_eq!(
        backup.add_file(&mut &data[..], &params).await.unwrap(),
        root
    );

    let dying = StopsMidRead {
        client: first,
        node: &second,
        after: 6,
        gets: AtomicU64::new(0),
    };
    let stores: Vec<Box<dyn Transport + '_>> = vec![Box::new(dying), Box::new(backup)];
    // One block at a time, so the count of blocks each node served is exact.
    let mut read = VerifiedRead::new(root).window(1);
    let mut out = Vec::new();
    read.run(&stores, &mut out).await.unwrap();
    assert!(out == data, "failover output differs");
    let served_by = |store| read.served().iter().filter(|s| s.store == store).count();
    assert_eq!(served_by(0), 5, "the first node served until it stopped");
    assert_eq!(served_by(1), 22 - 5, "the second node served the rest");
    assert!(!read.failures().is_empty());
    assert!(
        read.failures()
            .iter()
            .all(|f| f.store == 0 && f.kind == FailureKind::Unavailable),
        "{:?}",
        read.failures()
    );
}

#[tokio::test]
async fn corrupted_answers_are_caught_on_the_first_bad_block() {
    let Some(node) = harness::shared() else {
        return;
    };
    let honest = client(node.api());
    let params = params(Profile::V1RawLeaves, 1024);
    let data = conformance::pattern(6 * 1024 + 5, 99);
    let root = honest.add_file(&mut &data[..], &params).await.unwrap();
    let file = import_bytes(&data, &params);

    // Alone: the root and the first leaf are served intact, the second leaf is
    // corrupted. The read stops there, naming it, with only the first leaf written.
    let (proxy, calls) = server::corrupting_proxy(node.api(), 3).await;
    let liar = client(&proxy);
    let mut out = Vec::new();
    // One block at a time, so "the third answer" is the second leaf.
    let mut read = VerifiedRead::new(root).window(1);
    let err = read.run(&[&liar], &mut out).await.unwrap_err();
    assert!(err.is_integrity(), "{err}");
    match err {
        dataseal_transport::Error::Integrity { cid } => assert_eq!(cid, *file.blocks[1].cid()),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the read stopped at the bad block"
    );
    assert!(out == data[..1024], "only verified bytes were written");

    // With an honest node behind it: exact output, every lie recorded against the liar.
    let (proxy, _) = server::corrupting_proxy(node.api(), 1).await;
    let liar = client(&proxy);
    let stores: Vec<Box<dyn Transport>> = vec![Box::new(liar), Box::new(honest)];
    let mut read = VerifiedRead::new(root);
    let mut out = Vec::new();
    read.run(&stores, &mut out).await.unwrap();
    assert!(out == data);
    assert_eq!(read.failures().len(), file.blocks.len());
    assert!(
        read.failures()
            .iter()
            .all(|f| f.store == 0 && f.kind == FailureKind::Integrity)
    );
    assert!(read.served().iter().all(|s| s.store == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_spread_over_two_nodes_uses_both_and_catches_a_liar() {
    let Some(shared) = harness::shared() else {
        return;
    };
    let params = params(Profile::V1RawLeaves, 16 * 1024);
    let data = conformance::pattern(40 * 16 * 1024 + 3, 21);
    let honest = client(shared.api());
    let root = honest.add_file(&mut &data[..], &params).await.unwrap();
    let (proxy, _) = server::corrupting_proxy(shared.api(), 1).await;

    // Two views of the same node: both serve, in turns.
    let stores: Vec<Client> = vec![client(shared.api()), client(shared.api())];
    let mut read = VerifiedRead::new(root).window(8).spread(2);
    let mut out = Vec::new();
    read.run(&stores, &mut out).await.unwrap();
    assert!(out == data);
    let served_by =
        |read: &VerifiedRead, store| read.served().iter().filter(|s| s.store == store).count();
    assert_eq!(served_by(&read, 0) + served_by(&read, 1), 42);
    assert!(served_by(&read, 0) >= 20 && served_by(&read, 1) >= 20);

    // A liar in the spread: every block it was asked first for is asked again of the
    // honest node, and nothing it sent reaches the output.
    let stores: Vec<Client> = vec![client(&proxy), client(shared.api())];
    let mut read = VerifiedRead::new(root).window(8).spread(2);
    let mut out = Vec::new();
    read.run(&stores, &mut out).await.unwrap();
    assert!(out == data);
    assert_eq!(served_by(&read, 1), 42);
    assert!(read.failures().len() >= 20);
    assert!(
        read.failures()
            .iter()
            .all(|f| f.store == 0 && f.kind == FailureKind::Integrity)
    );
}

#[tokio::test]
async fn a_streamed_cat_is_checked_leaf_by_leaf() {
    let Some(node) = harness::shared() else {
        return;
    };
    let honest = client(node.api());
    // Two levels at 1 KiB chunks, one leaf alone, and the empty file.
    for (len, chunk) in [(200 * 1024 + 17, 1024u64), (700, 1024), (0, 1024)] {
        let params = params(Profile::V1RawLeaves, chunk);
        let data = conformance::pattern(len, 31);
        let root = honest.add_file(&mut &data[..], &params).await.unwrap();
        let mut out = Vec::new();
        let summary = honest.cat_checked(&root, &mut out).await.unwrap();
        assert!(out == data, "{len} bytes");
        assert_eq!(summary.bytes, len as u64);
        assert_eq!(
            summary.blocks,
            import_bytes(&data, &params).blocks.len() as u64
        );
    }

    // A flipped bit in the stream: the leaf holding it is named, and every byte before
    // that leaf, and none after, was written.
    let params = params(Profile::V1RawLeaves, 1024);
    let data = conformance::pattern(20 * 1024, 32);
    let root = honest.add_file(&mut &data[..], &params).await.unwrap();
    let file = import_bytes(&data, &params);
    let proxy = server::cat_corrupting_proxy(node.api(), 5 * 1024 + 100).await;
    let liar = client(&proxy);
    let mut out = Vec::new();
    match liar.cat_checked(&root, &mut out).await {
        Err(Error::Integrity { cid }) => assert_eq!(cid, *file.blocks[5].cid()),
        other => panic!("{other:?}"),
    }
    assert!(out == data[..5 * 1024]);

    // A CIDv0 file has dag-pb leaves: refused before anything is written.
    let v0 = params_v0();
    let root_v0 = honest.add_file(&mut &data[..], &v0).await.unwrap();
    let mut out = Vec::new();
    assert!(matches!(
        honest.cat_checked(&root_v0, &mut out).await,
        Err(Error::Unsupported(_))
    ));
    assert!(out.is_empty());

    // A root the node lacks.
    let absent = import_bytes(b"never added to the node", &params).root;
    assert!(matches!(
        honest.cat_checked(&absent, &mut Vec::new()).await,
        Err(Error::NotFound(_))
    ));
}

fn params_v0() -> ImportParams {
    params(Profile::V0, 1024)
}
