//! Runs the built `dataseal` binary's store subcommands (`put`, `get`, `car export`,
//! `car import`) against a real node: js-ipfs 0.66.1 behind a `kubo:URL` spec, started by
//! the harness of `dataseal-btfs` on 127.0.0.1. Without Node.js the tests are skipped
//! with a message, except under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

#[path = "../../crates/btfs/tests/harness/mod.rs"]
mod harness;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use dataseal_transport::{CarReader, ImportParams, Profile, import_bytes};
use tempfile::TempDir;

const DATASEAL: &str = env!("CARGO_BIN_EXE_dataseal");

fn dataseal(args: &[&str]) -> Output {
    Command::new(DATASEAL).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[track_caller]
fn assert_fails(out: &Output, code: i32, outputs: &[&Path]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(out));
    for path in outputs {
        assert!(!path.exists(), "{} exists after a failure", path.display());
    }
}

/// Bytes that do not repeat chunk after chunk (xorshift).
fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ u64::from(seed);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn root_of(bytes: &[u8], chunk: u64) -> String {
    import_bytes(
        bytes,
        &ImportParams::new(Profile::V1RawLeaves, chunk).unwrap(),
    )
    .root
    .to_string()
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn put_get_and_car_against_a_real_node() {
    let Some(node) = harness::shared() else {
        return;
    };
    let spec = format!("kubo:{}", node.api());
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("data.bin");
    let bytes = data((3 << 20) + 5, 1);
    fs::write(&file, &bytes).unwrap();
    let f = file.to_str().unwrap();

    // put: the node's root equals ours (1 MiB chunks, CIDv1, raw leaves).
    let out = dataseal(&["put", "--store", &spec, f]);
    assert_ok(&out);
    let root = stdout(&out).trim().to_owned();
    assert_eq!(root, root_of(&bytes, 1 << 20));
    let out = dataseal(&[
        "put",
        "--json",
        "--store",
        &spec,
        "--chunk-size",
        "65536",
        f,
    ]);
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["root_cid"], root_of(&bytes, 65_536));
    assert_eq!(json["store"], spec);

    // get: every block verified; with a dead node first, it fails over.
    let output = dir.path().join("out.bin");
    let o = output.to_str().unwrap();
    // Whole file from a node: one streamed `cat`, checked leaf by leaf (4 leaves and
    // their parent); and the same block by block.
    for extra in [None, Some("--blockwise")] {
        let mut args = vec!["get", "--json", "--store", &spec];
        args.extend(extra);
        args.extend([root.as_str(), o]);
        let out = dataseal(&args);
        assert_ok(&out);
        assert!(fs::read(&output).unwrap() == bytes);
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(json["stores"][0]["blocks"], 5, "{extra:?}");
        assert_eq!(json["stores"][0]["failures"], 0);
        assert_eq!(json["file_len"], bytes.len());
        fs::remove_file(&output).unwrap();
    }
    // A dead node first: the streamed read fails at once and the block-by-block read
    // takes the second store.
    let dead_first = format!("kubo:http://127.0.0.1:{}", closed_port());
    let out = dataseal(&[
        "get",
        "--json",
        "--store",
        &dead_first,
        "--store",
        &spec,
        &root,
        o,
    ]);
    assert_ok(&out);
    assert!(fs::read(&output).unwrap() == bytes);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["stores"][1]["blocks"], 5);
    fs::remove_file(&output).unwrap();
    let dead = format!("kubo:http://127.0.0.1:{}", closed_port());
    let out = dataseal(&[
        "get",
        "--json",
        "--store",
        &dead,
        "--store",
        &spec,
        "--range",
        "1000:2000000",
        &root,
        o,
    ]);
    assert_ok(&out);
    assert!(fs::read(&output).unwrap() == bytes[1000..2_001_000]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["stores"][0]["blocks"], 0);
    assert!(json["stores"][0]["failures"].as_u64().unwrap() >= 1);
    assert!(json["stores"][1]["blocks"].as_u64().unwrap() >= 2);

    // car export from the node: a complete, verified CAR v1.
    let car = dir.path().join("out.car");
    let c = car.to_str().unwrap();
    assert_ok(&dataseal(&["car", "export", "--store", &spec, &root, c]));
    let car_bytes = fs::read(&car).unwrap();
    let blocks = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            let mut reader = CarReader::new(&car_bytes[..])
                .await
                .unwrap()
                .require_complete();
            assert_eq!(reader.roots()[0].to_string(), root);
            let mut n = 0;
            while reader.next_block().await.unwrap().is_some() {
                n += 1;
            }
            n
        });
    assert_eq!(blocks, 5, "four 1 MiB leaves and their parent");

    // car import into a local store, then back into the node from there.
    let local = format!("dir:{}", dir.path().join("store").display());
    assert_ok(&dataseal(&["car", "import", "--store", &local, c]));
    let other = data(200_000, 9);
    let other_file = dir.path().join("other.bin");
    fs::write(&other_file, &other).unwrap();
    let out = dataseal(&[
        "put",
        "--store",
        &local,
        "--chunk-size",
        "16384",
        other_file.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let other_root = stdout(&out).trim().to_owned();
    let other_car = dir.path().join("other.car");
    let oc = other_car.to_str().unwrap();
    assert_ok(&dataseal(&[
        "car",
        "export",
        "--store",
        &local,
        &other_root,
        oc,
    ]));
    let out = dataseal(&["car", "import", "--json", "--store", &spec, oc]);
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["roots"][0], other_root);
    let back = dir.path().join("back.bin");
    assert_ok(&dataseal(&[
        "get",
        "--store",
        &spec,
        &other_root,
        back.to_str().unwrap(),
    ]));
    assert!(fs::read(&back).unwrap() == other);
}

#[test]
fn node_failures_have_their_exit_codes() {
    let Some(node) = harness::shared() else {
        return;
    };
    let spec = format!("kubo:{}", node.api());
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("f");
    fs::write(&file, data(5000, 3)).unwrap();
    let f = file.to_str().unwrap();
    let output = dir.path().join("out");
    let o = output.to_str().unwrap();

    // A root the node does not hold: unavailable, nothing written.
    let missing = root_of(b"never stored anywhere", 1024);
    assert_fails(
        &dataseal(&["get", "--store", &spec, &missing, o]),
        5,
        &[&output],
    );
    // No node at the address: unavailable.
    let dead = format!("kubo:http://127.0.0.1:{}", closed_port());
    assert_fails(&dataseal(&["put", "--store", &dead, f]), 5, &[]);
    // A BTFS spec for a node that has no /api/v1: the node answers HTTP 404.
    let wrong = format!("btfs:{}", node.api());
    let out = dataseal(&["put", "--store", &wrong, f]);
    assert_fails(&out, 5, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
    // Not a URL, not a CID: usage errors.
    assert_fails(
        &dataseal(&["put", "--store", "kubo:127.0.0.1:5001", f]),
        2,
        &[],
    );
    assert_fails(
        &dataseal(&["get", "--store", &spec, "bafy-not-a-cid", o]),
        2,
        &[&output],
    );
    // A CAR with a corrupted block: refused before the node sees it (exit 1).
    let good = root_of(&data(5000, 3), 1_048_576);
    let car = dir.path().join("c.car");
    let c = car.to_str().unwrap();
    assert_ok(&dataseal(&["put", "--store", &spec, f]));
    assert_ok(&dataseal(&["car", "export", "--store", &spec, &good, c]));
    let mut bytes = fs::read(&car).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&car, &bytes).unwrap();
    assert_fails(&dataseal(&["car", "import", "--store", &spec, c]), 1, &[]);
}
