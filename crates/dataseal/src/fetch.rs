//! Letting an approved job read a version: resolve, verify, decide, release, fetch,
//! decrypt.

use std::io::{Read, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64ct::Encoding;
use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{Cid, ProviderId, Purpose, Region, SigningKey, Timestamp};
use dataseal_crypt::{Decryptor, KeyEncryptionKey, ObjectHeader, SealedSection};
use dataseal_manifest::{VerifiedManifest, manifest_cid, verify_envelope_into};
use dataseal_policy::{
    AccessRequest, Action, Approval, ApprovalVerifier, AuditLog, DataPurpose, Decision,
    EntityStore, Grant, GrantVerifier, PolicyEngine, Presented, Principal, Refusal, Resource,
    VerifiedGrant,
};
use dataseal_reputation::{Candidate, Event, EventKind, ObserverId, Outcome, order_for_read};
use dataseal_transport::{FailureKind, Transport, VerifiedRead};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;

use crate::broker::{KeyBroker, Release};
use crate::catalog::Catalog;
use crate::records::{SyncRegistry, parse_approvals};
use crate::rules::PlacementRules;
use crate::store::{Provider, connect};
use crate::{Error, Progress, ProgressFn};
use dataseal_registry::{KnownVersion, LifecycleState, VersionStatus};

/// The largest envelope read, in bytes.
pub const MAX_ENVELOPE_LEN: u64 = 256 << 20;
/// The DSSE payload type of a reproducibility receipt.
pub const RECEIPT_PAYLOAD_TYPE: &str = "application/vnd.dataseal.receipt+json";

/// The decision point a read goes through: the policy engine, what it knows of
/// principals and versions, the grant verifier, and the audit log every decision is
/// appended to.
#[derive(Debug, Clone, Copy)]
pub struct Gate<'a> {
    /// The engine.
    pub engine: &'a PolicyEngine,
    /// The entities (principals, datasets, the version's record).
    pub entities: &'a EntityStore,
    /// Verifies presented grants.
    pub verifier: &'a GrantVerifier,
    /// Where every decision is recorded (none: not recorded).
    pub audit: Option<&'a AuditLog>,
    /// The approver keys approvals are verified against (none: no approval is
    /// accepted, so a version that needs approvals is denied).
    pub approvals: Option<&'a ApprovalVerifier>,
    /// The registry, read at decision time (none: the entities alone describe the
    /// version). With one, the version's record (owner, organisation, uploader, state
    /// from its lifecycle, holds and consent) comes from the registry, replacing any in
    /// the entities; a version it does not know is denied, an erased one refused before
    /// any block is read, a grant it lists as revoked refused, the signed approvals it
    /// keeps presented with the request's own when [`Gate::approvals`] trusts approver
    /// keys (and verified like them), and every
    /// completed read is recorded with its receipt.
    pub registry: Option<&'a SyncRegistry>,
}

