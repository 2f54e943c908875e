//! Access grants: short-lived, purpose-bound PASETO v4.public tokens signed with Ed25519.
//!
//! A grant says: principal P may do the data actions A to the dataset version with
//! manifest CID C for purpose U in region R from `nbf` to `exp`. It verifies offline with the issuer's public key;
//! its claims become Cedar context, where the default policies bind them to the request.

use std::collections::BTreeSet;
use std::fmt;

use dataseal_base::dsse::KeyId;
use dataseal_base::{Cid, Region, SigningKey, Timestamp, VerifyingKey};
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::{Action, DataPurpose, Principal, ServiceAccountId, UserId};

/// The implicit assertion every dataseal grant is signed with (PASETO §"implicit
/// assertions"): a token made for another system with the same key does not verify here.
pub const GRANT_IMPLICIT_ASSERTION: &[u8] = b"dataseal/grant/v1";

/// The default lifetime of a grant: 15 minutes.
pub const DEFAULT_GRANT_TTL_SECONDS: i64 = 15 * 60;

/// The longest window a verifier accepts by default: 1 hour.
pub const DEFAULT_MAX_GRANT_LIFETIME_SECONDS: i64 = 60 * 60;

/// Why a grant was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// Not a PASETO v4.public token, or its claims or footer are malformed.
    #[error("malformed grant: {0}")]
    Malformed(String),
    /// No trusted issuer key verifies the signature.
    #[error("no trusted issuer key verifies the grant's signature")]
    BadSignature,
    /// The grant's window starts after `now` (skew included).
    #[error("grant {id} is not valid before {not_before} (now {now})")]
    NotYetValid {
        /// The grant id.
        id: String,
        /// Its start.
        not_before: Timestamp,
        /// The verifier's clock.
        now: Timestamp,
    },
    /// The grant expired before `now` (skew included).
    #[error("grant {id} expired at {expires} (now {now})")]
    Expired {
        /// The grant id.
        id: String,
        /// Its end.
        expires: Timestamp,
        /// The verifier's clock.
        now: Timestamp,
    },
    /// The window is empty, reversed, or longer than the verifier accepts.
    #[error("grant {id}: window {not_before}..{expires} is empty or longer than {max_seconds} s")]
    BadWindow {
        /// The grant id.
        id: String,
        /// Its start.
        not_before: Timestamp,
        /// Its end.
        expires: Timestamp,
        /// The longest window accepted.
        max_seconds: i64,
    },
    /// Signing failed (a key that PASETO refuses).
    #[error("cannot sign the grant: {0}")]
    Signing(String),
    /// The grant was revoked before it expired.
    #[error("grant {0} was revoked")]
    Revoked(String),
}

/// A grant's unique id: 32 lowercase hexadecimal characters (128 random bits).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GrantId(String);

impl GrantId {
    fn random() -> Result<Self, dataseal_base::Error> {
        let mut bytes = [0u8; 16];
        dataseal_base::random_bytes(&mut bytes)?;
        Ok(Self(hex::encode(bytes)))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GrantId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s))
        } else {
            Err(format!(
                "grant id {s:?}: expected 32 lowercase hex characters"
            ))
        }
    }
}

impl From<GrantId> for String {
    fn from(id: GrantId) -> Self {
        id.0
    }
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GrantId({})", self.0)
    }
}

/// The claims of a grant (the token's JSON payload).
///
/// `iss`, `sub`, `jti`, `iat`, `nbf` and `exp` are PASETO's registered claims (times in
/// the canonical RFC 3339 form `YYYY-MM-DDTHH:MM:SSZ`); `actions`, `cid`, `purpose` and
/// `region` are dataseal's. `sub` is `user:ID` or `service-account:ID`. Every claim is
/// required: a grant that names no actions (made before grants named them) is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantClaims {
    /// The data actions the grant covers (at least one).
    pub actions: BTreeSet<Action>,
    /// The manifest CID of the one dataset version the grant is for.
    pub cid: Cid,
    /// The end of the window (exclusive).
    pub exp: Timestamp,
    /// When it was issued.
    pub iat: Timestamp,
    /// Who issued it (free text, for the audit trail).
    pub iss: String,
    /// The unique id.
    pub jti: GrantId,
    /// The start of the window (inclusive).
    pub nbf: Timestamp,
    /// The purpose.
    pub purpose: DataPurpose,
    /// The region.
    pub region: Region,
    /// The principal it was issued to.
    #[serde(with = "subject")]
    pub sub: Principal,
}

mod subject {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::{Principal, ServiceAccountId, UserId};

