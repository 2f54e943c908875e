//! Runs the built `dataseal` binary for the store subcommands: `cid`, `put`, `get`,
//! `car export`, `car import`, and `root_cid` in `encrypt --json`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a panic is a test failure"
)]

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use dataseal_transport::{ImportParams, Profile, import_bytes};
use serde_json::Value;
use tempfile::TempDir;

const DATASEAL: &str = env!("CARGO_BIN_EXE_dataseal");

fn dataseal<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
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
    if err.starts_with("dataseal: error: ") {
        assert_eq!(err.lines().count(), 1, "stderr: {err}");
    }
    for path in outputs {
        assert!(!path.exists(), "{} exists after a failure", path.display());
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = i as u64;
            (i * 31 + (i >> 9) * 7 + (i >> 16) * 13 + u64::from(seed)) as u8
        })
        .collect()
}

fn expected_root(bytes: &[u8], chunk: u64) -> String {
    import_bytes(
        bytes,
        &ImportParams::new(Profile::V1RawLeaves, chunk).unwrap(),
    )
    .root
    .to_string()
}

#[test]
fn cid_prints_the_ipfs_add_root() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("f");
    fs::write(&path, b"").unwrap();
    let out = dataseal(["cid".as_ref(), path.as_os_str()]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku\n"
    );
    for (len, chunk) in [
        (1, 1_048_576),
        (1_048_577, 1_048_576),
        (5000, 1024),
        (3 * 1024, 1024),
        (175 * 1024 + 1, 1024),
        (174 * 174 + 1, 1),
    ] {
        let bytes = data(len, 1);
        fs::write(&path, &bytes).unwrap();
        let chunk_arg = chunk.to_string();
        let out = dataseal(["cid", "--chunk-size", &chunk_arg, path.to_str().unwrap()]);
        assert_ok(&out);
        assert_eq!(
            stdout(&out).trim(),
            expected_root(&bytes, chunk),
            "{len}/{chunk}"
        );
    }
    let out = dataseal([
        "cid",
        "--json",
        "--chunk-size",
        "1024",
        path.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["chunk_size"], 1024);
    assert_eq!(json["bytes"], 174 * 174 + 1);
    assert!(json["root_cid"].as_str().unwrap().starts_with("bafybei"));

    for bad in ["0", "1048577"] {
        let out = dataseal(["cid", "--chunk-size", bad, path.to_str().unwrap()]);
        assert_fails(&out, 2, &[]);
    }
    let out = dataseal(["cid", dir.path().join("missing").to_str().unwrap()]);
    assert_fails(&out, 2, &[]);
}

