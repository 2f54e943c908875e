//! Runs the built `dataseal registry …` against SQLite registries in temporary
//! directories (and once against a throw-away PostgreSQL cluster, when one can be
//! started): the lifecycle, legal holds, grant revocation, consent withdrawal,
//! retention, and bad input, with exit codes, one-line messages, `--json` output, and
//! the registry unchanged after every refusal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

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

/// A refusal: the exit code, nothing on stdout, and one line on stderr that contains
/// `needle`.
#[track_caller]
fn refused(out: &Output, exit: i32, needle: &str) {
    let e = err(out);
    assert_eq!(code(out), exit, "stderr: {e}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(out));
    assert_eq!(e.lines().count(), 1, "not one line: {e}");
    assert!(e.starts_with("dataseal: error: "), "{e}");
    assert!(e.contains(needle), "{e:?} lacks {needle:?}");
}

struct World {
    dir: tempfile::TempDir,
    /// `--registry URL`, or none for the default under the working directory.
    registry: Option<String>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let registry = Some(format!("sqlite:{}", dir.path().join("reg.db").display()));
        Self { dir, registry }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.p(rel).to_str().unwrap().to_owned()
    }

    fn raw(&self, args: &[&str]) -> Output {
        Command::new(DATASEAL)
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// `dataseal registry [--registry URL] ARGS…`.
    fn reg(&self, args: &[&str]) -> Output {
        let mut all = vec!["registry"];
        if let Some(url) = &self.registry {
            all.extend(["--registry", url]);
        }
        all.extend(args);
        self.raw(&all)
    }

    /// A successful `--json` run's document.
    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend(args);
        let out = self.reg(&all);
        assert_eq!(code(&out), 0, "{args:?}: {}", err(&out));
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// A successful plain run's stdout, trimmed.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.reg(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", err(&out));
        stdout(&out).trim().to_owned()
    }

    /// A CID of `text` (the UnixFS CID of a file holding it).
    fn cid(&self, text: &str) -> String {
        let name = format!("cid-{}.txt", text.len());
        fs::write(self.p(&name), text).unwrap();
        let out = self.raw(&["cid", &self.s(&name)]);
        assert_eq!(code(&out), 0, "{}", err(&out));
        stdout(&out).trim().to_owned()
    }

    /// Approves `cid` as its data owner (olivia) and a compliance reviewer (carl) do: two
    /// signed approvals, each verified against the approver keys; the second moves the
    /// version to approved.
    fn approve(&self, cid: &str) {
        let mut specs = Vec::new();
        let mut files = Vec::new();
        for (who, role) in [("olivia", "data-owner"), ("carl", "compliance")] {
            let dir = format!("approver-{who}");
            if !self.p(&dir).exists() {
                let out = self.raw(&["keygen", "--out", &self.s(&dir)]);
                assert_eq!(code(&out), 0, "{}", err(&out));
            }
            let out = self.reg(&[
                "approval-sign",
                "--key",
                &self.s(&format!("{dir}/signing.key")),
                "--approver",
                who,
                "--as-role",
                role,
                cid,
            ]);
            assert_eq!(code(&out), 0, "{}", err(&out));
            let file = format!("approval-{who}-{}.json", &cid[cid.len() - 8..]);
            fs::write(self.p(&file), stdout(&out)).unwrap();
            specs.push(format!(
                "{}={role}:{who}",
                self.s(&format!("{dir}/signing.pub"))
            ));
            files.push(self.s(&file));
        }
        let mut last = String::new();
        for file in &files {
            let mut a = vec!["approve"];
            for spec in &specs {
                a.extend(["--approver", spec.as_str()]);
            }
            a.push(file);
            last = self.ok(&a);
        }
        assert_eq!(last, "approved");
    }

    /// Registers `cid` of `dataset` with extra flags (`--parent`, `--source`, …).
    fn register(&self, cid: &str, dataset: &str, extra: &[&str]) {
        let mut a = vec![
            "register",
            "--cid",
            cid,
            "--dataset",
            dataset,
            "--as",
            "user:ulla",
            "--role",
            "publisher",
            "--reason",
            "upload",
            "--at",
            "2026-12-01T00:00:00Z",
        ];
        a.extend(extra);
        let doc = self.json(&a);
        assert_eq!(doc["state"], "quarantined");
    }

    fn transition(&self, cid: &str, to: &str, who: &str, role: &str) -> Output {
        self.reg(&[
            "transition",
            "--to",
            to,
            cid,
            "--as",
            who,
            "--role",
            role,
            "--reason",
            "reviewed",
        ])
    }

    /// Everything the registry says about a version: status and history.
    fn snapshot(&self, cid: &str) -> (Value, Value, Value) {
        (
            self.json(&["status", cid]),
            self.json(&["history", cid]),
            self.json(&["hold", "list", cid]),
        )
    }
}

