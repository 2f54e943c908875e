//! Runs the built `dataseal manifest …` subcommands end to end.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const DATASEAL: &str = env!("CARGO_BIN_EXE_dataseal");

fn run(args: &[&str]) -> Output {
    Command::new(DATASEAL)
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1795237200")
        .output()
        .unwrap()
}

#[track_caller]
fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let w = Self { dir };
        for who in ["alice", "bob", "mallory"] {
            let out = run(&["keygen", "--out", w.p(who).to_str().unwrap()]);
            assert_eq!(code(&out), 0, "{}", err(&out));
        }
        let data = w.p("data");
        fs::create_dir_all(data.join("train")).unwrap();
        fs::write(data.join("train/a.csv"), "x,y\n1,2\n").unwrap();
        fs::write(data.join("train/b.csv"), "x,y\n3,4\n").unwrap();
        fs::write(data.join("README"), "hello").unwrap();
        fs::write(data.join("junk.tmp"), "ignored").unwrap();
        fs::write(
            w.p("meta.json"),
            r#"{"license":"CC-BY-4.0","licenseConditions":{"academicUse":true,"attribution":true,"commercialUse":false,"nonCommercialUse":true,"shareAlike":false,"tier":"research-only"},"purposes":["research"],"regions":["EU"],"sensitivity":"public","ignore":["*.tmp"],"creator":[{"name":"Example Lab"}]}"#,
        )
        .unwrap();
        w
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.p(rel).to_str().unwrap().to_owned()
    }

    fn save(&self, rel: &str, out: &Output) {
        assert_eq!(code(out), 0, "{}", err(out));
        fs::write(self.p(rel), &out.stdout).unwrap();
    }

    fn build_and_sign(&self) {
        let out = run(&[
            "manifest",
            "build",
            "--name",
            "claims",
            "--version",
            "1.0.0",
            "--meta",
            &self.s("meta.json"),
            &self.s("data"),
        ]);
        self.save("manifest.json", &out);
        let out = run(&[
            "manifest",
            "sign",
            "--key",
            &self.s("alice/signing.key"),
            "--role",
            "publisher",
            &self.s("manifest.json"),
        ]);
        self.save("one.json", &out);
        let out = run(&[
            "manifest",
            "sign",
            "--key",
            &self.s("bob/signing.key"),
            "--role",
            "compliance",
            &self.s("one.json"),
        ]);
        self.save("two.json", &out);
    }

    fn verify(&self, envelope: &str, extra: &[&str]) -> Output {
        let alice = format!("{}=publisher", self.s("alice/signing.pub"));
        let bob = format!("{}=compliance", self.s("bob/signing.pub"));
        let mut args = vec![
            "--json", "manifest", "verify", "--trust", &alice, "--trust", &bob,
        ];
        args.extend_from_slice(extra);
        let env = self.s(envelope);
        args.push(&env);
        run(&args)
    }
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn build_sign_cosign_verify_and_cid() {
    let w = World::new();
    w.build_and_sign();
    let manifest: Value = serde_json::from_slice(&fs::read(w.p("manifest.json")).unwrap()).unwrap();
    let paths: Vec<&str> = manifest["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["README", "train/a.csv", "train/b.csv"]);
    assert_eq!(manifest["created"], "2026-11-21T05:00:00Z");

    let against = w.s("data");
    let out = w.verify("two.json", &["--against", &against]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    let r = report(&out);
    assert_eq!(r["verified"], true);
    assert_eq!(r["report_version"], 1);
    assert_eq!(r["signatures"].as_array().unwrap().len(), 2);
    assert!(
        r["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"] == "counted")
    );
    assert_eq!(r["files"].as_array().unwrap().len(), 3);

    // Only the publisher signed: the compliance threshold is not met.
    let out = w.verify("one.json", &[]);
    assert_eq!(code(&out), 1);
    let r = report(&out);
    assert_eq!(r["verified"], false);
    assert_eq!(r["failures"][0]["code"], "threshold_not_met");

    // The CID is the same from the manifest, the one- and the two-signature envelopes.
    let cids: Vec<String> = ["manifest.json", "one.json", "two.json"]
        .iter()
        .map(|f| {
            let out = run(&["manifest", "cid", &w.s(f)]);
            assert_eq!(code(&out), 0, "{}", err(&out));
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .collect();
    assert!(
        cids.iter().all(|c| c == &cids[0] && c.starts_with("bagu")),
        "{cids:?}"
    );
    assert_eq!(report(&w.verify("two.json", &[]))["manifest_cid"], cids[0]);
}

#[test]
fn builds_are_reproducible() {
    let w = World::new();
    let a = run(&[
        "manifest",
        "build",
        "--name",
        "claims",
        "--version",
        "1.0.0",
        "--meta",
        &w.s("meta.json"),
        &w.s("data"),
    ]);
    let b = run(&[
        "manifest",
        "build",
        "--name",
        "claims",
        "--version",
        "1.0.0",
        "--meta",
        &w.s("meta.json"),
        &w.s("data"),
    ]);
    assert_eq!(code(&a), 0);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn directory_mismatches_fail_with_exit_1_and_name_the_file() {
    let w = World::new();
    w.build_and_sign();
    fs::write(w.p("data/train/a.csv"), "x,y\n9,9\n").unwrap();
    fs::write(w.p("data/new.csv"), "extra").unwrap();
    fs::remove_file(w.p("data/README")).unwrap();
    let against = w.s("data");
    let out = w.verify("two.json", &["--against", &against]);
    assert_eq!(code(&out), 1, "{}", err(&out));
    let r = report(&out);
    let codes: Vec<&str> = r["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"file_changed")
            && codes.contains(&"file_extra")
            && codes.contains(&"file_missing"),
        "{codes:?}"
    );
    assert!(err(&out).contains("train/a.csv"), "{}", err(&out));
}

#[test]
fn tampering_and_foreign_keys_fail_with_exit_1() {
    let w = World::new();
    w.build_and_sign();
    let env: Value = serde_json::from_slice(&fs::read(w.p("two.json")).unwrap()).unwrap();
    // Replace the payload with another validly encoded one.
    let mut t = env.clone();
    let p = t["payload"].as_str().unwrap().to_owned();
    t["payload"] = Value::String(format!(
        "{}{}",
        if p.starts_with('e') { 'f' } else { 'e' },
        &p[1..]
    ));
    fs::write(w.p("tampered.json"), t.to_string()).unwrap();
    assert_eq!(code(&w.verify("tampered.json", &[])), 1);
    // Mallory co-signs as compliance: does not count.
    let out = run(&[
        "manifest",
        "sign",
        "--key",
        &w.s("mallory/signing.key"),
        "--role",
        "compliance",
        &w.s("one.json"),
    ]);
    w.save("mallory.json", &out);
    let out = w.verify("mallory.json", &[]);
    assert_eq!(code(&out), 1);
    let outcomes: Vec<String> = report(&out)["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["counted", "no_trusted_key"]);
    // A threshold of two publishers cannot be met by one.
    let out = w.verify("two.json", &["--threshold", "publisher=2"]);
    assert_eq!(code(&out), 1);
    // A key outside... the validity time is "now" by default; --at parses.
    assert_eq!(
        code(&w.verify("two.json", &["--at", "2026-11-21T00:00:00Z"])),
        0
    );
}

#[test]
fn malformed_input_fails_with_exit_2_naming_the_problem() {
    let w = World::new();
    w.build_and_sign();
    let check = |args: &[&str], needle: &str| {
        let out = run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", err(&out));
        assert!(err(&out).contains(needle), "{args:?}: {}", err(&out));
    };
    fs::write(w.p("bad-meta.json"), r#"{"licence":"MIT"}"#).unwrap();
    check(
        &[
            "manifest",
            "build",
            "--name",
            "claims",
            "--version",
            "1.0.0",
            "--meta",
            &w.s("bad-meta.json"),
            &w.s("data"),
        ],
        "licence",
    );
    fs::write(w.p("bad-lic.json"), r#"{"license":"Not a licence"}"#).unwrap();
    check(
        &[
            "manifest",
            "build",
            "--name",
            "claims",
            "--version",
            "1.0.0",
            "--meta",
            &w.s("bad-lic.json"),
            &w.s("data"),
        ],
        "license",
    );
    check(
        &[
            "manifest",
            "build",
            "--name",
            "Claims",
            "--version",
            "1.0.0",
            &w.s("data"),
        ],
        "--name",
    );
    check(
        &[
            "manifest",
            "build",
            "--name",
            "claims",
            "--version",
            "one",
            &w.s("data"),
        ],
        "--version",
    );
    check(
        &[
            "manifest",
            "build",
            "--name",
            "claims",
            "--version",
            "1.0.0",
            &w.s("nope"),
        ],
        "not a directory",
    );
    // A public key where a private one belongs.
    check(
        &[
            "manifest",
            "sign",
            "--key",
            &w.s("alice/signing.pub"),
            "--role",
            "publisher",
            &w.s("manifest.json"),
        ],
        "signing.pub",
    );
    check(
        &[
            "manifest",
            "sign",
            "--key",
            &w.s("alice/signing.key"),
            "--role",
            "Publisher",
            &w.s("manifest.json"),
        ],
        "--role",
    );
    fs::write(w.p("garbage.json"), "{not json").unwrap();
    check(
        &[
            "manifest",
            "sign",
            "--key",
            &w.s("alice/signing.key"),
            "--role",
            "publisher",
            &w.s("garbage.json"),
        ],
        "garbage.json",
    );
    check(&["manifest", "cid", &w.s("garbage.json")], "garbage.json");
    // An unknown field in a manifest is named.
    let m = fs::read_to_string(w.p("manifest.json"))
        .unwrap()
        .replacen("{", "{\"bogus\":1,", 1);
    fs::write(w.p("bogus.json"), m).unwrap();
    check(
        &[
            "manifest",
            "sign",
            "--key",
            &w.s("alice/signing.key"),
            "--role",
            "publisher",
            &w.s("bogus.json"),
        ],
        "bogus",
    );
    // Bad base64 in an envelope.
    let env = fs::read_to_string(w.p("two.json")).unwrap();
    let v: Value = serde_json::from_str(&env).unwrap();
    let mut bad = v.clone();
    bad["payload"] = "***".into();
    fs::write(w.p("bad64.json"), bad.to_string()).unwrap();
    let out = w.verify("bad64.json", &[]);
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert_eq!(report(&out)["failures"][0]["code"], "envelope_malformed");
    // Bad trust options.
    check(
        &[
            "manifest",
            "verify",
            "--trust",
            "nope.pub",
            &w.s("two.json"),
        ],
        "KEY.pub=ROLE",
    );
    check(&["manifest", "verify", &w.s("two.json")], "--trust");
    let alice = format!("{}=publisher", w.s("alice/signing.key"));
    check(
        &["manifest", "verify", "--trust", &alice, &w.s("two.json")],
        "signing.key",
    );
    let alice = format!("{}=publisher", w.s("alice/signing.pub"));
    check(
        &[
            "manifest",
            "verify",
            "--trust",
            &alice,
            "--threshold",
            "publisher=0",
            &w.s("two.json"),
        ],
        "--threshold",
    );
    let _ = Path::new("");
}
