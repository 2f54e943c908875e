//! Governance changes decided by the policy engine before the registry takes them: a
//! lifecycle transition, placing or lifting a legal hold on a version.

use dataseal_base::{Cid, DatasetId, Timestamp};
use dataseal_manifest::VerifiedManifest;
use dataseal_policy::{AccessRequest, Action, DataPurpose, Decision, Presented, Resource};
use dataseal_registry::{Actor, Change, HoldId, HoldScope, LifecycleState};

use crate::Error;
use crate::fetch::Gate;
use crate::records::SyncRegistry;

/// Governance changes to versions, each decided by the policy engine (with the
/// registry in the loop) before the registry records it.
///
/// The registry records who made a change and in which role; it does not decide
/// whether they may. A [`Steward`] does, in two steps, both failing closed and both
/// recorded in the gate's audit log:
///
/// 1. the principal must hold the role it acts in, in the gate's entities (directly or
///    through a group): Cedar's `principal in Dataseal::Role::"…"`;
/// 2. the policies must allow the governance action on the version, decided with the
///    registry in the loop exactly as a read is ([`Gate::decide_version`]): the
///    version's owner, uploader, lifecycle and holds as the registry holds them now.
///
/// Only then is the change written. Which action a change needs:
///
/// | change | Cedar action |
/// |---|---|
/// | to `approved` | `approve` |
/// | to `published` or `superseded` | `publish` |
/// | to `revoked`, `expired` or `archived` | `revoke` |
/// | to `erased` (see also [`crate::Erase`]) | `erase` |
/// | placing a hold on a version or a dataset | `place-legal-hold` |
/// | lifting a hold on a version or a dataset | `lift-legal-hold` |
///
/// With the default policies: stewards publish, revoke and place or lift holds; a
/// version's data owner approves, publishes and revokes it; compliance reviewers
/// approve, revoke, place and lift holds and erase; the uploader never approves; no one
/// erases a held version (refused as blocked, exit 4).
///
/// A hold on a dataset is decided on the dataset's entity, which the gate's entities
/// must list (an unknown resource is denied); no version's state takes part. Holds on
/// a source are not made through a steward yet.
///
/// Governance requests have no purpose or place of use of their own; the request's
/// context names `research` and `GLOBAL` because the schema requires both, and no
/// default policy on a governance action reads them.
///
/// ```no_run
/// # fn demo(gate: dataseal::Gate<'_>, manifest: &dataseal::manifest::VerifiedManifest,
/// #         change: &dataseal::registry::Change) -> Result<(), dataseal::Error> {
/// use dataseal::registry::LifecycleState;
/// let steward = dataseal::Steward::new(gate)?;
/// steward.transition(manifest, LifecycleState::Published, change)?;
/// let hold = steward.place_hold(manifest, change)?;
/// steward.lift_hold(manifest, hold, change)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy)]
pub struct Steward<'a> {
    gate: Gate<'a>,
    registry: &'a SyncRegistry,
}

impl std::fmt::Debug for Steward<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Steward").finish_non_exhaustive()
    }
}

impl<'a> Steward<'a> {
    /// A steward deciding with `gate`, which must have a registry (the one changes are
    /// written to, and read from at decision time).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the gate has no registry.
    pub fn new(gate: Gate<'a>) -> Result<Self, Error> {
        let registry = gate.registry.ok_or_else(|| {
            Error::Invalid("governance changes need a registry to decide with".to_owned())
        })?;
        Ok(Self { gate, registry })
    }

    /// Decides whether `actor` may do the governance `action` to the verified
    /// version at `now`, and records the decision.
    ///
    /// # Errors
    ///
    /// [`Error::Denied`] when the principal does not hold the role it acts in, or no
    /// policy permits the action (each recorded); [`Error::Blocked`] when the version's
    /// state forbids it (erasing a held version, or any change to an erased one);
    /// [`Error::Invalid`] for a data action (governance changes only);
    /// [`Error::Registry`] when the registry cannot be read; [`Error::Policy`] when the
    /// decision cannot be recorded.
    pub fn authorize(
        &self,
        manifest: &VerifiedManifest,
        actor: &Actor,
        action: Action,
        now: Timestamp,
    ) -> Result<Decision, Error> {
        let cid = manifest.cid();
        let request = self.checked_request(actor, action, Resource::Version(cid), now)?;
        self.gate
            .decide_version(manifest, request, &Presented::default())
    }