    pub(super) fn serialize<S: Serializer>(p: &Principal, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(p)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Principal, D::Error> {
        let text = String::deserialize(d)?;
        let parsed = if let Some(id) = text.strip_prefix("user:") {
            UserId::new(id).map(Principal::User)
        } else if let Some(id) = text.strip_prefix("service-account:") {
            ServiceAccountId::new(id).map(Principal::ServiceAccount)
        } else {
            return Err(serde::de::Error::custom(format!(
                "sub {text:?}: expected user:ID or service-account:ID"
            )));
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Footer {
    kid: String,
}

/// What a grant is for; [`GrantIssuer::issue`] adds the id, the issuer and the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRequest {
    /// Who may use it.
    pub principal: Principal,
    /// The dataset version, by manifest CID.
    pub cid: Cid,
    /// The data actions it covers (at least one).
    pub actions: BTreeSet<Action>,
    /// For what.
    pub purpose: DataPurpose,
    /// Where.
    pub region: Region,
}

/// Issues grants with one Ed25519 key.
#[derive(Debug)]
pub struct GrantIssuer {
    key: SigningKey,
    name: String,
    ttl_seconds: i64,
}

impl GrantIssuer {
    /// An issuer named `name` (recorded in every grant) signing with `key`, issuing
    /// grants valid for [`DEFAULT_GRANT_TTL_SECONDS`].
    #[must_use]
    pub fn new(key: SigningKey, name: impl Into<String>) -> Self {
        Self {
            key,
            name: name.into(),
            ttl_seconds: DEFAULT_GRANT_TTL_SECONDS,
        }
    }

    /// Grants from now on last `seconds` (at least 1).
    #[must_use]
    pub fn with_ttl_seconds(mut self, seconds: i64) -> Self {
        self.ttl_seconds = seconds.max(1);
        self
    }

    /// Issues a grant valid from `now` for the issuer's lifetime, with a fresh random id.
    ///
    /// # Errors
    ///
    /// [`GrantError::Signing`] if the operating system's random generator fails or the
    /// key is refused; [`GrantError::Malformed`] if the request names no action, or one
    /// that is not a data action.
    pub fn issue(&self, request: &GrantRequest, now: Timestamp) -> Result<Grant, GrantError> {
        check_actions(&request.actions)?;
        let jti = GrantId::random().map_err(|e| GrantError::Signing(format!("{e:?}")))?;
        let claims = GrantClaims {
            actions: request.actions.clone(),
            cid: request.cid,
            exp: now.saturating_add_seconds(self.ttl_seconds),
            iat: now,
            iss: self.name.clone(),
            jti,
            nbf: now,
            purpose: request.purpose,
            region: request.region.clone(),
            sub: request.principal.clone(),
        };
        self.sign_claims(&claims)
    }

    /// Signs exactly these claims (for tests and for issuers that set their own window).
    ///
    /// # Errors
    ///
    /// [`GrantError::Signing`] if the key is refused.
    pub fn sign_claims(&self, claims: &GrantClaims) -> Result<Grant, GrantError> {
        let payload =
            serde_json::to_vec(claims).map_err(|e| GrantError::Signing(format!("{e:?}")))?;
        let footer = serde_json::to_vec(&Footer {
            kid: KeyId::of(&self.key.verifying_key()).as_str().to_owned(),
        })
        .map_err(|e| GrantError::Signing(format!("{e:?}")))?;
        let token = sign_v4_public(&self.key, &payload, &footer, GRANT_IMPLICIT_ASSERTION)?;
        Ok(Grant(token))
    }
}

fn check_actions(actions: &BTreeSet<Action>) -> Result<(), GrantError> {
    if actions.is_empty() {
        return Err(GrantError::Malformed(
            "a grant must name the actions it covers".to_owned(),
        ));
    }
    if let Some(a) = actions.iter().find(|a| !a.is_data()) {
        return Err(GrantError::Malformed(format!(
            "{a} is not a data action: grants cover only read, download, evaluate, train, fine-tune-commercial and embed"
        )));
    }
    Ok(())
}

/// PASETO v4.public signing: `v4.public.` ‖ base64url(m ‖ Ed25519(PAE(h, m, f, i))) ‖
/// (`.` ‖ base64url(f) when the footer is not empty).
pub(crate) fn sign_v4_public(
    key: &SigningKey,
    message: &[u8],
    footer: &[u8],
    implicit: &[u8],
) -> Result<String, GrantError> {
    let mut keypair = [0u8; 64];
    let (seed, public) = keypair.split_at_mut(32);
    seed.copy_from_slice(&key.as_dalek().to_bytes());
    public.copy_from_slice(&key.verifying_key().to_bytes());
    let secret = AsymmetricSecretKey::<V4>::from(&keypair);
    keypair.zeroize();
    let secret = secret.map_err(|e| GrantError::Signing(format!("{e:?}")))?;
    let footer = (!footer.is_empty()).then_some(footer);
    PublicToken::sign(&secret, message, footer, Some(implicit))
        .map_err(|e| GrantError::Signing(format!("{e:?}")))
}

/// PASETO v4.public verification against one key: the verified message and footer.
pub(crate) fn verify_v4_public(
    key: &VerifyingKey,
    token: &str,
    implicit: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), GrantError> {
    let untrusted = UntrustedToken::<pasetors::token::Public, V4>::try_from(token)
        .map_err(|_| GrantError::Malformed("not a PASETO v4.public token".to_owned()))?;
    let public =
        AsymmetricPublicKey::<V4>::from(&key.to_bytes()).map_err(|_| GrantError::BadSignature)?;
    let trusted = PublicToken::verify(&public, &untrusted, None, Some(implicit))
        .map_err(|_| GrantError::BadSignature)?;
    Ok((
        trusted.payload().as_bytes().to_vec(),
        trusted.footer().to_vec(),
    ))
}

/// A signed grant token (`v4.public.…`).
#[derive(Clone, PartialEq, Eq)]
pub struct Grant(String);

impl Grant {
    /// Wraps token text for verification (nothing is checked yet).
    #[must_use]
    pub fn from_token(token: impl Into<String>) -> Self {
        Self(token.into().trim().to_owned())
    }

    /// The token text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Grant({}…)", self.0.get(..24).unwrap_or(&self.0))
    }
}

/// Verifies grants offline against trusted issuer keys, with a clock-skew tolerance.
#[derive(Clone, Debug)]
pub struct GrantVerifier {
    keys: Vec<VerifyingKey>,
    skew_seconds: i64,
    max_lifetime_seconds: i64,
    revoked: Vec<GrantId>,
}

impl GrantVerifier {
    /// A verifier trusting no key yet, tolerating `skew_seconds` of clock difference
    /// between issuer and verifier on either end of the window.
    #[must_use]
    pub fn new(skew_seconds: u32) -> Self {
        Self {
            keys: Vec::new(),
            skew_seconds: i64::from(skew_seconds),
            max_lifetime_seconds: DEFAULT_MAX_GRANT_LIFETIME_SECONDS,
            revoked: Vec::new(),
        }
    }

    /// Refuses the grant `id` from now on, valid signature and window or not: a grant
    /// revoked before it expires (the registry says which).
    #[must_use]
    pub fn revoke(mut self, id: GrantId) -> Self {
        if !self.revoked.contains(&id) {
            self.revoked.push(id);
        }
        self
    }

    /// Trusts grants signed by `key`.
    #[must_use]
    pub fn trust(mut self, key: VerifyingKey) -> Self {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
        self
    }

    /// Refuses grants whose window is longer than `seconds` (default one hour).
    #[must_use]
    pub fn with_max_lifetime_seconds(mut self, seconds: i64) -> Self {
        self.max_lifetime_seconds = seconds.max(1);
        self
    }

    /// Verifies a grant at time `now`: the signature by a trusted key (with dataseal's
    /// implicit assertion), the claims, and the window with the skew tolerance.
    ///
    /// # Errors
    ///
    /// A [`GrantError`] saying why the grant is refused.
    pub fn verify(&self, grant: &Grant, now: Timestamp) -> Result<VerifiedGrant, GrantError> {
        let token = grant.as_str();
        if !token.starts_with("v4.public.") {
            return Err(GrantError::Malformed(
                "not a PASETO v4.public token".to_owned(),
            ));
        }
        // Structure first, so a malformed token is told apart from a bad signature.
        UntrustedToken::<pasetors::token::Public, V4>::try_from(token)
            .map_err(|_| GrantError::Malformed("not a PASETO v4.public token".to_owned()))?;
        let mut verified = None;
        for key in &self.keys {
            if let Ok(ok) = verify_v4_public(key, token, GRANT_IMPLICIT_ASSERTION) {
                verified = Some((ok, *key));
                break;
            }
        }
        let Some(((payload, footer), key)) = verified else {
            return Err(GrantError::BadSignature);
        };
        let claims: GrantClaims = serde_json::from_slice(&payload)
            .map_err(|e| GrantError::Malformed(format!("claims: {e}")))?;
        check_actions(&claims.actions)?;
        if !footer.is_empty() {
            serde_json::from_slice::<Footer>(&footer)
                .map_err(|e| GrantError::Malformed(format!("footer: {e}")))?;
        }
        if self.revoked.contains(&claims.jti) {
            return Err(GrantError::Revoked(claims.jti.to_string()));
        }
        let id = claims.jti.to_string();
        let lifetime = claims
            .exp
            .unix_seconds()
            .saturating_sub(claims.nbf.unix_seconds());
        if lifetime <= 0 || lifetime > self.max_lifetime_seconds {
            return Err(GrantError::BadWindow {
                id,
                not_before: claims.nbf,
                expires: claims.exp,
                max_seconds: self.max_lifetime_seconds,
            });
        }
        let accepted_from = claims.nbf.saturating_add_seconds(-self.skew_seconds);
        let accepted_until = claims.exp.saturating_add_seconds(self.skew_seconds);
        if now < accepted_from {
            return Err(GrantError::NotYetValid {
                id,
                not_before: claims.nbf,
                now,
            });
        }
        if now >= accepted_until {
            return Err(GrantError::Expired {
                id,
                expires: claims.exp,
                now,
            });
        }
        Ok(VerifiedGrant {
            claims,
            issuer_key: KeyId::of(&key),
            accepted_from,
            accepted_until,
        })
    }
}

/// A grant whose signature, claims and window were verified. Only
/// [`GrantVerifier::verify`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedGrant {
    claims: GrantClaims,
    issuer_key: KeyId,
    accepted_from: Timestamp,
    accepted_until: Timestamp,
}

impl VerifiedGrant {
    /// The verified claims.
    #[must_use]
    pub fn claims(&self) -> &GrantClaims {
        &self.claims
    }

