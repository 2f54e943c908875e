//! Provider-score attestations: round trip, validity window, tampering, foreign keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

mod common;

use common::*;
use dataseal_base::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, TrustPolicy};
use dataseal_base::{Role, SigningKey};
use dataseal_reputation::{
    DefaultModel, DefaultParams, Error, EventLog, PROVIDER_SCORE_PREDICATE_TYPE,
    ProviderAttestation, ScoringModel,
};

fn role() -> Role {
    "observer".parse().unwrap()
}

fn setup() -> (ProviderAttestation, SigningKey, TrustPolicy) {
    let log = EventLog::from_events(mixed_stream(100));
    let mut model = DefaultModel::new(DefaultParams::default()).unwrap();
    model.observe_all(log.events());
    let b = model.score(&pid("good")).unwrap();
    let a = ProviderAttestation::from_breakdown(
        &b,
        model.model_id(),
        model.params_digest(),
        log.head(),
        log.events()[0].time(),
        ts(100 * 3600),
        ts(100 * 3600 + 86_400),
    )
    .unwrap();
    let key = SigningKey::generate().unwrap();
    let policy = TrustPolicy::new().trust(key.verifying_key(), role());
    (a, key, policy)
}

#[test]
fn round_trip_through_json() {
    let (a, key, policy) = setup();
    let env = a.sign(&key, Some(role())).unwrap();
    assert_eq!(env.payload_type(), IN_TOTO_PAYLOAD_TYPE);
    let env = Envelope::from_json(env.to_json().as_bytes()).unwrap();
    let back = ProviderAttestation::verify(&env, &policy, ts(100 * 3600 + 60)).unwrap();
    assert_eq!(back, a);
    assert_eq!(back.model.as_str(), "dataseal-default/1");
    assert!(back.score_micro > 900_000);
    assert!(back.factors_micro.contains_key("retrieval"));
    assert!(back.figures_micro["checks"] > 0);
    let payload: serde_json::Value = serde_json::from_slice(env.payload_unverified()).unwrap();
    assert_eq!(payload["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(payload["predicateType"], PROVIDER_SCORE_PREDICATE_TYPE);
    assert_eq!(payload["subject"][0]["name"], "good");
    // Integers only, keys sorted: no float in the payload.
    fn no_floats(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) => n.is_i64() || n.is_u64(),
            serde_json::Value::Array(a) => a.iter().all(no_floats),
            serde_json::Value::Object(o) => o.values().all(no_floats),
            _ => true,
        }
    }
    assert!(no_floats(&payload));
    let text = std::str::from_utf8(env.payload_unverified()).unwrap();
    assert_eq!(
        serde_json::to_string(&payload).unwrap(),
        text,
        "keys sorted, no whitespace"
    );
}

#[test]
fn validity_window_is_enforced() {
    let (a, key, policy) = setup();
    let env = a.sign(&key, Some(role())).unwrap();
    assert!(ProviderAttestation::verify(&env, &policy, a.issued_at).is_ok());
    assert!(ProviderAttestation::verify(&env, &policy, a.expires_at).is_ok());
    assert!(matches!(
        ProviderAttestation::verify(&env, &policy, a.expires_at.saturating_add_seconds(1)),
        Err(Error::Expired { .. })
    ));
    assert!(matches!(
        ProviderAttestation::verify(&env, &policy, a.issued_at.saturating_add_seconds(-1)),
        Err(Error::NotYetValid { .. })
    ));
    let mut bad = a.clone();
    bad.expires_at = bad.issued_at;
    let env = bad.sign(&key, None).unwrap();
    assert!(matches!(
        ProviderAttestation::verify(&env, &policy, a.issued_at),
        Err(Error::MalformedAttestation(_))
    ));
}

#[test]
fn tampered_and_foreign_signed_attestations_are_rejected() {
    let (a, key, policy) = setup();
    let env = a.sign(&key, Some(role())).unwrap();
    let now = ts(100 * 3600 + 60);
    // Raise the score in the payload, keep the signature.
    let json: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();
    let payload = String::from_utf8(env.payload_unverified().to_vec()).unwrap();
    let forged = payload.replacen(
        &format!("\"score_micro\":{}", a.score_micro),
        "\"score_micro\":1000000",
        1,
    );
    assert_ne!(forged, payload);
    let mut json2 = json.clone();
    json2["payload"] = serde_json::Value::String(base64(&forged));
    let tampered = Envelope::from_json(json2.to_string().as_bytes()).unwrap();
    assert!(matches!(
        ProviderAttestation::verify(&tampered, &policy, now),
        Err(Error::Signature(_))
    ));
    // Signed by a key the policy does not trust.
    let stranger = SigningKey::generate().unwrap();
    let foreign = a.sign(&stranger, Some(role())).unwrap();
    assert!(matches!(
        ProviderAttestation::verify(&foreign, &policy, now),
        Err(Error::Signature(_))
    ));
    // A trusted key signing something that is not a provider-score statement.
    let other = Envelope::sign(
        IN_TOTO_PAYLOAD_TYPE,
        br#"{"_type":"x"}"#.to_vec(),
        &key,
        Some(role()),
    )
    .unwrap();
    assert!(matches!(
        ProviderAttestation::verify(&other, &policy, now),
        Err(Error::MalformedAttestation(_))
    ));
    // The wrong subject.
    let wrong_subject = payload.replacen("\"name\":\"good\"", "\"name\":\"bad\"", 1);
    let env2 = Envelope::sign(
        IN_TOTO_PAYLOAD_TYPE,
        wrong_subject.into_bytes(),
        &key,
        Some(role()),
    )
    .unwrap();
    assert!(matches!(
        ProviderAttestation::verify(&env2, &policy, now),
        Err(Error::MalformedAttestation(_))
    ));
}

fn base64(s: &str) -> String {
    // Standard padded base64, written out to avoid a dependency in the test.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                out.push(T[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
