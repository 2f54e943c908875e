//! DSSE envelopes: PAE, key ids, strict parsing, and every way a signature can fail to count.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

use base64ct::{Base64, Encoding};
use dataseal_base::dsse::{Envelope, KeyId, TrustPolicy, pae};
use dataseal_base::{Error, Role, SigningKey, Timestamp};

const PT: &str = "application/vnd.in-toto+json";

fn role(s: &str) -> Role {
    s.parse().unwrap()
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn now() -> Timestamp {
    t("2026-06-01T00:00:00Z")
}

fn keys() -> (SigningKey, SigningKey, SigningKey) {
    (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    )
}

#[test]
fn pae_matches_the_dsse_test_vector() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
}

#[test]
fn key_id_is_securesystemslib_default() {
    // From RFC 8032 test 1: public key d75a98…511a.
    let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n";
    let key = dataseal_base::VerifyingKey::from_spki_pem(pem).unwrap();
    assert_eq!(
        hex::encode(key.to_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    // sha256 of {"keytype":"ed25519","keyval":{"public":"d75a…511a"},"scheme":"ed25519"}
    let expected = {
        use sha2::Digest;
        let canon = "{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\"},\"scheme\":\"ed25519\"}";
        hex::encode(sha2::Sha256::digest(canon.as_bytes()))
    };
    assert_eq!(KeyId::of(&key).as_str(), expected);
}

#[test]
fn single_and_dual_signatures_verify() {
    let (a, b, _) = keys();
    let mut env = Envelope::sign(PT, b"{}".to_vec(), &a, Some(role("publisher"))).unwrap();
    let one = TrustPolicy::new().trust(a.verifying_key(), role("publisher"));
    assert_eq!(one.verify(&env, PT, now()).unwrap().payload(), b"{}");
    env.add_signature(&b, Some(role("compliance"))).unwrap();
    let env = Envelope::from_json(env.to_json().as_bytes()).unwrap();
    let two = one.clone().trust(b.verifying_key(), role("compliance"));
    let v = two.verify(&env, PT, now()).unwrap();
    assert_eq!(v.counted().len(), 2);
    // Dual approval fails without the second signature.
    let only_a = Envelope::sign(PT, b"{}".to_vec(), &a, Some(role("publisher"))).unwrap();
    let err = two.verify(&only_a, PT, now()).unwrap_err();
    assert!(
        matches!(err, Error::ThresholdNotMet { ref role, needed: 1, found: 0 } if role.as_str() == "compliance"),
        "{err}"
    );
}

#[test]
fn tampered_payload_type_signature_or_swapped_signatures_fail() {
    let (a, b, _) = keys();
    let policy = TrustPolicy::new().trust(a.verifying_key(), role("publisher"));
    let env = Envelope::sign(PT, b"{\"a\":1}".to_vec(), &a, Some(role("publisher"))).unwrap();
    let json: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();

    let mut v = json.clone();
    v["payload"] = Base64::encode_string(b"{\"a\":2}").into();
    let e = Envelope::from_json(v.to_string().as_bytes()).unwrap();
    assert!(matches!(
        policy.verify(&e, PT, now()),
        Err(Error::ThresholdNotMet { .. })
    ));

    // The payload type is covered by the PAE.
    let mut v = json.clone();
    v["payloadType"] = "application/json".into();
    let e = Envelope::from_json(v.to_string().as_bytes()).unwrap();
    assert!(matches!(
        policy.verify(&e, "application/json", now()),
        Err(Error::ThresholdNotMet { .. })
    ));
    assert!(matches!(
        policy.verify(&e, PT, now()),
        Err(Error::PayloadType { .. })
    ));

    for byte in [0usize, 31, 32, 63] {
        let mut sig = env.signatures()[0].sig().to_vec();
        sig[byte] ^= 1;
        let mut v = json.clone();
        v["signatures"][0]["sig"] = Base64::encode_string(&sig).into();
        let e = Envelope::from_json(v.to_string().as_bytes()).unwrap();
        assert!(policy.verify(&e, PT, now()).is_err(), "sig byte {byte}");
    }

    // Signatures swapped between two envelopes over different payloads.
    let env2 = Envelope::sign(PT, b"{\"a\":3}".to_vec(), &b, Some(role("publisher"))).unwrap();
    let mut v = json;
    let v2: serde_json::Value = serde_json::from_str(&env2.to_json()).unwrap();
    v["signatures"] = v2["signatures"].clone();
    let e = Envelope::from_json(v.to_string().as_bytes()).unwrap();
    let both = policy.clone().trust(b.verifying_key(), role("publisher"));
    assert!(matches!(
        both.verify(&e, PT, now()),
        Err(Error::ThresholdNotMet { .. })
    ));
}

#[test]
fn a_duplicated_signature_counts_once() {
    let (a, _, _) = keys();
    let env = Envelope::sign(PT, b"x".to_vec(), &a, Some(role("publisher"))).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();
    let sig = v["signatures"][0].clone();
    v["signatures"].as_array_mut().unwrap().push(sig);
    let e = Envelope::from_json(v.to_string().as_bytes()).unwrap();
    assert_eq!(e.signatures().len(), 2);
    let policy = TrustPolicy::new()
        .trust(a.verifying_key(), role("publisher"))
        .threshold(role("publisher"), 2);
    let err = policy.verify(&e, PT, now()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                needed: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    // Signing again with the same key and role adds nothing.
    let mut e2 = env.clone();
    e2.add_signature(&a, Some(role("publisher"))).unwrap();
    assert_eq!(e2.signatures().len(), 1);
}

#[test]
fn one_key_cannot_fill_two_roles() {
    let (a, _, _) = keys();
    let mut env = Envelope::sign(PT, b"x".to_vec(), &a, Some(role("publisher"))).unwrap();
    env.add_signature(&a, Some(role("compliance"))).unwrap();
    let policy = TrustPolicy::new()
        .trust(a.verifying_key(), role("publisher"))
        .trust(a.verifying_key(), role("compliance"));
    let err = policy.verify(&env, PT, now()).unwrap_err();
    assert!(matches!(err, Error::ThresholdNotMet { .. }), "{err}");
}

#[test]
fn wrong_role_and_untrusted_keys_do_not_count() {
    let (a, b, c) = keys();
    let env = Envelope::sign(PT, b"x".to_vec(), &a, Some(role("compliance"))).unwrap();
    let policy = TrustPolicy::new().trust(a.verifying_key(), role("publisher"));
    assert!(policy.verify(&env, PT, now()).is_err());
    let env = Envelope::sign(PT, b"x".to_vec(), &c, Some(role("publisher"))).unwrap();
    assert!(policy.verify(&env, PT, now()).is_err());
    // No claimed role: counts toward the key's only role.
    let env = Envelope::sign(PT, b"x".to_vec(), &a, None).unwrap();
    assert!(policy.verify(&env, PT, now()).is_ok());
    // ... but not when the key has several roles.
    let ambiguous = policy.clone().trust(a.verifying_key(), role("compliance"));
    assert!(ambiguous.verify(&env, PT, now()).is_err());
    // An empty policy verifies nothing.
    assert!(matches!(
        TrustPolicy::new().verify(&env, PT, now()),
        Err(Error::NoTrust)
    ));
    let _ = b;
}

#[test]
fn key_ids_are_hints_only() {
    let (a, _, _) = keys();
    let env = Envelope::sign(PT, b"x".to_vec(), &a, Some(role("publisher"))).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();
    v["signatures"][0]["keyid"] = "not-the-key-id".into();
    let e = Envelope::from_json(v.to_string().as_bytes()).unwrap();
    let policy = TrustPolicy::new().trust(a.verifying_key(), role("publisher"));
    assert!(policy.verify(&e, PT, now()).is_ok());
}

#[test]
fn validity_windows_are_enforced() {
    let (a, _, _) = keys();
    let env = Envelope::sign(PT, b"x".to_vec(), &a, Some(role("publisher"))).unwrap();
    let policy = TrustPolicy::new().trust_within(
        a.verifying_key(),
        role("publisher"),
        Some(t("2026-01-01T00:00:00Z")),
        Some(t("2026-12-31T23:59:59Z")),
    );
    assert!(policy.verify(&env, PT, now()).is_ok());
    assert!(
        policy.verify(&env, PT, t("2027-01-01T00:00:00Z")).is_err(),
        "expired key"
    );
    assert!(
        policy.verify(&env, PT, t("2025-12-31T23:59:59Z")).is_err(),
        "not yet valid"
    );
    assert!(
        policy.verify(&env, PT, t("2026-12-31T23:59:59Z")).is_ok(),
        "inclusive end"
    );
}

#[test]
fn parsing_is_strict() {
    let (a, _, _) = keys();
    let env = Envelope::sign(PT, b"hello".to_vec(), &a, None).unwrap();
    let good = env.to_json();
    assert_eq!(Envelope::from_json(good.as_bytes()).unwrap(), env);
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let mut cases = Vec::new();
    let mut x = v.clone();
    x["extra"] = 1.into();
    cases.push((x, "extra"));
    let mut x = v.clone();
    x["signatures"] = serde_json::json!([]);
    cases.push((x, "signatures"));
    let mut x = v.clone();
    x["payload"] = "aGVsbG8".into(); // unpadded
    cases.push((x, "payload"));
    let mut x = v.clone();
    x["payload"] = "!!!!".into();
    cases.push((x, "payload"));
    let mut x = v.clone();
    x["signatures"][0]["sig"] = "AAA".into();
    cases.push((x, "sig"));
    let mut x = v.clone();
    x["signatures"][0]["role"] = "Bad Role".into();
    cases.push((x, "role"));
    let mut x = v.clone();
    x["signatures"][0]["other"] = 1.into();
    cases.push((x, "other"));
    let mut x = v.clone();
    x.as_object_mut().unwrap().remove("payloadType");
    cases.push((x, "payloadType"));
    let mut x = v;
    x["signatures"][0].as_object_mut().unwrap().remove("keyid");
    cases.push((x, "keyid"));
    for (doc, what) in cases {
        let err = Envelope::from_json(doc.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, Error::InvalidEnvelope(_)), "{what}: {err}");
    }
    // URL-safe padded base64 is accepted on input, as securesystemslib does.
    let url = good.replace('+', "-").replace('/', "_");
    assert!(Envelope::from_json(url.as_bytes()).is_ok());
    // A signature of the wrong length is ignored, not a crash.
    let short = good.replace(&Base64::encode_string(env.signatures()[0].sig()), "AAAA");
    let e = Envelope::from_json(short.as_bytes()).unwrap();
    assert!(
        TrustPolicy::new()
            .trust(a.verifying_key(), role("p"))
            .verify(&e, PT, now())
            .is_err()
    );
}
