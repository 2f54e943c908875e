//! Signing and verification: single, multi-role, and every tamper.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use base64ct::{Base64, Encoding};
use common::*;
use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{Role, SigningKey, Timestamp};
use dataseal_manifest::*;

fn role(s: &str) -> Role {
    s.parse().unwrap()
}

/// An in-toto envelope over `payload`, whatever it holds, signed by the publisher.
fn signed_by_publisher(payload: Vec<u8>, k: &Keys) -> Envelope {
    Envelope::sign(
        dataseal_base::dsse::IN_TOTO_PAYLOAD_TYPE,
        payload,
        &k.publisher,
        Some(role("publisher")),
    )
    .unwrap()
}

fn now() -> Timestamp {
    "2026-11-21T00:00:00Z".parse().unwrap()
}

struct Keys {
    publisher: SigningKey,
    compliance: SigningKey,
    stranger: SigningKey,
}

fn keys() -> Keys {
    Keys {
        publisher: SigningKey::generate().unwrap(),
        compliance: SigningKey::generate().unwrap(),
        stranger: SigningKey::generate().unwrap(),
    }
}

fn dual(k: &Keys) -> TrustPolicy {
    TrustPolicy::new()
        .trust(k.publisher.verifying_key(), role("publisher"))
        .trust(k.compliance.verifying_key(), role("compliance"))
}

fn signed_twice(k: &Keys) -> Envelope {
    let mut env = sign(&sample(), &k.publisher, role("publisher")).unwrap();
    cosign(&mut env, &k.compliance, role("compliance")).unwrap();
    env
}

#[test]
fn sign_and_verify_one_and_two_roles() {
    let k = keys();
    let env = sign(&sample(), &k.publisher, role("publisher")).unwrap();
    let one = TrustPolicy::new().trust(k.publisher.verifying_key(), role("publisher"));
    let v = verify(env.to_json().as_bytes(), &one, now()).unwrap();
    assert_eq!(v.manifest(), &sample());
    assert_eq!(v.payload(), sample().to_payload().unwrap().as_slice());
    assert_eq!(v.cid(), manifest_cid(v.payload()));

    // Dual approval: publisher alone is not enough.
    assert!(matches!(
        verify(env.to_json().as_bytes(), &dual(&k), now()),
        Err(Error::Signature(
            dataseal_base::Error::ThresholdNotMet { .. }
        ))
    ));
    let env2 = signed_twice(&k);
    let v = verify(env2.to_json().as_bytes(), &dual(&k), now()).unwrap();
    assert_eq!(v.signers().len(), 2);
    // Adding a signature does not change the manifest's identity.
    assert_eq!(v.cid(), manifest_cid(&sample().to_payload().unwrap()));
}

fn mutate(env: &Envelope, f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();
    f(&mut v);
    v.to_string().into_bytes()
}

#[test]
fn every_tamper_fails() {
    let k = keys();
    let env = signed_twice(&k);
    let policy = dual(&k);
    let payload = env.payload_unverified().to_vec();
    let fails = |bytes: Vec<u8>, what: &str| {
        let r = verify(&bytes, &policy, now());
        assert!(r.is_err(), "{what} verified");
    };
    // A payload byte flipped, at several positions.
    for pos in [0, 1, payload.len() / 2, payload.len() - 1] {
        let mut p = payload.clone();
        p[pos] ^= 0x01;
        fails(
            mutate(&env, |v| v["payload"] = Base64::encode_string(&p).into()),
            "payload byte",
        );
    }
    fails(
        mutate(&env, |v| v["payloadType"] = "application/json".into()),
        "payload type",
    );
    for i in 0..2 {
        fails(
            mutate(&env, |v| {
                let mut s =
                    Base64::decode_vec(v["signatures"][i]["sig"].as_str().unwrap()).unwrap();
                s[10] ^= 0x80;
                v["signatures"][i]["sig"] = Base64::encode_string(&s).into();
            }),
            "signature byte",
        );
    }
    // Roles swapped between the two signatures: each key claims a role it lacks.
    fails(
        mutate(&env, |v| {
            v["signatures"][0]["role"] = "compliance".into();
            v["signatures"][1]["role"] = "publisher".into();
        }),
        "swapped roles",
    );
    // The publisher's signature duplicated in place of the compliance one.
    fails(
        mutate(&env, |v| v["signatures"][1] = v["signatures"][0].clone()),
        "duplicated signature",
    );
    // A stranger's signature claiming the compliance role.
    let mut forged = sign(&sample(), &k.publisher, role("publisher")).unwrap();
    cosign(&mut forged, &k.stranger, role("compliance")).unwrap();
    fails(forged.to_json().into_bytes(), "untrusted key");
    // Malformed envelopes.
    fails(b"{}".to_vec(), "empty object");
    fails(mutate(&env, |v| v["payload"] = "%%%".into()), "bad base64");
    fails(
        mutate(&env, |v| v["signatures"][0]["sig"] = "AAAA".into()),
        "short signature",
    );
}

