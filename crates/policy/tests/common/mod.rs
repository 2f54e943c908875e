//! A small world of principals, datasets and versions shared by the tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers: a failure should panic")]

use std::collections::{BTreeMap, BTreeSet};

use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{Cid, Role, SigningKey, Timestamp};
use dataseal_manifest::*;
use dataseal_policy::*;

pub(crate) const NOW: &str = "2026-11-21T12:00:00Z";

pub(crate) fn now() -> Timestamp {
    NOW.parse().unwrap()
}

pub(crate) fn user(id: &str) -> UserId {
    id.parse().unwrap()
}

pub(crate) fn role(name: &str) -> EntityRef {
    EntityRef::Role(name.parse::<Role>().unwrap())
}

pub(crate) fn group(id: &str) -> EntityRef {
    EntityRef::Group(id.parse().unwrap())
}

/// What a test version looks like; `Default` is an open, internal, non-PII version
/// allowed for research, training and evaluation in the EU.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) dataset: &'static str,
    pub(crate) tier: LicenseTier,
    pub(crate) commercial_use: bool,
    pub(crate) sensitivity: Sensitivity,
    pub(crate) purposes: Vec<&'static str>,
    pub(crate) regions: Vec<&'static str>,
    pub(crate) pii: bool,
    pub(crate) consent: Option<LawfulBasis>,
    pub(crate) retention_until: Option<&'static str>,
    pub(crate) retention_days: Option<u32>,
    pub(crate) state: VersionState,
    pub(crate) special_category_data: bool,
    pub(crate) special_condition: Option<SpecialCategoryCondition>,
    pub(crate) owner: &'static str,
    pub(crate) organisation: &'static str,
    pub(crate) uploader: &'static str,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            dataset: "claims",
            tier: LicenseTier::Open,
            commercial_use: true,
            sensitivity: Sensitivity::Internal,
            purposes: vec![
                "research",
                "training",
                "evaluation",
                "commercial-fine-tuning",
            ],
            regions: vec!["EU"],
            pii: false,
            consent: None,
            retention_until: None,
            retention_days: None,
            state: VersionState::default(),
            special_category_data: false,
            special_condition: None,
            owner: "olivia",
            organisation: "acme",
            uploader: "ulrich",
        }
    }
}