impl<'a> Gate<'a> {
    /// A decision point over `engine`, `entities` and the grants `verifier` trusts, with
    /// no audit log, no approver keys and no registry (add them with
    /// [`Gate::with_audit`], [`Gate::with_approvals`] and [`Gate::with_registry`]).
    ///
    /// ```
    /// use dataseal::Gate;
    /// use dataseal::policy::{EntityStore, GrantVerifier, PolicyEngine};
    ///
    /// let engine = PolicyEngine::with_defaults()?;
    /// let entities = EntityStore::builder(&engine).build()?;
    /// let verifier = GrantVerifier::new(30);
    /// let gate = Gate::new(&engine, &entities, &verifier);
    /// assert!(gate.audit.is_none() && gate.registry.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn new(
        engine: &'a PolicyEngine,
        entities: &'a EntityStore,
        verifier: &'a GrantVerifier,
    ) -> Self {
        Self {
            engine,
            entities,
            verifier,
            audit: None,
            approvals: None,
            registry: None,
        }
    }

    /// Records every decision in `log`.
    #[must_use]
    pub fn with_audit(self, log: &'a AuditLog) -> Self {
        Self {
            audit: Some(log),
            ..self
        }
    }

    /// Verifies presented and registered approvals against `approvers`.
    #[must_use]
    pub fn with_approvals(self, approvers: &'a ApprovalVerifier) -> Self {
        Self {
            approvals: Some(approvers),
            ..self
        }
    }

    /// Reads the version's record, holds, revocations and approvals from `registry` at
    /// decision time.
    #[must_use]
    pub fn with_registry(self, registry: &'a SyncRegistry) -> Self {
        Self {
            registry: Some(registry),
            ..self
        }
    }

    /// The same decision point over other entities (another snapshot of what it knows).
    #[must_use]
    pub fn with_entities(self, entities: &'a EntityStore) -> Self {
        Self { entities, ..self }
    }

    /// Records that a request was refused before any decision could be made (what
    /// `request` describes, refused for `err`), when an audit log is configured, and hands
    /// back `err`: a refusal leaves a record just as a decision does.
    ///
    /// # Errors
    ///
    /// Always: `err`, or [`Error::Policy`] when the refusal cannot be recorded.
    pub fn refuse<T>(&self, request: &str, err: Error, now: Timestamp) -> Result<T, Error> {
        if let Some(log) = self.audit {
            let refusal = Refusal::malformed(request.as_bytes(), err.to_string(), now);
            log.append_refusal(&refusal, now)
                .map_err(|e| Error::policy("recording the refusal", e))?;
        }
        Err(err)
    }

    /// Decides `request` (with the grant presented, if any), records the decision, and
    /// turns a Deny into the error a caller maps to its exit code.
    ///
    /// # Errors
    ///
    /// [`Error::Blocked`] when the version is revoked, erased or held; [`Error::Denied`]
    /// for any other Deny; [`Error::Policy`] when the decision cannot be recorded (the
    /// read is then refused too: no record, no key).
    pub fn decide(
        &self,
        request: AccessRequest,
        grant: Option<&Grant>,
        now: Timestamp,
    ) -> Result<Decision, Error> {
        let presented = Presented {
            grant: grant.cloned(),
            approvals: Vec::new(),
        };
        self.decide_presented(request, &presented, now)
    }

    /// [`Gate::decide`] with approvals as well as a grant: each approval is verified
    /// against [`Gate::approvals`], and only verified ones reach the policies.
    ///
    /// # Errors
    ///
    /// As [`Gate::decide`].
    pub fn decide_presented(
        &self,
        request: AccessRequest,
        presented: &Presented,
        now: Timestamp,
    ) -> Result<Decision, Error> {
        let resource = request.resource.clone();
        let nobody = ApprovalVerifier::new();
        let decision = self.engine.decide_verified(
            self.entities,
            request,
            presented,
            self.verifier,
            self.approvals.unwrap_or(&nobody),
        );
        if let Some(log) = self.audit {
            log.append(decision.audit_record(), now)
                .map_err(|e| Error::policy("recording the decision", e))?;
        }
        if decision.is_allowed() {
            return Ok(decision);
        }
        if let Some(state) = decision.version_blocked() {
            let version = match resource {
                Resource::Version(cid) => cid.to_string(),
                other => format!("{other:?}"),
            };
            return Err(Error::Blocked {
                version,
                state: state.to_owned(),
            });
        }
        let fired = decision.determining_policies();
        let mut reason: Vec<String> = fired.to_vec();
        reason.extend(decision.errors().iter().cloned());
        if reason.is_empty() {
            reason.push("no policy permits it".to_owned());
        }
        Err(Error::Denied {
            reason: reason.join("; "),
        })
    }

    /// Decides `request` about the verified `manifest` exactly as a read does, and
    /// records the decision. With a registry, what it holds now decides, read in one
    /// transaction: a version it does not know is denied and an erased one refused (each
    /// recorded as a refusal), the version's record (owner, organisation, uploader,
    /// lifecycle, holds, consent) replaces any in the entities, a grant it lists as
    /// revoked is refused, and the signed approvals it keeps are presented with the
    /// request's own (verified like them) when [`Gate::approvals`] trusts approver keys.
    ///
    /// # Errors
    ///
    /// As [`Gate::decide_presented`]; [`Error::Registry`] when the registry cannot be
    /// read.
    pub fn decide_version(
        &self,
        manifest: &VerifiedManifest,
        request: AccessRequest,
        presented: &Presented,
    ) -> Result<Decision, Error> {
        let now = request.now;
        let cid = manifest.cid();
        let registered = self.registered(&cid, presented, &|| described(&request, &cid), now)?;
        self.decide_registered(registered, manifest, request, presented)
    }

    /// What the registry holds about `cid` and the grant presented (none without a
    /// registry); a version the registry does not know is denied and an erased one
    /// refused, each recorded.
    fn registered(
        &self,
        cid: &Cid,
        presented: &Presented,
        described: &dyn Fn() -> String,
        now: Timestamp,
    ) -> Result<Option<Registered>, Error> {
        let Some(registry) = self.registry else {
            return Ok(None);
        };
        // Verified once here: the registry is asked about its id, and a grant that
        // does not verify is refused by the decision as without a registry.
        let grant = presented
            .grant
            .as_ref()
            .and_then(|g| self.verifier.verify(g, now).ok());
        let view = registry
            .block_on(
                registry
                    .registry()
                    .decision_view(cid, grant.as_ref().map(VerifiedGrant::id)),
            )
            .map_err(|e| Error::registry(format!("reading version {cid}"), e))?;
        match view.status {
            VersionStatus::Known(k) if k.state == LifecycleState::Erased => {
                let err = Error::Blocked {
                    version: cid.to_string(),
                    state: "erased".to_owned(),
                };
                self.refuse(&described(), err, now)
            }
            VersionStatus::Known(k) => Ok(Some(Registered {
                known: *k,
                grant,
                grant_revoked: view.grant_revocation.is_some(),
                approvals: view.approvals,
            })),
            _ => {
                let err = Error::Denied {
                    reason: format!("version {cid} is not in the registry"),
                };
                self.refuse(&described(), err, now)
            }
        }
    }

    /// [`Gate::decide_version`] once the registry was read (`registered`, none without
    /// a registry).
    fn decide_registered(
        &self,
        registered: Option<Registered>,
        manifest: &VerifiedManifest,
        request: AccessRequest,
        presented: &Presented,
    ) -> Result<Decision, Error> {
        let now = request.now;
        let cid = manifest.cid();
        let Some(registered) = registered else {
            return self.decide_presented(request, presented, now);
        };
        let Some(record) = registered.known.version_record() else {
            let err = Error::Denied {
                reason: format!(
                    "version {cid} was registered without its owner, organisation and uploader"
                ),
            };
            return self.refuse(&described(&request, &cid), err, now);
        };
        let mut gate = *self;
        let entities = self
            .entities
            .with_version(self.engine, manifest, &record)
            .map_err(|e| Error::policy("the version's record from the registry", e))?;
        gate.entities = &entities;
        let verifier;
        let mut request = request;
        let mut presented = presented.clone();
        match registered.grant {
            Some(grant) if registered.grant_revoked => {
                // Refused by the verifier, with the reason in the decision.
                verifier = self.verifier.clone().revoke(grant.id().clone());
                gate.verifier = &verifier;
            }
            Some(grant) => {
                // Verified once: attached as such, not verified again.
                request = request.with_grant(grant);
                presented.grant = None;
            }
            None => {}
        }
        if let Some(approvers) = self.approvals
            && !approvers.is_empty()
        {
            // The approvals the registry keeps count as presented (each once).
            for kept in parse_approvals(&cid, &registered.approvals)? {
                if !presented.approvals.contains(&kept) {
                    presented.approvals.push(kept);
                }
            }
        }
        gate.decide_presented(request, &presented, now)
    }
}

