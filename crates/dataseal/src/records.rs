//! The registry beside the stories: a synchronous handle on `dataseal-registry`, the
//! registration of a published version, and erasure by crypto-shredding with its signed
//! receipt.

use std::future::Future;

use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{Cid, ProviderId, SigningKey, Timestamp};
use dataseal_manifest::{RetentionAction, VerifiedManifest};
use dataseal_policy::{Approval, ApprovalError, ApprovalVerifier, VerifiedApprovals};
use dataseal_registry::{
    Actor, Change, KnownVersion, LifecycleState, NewVersion, OpenOptions, Reason, Registry,
    Stewardship, VersionStatus,
};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::broker::KeyBroker;
use crate::catalog::Catalog;
use crate::fetch::resolve;
use crate::store::{Provider, connect};

/// The DSSE payload type of an erasure receipt.
pub const ERASURE_PAYLOAD_TYPE: &str = "application/vnd.dataseal.erasure+json";

/// The registry for the synchronous facade: a [`Registry`] and the runtime its
/// connections live on. [`crate::Gate::registry`] reads a version's lifecycle, holds,
/// consent and revoked grants from it at decision time; a fetch records its read in it;
/// [`SyncRegistry::register_published`] and [`Erase`] write to it.
#[derive(Debug)]
pub struct SyncRegistry {
    rt: tokio::runtime::Runtime,
    registry: Registry,
}

impl SyncRegistry {
    /// Opens the registry at `url` (`sqlite:PATH`, created if missing, or
    /// `postgres://…`) and brings its schema up to date.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] as [`Registry::open`]; [`Error::Invalid`] when called inside
    /// an async runtime.
    pub fn open(url: &str) -> Result<Self, Error> {
        Self::open_with(url, &OpenOptions::default())
    }

    /// [`SyncRegistry::open`] with options (whether a SQLite file is created, how long
    /// to try a server).
    ///
    /// # Errors
    ///
    /// As [`SyncRegistry::open`].
    pub fn open_with(url: &str, options: &OpenOptions) -> Result<Self, Error> {
        let rt = crate::runtime()?;
        let registry = rt
            .block_on(Registry::open_with(url, options))
            .map_err(|e| Error::registry("opening the registry", e))?;
        Ok(Self { rt, registry })
    }

    /// The registry, for the operations the facade does not wrap (run them with
    /// [`SyncRegistry::block_on`]).
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Runs one of the registry's operations to completion.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// What the registry knows of `cid` now.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] for a database failure.
    pub fn status(&self, cid: &Cid) -> Result<VersionStatus, Error> {
        self.block_on(self.registry.status(cid))
            .map_err(|e| Error::registry(format!("reading version {cid}"), e))
    }

    /// Registers the version `verified` (a manifest that verified against the
    /// publisher's trust) as quarantined, with its lineage and retention end from the
    /// manifest and `stewardship`, by `actor` for `reason` at `at`. It is readable once
    /// approved and published in the registry.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`]: already registered, a malformed source URI, a database
    /// failure.
    pub fn register_published(
        &self,
        verified: &VerifiedManifest,
        stewardship: Stewardship,
        actor: Actor,
        reason: Reason,
        at: Timestamp,
    ) -> Result<(), Error> {
        let cid = verified.cid();
        let version = NewVersion::from_manifest(cid, verified.manifest())
            .map_err(|e| Error::registry(format!("registering {cid}"), e))?
            .with_stewardship(stewardship);
        self.block_on(
            self.registry
                .register(&version, &Change::new(actor, reason, at)),
        )
        .map_err(|e| Error::registry(format!("registering {cid}"), e))
    }
}

/// What [`SyncRegistry::approve`] leaves: the approvals now kept (verified together)
/// and the version's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Approved {
    /// The approvals kept for the version, verified together.
    pub approvals: VerifiedApprovals,
    /// Its lifecycle state afterwards (`approved` once both roles approved a quarantined
    /// version).
    pub state: LifecycleState,
}

