//! DSSE envelopes (Dead Simple Signing Envelope v1) signed with Ed25519, with
//! role-based threshold verification.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64ct::{Base64, Base64Url, Encoding};
use ed25519_dalek::Signer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Role, SigningKey, Timestamp, VerifyingKey};

/// The DSSE payload type of an in-toto Statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE's pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload`, lengths in ASCII decimal.
///
/// ```
/// assert_eq!(
///     dataseal_base::dsse::pae("http://example.com/HelloWorld", b"hello world"),
///     b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
/// );
/// ```
#[must_use]
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + payload_type.len() + payload.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// A key id: securesystemslib's default for Ed25519, the SHA-256 (lowercase hex) of the
/// canonical JSON `{"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}`.
///
/// Key ids are hints for finding a key, never a security decision: verification tries
/// every trusted key against every signature.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// The key id of an Ed25519 public key.
    #[must_use]
    pub fn of(key: &VerifyingKey) -> Self {
        let canonical = format!(
            "{{\"keytype\":\"ed25519\",\"keyval\":{{\"public\":\"{}\"}},\"scheme\":\"ed25519\"}}",
            hex::encode(key.to_bytes())
        );
        Self(hex::encode(Sha256::digest(canonical.as_bytes())))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// One signature in an envelope: the key id hint, the role the signer claims (an
/// extension field that other DSSE implementations ignore), and the 64-byte Ed25519
/// signature over the PAE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeSignature {
    keyid: String,
    role: Option<Role>,
    sig: Vec<u8>,
}

impl EnvelopeSignature {
    /// The key id hint as written.
    #[must_use]
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The role the signer claims, if any. A claim only counts when the trust policy
    /// grants the verifying key that role.
    #[must_use]
    pub fn role(&self) -> Option<&Role> {
        self.role.as_ref()
    }

    /// The raw signature bytes.
    #[must_use]
    pub fn sig(&self) -> &[u8] {
        &self.sig
    }
}

/// A DSSE envelope: payload type, payload bytes and signatures.
///
/// JSON form: `{"payload": base64, "payloadType": string, "signatures": [{"keyid",
/// "role"?, "sig": base64}]}`, with standard padded base64 written and standard or
/// URL-safe padded base64 read (as securesystemslib does). Parsing rejects unknown
/// fields, unpadded base64 and an empty signature list.
///
/// ```
/// use dataseal_base::dsse::{Envelope, TrustPolicy};
/// use dataseal_base::{Role, SigningKey, Timestamp};
///
/// let publisher = SigningKey::generate()?;
/// let compliance = SigningKey::generate()?;
/// let mut env = Envelope::sign("text/plain", b"hello".to_vec(), &publisher, Some("publisher".parse()?))?;
/// env.add_signature(&compliance, Some("compliance".parse()?))?;
/// let env = Envelope::from_json(env.to_json().as_bytes())?;
///
/// let policy = TrustPolicy::new()
///     .trust(publisher.verifying_key(), "publisher".parse()?)
///     .trust(compliance.verifying_key(), "compliance".parse()?);
/// let verified = policy.verify(&env, "text/plain", Timestamp::now())?;
/// assert_eq!(verified.payload(), b"hello");
/// # Ok::<(), dataseal_base::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<EnvelopeSignature>,
}

/// The JSON form as parsed: the payload's base64 is borrowed from the input when it has
/// no escapes, so a large envelope is not copied before it is decoded.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    payload: std::borrow::Cow<'a, str>,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<RawSignature>,
}

/// Everything of the JSON form after the payload, in the same key order.
#[derive(Serialize)]
struct RawRest<'a> {
    #[serde(rename = "payloadType")]
    payload_type: &'a str,
    signatures: Vec<RawSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    keyid: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    role: Option<String>,
    sig: String,
}

fn b64_decode(field: &str, text: &str) -> Result<Vec<u8>, Error> {
    Base64::decode_vec(text)
        .or_else(|_| Base64Url::decode_vec(text))
        .map_err(|_| Error::InvalidEnvelope(format!("{field}: not padded base64")))
}

