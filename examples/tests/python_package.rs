//! Builds the Python package (`python/`) with maturin into a fresh virtual environment
//! and runs its pytest suite against the `dataseal` binary built for these tests and a
//! real js-ipfs node (Kubo RPC API) started by `dataseal-btfs`'s test harness, whose
//! address the suite reads from `DATASEAL_TEST_KUBO`.
//!
//! Needs `python3` (3.11 or later) with `venv` and access to PyPI, and Node.js for the
//! node; without them the test says it is skipping (or runs without the node), except
//! under `CI=true`, where that is a failure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

#[path = "../../crates/btfs/tests/harness/mod.rs"]
mod harness;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const REQUIREMENTS: &str = include_str!("../../python/tests/requirements.txt");

fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the Python package cannot be tested: {why}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: the Python package's tests need python3 (3.11+, venv) and PyPI: {why}"
    );
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `python -m pip install`, quietly.
fn pip_install(python: &Path) -> Command {
    let mut pip = Command::new(python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]);
    pip
}

/// A virtual environment with the pinned test requirements, made once per set of
/// requirements.
fn venv() -> Result<PathBuf, String> {
    let digest: u64 = REQUIREMENTS.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pyvenv-{digest:016x}"));
    let python = dir.join("bin/python");
    if dir.join(".complete").exists() {
        return Ok(python);
    }
    let _ = std::fs::remove_dir_all(&dir);
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&dir),
        "python3 -m venv",
    )?;
    run(
        pip_install(&python)
            .arg("-r")
            .arg(repo().join("python/tests/requirements.txt")),
        "pip install -r python/tests/requirements.txt",
    )?;
    std::fs::write(dir.join(".complete"), REQUIREMENTS).map_err(|e| e.to_string())?;
    Ok(python)
}

#[test]
fn the_python_package_passes_its_tests() {
    let python = match venv() {
        Ok(p) => p,
        Err(why) => return skip(&why),
    };
    let bin = python.parent().unwrap();
    let wheels = tempfile::tempdir().unwrap();
    // The wheel: built by maturin from the workspace, into this test's own directory.
    run(
        Command::new(bin.join("maturin"))
            .args(["build", "--quiet", "--manifest-path"])
            .arg(repo().join("python/Cargo.toml"))
            .arg("--out")
            .arg(wheels.path())
            .args(["--interpreter"])
            .arg(&python),
        "maturin build",
    )
    .unwrap();
    let wheel = std::fs::read_dir(wheels.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("maturin wrote no wheel");
    run(
        pip_install(&python)
            .args(["--force-reinstall", "--no-deps"])
            .arg(&wheel),
        "pip install the wheel",
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    // A real node for the suite's node tests (under CI=true the harness fails loudly
    // when it cannot start one).
    let node = harness::Node::start();
    let mut pytest = Command::new(&python);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo().join("python/tests"))
        .env("DATASEAL_BIN", env!("CARGO_BIN_EXE_dataseal"))
        .current_dir(work.path());
    if let Some(node) = &node {
        pytest.env("DATASEAL_TEST_KUBO", node.api());
    }
    let status = pytest.status().unwrap();
    if let Some(node) = &node {
        node.stop();
    }
    assert!(status.success(), "pytest failed: {status}");
}
