#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod decision;
mod engine;
mod entities;
mod error;
mod grant;
mod ids;
mod request;

pub mod audit {
    //! placeholder
    /// A fault.
    #[derive(Debug, thiserror::Error)]
    #[error("fault")]
    pub struct AuditFault;
}

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
pub use request::{AccessRequest, Approvals, region_scopes};

/// Re-exported so callers can name Cedar types in the engine's API.
pub use cedar_policy;