impl Envelope {
    /// A new envelope over `payload`, signed once.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEnvelope`] if `payload_type` is empty.
    pub fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        key: &SigningKey,
        role: Option<Role>,
    ) -> Result<Self, Error> {
        if payload_type.is_empty() {
            return Err(Error::InvalidEnvelope("payloadType: empty".to_owned()));
        }
        let mut env = Self {
            payload_type: payload_type.to_owned(),
            payload,
            signatures: Vec::new(),
        };
        env.add_signature(key, role)?;
        Ok(env)
    }

    /// Adds a signature by `key` in `role` over the same payload. Signing twice with
    /// the same key adds nothing: the existing signature is kept.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for signers that can fail (HSMs).
    pub fn add_signature(&mut self, key: &SigningKey, role: Option<Role>) -> Result<(), Error> {
        let keyid = KeyId::of(&key.verifying_key()).0;
        if self
            .signatures
            .iter()
            .any(|s| s.keyid == keyid && s.role == role)
        {
            return Ok(());
        }
        let sig = key.as_dalek().sign(&pae(&self.payload_type, &self.payload));
        self.signatures.push(EnvelopeSignature {
            keyid,
            role,
            sig: sig.to_bytes().to_vec(),
        });
        Ok(())
    }

    /// The payload type.
    #[must_use]
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The payload bytes, unverified.
    #[must_use]
    pub fn payload_unverified(&self) -> &[u8] {
        &self.payload
    }

    /// The signatures, unverified.
    #[must_use]
    pub fn signatures(&self) -> &[EnvelopeSignature] {
        &self.signatures
    }

    /// Parses the JSON form strictly.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEnvelope`] naming the field at fault.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let raw: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| Error::InvalidEnvelope(e.to_string()))?;
        if raw.payload_type.is_empty() {
            return Err(Error::InvalidEnvelope("payloadType: empty".to_owned()));
        }
        if raw.signatures.is_empty() {
            return Err(Error::InvalidEnvelope("signatures: none".to_owned()));
        }
        let payload = b64_decode("payload", &raw.payload)?;
        let signatures =
            raw.signatures
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    let role = s.role.map(Role::new).transpose().map_err(|e| {
                        Error::InvalidEnvelope(format!("signatures[{i}].role: {e}"))
                    })?;
                    let sig = b64_decode(&format!("signatures[{i}].sig"), &s.sig)?;
                    Ok(EnvelopeSignature {
                        keyid: s.keyid,
                        role,
                        sig,
                    })
                })
                .collect::<Result<_, Error>>()?;
        Ok(Self {
            payload_type: raw.payload_type,
            payload,
            signatures,
        })
    }

    /// The signatures in their JSON form.
    fn raw_signatures(&self) -> Vec<RawSignature> {
        self.signatures
            .iter()
            .map(|s| RawSignature {
                keyid: s.keyid.clone(),
                role: s.role.as_ref().map(|r| r.as_str().to_owned()),
                sig: Base64::encode_string(&s.sig),
            })
            .collect()
    }

    /// The JSON form (standard padded base64, keys in lexicographic order, no whitespace).
    #[must_use]
    pub fn to_json(&self) -> String {
        // Written straight into one buffer of the exact length: the payload's base64 is
        // most of an envelope (16 MiB for a 20,000-object manifest), so it is neither
        // encoded into a string of its own nor copied into a growing one.
        const HEAD: &[u8] = b"{\"payload\":\"";
        let rest = RawRest {
            payload_type: &self.payload_type,
            signatures: self.raw_signatures(),
        };
        // Strings and lists of strings always serialise.
        let rest = serde_json::to_vec(&rest).unwrap_or_default();
        let encoded = Base64::encoded_len(&self.payload);
        let mut out = Vec::with_capacity(HEAD.len() + encoded + 1 + rest.len());
        out.extend_from_slice(HEAD);
        let at = out.len();
        out.resize(at + encoded, 0);
        if out
            .get_mut(at..)
            .is_none_or(|dst| Base64::encode(&self.payload, dst).is_err())
        {
            return String::new();
        }
        out.extend_from_slice(b"\",");
        out.extend_from_slice(rest.get(1..).unwrap_or_default());
        String::from_utf8(out).unwrap_or_default()
    }
}

/// A key trusted for some roles, optionally only within a validity window.
#[derive(Clone, Debug)]
struct TrustedKey {
    key: VerifyingKey,
    id: KeyId,
    roles: BTreeSet<Role>,
    not_before: Option<Timestamp>,
    not_after: Option<Timestamp>,
}

/// Which keys are trusted in which roles, and how many distinct keys each role needs.
///
/// Verification ignores key ids, tries every trusted key against every signature, and
/// counts each key **once, toward one role**: the role its signature claims if the policy
/// grants it, or the key's only role when the signature claims none. A key outside its
/// validity window counts for nothing. Every role named in the policy needs at least its
/// threshold (1 unless set) of distinct keys; a policy naming no role verifies nothing.
#[derive(Clone, Debug, Default)]
pub struct TrustPolicy {
    keys: Vec<TrustedKey>,
    thresholds: BTreeMap<Role, usize>,
}

/// The outcome of a successful verification: exactly the payload that was verified, and
/// which keys counted for which roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    payload_type: String,
    payload: Vec<u8>,
    counted: BTreeMap<Role, BTreeSet<KeyId>>,
}

