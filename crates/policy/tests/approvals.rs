//! Approvals: the signed format (with its golden vector), the verifier's refusals, and
//! how verified approvals reach the decision.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod common;

use base64ct::{Base64, Encoding};
use common::*;
use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{Cid, SigningKey, Timestamp};
use dataseal_manifest::Sensitivity;
use dataseal_policy::{
    APPROVAL_PAYLOAD_TYPE, AccessRequest, Action, Approval, ApprovalError, ApprovalStatement,
    ApprovalVerifier, ApproverRole, AuditLog, Clock, DecisionPoint, Error, PolicyEngine, Presented,
    Resource, verify_sealed_log,
};
use serde_json::{Value, json};

const GOLDEN: &str = include_str!("data/approval-v1.json");

/// The golden vector's inputs: the secret key of the PASETO v4 test vectors (a
/// published test key, never a real one), a fixed statement.
fn golden_inputs() -> (SigningKey, ApprovalStatement) {
    let v: Value = serde_json::from_str(GOLDEN).unwrap();
    let key = SigningKey::from_pkcs8_pem(v["secretKeyPem"].as_str().unwrap()).unwrap();
    let statement = ApprovalStatement {
        approver: "olivia".parse().unwrap(),
        cid: Cid::raw_sha256(b"dataseal approval golden vector"),
        role: ApproverRole::DataOwner,
        time: "2026-11-21T12:00:00Z".parse().unwrap(),
    };
    (key, statement)
}

#[test]
fn golden_vector() {
    let v: Value = serde_json::from_str(GOLDEN).unwrap();
    let (key, statement) = golden_inputs();
    // The statement's canonical bytes and the whole envelope are fixed.
    let approval = Approval::sign(&statement, &key).unwrap();
    let envelope: Value = serde_json::from_str(&approval.to_json()).unwrap();
    assert_eq!(envelope, v["envelope"]);
    let payload = Base64::decode_vec(v["envelope"]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        v["payload"].as_str().unwrap()
    );
    assert_eq!(v["envelope"]["payloadType"], APPROVAL_PAYLOAD_TYPE);
    // And the stored envelope parses and verifies against the public key.
    let parsed = Approval::from_json(v["envelope"].to_string().as_bytes()).unwrap();
    assert_eq!(parsed.statement_unverified(), &statement);
    let public =
        dataseal_base::VerifyingKey::from_spki_pem(v["publicKeyPem"].as_str().unwrap()).unwrap();
    let verified = ApprovalVerifier::new()
        .trust(public, "olivia".parse().unwrap(), ApproverRole::DataOwner)
        .verify(&[parsed], &statement.cid, now())
        .unwrap();
    assert_eq!(verified.data_owner().map(|u| u.as_str()), Some("olivia"));
    assert_eq!(verified.compliance_reviewer(), None);
}