/// How a refused request is described in the audit log: the action, the version and
/// who asked.
fn described(request: &AccessRequest, cid: &Cid) -> String {
    format!("{} {cid} by {:?}", request.action, request.principal)
}

/// What the registry holds about a version a decision is asked about.
struct Registered {
    known: KnownVersion,
    /// The grant presented, verified (none: none presented, or it did not verify).
    grant: Option<VerifiedGrant>,
    grant_revoked: bool,
    /// The approval envelopes kept.
    approvals: Vec<Vec<u8>>,
}

/// Reads a version: its envelope from the stores (the [`Catalog`] says where), the
/// signatures against a trust policy, a policy decision, the key from the
/// [`KeyBroker`], then every object, each block re-hashed, failing over per block, and
/// decrypted in memory into the output directory.
///
/// - Nothing is written before the decision allows the read; a Deny leaves no file.
/// - Every file is written under a temporary name and renamed only once its every chunk
///   authenticated and its plaintext matches the digest in the sealed section.
/// - **Resumable**: a file already in the output directory with the right size and
///   digest is kept and not read again.
/// - Providers are asked in the order [`order_for_read`] gives from their reputation,
///   those below the class's minimum tier left out.
/// - It returns a signed reproducibility [`Receipt`] (which provider served which chunk
///   of which object) and reputation [`Event`]s: successes only for verified blocks,
///   integrity failures for bad ones.
pub struct Fetch {
    manifest: Cid,
    trust: TrustPolicy,
    principal: Principal,
    action: Action,
    purpose: Purpose,
    region: Region,
    grant: Option<Grant>,
    approvals: Vec<Approval>,
    job: Option<String>,
    envelope: Option<Vec<u8>>,
    resolved: Option<Arc<VerifiedManifest>>,
    rules: PlacementRules,
    candidates: Vec<Candidate>,
    window: usize,
    observer: Option<ObserverId>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetch")
            .field("manifest", &self.manifest)
            .field("principal", &self.principal)
            .field("action", &self.action)
            .field("purpose", &self.purpose)
            .field("region", &self.region)
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

/// One file a fetch wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchedFile {
    /// Its object path.
    pub path: String,
    /// Its plaintext length.
    pub size: u64,
    /// Whether it was already complete in the output directory (not read again).
    pub resumed: bool,
}

/// The chunk a provider served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServedChunk {
    /// The block.
    pub cid: Cid,
    /// Who served it.
    pub provider: ProviderId,
}

/// One object of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptObject {
    /// Its path.
    pub path: String,
    /// Its root CID.
    pub root: Cid,
    /// Every block read, in order, with its provider (empty for a file resumed from the
    /// output directory).
    pub blocks: Vec<ServedChunk>,
}

