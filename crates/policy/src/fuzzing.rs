//! Entry points for fuzz targets: each takes arbitrary bytes and must never panic.

use std::sync::OnceLock;

use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{SigningKey, Timestamp};

use crate::{EntityStore, Grant, GrantVerifier, PolicyEngine, RequestDocument, verify_log};

fn engine() -> Option<&'static PolicyEngine> {
    static ENGINE: OnceLock<Option<PolicyEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| PolicyEngine::with_defaults().ok())
        .as_ref()
}

fn fixed_now() -> Option<Timestamp> {
    Timestamp::from_unix_seconds(1_795_237_200).ok()
}

/// Parses a request document, and if it parses, decides it against an empty store.
pub fn request_json(data: &[u8]) {
    if let (Ok(doc), Some(engine), Some(now)) =
        (RequestDocument::from_json(data), engine(), fixed_now())
    {
        let clock = if data.first().is_some_and(|b| b % 2 == 0) {
            crate::Clock::WhatIf
        } else {
            crate::Clock::System {
                now,
                skew_seconds: crate::DEFAULT_REQUEST_SKEW_SECONDS,
            }
        };
        let Ok((request, presented)) = doc.into_parts(clock) else {
            return;
        };
        if let Ok(store) = EntityStore::builder(engine).build() {
            let verifier = GrantVerifier::new(0);
            let approvals = crate::ApprovalVerifier::new();
            let decision =
                engine.decide_verified(&store, request, &presented, &verifier, &approvals);
            // No entities: nothing can be allowed.
            assert!(!decision.is_allowed(), "allowed against an empty store");
        }
    }
}

/// Parses an entities document against the shipped schema.
pub fn entities_json(data: &[u8]) {
    if let (Some(engine), Some(now)) = (engine(), fixed_now()) {
        let _ = EntityStore::from_document(engine, data, &TrustPolicy::new(), now);
    }
}

/// Verifies arbitrary text as a grant against a fixed key.
pub fn grant(data: &[u8]) {
    static KEY: OnceLock<Option<SigningKey>> = OnceLock::new();
    let key = KEY.get_or_init(|| SigningKey::generate().ok());
    if let (Some(key), Ok(text), Some(now)) = (key, std::str::from_utf8(data), fixed_now()) {
        let verifier = GrantVerifier::new(60).trust(key.verifying_key());
        let _ = verifier.verify(&Grant::from_token(text), now);
    }
}

/// Verifies arbitrary bytes as an audit log.
pub fn audit_log(data: &[u8]) {
    let _ = verify_log(data, None, None);
}

/// Parses arbitrary bytes as an approval envelope, and verifies it against a fixed key.
pub fn approval(data: &[u8]) {
    static KEY: OnceLock<Option<SigningKey>> = OnceLock::new();
    let key = KEY.get_or_init(|| SigningKey::generate().ok());
    if let (Some(key), Ok(approval), Some(now)) =
        (key, crate::Approval::from_json(data), fixed_now())
    {
        let verifier = crate::ApprovalVerifier::new().trust(
            key.verifying_key(),
            approval.statement_unverified().approver.clone(),
            approval.statement_unverified().role,
        );
        let cid = approval.statement_unverified().cid;
        // Random bytes never carry a signature by a key generated here.
        assert!(
            verifier
                .verify(std::slice::from_ref(&approval), &cid, now)
                .is_err(),
            "an approval verified without its key"
        );
    }
}

/// Parses arbitrary text as user policies beside the defaults.
pub fn policies(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PolicyEngine::builder().policies("fuzz", text).build();
    }
}
