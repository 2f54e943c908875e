//! Access grants: issue, verify, and every way a grant must be refused.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod common;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::*;
use dataseal_base::{Cid, SigningKey, Timestamp};
use dataseal_policy::*;

fn request(cid: Cid) -> GrantRequest {
    GrantRequest {
        principal: u("tess"),
        actions: Action::DATA.into_iter().collect(),
        cid,
        purpose: "training".parse().unwrap(),
        region: "DE".parse().unwrap(),
    }
}

fn setup() -> (GrantIssuer, GrantVerifier, Cid) {
    let key = SigningKey::generate().unwrap();
    let verifier = GrantVerifier::new(30).trust(key.verifying_key());
    (
        GrantIssuer::new(key, "grants.test"),
        verifier,
        Cid::raw_sha256(b"v"),
    )
}

fn at(offset: i64) -> Timestamp {
    now().saturating_add_seconds(offset)
}

#[test]
fn issue_and_verify() {
    let (issuer, verifier, cid) = setup();
    let g = issuer.issue(&request(cid), now()).unwrap();
    assert!(g.as_str().starts_with("v4.public."));
    // The footer names the key (a hint only).
    let footer = g.as_str().rsplit('.').next().unwrap();
    let footer = Base64UrlUnpadded::decode_vec(footer).unwrap();
    assert!(
        String::from_utf8(footer)
            .unwrap()
            .starts_with("{\"kid\":\"")
    );

    let v = verifier
        .verify(&Grant::from_token(g.to_string()), now())
        .unwrap();
    let c = v.claims();
    assert_eq!(c.cid, cid);
    assert_eq!(c.sub, u("tess"));
    assert_eq!(c.purpose.as_str(), "training");
    assert_eq!(c.region.as_str(), "DE");
    assert_eq!(c.iss, "grants.test");
    assert_eq!(c.nbf, now());
    assert_eq!(c.exp, at(DEFAULT_GRANT_TTL_SECONDS));
    assert_eq!(v.accepted_window(), (at(-30), at(15 * 60 + 30)));
    // Unique ids.
    let again = issuer.issue(&request(cid), now()).unwrap();
    let again = verifier.verify(&again, now()).unwrap();
    assert_ne!(again.id(), v.id());
}

#[test]
fn expiry_with_skew() {
    let key = SigningKey::generate().unwrap();
    let issuer = GrantIssuer::new(key.clone(), "grants.test");
    let verifier = GrantVerifier::new(30).trust(key.verifying_key());
    let g = issuer
        .issue(&request(Cid::raw_sha256(b"v")), now())
        .unwrap();
    // Inside the skew after exp: accepted.
    assert!(verifier.verify(&g, at(15 * 60 + 29)).is_ok());
    match verifier.verify(&g, at(15 * 60 + 30)) {
        Err(GrantError::Expired { expires, .. }) => assert_eq!(expires, at(15 * 60)),
        other => panic!("{other:?}"),
    }
    // Skew is a parameter: with none, expiry is exact.
    let strict = GrantVerifier::new(0).trust(key.verifying_key());
    assert!(strict.verify(&g, at(15 * 60 - 1)).is_ok());
    assert!(matches!(
        strict.verify(&g, at(15 * 60)),
        Err(GrantError::Expired { .. })
    ));
}

fn other_key() -> dataseal_base::VerifyingKey {
    SigningKey::generate().unwrap().verifying_key()
}