/// A reproducibility receipt: what was read, by whom, why, and from whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Receipt {
    /// The version read.
    pub manifest_cid: Cid,
    /// When.
    pub time: Timestamp,
    /// Who (`user:ID`, `service-account:ID`).
    pub principal: String,
    /// The action.
    pub action: Action,
    /// Why.
    pub purpose: Purpose,
    /// Where.
    pub region: Region,
    /// The job, if named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Every object.
    pub objects: Vec<ReceiptObject>,
}

impl Receipt {
    /// Signs the receipt: a DSSE envelope of payload type [`RECEIPT_PAYLOAD_TYPE`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if it cannot be encoded or signed.
    pub fn sign(&self, key: &SigningKey) -> Result<Envelope, Error> {
        let payload =
            serde_json::to_vec(self).map_err(|e| Error::Invalid(format!("receipt: {e}")))?;
        Envelope::sign(RECEIPT_PAYLOAD_TYPE, payload, key, None)
            .map_err(|e| Error::Invalid(format!("signing the receipt: {e}")))
    }
}

/// What a fetch did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Fetched {
    /// The verified manifest.
    pub manifest: Arc<VerifiedManifest>,
    /// Every file, in path order.
    pub files: Vec<FetchedFile>,
    /// The receipt (sign it with [`Receipt::sign`]).
    pub receipt: Receipt,
    /// Reputation events from what was observed.
    pub events: Vec<Event>,
    /// The decision that allowed the read.
    pub decision: Decision,
}

impl Fetch {
    /// A fetch of version `manifest` by `principal`, to `action` it for `purpose` in
    /// `region`; signatures checked against `trust`.
    #[must_use]
    pub fn new(
        manifest: Cid,
        trust: TrustPolicy,
        principal: Principal,
        action: Action,
        purpose: Purpose,
        region: Region,
    ) -> Self {
        Self {
            manifest,
            trust,
            principal,
            action,
            purpose,
            region,
            grant: None,
            approvals: Vec::new(),
            job: None,
            envelope: None,
            resolved: None,
            rules: PlacementRules::default(),
            candidates: Vec::new(),
            window: dataseal_transport::DEFAULT_READ_WINDOW,
            observer: None,
            progress: None,
        }
    }

    /// Presents an access grant.
    #[must_use]
    pub fn grant(mut self, grant: Grant) -> Self {
        self.grant = Some(grant);
        self
    }
    /// Presents a signed approval of the version (a restricted version needs one from
    /// its data owner and one from a compliance reviewer); repeatable.
    #[must_use]
    pub fn approval(mut self, approval: Approval) -> Self {
        self.approvals.push(approval);
        self
    }

    /// Names the job (recorded in the receipt).
    #[must_use]
    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    /// Uses this envelope (DSSE JSON) instead of looking it up in the catalog; it must
    /// carry exactly the manifest the CID names.
    #[must_use]
    pub fn envelope(mut self, json: Vec<u8>) -> Self {
        self.envelope = Some(json);
        self.resolved = None;
        self
    }

    /// The placement table whose minimum tiers reads honour.
    #[must_use]
    pub fn rules(mut self, rules: PlacementRules) -> Self {
        self.rules = rules;
        self
    }

    /// What a reputation model says of the providers (for the read order and tiers).
    #[must_use]
    pub fn candidates(mut self, candidates: impl IntoIterator<Item = Candidate>) -> Self {
        self.candidates.extend(candidates);
        self
    }

    /// Blocks fetched ahead per object (default 8).
    #[must_use]
    pub fn window(mut self, blocks: usize) -> Self {
        self.window = blocks.max(1);
        self
    }

    /// Who the reputation events name as observer (default `dataseal`).
    #[must_use]
    pub fn observer(mut self, observer: ObserverId) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Calls `f` as bytes are written.
    #[must_use]
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Reads and verifies the version's envelope only, as [`Fetch::run`] does first: no
    /// decision, no key, nothing written. For a caller that needs the verified manifest
    /// to build the decision point's entities (the version's own attributes come from
    /// it). The result is kept: a [`Fetch::run`] or [`Fetch::open`] that follows uses
    /// this verification instead of reading and checking the envelope a second time.
    ///
    /// # Errors
    ///
    /// As [`Fetch::run`], for the envelope.
    pub fn resolve(
        &mut self,
        providers: &mut [Provider],
        catalog: &dyn Catalog,
    ) -> Result<Arc<VerifiedManifest>, Error> {
        let rt = connect(providers)?;
        let verified = Arc::new(resolve(
            &rt,
            &self.manifest,
            self.envelope.as_deref(),
            catalog,
            providers,
            &self.trust,
            Timestamp::now(),
        )?);
        self.resolved = Some(Arc::clone(&verified));
        Ok(verified)
    }

