//! The stories against three real js-ipfs 0.66.1 nodes speaking the Kubo RPC API,
//! started and stopped by the harness of `dataseal-btfs` on 127.0.0.1: publish with two
//! replicas across them, no plaintext in any node's repository, a node stopped before a
//! fetch and another during it, a node whose stored blocks were altered on disk, and every
//! refusal (wrong purpose, region, expired grant, revoked or held version, tampered or
//! untrusted envelope) with its exit code and nothing written. Without
//! Node.js the test is skipped with a message, except under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

#[path = "../../btfs/tests/harness/mod.rs"]
mod harness;

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use dataseal::base::dsse::TrustPolicy;
use dataseal::policy::{Action, Principal, VersionState};
use dataseal::reputation::Outcome;
use dataseal::{Fetch, PlacementRules, Provider, Published, SigningKey, Timestamp};

fn node_providers(nodes: &[&harness::Node]) -> Vec<Provider> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Provider::open(&format!("node-{}@DE=kubo:{}", i + 1, n.api()), false).unwrap()
        })
        .collect()
}

/// Every 32-byte window of the source files.
fn plaintext_windows() -> HashSet<Vec<u8>> {
    let mut windows = HashSet::new();
    for (_, data) in files() {
        for win in data.windows(32) {
            windows.insert(win.to_vec());
        }
    }
    windows
}

/// Flips a byte in every block file of a js-ipfs repository larger than `min` bytes;
/// returns how many.
fn alter_repo_blocks(repo: &std::path::Path, min: u64) -> usize {
    let mut n = 0;
    for rel in listing(&repo.join("blocks")) {
        let path = repo.join("blocks").join(&rel);
        if !rel.ends_with(".data") || std::fs::metadata(&path).unwrap().len() < min {
            continue;
        }
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        n += 1;
    }
    n
}

#[test]
fn publish_and_fetch_across_three_real_nodes() {
    let (Some(n1), Some(n2), Some(n3)) = (
        harness::Node::start(),
        harness::Node::start(),
        harness::Node::start(),
    ) else {
        return;
    };
    let w = World::new();
    let mut providers = node_providers(&[&n1, &n2, &n3]);

    // Version 1.0.0: internal class, two replicas of every object across three nodes.
    let v1 = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    for o in &v1.objects {
        assert_eq!(o.providers.len(), 2, "{}", o.path);
    }
    // Version 2.0.0 of the same files on all three nodes.
    let mut meta = dataseal::DatasetMeta::from_json(META.as_bytes()).unwrap();
    meta.version = Some("2.0.0".parse().unwrap());
    let v2 = w
        .publish_meta(meta)
        .rules(PlacementRules::default().with_replicas(3))
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    assert!(v2.objects.iter().all(|o| o.providers.len() == 3));

    // No plaintext in any node's repository, nor in the catalog.
    let windows = plaintext_windows();
    let mut scanned = 0;
    for repo in [n1.repo(), n2.repo(), n3.repo(), &w.path("catalog")] {
        for rel in listing(repo) {
            let bytes = std::fs::read(repo.join(&rel)).unwrap();
            scanned += bytes.len();
            assert!(
                !bytes.windows(32).any(|win| windows.contains(win)),
                "plaintext in {rel}"
            );
        }
    }
    assert!(scanned > 5 * files().iter().map(|(_, d)| d.len()).sum::<usize>());

    // Version 1 with node 1 stopped before the fetch: every object has a replica on
    // node 2 or 3.
    let decider = Decider::new(&w, &v1, VersionState::default());
    n1.stop();
    let out1 = w.path("out1");
    let fetched = w
        .fetch(&v1, "research")
        .grant(w.grant(&v1, "research", 900, Timestamp::now()))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out1,
        )
        .unwrap();
    assert_same_as_source(&out1);
    assert!(
        fetched
            .receipt
            .objects
            .iter()
            .flat_map(|o| &o.blocks)
            .all(|b| b.provider.as_str() != "node-1")
    );

    // Refusals against the nodes (node 1 still stopped): nothing is read or written.
    refusals(&w, &mut providers, &v1);

    // Version 2: node 2's stored blocks are altered on disk (it serves them anyway),
    // and node 2 is stopped during the fetch; node 3 serves the rest.
    let altered = alter_repo_blocks(n2.repo(), 1000);
    assert!(altered > 5, "{altered}");
    let decider = Decider::new(&w, &v2, VersionState::default());
    let stopped = Arc::new(AtomicBool::new(false));
    let n2 = Arc::new(n2);
    let (flag, node) = (stopped.clone(), n2.clone());
    let out2 = w.path("out2");
    let fetched = w
        .fetch(&v2, "research")
        .grant(w.grant(&v2, "research", 900, Timestamp::now()))
        .on_progress(move |p| {
            if p.bytes_done * 2 > p.bytes_total && !flag.swap(true, Ordering::SeqCst) {
                node.stop();
            }
        })
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out2,
        )
        .unwrap();
    assert!(
        stopped.load(Ordering::SeqCst),
        "node 2 was stopped mid-fetch"
    );
    assert_same_as_source(&out2);
    let outcomes: Vec<(String, Outcome)> = fetched
        .events
        .iter()
        .map(|e| (e.provider().as_str().to_owned(), e.outcome()))
        .collect();
    assert!(
        outcomes
            .iter()
            .any(|(p, o)| p == "node-2" && *o == Outcome::IntegrityFailure),
        "the altered blocks are caught as integrity failures: {outcomes:?}"
    );
    assert!(
        !outcomes
            .iter()
            .any(|(p, o)| p == "node-3" && *o != Outcome::Success),
        "the good node is never blamed: {outcomes:?}"
    );
    // Every block node 2 is credited with in the receipt is one it did not alter (the
    // small ones); every other block came from node 3.
    let from_2: usize = fetched
        .receipt
        .objects
        .iter()
        .flat_map(|o| &o.blocks)
        .filter(|b| b.provider.as_str() == "node-2")
        .count();
    let from_3: usize = fetched
        .receipt
        .objects
        .iter()
        .flat_map(|o| &o.blocks)
        .filter(|b| b.provider.as_str() == "node-3")
        .count();
    assert!(
        from_3 > from_2,
        "{from_2} from node 2, {from_3} from node 3"
    );
    drop(n3);
}

