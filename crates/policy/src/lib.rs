#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod approval;
mod audit;
mod decision;
mod engine;
mod entities;
mod error;
mod grant;
mod ids;
mod point;
mod purpose;
mod request;

pub use approval::{
    APPROVAL_PAYLOAD_TYPE, Approval, ApprovalError, ApprovalStatement, ApprovalVerifier,
    ApproverRole, MAX_APPROVAL_LEN, VerifiedApprovals,
};
pub use audit::{
    Appended, AuditFault, AuditLog, AuditReport, CHECKPOINT_PAYLOAD_TYPE, Checkpoint, FaultKind,
    GENESIS, Refusal, read_anchor, verify_log, verify_log_with_keys, verify_sealed_log,
};
pub use decision::{AuditRecord, Decision, Effect};
pub use engine::{
    DATA_ACCESS_TEMPLATE, DEFAULT_POLICIES, EntityRef, PolicyEngine, PolicyEngineBuilder, SCHEMA,
    TemplateLink,
};
pub use entities::{EntityStore, EntityStoreBuilder, VersionRecord, VersionState};
pub use error::Error;
pub use grant::{
    DEFAULT_GRANT_TTL_SECONDS, DEFAULT_MAX_GRANT_LIFETIME_SECONDS, GRANT_IMPLICIT_ASSERTION, Grant,
    GrantClaims, GrantError, GrantId, GrantIssuer, GrantRequest, GrantVerifier, VerifiedGrant,
};
pub use ids::{Action, CollectionId, GroupId, Principal, Resource, ServiceAccountId, UserId};
pub use point::{Authorized, DecisionPoint};
pub use purpose::DataPurpose;
pub use request::{
    AccessRequest, Clock, DEFAULT_REQUEST_SKEW_SECONDS, MAX_REQUEST_SKEW_SECONDS, Presented,
    RequestDocument, region_scopes,
};

#[doc(hidden)]
pub mod fuzzing;

/// Re-exported so callers can name Cedar types in the engine's API.
pub use cedar_policy;