/// Regenerates `tests/data/approval-v1.json` (run with `--ignored`); a change to the
/// format must be deliberate.
#[test]
#[ignore = "writes the golden vector"]
fn generate_golden_vector() {
    let v: Value = serde_json::from_str(GOLDEN).unwrap();
    let (key, statement) = golden_inputs();
    let approval = Approval::sign(&statement, &key).unwrap();
    let envelope: Value = serde_json::from_str(&approval.to_json()).unwrap();
    let out = json!({
        "description": v["description"],
        "secretKeyPem": v["secretKeyPem"],
        "publicKeyPem": key.verifying_key().to_spki_pem().unwrap(),
        "payload": String::from_utf8(serde_json::to_vec(&statement).unwrap()).unwrap(),
        "envelope": envelope,
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/approval-v1.json");
    std::fs::write(path, serde_json::to_string_pretty(&out).unwrap() + "\n").unwrap();
}

struct Approvers {
    olivia: SigningKey,
    carol: SigningKey,
    rogue: SigningKey,
    verifier: ApprovalVerifier,
}

fn approvers() -> Approvers {
    let olivia = SigningKey::generate().unwrap();
    let carol = SigningKey::generate().unwrap();
    let rogue = SigningKey::generate().unwrap();
    let verifier = ApprovalVerifier::new()
        .trust(
            olivia.verifying_key(),
            user("olivia"),
            ApproverRole::DataOwner,
        )
        .trust(
            carol.verifying_key(),
            user("carol"),
            ApproverRole::Compliance,
        );
    Approvers {
        olivia,
        carol,
        rogue,
        verifier,
    }
}

fn signed(who: &str, role: ApproverRole, cid: Cid, time: Timestamp, key: &SigningKey) -> Approval {
    Approval::sign(
        &ApprovalStatement {
            approver: user(who),
            cid,
            role,
            time,
        },
        key,
    )
    .unwrap()
}

#[test]
fn forged_duplicated_wrong_role_and_wrong_cid_approvals_are_refused() {
    let a = approvers();
    let cid = Cid::raw_sha256(b"v1");
    let other = Cid::raw_sha256(b"v2");
    let owner = signed("olivia", ApproverRole::DataOwner, cid, now(), &a.olivia);
    let reviewer = signed("carol", ApproverRole::Compliance, cid, now(), &a.carol);
    let ok = a
        .verifier
        .verify(&[owner.clone(), reviewer.clone()], &cid, now())
        .unwrap();
    assert_eq!(ok.data_owner(), Some(&user("olivia")));
    assert_eq!(ok.compliance_reviewer(), Some(&user("carol")));

    let refused = |approvals: &[Approval]| a.verifier.verify(approvals, &cid, now()).unwrap_err();
    // Forged: carol's statement, another key.
    let forged = signed("carol", ApproverRole::Compliance, cid, now(), &a.rogue);
    assert!(matches!(
        refused(&[forged]),
        ApprovalError::BadSignature { .. }
    ));
    // Carol's key claiming to be olivia: a trusted key, for someone else.
    let impersonated = signed("olivia", ApproverRole::DataOwner, cid, now(), &a.carol);
    assert!(matches!(
        refused(&[impersonated]),
        ApprovalError::NotAuthorised { .. }
    ));
    // Wrong role: olivia's key is trusted only as data owner.
    let wrong_role = signed("olivia", ApproverRole::Compliance, cid, now(), &a.olivia);
    assert!(matches!(
        refused(&[wrong_role]),
        ApprovalError::NotAuthorised { .. }
    ));
    // Wrong CID.
    let wrong_cid = signed("olivia", ApproverRole::DataOwner, other, now(), &a.olivia);
    assert!(matches!(
        refused(&[wrong_cid]),
        ApprovalError::WrongCid { .. }
    ));
    // Duplicated, and one person in both roles.
    assert!(matches!(
        refused(&[owner.clone(), owner.clone()]),
        ApprovalError::Duplicate(_)
    ));
    let both = ApprovalVerifier::new()
        .trust(
            a.olivia.verifying_key(),
            user("olivia"),
            ApproverRole::DataOwner,
        )
        .trust(
            a.olivia.verifying_key(),
            user("olivia"),
            ApproverRole::Compliance,
        );
    let as_reviewer = signed("olivia", ApproverRole::Compliance, cid, now(), &a.olivia);
    assert!(matches!(
        both.verify(&[owner.clone(), as_reviewer], &cid, now()),
        Err(ApprovalError::Duplicate(_))
    ));
    // Dated in the future; older than the age limit.
    let later = signed(
        "olivia",
        ApproverRole::DataOwner,
        cid,
        now().saturating_add_seconds(3600),
        &a.olivia,
    );
    assert!(matches!(
        refused(&[later]),
        ApprovalError::FromTheFuture { .. }
    ));
    let old = signed(
        "olivia",
        ApproverRole::DataOwner,
        cid,
        now().saturating_add_seconds(-7200),
        &a.olivia,
    );
    let strict = a.verifier.clone().with_max_age_seconds(3600);
    assert!(matches!(
        strict.verify(&[old], &cid, now()),
        Err(ApprovalError::Expired { .. })
    ));
    // No trusted key at all.
    assert!(
        ApprovalVerifier::new()
            .verify(&[owner], &cid, now())
            .is_err()
    );
}

#[test]
fn approval_envelopes_are_parsed_strictly() {
    let a = approvers();
    let cid = Cid::raw_sha256(b"v1");
    let statement = json!({"approver": "olivia", "cid": cid.to_string(), "role": "data-owner",
                           "time": "2026-11-21T12:00:00Z"});
    let sign = |payload_type: &str, payload: String| {
        Envelope::sign(payload_type, payload.into_bytes(), &a.olivia, None)
            .unwrap()
            .to_json()
    };
    // The canonical form parses.
    let good = sign(APPROVAL_PAYLOAD_TYPE, statement.to_string());
    assert!(Approval::from_json(good.as_bytes()).is_ok());
    // Another payload type, whitespace, another key order, an unknown field, an
    // unknown role: malformed.
    let cases = [
        sign("application/vnd.in-toto+json", statement.to_string()),
        sign(
            APPROVAL_PAYLOAD_TYPE,
            serde_json::to_string_pretty(&statement).unwrap(),
        ),
        sign(
            APPROVAL_PAYLOAD_TYPE,
            format!(
                r#"{{"cid":"{cid}","approver":"olivia","role":"data-owner","time":"2026-11-21T12:00:00Z"}}"#
            ),
        ),
        sign(
            APPROVAL_PAYLOAD_TYPE,
            format!(
                r#"{{"approver":"olivia","cid":"{cid}","role":"data-owner","time":"2026-11-21T12:00:00Z","x":1}}"#
            ),
        ),
        sign(
            APPROVAL_PAYLOAD_TYPE,
            format!(
                r#"{{"approver":"olivia","cid":"{cid}","role":"owner","time":"2026-11-21T12:00:00Z"}}"#
            ),
        ),
        "{}".to_owned(),
        "[".to_owned(),
    ];
    for case in cases {
        assert!(
            matches!(
                Approval::from_json(case.as_bytes()),
                Err(ApprovalError::Malformed(_))
            ),
            "{case}"
        );
    }
}

fn restricted_world() -> World {
    World::new(&[(
        "restricted",
        Spec {
            sensitivity: Sensitivity::Restricted,
            ..Spec::default()
        },
    )])
}

#[test]
fn only_verified_approvals_reach_the_policies() {
    let w = restricted_world();
    let cid = w.cid("restricted");
    let req = w.request(u("tess"), Action::Read, "restricted", "research", "DE");
    let decide = |approvals: Vec<Approval>| {
        w.engine.decide_verified(
            &w.store,
            req.clone(),
            &Presented {
                grant: None,
                approvals,
            },
            &dataseal_policy::GrantVerifier::new(0),
            &w.approvals,
        )
    };
    // The request already carries its verified grant; present only approvals.
    let d = decide(vec![w.approval("olivia", cid), w.approval("carol", cid)]);
    assert!(d.is_allowed(), "{:?}", d.errors());
    // One approval: the dual-approval rule denies.
    let d = decide(vec![w.approval("olivia", cid)]);
    assert_eq!(
        d.determining_policies(),
        ["sensitivity.restricted.dual-approval"]
    );
    // A forged one: denied with the reason, whatever else is presented.
    let rogue = SigningKey::generate().unwrap();
    let forged = signed("carol", ApproverRole::Compliance, cid, now(), &rogue);
    let d = decide(vec![w.approval("olivia", cid), forged]);
    assert!(!d.is_allowed());
    assert!(d.errors()[0].contains("approval"), "{:?}", d.errors());
    // Approvals for a dataset-level request are refused.
    let upload = AccessRequest::new(
        u("ulrich"),
        Action::Upload,
        Resource::Dataset("claims".parse().unwrap()),
        "research".parse().unwrap(),
        "DE".parse().unwrap(),
        now(),
    );
    let d = w.engine.decide_verified(
        &w.store,
        upload,
        &Presented {
            grant: None,
            approvals: vec![w.approval("olivia", cid)],
        },
        &dataseal_policy::GrantVerifier::new(0),
        &w.approvals,
    );
    assert!(!d.is_allowed());
}

#[test]
fn the_decision_point_records_refusals_of_malformed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let log = AuditLog::open(dir.path().join("audit.jsonl")).with_checkpoints(key.clone(), 1);
    let point = DecisionPoint::new(PolicyEngine::with_defaults().unwrap(), TrustPolicy::new())
        .with_audit_log(log);
    let clock = Clock::System {
        now: Timestamp::now(),
        skew_seconds: 60,
    };
    for bad in [
        &b"not json"[..],
        br#"{"principal":{"user":"tess"},"action":"train","resource":{"dataset":"claims"},"purpose":"ads-commercial","region":"DE"}"#,
        br#"{"principal":{"user":"tess"},"action":"train","resource":{"dataset":"claims"},"purpose":"training","region":"DE","time":"2020-01-01T00:00:00Z"}"#,
    ] {
        assert!(matches!(
            point.authorize(b"{}", bad, clock),
            Err(Error::Request(_))
        ));
    }
    // Entities that do not load: refused and recorded too.
    let good = br#"{"principal":{"user":"tess"},"action":"upload","resource":{"dataset":"claims"},"purpose":"training","region":"DE"}"#;
    assert!(point.authorize(b"[", good, clock).is_err());
    // A well-formed request is decided and recorded.
    let authorized = point.authorize(b"{}", good, clock).unwrap();
    assert!(!authorized.decision.is_allowed());
    assert!(authorized.appended.is_some());
    // A what-if evaluation is never recorded, malformed or not.
    assert!(point.authorize(b"{}", b"{", Clock::WhatIf).is_err());

    let bytes = std::fs::read(dir.path().join("audit.jsonl")).unwrap();
    let trust = TrustPolicy::new().trust(key.verifying_key(), "audit".parse().unwrap());
    let report = verify_sealed_log(&bytes, &trust, None).unwrap();
    assert_eq!((report.refusals, report.records), (4, 1));
}

/// Among many trusted approvers, an approval verifies whatever the order of the keys,
/// and one signed with another trusted approver's key names whose key it was.
#[test]
fn approvals_verify_among_many_trusted_approvers() {
    let cid = Cid::raw_sha256(b"v1");
    let keys: Vec<SigningKey> = (0..40).map(|_| SigningKey::generate().unwrap()).collect();
    let mut verifier = ApprovalVerifier::new();
    for (i, key) in keys.iter().enumerate() {
        verifier = verifier.trust(
            key.verifying_key(),
            user(&format!("approver-{i}")),
            ApproverRole::Compliance,
        );
    }
    for i in [0, 17, 39] {
        let approval = signed(
            &format!("approver-{i}"),
            ApproverRole::Compliance,
            cid,
            now(),
            &keys[i],
        );
        let ok = verifier.verify(&[approval], &cid, now()).unwrap();
        assert_eq!(
            ok.compliance_reviewer(),
            Some(&user(&format!("approver-{i}")))
        );
    }
    let impersonated = signed(
        "approver-3",
        ApproverRole::Compliance,
        cid,
        now(),
        &keys[30],
    );
    match verifier.verify(&[impersonated], &cid, now()).unwrap_err() {
        ApprovalError::NotAuthorised { key_holder, .. } => {
            assert_eq!(key_holder, user("approver-30"));
        }
        other => panic!("{other}"),
    }
}

/// Signature checks are remembered between calls, and nothing else is: the same
/// approval checked again is refused for another version, for another time, and a
/// forgery of the same statement is refused after the genuine one verified.
#[test]
fn remembered_signature_checks_never_widen_what_is_accepted() {
    let a = approvers();
    let cid = Cid::raw_sha256(b"v1");
    let other = Cid::raw_sha256(b"v2");
    let owner = signed("olivia", ApproverRole::DataOwner, cid, now(), &a.olivia);
    for _ in 0..3 {
        assert!(
            a.verifier
                .verify(std::slice::from_ref(&owner), &cid, now())
                .is_ok()
        );
    }
    assert!(matches!(
        a.verifier
            .verify(std::slice::from_ref(&owner), &other, now())
            .unwrap_err(),
        ApprovalError::WrongCid { .. }
    ));
    let forged = signed("olivia", ApproverRole::DataOwner, cid, now(), &a.rogue);
    assert!(matches!(
        a.verifier.verify(&[forged], &cid, now()).unwrap_err(),
        ApprovalError::BadSignature { .. }
    ));
    let later = a.verifier.clone().with_max_age_seconds(60);
    let old = now().saturating_add_seconds(-3600);
    let stale = signed("olivia", ApproverRole::DataOwner, cid, old, &a.olivia);
    assert!(
        later
            .verify(std::slice::from_ref(&stale), &cid, now())
            .is_err()
    );
    assert!(
        a.verifier
            .verify(std::slice::from_ref(&stale), &cid, now())
            .is_ok()
    );
    assert!(
        later.verify(&[stale], &cid, now()).is_err(),
        "still too old"
    );
}