#[test]
fn expired_and_not_yet_valid_keys_do_not_count() {
    let k = keys();
    let env = sign(&sample(), &k.publisher, role("publisher")).unwrap();
    let policy = TrustPolicy::new().trust_within(
        k.publisher.verifying_key(),
        role("publisher"),
        Some("2026-01-01T00:00:00Z".parse().unwrap()),
        Some("2026-06-30T23:59:59Z".parse().unwrap()),
    );
    assert!(
        verify(
            env.to_json().as_bytes(),
            &policy,
            "2026-03-01T00:00:00Z".parse().unwrap()
        )
        .is_ok()
    );
    assert!(verify(env.to_json().as_bytes(), &policy, now()).is_err());
    assert!(
        verify(
            env.to_json().as_bytes(),
            &policy,
            "2025-12-31T00:00:00Z".parse().unwrap()
        )
        .is_err()
    );
}

#[test]
fn thresholds_above_one_need_distinct_keys() {
    let k = keys();
    let second = SigningKey::generate().unwrap();
    let mut env = sign(&sample(), &k.publisher, role("publisher")).unwrap();
    let policy = TrustPolicy::new()
        .trust(k.publisher.verifying_key(), role("publisher"))
        .trust(second.verifying_key(), role("publisher"))
        .threshold(role("publisher"), 2);
    let err = verify(env.to_json().as_bytes(), &policy, now()).unwrap_err();
    assert!(err.to_string().contains("1 of 2"), "{err}");
    cosign(&mut env, &second, role("publisher")).unwrap();
    assert!(verify(env.to_json().as_bytes(), &policy, now()).is_ok());
}

#[test]
fn signatures_are_checked_before_the_payload_is_parsed() {
    // A validly signed payload that is not a manifest: signatures pass, parsing fails.
    let k = keys();
    let env = signed_by_publisher(b"{\"not\":\"a manifest\"}".to_vec(), &k);
    let policy = TrustPolicy::new().trust(k.publisher.verifying_key(), role("publisher"));
    let err = verify(env.to_json().as_bytes(), &policy, now()).unwrap_err();
    assert!(matches!(err, Error::Json { .. }), "{err}");
    // Co-signing it is refused.
    let mut env = env;
    assert!(cosign(&mut env, &k.compliance, role("compliance")).is_err());
    // A non-canonical but validly signed payload is refused too.
    let payload = String::from_utf8(sample().to_payload().unwrap())
        .unwrap()
        .replacen(',', ", ", 1);
    let env = signed_by_publisher(payload.into_bytes(), &k);
    let err = verify(env.to_json().as_bytes(), &policy, now()).unwrap_err();
    assert!(matches!(err, Error::NonCanonical(_)), "{err}");
}

/// An encryption header is held as canonical text: one whose members are out of order
/// or spaced does not survive as written, so a signed payload carrying one is refused
/// as non-canonical, and the header itself reads back canonically.
#[test]
fn non_canonical_encryption_headers_are_refused() {
    let k = keys();
    let header = EncryptionHeader::from_json(r#"{ "z": 1, "alg": "x", "chunk": 65536 }"#).unwrap();
    assert_eq!(header.to_json(), r#"{"alg":"x","chunk":65536,"z":1}"#);
    assert_eq!(header.as_json(), header.to_json());
    let mut m = sample();
    m.objects[0] = ObjectEntry::encrypted(
        "a.csv".parse().unwrap(),
        10,
        header,
        "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
            .parse()
            .unwrap(),
    );
    let canonical = String::from_utf8(m.to_payload().unwrap()).unwrap();
    assert!(canonical.contains(r#""encryption":{"alg":"x","chunk":65536,"z":1}"#));
    assert_eq!(Manifest::from_payload(canonical.as_bytes()).unwrap(), m);
    let policy = TrustPolicy::new().trust(k.publisher.verifying_key(), role("publisher"));
    for (tampered, canonical_but_for_form) in [
        (r#""encryption":{"z":1,"alg":"x","chunk":65536}"#, true),
        (r#""encryption":{"alg":"x", "chunk":65536,"z":1}"#, true),
        (r#""encryption":{"alg":"x","chunk":65536.0,"z":1}"#, false),
    ] {
        let payload =
            canonical.replace(r#""encryption":{"alg":"x","chunk":65536,"z":1}"#, tampered);
        let env = signed_by_publisher(payload.into_bytes(), &k);
        let err = verify(env.to_json().as_bytes(), &policy, now()).unwrap_err();
        assert_eq!(
            matches!(err, Error::NonCanonical(_)),
            canonical_but_for_form,
            "{tampered}: {err}"
        );
    }
}
