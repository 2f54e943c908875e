//! Approvals: signed sign-offs of one dataset version by a data owner or a compliance
//! reviewer, verified against the approver keys the decision point trusts.
//!
//! An approval is a DSSE envelope (Ed25519) over a small canonical JSON statement
//! `{"approver", "cid", "role", "time"}`. Only [`ApprovalVerifier::verify`] turns
//! approvals into [`VerifiedApprovals`], and only those reach the policies: an approver
//! id that no trusted signature vouches for never becomes Cedar context.

use std::fmt;

use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{Cid, Role, SigningKey, Timestamp, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, UserId};

/// The DSSE payload type of an approval.
pub const APPROVAL_PAYLOAD_TYPE: &str = "application/vnd.dataseal.approval+json";

/// The largest approval envelope read, in bytes.
pub const MAX_APPROVAL_LEN: usize = 16 * 1024;

/// In which capacity an approver signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApproverRole {
    /// `data-owner`: the version's data owner.
    DataOwner,
    /// `compliance`: a compliance reviewer.
    Compliance,
}

impl ApproverRole {
    /// The role's name in the statement (`data-owner`, `compliance`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DataOwner => "data-owner",
            Self::Compliance => "compliance",
        }
    }
}

impl fmt::Display for ApproverRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApproverRole {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "data-owner" => Ok(Self::DataOwner),
            "compliance" => Ok(Self::Compliance),
            _ => Err(Error::InvalidId {
                what: "approver role",
                value: s.to_owned(),
                rule: "data-owner or compliance",
            }),
        }
    }
}

/// What an approver signs. Its JSON form has exactly these four fields, in this order
/// (lexicographic: the canonical form), without whitespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalStatement {
    /// Who approves.
    pub approver: UserId,
    /// The manifest CID of the version approved.
    pub cid: Cid,
    /// In which capacity.
    pub role: ApproverRole,
    /// When.
    pub time: Timestamp,
}

/// Why an approval was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// Not an approval envelope: bad JSON, another payload type, a statement that is
    /// malformed or not in canonical form.
    #[error("malformed approval: {0}")]
    Malformed(String),
    /// No trusted approver key verifies the signature.
    #[error("approval by {approver} as {role}: no trusted approver key verifies it")]
    BadSignature {
        /// The approver the statement names.
        approver: UserId,
        /// The role the statement names.
        role: ApproverRole,
    },
    /// A trusted key signed it, but that key is trusted for someone else or for the
    /// other role.
    #[error(
        "approval by {approver} as {role}: signed by a key trusted only for {key_holder} as {key_role}"
    )]
    NotAuthorised {
        /// The approver the statement names.
        approver: UserId,
        /// The role the statement names.
        role: ApproverRole,
        /// Whom the signing key is trusted for.
        key_holder: UserId,
        /// In which role.
        key_role: ApproverRole,
    },
    /// The approval is for another version.
    #[error("approval by {approver} is for {found}, not {expected}")]
    WrongCid {
        /// The approver.
        approver: UserId,
        /// The version asked about.
        expected: String,
        /// The version approved.
        found: String,
    },
    /// Two approvals in one role, or two by one person.
    #[error("duplicate approval: {0}")]
    Duplicate(String),
    /// Signed later than the decision point's clock (skew included).
    #[error("approval by {approver} is dated {time}, after now ({now})")]
    FromTheFuture {
        /// The approver.
        approver: UserId,
        /// Its time.
        time: Timestamp,
        /// The verifier's clock.
        now: Timestamp,
    },
    /// Older than the verifier accepts.
    #[error("approval by {approver} dated {time} is older than {max_age_seconds} s")]
    Expired {
        /// The approver.
        approver: UserId,
        /// Its time.
        time: Timestamp,
        /// The oldest accepted.
        max_age_seconds: i64,
    },
    /// Signing failed.
    #[error("cannot sign the approval: {0}")]
    Signing(String),
}

/// A signed approval (DSSE envelope), parsed but not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    envelope: Envelope,
    statement: ApprovalStatement,
}

fn canonical(statement: &ApprovalStatement) -> Result<Vec<u8>, ApprovalError> {
    serde_json::to_vec(statement).map_err(|e| ApprovalError::Malformed(e.to_string()))
}

impl Approval {
    /// Signs `statement` with the approver's `key`.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::Signing`] if the envelope cannot be made.
    pub fn sign(statement: &ApprovalStatement, key: &SigningKey) -> Result<Self, ApprovalError> {
        let payload = canonical(statement)?;
        let envelope = Envelope::sign(APPROVAL_PAYLOAD_TYPE, payload, key, None)
            .map_err(|e| ApprovalError::Signing(e.to_string()))?;
        Ok(Self {
            envelope,
            statement: statement.clone(),
        })
    }