    fn verified_envelope(
        &self,
        rt: &tokio::runtime::Runtime,
        providers: &[Provider],
        catalog: &dyn Catalog,
        now: Timestamp,
    ) -> Result<Arc<VerifiedManifest>, Error> {
        if let Some(verified) = &self.resolved {
            return Ok(Arc::clone(verified));
        }
        let given = self.envelope.as_deref();
        resolve(
            rt,
            &self.manifest,
            given,
            catalog,
            providers,
            &self.trust,
            now,
        )
        .map(Arc::new)
    }

    /// Runs the fetch into `out_dir`.
    ///
    /// # Errors
    ///
    /// [`Error::Verification`] / [`Error::Manifest`] for an envelope that does not
    /// verify or does not carry the version asked for, and for data that does not
    /// authenticate; [`Error::Denied`] / [`Error::Blocked`] when the decision point
    /// refuses (nothing is written); [`Error::Unavailable`] when no store can serve;
    /// [`Error::Io`] for a local file that cannot be written.
    pub fn run(
        &self,
        providers: &mut [Provider],
        catalog: &dyn Catalog,
        broker: &dyn KeyBroker,
        gate: &Gate<'_>,
        out_dir: &Path,
    ) -> Result<Fetched, Error> {
        if providers.is_empty() {
            return Err(Error::Invalid(
                "a fetch needs at least one store".to_owned(),
            ));
        }
        let rt = connect(providers)?;
        let now = Timestamp::now();
        let Admitted {
            manifest,
            decision,
            kek,
            section,
        } = self.admit(&rt, providers, catalog, broker, gate, now)?;
        let m = manifest.manifest();

        // 3. The read order: by reputation, below the class's minimum tier left out.
        let rule = self.rules.rule(m.sensitivity);
        let order = self.read_order(providers, rule.min_tier)?;
        let stores: Vec<&dyn Transport> = order
            .iter()
            .filter_map(|&i| providers.get(i))
            .map(|p| p.store().transport())
            .collect();
        let names: Vec<ProviderId> = order
            .iter()
            .filter_map(|&i| providers.get(i))
            .map(|p| p.id().clone())
            .collect();

        // 4. Every object.
        std::fs::create_dir_all(out_dir).map_err(|e| Error::io_at("create", out_dir, e))?;
        let total: u64 = m.objects.iter().map(|o| o.size).sum();
        let mut progress = Progress {
            bytes_done: 0,
            bytes_total: total,
            object: String::new(),
        };
        let mut files = Vec::with_capacity(m.objects.len());
        let mut receipt_objects = Vec::with_capacity(m.objects.len());
        let mut events = Vec::new();
        for entry in &m.objects {
            let path = entry.path.as_str();
            progress.object = path.to_owned();
            let (Some(root), Some(enc)) = (entry.root_cid, entry.encryption.as_ref()) else {
                return Err(Error::Verification(format!(
                    "{path}: not an encrypted object (no root CID or encryption header)"
                )));
            };
            let header = ObjectHeader::from_json(enc.to_json().as_bytes())
                .map_err(|e| Error::crypt(format!("{path}: header"), e))?;
            let sealed = section.get(header.object_id()).ok_or_else(|| {
                Error::Verification(format!("{path}: no entry in the sealed section"))
            })?;
            let target = out_dir.join(path);
            if complete(&target, entry.size, &sealed.plaintext_sha256)? {
                files.push(FetchedFile {
                    path: path.to_owned(),
                    size: entry.size,
                    resumed: true,
                });
                receipt_objects.push(ReceiptObject {
                    path: path.to_owned(),
                    root,
                    blocks: Vec::new(),
                });
                progress.bytes_done += entry.size;
                self.report(&progress);
                continue;
            }
            let dek = sealed
                .wrapped_key
                .unwrap(&kek, header.object_id())
                .map_err(|e| Error::crypt(format!("{path}: data key"), e))?;
            let decryptor =
                Decryptor::new(&dek, &header).map_err(|e| Error::crypt(path.to_owned(), e))?;
            let parent = target.parent().unwrap_or(out_dir);
            std::fs::create_dir_all(parent).map_err(|e| Error::io_at("create", parent, e))?;
            let tmp = tempfile::Builder::new()
                .prefix(".dataseal-")
                .suffix(".partial")
                .tempfile_in(parent)
                .map_err(|e| Error::io_at("create a temporary file in", parent, e))?;
            let mut writer = DecryptingWriter::new(decryptor, tmp.as_file());
            let mut read = VerifiedRead::new(root).window(self.window);
            let result = rt.block_on(read.run(&stores, &mut writer));
            events.extend(self.events_of(&read, &names, now));
            let context = |e| Error::transport(format!("{path}: reading {root}"), e);
            result.map_err(context)?;
            let digest = writer.finish().map_err(|e| match e {
                WriteError::Crypt(e) => Error::crypt(path.to_owned(), e),
                WriteError::Io(e) => Error::io(format!("writing {}", target.display()), e),
            })?;
            if digest != sealed.plaintext_sha256 {
                return Err(Error::Verification(format!(
                    "{path}: the decrypted bytes do not match the digest in the sealed section"
                )));
            }
            tmp.as_file()
                .sync_all()
                .map_err(|e| Error::io_at("sync", tmp.path(), e))?;
            tmp.persist(&target)
                .map_err(|e| Error::io_at("rename into", &target, e.error))?;
            receipt_objects.push(ReceiptObject {
                path: path.to_owned(),
                root,
                blocks: read
                    .served()
                    .iter()
                    .filter_map(|s| {
                        names.get(s.store).map(|p| ServedChunk {
                            cid: s.cid,
                            provider: p.clone(),
                        })
                    })
                    .collect(),
            });
            files.push(FetchedFile {
                path: path.to_owned(),
                size: entry.size,
                resumed: false,
            });
            progress.bytes_done += entry.size;
            self.report(&progress);
        }
        let receipt = self.receipt(now, receipt_objects);
        record_read(gate, &self.principal, &receipt)?;
        Ok(Fetched {
            manifest,
            files,
            receipt,
            events,
            decision,
        })
    }

