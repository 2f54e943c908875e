//! A decision point assembled from files and owned: what `dataseal fetch` and the
//! Python package configure from their options.

use std::path::{Path, PathBuf};

use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{Timestamp, VerifyingKey};
use dataseal_policy::{
    ApprovalVerifier, ApproverRole, AuditLog, EntityStore, GrantVerifier, PolicyEngine, Principal,
    ServiceAccountId, UserId, VersionRecord,
};

use crate::Error;
use crate::catalog::Catalog;
use crate::fetch::{Fetch, Gate};
use crate::keys::{read_document, read_signing_key, read_verifying_key};
use crate::records::SyncRegistry;
use crate::store::Provider;

/// How long past its expiry a grant is still accepted, in seconds (clock skew).
pub const GRANT_LEEWAY_SECS: u32 = 30;

/// The files a decision point is made of: the entities document (principals, roles,
/// groups, optionally versions), extra policies, the version's record, the keys trusted
/// to issue grants and to approve versions, the audit log and the registry.
/// [`GateConfig::load`] reads them into an [`OwnedGate`].
#[derive(Debug, Clone, Default)]
pub struct GateConfig {
    entities: PathBuf,
    policies: Option<PathBuf>,
    record: Option<PathBuf>,
    grant_keys: Vec<PathBuf>,
    approvers: Vec<String>,
    audit: Option<(PathBuf, PathBuf, Option<PathBuf>)>,
    registry: Option<String>,
}

impl GateConfig {
    /// A decision point over the entities document at `entities` and the default
    /// policies.
    #[must_use]
    pub fn new(entities: impl Into<PathBuf>) -> Self {
        Self {
            entities: entities.into(),
            ..Self::default()
        }
    }

    /// Loads the `*.cedar` policies of `dir` beside the defaults.
    #[must_use]
    pub fn policies(mut self, dir: impl Into<PathBuf>) -> Self {
        self.policies = Some(dir.into());
        self
    }

    /// The version's record (owner, organisation, uploader, state; JSON), for entities
    /// that do not list the version: its attributes then come from the verified
    /// manifest. Not with a registry, which holds the record itself.
    #[must_use]
    pub fn record(mut self, path: impl Into<PathBuf>) -> Self {
        self.record = Some(path.into());
        self
    }

    /// Trusts the public key (PEM) at `path` to issue grants; repeatable.
    #[must_use]
    pub fn grant_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.grant_keys.push(path.into());
        self
    }

    /// Trusts an approver, given as `KEY.pub=ROLE:USER` with ROLE `data-owner` or
    /// `compliance`; repeatable.
    #[must_use]
    pub fn approver(mut self, spec: impl Into<String>) -> Self {
        self.approvers.push(spec.into());
        self
    }

    /// Appends every decision to the audit log at `log`, each followed by a checkpoint
    /// signed with the key (PKCS#8 PEM) at `key`; the truncation anchor is kept at
    /// `anchor`, or beside the log.
    #[must_use]
    pub fn audit(
        mut self,
        log: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
        anchor: Option<PathBuf>,
    ) -> Self {
        self.audit = Some((log.into(), key.into(), anchor));
        self
    }

    /// Decides with the registry at `url` (`sqlite:PATH` or `postgres://…`) in the loop.
    #[must_use]
    pub fn registry(mut self, url: impl Into<String>) -> Self {
        self.registry = Some(url.into());
        self
    }

    /// Reads every file. With a record, the version's envelope is resolved first
    /// (through `fetch`, which keeps it) so that its attributes come from the verified
    /// manifest.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] / [`Error::Io`] / [`Error::Policy`] for a file that cannot be
    /// read or does not parse, an unknown approver role, or both a record and a
    /// registry; [`Error::Registry`] when the registry cannot be opened; as
    /// [`Fetch::resolve`] for the envelope.
    pub fn load(
        &self,
        trust: &TrustPolicy,
        fetch: &mut Fetch,
        providers: &mut [Provider],
        catalog: &dyn Catalog,
    ) -> Result<OwnedGate, Error> {
        if self.record.is_some() && self.registry.is_some() {
            return Err(Error::Invalid(
                "a version's record and a registry exclude each other: the registry holds the record"
                    .to_owned(),
            ));
        }
        let mut engine = PolicyEngine::builder();
        if let Some(dir) = &self.policies {
            engine = engine
                .policies_dir(dir)
                .map_err(|e| Error::policy(format!("{}", dir.display()), e))?;
        }
        let engine = engine
            .build()
            .map_err(|e| Error::policy("the policies", e))?;
        let now = Timestamp::now();
        let shown = self.entities.display().to_string();
        let document = read_document(&self.entities)?;
        let mut builder = EntityStore::builder_from_document(&engine, &document, trust, now)
            .map_err(|e| Error::policy(shown.clone(), e))?;
        if let Some(path) = &self.record {
            let record: VersionRecord = serde_json::from_slice(&read_document(path)?)
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
            let verified = fetch.resolve(providers, catalog)?;
            builder
                .add_version(&verified, &record)
                .map_err(|e| Error::policy(format!("{}", path.display()), e))?;
        }
        let entities = builder.build().map_err(|e| Error::policy(shown, e))?;
        let mut verifier = GrantVerifier::new(GRANT_LEEWAY_SECS);
        for key in &self.grant_keys {
            verifier = verifier.trust(read_verifying_key(key)?);
        }
        let mut approvals = ApprovalVerifier::new();
        for spec in &self.approvers {
            let (key, user, role) = parse_approver(spec)?;
            approvals = approvals.trust(key, user, role);
        }
        let audit = match &self.audit {
            None => None,
            Some((log, key, anchor)) => Some(open_audit_log(log, key, anchor.as_deref())?),
        };
        let registry = self
            .registry
            .as_deref()
            .map(SyncRegistry::open)
            .transpose()?;
        Ok(OwnedGate {
            engine,
            entities,
            verifier,
            audit,
            approvals,
            registry,
        })
    }
}