#[test]
fn not_yet_valid_with_skew() {
    let key = SigningKey::generate().unwrap();
    let issuer = GrantIssuer::new(key.clone(), "grants.test");
    let verifier = GrantVerifier::new(30).trust(key.verifying_key());
    let g = issuer
        .issue(&request(Cid::raw_sha256(b"v")), at(100))
        .unwrap();
    assert!(verifier.verify(&g, at(70)).is_ok(), "inside the skew");
    match verifier.verify(&g, at(69)) {
        Err(GrantError::NotYetValid { not_before, .. }) => assert_eq!(not_before, at(100)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn long_lived_and_empty_windows_are_refused() {
    let key = SigningKey::generate().unwrap();
    let verifier = GrantVerifier::new(30).trust(key.verifying_key());
    let long = GrantIssuer::new(key.clone(), "g").with_ttl_seconds(2 * 3600);
    let g = long.issue(&request(Cid::raw_sha256(b"v")), now()).unwrap();
    assert!(matches!(
        verifier.verify(&g, now()),
        Err(GrantError::BadWindow { .. })
    ));
    let relaxed = verifier.clone().with_max_lifetime_seconds(3 * 3600);
    assert!(relaxed.verify(&g, now()).is_ok());

    let verified = relaxed.verify(&g, now()).unwrap();
    let mut claims = verified.claims().clone();
    claims.exp = claims.nbf;
    let empty = GrantIssuer::new(key, "g").sign_claims(&claims).unwrap();
    assert!(matches!(
        relaxed.verify(&empty, now()),
        Err(GrantError::BadWindow { .. })
    ));
}

#[test]
fn bad_signatures_and_foreign_keys() {
    let (issuer, verifier, cid) = setup();
    let g = issuer.issue(&request(cid), now()).unwrap();
    // Flip one character of the signed part.
    let text = g.as_str();
    let body_start = "v4.public.".len();
    let mut bytes = text.as_bytes().to_vec();
    bytes[body_start + 5] = if bytes[body_start + 5] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = Grant::from_token(String::from_utf8(bytes).unwrap());
    assert!(matches!(
        verifier.verify(&tampered, now()),
        Err(GrantError::BadSignature | GrantError::Malformed(_))
    ));
    // Change the payload (a claim) and keep the signature: refused.
    let parts: Vec<&str> = text.split('.').collect();
    let raw = Base64UrlUnpadded::decode_vec(parts[2]).unwrap();
    let (payload, sig) = raw.split_at(raw.len() - 64);
    let forged_payload = String::from_utf8(payload.to_vec())
        .unwrap()
        .replace("\"training\"", "\"research\"");
    let mut forged = forged_payload.into_bytes();
    forged.extend_from_slice(sig);
    let forged = format!(
        "v4.public.{}.{}",
        Base64UrlUnpadded::encode_string(&forged),
        parts[3]
    );
    assert_eq!(
        verifier.verify(&Grant::from_token(forged), now()),
        Err(GrantError::BadSignature)
    );
    // A grant from a key the verifier does not trust.
    let rogue = GrantIssuer::new(SigningKey::generate().unwrap(), "grants.test");
    let g = rogue.issue(&request(cid), now()).unwrap();
    assert_eq!(verifier.verify(&g, now()), Err(GrantError::BadSignature));
    // Trusting several keys: any of them verifies.
    let both = verifier.trust(other_key());
    assert!(
        both.verify(&issuer.issue(&request(cid), now()).unwrap(), now())
            .is_ok()
    );
}

#[test]
fn malformed_tokens() {
    let (_, verifier, _) = setup();
    for bad in [
        "",
        "garbage",
        "v4.local.AAAA",
        "v4.public.",
        "v4.public.!!!!",
        "v4.public.AAAA",
        "v3.public.AAAA",
        "v4.public.AAAA.AAAA.AAAA",
    ] {
        let r = verifier.verify(&Grant::from_token(bad), now());
        assert!(
            matches!(r, Err(GrantError::Malformed(_) | GrantError::BadSignature)),
            "{bad:?}: {r:?}"
        );
    }
}

#[test]
fn a_token_signed_without_our_implicit_assertion_is_refused() {
    // Another system's token under the same key, with the same claims but without the
    // implicit assertion dataseal binds, must not verify here.
    use pasetors::keys::AsymmetricSecretKey;
    use pasetors::version4::{PublicToken, V4};
    let key = SigningKey::generate().unwrap();
    let verifier = GrantVerifier::new(30).trust(key.verifying_key());
    let issuer = GrantIssuer::new(key.clone(), "g");
    let good = issuer
        .issue(&request(Cid::raw_sha256(b"v")), now())
        .unwrap();
    let claims = verifier.verify(&good, now()).unwrap().claims().clone();
    let mut pair = key.as_dalek().to_bytes().to_vec();
    pair.extend_from_slice(&key.verifying_key().to_bytes());
    let secret = AsymmetricSecretKey::<V4>::from(&pair).unwrap();
    let payload = serde_json::to_vec(&claims).unwrap();
    for implicit in [None, Some(&b"dataseal/grant/v2"[..])] {
        let token = PublicToken::sign(&secret, &payload, None, implicit).unwrap();
        assert_eq!(
            verifier.verify(&Grant::from_token(token), now()),
            Err(GrantError::BadSignature)
        );
    }
    let token = PublicToken::sign(&secret, &payload, None, Some(GRANT_IMPLICIT_ASSERTION)).unwrap();
    assert!(verifier.verify(&Grant::from_token(token), now()).is_ok());
}

#[test]
fn claims_bind_the_request_in_cedar() {
    let w = World::new(&[("a", Spec::default()), ("b", Spec::default())]);
    let base = || w.request(u("tess"), Action::Train, "a", "training", "DE");
    assert!(w.decide(&base()).is_allowed());
    let cases: [(&str, VerifiedGrant); 5] = [
        (
            "grant.cid",
            w.grant_for(&u("tess"), w.cid("b"), "training", "DE"),
        ),
        (
            "grant.purpose",
            w.grant_for(&u("tess"), w.cid("a"), "research", "DE"),
        ),
        (
            "grant.region",
            w.grant_for(&u("tess"), w.cid("a"), "training", "FR"),
        ),
        (
            "grant.principal.user",
            w.grant_for(&u("pete"), w.cid("a"), "training", "DE"),
        ),
        (
            "grant.principal.user",
            w.grant_for(&sa("job-7"), w.cid("a"), "training", "DE"),
        ),
    ];
    for (policy, grant) in cases {
        let d = w.decide(&base().with_grant(grant));
        assert!(!d.is_allowed());
        assert_eq!(d.determining_policies(), [policy]);
        assert!(d.audit_record().grant.is_some());
    }
}

#[test]
fn grants_must_name_their_actions() {
    // A grant made before grants named actions (no `actions` claim), one naming none,
    // one naming a governance action, or a purpose outside the vocabulary: refused as
    // malformed, even though the signature is good.
    use pasetors::keys::AsymmetricSecretKey;
    use pasetors::version4::{PublicToken, V4};
    let key = SigningKey::generate().unwrap();
    let verifier = GrantVerifier::new(30).trust(key.verifying_key());
    let issuer = GrantIssuer::new(key.clone(), "g");
    let good = issuer
        .issue(&request(Cid::raw_sha256(b"v")), now())
        .unwrap();
    let claims = verifier.verify(&good, now()).unwrap().claims().clone();
    let mut pair = key.as_dalek().to_bytes().to_vec();
    pair.extend_from_slice(&key.verifying_key().to_bytes());
    let secret = AsymmetricSecretKey::<V4>::from(&pair).unwrap();
    let value = serde_json::to_value(&claims).unwrap();
    let edits: [&dyn Fn(&mut serde_json::Value); 4] = [
        &|v| {
            v.as_object_mut().unwrap().remove("actions");
        },
        &|v| v["actions"] = serde_json::json!([]),
        &|v| v["actions"] = serde_json::json!(["approve"]),
        &|v| v["purpose"] = serde_json::json!("ads-commercial"),
    ];
    for edit in edits {
        let mut v = value.clone();
        edit(&mut v);
        let payload = serde_json::to_vec(&v).unwrap();
        let token =
            PublicToken::sign(&secret, &payload, None, Some(GRANT_IMPLICIT_ASSERTION)).unwrap();
        assert!(
            matches!(
                verifier.verify(&Grant::from_token(token), now()),
                Err(GrantError::Malformed(_))
            ),
            "{v}"
        );
    }
    // Nor are such grants issued.
    let mut none = request(Cid::raw_sha256(b"v"));
    none.actions.clear();
    assert!(matches!(
        issuer.issue(&none, now()),
        Err(GrantError::Malformed(_))
    ));
    let mut governance = request(Cid::raw_sha256(b"v"));
    governance.actions = [Action::Erase].into();
    assert!(matches!(
        issuer.issue(&governance, now()),
        Err(GrantError::Malformed(_))
    ));
}

#[test]
fn a_revoked_grant_is_refused_before_it_expires() {
    let (issuer, verifier, cid) = setup();
    let g = issuer.issue(&request(cid), now()).unwrap();
    let other = issuer.issue(&request(cid), now()).unwrap();
    let id = verifier.verify(&g, now()).unwrap().id().clone();
    let revoking = verifier.revoke(id.clone());
    assert!(matches!(
        revoking.verify(&g, now()),
        Err(GrantError::Revoked(ref s)) if *s == id.to_string()
    ));
    // Only that grant.
    assert!(revoking.verify(&other, now()).is_ok());
}
