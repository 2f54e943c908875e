//! CID equality with an independent implementation: the root CIDs of our importer against
//! `ipfs-unixfs-importer` (the importer js-ipfs and Helia use, which reproduces Kubo's
//! `ipfs add`), for the sizes where layouts go wrong: 0, 1, C−1, C, C+1, 174·C and
//! 174·C+1 bytes at C = 256 KiB and 1 MiB, a three-level tree at C = 1 KiB, and the CIDv0
//! profile of a plain `ipfs add`.
//!
//! The harness installs the pinned package (`tests/js/package-lock.json`) with `npm ci`
//! into `target/tmp/js-oracle`, once. Without Node.js and npm the test is skipped with a
//! message, except under `CI=true`, where that is a failure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use dataseal_transport::{Cid, FileBuilder, Profile};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Byte `i` of every generated file; `tests/js/unixfs_root.mjs` uses the same function.
fn byte(i: u64) -> u8 {
    let k = i >> 10;
    ((7 * i + 13 * k + 29 * (k >> 8)) % 256) as u8
}

/// Our root CID for a generated file, streamed chunk by chunk (no file in memory).
fn our_root(profile: Profile, chunk: u64, len: u64) -> Cid {
    let mut builder = FileBuilder::new(profile);
    let mut buf = Vec::with_capacity(chunk as usize);
    let mut start = 0;
    while start < len {
        let end = (start + chunk).min(len);
        buf.clear();
        buf.extend((start..end).map(byte));
        builder.push_chunk(&buf).unwrap();
        start = end;
    }
    builder.finish().0
}

fn jobs() -> Vec<(Profile, u64, u64)> {
    let mut jobs = Vec::new();
    for c in [256 * KIB, MIB] {
        for len in [0, 1, c - 1, c, c + 1, 174 * c, 174 * c + 1] {
            jobs.push((Profile::V1RawLeaves, c, len));
        }
    }
    let c = 256 * KIB;
    for len in [0, 1, c - 1, c, c + 1, 174 * c, 174 * c + 1] {
        jobs.push((Profile::V0, c, len));
    }
    jobs.push((Profile::V0, MIB, MIB + 1));
    for profile in [Profile::V1RawLeaves, Profile::V0] {
        for len in [174 * KIB, 174 * KIB + 1, 174 * 174 * KIB + 1] {
            jobs.push((profile, KIB, len));
        }
    }
    jobs
}

/// Skips (outside CI) or fails (under `CI=true`) for a missing tool.
fn unavailable(why: &str) -> Option<PathBuf> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the CID oracle is unavailable: {why}");
    }
    eprintln!("SKIPPED: the CID-equality test against ipfs-unixfs-importer did not run: {why}");
    None
}

fn tool_works(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the oracle into `target/tmp/js-oracle` (once per lock file) and returns
/// the directory.
fn install() -> Option<PathBuf> {
    if !tool_works("node") || !tool_works("npm") {
        return unavailable("node and npm (Node.js 20 or later) are not on PATH");
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("js-oracle");
    fs::create_dir_all(&dir).unwrap();
    for name in ["package.json", "package-lock.json", "unixfs_root.mjs"] {
        fs::copy(source.join(name), dir.join(name)).unwrap();
    }
    let lock = fs::read(dir.join("package-lock.json")).unwrap();
    let stamp = dir.join("installed-lock.json");
    if fs::read(&stamp).ok().as_deref() != Some(&lock[..])
        || !dir.join("node_modules/ipfs-unixfs-importer").is_dir()
    {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .unwrap();
        if !out.status.success() {
            return unavailable(&format!(
                "`npm ci` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        fs::write(&stamp, &lock).unwrap();
    }
    Some(dir)
}

#[test]
fn root_cids_match_ipfs_unixfs_importer() {
    let Some(dir) = install() else {
        return;
    };
    let jobs = jobs();
    let mut child = Command::new("node")
        .arg("unixfs_root.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for (profile, chunk, len) in &jobs {
            let name = if *profile == Profile::V0 { "v0" } else { "v1" };
            writeln!(stdin, "{name} {chunk} {len}").unwrap();
        }
    }
    // Ours, while the oracle works in its own process.
    let ours: Vec<Cid> = jobs
        .iter()
        .map(|&(profile, chunk, len)| our_root(profile, chunk, len))
        .collect();
    let theirs: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert!(child.wait().unwrap().success(), "the oracle failed");
    assert_eq!(theirs.len(), jobs.len(), "the oracle answered {theirs:?}");
    let mut mismatches = Vec::new();
    for ((job, ours), theirs) in jobs.iter().zip(&ours).zip(&theirs) {
        if ours.to_string() != *theirs {
            mismatches.push(format!(
                "{job:?}: ours {ours}, ipfs-unixfs-importer {theirs}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    eprintln!("{} root CIDs equal to ipfs-unixfs-importer's", jobs.len());
}