pub(crate) fn manifest(spec: &Spec, version: &str) -> Manifest {
    Manifest {
        consent: spec.consent.map(|b| ConsentBasis {
            evidence: None,
            lawful_basis: b,
            special_category: spec.special_condition,
        }),
        created: "2026-01-01T00:00:00Z".parse().unwrap(),
        creator: vec![],
        dataset_id: spec.dataset.parse().unwrap(),
        description: String::new(),
        ignore: vec![],
        license: "CC-BY-4.0".parse().unwrap(),
        license_conditions: LicenseConditions {
            academic_use: true,
            attribution: true,
            commercial_use: spec.commercial_use,
            non_commercial_use: true,
            share_alike: false,
            tier: spec.tier,
        },
        name: spec.dataset.to_owned(),
        // Only public versions may hold plaintext objects.
        objects: vec![if spec.sensitivity.requires_encryption() {
            ObjectEntry::encrypted(
                "data.csv".parse().unwrap(),
                1,
                EncryptionHeader::from_json(r#"{"v":1}"#).unwrap(),
                Cid::raw_sha256(b"data.csv ciphertext"),
            )
        } else {
            ObjectEntry::public("data.csv".parse().unwrap(), 1, Sha256Digest([7; 32]))
        }],
        pii: spec.pii,
        provenance: Provenance::default(),
        publisher: None,
        purposes: spec
            .purposes
            .iter()
            .map(|p| p.parse().unwrap())
            .collect::<BTreeSet<_>>(),
        regions: spec
            .regions
            .iter()
            .map(|r| r.parse().unwrap())
            .collect::<BTreeSet<_>>(),
        retention: if spec.retention_until.is_some() || spec.retention_days.is_some() {
            Some(Retention {
                duration_days: spec.retention_days,
                on_expiry: RetentionAction::Delete,
                until: spec.retention_until.map(|t| t.parse().unwrap()),
            })
        } else {
            None
        },
        schema_version: SCHEMA_VERSION,
        sealed: None,
        sensitivity: spec.sensitivity,
        version: version.parse().unwrap(),
        was_revision_of: None,
    }
}

pub(crate) struct Signer {
    key: SigningKey,
    trust: TrustPolicy,
}

impl Signer {
    pub(crate) fn new() -> Self {
        let key = SigningKey::generate().unwrap();
        let trust = TrustPolicy::new().trust(key.verifying_key(), "publisher".parse().unwrap());
        Self { key, trust }
    }

    pub(crate) fn verified(&self, m: &Manifest) -> VerifiedManifest {
        let env = sign(m, &self.key, "publisher".parse().unwrap()).unwrap();
        verify_envelope(&env, &self.trust, now()).unwrap()
    }
}

pub(crate) fn record(spec: &Spec) -> VersionRecord {
    VersionRecord {
        owner: user(spec.owner),
        organisation: spec.organisation.parse().unwrap(),
        uploader: user(spec.uploader),
        special_category_data: spec.special_category_data,
        state: spec.state,
    }
}

/// The directory every test shares: people in roles, a training job, groups.
pub(crate) fn directory(b: &mut EntityStoreBuilder<'_>) {
    for r in [
        "data-owner",
        "steward",
        "compliance-reviewer",
        "trainer",
        "auditor",
        "uploader",
    ] {
        b.add_role(&r.parse().unwrap()).unwrap();
    }
    b.add_group(&"acme".parse().unwrap(), &[]).unwrap();
    b.add_group(
        &"ml-team".parse().unwrap(),
        &[group("acme"), role("trainer")],
    )
    .unwrap();
    b.add_group(&"partner".parse().unwrap(), &[]).unwrap();
    // olivia owns the data; carol reviews compliance; tess trains (via ml-team);
    // sam stewards; audrey audits; ulrich uploads; pete is a partner with no role.
    b.add_user(&user("olivia"), &[group("acme"), role("data-owner")])
        .unwrap();
    b.add_user(
        &user("carol"),
        &[group("acme"), role("compliance-reviewer")],
    )
    .unwrap();
    b.add_user(&user("tess"), &[group("ml-team")]).unwrap();
    b.add_user(&user("sam"), &[group("acme"), role("steward")])
        .unwrap();
    b.add_user(&user("audrey"), &[group("acme"), role("auditor")])
        .unwrap();
    b.add_user(
        &user("ulrich"),
        &[group("acme"), role("uploader"), role("compliance-reviewer")],
    )
    .unwrap();
    b.add_user(&user("pete"), &[group("partner")]).unwrap();
    b.add_service_account(
        &"job-7".parse().unwrap(),
        &user("tess"),
        &[group("ml-team")],
    )
    .unwrap();
    b.add_collection(&"medical".parse().unwrap(), &user("olivia"), &[])
        .unwrap();
    b.add_dataset(
        &"claims".parse().unwrap(),
        &user("olivia"),
        &"acme".parse().unwrap(),
        &["medical".parse().unwrap()],
    )
    .unwrap();
}

/// An engine, a store holding one version per named spec, and a grant issuer.
pub(crate) struct World {
    pub(crate) engine: PolicyEngine,
    pub(crate) store: EntityStore,
    pub(crate) versions: BTreeMap<String, Cid>,
    pub(crate) issuer: GrantIssuer,
    pub(crate) verifier: GrantVerifier,
    pub(crate) issuer_key: SigningKey,
    /// Approver keys by user id: olivia and sam as data owners, carol, ulrich and pete
    /// as compliance reviewers.
    pub(crate) approver_keys: BTreeMap<String, (SigningKey, ApproverRole)>,
    pub(crate) approvals: ApprovalVerifier,
}

impl World {
    pub(crate) fn new(specs: &[(&str, Spec)]) -> Self {
        Self::with_engine(PolicyEngine::with_defaults().unwrap(), specs)
    }

    pub(crate) fn with_engine(engine: PolicyEngine, specs: &[(&str, Spec)]) -> Self {
        let signer = Signer::new();
        let mut b = EntityStore::builder(&engine);
        directory(&mut b);
        let mut versions = BTreeMap::new();
        for (i, (name, spec)) in specs.iter().enumerate() {
            let vm = signer.verified(&manifest(spec, &format!("1.0.{i}")));
            versions.insert((*name).to_owned(), vm.cid());
            b.add_version(&vm, &record(spec)).unwrap();
        }
        let store = b.build().unwrap();
        let issuer_key = SigningKey::generate().unwrap();
        let issuer = GrantIssuer::new(issuer_key.clone(), "grants.acme.test");
        let verifier = GrantVerifier::new(30).trust(issuer_key.verifying_key());
        let mut approver_keys = BTreeMap::new();
        let mut approvals = ApprovalVerifier::new();
        for (who, role) in [
            ("olivia", ApproverRole::DataOwner),
            ("sam", ApproverRole::DataOwner),
            ("carol", ApproverRole::Compliance),
            ("ulrich", ApproverRole::Compliance),
            ("pete", ApproverRole::Compliance),
            ("tess", ApproverRole::Compliance),
        ] {
            let key = SigningKey::generate().unwrap();
            approvals = approvals.trust(key.verifying_key(), user(who), role);
            approver_keys.insert(who.to_owned(), (key, role));
        }
        Self {
            engine,
            store,
            versions,
            issuer,
            verifier,
            issuer_key,
            approver_keys,
            approvals,
        }
    }

    /// A signed approval by `who` (in the role their key is trusted for) of `cid`.
    pub(crate) fn approval(&self, who: &str, cid: Cid) -> dataseal_policy::Approval {
        let (key, role) = &self.approver_keys[who];
        dataseal_policy::Approval::sign(
            &ApprovalStatement {
                approver: user(who),
                cid,
                role: *role,
                time: now(),
            },
            key,
        )
        .unwrap()
    }

    /// `req` with approvals by `who`, signed and verified.
    pub(crate) fn approved(&self, req: AccessRequest, who: &[&str]) -> AccessRequest {
        let cid = match &req.resource {
            Resource::Version(cid) => *cid,
            Resource::Dataset(_) => Cid::raw_sha256(b"approvals are for versions"),
        };
        let presented: Vec<dataseal_policy::Approval> =
            who.iter().map(|w| self.approval(w, cid)).collect();
        let verified = self.approvals.verify(&presented, &cid, now()).unwrap();
        req.with_approvals(verified)
    }

    pub(crate) fn cid(&self, name: &str) -> Cid {
        self.versions[name]
    }

    pub(crate) fn grant_for(
        &self,
        principal: &Principal,
        cid: Cid,
        purpose: &str,
        region: &str,
    ) -> VerifiedGrant {
        self.grant_for_actions(principal, cid, purpose, region, &Action::DATA)
    }

    /// A verified grant covering only `actions`.
    pub(crate) fn grant_for_actions(
        &self,
        principal: &Principal,
        cid: Cid,
        purpose: &str,
        region: &str,
        actions: &[Action],
    ) -> VerifiedGrant {
        let g = self
            .issuer
            .issue(
                &GrantRequest {
                    principal: principal.clone(),
                    cid,
                    actions: actions.iter().copied().collect(),
                    purpose: purpose.parse().unwrap(),
                    region: region.parse().unwrap(),
                },
                now(),
            )
            .unwrap();
        self.verifier.verify(&g, now()).unwrap()
    }

    /// A data request with a matching grant.
    pub(crate) fn request(
        &self,
        principal: Principal,
        action: Action,
        version: &str,
        purpose: &str,
        region: &str,
    ) -> AccessRequest {
        let cid = self.cid(version);
        let grant = self.grant_for(&principal, cid, purpose, region);
        AccessRequest::new(
            principal,
            action,
            Resource::Version(cid),
            purpose.parse().unwrap(),
            region.parse().unwrap(),
            now(),
        )
        .with_grant(grant)
    }

    pub(crate) fn decide(&self, req: &AccessRequest) -> Decision {
        let sliced = self.engine.decide(&self.store, req);
        let unsliced = self.engine.decide_unsliced(&self.store, req);
        assert_eq!(
            (
                sliced.is_allowed(),
                sliced.determining_policies(),
                sliced.errors().len()
            ),
            (
                unsliced.is_allowed(),
                unsliced.determining_policies(),
                unsliced.errors().len()
            ),
            "slicing changed the answer for {req:?}"
        );
        sliced
    }
}

pub(crate) fn u(id: &str) -> Principal {
    Principal::User(user(id))
}

pub(crate) fn sa(id: &str) -> Principal {
    Principal::ServiceAccount(id.parse().unwrap())
}