impl VerifiedEnvelope {
    /// The verified payload type.
    #[must_use]
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The verified payload bytes.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Takes the verified payload bytes.
    #[must_use]
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// For each role, the keys whose signatures counted.
    #[must_use]
    pub fn counted(&self) -> &BTreeMap<Role, BTreeSet<KeyId>> {
        &self.counted
    }
}

impl TrustPolicy {
    /// An empty policy (which verifies nothing).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` in `role`, always.
    #[must_use]
    pub fn trust(self, key: VerifyingKey, role: Role) -> Self {
        self.trust_within(key, role, None, None)
    }

    /// Trusts `key` in `role` from `not_before` to `not_after` inclusive.
    #[must_use]
    pub fn trust_within(
        mut self,
        key: VerifyingKey,
        role: Role,
        not_before: Option<Timestamp>,
        not_after: Option<Timestamp>,
    ) -> Self {
        self.thresholds.entry(role.clone()).or_insert(1);
        let id = KeyId::of(&key);
        if let Some(k) = self
            .keys
            .iter_mut()
            .find(|k| k.id == id && k.not_before == not_before && k.not_after == not_after)
        {
            k.roles.insert(role);
        } else {
            self.keys.push(TrustedKey {
                key,
                id,
                roles: BTreeSet::from([role]),
                not_before,
                not_after,
            });
        }
        self
    }

    /// Requires `n` distinct keys in `role` (at least 1).
    #[must_use]
    pub fn threshold(mut self, role: Role, n: usize) -> Self {
        self.thresholds.insert(role, n.max(1));
        self
    }

    /// Evaluates every signature of `envelope` at time `now` without deciding: which
    /// signatures counted for which role, and how each role stands against its
    /// threshold. [`TrustPolicy::verify`] is this plus the decision.
    #[must_use]
    pub fn evaluate(&self, envelope: &Envelope, now: Timestamp) -> Evaluation {
        let message = pae(&envelope.payload_type, &envelope.payload);
        let mut counted: BTreeMap<Role, BTreeSet<KeyId>> = BTreeMap::new();
        let mut used: BTreeSet<KeyId> = BTreeSet::new();
        let mut signatures = Vec::with_capacity(envelope.signatures.len());
        for sig in &envelope.signatures {
            let outcome = self.evaluate_one(sig, &message, now, &used);
            if let SignatureOutcome::Counted { role, key } = &outcome {
                used.insert(key.clone());
                counted.entry(role.clone()).or_default().insert(key.clone());
            }
            signatures.push(outcome);
        }
        let thresholds = self
            .thresholds
            .iter()
            .map(|(role, needed)| RoleTally {
                role: role.clone(),
                needed: *needed,
                found: counted.get(role).map_or(0, BTreeSet::len),
            })
            .collect();
        Evaluation {
            signatures,
            thresholds,
            counted,
        }
    }

