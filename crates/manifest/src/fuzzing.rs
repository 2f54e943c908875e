//! Entry points for the fuzz targets. Not part of the stable API.

use std::sync::OnceLock;

use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{SigningKey, Timestamp};

use crate::{CanonicalPath, Manifest, verify_envelope};

fn policy() -> &'static TrustPolicy {
    static POLICY: OnceLock<TrustPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let key = ed25519_key();
        match "publisher".parse() {
            Ok(role) => TrustPolicy::new().trust(key.verifying_key(), role),
            Err(_) => TrustPolicy::new(),
        }
    })
}

/// A fixed signing key (seed 0x42…), so a corpus can hold validly signed envelopes.
#[must_use]
pub fn ed25519_key() -> SigningKey {
    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC\n-----END PRIVATE KEY-----\n";
    match SigningKey::from_pkcs8_pem(pem) {
        Ok(k) => k,
        Err(_) => unreachable_key(),
    }
}

fn unreachable_key() -> SigningKey {
    // The PEM above is valid; generating is only a fallback that keeps this panic-free.
    SigningKey::generate().unwrap_or_else(|_| std::process::abort())
}

/// Parses arbitrary bytes as an envelope and verifies it against a fixed policy; if it
/// verifies, the manifest must re-encode to exactly the verified payload.
pub fn envelope(data: &[u8]) {
    let Ok(env) = Envelope::from_json(data) else {
        return;
    };
    let now = Timestamp::from_unix_seconds(1_800_000_000).unwrap_or_else(|_| Timestamp::now());
    if let Ok(v) = verify_envelope(&env, policy(), now) {
        let again = v.manifest().to_payload().ok();
        assert_eq!(
            again.as_deref(),
            Some(v.payload()),
            "a verified payload must be canonical"
        );
    }
    let _ = env.to_json();
}

/// Parses arbitrary bytes as a manifest and as a signed payload; whatever parses must
/// round-trip.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = Manifest::from_json(data) {
        let json = m.to_json().ok();
        let back = json.as_deref().and_then(|j| Manifest::from_json(j).ok());
        assert_eq!(back.as_ref(), Some(&m), "a parsed manifest must round-trip");
    }
    if let Ok(m) = Manifest::from_payload(data) {
        assert_eq!(
            m.to_payload().ok().as_deref(),
            Some(data),
            "an accepted payload must be canonical"
        );
    }
}

/// Parses arbitrary bytes as a canonical path; what parses round-trips and has no
/// component that some file system could not write back.
pub fn path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = text.parse::<CanonicalPath>() {
        assert_eq!(p.as_str(), text);
        assert!(!p.as_str().split('/').any(|c| c.is_empty()
            || c == "."
            || c == ".."
            || c.ends_with(['.', ' '])
            || c.contains([':', '\\', '<', '>', '"', '|', '?', '*'])));
        assert!(crate::path::check_collisions([&p]).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics_and_valid_input_round_trips() {
        let inputs: Vec<Vec<u8>> = vec![
            vec![],
            b"{".to_vec(),
            b"{}".to_vec(),
            b"null".to_vec(),
            vec![0xff; 64],
            br#"{"payload":"","payloadType":"x","signatures":[{"keyid":"","sig":""}]}"#.to_vec(),
            "a/./b".into(),
            "é/ü".into(),
        ];
        for data in &inputs {
            envelope(data);
            manifest(data);
            path(data);
        }
    }
}