    /// Parses an approval envelope (JSON) strictly: the payload type must be
    /// [`APPROVAL_PAYLOAD_TYPE`] and the payload a statement in canonical form.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::Malformed`] saying what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ApprovalError> {
        if bytes.len() > MAX_APPROVAL_LEN {
            return Err(ApprovalError::Malformed(format!(
                "{} bytes, more than the {MAX_APPROVAL_LEN} allowed",
                bytes.len()
            )));
        }
        let envelope =
            Envelope::from_json(bytes).map_err(|e| ApprovalError::Malformed(e.to_string()))?;
        Self::from_envelope(envelope)
    }

    /// Checks an envelope's payload type and statement.
    ///
    /// # Errors
    ///
    /// As [`Approval::from_json`].
    pub fn from_envelope(envelope: Envelope) -> Result<Self, ApprovalError> {
        if envelope.payload_type() != APPROVAL_PAYLOAD_TYPE {
            return Err(ApprovalError::Malformed(format!(
                "payload type {:?}, expected {APPROVAL_PAYLOAD_TYPE:?}",
                envelope.payload_type()
            )));
        }
        let statement: ApprovalStatement = serde_json::from_slice(envelope.payload_unverified())
            .map_err(|e| ApprovalError::Malformed(format!("statement: {e}")))?;
        if canonical(&statement)? != envelope.payload_unverified() {
            return Err(ApprovalError::Malformed(
                "statement: not in canonical form (fields approver, cid, role, time; no whitespace)"
                    .to_owned(),
            ));
        }
        Ok(Self {
            envelope,
            statement,
        })
    }

    /// The envelope's JSON form.
    #[must_use]
    pub fn to_json(&self) -> String {
        self.envelope.to_json()
    }

    /// The envelope.
    #[must_use]
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The statement, as claimed: nothing vouches for it before
    /// [`ApprovalVerifier::verify`].
    #[must_use]
    pub fn statement_unverified(&self) -> &ApprovalStatement {
        &self.statement
    }
}

impl Serialize for Approval {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Value =
            serde_json::from_str(&self.to_json()).map_err(serde::ser::Error::custom)?;
        value.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Approval {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let bytes = serde_json::to_vec(&value).map_err(serde::de::Error::custom)?;
        Self::from_json(&bytes).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug)]
struct ApproverKey {
    key: VerifyingKey,
    approver: UserId,
    role: ApproverRole,
}

/// Verifies approvals against the approver keys a decision point trusts: each key
/// stands for one person in one role.
#[derive(Clone, Debug, Default)]
pub struct ApprovalVerifier {
    keys: Vec<ApproverKey>,
    skew_seconds: i64,
    max_age_seconds: Option<i64>,
    checked: Checked,
}

/// Signature checks already made, by digest of the whole envelope and key: a decision
/// point sees the same approvals (those a registry keeps) on decision after decision,
/// and whether a signature verifies under a key never changes. Only this is
/// remembered; every other check (version, time, age, duplicates) runs every time.
#[derive(Debug, Default)]
struct Checked(std::sync::Mutex<std::collections::HashMap<CheckId, bool>>);

/// A signature check: the digest of the whole envelope, and the key's bytes.
type CheckId = ([u8; 32], [u8; 32]);

/// At most this many checks are remembered; past it, the memory starts afresh.
const CHECKED_MAX: usize = 4096;

impl Clone for Checked {
    /// A clone starts with nothing remembered.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl Checked {
    /// Whether `envelope` (by `digest`) verifies under `key`, from memory or from `check`.
    fn get_or(&self, digest: [u8; 32], key: &VerifyingKey, check: impl FnOnce() -> bool) -> bool {
        let id = (digest, key.to_bytes());
        if let Some(&known) = self.0.lock().ok().as_ref().and_then(|m| m.get(&id)) {
            return known;
        }
        let outcome = check();
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= CHECKED_MAX {
                m.clear();
            }
            m.insert(id, outcome);
        }
        outcome
    }
}

impl ApprovalVerifier {
    /// A verifier trusting no key (every approval is refused), with no clock skew and
    /// no age limit.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` to sign approvals by `approver` in `role`.
    #[must_use]
    pub fn trust(mut self, key: VerifyingKey, approver: UserId, role: ApproverRole) -> Self {
        self.keys.push(ApproverKey {
            key,
            approver,
            role,
        });
        self
    }

    /// Accepts approvals dated up to `seconds` after the verifier's clock.
    #[must_use]
    pub fn with_skew_seconds(mut self, seconds: u32) -> Self {
        self.skew_seconds = i64::from(seconds);
        self
    }

