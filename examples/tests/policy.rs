//! Runs the built `dataseal authorize`, `grant issue|verify` and `audit verify`
//! subcommands end to end.
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

const DATASEAL: &str = env!("CARGO_BIN_EXE_dataseal");
const T0: &str = "2026-11-21T12:00:00Z";
const T1: &str = "2026-11-21T12:01:00Z";

fn run(args: &[&str]) -> Output {
    Command::new(DATASEAL).args(args).output().unwrap()
}

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

struct World {
    dir: tempfile::TempDir,
    cid: String,
    envelope: Value,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |s: &str| dir.path().join(s);
        for who in ["publisher", "grants", "audit", "rogue", "olivia", "carol"] {
            let out = run(&["keygen", "--out", p(who).to_str().unwrap()]);
            assert_eq!(code(&out), 0, "{}", err(&out));
        }
        fs::create_dir_all(p("data")).unwrap();
        fs::write(p("data/a.csv"), "x,y\n1,2\n").unwrap();
        fs::write(
            p("meta.json"),
            r#"{"datasetId":"claims","version":"1.0.0","license":"CC-BY-4.0","licenseConditions":{"academicUse":true,"attribution":true,"commercialUse":true,"nonCommercialUse":true,"shareAlike":false,"tier":"open"},"purposes":["training","research"],"regions":["EU"],"sensitivity":"internal"}"#,
        )
        .unwrap();
        // An internal version is always encrypted: it is published, and its envelope read
        // back from the store.
        let store = format!("dir:{}", p("store").to_str().unwrap());
        let out = run(&[
            "publish",
            "--store",
            &format!("eu@DE={store}"),
            "--key",
            &format!("{}=publisher", p("publisher/signing.key").to_str().unwrap()),
            "--recipient",
            p("olivia/recipient.pub").to_str().unwrap(),
            "--meta",
            p("meta.json").to_str().unwrap(),
            "--catalog",
            p("catalog").to_str().unwrap(),
            "--keys-dir",
            p("kek").to_str().unwrap(),
            "--journal",
            p("journal").to_str().unwrap(),
            "--replicas",
            "1",
            p("data").to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 0, "{}", err(&out));
        let cid = stdout(&out).trim().to_owned();
        let entry: Value =
            serde_json::from_slice(&fs::read(p(&format!("catalog/{cid}.json"))).unwrap()).unwrap();
        let out = run(&[
            "get",
            "--store",
            &store,
            entry["envelope"].as_str().unwrap(),
            p("envelope.json").to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 0, "{}", err(&out));
        let envelope: Value =
            serde_json::from_slice(&fs::read(p("envelope.json")).unwrap()).unwrap();
        let w = Self { dir, cid, envelope };
        w.write_entities("entities.json", false);
        w
    }

    fn p(&self, s: &str) -> PathBuf {
        self.dir.path().join(s)
    }

    fn s(&self, s: &str) -> String {
        self.p(s).to_str().unwrap().to_owned()
    }

    fn write_entities(&self, name: &str, revoked: bool) {
        let acme = json!({"type": "Dataseal::Group", "id": "acme"});
        let doc = json!({
            "entities": [
                {"uid": {"type": "Dataseal::User", "id": "tess"}, "attrs": {},
                 "parents": [{"type": "Dataseal::Role", "id": "trainer"}, acme]},
                {"uid": {"type": "Dataseal::User", "id": "sam"}, "attrs": {},
                 "parents": [{"type": "Dataseal::Role", "id": "steward"}, acme]},
                {"uid": {"type": "Dataseal::User", "id": "carol"}, "attrs": {},
                 "parents": [{"type": "Dataseal::Role", "id": "compliance-reviewer"}, acme]},
                {"uid": {"type": "Dataseal::User", "id": "olivia"}, "attrs": {}, "parents": [acme]},
                {"uid": {"type": "Dataseal::User", "id": "pete"}, "attrs": {},
                 "parents": [{"type": "Dataseal::Role", "id": "trainer"}]}
            ],
            "versions": [{
                "envelope": self.envelope,
                "owner": "olivia", "organisation": "acme", "uploader": "ulrich",
                "specialCategoryData": false,
                "state": {"revoked": revoked, "legalHold": false, "quarantined": false, "erased": false}
            }]
        });
        fs::write(self.p(name), doc.to_string()).unwrap();
    }

    /// A grant valid from now (the decision point decides at its own clock).
    fn issue(&self, name: &str, principal: &str, purpose: &str) -> String {
        self.issue_at(name, principal, purpose, None)
    }

    fn issue_at(&self, name: &str, principal: &str, purpose: &str, at: Option<&str>) -> String {
        self.issue_for(name, principal, purpose, at, "train")
    }

    fn issue_for(
        &self,
        name: &str,
        principal: &str,
        purpose: &str,
        at: Option<&str>,
        action: &str,
    ) -> String {
        let key = self.s("grants/signing.key");
        let mut args = vec![
            "grant",
            "issue",
            "--key",
            &key,
            "--issuer",
            "grants.test",
            "--principal",
            principal,
            "--cid",
            &self.cid,
            "--purpose",
            purpose,
            "--region",
            "DE",
            "--action",
            action,
        ];
        if let Some(at) = at {
            args.extend(["--at", at]);
        }
        let out = run(&args);
        assert_eq!(code(&out), 0, "{}", err(&out));
        let token = stdout(&out).trim().to_owned();
        assert!(token.starts_with("v4.public."));
        fs::write(self.p(name), &token).unwrap();
        token
    }

    /// A request without a time of its own: decided at the decision point's clock.
    fn request(&self, name: &str, purpose: &str, grant: Option<&str>) {
        self.request_at(name, purpose, grant, None);
    }

    fn request_at(&self, name: &str, purpose: &str, grant: Option<&str>, time: Option<&str>) {
        self.request_as(name, "tess", "train", purpose, grant, time);
    }

    fn request_as(
        &self,
        name: &str,
        user: &str,
        action: &str,
        purpose: &str,
        grant: Option<&str>,
        time: Option<&str>,
    ) {
        let mut r = json!({
            "principal": {"user": user},
            "action": action,
            "resource": {"version": self.cid},
            "purpose": purpose,
            "region": "DE",
        });
        if let Some(t) = time {
            r["time"] = Value::String(t.to_owned());
        }
        if let Some(g) = grant {
            r["grant"] = Value::String(g.to_owned());
        }
        fs::write(self.p(name), r.to_string()).unwrap();
    }

    fn authorize(&self, entities: &str, request: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "authorize".to_owned(),
            "--entities".to_owned(),
            self.s(entities),
            "--request".to_owned(),
            self.s(request),
            "--grant-key".to_owned(),
            self.s("grants/signing.pub"),
            "--trust".to_owned(),
            format!("{}=publisher", self.s("publisher/signing.pub")),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    }
}

#[test]
fn authorize_allows_and_denies_with_reasons() {
    let w = World::new();
    let token = w.issue("grant.txt", "user:tess", "training");
    w.request("ok.json", "training", Some(&token));
    let out = w.authorize("entities.json", "ok.json", &["--json"]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["policies"], json!(["role.trainer.data"]));
    assert_eq!(v["record"]["principal"], "user:tess");
    assert_eq!(v["record"]["resource"], format!("version:{}", w.cid));

    // Purpose not declared by the manifest (and not the grant's): deny, exit 3.
    w.request("evaluation.json", "evaluation", Some(&token));
    let out = w.authorize("entities.json", "evaluation.json", &["--json"]);
    assert_eq!(code(&out), 3, "{}", err(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["policies"], json!(["grant.purpose", "purpose.declared"]));
    assert!(err(&out).contains("forbidden by"), "{}", err(&out));

    // No grant.
    w.request("nogrant.json", "training", None);
    let out = w.authorize("entities.json", "nogrant.json", &[]);
    assert_eq!(code(&out), 3);
    assert!(err(&out).contains("grant.required"), "{}", err(&out));

    // A revoked version.
    w.write_entities("revoked.json", true);
    let out = w.authorize("revoked.json", "ok.json", &[]);
    assert_eq!(code(&out), 4, "a revoked version is exit 4, not 3");
    assert!(err(&out).contains("state.revoked"), "{}", err(&out));

    // A grant for someone else.
    let other = w.issue("other.txt", "user:olivia", "training");
    w.request("other.json", "training", Some(&other));
    let out = w.authorize("entities.json", "other.json", &[]);
    assert_eq!(code(&out), 3);
    assert!(err(&out).contains("grant.principal.user"), "{}", err(&out));

    // A grant the verifier does not trust: deny, with the reason.
    let out = run(&[
        "authorize",
        "--entities",
        &w.s("entities.json"),
        "--request",
        &w.s("ok.json"),
        "--grant-key",
        &w.s("rogue/signing.pub"),
        "--trust",
        &format!("{}=publisher", w.s("publisher/signing.pub")),
    ]);
    assert_eq!(code(&out), 3);
    assert!(err(&out).contains("signature"), "{}", err(&out));

    // Internal data outside its organisation: pete trains, but not at acme.
    let pete = w.issue("pete.txt", "user:pete", "training");
    w.request_as("pete.json", "pete", "train", "training", Some(&pete), None);
    let out = w.authorize("entities.json", "pete.json", &[]);
    assert_eq!(code(&out), 3, "{}", err(&out));
    assert!(
        err(&out).contains("sensitivity.internal.organisation"),
        "{}",
        err(&out)
    );
}

#[test]
fn a_grant_covers_only_the_actions_it_names() {
    let w = World::new();
    // A steward may download, but a training grant does not let them.
    let train = w.issue_for("train.txt", "user:sam", "research", None, "train");
    w.request_as("dl.json", "sam", "download", "research", Some(&train), None);
    let out = w.authorize("entities.json", "dl.json", &["--json"]);
    assert_eq!(code(&out), 3, "{}", err(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["policies"], json!(["grant.action"]));
    // A download grant does.
    let dl = w.issue_for("dl.txt", "user:sam", "research", None, "download");
    w.request_as("dl2.json", "sam", "download", "research", Some(&dl), None);
    let out = w.authorize("entities.json", "dl2.json", &[]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    // Issuing a grant without an action, or for a governance action, is refused.
    let base = [
        "grant",
        "issue",
        "--key",
        &w.s("grants/signing.key"),
        "--issuer",
        "g",
        "--principal",
        "user:sam",
        "--cid",
        &w.cid,
        "--purpose",
        "research",
        "--region",
        "DE",
    ];
    assert_eq!(code(&run(&base)), 2);
    let out = run(&[&base[..], &["--action", "approve"]].concat());
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert!(err(&out).contains("not a data action"), "{}", err(&out));
}

#[test]
fn purposes_are_a_closed_vocabulary() {
    let w = World::new();
    let token = w.issue("grant.txt", "user:tess", "training");
    // "ads-commercial" is no purpose at all: malformed (2), never matched by a pattern.
    w.request("ads.json", "ads-commercial", Some(&token));
    let out = w.authorize("entities.json", "ads.json", &[]);
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert!(err(&out).contains("ads-commercial"), "{}", err(&out));
    // Nor can a grant be issued for one.
    let out = run(&[
        "grant",
        "issue",
        "--key",
        &w.s("grants/signing.key"),
        "--issuer",
        "g",
        "--principal",
        "user:tess",
        "--cid",
        &w.cid,
        "--purpose",
        "ads-commercial",
        "--region",
        "DE",
        "--action",
        "train",
    ]);
    assert_eq!(code(&out), 2, "{}", err(&out));
}

#[test]
fn manifest_keys_come_from_the_decision_points_trust_only() {
    let w = World::new();
    let token = w.issue("grant.txt", "user:tess", "training");
    w.request("ok.json", "training", Some(&token));
    // Keys listed in the entities document: refused (2), never trusted.
    let mut doc: Value =
        serde_json::from_str(&fs::read_to_string(w.p("entities.json")).unwrap()).unwrap();
    let publisher = fs::read_to_string(w.p("publisher/signing.pub")).unwrap();
    doc["trust"] = json!([{"publicKey": publisher, "role": "publisher"}]);
    fs::write(w.p("self-trusting.json"), doc.to_string()).unwrap();
    let base = |entities: &str| {
        vec![
            "authorize".to_owned(),
            "--entities".to_owned(),
            w.s(entities),
            "--request".to_owned(),
            w.s("ok.json"),
            "--grant-key".to_owned(),
            w.s("grants/signing.pub"),
        ]
    };
    let args = base("self-trusting.json");
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert!(err(&out).contains("--trust"), "{}", err(&out));
    // Without --trust, or trusting another key, the version's manifest is not trusted.
    let args = base("entities.json");
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 1, "{}", err(&out));
    let mut args = base("entities.json");
    args.extend([
        "--trust".to_owned(),
        format!("{}=publisher", w.s("rogue/signing.pub")),
    ]);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 1, "{}", err(&out));
    // A threshold the signatures do not meet.
    let out = w.authorize("entities.json", "ok.json", &["--threshold", "publisher=2"]);
    assert_eq!(code(&out), 1, "{}", err(&out));
}

#[test]
fn approvals_are_verified_signatures() {
    use dataseal_policy::{Approval, ApprovalStatement, ApproverRole};
    let w = World::new();
    let key = |who: &str| {
        dataseal_base::SigningKey::from_pkcs8_pem(
            &fs::read_to_string(w.p(&format!("{who}/signing.key"))).unwrap(),
        )
        .unwrap()
    };
    let approval = |who: &str, signer: &str, role: ApproverRole, cid: &str| {
        let statement = ApprovalStatement {
            approver: who.parse().unwrap(),
            cid: cid.parse().unwrap(),
            role,
            time: dataseal_base::Timestamp::now(),
        };
        let a = Approval::sign(&statement, &key(signer)).unwrap();
        serde_json::from_str::<Value>(&a.to_json()).unwrap()
    };
    let token = w.issue("grant.txt", "user:tess", "training");
    let write = |name: &str, approvals: Vec<Value>| {
        let mut r: Value = json!({
            "principal": {"user": "tess"}, "action": "train",
            "resource": {"version": w.cid}, "purpose": "training", "region": "DE",
            "grant": token,
        });
        r["approvals"] = Value::Array(approvals);
        fs::write(w.p(name), r.to_string()).unwrap();
    };
    let approvers = [
        "--approver".to_owned(),
        format!("{}=data-owner:olivia", w.s("olivia/signing.pub")),
        "--approver".to_owned(),
        format!("{}=compliance:carol", w.s("carol/signing.pub")),
    ];
    let approvers: Vec<&str> = approvers.iter().map(String::as_str).collect();
    let owner = approval("olivia", "olivia", ApproverRole::DataOwner, &w.cid);
    let compliance = approval("carol", "carol", ApproverRole::Compliance, &w.cid);

    // Both, verified: the decision goes on (allowed here: the version is not restricted).
    write("both.json", vec![owner.clone(), compliance.clone()]);
    let out = w.authorize("entities.json", "both.json", &approvers);
    assert_eq!(code(&out), 0, "{}", err(&out));

    // Forged (carol's statement signed by the rogue key), wrong role, wrong CID,
    // duplicated: each refused, with the reason (3).
    let other_cid = dataseal_base::Cid::raw_sha256(b"another version").to_string();
    let cases = [
        (
            "forged",
            vec![
                owner.clone(),
                approval("carol", "rogue", ApproverRole::Compliance, &w.cid),
            ],
            "no trusted approver key",
        ),
        (
            "wrong-role",
            vec![approval(
                "olivia",
                "olivia",
                ApproverRole::Compliance,
                &w.cid,
            )],
            "trusted only for olivia as data-owner",
        ),
        (
            "wrong-cid",
            vec![approval(
                "olivia",
                "olivia",
                ApproverRole::DataOwner,
                &other_cid,
            )],
            "is for",
        ),
        (
            "duplicated",
            vec![owner.clone(), owner.clone()],
            "duplicate",
        ),
    ];
    for (name, approvals, why) in cases {
        let file = format!("{name}.json");
        write(&file, approvals);
        let out = w.authorize("entities.json", &file, &approvers);
        assert_eq!(code(&out), 3, "{name}: {}", err(&out));
        assert!(err(&out).contains(why), "{name}: {}", err(&out));
    }
    // Without approver keys, nothing verifies.
    let out = w.authorize("entities.json", "both.json", &[]);
    assert_eq!(code(&out), 3, "{}", err(&out));
    // A bare approver id is no approval: malformed (2).
    let mut r: Value =
        serde_json::from_str(&fs::read_to_string(w.p("both.json")).unwrap()).unwrap();
    r["approvals"] = json!({"dataOwner": "olivia", "complianceReviewer": "carol"});
    fs::write(w.p("bare.json"), r.to_string()).unwrap();
    let out = w.authorize("entities.json", "bare.json", &approvers);
    assert_eq!(code(&out), 2, "{}", err(&out));
}

#[test]
fn a_malformed_request_leaves_a_refusal_in_the_audit_log() {
    let w = World::new();
    let log = w.s("audit.jsonl");
    let audit = [
        "--audit-log",
        &log,
        "--audit-key",
        &w.s("audit/signing.key"),
    ];
    fs::write(
        w.p("bad.json"),
        r#"{"principal":{"user":"tess"},"action":"fly"}"#,
    )
    .unwrap();
    let out = w.authorize("entities.json", "bad.json", &audit);
    assert_eq!(code(&out), 2, "{}", err(&out));
    w.request("ads.json", "ads-commercial", None);
    let out = w.authorize("entities.json", "ads.json", &audit);
    assert_eq!(code(&out), 2, "{}", err(&out));
    let trusted = ["--trust", &w.s("audit/signing.pub")];
    let out = run(&[&["audit", "verify", "--json"][..], &trusted, &[&log]].concat());
    assert_eq!(code(&out), 0, "{}", err(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["report"]["records"], 0);
    assert_eq!(v["report"]["refusals"], 2);
    let text = fs::read_to_string(w.p("audit.jsonl")).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["kind"], "refusal");
    assert_eq!(first["refusal"]["refused"], "malformed");
    assert!(first["refusal"]["reason"].as_str().unwrap().contains("fly"));
    // A what-if evaluation of a malformed request records nothing.
    let out = w.authorize("entities.json", "bad.json", &["--what-if"]);
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert_eq!(fs::read_to_string(w.p("audit.jsonl")).unwrap(), text);
}

#[test]
fn malformed_input_exits_2_and_names_the_problem() {
    let w = World::new();
    let token = w.issue("grant.txt", "user:tess", "training");
    w.request("ok.json", "training", Some(&token));

    fs::write(
        w.p("bad.json"),
        r#"{"principal":{"user":"tess"},"action":"fly"}"#,
    )
    .unwrap();
    let out = w.authorize("entities.json", "bad.json", &[]);
    assert_eq!(code(&out), 2);
    assert!(err(&out).contains("fly"), "{}", err(&out));

    let mut r: Value = serde_json::from_str(&fs::read_to_string(w.p("ok.json")).unwrap()).unwrap();
    r["colour"] = json!("red");
    fs::write(w.p("unknown.json"), r.to_string()).unwrap();
    let out = w.authorize("entities.json", "unknown.json", &[]);
    assert_eq!(code(&out), 2);
    assert!(err(&out).contains("colour"), "{}", err(&out));

    w.request("garbage-grant.json", "training", Some("not-a-token"));
    let out = w.authorize("entities.json", "garbage-grant.json", &[]);
    assert_eq!(code(&out), 2);
    assert!(err(&out).contains("grant"), "{}", err(&out));

    fs::write(
        w.p("bad-entities.json"),
        r#"{"entities":[{"uid":{"type":"Dataseal::User","id":"tess"},"attrs":{"shoeSize":42},"parents":[]}]}"#,
    )
    .unwrap();
    let out = w.authorize("bad-entities.json", "ok.json", &[]);
    assert_eq!(code(&out), 2);
    assert!(err(&out).contains("shoeSize"), "{}", err(&out));

    let out = w.authorize("missing.json", "ok.json", &[]);
    assert_eq!(code(&out), 2);

    // A tampered manifest envelope in the entities: verification failed, exit 1.
    let mut doc: Value =
        serde_json::from_str(&fs::read_to_string(w.p("entities.json")).unwrap()).unwrap();
    let sig = doc["versions"][0]["envelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    doc["versions"][0]["envelope"]["signatures"][0]["sig"] =
        Value::String(format!("{flipped}{}", &sig[1..]));
    fs::write(w.p("tampered.json"), doc.to_string()).unwrap();
    let out = w.authorize("tampered.json", "ok.json", &[]);
    assert_eq!(code(&out), 1, "{}", err(&out));

    // A policy directory with a policy that does not validate.
    fs::create_dir_all(w.p("bad-policies")).unwrap();
    fs::write(
        w.p("bad-policies/x.cedar"),
        r#"@id("x") permit(principal, action, resource) when { resource.shoeSize > 3 };"#,
    )
    .unwrap();
    let out = w.authorize(
        "entities.json",
        "ok.json",
        &["--policies", &w.s("bad-policies")],
    );
    assert_eq!(code(&out), 2);
    assert!(err(&out).contains("validation"), "{}", err(&out));
}

#[test]
fn an_erroring_user_policy_denies() {
    let w = World::new();
    let token = w.issue("grant.txt", "user:tess", "training");
    w.request("ok.json", "training", Some(&token));
    fs::create_dir_all(w.p("policies")).unwrap();
    fs::write(
        w.p("policies/overflow.cedar"),
        "@id(\"user.overflow\")\nforbid (principal, action, resource) when { context.now * 10000000000 > 0 };",
    )
    .unwrap();
    let out = w.authorize(
        "entities.json",
        "ok.json",
        &["--policies", &w.s("policies"), "--json"],
    );
    assert_eq!(code(&out), 3, "{}", err(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["forbid"], false);
    assert!(v["errors"][0].as_str().unwrap().contains("user.overflow"));
}

#[test]
fn grant_verify() {
    let w = World::new();
    w.issue_at("grant.txt", "user:tess", "training", Some(T0));
    let verify = |at: &str, key: &str, file: &str| {
        run(&[
            "grant",
            "verify",
            "--key",
            &w.s(key),
            "--at",
            at,
            "--json",
            &w.s(file),
        ])
    };
    let out = verify(T1, "grants/signing.pub", "grant.txt");
    assert_eq!(code(&out), 0, "{}", err(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["claims"]["sub"], "user:tess");
    assert_eq!(v["claims"]["cid"], w.cid);
    assert_eq!(v["claims"]["exp"], "2026-11-21T12:15:00Z");

    let out = verify("2026-11-21T12:16:00Z", "grants/signing.pub", "grant.txt");
    assert_eq!(code(&out), 1);
    assert!(err(&out).contains("expired"), "{}", err(&out));
    let out = verify("2026-11-21T11:00:00Z", "grants/signing.pub", "grant.txt");
    assert_eq!(code(&out), 1);
    assert!(err(&out).contains("not valid before"), "{}", err(&out));
    let out = verify(T1, "rogue/signing.pub", "grant.txt");
    assert_eq!(code(&out), 1);
    fs::write(w.p("junk.txt"), "hello").unwrap();
    let out = verify(T1, "grants/signing.pub", "junk.txt");
    assert_eq!(code(&out), 2);

    let out = run(&[
        "grant",
        "issue",
        "--key",
        &w.s("grants/signing.key"),
        "--issuer",
        "g",
        "--principal",
        "bob",
        "--cid",
        &w.cid,
        "--purpose",
        "research",
        "--region",
        "DE",
        "--action",
        "train",
    ]);
    assert_eq!(code(&out), 2);
    assert!(err(&out).contains("--principal"), "{}", err(&out));
}

fn tamper(path: &Path, line: usize, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[line - 1] = lines[line - 1].replace(from, to);
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn audit_verify_finds_the_broken_line() {
    let w = World::new();
    let token = w.issue("grant.txt", "user:tess", "training");
    w.request("ok.json", "training", Some(&token));
    w.request("nogrant.json", "training", None);
    let log = w.s("audit.jsonl");
    for (req, expect) in [("ok.json", 0), ("nogrant.json", 3), ("ok.json", 0)] {
        let out = w.authorize(
            "entities.json",
            req,
            &[
                "--audit-log",
                &log,
                "--audit-key",
                &w.s("audit/signing.key"),
            ],
        );
        assert_eq!(code(&out), expect, "{}", err(&out));
    }
    let out = run(&["audit", "verify", "--json", &log]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["report"]["records"], 3);

    // Every decision is followed by its checkpoint: lines 1, 3, 5 are decisions.
    assert_eq!(v["report"]["checkpoints"], 3);
    let trusted = ["--trust", &w.s("audit/signing.pub")];
    let out = run(&[&["audit", "verify"][..], &trusted, &[&log]].concat());
    assert_eq!(code(&out), 0, "{}", err(&out));
    let pristine = fs::read_to_string(w.p("audit.jsonl")).unwrap();

    tamper(&w.p("audit.jsonl"), 3, "\"deny\"", "\"allow\"");
    let out = run(&["audit", "verify", "--json", &log]);
    assert_eq!(code(&out), 1, "{}", err(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (v["line"].as_u64(), v["kind"].as_str()),
        (Some(3), Some("edited"))
    );

    // A forger who flips the deny to allow, drops the checkpoints and re-chains every
    // line passes the bare chain check, but not a trusted one.
    let forged = rechain(&pristine.replace("\"deny\"", "\"allow\""));
    fs::write(w.p("forged.jsonl"), forged).unwrap();
    let out = run(&["audit", "verify", &w.s("forged.jsonl")]);
    assert_eq!(
        code(&out),
        0,
        "the bare chain of a re-chained log holds: {}",
        err(&out)
    );
    let out = run(&[&["audit", "verify"][..], &trusted, &[&w.s("forged.jsonl")]].concat());
    assert_eq!(code(&out), 1, "{}", err(&out));
    assert!(err(&out).contains("unsealed"), "{}", err(&out));

    // A truncated copy (the last decision and its checkpoint cut) against the anchor.
    let lines: Vec<&str> = pristine.lines().collect();
    let cut = lines[..lines.len() - 2].join("\n") + "\n";
    fs::write(w.p("cut.jsonl"), cut).unwrap();
    let anchor = format!("{log}.checkpoint");
    let out = run(&[
        &["audit", "verify"][..],
        &trusted,
        &["--anchor", &anchor, &w.s("cut.jsonl")],
    ]
    .concat());
    assert_eq!(code(&out), 1, "{}", err(&out));
    assert!(err(&out).contains("truncated"), "{}", err(&out));

    // Decisions with an audit log always have a checkpoint key; the anchor can live
    // elsewhere.
    let out = w.authorize(
        "entities.json",
        "ok.json",
        &["--audit-log", &w.s("other.jsonl")],
    );
    assert_eq!(code(&out), 2, "{}", err(&out));
    let elsewhere = tempfile::tempdir().unwrap();
    let far = elsewhere.path().join("anchor.json");
    let out = w.authorize(
        "entities.json",
        "ok.json",
        &[
            "--audit-log",
            &w.s("other.jsonl"),
            "--audit-key",
            &w.s("audit/signing.key"),
            "--anchor",
            far.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", err(&out));
    assert!(far.is_file() && !w.p("other.jsonl.checkpoint").exists());

    let out = run(&["audit", "verify", &w.s("nothing.jsonl")]);
    assert_eq!(code(&out), 2);
}

#[test]
fn concurrent_processes_append_whole_records() {
    let w = World::new();
    let token = w.issue("grant.txt", "user:tess", "training");
    w.request("ok.json", "training", Some(&token));
    let log = w.s("audit.jsonl");
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(DATASEAL)
                .args([
                    "authorize",
                    "--entities",
                    &w.s("entities.json"),
                    "--request",
                    &w.s("ok.json"),
                    "--grant-key",
                    &w.s("grants/signing.pub"),
                    "--trust",
                    &format!("{}=publisher", w.s("publisher/signing.pub")),
                    "--audit-log",
                    &log,
                    "--audit-key",
                    &w.s("audit/signing.key"),
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let out = run(&["audit", "verify", "--json", &log]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["report"]["records"], 8);
}

#[test]
fn decisions_use_the_decision_points_clock() {
    let w = World::new();
    let now = dataseal_base::Timestamp::now().to_string();
    // A request that says it is now (within the skew) is decided.
    let token = w.issue("grant.txt", "user:tess", "training");
    w.request_at("now.json", "training", Some(&token), Some(&now));
    let out = w.authorize("entities.json", "now.json", &[]);
    assert_eq!(code(&out), 0, "{}", err(&out));

    // A 15-minute grant from two weeks ago, with a request that claims it is still then:
    // the request's clock is refused (2), whatever it says.
    let old_grant = w.issue_at("old.txt", "user:tess", "training", Some(T0));
    w.request_at("stale.json", "training", Some(&old_grant), Some(T1));
    let out = w.authorize("entities.json", "stale.json", &[]);
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert!(err(&out).contains("clock"), "{}", err(&out));
    // Without a time of its own it is decided now, and the old grant has expired (3).
    w.request("undated.json", "training", Some(&old_grant));
    let out = w.authorize("entities.json", "undated.json", &[]);
    assert_eq!(code(&out), 3, "{}", err(&out));

    // --skew is bounded.
    let out = w.authorize("entities.json", "now.json", &["--skew", "301"]);
    assert_eq!(code(&out), 2, "{}", err(&out));

    // A what-if evaluation decides at the request's time, and can never be audited.
    let out = w.authorize("entities.json", "stale.json", &["--what-if"]);
    assert_eq!(code(&out), 0, "{}", err(&out));
    let log = w.s("audit.jsonl");
    let out = w.authorize(
        "entities.json",
        "stale.json",
        &["--what-if", "--audit-log", &log],
    );
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert!(!w.p("audit.jsonl").exists());
}

/// Rewrites a log as a forger would: checkpoint lines dropped, sequence numbers and the
/// hash chain recomputed over what is left.
fn rechain(log: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    let mut seq = 0u64;
    for line in log.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if v["kind"] == "checkpoint" {
            continue;
        }
        v["seq"] = json!(seq);
        v["prev"] = json!(prev);
        let text = serde_json::to_string(&v).unwrap();
        prev = hex::encode(Sha256::digest(text.as_bytes()));
        out.push_str(&text);
        out.push('\n');
        seq += 1;
    }
    out
}
