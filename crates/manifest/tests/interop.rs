//! Interoperability with independent implementations, installed by this harness into
//! the build's temporary directory on first use:
//!
//! - securesystemslib (Python, the DSSE implementation of in-toto and python-tuf), through
//!   its stock `Envelope.from_dict` + `Envelope.verify` path, which matches signatures to
//!   keys by key id;
//! - `@ipld/dag-json` (JavaScript), which must decode and re-encode our payload to the
//!   same bytes and compute the same manifest CID.
//!
//! Without `python3` or `npm` these tests say they are skipping; under `CI=true` a missing
//! tool is a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{SigningKey, Timestamp, VerifyingKey};
use dataseal_manifest::*;

const HERE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip_or_fail(what: &str) -> Option<PathBuf> {
    assert!(!in_ci(), "{what} (required under CI=true)");
    eprintln!("skipping: {what}");
    None
}

fn run(cmd: &mut Command) -> Result<std::process::Output, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A Python virtual environment with securesystemslib, or `None` when Python is absent
/// outside CI.
fn python() -> Option<PathBuf> {
    static PY: OnceLock<Option<PathBuf>> = OnceLock::new();
    PY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-python");
        let py = dir.join("bin/python");
        let stamp = dir.join("installed-1.6.0");
        if stamp.exists() {
            return Some(py);
        }
        if Command::new("python3").arg("--version").output().is_err() {
            return skip_or_fail("python3 is not installed");
        }
        let setup = run(Command::new("python3").arg("-m").arg("venv").arg(&dir)).and_then(|_| {
            run(Command::new(&py)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(Path::new(HERE).join("requirements.txt")))
        });
        match setup {
            Ok(_) => {
                std::fs::write(&stamp, b"").unwrap();
                Some(py)
            }
            Err(e) => skip_or_fail(&format!("cannot install securesystemslib: {e}")),
        }
    })
    .clone()
}

/// A node_modules folder with @ipld/dag-json, or `None` when npm is absent outside CI.
fn node_dir() -> Option<PathBuf> {
    static NODE: OnceLock<Option<PathBuf>> = OnceLock::new();
    NODE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-node");
        if dir.join("node_modules/@ipld/dag-json").exists() {
            return Some(dir);
        }
        if Command::new("npm").arg("--version").output().is_err() {
            return skip_or_fail("npm is not installed");
        }
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["package.json", "package-lock.json", "dag_json_cid.mjs"] {
            std::fs::copy(Path::new(HERE).join(f), dir.join(f)).unwrap();
        }
        match run(Command::new("npm")
            .args(["ci", "--silent", "--no-audit", "--no-fund"])
            .current_dir(&dir))
        {
            Ok(_) => Some(dir),
            Err(e) => skip_or_fail(&format!("cannot install @ipld/dag-json: {e}")),
        }
    })
    .clone()
}

fn now() -> Timestamp {
    "2026-11-21T00:00:00Z".parse().unwrap()
}

fn write_key(dir: &Path, name: &str, key: &VerifyingKey) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, key.to_spki_pem().unwrap()).unwrap();
    p
}

#[test]
fn securesystemslib_verifies_our_single_and_dual_signatures() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = SigningKey::generate().unwrap();
    let b = SigningKey::generate().unwrap();
    let ka = write_key(dir.path(), "a.pem", &a.verifying_key());
    let kb = write_key(dir.path(), "b.pem", &b.verifying_key());
    let mut env = sign(&sample(), &a, "publisher".parse().unwrap()).unwrap();
    let one = dir.path().join("one.json");
    std::fs::write(&one, env.to_json()).unwrap();
    cosign(&mut env, &b, "compliance".parse().unwrap()).unwrap();
    let two = dir.path().join("two.json");
    std::fs::write(&two, env.to_json()).unwrap();
    let script = Path::new(HERE).join("dsse_check.py");

    let check = |file: &Path, threshold: &str, keys: &[&Path]| {
        Command::new(&py)
            .arg(&script)
            .arg("verify")
            .arg(file)
            .arg(threshold)
            .args(keys)
            .output()
            .unwrap()
    };
    let out = check(&one, "1", &[&ka]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = check(&two, "2", &[&ka, &kb]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And securesystemslib agrees when it must fail: one signature cannot meet 2.
    assert!(!check(&one, "2", &[&ka, &kb]).status.success());
    // A tampered payload fails there too.
    let mut v: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();
    v["payload"] = base64_of(b"{}").into();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, v.to_string()).unwrap();
    assert!(!check(&bad, "1", &[&ka]).status.success());
}

fn base64_of(bytes: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    Base64::encode_string(bytes)
}

#[test]
fn we_verify_an_envelope_securesystemslib_signed() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload.json");
    std::fs::write(&payload, sample().to_payload().unwrap()).unwrap();
    let env_path = dir.path().join("env.json");
    let key_path = dir.path().join("key.pem");
    let out = Command::new(&py)
        .arg(Path::new(HERE).join("dsse_check.py"))
        .arg("sign")
        .arg(&payload)
        .arg(&env_path)
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = VerifyingKey::from_spki_pem(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    let policy = TrustPolicy::new().trust(key, "publisher".parse().unwrap());
    let verified = verify(&std::fs::read(&env_path).unwrap(), &policy, now()).unwrap();
    assert_eq!(verified.manifest(), &sample());
    // Their key id is the one we compute.
    let env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&env_path).unwrap()).unwrap();
    assert_eq!(
        env["signatures"][0]["keyid"],
        dataseal_base::dsse::KeyId::of(&key).as_str()
    );
}

fn dag_json(dir: &Path, bytes: &[u8]) -> serde_json::Value {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let out = Command::new("node")
        .arg(dir.join("dag_json_cid.mjs"))
        .arg(file.path())
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ipld_dag_json_recomputes_our_manifest_cid() {
    let Some(dir) = node_dir() else { return };
    for m in [sample(), {
        let mut m = sample();
        m.objects.clear();
        m.description = "control \u{1} and \u{7f} and \u{2028}".into();
        m
    }] {
        let payload = m.to_payload().unwrap();
        let r = dag_json(&dir, &payload);
        assert_eq!(r["identical"], true, "{r}");
        assert_eq!(r["cid"], manifest_cid(&payload).to_string());
    }
}

#[test]
fn non_canonical_bytes_are_not_dag_json_canonical_either() {
    let Some(dir) = node_dir() else { return };
    let payload = String::from_utf8(sample().to_payload().unwrap())
        .unwrap()
        .replacen(',', ", ", 1);
    let r = dag_json(&dir, payload.as_bytes());
    assert_eq!(r["identical"], false, "{r}");
    assert!(Manifest::from_payload(payload.as_bytes()).is_err());
}