    /// Decides whether `actor` may place or lift a hold (`action`) on the whole dataset
    /// `dataset` at `now`, and records the decision.
    ///
    /// # Errors
    ///
    /// As [`Steward::authorize`]; [`Error::Invalid`] for an action other than
    /// `place-legal-hold` or `lift-legal-hold`.
    pub fn authorize_dataset(
        &self,
        dataset: &DatasetId,
        actor: &Actor,
        action: Action,
        now: Timestamp,
    ) -> Result<Decision, Error> {
        if !matches!(action, Action::PlaceLegalHold | Action::LiftLegalHold) {
            return Err(Error::Invalid(format!(
                "{}: only holds are placed on a whole dataset",
                action.as_str()
            )));
        }
        let resource = Resource::Dataset(dataset.clone());
        let request = self.checked_request(actor, action, resource, now)?;
        self.gate
            .decide_presented(request, &Presented::default(), now)
    }

    /// The governance request of `actor`, once the principal is found to hold the role
    /// it acts in (a refusal is recorded).
    fn checked_request(
        &self,
        actor: &Actor,
        action: Action,
        resource: Resource,
        now: Timestamp,
    ) -> Result<AccessRequest, Error> {
        if action.is_data() {
            return Err(Error::Invalid(format!(
                "{}: a data action, not a governance change",
                action.as_str()
            )));
        }
        if !self
            .gate
            .engine
            .holds_role(self.gate.entities, &actor.principal, &actor.role)
        {
            let described = format!(
                "{} {resource} by {} as {}",
                action.as_str(),
                actor.principal,
                actor.role
            );
            let err = Error::Denied {
                reason: format!(
                    "{} does not hold the role {} it acts in",
                    actor.principal, actor.role
                ),
            };
            return self.gate.refuse(&described, err, now);
        }
        let region = "GLOBAL"
            .parse()
            .map_err(|e| Error::Invalid(format!("the governance region: {e}")))?;
        Ok(AccessRequest::new(
            actor.principal.clone(),
            action,
            resource,
            DataPurpose::Research,
            region,
            now,
        ))
    }

    /// Moves the version to `to` once [`Steward::authorize`] allows the action the
    /// state needs (see [`Steward`]); the registry then enforces
    /// its transition table and holds. Returns the version's revision after the move.
    ///
    /// # Errors
    ///
    /// As [`Steward::authorize`]; [`Error::Invalid`] for `quarantined` (a version only
    /// starts there); [`Error::Registry`] for a transition the table forbids;
    /// [`Error::Blocked`] when a hold refuses it.
    pub fn transition(
        &self,
        manifest: &VerifiedManifest,
        to: LifecycleState,
        change: &Change,
    ) -> Result<u64, Error> {
        let action = match to {
            LifecycleState::Approved => Action::Approve,
            LifecycleState::Published | LifecycleState::Superseded => Action::Publish,
            LifecycleState::Revoked | LifecycleState::Expired | LifecycleState::Archived => {
                Action::Revoke
            }
            LifecycleState::Erased => Action::Erase,
            other => {
                return Err(Error::Invalid(format!(
                    "no change moves a version to {other}"
                )));
            }
        };
        self.authorize(manifest, &change.actor, action, change.at)?;
        let cid = manifest.cid();
        self.registry
            .block_on(self.registry.registry().transition(&cid, to, change))
            .map_err(|e| held_or(e, &cid, &format!("moving {cid} to {to}")))
    }

    /// Places a legal hold on the version once [`Steward::authorize`] allows
    /// `place-legal-hold`.
    ///
    /// # Errors
    ///
    /// As [`Steward::authorize`]; [`Error::Registry`] when the registry refuses it.
    pub fn place_hold(
        &self,
        manifest: &VerifiedManifest,
        change: &Change,
    ) -> Result<HoldId, Error> {
        self.authorize(manifest, &change.actor, Action::PlaceLegalHold, change.at)?;
        self.place(&HoldScope::Version(manifest.cid()), change)
    }

