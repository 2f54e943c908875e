//! The registry's values: lifecycle states and the one transition table, who acted and
//! why, holds, lineage, and what a decision reads.

use std::fmt;
use std::str::FromStr;

use dataseal_base::{Cid, DatasetId, Role, Timestamp};
use dataseal_manifest::Manifest;
use dataseal_policy::{
    GrantId, GroupId, Principal, ServiceAccountId, UserId, VersionRecord, VersionState,
};

use crate::Error;

/// The lifecycle state of a dataset version.
///
/// A version is registered `quarantined`; the allowed moves are those of
/// [`LifecycleState::allowed_targets`], the one transition table. `erased` is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum LifecycleState {
    /// Registered, awaiting validation and approval.
    Quarantined,
    /// Approved, not yet published.
    Approved,
    /// Published: the state in which data actions may be allowed.
    Published,
    /// A later version replaced it; still readable where policy allows.
    Superseded,
    /// Withdrawn.
    Revoked,
    /// Its retention ended.
    Expired,
    /// Moved out of service (cold storage); not served.
    Archived,
    /// Its keys were destroyed.
    Erased,
}

/// The transition table: every allowed `(from, to)` pair, and nothing else.
const TRANSITIONS: &[(LifecycleState, &[LifecycleState])] = {
    use LifecycleState::{
        Approved, Archived, Erased, Expired, Published, Quarantined, Revoked, Superseded,
    };
    &[
        (Quarantined, &[Approved, Revoked, Expired, Erased]),
        (Approved, &[Published, Revoked, Expired, Archived, Erased]),
        (Published, &[Superseded, Revoked, Expired, Archived, Erased]),
        (Superseded, &[Revoked, Expired, Archived, Erased]),
        (Revoked, &[Expired, Archived, Erased]),
        (Expired, &[Archived, Erased]),
        (Archived, &[Erased]),
        (Erased, &[]),
    ]
};

impl LifecycleState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 8] = [
        Self::Quarantined,
        Self::Approved,
        Self::Published,
        Self::Superseded,
        Self::Revoked,
        Self::Expired,
        Self::Archived,
        Self::Erased,
    ];

    /// The state's name (`quarantined`, …), as stored and printed.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quarantined => "quarantined",
            Self::Approved => "approved",
            Self::Published => "published",
            Self::Superseded => "superseded",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Archived => "archived",
            Self::Erased => "erased",
        }
    }

    /// The states this one may move to: the registry's one transition table.
    #[must_use]
    pub fn allowed_targets(self) -> &'static [Self] {
        TRANSITIONS
            .iter()
            .find(|(from, _)| *from == self)
            .map_or(&[], |(_, to)| *to)
    }

    /// Whether `self → to` is in the table.
    #[must_use]
    pub fn can_move_to(self, to: Self) -> bool {
        self.allowed_targets().contains(&to)
    }

    /// Whether an active legal hold refuses moving into this state: the retention
    /// outcomes (`expired`, `archived`) and erasure.
    #[must_use]
    pub fn refused_while_held(self) -> bool {
        matches!(self, Self::Expired | Self::Archived | Self::Erased)
    }
}

impl fmt::Display for LifecycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LifecycleState {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Error::InvalidInput {
                what: "lifecycle state",
                value: s.to_owned(),
                rule: "one of quarantined, approved, published, superseded, revoked, expired, archived, erased",
            })
    }
}

fn text_ok(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control) && s.trim() == s
}

dataseal_base::validated_name! {
    /// Why something was done: free text for the record.
    ///
    /// ```
    /// use dataseal_registry::Reason;
    /// assert!("court order 2026-117".parse::<Reason>().is_ok());
    /// assert!("".parse::<Reason>().is_err());
    /// ```
    pub struct Reason;
    what: "reason",
    rule: "1-1024 bytes, no control characters, no surrounding spaces",
    check: |s| text_ok(s, 1024),
    error: |what, value, rule| -> Error { Error::InvalidInput { what, value, rule } },
    debug: quoted,
}

dataseal_base::validated_name! {
    /// A source a version was derived from: the URI a manifest's
    /// `provenance.wasDerivedFrom` names.
    ///
    /// ```
    /// use dataseal_registry::SourceId;
    /// assert!("https://example.org/crawl-2025".parse::<SourceId>().is_ok());
    /// assert!(" padded".parse::<SourceId>().is_err());
    /// ```
    pub struct SourceId;
    what: "source id",
    rule: "1-2048 bytes, no control characters, no surrounding spaces",
    check: |s| text_ok(s, 2048),
    error: |what, value, rule| -> Error { Error::InvalidInput { what, value, rule } },
    debug: quoted,
}