#[test]
fn encrypt_json_reports_the_object_root() {
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("dek");
    assert_ok(&dataseal([
        "keygen",
        "--data-key",
        "--out",
        key.to_str().unwrap(),
    ]));
    let input = dir.path().join("plain");
    fs::write(&input, data(200_000, 2)).unwrap();
    let outdir = dir.path().join("enc");
    let out = dataseal([
        "encrypt",
        "--json",
        "--key",
        key.to_str().unwrap(),
        "--object-id",
        "ds@1.0.0/plain",
        "--chunk-size",
        "65536",
        input.to_str().unwrap(),
        outdir.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let root = json["root_cid"].as_str().unwrap().to_owned();
    let ciphertext = fs::read(outdir.join("ciphertext")).unwrap();
    assert_eq!(root, expected_root(&ciphertext, 65_536));
    let out = dataseal([
        "cid",
        "--chunk-size",
        "65536",
        outdir.join("ciphertext").to_str().unwrap(),
    ]);
    assert_eq!(stdout(&out).trim(), root);
}

#[test]
fn put_get_and_car_round_trips() {
    let dir = TempDir::new().unwrap();
    let a = format!("dir:{}", dir.path().join("a").display());
    let b = format!("dir:{}", dir.path().join("b").display());
    let input = dir.path().join("input");
    let bytes = data(300_000, 3);
    fs::write(&input, &bytes).unwrap();

    let out = dataseal([
        "put",
        "--store",
        &a,
        "--chunk-size",
        "65536",
        input.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let root = stdout(&out).trim().to_owned();
    assert_eq!(root, expected_root(&bytes, 65_536));

    // The whole file, and a range, from the store.
    let output = dir.path().join("out");
    assert_ok(&dataseal([
        "get",
        "--store",
        &a,
        &root,
        output.to_str().unwrap(),
    ]));
    assert_eq!(fs::read(&output).unwrap(), bytes);
    let out = dataseal([
        "get",
        "--json",
        "--store",
        &a,
        "--range",
        "65530:20",
        &root,
        output.to_str().unwrap(),
    ]);
    assert_ok(&out);
    assert_eq!(fs::read(&output).unwrap(), bytes[65_530..65_550]);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["bytes_written"], 20);
    assert_eq!(json["file_len"], 300_000);
    assert_eq!(json["stores"][0]["blocks"], 3);

    // Export, import elsewhere, read from a list whose first store is empty.
    let car = dir.path().join("file.car");
    let out = dataseal([
        "car",
        "export",
        "--json",
        "--store",
        &a,
        &root,
        car.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["blocks"], 6);
    let out = dataseal(["car", "import", "--store", &b, car.to_str().unwrap()]);
    assert_ok(&out);
    let empty = format!("dir:{}", dir.path().join("empty").display());
    assert_ok(&dataseal([
        "put",
        "--store",
        &empty,
        input.to_str().unwrap(),
    ]));
    let out = dataseal([
        "get",
        "--json",
        "--store",
        &empty,
        "--store",
        &b,
        &root,
        output.to_str().unwrap(),
    ]);
    assert_ok(&out);
    assert_eq!(fs::read(&output).unwrap(), bytes);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["stores"][0]["blocks"], 0);
    assert_eq!(json["stores"][0]["failures"], 6);
    assert_eq!(json["stores"][1]["blocks"], 6);

    // Spread over two stores that both hold the file: both serve, the output is exact.
    let out = dataseal([
        "get",
        "--json",
        "--window",
        "4",
        "--spread",
        "2",
        "--store",
        &a,
        "--store",
        &b,
        &root,
        output.to_str().unwrap(),
    ]);
    assert_ok(&out);
    assert_eq!(fs::read(&output).unwrap(), bytes);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["stores"][0]["blocks"], 3);
    assert_eq!(json["stores"][1]["blocks"], 3);
    for bad in [["--window", "0"], ["--spread", "0"], ["--window", "x"]] {
        let out = dataseal([
            "get",
            bad[0],
            bad[1],
            "--store",
            &a,
            &root,
            output.to_str().unwrap(),
        ]);
        assert_fails(&out, 2, &[]);
    }
}

#[test]
fn failures_have_their_exit_codes_and_leave_no_output() {
    let dir = TempDir::new().unwrap();
    let spec = format!("dir:{}", dir.path().join("s").display());
    let input = dir.path().join("input");
    let bytes = data(100_000, 4);
    fs::write(&input, &bytes).unwrap();
    let out = dataseal([
        "put",
        "--store",
        &spec,
        "--chunk-size",
        "65536",
        input.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let root = stdout(&out).trim().to_owned();
    let output = dir.path().join("out");
    let o = output.to_str().unwrap();

    // Not in any store: unavailable.
    let other = expected_root(b"elsewhere", 65_536);
    assert_fails(
        &dataseal(["get", "--store", &spec, &other, o]),
        5,
        &[&output],
    );
    // A malformed CID, a missing store, a node address that is not a URL: usage errors.
    assert_fails(
        &dataseal(["get", "--store", &spec, "bafy-not-a-cid", o]),
        2,
        &[&output],
    );
    let missing = format!("dir:{}", dir.path().join("nope").display());
    assert_fails(
        &dataseal(["get", "--store", &missing, &root, o]),
        2,
        &[&output],
    );
    assert_fails(
        &dataseal(["get", "--store", "kubo:ftp://127.0.0.1:5001", &root, o]),
        2,
        &[&output],
    );
    // A node nobody answers for: unavailable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_fails(
        &dataseal([
            "get",
            "--store",
            &format!("btfs:http://127.0.0.1:{closed}"),
            &root,
            o,
        ]),
        5,
        &[&output],
    );
    assert_fails(
        &dataseal(["get", "--store", "ftp:x", &root, o]),
        2,
        &[&output],
    );
    // A range outside the file.
    assert_fails(
        &dataseal(["get", "--store", &spec, "--range", "99999:2", &root, o]),
        2,
        &[&output],
    );

    // A corrupted block on disk: verification failed, no output file.
    let leaf = dataseal_transport::Cid::raw_sha256(&bytes[..65_536]);
    let path = dataseal_transport::DirStore::open(dir.path().join("s"))
        .unwrap()
        .block_path(&leaf);
    let mut block = fs::read(&path).unwrap();
    block[7] ^= 1;
    fs::write(&path, &block).unwrap();
    assert_fails(
        &dataseal(["get", "--store", &spec, &root, o]),
        1,
        &[&output],
    );
    let car = dir.path().join("x.car");
    // The corrupted block was set aside: the export now lacks it.
    assert_fails(
        &dataseal([
            "car",
            "export",
            "--store",
            &spec,
            &root,
            car.to_str().unwrap(),
        ]),
        5,
        &[&car],
    );

    // A truncated CAR is malformed; a CAR missing a block is incomplete.
    let full = dir.path().join("full.car");
    let spec2 = format!("dir:{}", dir.path().join("t").display());
    assert_ok(&dataseal([
        "put",
        "--store",
        &spec2,
        input.to_str().unwrap(),
    ]));
    let root2 = expected_root(&bytes, 1_048_576);
    assert_ok(&dataseal([
        "car",
        "export",
        "--store",
        &spec2,
        &root2,
        full.to_str().unwrap(),
    ]));
    let car_bytes = fs::read(&full).unwrap();
    let cut = dir.path().join("cut.car");
    fs::write(&cut, &car_bytes[..car_bytes.len() - 10]).unwrap();
    let fresh = format!("dir:{}", dir.path().join("fresh").display());
    assert_fails(
        &dataseal(["car", "import", "--store", &fresh, cut.to_str().unwrap()]),
        2,
        &[],
    );
}

#[test]
fn incomplete_car_import_is_a_verification_failure() {
    let dir = TempDir::new().unwrap();
    let bytes = data(3 * 1024, 5);
    let file = import_bytes(
        &bytes,
        &ImportParams::new(Profile::V1RawLeaves, 1024).unwrap(),
    );
    // Only the root node: the leaves are missing.
    let car = dir.path().join("partial.car");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = rt.block_on(async {
        let mut w = dataseal_transport::CarWriter::new(Vec::new(), &[file.root])
            .await
            .unwrap();
        w.write(file.blocks.last().unwrap()).await.unwrap();
        w.finish().await.unwrap()
    });
    fs::write(&car, body).unwrap();
    let spec = format!("dir:{}", dir.path().join("s").display());
    assert_fails(
        &dataseal(["car", "import", "--store", &spec, car.to_str().unwrap()]),
        1,
        &[],
    );
}