impl SyncRegistry {
    /// The signed approvals kept for `cid`, as parsed envelopes.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] for an unknown version or a database failure;
    /// [`Error::Verification`] for a stored envelope that no longer parses.
    pub fn approvals(&self, cid: &Cid) -> Result<Vec<Approval>, Error> {
        let stored = self
            .block_on(self.registry.approval_envelopes(cid))
            .map_err(|e| Error::registry(format!("reading the approvals of {cid}"), e))?;
        parse_approvals(cid, &stored)
    }

    /// Records a signed approval of a registered version, once it verifies together
    /// with the approvals already kept: signed by a key `verifier` trusts for the
    /// approver and role its statement names, for this version, not dated in the
    /// future; at most one per role, by two different people; never by the version's
    /// uploader. When the data owner's and compliance's approvals are both in and the
    /// version is quarantined, it moves to `approved`, by the second approver in their
    /// role. Nothing is recorded on any error.
    ///
    /// # Errors
    ///
    /// [`Error::Verification`] for a signature no trusted approver key makes, or one
    /// made by a key trusted for someone else; [`Error::Denied`] for the uploader's own
    /// approval or a version registered without its uploader; [`Error::Invalid`] for
    /// another version's approval, a second approval in one role or by one person, or
    /// one dated in the future; [`Error::Registry`] for an unknown version, a state
    /// the transition table does not let move to approved, or a database failure.
    pub fn approve(
        &self,
        approval: &Approval,
        verifier: &ApprovalVerifier,
        now: Timestamp,
    ) -> Result<Approved, Error> {
        let statement = approval.statement_unverified();
        let cid = statement.cid;
        let Some(version) = known(self, &cid)? else {
            return Err(Error::registry(
                "approving",
                dataseal_registry::Error::UnknownVersion(cid),
            ));
        };
        let Some(stewardship) = &version.stewardship else {
            return Err(Error::Denied {
                reason: format!(
                    "version {cid} was registered without its uploader: the uploader cannot be told apart from an approver"
                ),
            });
        };
        let mut all = self.approvals(&cid)?;
        all.push(approval.clone());
        let verified = verifier.verify(&all, &cid, now).map_err(|e| match e {
            ApprovalError::BadSignature { .. } | ApprovalError::NotAuthorised { .. } => {
                Error::Verification(e.to_string())
            }
            other => Error::Invalid(other.to_string()),
        })?;
        if statement.approver == stewardship.uploader {
            return Err(Error::Denied {
                reason: format!(
                    "{} uploaded version {cid} and cannot approve it",
                    statement.approver
                ),
            });
        }
        let envelope = approval.to_json();
        let mut state = version.state;
        if let (Some(owner), Some(reviewer)) =
            (verified.data_owner(), verified.compliance_reviewer())
            && state == LifecycleState::Quarantined
        {
            // Both roles approved: the approval is kept and the version moves to
            // approved in one transaction.
            let role: dataseal_base::Role = statement
                .role
                .as_str()
                .parse()
                .map_err(|e| Error::Invalid(format!("approver role: {e}")))?;
            let reason: Reason = format!(
                "approved by the data owner {owner} and the compliance reviewer {reviewer}"
            )
            .parse()
            .map_err(|e| Error::Invalid(format!("reason: {e}")))?;
            let change = Change::new(Actor::user(statement.approver.clone(), role), reason, now);
            self.block_on(
                self.registry
                    .approve_verified(&cid, envelope.as_bytes(), &change),
            )
            .map_err(|e| Error::registry(format!("approving {cid}"), e))?;
            state = LifecycleState::Approved;
        } else {
            self.block_on(
                self.registry
                    .record_approval_envelope(&cid, envelope.as_bytes(), now),
            )
            .map_err(|e| Error::registry(format!("recording the approval of {cid}"), e))?;
        }
        Ok(Approved {
            approvals: verified,
            state,
        })
    }
}