/// A named principal acting in a role (the role the policy engine checked).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Actor {
    /// Who.
    pub principal: Principal,
    /// In which role.
    pub role: Role,
}

impl Actor {
    /// A person acting in a role.
    #[must_use]
    pub fn user(user: UserId, role: Role) -> Self {
        Self {
            principal: Principal::User(user),
            role,
        }
    }
}

/// Who did something, in which role, why and when: every change carries one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Change {
    /// Who, in which role.
    pub actor: Actor,
    /// Why.
    pub reason: Reason,
    /// When (passed in: the registry reads no clock).
    pub at: Timestamp,
}

impl Change {
    /// A change by `actor` for `reason` at `at`.
    #[must_use]
    pub fn new(actor: Actor, reason: Reason, at: Timestamp) -> Self {
        Self { actor, reason, at }
    }
}

/// The text form of a principal as stored: `user:ID` or `service-account:ID`.
pub(crate) fn principal_text(p: &Principal) -> String {
    p.to_string()
}

pub(crate) fn parse_principal(s: &str) -> Result<Principal, Error> {
    let corrupt = || Error::Corrupt(format!("stored principal {s:?}"));
    if let Some(id) = s.strip_prefix("user:") {
        UserId::new(id).map(Principal::User).map_err(|_| corrupt())
    } else if let Some(id) = s.strip_prefix("service-account:") {
        ServiceAccountId::new(id)
            .map(Principal::ServiceAccount)
            .map_err(|_| corrupt())
    } else {
        Err(corrupt())
    }
}

/// What a new version brings when it is registered: its dataset, lineage and
/// retention end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVersion {
    /// The manifest CID that names the version.
    pub cid: Cid,
    /// The dataset it is a version of.
    pub dataset: DatasetId,
    /// Versions it was revised or derived from (the manifest's `wasRevisionOf`).
    pub parents: Vec<Cid>,
    /// Sources it was derived from (the manifest's `provenance.wasDerivedFrom` URIs).
    pub sources: Vec<SourceId>,
    /// When its retention ends, if it does.
    pub retention_until: Option<Timestamp>,
    /// Who answers for it. A version registered without is denied every data action:
    /// the policy engine needs its owner, organisation and uploader.
    pub stewardship: Option<Stewardship>,
}

/// Who answers for a version, as the policy engine reads it: its data owner, the
/// organisation that owns it, who uploaded it, and whether it holds special categories
/// of personal data (GDPR Art. 9).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Stewardship {
    /// The data owner.
    pub owner: UserId,
    /// The owning organisation.
    pub organisation: GroupId,
    /// Who uploaded it.
    pub uploader: UserId,
    /// Whether it holds special categories of personal data.
    pub special_category_data: bool,
}

impl NewVersion {
    /// A version with no lineage and no retention end.
    #[must_use]
    pub fn new(cid: Cid, dataset: DatasetId) -> Self {
        Self {
            cid,
            dataset,
            parents: Vec::new(),
            sources: Vec::new(),
            retention_until: None,
            stewardship: None,
        }
    }

    /// The same version, with who answers for it.
    #[must_use]
    pub fn with_stewardship(mut self, stewardship: Stewardship) -> Self {
        self.stewardship = Some(stewardship);
        self
    }

    /// What the manifest `manifest`, named by `cid`, says: dataset, parent version,
    /// sources, and the end of retention (the earlier of `until` and `created +
    /// durationDays`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if a source URI is not a valid [`SourceId`].
    pub fn from_manifest(cid: Cid, manifest: &Manifest) -> Result<Self, Error> {
        let sources = manifest
            .provenance
            .was_derived_from
            .iter()
            .map(|s| SourceId::new(s.uri.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let retention_until = manifest.retention.as_ref().and_then(|r| {
            let by_duration = r.duration_days.map(|d| {
                manifest
                    .created
                    .saturating_add_seconds(i64::from(d).saturating_mul(86_400))
            });
            match (r.until, by_duration) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        });
        Ok(Self {
            cid,
            dataset: manifest.dataset_id.clone(),
            parents: manifest.was_revision_of.into_iter().collect(),
            sources,
            retention_until,
            stewardship: None,
        })
    }
}

/// One row of a version's history: its registration (`from` is `None`) or a
/// transition.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransitionRecord {
    /// The version's revision after this change (registration is revision 0).
    pub revision: u64,
    /// The state before (`None` for the registration).
    pub from: Option<LifecycleState>,
    /// The state after.
    pub to: LifecycleState,
    /// Who, in which role.
    pub actor: Actor,
    /// Why.
    pub reason: Reason,
    /// When.
    pub at: Timestamp,
}

/// The id the registry gave a legal hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldId(pub(crate) i64);

impl HoldId {
    /// The hold with this number (as [`HoldId::get`] returns and `Display` prints).
    #[must_use]
    pub fn new(n: i64) -> Self {
        Self(n)
    }