    /// The grant id.
    #[must_use]
    pub fn id(&self) -> &GrantId {
        &self.claims.jti
    }

    /// The key id of the issuer key that verified it.
    #[must_use]
    pub fn issuer_key(&self) -> &KeyId {
        &self.issuer_key
    }

    /// The window it was accepted in, skew included: `[from, until)`. These bounds go to
    /// Cedar as `context.grant.notBefore` and `context.grant.expires`.
    #[must_use]
    pub fn accepted_window(&self) -> (Timestamp, Timestamp) {
        (self.accepted_from, self.accepted_until)
    }

    /// Whether the grant covers `action`.
    #[must_use]
    pub fn covers(&self, action: Action) -> bool {
        self.claims.actions.contains(&action)
    }

    pub(crate) fn user(&self) -> Option<&UserId> {
        match &self.claims.sub {
            Principal::User(u) => Some(u),
            Principal::ServiceAccount(_) => None,
        }
    }

    pub(crate) fn service_account(&self) -> Option<&ServiceAccountId> {
        match &self.claims.sub {
            Principal::ServiceAccount(s) => Some(s),
            Principal::User(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Vectors {
        tests: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        #[serde(rename = "expect-fail")]
        expect_fail: bool,
        #[serde(rename = "secret-key-pem")]
        secret_key_pem: Option<String>,
        token: String,
        payload: Option<String>,
        footer: String,
        #[serde(rename = "implicit-assertion")]
        implicit_assertion: String,
    }

    const PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAHrnbu7wEfAP9cGBOAHHwmH4Wsot1ciXBHwBBXQ4gsaI=\n-----END PUBLIC KEY-----";

    #[test]
    fn official_v4_public_vectors() {
        let v: Vectors =
            serde_json::from_str(include_str!("../tests/data/paseto-v4-public.json")).unwrap();
        let public = VerifyingKey::from_spki_pem(PUBLIC_PEM).unwrap();
        let mut checked = 0;
        for t in &v.tests {
            let verified = verify_v4_public(&public, &t.token, t.implicit_assertion.as_bytes());
            if t.expect_fail {
                assert!(verified.is_err(), "{} verified", t.name);
            } else {
                let (message, footer) = verified.unwrap();
                assert_eq!(
                    Some(message),
                    t.payload.as_ref().map(|p| p.as_bytes().to_vec())
                );
                assert_eq!(footer, t.footer.as_bytes(), "{}", t.name);
                let key = SigningKey::from_pkcs8_pem(t.secret_key_pem.as_ref().unwrap()).unwrap();
                assert_eq!(key.verifying_key(), public, "{}", t.name);
                let token = sign_v4_public(
                    &key,
                    t.payload.as_ref().unwrap().as_bytes(),
                    t.footer.as_bytes(),
                    t.implicit_assertion.as_bytes(),
                )
                .unwrap();
                assert_eq!(token, t.token, "{}", t.name);
                // Any other implicit assertion fails.
                assert!(verify_v4_public(&public, &t.token, b"other").is_err());
            }
            checked += 1;
        }
        assert_eq!(checked, 5);
    }
}