/// Who answers for a version, from text: the data owner and uploader as user ids, the
/// organisation as a group id, and whether the data holds special categories of
/// personal data (GDPR Art. 9).
///
/// # Errors
///
/// [`Error::Invalid`] naming the field that does not parse.
pub fn stewardship(
    owner: &str,
    organisation: &str,
    uploader: &str,
    special_category_data: bool,
) -> Result<Stewardship, Error> {
    let user = |what: &str, v: &str| {
        v.parse::<dataseal_policy::UserId>()
            .map_err(|e| Error::Invalid(format!("{what} {v:?}: {e}")))
    };
    Ok(Stewardship {
        owner: user("owner", owner)?,
        organisation: organisation
            .parse()
            .map_err(|e| Error::Invalid(format!("organisation {organisation:?}: {e}")))?,
        uploader: user("uploader", uploader)?,
        special_category_data,
    })
}

/// What the decision point reads from the registry for a version at decision time.
pub(crate) fn known(registry: &SyncRegistry, cid: &Cid) -> Result<Option<KnownVersion>, Error> {
    Ok(match registry.status(cid)? {
        VersionStatus::Known(k) => Some(*k),
        _ => None,
    })
}

/// What an erasure did, signed by the one who carried it out: the version, the ids of
/// the key copies destroyed, the stores that unpinned its blocks, when and by whom. It
/// names no person beyond the acting principal and holds no data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErasureReceipt {
    /// The version erased.
    pub manifest_cid: Cid,
    /// The key copies destroyed (see [`KeyBroker::destroy`]).
    pub keys_destroyed: Vec<String>,
    /// The stores asked to unpin, each with the roots it unpinned.
    pub stores: Vec<UnpinnedStore>,
    /// When.
    pub time: Timestamp,
    /// Who (`user:ID`, `service-account:ID`).
    pub principal: String,
    /// In which role.
    pub role: String,
}

/// One store's part in an erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnpinnedStore {
    /// The store.
    pub provider: ProviderId,
    /// The roots (envelope and objects) it no longer pins.
    pub unpinned: Vec<Cid>,
}

impl ErasureReceipt {
    /// Signs the receipt: a DSSE envelope of payload type [`ERASURE_PAYLOAD_TYPE`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if it cannot be encoded or signed.
    pub fn sign(&self, key: &SigningKey) -> Result<Envelope, Error> {
        let payload = serde_json::to_vec(self)
            .map_err(|e| Error::Invalid(format!("erasure receipt: {e}")))?;
        Envelope::sign(ERASURE_PAYLOAD_TYPE, payload, key, None)
            .map_err(|e| Error::Invalid(format!("signing the erasure receipt: {e}")))
    }

    /// Verifies a signed receipt (DSSE JSON) against `trust` at `now` and reads it.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for bytes that are not an envelope or a receipt;
    /// [`Error::Verification`] for a signature `trust` does not accept or another
    /// payload type.
    pub fn verify(bytes: &[u8], trust: &TrustPolicy, now: Timestamp) -> Result<Self, Error> {
        let envelope = Envelope::from_json(bytes)
            .map_err(|e| Error::Invalid(format!("erasure receipt: {e}")))?;
        let verified = trust
            .verify(&envelope, ERASURE_PAYLOAD_TYPE, now)
            .map_err(|e| Error::Verification(format!("erasure receipt: {e}")))?;
        serde_json::from_slice(verified.payload())
            .map_err(|e| Error::Invalid(format!("erasure receipt: {e}")))
    }
}

/// Erases a version by crypto-shredding: marks it erased in the registry (refused while
/// a legal hold covers it), destroys every copy of its key-encryption key the key
/// brokers hold, unpins its envelope and objects on every store, and signs an
/// [`ErasureReceipt`], which the registry keeps.
///
/// The version is marked erased **first**, so from that moment no decision releases
/// its key, whatever happens next; an erasure interrupted after that is carried out
/// again by running it again, and the registry keeps the last receipt.
#[derive(Debug, Clone)]
pub struct Erase {
    manifest: Cid,
    trust: TrustPolicy,
    actor: Actor,
    reason: Reason,
}

impl Erase {
    /// An erasure of `manifest` by `actor` for `reason`; the envelope (for its object
    /// roots) must verify against `trust`.
    #[must_use]
    pub fn new(manifest: Cid, trust: TrustPolicy, actor: Actor, reason: Reason) -> Self {
        Self {
            manifest,
            trust,
            actor,
            reason,
        }
    }