    /// Steps 0–2 of a read: the registry, the envelope, the decision, the key.
    pub(crate) fn admit(
        &self,
        rt: &tokio::runtime::Runtime,
        providers: &[Provider],
        catalog: &dyn Catalog,
        broker: &dyn KeyBroker,
        gate: &Gate<'_>,
        now: Timestamp,
    ) -> Result<Admitted, Error> {
        let described = || {
            format!(
                "fetch {} by {:?} for {} in {}",
                self.manifest, self.principal, self.purpose, self.region
            )
        };

        // 0. The registry first: an unknown version is denied and an erased one refused
        //    before any block is read.
        let presented = Presented {
            grant: self.grant.clone(),
            approvals: self.approvals.clone(),
        };
        let registered = gate.registered(&self.manifest, &presented, &described, now)?;

        // 1. The envelope, checked to carry exactly this version, and its signatures.
        let manifest = self.verified_envelope(rt, providers, catalog, now)?;

        // 2. The decision, with the registry's record as it stands now: nothing is
        //    written unless it allows.
        let purpose = match DataPurpose::try_from(&self.purpose) {
            Ok(purpose) => purpose,
            Err(e) => {
                return gate.refuse(&described(), Error::policy("the purpose", e), now);
            }
        };
        let request = AccessRequest::new(
            self.principal.clone(),
            self.action,
            Resource::Version(self.manifest),
            purpose,
            self.region.clone(),
            now,
        );
        let decision = gate.decide_registered(registered, &manifest, request, &presented)?;
        let release = Release::new(&self.manifest, &decision).ok_or_else(|| Error::Denied {
            reason: "not allowed".to_owned(),
        })?;
        let kek = broker.release(&release)?;
        let m = manifest.manifest();
        let context = format!("{}@{}", m.dataset_id, m.version);
        let section = open_section(m.sealed.as_deref(), &kek, &context)?;
        Ok(Admitted {
            manifest,
            decision,
            kek,
            section,
        })
    }

    /// The receipt of a read at `now` of `objects`.
    pub(crate) fn receipt(&self, now: Timestamp, objects: Vec<ReceiptObject>) -> Receipt {
        Receipt {
            manifest_cid: self.manifest,
            time: now,
            principal: self.principal.to_string(),
            action: self.action,
            purpose: self.purpose.clone(),
            region: self.region.clone(),
            job: self.job.clone(),
            objects,
        }
    }

    pub(crate) fn placement(&self) -> &PlacementRules {
        &self.rules
    }

    pub(crate) fn principal(&self) -> &Principal {
        &self.principal
    }

    pub(crate) fn manifest_cid(&self) -> &Cid {
        &self.manifest
    }

    pub(crate) fn read_window(&self) -> usize {
        self.window
    }

    fn report(&self, progress: &Progress) {
        if let Some(f) = &self.progress {
            f(progress);
        }
    }

