//! The decision point as one library call: a request document and an entities document
//! in, a decision (and its audit record) out — what `dataseal authorize` runs.

use dataseal_base::Timestamp;
use dataseal_base::dsse::TrustPolicy;

use crate::{
    Appended, ApprovalVerifier, AuditLog, Clock, DEFAULT_REQUEST_SKEW_SECONDS, Decision,
    EntityStore, Error, GrantError, GrantVerifier, PolicyEngine, Refusal, RequestDocument,
};

/// A decision point: the policies, the keys it trusts (manifest signers with their
/// thresholds, grant issuers, approvers) and, optionally, the audit log every answer is
/// appended to. Everything it trusts is its own configuration: nothing in a request or
/// an entities document can add a trusted key.
///
/// ```
/// use dataseal_base::dsse::TrustPolicy;
/// use dataseal_policy::{Clock, DecisionPoint, PolicyEngine};
///
/// let point = DecisionPoint::new(PolicyEngine::with_defaults()?, TrustPolicy::new());
/// let request = br#"{"principal": {"user": "tess"}, "action": "train",
///     "resource": {"dataset": "claims"}, "purpose": "ads-commercial", "region": "DE"}"#;
/// let clock = Clock::System { now: dataseal_base::Timestamp::now(), skew_seconds: 60 };
/// // A purpose outside the vocabulary: the request is malformed.
/// assert!(point.authorize(b"{}", request, clock).is_err());
/// # Ok::<(), dataseal_policy::Error>(())
/// ```
#[derive(Debug)]
pub struct DecisionPoint {
    engine: PolicyEngine,
    manifest_trust: TrustPolicy,
    grants: GrantVerifier,
    approvals: ApprovalVerifier,
    audit: Option<AuditLog>,
}

/// What [`DecisionPoint::authorize`] answers for a well-formed request.
#[derive(Debug)]
#[non_exhaustive]
pub struct Authorized {
    /// The decision.
    pub decision: Decision,
    /// Where its record went in the audit log, when one is configured (never for a
    /// what-if evaluation).
    pub appended: Option<Appended>,
}

impl DecisionPoint {
    /// A decision point over `engine`, trusting `manifest_trust` (keys and thresholds)
    /// for manifests, and no grant issuer and no approver yet.
    #[must_use]
    pub fn new(engine: PolicyEngine, manifest_trust: TrustPolicy) -> Self {
        Self {
            engine,
            manifest_trust,
            grants: GrantVerifier::new(DEFAULT_REQUEST_SKEW_SECONDS),
            approvals: ApprovalVerifier::new(),
            audit: None,
        }
    }

    /// Verifies presented grants with `verifier`.
    #[must_use]
    pub fn with_grant_verifier(mut self, verifier: GrantVerifier) -> Self {
        self.grants = verifier;
        self
    }

    /// Verifies presented approvals with `verifier`.
    #[must_use]
    pub fn with_approval_verifier(mut self, verifier: ApprovalVerifier) -> Self {
        self.approvals = verifier;
        self
    }

    /// Appends every decision, and every refusal of a malformed request, to `log`.
    #[must_use]
    pub fn with_audit_log(mut self, log: AuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// The policy engine.
    #[must_use]
    pub fn engine(&self) -> &PolicyEngine {
        &self.engine
    }

    /// The audit log, if one is configured.
    #[must_use]
    pub fn audit_log(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Loads an entities document, verifying every version's manifest against this
    /// decision point's manifest trust at `now`.
    ///
    /// # Errors
    ///
    /// As [`EntityStore::from_document`].
    pub fn load_entities(&self, bytes: &[u8], now: Timestamp) -> Result<EntityStore, Error> {
        EntityStore::from_document(&self.engine, bytes, &self.manifest_trust, now)
    }

    /// Records that the request `bytes` was refused as malformed, when an audit log is
    /// configured, and hands back `err` (or the audit log's own error if the refusal
    /// cannot be recorded).
    ///
    /// # Errors
    ///
    /// Always: `err`, or the failure to record it.
    pub fn refuse(&self, bytes: &[u8], err: Error, now: Timestamp) -> Result<Authorized, Error> {
        if let Some(log) = &self.audit {
            log.append_refusal(&Refusal::malformed(bytes, err.to_string(), now), now)?;
        }
        Err(err)
    }

    /// Decides the request document `request` (JSON, see [`RequestDocument`]) against
    /// the entities document `entities`, at the time `clock` says: parses both, verifies
    /// the grant and the approvals presented, decides, and appends the decision to the
    /// audit log. Under [`Clock::WhatIf`] nothing is ever appended.
    ///
    /// A request refused before a decision (malformed, a stale or absent clock, an
    /// unreadable grant, entities that do not load) leaves a [`Refusal`] in the audit
    /// log, then returns the error.
    ///
    /// # Errors
    ///
    /// [`Error::Request`], [`Error::Entities`], [`Error::Grant`] for malformed input;
    /// [`Error::Manifest`] for a version whose manifest does not verify against this
    /// decision point's trust; [`Error::Io`] or [`Error::Audit`] if the audit log
    /// cannot be written.
    pub fn authorize(
        &self,
        entities: &[u8],
        request: &[u8],
        clock: Clock,
    ) -> Result<Authorized, Error> {
        let (audited, clock_now) = match clock {
            Clock::System { now, .. } => (true, now),
            Clock::WhatIf => (false, Timestamp::now()),
        };
        let refuse = |err: Error| {
            if audited {
                self.refuse(request, err, clock_now)
            } else {
                Err(err)
            }
        };
        let parsed = match RequestDocument::from_json(request).and_then(|doc| doc.into_parts(clock))
        {
            Ok(parts) => parts,
            Err(e) => return refuse(e),
        };
        let (access, presented) = parsed;
        let store = match self.load_entities(entities, access.now) {
            Ok(store) => store,
            Err(e) => return refuse(e),
        };
        if let Some(g) = &presented.grant
            && let Err(e @ GrantError::Malformed(_)) = self.grants.verify(g, access.now)
        {
            return refuse(Error::Grant(e));
        }
        let now = access.now;
        let decision =
            self.engine
                .decide_verified(&store, access, &presented, &self.grants, &self.approvals);
        let appended = match (&self.audit, audited) {
            (Some(log), true) => Some(log.append(decision.audit_record(), now)?),
            _ => None,
        };
        Ok(Authorized { decision, appended })
    }
}