    /// Runs the erasure.
    ///
    /// # Errors
    ///
    /// [`Error::Blocked`] when a legal hold covers the version (nothing is destroyed);
    /// [`Error::Registry`] for an unknown version, a state that cannot be erased or a
    /// database failure; [`Error::Verification`] for an envelope that does not verify
    /// (the version is then already marked erased: run again with the right trust);
    /// [`Error::Unavailable`] when a store cannot unpin; [`Error::Io`] when a key copy
    /// cannot be destroyed.
    pub fn run(
        &self,
        registry: &SyncRegistry,
        brokers: &[&dyn KeyBroker],
        providers: &mut [Provider],
        catalog: &dyn Catalog,
        signer: &SigningKey,
    ) -> Result<(Envelope, ErasureReceipt), Error> {
        let cid = self.manifest;
        let now = Timestamp::now();
        let Some(version) = known(registry, &cid)? else {
            return Err(Error::registry(
                "erasing",
                dataseal_registry::Error::UnknownVersion(cid),
            ));
        };
        if version.is_held() {
            return Err(Error::Blocked {
                version: cid.to_string(),
                state: format!(
                    "under {} legal hold(s): erasure refused",
                    version.active_holds
                ),
            });
        }
        if version.state != LifecycleState::Erased {
            let change = Change::new(self.actor.clone(), self.reason.clone(), now);
            registry
                .block_on(
                    registry
                        .registry()
                        .transition(&cid, LifecycleState::Erased, &change),
                )
                .map_err(|e| match e {
                    dataseal_registry::Error::Held { holds, .. } => Error::Blocked {
                        version: cid.to_string(),
                        state: format!("under {holds} legal hold(s): erasure refused"),
                    },
                    other => Error::registry(format!("erasing {cid}"), other),
                })?;
        }
        let mut keys_destroyed = Vec::new();
        for broker in brokers {
            keys_destroyed.extend(broker.destroy(&cid)?);
        }
        let rt = connect(providers)?;
        let manifest = resolve(&rt, &cid, None, catalog, providers, &self.trust, now)?;
        let mut roots = Vec::new();
        if let Some(entry) = catalog.lookup(&cid)? {
            roots.push(entry.envelope);
        }
        roots.extend(
            manifest
                .manifest()
                .objects
                .iter()
                .filter_map(|o| o.root_cid),
        );
        roots.sort();
        roots.dedup();
        let mut stores = Vec::with_capacity(providers.len());
        for provider in providers.iter() {
            let mut unpinned = Vec::new();
            for root in &roots {
                let was = rt
                    .block_on(provider.store().transport().unpin(root))
                    .map_err(|e| {
                        Error::Unavailable(format!("{}: cannot unpin {root}: {e}", provider.id()))
                    })?;
                if was {
                    unpinned.push(*root);
                }
            }
            stores.push(UnpinnedStore {
                provider: provider.id().clone(),
                unpinned,
            });
        }
        let receipt = ErasureReceipt {
            manifest_cid: cid,
            keys_destroyed,
            stores,
            time: now,
            principal: self.actor.principal.to_string(),
            role: self.actor.role.to_string(),
        };
        let envelope = receipt.sign(signer)?;
        registry
            .block_on(registry.registry().record_erasure_receipt(
                &cid,
                envelope.to_json().as_bytes(),
                now,
            ))
            .map_err(|e| Error::registry(format!("keeping the erasure receipt of {cid}"), e))?;
        Ok((envelope, receipt))
    }
}

/// What the retention sweep did to one version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Swept {
    /// The version.
    pub cid: Cid,
    /// The manifest's on-expiry action.
    pub on_expiry: RetentionAction,
    /// What came of it: the state the version moved to and, for an erasure, the signed
    /// receipt (envelope and contents); or why it could not be done (the version is left
    /// as it was, or erased with its erasure to finish by sweeping again).
    pub outcome: Result<(LifecycleState, Option<(Envelope, ErasureReceipt)>), String>,
}