    fn evaluate_one(
        &self,
        sig: &EnvelopeSignature,
        message: &[u8],
        now: Timestamp,
        used: &BTreeSet<KeyId>,
    ) -> SignatureOutcome {
        let Ok(bytes) = <[u8; 64]>::try_from(sig.sig.as_slice()) else {
            return SignatureOutcome::Malformed;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        let mut outcome = SignatureOutcome::NoTrustedKey;
        for trusted in &self.keys {
            if trusted
                .key
                .as_dalek()
                .verify_strict(message, &signature)
                .is_err()
            {
                continue;
            }
            if used.contains(&trusted.id) {
                return SignatureOutcome::Duplicate {
                    key: trusted.id.clone(),
                };
            }
            let in_window = trusted.not_before.is_none_or(|t| now >= t)
                && trusted.not_after.is_none_or(|t| now <= t);
            if !in_window {
                outcome = SignatureOutcome::OutsideValidity {
                    key: trusted.id.clone(),
                };
                continue;
            }
            let role = match &sig.role {
                Some(r) if trusted.roles.contains(r) => Some(r.clone()),
                None if trusted.roles.len() == 1 => trusted.roles.first().cloned(),
                _ => None,
            };
            match role {
                Some(role) => {
                    return SignatureOutcome::Counted {
                        role,
                        key: trusted.id.clone(),
                    };
                }
                None => {
                    outcome = SignatureOutcome::RoleNotGranted {
                        key: trusted.id.clone(),
                    }
                }
            }
        }
        outcome
    }

    /// Verifies `envelope` at time `now`: the payload type must be `payload_type`, and
    /// every role's threshold must be met by distinct trusted keys.
    ///
    /// # Errors
    ///
    /// [`Error::PayloadType`] for another payload type; [`Error::NoTrust`] for a policy
    /// without roles; [`Error::ThresholdNotMet`] naming the first role short of
    /// signatures.
    pub fn verify(
        &self,
        envelope: &Envelope,
        payload_type: &str,
        now: Timestamp,
    ) -> Result<VerifiedEnvelope, Error> {
        let counted = self.check(envelope, payload_type, now)?;
        Ok(VerifiedEnvelope {
            payload_type: envelope.payload_type.clone(),
            payload: envelope.payload.clone(),
            counted,
        })
    }

    /// [`TrustPolicy::verify`], consuming the envelope so its payload is moved, not copied
    /// (it matters for manifests of millions of objects).
    ///
    /// # Errors
    ///
    /// As [`TrustPolicy::verify`].
    pub fn verify_into(
        &self,
        envelope: Envelope,
        payload_type: &str,
        now: Timestamp,
    ) -> Result<VerifiedEnvelope, Error> {
        let counted = self.check(&envelope, payload_type, now)?;
        Ok(VerifiedEnvelope {
            payload_type: envelope.payload_type,
            payload: envelope.payload,
            counted,
        })
    }

    fn check(
        &self,
        envelope: &Envelope,
        payload_type: &str,
        now: Timestamp,
    ) -> Result<BTreeMap<Role, BTreeSet<KeyId>>, Error> {
        if envelope.payload_type != payload_type {
            return Err(Error::PayloadType {
                expected: payload_type.to_owned(),
                found: envelope.payload_type.clone(),
            });
        }
        if self.thresholds.is_empty() {
            return Err(Error::NoTrust);
        }
        let evaluation = self.evaluate(envelope, now);
        if let Some(short) = evaluation.thresholds.iter().find(|t| t.found < t.needed) {
            return Err(Error::ThresholdNotMet {
                role: short.role.clone(),
                needed: short.needed,
                found: short.found,
            });
        }
        Ok(evaluation.counted)
    }
}

/// What became of one signature during evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureOutcome {
    /// Valid, from a trusted key in its validity window, counted toward `role`.
    Counted {
        /// The role it counted toward.
        role: Role,
        /// The key that made it.
        key: KeyId,
    },
    /// Valid, but its key already counted through an earlier signature.
    Duplicate {
        /// The key that made it.
        key: KeyId,
    },
    /// Valid, from a trusted key, but the key is not granted the claimed role (or claims
    /// none while holding several).
    RoleNotGranted {
        /// The key that made it.
        key: KeyId,
    },
    /// Valid, from a trusted key, but outside the key's validity window.
    OutsideValidity {
        /// The key that made it.
        key: KeyId,
    },
    /// No trusted key verifies it: a foreign key or a tampered envelope.
    NoTrustedKey,
    /// Not a 64-byte Ed25519 signature.
    Malformed,
}

/// How one role stands against its threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleTally {
    /// The role.
    pub role: Role,
    /// Distinct keys required.
    pub needed: usize,
    /// Distinct keys that counted.
    pub found: usize,
}

/// The detailed result of [`TrustPolicy::evaluate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    signatures: Vec<SignatureOutcome>,
    thresholds: Vec<RoleTally>,
    counted: BTreeMap<Role, BTreeSet<KeyId>>,
}

impl Evaluation {
    /// One outcome per signature, in envelope order.
    #[must_use]
    pub fn signatures(&self) -> &[SignatureOutcome] {
        &self.signatures
    }

    /// Every role of the policy against its threshold.
    #[must_use]
    pub fn thresholds(&self) -> &[RoleTally] {
        &self.thresholds
    }

    /// Whether every threshold is met (and the policy names at least one role).
    #[must_use]
    pub fn is_satisfied(&self) -> bool {
        !self.thresholds.is_empty() && self.thresholds.iter().all(|t| t.found >= t.needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written JSON form is byte for byte what serialising the whole envelope
    /// with serde gives, for payloads of every length modulo 3, with and without roles.
    #[test]
    fn to_json_is_the_serialised_form() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        for len in [0usize, 1, 2, 3, 4, 5, 1000, 1001, 1002] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut env = Envelope::sign("application/x", payload.clone(), &key, None).unwrap();
            env.add_signature(&other, Some(Role::new("publisher").unwrap()))
                .unwrap();
            let raw = RawEnvelope {
                payload: Base64::encode_string(&payload).into(),
                payload_type: "application/x".to_owned(),
                signatures: env.raw_signatures(),
            };
            let json = env.to_json();
            assert_eq!(
                json,
                serde_json::to_string(&raw).unwrap(),
                "payload of {len} bytes"
            );
            assert_eq!(Envelope::from_json(json.as_bytes()).unwrap(), env);
            assert_eq!(json.len(), json.capacity(), "sized exactly");
        }
    }
}
