//! The registry beside the stories: a synchronous handle on `dataseal-registry`, the
//! registration of a published version, and erasure by crypto-shredding with its signed
//! receipt.

use std::future::Future;

use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{Cid, ProviderId, SigningKey, Timestamp};
use dataseal_manifest::VerifiedManifest;
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