    /// Provider indices in read order: without reputation figures, the order given;
    /// with them, [`order_for_read`] (best first, suspended last, disqualified left
    /// out), then providers it knows nothing of. Below `min_tier`: left out.
    pub(crate) fn read_order(
        &self,
        providers: &[Provider],
        min_tier: Option<dataseal_reputation::Tier>,
    ) -> Result<Vec<usize>, Error> {
        let known = |p: &Provider| self.candidates.iter().find(|c| c.provider == *p.id());
        let tier_ok = |p: &Provider| {
            min_tier.is_none_or(|min| known(p).and_then(|c| c.tier).is_some_and(|t| t >= min))
        };
        let ranked: Vec<Candidate> = providers
            .iter()
            .filter(|p| tier_ok(p))
            .filter_map(|p| known(p).cloned())
            .collect();
        let mut order: Vec<usize> = order_for_read(&ranked)
            .iter()
            .filter_map(|id| providers.iter().position(|p| p.id() == id))
            .collect();
        for (i, p) in providers.iter().enumerate() {
            if known(p).is_none() && tier_ok(p) {
                order.push(i);
            }
        }
        if order.is_empty() {
            return Err(Error::Unavailable(format!(
                "no provider at or above the minimum tier {min_tier:?} of this version's class"
            )));
        }
        Ok(order)
    }

    fn events_of(&self, read: &VerifiedRead, names: &[ProviderId], now: Timestamp) -> Vec<Event> {
        let mut out = Vec::new();
        let Some(observer) = self.observer.clone().or_else(|| "dataseal".parse().ok()) else {
            return out;
        };
        for f in read.failures() {
            let Some(p) = names.get(f.store) else {
                continue;
            };
            let outcome = match f.kind {
                FailureKind::Integrity => Outcome::IntegrityFailure,
                FailureKind::Unavailable => Outcome::Timeout,
                _ => Outcome::Failure,
            };
            out.push(Event::new(
                now,
                observer.clone(),
                p.clone(),
                EventKind::Retrieval,
                outcome,
            ));
        }
        for s in read.served() {
            let Some(p) = names.get(s.store) else {
                continue;
            };
            if let Ok(e) = Event::new(
                now,
                observer.clone(),
                p.clone(),
                EventKind::Retrieval,
                Outcome::Success,
            )
            .with_bytes(s.len)
            .verified()
            {
                out.push(e);
            }
        }
        out
    }
}

/// Records a read in the gate's registry, if it has one.
pub(crate) fn record_read(
    gate: &Gate<'_>,
    principal: &Principal,
    receipt: &Receipt,
) -> Result<(), Error> {
    let Some(registry) = gate.registry else {
        return Ok(());
    };
    let bytes = serde_json::to_vec(receipt).map_err(|e| Error::Invalid(format!("receipt: {e}")))?;
    let mut read =
        dataseal_registry::ReadRecord::new(receipt.manifest_cid, principal.clone(), receipt.time)
            .receipt(bytes);
    if let Some(job) = &receipt.job {
        read = read.job(job.clone());
    }
    registry
        .block_on(registry.registry().record_read(&read))
        .map_err(|e| Error::registry(format!("recording the read of {}", receipt.manifest_cid), e))
}

/// What the admission of a read yields: the verified manifest, the decision that
/// allowed it, the released key and the opened sealed section.
pub(crate) struct Admitted {
    pub(crate) manifest: Arc<VerifiedManifest>,
    pub(crate) decision: Decision,
    pub(crate) kek: KeyEncryptionKey,
    pub(crate) section: SealedSection,
}

/// Reads and checks the envelope of `version`, from `given` or else from the stores
/// the catalog's entry points to.
///
/// Memory stays near one copy of the manifest at a time: the envelope's bytes go once
/// parsed, and its payload moves into the verified manifest.
pub(crate) fn resolve(
    rt: &tokio::runtime::Runtime,
    version: &Cid,
    given: Option<&[u8]>,
    catalog: &dyn Catalog,
    providers: &[Provider],
    trust: &TrustPolicy,
    now: Timestamp,
) -> Result<VerifiedManifest, Error> {
    let envelope = match given {
        Some(bytes) => parse_envelope(bytes)?,
        None => {
            let entry = catalog.lookup(version)?.ok_or_else(|| {
                Error::Unavailable(format!("version {version} is not in the catalog"))
            })?;
            if entry.envelope_len > MAX_ENVELOPE_LEN {
                return Err(Error::Invalid(format!(
                    "version {version}: its envelope of {} bytes is over the {MAX_ENVELOPE_LEN}-byte limit",
                    entry.envelope_len
                )));
            }
            let stores: Vec<&dyn Transport> =
                providers.iter().map(|p| p.store().transport()).collect();
            let mut read = VerifiedRead::range(entry.envelope, 0, entry.envelope_len);
            let mut bytes = Vec::new();
            rt.block_on(read.run(&stores, &mut bytes))
                .map_err(|e| Error::transport(format!("reading the envelope of {version}"), e))?;
            if read.file_len() != Some(entry.envelope_len) {
                return Err(Error::Verification(format!(
                    "the envelope of {version} is not {} bytes long",
                    entry.envelope_len
                )));
            }
            parse_envelope(&bytes)?
        }
    };
    let carried = manifest_cid(envelope.payload_unverified());
    if carried != *version {
        return Err(Error::Verification(format!(
            "the envelope found for {version} carries another manifest ({carried})"
        )));
    }
    verify_envelope_into(envelope, trust, now)
        .map_err(|e| Error::manifest(format!("verifying {version}"), e))
}