/// The retention sweep: every version whose retention has ended (by the registry's
/// clock argument), that no legal hold covers and that is not yet expired, archived or
/// erased, gets its manifest's on-expiry action carried out:
///
/// | on expiry | what the sweep does |
/// |---|---|
/// | `delete` | [`Erase`]: crypto-shredding, with a signed receipt |
/// | `archive` | moves it to `archived` (to `expired` if it was never approved) |
/// | `anonymise`, `review` | moves it to `expired` (no data action is allowed; a person decides what follows) |
///
/// One version failing does not stop the others; each outcome is reported.
#[derive(Debug, Clone)]
pub struct Sweep {
    trust: TrustPolicy,
    actor: Actor,
}

impl Sweep {
    /// A sweep by `actor`; envelopes (for their on-expiry action) must verify against
    /// `trust`.
    #[must_use]
    pub fn new(trust: TrustPolicy, actor: Actor) -> Self {
        Self { trust, actor }
    }

    /// Runs the sweep as of `now`.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] when the versions due cannot be listed; failures for single
    /// versions are in their [`Swept::outcome`].
    pub fn run(
        &self,
        registry: &SyncRegistry,
        brokers: &[&dyn KeyBroker],
        providers: &mut [Provider],
        catalog: &dyn Catalog,
        signer: &SigningKey,
        now: Timestamp,
    ) -> Result<Vec<Swept>, Error> {
        let due = registry
            .block_on(registry.registry().past_retention(now))
            .map_err(|e| Error::registry("listing the versions past retention", e))?;
        let mut out = Vec::with_capacity(due.len());
        for cid in due {
            let manifest = {
                let rt = connect(providers)?;
                resolve(&rt, &cid, None, catalog, providers, &self.trust, now)
            };
            let on_expiry = match manifest {
                Ok(m) => m
                    .manifest()
                    .retention
                    .as_ref()
                    .map_or(RetentionAction::Review, |r| r.on_expiry),
                Err(e) => {
                    out.push(Swept {
                        cid,
                        on_expiry: RetentionAction::Review,
                        outcome: Err(format!("reading its manifest: {e}")),
                    });
                    continue;
                }
            };
            let reason: Reason = format!("retention ended; on expiry: {}", action_name(on_expiry))
                .parse()
                .map_err(|e| Error::Invalid(format!("reason: {e}")))?;
            let outcome = match on_expiry {
                RetentionAction::Delete => {
                    Erase::new(cid, self.trust.clone(), self.actor.clone(), reason)
                        .run(registry, brokers, providers, catalog, signer)
                        .map(|signed| (LifecycleState::Erased, Some(signed)))
                        .map_err(|e| e.to_string())
                }
                RetentionAction::Archive | RetentionAction::Anonymise | RetentionAction::Review => {
                    // A version never approved cannot be archived: it expires.
                    let archivable = on_expiry == RetentionAction::Archive
                        && known(registry, &cid)?
                            .is_some_and(|k| k.state.can_move_to(LifecycleState::Archived));
                    let to = if archivable {
                        LifecycleState::Archived
                    } else {
                        LifecycleState::Expired
                    };
                    let change = Change::new(self.actor.clone(), reason, now);
                    registry
                        .block_on(registry.registry().transition(&cid, to, &change))
                        .map(|_| (to, None))
                        .map_err(|e| e.to_string())
                }
            };
            out.push(Swept {
                cid,
                on_expiry,
                outcome,
            });
        }
        Ok(out)
    }
}

/// The manifest's name of an on-expiry action.
fn action_name(a: RetentionAction) -> &'static str {
    match a {
        RetentionAction::Delete => "delete",
        RetentionAction::Anonymise => "anonymise",
        RetentionAction::Review => "review",
        RetentionAction::Archive => "archive",
    }
}

/// The approvals in the envelopes a registry keeps for `cid`.
///
/// # Errors
///
/// [`Error::Verification`] for an envelope that does not parse.
pub(crate) fn parse_approvals(cid: &Cid, stored: &[Vec<u8>]) -> Result<Vec<Approval>, Error> {
    stored
        .iter()
        .map(|bytes| {
            Approval::from_json(bytes).map_err(|e| {
                Error::Verification(format!("an approval the registry keeps for {cid}: {e}"))
            })
        })
        .collect()
}
