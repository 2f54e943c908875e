//! What the decision point answers, and the audit record of it.

use dataseal_base::{Region, Timestamp};
use serde::{Deserialize, Serialize};

use crate::grant::GrantId;
use crate::{Action, DataPurpose};

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Allowed.
    Allow,
    /// Denied.
    Deny,
}

/// The answer to one [`crate::AccessRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    allowed: bool,
    determining: Vec<String>,
    forbid_fired: bool,
    errors: Vec<String>,
    record: AuditRecord,
}

impl Decision {
    pub(crate) fn new(
        allowed: bool,
        determining: Vec<String>,
        forbid_fired: bool,
        errors: Vec<String>,
        record: AuditRecord,
    ) -> Self {
        Self {
            allowed,
            determining,
            forbid_fired,
            errors,
            record,
        }
    }

    /// Whether the request is allowed.
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// Allow or deny.
    #[must_use]
    pub fn effect(&self) -> Effect {
        if self.allowed {
            Effect::Allow
        } else {
            Effect::Deny
        }
    }

    /// The `@id`s of the policies that determined the answer, sorted: the permits that
    /// allowed it, or the forbids that denied it (empty for a deny because nothing
    /// permitted, or because of errors).
    #[must_use]
    pub fn determining_policies(&self) -> &[String] {
        &self.determining
    }

    /// For a deny caused by the version's own lifecycle state rather than by who asks:
    /// `"revoked"`, `"erased"` or `"under legal hold"` (the default policies
    /// `state.revoked`, `state.erased`, `state.legal-hold*`). The command line answers
    /// such a deny with exit code 4, not 3.
    #[must_use]
    pub fn version_blocked(&self) -> Option<&'static str> {
        if self.allowed {
            return None;
        }
        self.determining.iter().find_map(|id| match id.as_str() {
            "state.revoked" => Some("revoked"),
            "state.erased" => Some("erased"),
            id if id.starts_with("state.legal-hold") => Some("under legal hold"),
            _ => None,
        })
    }

    /// Whether a `forbid` was satisfied.
    #[must_use]
    pub fn forbid_fired(&self) -> bool {
        self.forbid_fired
    }

    /// Every error met: a request that could not be built, or a policy whose evaluation
    /// failed. Any error makes the answer Deny.
    #[must_use]
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The audit record of this decision.
    #[must_use]
    pub fn audit_record(&self) -> &AuditRecord {
        &self.record
    }

    /// Takes the audit record.
    #[must_use]
    pub fn into_audit_record(self) -> AuditRecord {
        self.record
    }
}

/// What the audit log keeps of one decision.
///
/// JSON field names are stable (documented in the README).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditRecord {
    /// The decision point's clock at the request.
    pub time: Timestamp,
    /// Allow or deny.
    pub decision: Effect,
    /// `user:ID` or `service-account:ID`.
    pub principal: String,
    /// The action.
    pub action: Action,
    /// `version:CID` or `dataset:ID`.
    pub resource: String,
    /// The purpose.
    pub purpose: DataPurpose,
    /// The region.
    pub region: Region,
    /// The id of the grant presented, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantId>,
    /// The determining policy ids.
    pub policies: Vec<String>,
    /// Whether a forbid fired.
    pub forbid: bool,
    /// The errors met.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// SHA-256 (hex) of the policy set.
    pub policy_set: String,
    /// SHA-256 (hex) of the entity store.
    pub entities: String,
}