fn parse_envelope(bytes: &[u8]) -> Result<Envelope, Error> {
    Envelope::from_json(bytes)
        .map_err(|e| Error::manifest("the envelope", dataseal_manifest::Error::Signature(e)))
}

/// Opens a manifest's sealed section.
pub(crate) fn open_section(
    sealed: Option<&str>,
    kek: &KeyEncryptionKey,
    context: &str,
) -> Result<SealedSection, Error> {
    let text = sealed.ok_or_else(|| {
        Error::Verification("the manifest has no sealed section: no data keys to open".to_owned())
    })?;
    let bytes = base64ct::Base64::decode_vec(text)
        .map_err(|_| Error::Verification("the sealed section is not base64".to_owned()))?;
    SealedSection::open(&bytes, kek, context).map_err(|e| Error::crypt("the sealed section", e))
}

/// Whether `target` already holds exactly the object (right size and digest).
fn complete(target: &Path, size: u64, digest: &[u8; 32]) -> Result<bool, Error> {
    let meta = match std::fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io_at("inspect", target, e)),
    };
    if !meta.is_file() {
        return Err(Error::Invalid(format!(
            "{} exists and is not a regular file",
            target.display()
        )));
    }
    if meta.len() != size {
        return Ok(false);
    }
    let mut file = std::fs::File::open(target).map_err(|e| Error::io_at("open", target, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io_at("read", target, e))?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(<[u8; 32]>::from(hasher.finalize()) == *digest)
}

/// Why the decrypting writer stopped.
#[derive(Debug)]
enum WriteError {
    Crypt(dataseal_crypt::Error),
    Io(std::io::Error),
}

/// Takes the verified ciphertext stream of one object, in order, and decrypts it chunk
/// by chunk in memory, writing plaintext to a file and hashing it.
struct DecryptingWriter<'a> {
    decryptor: Decryptor,
    out: &'a std::fs::File,
    buf: Vec<u8>,
    index: u64,
    hasher: Sha256,
    failed: Option<WriteError>,
}

impl<'a> DecryptingWriter<'a> {
    fn new(decryptor: Decryptor, out: &'a std::fs::File) -> Self {
        let c = decryptor.header().chunk_size().bytes();
        Self {
            decryptor,
            out,
            buf: Vec::with_capacity(c),
            index: 0,
            hasher: Sha256::new(),
            failed: None,
        }
    }

    /// The ciphertext length of chunk `index`.
    fn chunk_len(&self, index: u64) -> u64 {
        let h = self.decryptor.header();
        let c = h.chunk_size().bytes() as u64;
        h.ciphertext_len().saturating_sub(index * c).min(c)
    }

    fn flush_chunk(&mut self) -> Result<(), WriteError> {
        self.decryptor
            .decrypt_chunk(self.index, &mut self.buf)
            .map_err(WriteError::Crypt)?;
        self.hasher.update(&self.buf);
        let mut out = self.out;
        out.write_all(&self.buf).map_err(WriteError::Io)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    fn take(&mut self, mut data: &[u8]) -> Result<(), WriteError> {
        let count = self.decryptor.header().chunk_count();
        while !data.is_empty() {
            if self.index >= count {
                return Err(WriteError::Crypt(dataseal_crypt::Error::TrailingData {
                    expected: self.decryptor.header().ciphertext_len(),
                }));
            }
            let want = usize::try_from(self.chunk_len(self.index)).unwrap_or(usize::MAX);
            let n = want.saturating_sub(self.buf.len()).min(data.len());
            let (head, rest) = data.split_at(n);
            self.buf.extend_from_slice(head);
            data = rest;
            if self.buf.len() == want {
                self.flush_chunk()?;
            }
        }
        Ok(())
    }

    /// Checks that every chunk arrived and returns the plaintext's SHA-256.
    fn finish(mut self) -> Result<[u8; 32], WriteError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let count = self.decryptor.header().chunk_count();
        // An empty object is one empty last chunk of 16 bytes, which arrives as data;
        // anything short of the last chunk is a truncation.
        if self.index != count {
            return Err(WriteError::Crypt(dataseal_crypt::Error::Chunk {
                index: self.index,
            }));
        }
        Ok(self.hasher.finalize().into())
    }
}

impl AsyncWrite for DecryptingWriter<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.failed.is_some() {
            return Poll::Ready(Err(std::io::Error::other("decryption failed")));
        }
        match self.take(data) {
            Ok(()) => Poll::Ready(Ok(data.len())),
            Err(e) => {
                let message = match &e {
                    WriteError::Crypt(c) => c.to_string(),
                    WriteError::Io(i) => i.to_string(),
                };
                self.failed = Some(e);
                Poll::Ready(Err(std::io::Error::other(message)))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