/// A signed manifest envelope with a source, a retention end and the publisher's key;
/// returns its manifest CID.
fn signed_envelope(w: &World) -> String {
    let out = w.raw(&["keygen", "--out", &w.s("publisher")]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    let out = w.raw(&["keygen", "--out", &w.s("stranger")]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    fs::create_dir_all(w.p("data")).unwrap();
    fs::write(w.p("data/a.csv"), "id,label\n1,cat\n").unwrap();
    fs::write(
        w.p("meta.json"),
        r#"{"created": "2026-01-01T00:00:00Z", "sensitivity": "public",
            "provenance": {"wasDerivedFrom": [{"uri": "https://example.org/crawl-2025"}]},
            "retention": {"durationDays": 30, "onExpiry": "delete"}}"#,
    )
    .unwrap();
    let out = w.raw(&[
        "manifest",
        "build",
        "--name",
        "acme.claims",
        "--version",
        "1.0.0",
        "--meta",
        &w.s("meta.json"),
        &w.s("data"),
    ]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    fs::write(w.p("manifest.json"), &out.stdout).unwrap();
    let out = w.raw(&[
        "manifest",
        "sign",
        "--key",
        &w.s("publisher/signing.key"),
        "--role",
        "publisher",
        &w.s("manifest.json"),
    ]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    fs::write(w.p("envelope.json"), &out.stdout).unwrap();
    let out = w.raw(&["manifest", "cid", &w.s("envelope.json")]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    stdout(&out).trim().to_owned()
}

#[test]
fn lifecycle_and_legal_holds_in_the_default_registry() {
    let mut w = World::new();
    // The default: sqlite:.dataseal/registry.db in the working directory.
    w.registry = None;
    let cid = signed_envelope(&w);

    // Reading a registry that does not exist creates nothing.
    refused(&w.reg(&["status", &cid]), 2, "no registry at");
    assert!(!w.p(".dataseal").exists());

    let register = |trust: &str| {
        w.reg(&[
            "--json",
            "register",
            "--envelope",
            &w.s("envelope.json"),
            "--trust",
            &format!("{}=publisher", w.s(trust)),
            "--owner",
            "olivia",
            "--organisation",
            "acme",
            "--uploader",
            "ulla",
            "--as",
            "user:ulla",
            "--role",
            "publisher",
            "--reason",
            "upload",
        ])
    };
    // An envelope signed by a key not trusted: exit 1, nothing registered.
    refused(&register("stranger/signing.pub"), 1, "envelope.json");
    let out = register("publisher/signing.pub");
    assert_eq!(code(&out), 0, "{}", err(&out));
    assert!(w.p(".dataseal/registry.db").is_file());
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["cid"], cid.as_str());
    assert_eq!(doc["dataset"], "acme.claims");
    assert_eq!(doc["state"], "quarantined");
    assert_eq!(doc["sources"][0], "https://example.org/crawl-2025");
    assert_eq!(doc["retentionUntil"], "2026-01-31T00:00:00Z");
    assert_eq!(doc["change"]["principal"], "user:ulla");
    // Twice: refused, exit 2.
    refused(&register("publisher/signing.pub"), 2, "already registered");

    // Approved only through verified approvals, never by a plain transition (3).
    let before = w.snapshot(&cid);
    refused(
        &w.transition(&cid, "approved", "user:carl", "compliance"),
        3,
        "approvals verified",
    );
    assert_eq!(w.snapshot(&cid), before);
    w.approve(&cid);
    let doc = w.json(&[
        "transition",
        "--to",
        "published",
        "--from",
        "approved",
        &cid,
        "--as",
        "user:olga",
        "--role",
        "owner",
        "--reason",
        "release",
    ]);
    assert_eq!(doc["from"], "approved");
    assert_eq!(doc["to"], "published");
    assert_eq!(doc["revision"], 2);
    let status = w.json(&["status", &cid]);
    assert_eq!(status["state"], "published");
    assert_eq!(status["held"], false);
    assert_eq!(status["dataActionsPossible"], true);
    assert_eq!(w.ok(&["status", &cid]), "published");

    // A legal hold: status shows it; erasure and expiry exit 4 and change nothing.
    let hold = w.json(&[
        "hold",
        "place",
        "--version",
        &cid,
        "--as",
        "user:lee",
        "--role",
        "legal",
        "--reason",
        "case 17",
    ]);
    let hold_id = hold["hold"].as_str().unwrap().to_owned();
    assert!(hold_id.starts_with("hold-"), "{hold_id}");
    assert_eq!(hold["scope"]["kind"], "version");
    let status = w.json(&["status", &cid]);
    assert_eq!(status["held"], true);
    assert_eq!(status["activeHolds"], 1);
    assert_eq!(status["policyState"]["legalHold"], true);
    assert_eq!(status["dataActionsPossible"], false);
    let before = w.snapshot(&cid);
    for to in ["erased", "expired", "archived"] {
        refused(
            &w.transition(&cid, to, "user:sam", "steward"),
            4,
            "legal hold",
        );
    }
    // Past its retention end, but held: not due.
    let due = w.json(&["retention", "due", "--at", "2027-01-01T00:00:00Z"]);
    assert_eq!(due["versions"], Value::Array(vec![]));
    // Lifting in another role than the one that placed it: exit 3.
    let lift = |who: &str, role: &str| {
        w.reg(&[
            "hold",
            "lift",
            &hold_id,
            "--as",
            who,
            "--role",
            role,
            "--reason",
            "case closed",
        ])
    };
    refused(&lift("user:sam", "steward"), 3, "cannot lift it");
    assert_eq!(w.snapshot(&cid), before);

    // Anyone in the placing role may lift it.
    let out = lift("user:lou", "legal");
    assert_eq!(code(&out), 0, "{}", err(&out));
    assert_eq!(stdout(&out).trim(), hold_id);
    refused(&lift("user:lou", "legal"), 2, "already lifted");
    let holds = w.json(&["hold", "list", &cid]);
    assert_eq!(holds["holds"].as_array().unwrap().len(), 1);
    assert_eq!(holds["holds"][0]["active"], false);
    assert_eq!(holds["holds"][0]["lifted"]["principal"], "user:lou");
    let active = w.json(&["hold", "list", "--active", &cid]);
    assert_eq!(active["holds"], Value::Array(vec![]));
    let shown = w.json(&["hold", "show", &hold_id]);
    assert_eq!(shown["placed"]["reason"], "case 17");
    assert_eq!(w.json(&["status", &cid])["held"], false);

    // Now due, and erasable; erased is final.
    let due = w.json(&["retention", "due", "--at", "2027-01-01T00:00:00Z"]);
    assert_eq!(due["versions"][0], cid.as_str());
    assert_eq!(
        w.ok(&["retention", "due", "--at", "2026-01-15T00:00:00Z"]),
        ""
    );
    let out = w.transition(&cid, "erased", "user:sam", "steward");
    assert_eq!(code(&out), 0, "{}", err(&out));
    refused(
        &w.transition(&cid, "archived", "user:sam", "steward"),
        2,
        "not an allowed transition",
    );
    let history = w.json(&["history", &cid]);
    let tos: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["to"].as_str().unwrap())
        .collect();
    assert_eq!(tos, ["quarantined", "approved", "published", "erased"]);
    assert_eq!(history["history"][0]["from"], Value::Null);
    assert_eq!(history["history"][3]["role"], "steward");
    assert_eq!(w.json(&["status", &cid])["policyState"]["erased"], true);
}

#[test]
fn grants_consent_and_scoped_holds() {
    let w = World::new();
    let (parent, child, other) = (w.cid("parent"), w.cid("child-v"), w.cid("other-ds-v"));
    let source = "https://example.org/people";
    w.register(&parent, "acme.claims", &["--source", source]);
    w.register(&child, "acme.claims", &["--parent", &parent]);
    w.register(&other, "acme.other", &[]);

    // Grant revocation: the first revocation is kept.
    let grant = "0123456789abcdef0123456789abcdef";
    assert_eq!(w.json(&["grant", "show", grant])["revoked"], false);
    let revoke = |why: &str| {
        w.json(&[
            "grant", "revoke", grant, "--as", "user:gus", "--role", "security", "--reason", why,
        ])
    };
    let first = revoke("leaked");
    assert_eq!(first["revoked"], true);
    assert_eq!(first["alreadyRevoked"], false);
    let second = revoke("again");
    assert_eq!(second["alreadyRevoked"], true);
    assert_eq!(second["revocation"]["reason"], "leaked");
    let shown = w.json(&["grant", "show", grant]);
    assert_eq!(shown["revoked"], true);
    assert_eq!(shown["revocation"]["principal"], "user:gus");
    assert_eq!(w.ok(&["grant", "show", grant]), "revoked");

    // Consent withdrawal reaches the child through its parent link.
    let doc = w.json(&[
        "consent",
        "withdraw",
        source,
        "--as",
        "service-account:dpo-bot",
        "--role",
        "privacy",
        "--reason",
        "subject request",
    ]);
    let mut expected = vec![parent.clone(), child.clone()];
    expected.sort();
    let listed: Vec<&str> = doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(doc["withdrawal"]["principal"], "service-account:dpo-bot");
    let status = w.json(&["status", &child]);
    assert_eq!(status["consentWithdrawn"], true);
    assert_eq!(status["policyState"]["revoked"], true);
    assert_eq!(w.json(&["status", &other])["consentWithdrawn"], false);
    assert_eq!(w.json(&["consent", "show", source])["withdrawn"], true);
    assert_eq!(
        w.ok(&["consent", "show", source])
            .lines()
            .collect::<Vec<_>>(),
        expected
    );

    // A hold on the source covers the child; one on a dataset covers later versions.
    let out = w.reg(&[
        "hold", "place", "--source", source, "--as", "user:lee", "--role", "legal", "--reason",
        "case 18",
    ]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    assert_eq!(w.json(&["status", &child])["held"], true);
    assert_eq!(w.json(&["status", &other])["held"], false);
    let out = w.reg(&[
        "hold",
        "place",
        "--dataset",
        "acme.other",
        "--as",
        "user:lee",
        "--role",
        "legal",
        "--reason",
        "case 19",
    ]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    let later = w.cid("later-version-of-other");
    w.register(&later, "acme.other", &[]);
    let status = w.json(&["status", &later]);
    assert_eq!(status["activeHolds"], 1);
    let holds = w.json(&["hold", "list", &later]);
    assert_eq!(holds["holds"][0]["scope"]["kind"], "dataset");
    // Only one scope at a time.
    let out = w.reg(&[
        "hold",
        "place",
        "--source",
        source,
        "--dataset",
        "acme.other",
        "--as",
        "user:lee",
        "--role",
        "legal",
        "--reason",
        "x",
    ]);
    assert_eq!(code(&out), 2, "{}", err(&out));
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let w = World::new();
    let cid = w.cid("a version");
    w.register(&cid, "acme.claims", &[]);
    let unknown = w.cid("never registered");
    let before = w.snapshot(&cid);
    let change = ["--as", "user:x", "--role", "steward", "--reason", "why"];
    let with = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(change);
        w.reg(&a)
    };

    refused(&w.reg(&["status", &unknown]), 2, "unknown version");
    refused(&w.reg(&["history", &unknown]), 2, "unknown version");
    refused(&w.reg(&["hold", "list", &unknown]), 2, "unknown version");
    refused(
        &with(&["transition", "--to", "approved", &unknown]),
        2,
        "unknown version",
    );
    refused(
        &with(&["hold", "place", "--version", &unknown]),
        2,
        "unknown version",
    );
    // quarantined -> published skips approval.
    refused(
        &with(&["transition", "--to", "published", &cid]),
        2,
        "quarantined -> published is not an allowed transition",
    );
    refused(
        &with(&[
            "transition",
            "--to",
            "approved",
            "--from",
            "published",
            &cid,
        ]),
        2,
        "not published",
    );
    refused(
        &with(&["transition", "--to", "Approved", &cid]),
        2,
        "lifecycle state",
    );
    refused(&w.reg(&["status", "bafy-not-a-cid"]), 2, "bafy-not-a-cid");
    refused(
        &with(&["transition", "--to", "approved", "Qm0OIl"]),
        2,
        "Qm0OIl",
    );
    refused(
        &w.reg(&[
            "transition",
            "--to",
            "approved",
            &cid,
            "--as",
            "ulla",
            "--role",
            "x",
            "--reason",
            "y",
        ]),
        2,
        "--as",
    );
    refused(
        &w.reg(&[
            "transition",
            "--to",
            "approved",
            &cid,
            "--as",
            "user:u",
            "--role",
            "x",
            "--reason",
            " padded",
        ]),
        2,
        "--reason",
    );
    refused(
        &with(&["transition", "--to", "approved", &cid, "--at", "yesterday"]),
        2,
        "--at",
    );
    refused(
        &with(&["hold", "lift", "hold-999"]),
        2,
        "unknown legal hold",
    );
    refused(&with(&["hold", "lift", "hold-x"]), 2, "hold-N");
    refused(&with(&["grant", "revoke", "ABC"]), 2, "grant id");
    refused(
        &with(&["register", "--cid", &cid, "--dataset", "Not Valid"]),
        2,
        "--dataset",
    );
    refused(
        &with(&["register", "--cid", &cid, "--dataset", "acme.claims"]),
        2,
        "already registered",
    );
    refused(
        &with(&[
            "register",
            "--cid",
            &unknown,
            "--dataset",
            "acme.claims",
            "--parent",
            &unknown,
        ]),
        2,
        "parent version",
    );
    refused(
        &w.raw(&["registry", "--registry", "mysql://x/y", "status", &cid]),
        2,
        "invalid registry URL",
    );
    // Argument errors from the parser: exit 2 too.
    let out = w.reg(&["transition", "--to", "approved", &cid]);
    assert_eq!(code(&out), 2, "{}", err(&out));
    let out = w.reg(&["register", "--dataset", "acme.claims"]);
    assert_eq!(code(&out), 2, "{}", err(&out));

    // A database that cannot be reached: exit 5, within the timeout.
    let started = std::time::Instant::now();
    let out = w.raw(&[
        "registry",
        "--registry",
        "postgres://nobody@127.0.0.1:1/x?sslmode=disable",
        "--connect-timeout",
        "1",
        "status",
        &cid,
    ]);
    refused(&out, 5, "127.0.0.1:1");
    assert!(started.elapsed().as_secs() < 30);
    let out = w.raw(&[
        "registry",
        "--registry",
        "postgres://nobody@127.0.0.1:1/x?sslmode=disable",
        "--connect-timeout",
        "1",
        "transition",
        "--to",
        "approved",
        &cid,
        "--as",
        "user:x",
        "--role",
        "r",
        "--reason",
        "y",
    ]);
    refused(&out, 5, "cannot reach");

    assert_eq!(w.snapshot(&cid), before);
    assert_eq!(w.ok(&["retention", "due"]), "");
    assert!(
        !w.p(".dataseal").exists(),
        "the default registry was created"
    );
}

#[test]
fn the_same_commands_on_postgres() {
    let Some(cluster) = common::PgCluster::start() else {
        return;
    };
    let mut w = World::new();
    w.registry = Some(cluster.url("postgres"));
    let cid = w.cid("a postgres version");
    w.register(
        &cid,
        "acme.claims",
        &[
            "--source",
            "https://example.org/s",
            "--owner",
            "olivia",
            "--organisation",
            "acme",
            "--uploader",
            "ulla",
        ],
    );
    refused(
        &w.transition(&cid, "approved", "user:carl", "compliance"),
        3,
        "approvals verified",
    );
    w.approve(&cid);
    let hold = w.ok(&[
        "hold",
        "place",
        "--dataset",
        "acme.claims",
        "--as",
        "user:lee",
        "--role",
        "legal",
        "--reason",
        "case 20",
    ]);
    let before = w.snapshot(&cid);
    refused(
        &w.transition(&cid, "erased", "user:sam", "steward"),
        4,
        "legal hold",
    );
    refused(
        &w.reg(&[
            "hold", "lift", &hold, "--as", "user:sam", "--role", "steward", "--reason", "no",
        ]),
        3,
        "cannot lift it",
    );
    assert_eq!(w.snapshot(&cid), before);
    let out = w.reg(&[
        "hold", "lift", &hold, "--as", "user:lou", "--role", "legal", "--reason", "closed",
    ]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    let doc = w.json(&[
        "consent",
        "withdraw",
        "https://example.org/s",
        "--as",
        "user:dpo",
        "--role",
        "privacy",
        "--reason",
        "withdrawn",
    ]);
    assert_eq!(doc["versions"][0], cid.as_str());
    let out = w.transition(&cid, "erased", "user:sam", "steward");
    assert_eq!(code(&out), 0, "{}", err(&out));
    let status = w.json(&["status", &cid]);
    assert_eq!(status["state"], "erased");
    assert_eq!(status["consentWithdrawn"], true);
}