    /// Refuses approvals older than `seconds`.
    #[must_use]
    pub fn with_max_age_seconds(mut self, seconds: i64) -> Self {
        self.max_age_seconds = Some(seconds.max(0));
        self
    }

    /// Whether any key is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn verify_one(
        &self,
        approval: &Approval,
        cid: &Cid,
        now: Timestamp,
        role: &Role,
    ) -> Result<(), ApprovalError> {
        let s = &approval.statement;
        // The signature first: nothing the statement says counts before it verifies.
        let digest: [u8; 32] = Sha256::digest(approval.envelope().to_json().as_bytes()).into();
        let signed_by = |k: &ApproverKey| {
            self.checked.get_or(digest, &k.key, || {
                TrustPolicy::new()
                    .trust(k.key, role.clone())
                    .verify(approval.envelope(), APPROVAL_PAYLOAD_TYPE, now)
                    .is_ok()
            })
        };
        // The keys trusted for the approver and role the statement names first: one
        // signature check in the common case, however many approvers are trusted. The
        // others only to say whose key made a signature that does not count.
        let (named, others): (Vec<&ApproverKey>, Vec<&ApproverKey>) = self
            .keys
            .iter()
            .partition(|k| k.approver == s.approver && k.role == s.role);
        if !named.into_iter().any(signed_by) {
            let other = others.into_iter().find(|k| signed_by(k));
            return Err(match other {
                Some(k) => ApprovalError::NotAuthorised {
                    approver: s.approver.clone(),
                    role: s.role,
                    key_holder: k.approver.clone(),
                    key_role: k.role,
                },
                None => ApprovalError::BadSignature {
                    approver: s.approver.clone(),
                    role: s.role,
                },
            });
        }
        if s.cid != *cid {
            return Err(ApprovalError::WrongCid {
                approver: s.approver.clone(),
                expected: cid.to_string(),
                found: s.cid.to_string(),
            });
        }
        if s.time > now.saturating_add_seconds(self.skew_seconds) {
            return Err(ApprovalError::FromTheFuture {
                approver: s.approver.clone(),
                time: s.time,
                now,
            });
        }
        if let Some(max) = self.max_age_seconds
            && now.unix_seconds().saturating_sub(s.time.unix_seconds()) > max
        {
            return Err(ApprovalError::Expired {
                approver: s.approver.clone(),
                time: s.time,
                max_age_seconds: max,
            });
        }
        Ok(())
    }

    /// Verifies every approval presented for the version `cid` at time `now`: each must
    /// be signed by a key trusted for the approver and role its statement names, be for
    /// `cid`, and not be dated in the future (or older than the age limit); no role and
    /// no person may appear twice. One bad approval refuses them all.
    ///
    /// # Errors
    ///
    /// The first [`ApprovalError`].
    pub fn verify(
        &self,
        approvals: &[Approval],
        cid: &Cid,
        now: Timestamp,
    ) -> Result<VerifiedApprovals, ApprovalError> {
        let mut out = VerifiedApprovals::default();
        let role: Role = "approver"
            .parse()
            .map_err(|e| ApprovalError::Signing(format!("{e}")))?;
        for approval in approvals {
            self.verify_one(approval, cid, now, &role)?;
            let s = &approval.statement;
            let slot = match s.role {
                ApproverRole::DataOwner => &mut out.data_owner,
                ApproverRole::Compliance => &mut out.compliance,
            };
            if slot.is_some() {
                return Err(ApprovalError::Duplicate(format!(
                    "two approvals in the role {}",
                    s.role
                )));
            }
            *slot = Some(s.approver.clone());
            if out.data_owner.is_some() && out.data_owner == out.compliance {
                return Err(ApprovalError::Duplicate(format!(
                    "{} approved in both roles: two people must approve",
                    s.approver
                )));
            }
        }
        Ok(out)
    }
}

/// Approvals whose signatures, approvers, roles and version were verified: at most one
/// per role, by two different people. Only [`ApprovalVerifier::verify`] makes them;
/// they become `context.approvals` in Cedar.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifiedApprovals {
    data_owner: Option<UserId>,
    compliance: Option<UserId>,
}

impl VerifiedApprovals {
    /// The data owner who approved.
    #[must_use]
    pub fn data_owner(&self) -> Option<&UserId> {
        self.data_owner.as_ref()
    }

    /// The compliance reviewer who approved.
    #[must_use]
    pub fn compliance_reviewer(&self) -> Option<&UserId> {
        self.compliance.as_ref()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.data_owner.is_none() && self.compliance.is_none()
    }
}