    /// The number.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hold-{}", self.0)
    }
}

/// What a legal hold covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HoldScope {
    /// One version.
    Version(Cid),
    /// Every version of a dataset, those registered later included.
    Dataset(DatasetId),
    /// Every version derived from a source, directly or through parent versions,
    /// those registered later included.
    Source(SourceId),
}

impl HoldScope {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Version(_) => "version",
            Self::Dataset(_) => "dataset",
            Self::Source(_) => "source",
        }
    }

    pub(crate) fn key(&self) -> String {
        match self {
            Self::Version(c) => c.to_string(),
            Self::Dataset(d) => d.to_string(),
            Self::Source(s) => s.to_string(),
        }
    }

    pub(crate) fn parse(kind: &str, key: &str) -> Result<Self, Error> {
        let corrupt = || Error::Corrupt(format!("stored hold scope {kind}:{key}"));
        match kind {
            "version" => key.parse().map(Self::Version).map_err(|_| corrupt()),
            "dataset" => key.parse().map(Self::Dataset).map_err(|_| corrupt()),
            "source" => key.parse().map(Self::Source).map_err(|_| corrupt()),
            _ => Err(corrupt()),
        }
    }
}

/// A legal hold: what it covers, who placed it and why, and, once lifted, who lifted it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hold {
    /// Its id.
    pub id: HoldId,
    /// What it covers.
    pub scope: HoldScope,
    /// Who placed it, in which role, why and when.
    pub placed: Change,
    /// Who lifted it, in which role, why and when; `None` while it is active.
    pub lifted: Option<Change>,
    /// For a version scope, the version's revision the placing made.
    pub placed_revision: Option<u64>,
    /// For a version scope, the version's revision the lifting made.
    pub lifted_revision: Option<u64>,
}

impl Hold {
    /// Whether it is still in force.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.lifted.is_none()
    }
}

/// The record of a revoked grant.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantRevocation {
    /// The grant.
    pub grant: GrantId,
    /// Who revoked it, in which role, why and when.
    pub revoked: Change,
}

/// A read a fetch recorded: which version, who, for which job, with its signed
/// reproducibility receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadRecord {
    /// The version read.
    pub cid: Cid,
    /// Who read it.
    pub principal: Principal,
    /// The job, when named.
    pub job: Option<String>,
    /// The signed receipt (opaque to the registry), when one was written.
    pub receipt: Option<Vec<u8>>,
    /// When.
    pub at: Timestamp,
}

impl ReadRecord {
    /// A read of `cid` by `principal` at `at`, with no job and no receipt.
    #[must_use]
    pub fn new(cid: Cid, principal: Principal, at: Timestamp) -> Self {
        Self {
            cid,
            principal,
            job: None,
            receipt: None,
            at,
        }
    }

    /// The same read, for `job`.
    #[must_use]
    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    /// The same read, with its signed receipt.
    #[must_use]
    pub fn receipt(mut self, receipt: Vec<u8>) -> Self {
        self.receipt = Some(receipt);
        self
    }
}

/// The audit log's latest signed checkpoint, as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredCheckpoint {
    /// Its sequence number (the log's line count at the checkpoint).
    pub sequence: u64,
    /// The signed checkpoint, opaque to the registry.
    pub bytes: Vec<u8>,
    /// When it was stored.
    pub stored_at: Timestamp,
}

/// Everything a decision reads about a version, read together by
/// [`crate::Registry::decision_view`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecisionView {
    /// The version's status.
    pub status: VersionStatus,
    /// The revocation of the grant asked about, if it was revoked (read for a known
    /// version only).
    pub grant_revocation: Option<GrantRevocation>,
    /// The approval envelopes kept for the version, oldest first.
    pub approvals: Vec<Vec<u8>>,
}

/// What the policy engine reads about a version at decision time.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionStatus {
    /// The registry does not know the version: the caller denies.
    Unknown,
    /// A registered version.
    Known(Box<KnownVersion>),
}

impl VersionStatus {
    /// The flags the policy engine's entities carry; `None` for an unknown version,
    /// which the caller must deny.
    #[must_use]
    pub fn policy_state(&self) -> Option<VersionState> {
        match self {
            Self::Unknown => None,
            Self::Known(k) => Some(k.policy_state()),
        }
    }
}