/// A decision point that owns its parts; [`OwnedGate::gate`] lends them as a [`Gate`].
#[derive(Debug)]
pub struct OwnedGate {
    engine: PolicyEngine,
    entities: EntityStore,
    verifier: GrantVerifier,
    audit: Option<AuditLog>,
    approvals: ApprovalVerifier,
    registry: Option<SyncRegistry>,
}

impl OwnedGate {
    /// The decision point.
    #[must_use]
    pub fn gate(&self) -> Gate<'_> {
        Gate {
            engine: &self.engine,
            entities: &self.entities,
            verifier: &self.verifier,
            audit: self.audit.as_ref(),
            approvals: Some(&self.approvals),
            registry: self.registry.as_ref(),
        }
    }
}

/// Opens an audit log whose every decision is followed by a checkpoint signed with the
/// key at `key`, its truncation anchor at `anchor` (or beside the log).
///
/// # Errors
///
/// As [`read_signing_key`].
pub fn open_audit_log(log: &Path, key: &Path, anchor: Option<&Path>) -> Result<AuditLog, Error> {
    let mut audit = AuditLog::open(log).with_checkpoints(read_signing_key(key)?, 1);
    if let Some(anchor) = anchor {
        audit = audit.with_anchor(anchor);
    }
    Ok(audit)
}

/// Parses an approver `KEY.pub=ROLE:USER` and reads the key.
///
/// # Errors
///
/// [`Error::Invalid`] for a malformed spec, role or user; as [`read_verifying_key`].
pub fn parse_approver(spec: &str) -> Result<(VerifyingKey, UserId, ApproverRole), Error> {
    let bad = |why: String| Error::Invalid(format!("approver {spec:?}: {why}"));
    let (file, who) = spec
        .rsplit_once('=')
        .ok_or_else(|| bad("expected KEY.pub=ROLE:USER".to_owned()))?;
    let (role, user) = who
        .split_once(':')
        .ok_or_else(|| bad("expected KEY.pub=ROLE:USER".to_owned()))?;
    let role: ApproverRole = role.parse().map_err(|e| bad(format!("{e}")))?;
    let user = UserId::new(user).map_err(|e| bad(format!("{e}")))?;
    Ok((read_verifying_key(Path::new(file))?, user, role))
}

/// Parses a principal: `user:ID` or `service-account:ID`.
///
/// # Errors
///
/// [`Error::Invalid`] naming the text.
pub fn parse_principal(text: &str) -> Result<Principal, Error> {
    let bad = |e: dataseal_policy::Error| Error::Invalid(format!("principal {text:?}: {e}"));
    if let Some(id) = text.strip_prefix("user:") {
        UserId::new(id).map(Principal::User).map_err(bad)
    } else if let Some(id) = text.strip_prefix("service-account:") {
        ServiceAccountId::new(id)
            .map(Principal::ServiceAccount)
            .map_err(bad)
    } else {
        Err(Error::Invalid(format!(
            "principal {text:?}: expected user:ID or service-account:ID"
        )))
    }
}
