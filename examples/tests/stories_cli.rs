//! Runs the built `dataseal publish | fetch | verify | repair` end to end on `dir:`
//! stores: exit codes, output, and what is (not) left on disk.
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

use serde_json::{Value, json};

#[path = "../../crates/registry/tests/common/mod.rs"]
mod common;

const DATASEAL: &str = env!("CARGO_BIN_EXE_dataseal");

#[track_caller]
fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let w = Self { dir };
        for who in ["publisher", "compliance", "grants", "reader", "job"] {
            let out = w.run(&["keygen", "--out", &w.s(who)]);
            assert_eq!(code(&out), 0, "{}", err(&out));
        }
        fs::create_dir_all(w.p("src/train")).unwrap();
        fs::write(w.p("src/labels.csv"), "id,label\n1,cat\n2,dog\n").unwrap();
        fs::write(w.p("src/train/a.bin"), bytes(1, 150_000)).unwrap();
        fs::write(w.p("src/train/b.bin"), bytes(2, 65_520)).unwrap();
        fs::write(
            w.p("meta.json"),
            r#"{"datasetId":"cli-story","version":"1.0.0","license":"CC-BY-NC-4.0",
                "licenseConditions":{"academicUse":true,"attribution":true,"commercialUse":false,
                "nonCommercialUse":true,"shareAlike":false,"tier":"research-only"},
                "purposes":["research","training"],"regions":["EU"],"sensitivity":"internal"}"#,
        )
        .unwrap();
        fs::write(
            w.p("entities.json"),
            json!({"entities": [
                {"uid": {"type": "Dataseal::User", "id": "tess"}, "attrs": {},
                 "parents": [{"type": "Dataseal::Role", "id": "trainer"},
                             {"type": "Dataseal::Group", "id": "acme"}]}
            ]})
            .to_string(),
        )
        .unwrap();
        w.record("record.json", json!({}));
        w
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.p(rel).to_str().unwrap().to_owned()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(DATASEAL)
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// A version record whose state is all false but for the flags in `set`.
    fn record(&self, name: &str, set: Value) {
        let mut state =
            json!({"legalHold": false, "revoked": false, "quarantined": false, "erased": false});
        for (k, v) in set.as_object().unwrap() {
            state[k] = v.clone();
        }
        fs::write(
            self.p(name),
            json!({"owner": "olivia", "organisation": "acme", "uploader": "ulrich",
                   "specialCategoryData": false, "state": state})
            .to_string(),
        )
        .unwrap();
    }

    fn stores(&self, names: &[&str]) -> Vec<String> {
        names
            .iter()
            .flat_map(|n| {
                [
                    "--store".to_owned(),
                    format!("{n}@DE=dir:{}", self.s(&format!("stores/{n}"))),
                ]
            })
            .collect()
    }

    fn publish_args(&self, stores: &[&str]) -> Vec<String> {
        let mut a = vec!["publish".to_owned()];
        a.extend(self.stores(stores));
        a.extend(
            [
                "--key",
                &format!("{}=publisher", self.s("publisher/signing.key")),
                "--key",
                &format!("{}=compliance", self.s("compliance/signing.key")),
                "--recipient",
                &self.s("reader/recipient.pub"),
                "--meta",
                &self.s("meta.json"),
                "--chunk-size",
                "65536",
                &self.s("src"),
            ]
            .map(str::to_owned),
        );
        a
    }

    fn publish(&self) -> String {
        let args = self.publish_args(&["a", "b"]);
        let out = self.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&out), 0, "{}", err(&out));
        stdout(&out).trim().to_owned()
    }

    fn grant(&self, cid: &str, purpose: &str) -> String {
        let out = self.run(&[
            "grant",
            "issue",
            "--key",
            &self.s("grants/signing.key"),
            "--issuer",
            "test",
            "--principal",
            "user:tess",
            "--cid",
            cid,
            "--purpose",
            purpose,
            "--region",
            "DE",
            "--action",
            "train",
        ]);
        assert_eq!(code(&out), 0, "{}", err(&out));
        let path = format!("grant-{purpose}.txt");
        fs::write(self.p(&path), stdout(&out)).unwrap();
        self.s(&path)
    }

    fn trust(&self) -> Vec<String> {
        vec![
            "--trust".to_owned(),
            format!("{}=publisher", self.s("publisher/signing.pub")),
            "--trust".to_owned(),
            format!("{}=compliance", self.s("compliance/signing.pub")),
        ]
    }

    fn fetch(
        &self,
        cid: &str,
        grant: Option<&str>,
        record: &str,
        out: &str,
        extra: &[&str],
    ) -> Output {
        let mut a = vec!["fetch".to_owned()];
        a.extend(self.stores(&["a", "b"]));
        a.extend(self.trust());
        a.extend(
            [
                "--identity",
                &self.s("reader/recipient.key"),
                "--entities",
                &self.s("entities.json"),
                "--grant-key",
                &self.s("grants/signing.pub"),
                "--principal",
                "user:tess",
                "--purpose",
                "research",
                "--region",
                "DE",
                "--audit-log",
                &self.s("audit.jsonl"),
                "--audit-key",
                &self.s("job/signing.key"),
            ]
            .map(str::to_owned),
        );
        if let Some(g) = grant {
            a.extend(["--grant".to_owned(), g.to_owned()]);
        }
        // An empty record: the version's record comes from elsewhere (--registry).
        if !record.is_empty() {
            a.extend(["--record".to_owned(), self.s(record)]);
        }
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a.extend([cid.to_owned(), self.s(out)]);
        self.run(&a.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

fn listing(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn publish_fetch_verify_repair_from_the_command_line() {
    let w = World::new();
    let cid = w.publish();
    assert!(cid.starts_with("bagu"), "{cid}");
    let grant = w.grant(&cid, "research");

    // Allowed: every file, identical; a signed receipt; events.
    let out = w.fetch(
        &cid,
        Some(&grant),
        "record.json",
        "out",
        &[
            "--job",
            "j-1",
            "--receipt",
            &w.s("receipt.json"),
            "--receipt-key",
            &w.s("job/signing.key"),
            "--events",
            &w.s("events.jsonl"),
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", err(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["manifestCid"], cid.as_str());
    assert_eq!(doc["files"].as_array().unwrap().len(), 3);
    for rel in ["labels.csv", "train/a.bin", "train/b.bin"] {
        assert_eq!(
            fs::read(w.p("out").join(rel)).unwrap(),
            fs::read(w.p("src").join(rel)).unwrap()
        );
    }
    let receipt: Value =
        serde_json::from_str(&fs::read_to_string(w.p("receipt.json")).unwrap()).unwrap();
    assert_eq!(receipt["payloadType"], dataseal::RECEIPT_PAYLOAD_TYPE);
    assert!(
        fs::read_to_string(w.p("events.jsonl"))
            .unwrap()
            .lines()
            .count()
            >= 3
    );

    // Refusals: no grant (3), a revoked version (4), an untrusted signer (1); nothing written.
    let out = w.fetch(&cid, None, "record.json", "out-denied", &[]);
    assert_eq!(code(&out), 3, "{}", err(&out));
    assert!(listing(&w.p("out-denied")).is_empty());
    w.record("revoked.json", json!({"revoked": true}));
    let out = w.fetch(&cid, Some(&grant), "revoked.json", "out-revoked", &[]);
    assert_eq!(code(&out), 4, "{}", err(&out));
    assert!(err(&out).contains("revoked"), "{}", err(&out));
    assert!(listing(&w.p("out-revoked")).is_empty());
    w.record("held.json", json!({"legalHold": true}));
    let out = w.fetch(&cid, Some(&grant), "held.json", "out-held", &[]);
    assert_eq!(code(&out), 4, "{}", err(&out));
    // A record that leaves its state out, or a flag of it, is malformed (2): nothing
    // about a version's lifecycle defaults to allow.
    for state in [None, Some(json!({})), Some(json!({"revoked": false}))] {
        let mut record = json!({"owner": "olivia", "organisation": "acme", "uploader": "ulrich",
                                "specialCategoryData": false});
        if let Some(s) = state {
            record["state"] = s;
        }
        fs::write(w.p("partial.json"), record.to_string()).unwrap();
        let out = w.fetch(&cid, Some(&grant), "partial.json", "out-partial", &[]);
        assert_eq!(code(&out), 2, "{}", err(&out));
        assert!(listing(&w.p("out-partial")).is_empty());
    }

    let mut verify = vec!["verify".to_owned()];
    verify.extend(w.stores(&["a", "b"]));
    let rogue = [
        "--trust".to_owned(),
        format!("{}=compliance", w.s("grants/signing.pub")),
        "--trust".to_owned(),
        format!("{}=publisher", w.s("publisher/signing.pub")),
    ];
    let mut bad = verify.clone();
    bad.extend(rogue);
    bad.push(cid.clone());
    let out = w.run(&bad.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 1, "{}", err(&out));

    // Deep verification, then a lost store, then repair onto a third.
    verify.extend(w.trust());
    verify.extend(["--deep".to_owned(), "--json".to_owned(), cid.clone()]);
    let out = w.run(&verify.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 0, "{}", err(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["underReplicated"], 0);
    fs::remove_dir_all(w.p("stores/b/blocks")).unwrap();
    fs::create_dir_all(w.p("stores/b/blocks")).unwrap();
    let out = w.run(&verify.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 0, "{}", err(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["underReplicated"], 3);

    let out = w.run(&["keygen", "--out", &w.s("unused")]);
    assert_eq!(code(&out), 0);
    fs::create_dir_all(w.p("stores/c")).unwrap();
    // c must exist as a block store: publish-less creation through a put.
    let out = w.run(&[
        "put",
        "--store",
        &format!("dir:{}", w.s("stores/c")),
        &w.s("meta.json"),
    ]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    let mut repair = vec!["repair".to_owned()];
    repair.extend(w.stores(&["a", "b", "c"]));
    repair.extend(w.trust());
    repair.extend(["--json".to_owned(), cid.clone()]);
    let out = w.run(&repair.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 0, "{}", err(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["objects"].as_array().unwrap().len(), 3);

    // A bad MANIFEST_CID and a missing store are usage errors (2).
    let out = w.fetch("not-a-cid", Some(&grant), "record.json", "o", &[]);
    assert_eq!(code(&out), 2, "{}", err(&out));
    let out = w.run(&[
        "verify",
        "--store",
        &format!("dir:{}", w.s("nowhere")),
        "--trust",
        &format!("{}=publisher", w.s("publisher/signing.pub")),
        &cid,
    ]);
    assert_eq!(code(&out), 2, "{}", err(&out));
}

#[test]
fn a_killed_publish_resumes_to_the_same_manifest() {
    let w = World::new();
    // Enough data that the publish is still running when it is killed.
    fs::write(w.p("src/big.bin"), bytes(9, 24 << 20)).unwrap();
    let args = w.publish_args(&["a", "b"]);
    let mut child = Command::new(DATASEAL)
        .current_dir(w.dir.path())
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once its first blocks are out.
    let started = std::time::Instant::now();
    while listing(&w.p("stores/a/blocks")).len() < 20 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let journal = w.p(".dataseal/journal/cli-story@1.0.0/journal.json");
    if status.success() {
        eprintln!("the publish finished before it could be killed");
        // Too fast to interrupt on this machine: the resume path is still covered by
        // the library tests; nothing more to check here.
        assert!(!journal.exists());
        return;
    }
    assert!(journal.exists(), "the journal survives a kill");
    let before = listing(&w.p("stores/a/blocks")).len();
    // Resume into the same stores, and (from a copy of the journal) into empty ones:
    // both name the same version.
    let copy = w.p("journal-copy");
    fs::create_dir_all(&copy).unwrap();
    fs::copy(&journal, copy.join("journal.json")).unwrap();
    let out = w.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 0, "{}", err(&out));
    let first = stdout(&out).trim().to_owned();
    assert!(err(&out).contains("resumed"), "{}", err(&out));
    assert!(before > 0);

    let mut fresh = w.publish_args(&["x", "y"]);
    let at = fresh.len() - 1;
    fresh.insert(at, copy.to_str().unwrap().to_owned());
    fresh.insert(at, "--journal".to_owned());
    let out = w.run(&fresh.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 0, "{}", err(&out));
    assert_eq!(stdout(&out).trim(), first);
}

/// The registry in the loop: publish registers the version (quarantined), two
/// transitions make it readable, a hold blocks it (4) until lifted, and an erasure
/// shreds its key, unpins it, signs a receipt that verifies, and blocks every later
/// fetch (4).
#[test]
fn the_registry_in_the_loop_from_the_command_line() {
    let w = World::new();
    let registry = format!("sqlite:{}", w.s("registry.db"));
    registry_in_the_loop(&w, &registry);
}

#[test]
fn the_registry_in_the_loop_on_postgres() {
    let Some(cluster) = common::PgCluster::start() else {
        return;
    };
    let w = World::new();
    registry_in_the_loop(&w, &cluster.url("postgres"));
}

/// Publish with the registry, quarantine, approvals, publish, fetch, hold, erase, the
/// receipt: every step through the command line, on the registry at `registry`.
fn registry_in_the_loop(w: &World, registry: &str) {
    let registry = registry.to_owned();
    let mut args = w.publish_args(&["a", "b"]);
    let src = args.pop().unwrap();
    args.extend(
        [
            "--registry",
            &registry,
            "--owner",
            "olivia",
            "--organisation",
            "acme",
            "--uploader",
            "ulrich",
            &src,
        ]
        .map(str::to_owned),
    );
    let out = w.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 0, "{}", err(&out));
    let cid = stdout(&out).trim().to_owned();
    let grant = w.grant(&cid, "research");
    let fetch = |out: &str| w.fetch(&cid, Some(&grant), "", out, &["--registry", &registry]);
    let reg = |a: &[&str]| {
        let mut all = vec!["registry", "--registry", &registry];
        all.extend_from_slice(a);
        w.run(&all)
    };

    // Quarantined until approved and published in the registry.
    let o = fetch("out-quarantined");
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(!w.p("out-quarantined").exists());
    // Two signed approvals, by two people in two roles, move it to approved; the
    // uploader's own is refused (3) and not kept.
    let owner_spec = format!("{}=data-owner:olivia", w.s("grants/signing.pub"));
    let compliance_spec = format!("{}=compliance:carol", w.s("compliance/signing.pub"));
    let uploader_spec = format!("{}=data-owner:ulrich", w.s("publisher/signing.pub"));
    let sign = |key: &str, who: &str, role: &str, file: &str| {
        let o = reg(&[
            "approval-sign",
            "--key",
            &w.s(&format!("{key}/signing.key")),
            "--approver",
            who,
            "--as-role",
            role,
            &cid,
        ]);
        assert_eq!(code(&o), 0, "{}", err(&o));
        fs::write(w.p(file), stdout(&o)).unwrap();
        w.s(file)
    };
    let approve = |file: &str| {
        reg(&[
            "approve",
            "--approver",
            &owner_spec,
            "--approver",
            &compliance_spec,
            "--approver",
            &uploader_spec,
            file,
        ])
    };
    let o = approve(&sign(
        "publisher",
        "ulrich",
        "data-owner",
        "by-uploader.json",
    ));
    assert_eq!(code(&o), 3, "{}", err(&o));
    let o = approve(&sign("grants", "olivia", "data-owner", "by-owner.json"));
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(stdout(&o).trim(), "quarantined");
    let o = approve(&sign(
        "compliance",
        "carol",
        "compliance",
        "by-compliance.json",
    ));
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(stdout(&o).trim(), "approved");
    let o = reg(&[
        "transition",
        "--to",
        "published",
        &cid,
        "--as",
        "user:olivia",
        "--role",
        "data-owner",
        "--reason",
        "release",
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = fetch("out");
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(fs::read(w.p("out/train/a.bin")).unwrap(), bytes(1, 150_000));
    let o = reg(&["--json", "reads", "--version", &cid]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let reads: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(reads["reads"].as_array().unwrap().len(), 1, "{reads}");
    assert_eq!(reads["reads"][0]["principal"], "user:tess");

    // A hold: 4; lifted: read again.
    let o = reg(&[
        "hold",
        "place",
        "--version",
        &cid,
        "--as",
        "user:lee",
        "--role",
        "legal",
        "--reason",
        "case 7",
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let hold = stdout(&o).trim().to_owned();
    let o = fetch("out-held");
    assert_eq!(code(&o), 4, "{}", err(&o));
    assert!(!w.p("out-held").exists());

    // Erasure under the hold is refused (4) and destroys nothing.
    let erase = |receipt: &str| {
        let mut a: Vec<String> = ["registry", "--registry", &registry, "erase"]
            .map(str::to_owned)
            .to_vec();
        a.extend(w.stores(&["a", "b"]));
        a.extend(w.trust());
        a.extend(
            [
                "--key",
                &w.s("job/signing.key"),
                "--receipt",
                &w.s(receipt),
                &cid,
                "--as",
                "user:dora",
                "--role",
                "privacy",
                "--reason",
                "erasure request 41",
            ]
            .map(str::to_owned),
        );
        w.run(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = erase("receipt-held.json");
    assert_eq!(code(&o), 4, "{}", err(&o));
    assert!(!w.p("receipt-held.json").exists());
    let o = reg(&[
        "hold", "lift", &hold, "--as", "user:lee", "--role", "legal", "--reason", "closed",
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = fetch("out-lifted");
    assert_eq!(code(&o), 0, "{}", err(&o));

    // Erase: the key is gone, the receipt verifies against its signer only.
    let o = erase("receipt.json");
    assert_eq!(code(&o), 0, "{}", err(&o));
    let keys: Vec<_> = fs::read_dir(w.p(".dataseal/keys"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(keys.is_empty(), "{keys:?}");
    let trust_job = format!("{}=privacy", w.s("job/signing.pub"));
    let o = reg(&[
        "--json",
        "receipt",
        "verify",
        "--trust",
        &trust_job,
        &w.s("receipt.json"),
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let receipt: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(receipt["manifestCid"], cid.as_str());
    assert_eq!(receipt["keysDestroyed"].as_array().unwrap().len(), 1);
    assert_eq!(receipt["stores"].as_array().unwrap().len(), 2);
    let trust_other = format!("{}=privacy", w.s("grants/signing.pub"));
    let o = reg(&[
        "receipt",
        "verify",
        "--trust",
        &trust_other,
        &w.s("receipt.json"),
    ]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    // Every later fetch: 4, nothing written.
    let o = fetch("out-erased");
    assert_eq!(code(&o), 4, "{}", err(&o));
    assert!(!w.p("out-erased").exists());
}