/// The state of a registered version at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KnownVersion {
    /// The manifest CID.
    pub cid: Cid,
    /// Its dataset.
    pub dataset: DatasetId,
    /// Its lifecycle state.
    pub state: LifecycleState,
    /// Active legal holds covering it (of any scope).
    pub active_holds: u64,
    /// Whether consent was withdrawn for a source it derives from.
    pub consent_withdrawn: bool,
    /// When its retention ends, if it does.
    pub retention_until: Option<Timestamp>,
    /// Its revision: the number of changes since registration.
    pub revision: u64,
    /// Who answers for it (`None` if it was registered without).
    pub stewardship: Option<Stewardship>,
}

impl KnownVersion {
    /// The record the policy engine reads for this version now: who answers for it and
    /// its state. `None` when it was registered without stewardship (the caller denies).
    #[must_use]
    pub fn version_record(&self) -> Option<VersionRecord> {
        let s = self.stewardship.as_ref()?;
        Some(VersionRecord {
            owner: s.owner.clone(),
            organisation: s.organisation.clone(),
            uploader: s.uploader.clone(),
            special_category_data: s.special_category_data,
            state: self.policy_state(),
        })
    }

    /// Whether any legal hold covers it.
    #[must_use]
    pub fn is_held(&self) -> bool {
        self.active_holds > 0
    }

    /// Whether the registry leaves data actions to policy: published or superseded, not
    /// held, consent not withdrawn. Anything else is refused before policy runs.
    #[must_use]
    pub fn data_actions_possible(&self) -> bool {
        matches!(
            self.state,
            LifecycleState::Published | LifecycleState::Superseded
        ) && !self.is_held()
            && !self.consent_withdrawn
    }

    /// The policy engine's flags: `legalHold` when held; `revoked` when revoked,
    /// expired, archived or when consent was withdrawn; `quarantined` before
    /// publication (quarantined or approved); `erased` when erased.
    #[must_use]
    pub fn policy_state(&self) -> VersionState {
        use LifecycleState as S;
        VersionState {
            legal_hold: self.is_held(),
            revoked: matches!(self.state, S::Revoked | S::Expired | S::Archived)
                || self.consent_withdrawn,
            quarantined: matches!(self.state, S::Quarantined | S::Approved),
            erased: self.state == S::Erased,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_row_and_names_round_trip() {
        for s in LifecycleState::ALL {
            assert!(TRANSITIONS.iter().any(|(f, _)| *f == s));
            assert_eq!(s.as_str().parse::<LifecycleState>().unwrap(), s);
            assert!(!s.can_move_to(s), "{s} -> {s}");
            assert!(!s.can_move_to(LifecycleState::Quarantined));
        }
        assert!(LifecycleState::Erased.allowed_targets().is_empty());
        assert!("Published".parse::<LifecycleState>().is_err());
    }

    #[test]
    fn principals_round_trip() {
        for p in [
            Principal::User(UserId::new("alice@example.org").unwrap()),
            Principal::ServiceAccount(ServiceAccountId::new("job:7").unwrap()),
        ] {
            assert_eq!(parse_principal(&principal_text(&p)).unwrap(), p);
        }
        assert!(parse_principal("group:x").is_err());
        assert!(parse_principal("user:").is_err());
    }

    #[test]
    fn new_version_from_manifest() {
        let parent = Cid::raw_sha256(b"parent");
        let json = format!(
            r#"{{
                "created": "2026-01-01T00:00:00Z",
                "datasetId": "acme.claims",
                "license": "CC0-1.0",
                "licenseConditions": {{"academicUse": true, "attribution": false,
                    "commercialUse": true, "nonCommercialUse": true, "shareAlike": false,
                    "tier": "open"}},
                "name": "claims",
                "objects": [],
                "pii": false,
                "provenance": {{"wasDerivedFrom": [
                    {{"uri": "https://example.org/a"}}, {{"uri": "https://example.org/b"}}]}},
                "purposes": [],
                "regions": [],
                "retention": {{"durationDays": 10, "onExpiry": "delete",
                    "until": "2026-02-01T00:00:00Z"}},
                "schemaVersion": 1,
                "sensitivity": "internal",
                "version": "1.0.0",
                "wasRevisionOf": "{parent}"
            }}"#
        );
        let manifest: Manifest = serde_json::from_str(&json).unwrap();
        let cid = Cid::raw_sha256(b"manifest");
        let v = NewVersion::from_manifest(cid, &manifest).unwrap();
        assert_eq!(v.cid, cid);
        assert_eq!(v.dataset.as_str(), "acme.claims");
        assert_eq!(v.parents, vec![parent]);
        assert_eq!(
            v.sources.iter().map(SourceId::as_str).collect::<Vec<_>>(),
            ["https://example.org/a", "https://example.org/b"]
        );
        // The earlier of `until` and `created + durationDays`.
        assert_eq!(
            v.retention_until,
            Some("2026-01-11T00:00:00Z".parse().unwrap())
        );
    }
}