    /// Lifts hold `id` on the version once [`Steward::authorize`] allows
    /// `lift-legal-hold`; the registry also requires the role that placed it.
    ///
    /// # Errors
    ///
    /// As [`Steward::authorize`]; [`Error::Invalid`] when the hold is not on this
    /// version; [`Error::Registry`] for an unknown or lifted hold, or another role than
    /// the one that placed it.
    pub fn lift_hold(
        &self,
        manifest: &VerifiedManifest,
        id: HoldId,
        change: &Change,
    ) -> Result<(), Error> {
        self.hold_on(id, &HoldScope::Version(manifest.cid()))?;
        self.authorize(manifest, &change.actor, Action::LiftLegalHold, change.at)?;
        self.lift(id, change)
    }
}

impl Steward<'_> {
    /// Places a legal hold on every version of `dataset`, those registered later
    /// included, once [`Steward::authorize_dataset`] allows `place-legal-hold`.
    ///
    /// # Errors
    ///
    /// As [`Steward::authorize_dataset`]; [`Error::Registry`] when the registry refuses
    /// it.
    pub fn place_dataset_hold(
        &self,
        dataset: &DatasetId,
        change: &Change,
    ) -> Result<HoldId, Error> {
        self.authorize_dataset(dataset, &change.actor, Action::PlaceLegalHold, change.at)?;
        self.place(&HoldScope::Dataset(dataset.clone()), change)
    }

    /// Lifts hold `id` on `dataset` once [`Steward::authorize_dataset`] allows
    /// `lift-legal-hold`; the registry also requires the role that placed it.
    ///
    /// # Errors
    ///
    /// As [`Steward::lift_hold`], for a dataset.
    pub fn lift_dataset_hold(
        &self,
        dataset: &DatasetId,
        id: HoldId,
        change: &Change,
    ) -> Result<(), Error> {
        self.hold_on(id, &HoldScope::Dataset(dataset.clone()))?;
        self.authorize_dataset(dataset, &change.actor, Action::LiftLegalHold, change.at)?;
        self.lift(id, change)
    }

    /// Places a hold on `scope` (once authorised).
    fn place(&self, scope: &HoldScope, change: &Change) -> Result<HoldId, Error> {
        self.registry
            .block_on(self.registry.registry().place_hold(scope, change))
            .map_err(|e| Error::registry(format!("placing a hold on {}", scope_text(scope)), e))
    }

    /// Lifts hold `id` (once authorised).
    fn lift(&self, id: HoldId, change: &Change) -> Result<(), Error> {
        self.registry
            .block_on(self.registry.registry().lift_hold(id, change))
            .map_err(|e| Error::registry(format!("lifting {id}"), e))
    }

    /// Checks that hold `id` covers exactly `scope`.
    fn hold_on(&self, id: HoldId, scope: &HoldScope) -> Result<(), Error> {
        let hold = self
            .registry
            .block_on(self.registry.registry().hold(id))
            .map_err(|e| Error::registry(format!("reading {id}"), e))?;
        if hold.scope != *scope {
            return Err(Error::Invalid(format!(
                "{id} is not a hold on {}",
                scope_text(scope)
            )));
        }
        Ok(())
    }
}

/// What a hold covers, in words.
fn scope_text(scope: &HoldScope) -> String {
    match scope {
        HoldScope::Version(cid) => format!("version {cid}"),
        HoldScope::Dataset(id) => format!("dataset {id}"),
        HoldScope::Source(source) => format!("source {source}"),
        other => format!("{other:?}"),
    }
}

/// A registry error, as blocked when a hold refused it.
fn held_or(e: dataseal_registry::Error, cid: &Cid, what: &str) -> Error {
    match e {
        dataseal_registry::Error::Held { holds, .. } => Error::Blocked {
            version: cid.to_string(),
            state: format!("under {holds} legal hold(s)"),
        },
        other => Error::registry(what, other),
    }
}