/// A wrong purpose, a wrong region and an expired grant (3); a revoked or held version
/// (4); a tampered envelope and a signature from an untrusted key (1): each refused with
/// its exit code, and no file written.
fn refusals(w: &World, providers: &mut [Provider], v: &Published) {
    let now = Timestamp::now();
    let out = w.path("refused");
    let decider = Decider::new(w, v, VersionState::default());
    let run = |fetch: Fetch, decider: &Decider, providers: &mut [Provider]| {
        fetch
            .run(providers, &w.catalog(), &w.broker(), &decider.gate(), &out)
            .unwrap_err()
    };
    let wrong_purpose = w
        .fetch(v, "evaluation")
        .grant(w.grant(v, "research", 900, now));
    let wrong_region = Fetch::new(
        v.manifest_cid,
        w.trust(),
        Principal::User("tess".parse().unwrap()),
        Action::Train,
        "research".parse().unwrap(),
        "US".parse().unwrap(),
    )
    .grant(w.grant(v, "research", 900, now));
    let old = Timestamp::from_unix_seconds(now.unix_seconds() - 3600).unwrap();
    let expired = w
        .fetch(v, "research")
        .grant(w.grant(v, "research", 60, old));
    for (what, fetch) in [
        ("wrong purpose", wrong_purpose),
        ("wrong region", wrong_region),
        ("expired grant", expired),
    ] {
        let err = run(fetch, &decider, providers);
        assert_eq!(err.exit_code(), 3, "{what}: {err}");
    }
    for state in [
        VersionState {
            revoked: true,
            ..VersionState::default()
        },
        VersionState {
            legal_hold: true,
            ..VersionState::default()
        },
    ] {
        let blocked = Decider::new(w, v, state);
        let fetch = w
            .fetch(v, "research")
            .grant(w.grant(v, "research", 900, now));
        let err = run(fetch, &blocked, providers);
        assert_eq!(err.exit_code(), 4, "{state:?}: {err}");
    }
    // A signature from a key the reader does not trust in that role.
    let untrusted = Fetch::new(
        v.manifest_cid,
        TrustPolicy::new().trust(
            SigningKey::generate().unwrap().verifying_key(),
            "publisher".parse().unwrap(),
        ),
        Principal::User("tess".parse().unwrap()),
        Action::Train,
        "research".parse().unwrap(),
        "DE".parse().unwrap(),
    )
    .grant(w.grant(v, "research", 900, now));
    let err = run(untrusted, &decider, providers);
    assert_eq!(err.exit_code(), 1, "untrusted key: {err}");
    // A tampered envelope: one byte of the payload changed.
    let mut doc: serde_json::Value = serde_json::from_str(&v.envelope).unwrap();
    let payload = doc["payload"].as_str().unwrap().to_owned();
    let flipped = if payload.as_bytes()[40] == b'A' {
        "B"
    } else {
        "A"
    };
    doc["payload"] = format!("{}{flipped}{}", &payload[..40], &payload[41..]).into();
    let tampered = w
        .fetch(v, "research")
        .envelope(doc.to_string().into_bytes())
        .grant(w.grant(v, "research", 900, now));
    let err = run(tampered, &decider, providers);
    assert_eq!(err.exit_code(), 1, "tampered envelope: {err}");
    assert!(listing(&out).is_empty(), "{:?}", listing(&out));
}
