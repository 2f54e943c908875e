//! The scenario matrix: requests that must be allowed, and requests that must be denied,
//! each deny for its own reason, with the policies that must determine the answer.
//! Every row is also decided without slicing, and the answers must agree.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod common;

use std::collections::BTreeSet;

use common::*;
use dataseal_base::Timestamp;
use dataseal_manifest::{LawfulBasis, LicenseTier, Sensitivity};
use dataseal_policy::*;

fn specs() -> Vec<(&'static str, Spec)> {
    // Public unless said otherwise, so standing links for outsiders can apply.
    let d = || Spec {
        sensitivity: Sensitivity::Public,
        ..Spec::default()
    };
    let state = |f: fn(&mut VersionState)| {
        let mut s = VersionState::default();
        f(&mut s);
        Spec { state: s, ..d() }
    };
    vec![
        ("open", d()),
        (
            "research",
            Spec {
                tier: LicenseTier::ResearchOnly,
                commercial_use: false,
                purposes: vec!["research", "training", "commercial-analytics"],
                ..d()
            },
        ),
        (
            // A research-only tier whose conditions (wrongly) allow commercial use: the
            // tier rule alone must still refuse commercial fine-tuning.
            "research-tier-only",
            Spec {
                tier: LicenseTier::ResearchOnly,
                commercial_use: true,
                ..d()
            },
        ),
        (
            "noncommercial",
            Spec {
                commercial_use: false,
                ..d()
            },
        ),
        (
            "contract",
            Spec {
                tier: LicenseTier::ContractLimited,
                purposes: vec!["evaluation"],
                ..d()
            },
        ),
        (
            "proprietary",
            Spec {
                tier: LicenseTier::Proprietary,
                ..d()
            },
        ),
        (
            "restricted",
            Spec {
                sensitivity: Sensitivity::Restricted,
                ..d()
            },
        ),
        (
            "restricted-ulrich",
            Spec {
                sensitivity: Sensitivity::Restricted,
                owner: "ulrich",
                uploader: "sam",
                ..d()
            },
        ),
        (
            "ephemeral",
            Spec {
                sensitivity: Sensitivity::Ephemeral,
                ..d()
            },
        ),
        (
            "pii",
            Spec {
                pii: true,
                consent: Some(LawfulBasis::Consent),
                ..d()
            },
        ),
        (
            "us-only",
            Spec {
                regions: vec!["US"],
                ..d()
            },
        ),
        (
            "global",
            Spec {
                regions: vec!["GLOBAL"],
                ..d()
            },
        ),
        (
            "eea",
            Spec {
                regions: vec!["EEA"],
                ..d()
            },
        ),
        (
            "internal",
            Spec {
                sensitivity: Sensitivity::Internal,
                ..d()
            },
        ),
        (
            "special",
            Spec {
                pii: true,
                consent: Some(LawfulBasis::Consent),
                special_category_data: true,
                ..d()
            },
        ),
        (
            "special-research",
            Spec {
                pii: true,
                consent: Some(LawfulBasis::PublicTask),
                special_category_data: true,
                special_condition: Some(dataseal_manifest::SpecialCategoryCondition::Research),
                ..d()
            },
        ),
        ("revoked", state(|s| s.revoked = true)),
        ("held", state(|s| s.legal_hold = true)),
        ("quarantined", state(|s| s.quarantined = true)),
        ("erased", state(|s| s.erased = true)),
        (
            "retained-until",
            Spec {
                retention_until: Some("2026-06-01T00:00:00Z"),
                ..d()
            },
        ),
        (
            "retained-days",
            Spec {
                retention_days: Some(30),
                ..d()
            },
        ),
        (
            "retention-future",
            Spec {
                retention_until: Some("2030-01-01T00:00:00Z"),
                ..d()
            },
        ),
    ]
}

fn world() -> World {
    let engine = PolicyEngine::builder().build().unwrap();
    let mut w = World::with_engine(engine, &specs());
    // Standing access for pete (no role) to one version, and to internal data.
    let open = w.cid("open");
    w.engine
        .add_link(&TemplateLink::data_access(
            "link.pete.open",
            EntityRef::User(user("pete")),
            EntityRef::Version(open),
        ))
        .unwrap();
    let internal = w.cid("internal");
    w.engine
        .add_link(&TemplateLink::data_access(
            "link.pete.internal",
            EntityRef::User(user("pete")),
            EntityRef::Version(internal),
        ))
        .unwrap();
    w
}

type Build = Box<dyn Fn(&World) -> AccessRequest>;

struct Row {
    reason: &'static str,
    allow: bool,
    policies: &'static [&'static str],
    errors: bool,
    build: Build,
}

fn allow(reason: &'static str, policies: &'static [&'static str], build: Build) -> Row {
    Row {
        reason,
        allow: true,
        policies,
        errors: false,
        build,
    }
}

fn deny(reason: &'static str, policies: &'static [&'static str], build: Build) -> Row {
    Row {
        reason,
        allow: false,
        policies,
        errors: false,
        build,
    }
}

fn deny_error(reason: &'static str, build: Build) -> Row {
    Row {
        reason,
        allow: false,
        policies: &[],
        errors: true,
        build,
    }
}

/// A data request with a grant matching it.
fn data(
    p: Principal,
    a: Action,
    v: &'static str,
    purpose: &'static str,
    region: &'static str,
) -> Build {
    Box::new(move |w: &World| w.request(p.clone(), a, v, purpose, region))
}

/// A governance request (no grant needed).
fn gov(p: Principal, a: Action, v: &'static str) -> Build {
    Box::new(move |w: &World| {
        AccessRequest::new(
            p.clone(),
            a,
            Resource::Version(w.cid(v)),
            "research".parse().unwrap(),
            "DE".parse().unwrap(),
            now(),
        )
    })
}

fn with(build: Build, f: impl Fn(&World, AccessRequest) -> AccessRequest + 'static) -> Build {
    Box::new(move |w: &World| f(w, build(w)))
}

fn matrix() -> Vec<Row> {
    use Action::*;
    vec![
        // ---------------------------------------------------------------- allowed
        allow(
            "trainer trains",
            &["role.trainer.data"],
            data(u("tess"), Train, "open", "training", "DE"),
        ),
        allow(
            "training job trains",
            &["role.trainer.data"],
            data(sa("job-7"), Train, "open", "training", "DE"),
        ),
        allow(
            "trainer evaluates",
            &["role.trainer.data"],
            data(u("tess"), Evaluate, "open", "evaluation", "FR"),
        ),
        allow(
            "trainer embeds",
            &["role.trainer.data"],
            data(u("tess"), Embed, "open", "research", "DE"),
        ),
        allow(
            "commercial fine-tuning of open data",
            &["role.trainer.data"],
            data(
                u("tess"),
                FineTuneCommercial,
                "open",
                "commercial-fine-tuning",
                "DE",
            ),
        ),
        allow(
            "owner downloads",
            &["role.owner.data"],
            data(u("olivia"), Download, "open", "research", "DE"),
        ),
        allow(
            "steward downloads",
            &["role.steward.data"],
            data(u("sam"), Download, "open", "research", "DE"),
        ),
        allow(
            "global data in the US",
            &["role.trainer.data"],
            data(u("tess"), Train, "global", "training", "US"),
        ),
        allow(
            "EEA data in Norway",
            &["role.trainer.data"],
            data(u("tess"), Train, "eea", "training", "NO"),
        ),
        allow(
            "US data in the US",
            &["role.trainer.data"],
            data(u("tess"), Train, "us-only", "training", "US"),
        ),
        allow(
            "contract data for the named purpose",
            &["role.trainer.data"],
            data(u("tess"), Evaluate, "contract", "evaluation", "DE"),
        ),
        allow(
            "proprietary data inside the organisation",
            &["role.trainer.data"],
            data(u("tess"), Read, "proprietary", "research", "DE"),
        ),
        allow(
            "restricted data with dual approval",
            &["role.trainer.data"],
            with(
                data(u("tess"), Read, "restricted", "research", "DE"),
                |w, r| w.approved(r, &["olivia", "carol"]),
            ),
        ),
        allow(
            "personal data with consent",
            &["role.trainer.data"],
            data(u("tess"), Read, "pii", "research", "DE"),
        ),
        allow(
            "inside retention",
            &["role.trainer.data"],
            data(u("tess"), Read, "retention-future", "research", "DE"),
        ),
        allow(
            "standing access link",
            &["link.pete.open"],
            data(u("pete"), Read, "open", "research", "DE"),
        ),
        allow(
            "research purpose on research-only data",
            &["role.trainer.data"],
            data(u("tess"), Train, "research", "research", "DE"),
        ),
        allow(
            "uploader uploads",
            &["role.uploader.upload"],
            Box::new(|_: &World| {
                AccessRequest::new(
                    u("ulrich"),
                    Upload,
                    Resource::Dataset("claims".parse().unwrap()),
                    "research".parse().unwrap(),
                    "DE".parse().unwrap(),
                    now(),
                )
            }),
        ),
        allow(
            "compliance approves",
            &["role.compliance.governance"],
            gov(u("carol"), Approve, "open"),
        ),
        allow(
            "owner approves own version",
            &["role.data-owner.governance"],
            gov(u("olivia"), Approve, "open"),
        ),
        allow(
            "steward revokes",
            &["role.steward.governance"],
            gov(u("sam"), Revoke, "open"),
        ),
        allow(
            "steward places a hold",
            &["role.steward.governance"],
            gov(u("sam"), PlaceLegalHold, "open"),
        ),
        allow(
            "compliance erases",
            &["role.compliance.governance"],
            gov(u("carol"), Erase, "open"),
        ),
        allow(
            "auditor inspects a revoked version",
            &["role.auditor.inspect"],
            gov(u("audrey"), Inspect, "revoked"),
        ),
        // ---------------------------------------------------------------- denied
        deny(
            "no grant",
            &["grant.required"],
            with(
                data(u("tess"), Train, "open", "training", "DE"),
                |_, mut r| {
                    r.grant = None;
                    r
                },
            ),
        ),
        deny(
            "grant for another version",
            &["grant.cid"],
            with(data(u("tess"), Train, "open", "training", "DE"), |w, r| {
                let g = w.grant_for(&u("tess"), w.cid("global"), "training", "DE");
                r.with_grant(g)
            }),
        ),
        deny(
            "grant for another purpose",
            &["grant.purpose"],
            with(data(u("tess"), Train, "open", "training", "DE"), |w, r| {
                let g = w.grant_for(&u("tess"), w.cid("open"), "research", "DE");
                r.with_grant(g)
            }),
        ),
        deny(
            "grant for another region",
            &["grant.region"],
            with(data(u("tess"), Train, "open", "training", "DE"), |w, r| {
                let g = w.grant_for(&u("tess"), w.cid("open"), "training", "FR");
                r.with_grant(g)
            }),
        ),
        deny(
            "grant used after its window",
            &["grant.window"],
            with(
                data(u("tess"), Train, "open", "training", "DE"),
                |_, mut r| {
                    r.now = r.now.saturating_add_seconds(3600);
                    r
                },
            ),
        ),
        deny(
            "person's grant used by a job",
            &["grant.principal.service-account"],
            with(
                data(sa("job-7"), Train, "open", "training", "DE"),
                |w, r| {
                    let g = w.grant_for(&u("tess"), w.cid("open"), "training", "DE");
                    r.with_grant(g)
                },
            ),
        ),
        deny(
            "job's grant used by a person",
            &["grant.principal.user"],
            with(data(u("tess"), Train, "open", "training", "DE"), |w, r| {
                let g = w.grant_for(&sa("job-7"), w.cid("open"), "training", "DE");
                r.with_grant(g)
            }),
        ),
        deny(
            "another person's grant",
            &["grant.principal.user"],
            with(data(u("pete"), Read, "open", "research", "DE"), |w, r| {
                let g = w.grant_for(&u("tess"), w.cid("open"), "research", "DE");
                r.with_grant(g)
            }),
        ),
        deny(
            "revoked",
            &["state.revoked"],
            data(u("tess"), Train, "revoked", "training", "DE"),
        ),
        deny(
            "legal hold",
            &["state.legal-hold"],
            data(u("tess"), Train, "held", "training", "DE"),
        ),
        deny(
            "quarantined",
            &["state.quarantined"],
            data(u("tess"), Train, "quarantined", "training", "DE"),
        ),
        deny(
            "erased",
            &["state.erased"],
            data(u("olivia"), Download, "erased", "research", "DE"),
        ),
        deny(
            "retention ended (until)",
            &["state.retention-ended"],
            data(u("tess"), Train, "retained-until", "training", "DE"),
        ),
        deny(
            "retention ended (duration)",
            &["state.retention-ended"],
            data(u("tess"), Read, "retained-days", "research", "DE"),
        ),
        deny(
            "research-only tier, commercial fine-tuning",
            &["licence.research-only.no-commercial"],
            data(
                u("tess"),
                FineTuneCommercial,
                "research-tier-only",
                "commercial-fine-tuning",
                "DE",
            ),
        ),
        deny(
            "research-only data, commercial purpose",
            &[
                "licence.no-commercial-use",
                "licence.research-only.no-commercial",
            ],
            data(u("tess"), Read, "research", "commercial-analytics", "DE"),
        ),
        deny(
            "licence without commercial use",
            &["licence.no-commercial-use"],
            data(
                u("tess"),
                FineTuneCommercial,
                "noncommercial",
                "commercial-fine-tuning",
                "DE",
            ),
        ),
        deny(
            "contract data for another purpose",
            &["licence.contract-limited.named-purpose"],
            data(u("tess"), Train, "contract", "training", "DE"),
        ),
        deny(
            "proprietary data outside the organisation",
            &["licence.proprietary.internal"],
            data(u("pete"), Read, "proprietary", "research", "DE"),
        ),
        deny(
            "undeclared purpose",
            &["purpose.declared"],
            data(u("tess"), Train, "open", "embedding", "DE"),
        ),
        deny(
            "EU data in the US",
            &["region.allowed"],
            data(u("tess"), Train, "open", "training", "US"),
        ),
        deny(
            "US data in Germany",
            &["region.allowed"],
            data(u("tess"), Train, "us-only", "training", "DE"),
        ),
        deny(
            "restricted, no approvals",
            &["sensitivity.restricted.dual-approval"],
            data(u("tess"), Read, "restricted", "research", "DE"),
        ),
        deny(
            "restricted, one approval",
            &["sensitivity.restricted.dual-approval"],
            with(
                data(u("tess"), Read, "restricted", "research", "DE"),
                |w, r| w.approved(r, &["olivia"]),
            ),
        ),
        deny(
            "restricted, the uploader approves",
            &["approval.not-by-uploader"],
            with(
                data(u("tess"), Read, "restricted", "research", "DE"),
                |w, r| w.approved(r, &["olivia", "ulrich"]),
            ),
        ),
        deny(
            "restricted, a compliance reviewer approves their own read",
            &["approval.not-by-requester"],
            with(
                data(u("carol"), Read, "restricted", "research", "DE"),
                |w, r| w.approved(r, &["olivia", "carol"]),
            ),
        ),
        deny(
            "restricted, reviewer without the role",
            &["sensitivity.restricted.dual-approval"],
            with(
                data(u("tess"), Read, "restricted", "research", "DE"),
                |w, r| w.approved(r, &["olivia", "pete"]),
            ),
        ),
        deny(
            "restricted, owner approval from a non-owner",
            &["sensitivity.restricted.dual-approval"],
            with(
                data(u("tess"), Read, "restricted", "research", "DE"),
                |w, r| w.approved(r, &["sam", "carol"]),
            ),
        ),
        allow(
            "internal data inside the organisation",
            &["role.trainer.data"],
            data(u("tess"), Train, "internal", "training", "DE"),
        ),
        allow(
            "internal data to the organisation's training job",
            &["role.trainer.data"],
            data(sa("job-7"), Train, "internal", "training", "DE"),
        ),
        deny(
            "internal data outside the organisation, even with a standing link",
            &["sensitivity.internal.organisation"],
            data(u("pete"), Read, "internal", "research", "DE"),
        ),
        deny(
            "special-category data with a lawful basis but no Art. 9 condition",
            &["consent.special-category-needs-condition"],
            data(u("tess"), Train, "special", "training", "DE"),
        ),
        allow(
            "special-category data under the research condition",
            &["role.trainer.data"],
            data(u("tess"), Train, "special-research", "training", "DE"),
        ),
        deny(
            "a training grant used to download",
            &["grant.action"],
            Box::new(|w: &World| {
                let cid = w.cid("open");
                let grant = w.grant_for_actions(&u("sam"), cid, "research", "DE", &[Action::Train]);
                AccessRequest::new(
                    u("sam"),
                    Action::Download,
                    Resource::Version(cid),
                    "research".parse().unwrap(),
                    "DE".parse().unwrap(),
                    now(),
                )
                .with_grant(grant)
            }),
        ),
        deny(
            "ephemeral data downloaded",
            &["sensitivity.ephemeral.no-download"],
            data(u("sam"), Download, "ephemeral", "research", "DE"),
        ),
        deny(
            "uploader approves own upload",
            &["duties.uploader-cannot-approve"],
            gov(u("ulrich"), Approve, "open"),
        ),
        deny(
            "erasing data under legal hold",
            &["state.legal-hold.no-erase"],
            gov(u("carol"), Erase, "held"),
        ),
        deny(
            "no permit: role without the action",
            &[],
            data(u("tess"), Download, "open", "research", "DE"),
        ),
        deny(
            "no permit: no role, no link",
            &[],
            data(u("pete"), Read, "global", "research", "DE"),
        ),
        deny(
            "no permit: auditors never read data",
            &[],
            data(u("audrey"), Read, "open", "research", "DE"),
        ),
        deny(
            "no permit: owner approves another's version",
            &[],
            gov(u("olivia"), Approve, "restricted-ulrich"),
        ),
        deny(
            "no permit: trainer revokes",
            &[],
            gov(u("tess"), Revoke, "open"),
        ),
        deny_error(
            "unknown principal",
            data(u("mallory"), Read, "open", "research", "DE"),
        ),
        deny_error(
            "unknown version",
            with(
                data(u("tess"), Read, "open", "research", "DE"),
                |_, mut r| {
                    r.resource = Resource::Version(dataseal_base::Cid::raw_sha256(b"nothing"));
                    r
                },
            ),
        ),
    ]
}

#[test]
fn scenario_matrix() {
    let w = world();
    let rows = matrix();
    let mut reasons = BTreeSet::new();
    let (mut allows, mut denies) = (0, 0);
    for row in &rows {
        assert!(
            reasons.insert(row.reason),
            "duplicate reason {}",
            row.reason
        );
        let req = (row.build)(&w);
        let d = w.decide(&req);
        assert_eq!(
            d.is_allowed(),
            row.allow,
            "{}: {:?} {:?}",
            row.reason,
            d.determining_policies(),
            d.errors()
        );
        assert_eq!(d.determining_policies(), row.policies, "{}", row.reason);
        assert_eq!(
            !d.errors().is_empty(),
            row.errors,
            "{}: {:?}",
            row.reason,
            d.errors()
        );
        assert_eq!(
            d.forbid_fired(),
            !row.allow && !row.policies.is_empty(),
            "{}",
            row.reason
        );
        let rec = d.audit_record();
        assert_eq!(rec.decision, d.effect());
        assert_eq!(rec.policies, row.policies);
        assert_eq!(rec.policy_set, w.engine.policy_hash());
        assert_eq!(rec.entities, w.store.hash());
        if row.allow {
            allows += 1;
        } else {
            denies += 1;
        }
    }
    assert!(
        rows.len() >= 40 && allows >= 20 && denies >= 30,
        "{allows} allows, {denies} denies"
    );
}

#[test]
fn presented_grants_are_verified_before_deciding() {
    let w = world();
    let cid = w.cid("open");
    let req = AccessRequest::new(
        u("tess"),
        Action::Train,
        Resource::Version(cid),
        "training".parse().unwrap(),
        "DE".parse().unwrap(),
        now(),
    );
    let good = w
        .issuer
        .issue(
            &GrantRequest {
                principal: u("tess"),
                actions: Action::DATA.into_iter().collect(),
                cid,
                purpose: "training".parse().unwrap(),
                region: "DE".parse().unwrap(),
            },
            now(),
        )
        .unwrap();
    let d = w
        .engine
        .decide_presented(&w.store, req.clone(), Some(&good), &w.verifier);
    assert!(d.is_allowed());
    assert_eq!(
        d.audit_record()
            .grant
            .as_ref()
            .map(GrantId::as_str)
            .map(str::len),
        Some(32)
    );

    // The same grant at a time past its window plus skew is refused before Cedar runs.
    let mut late = req.clone();
    late.now = now().saturating_add_seconds(15 * 60 + 31);
    let d = w
        .engine
        .decide_presented(&w.store, late, Some(&good), &w.verifier);
    assert!(!d.is_allowed());
    assert!(d.errors()[0].contains("expired"), "{:?}", d.errors());

    // A grant from an untrusted issuer.
    let other = GrantIssuer::new(dataseal_base::SigningKey::generate().unwrap(), "rogue");
    let forged = other
        .issue(
            &GrantRequest {
                principal: u("tess"),
                actions: Action::DATA.into_iter().collect(),
                cid,
                purpose: "training".parse().unwrap(),
                region: "DE".parse().unwrap(),
            },
            now(),
        )
        .unwrap();
    let d = w
        .engine
        .decide_presented(&w.store, req, Some(&forged), &w.verifier);
    assert!(!d.is_allowed());
    assert!(d.errors()[0].contains("signature"), "{:?}", d.errors());
}

#[test]
fn removing_a_link_removes_the_access() {
    let mut w = world();
    let req = w.request(u("pete"), Action::Read, "open", "research", "DE");
    assert!(w.decide(&req).is_allowed());
    let before = w.engine.policy_hash().to_owned();
    w.engine.remove_link("link.pete.open").unwrap();
    assert_ne!(w.engine.policy_hash(), before);
    assert!(!w.decide(&req).is_allowed());
    assert!(w.engine.remove_link("link.pete.open").is_err());
}

#[test]
fn links_to_groups_roles_datasets_and_collections_apply_through_the_hierarchy() {
    let mut w = world();
    let req = w.request(u("pete"), Action::Read, "global", "research", "DE");
    assert!(!w.decide(&req).is_allowed());
    w.engine
        .add_link(&TemplateLink::data_access(
            "link.partner.medical",
            group("partner"),
            EntityRef::Collection("medical".parse().unwrap()),
        ))
        .unwrap();
    let d = w.decide(&req);
    assert!(d.is_allowed(), "{:?}", d.errors());
    assert_eq!(d.determining_policies(), ["link.partner.medical"]);
    // Forbids still apply to linked access.
    let held = w.request(u("pete"), Action::Read, "held", "research", "DE");
    assert_eq!(w.decide(&held).determining_policies(), ["state.legal-hold"]);
    // A link naming an entity type the template's slot does not allow is refused.
    assert!(
        w.engine
            .add_link(&TemplateLink::data_access(
                "link.bad",
                EntityRef::Collection("medical".parse().unwrap()),
                EntityRef::User(user("pete")),
            ))
            .is_err()
    );
    // Ids are unique.
    assert!(
        w.engine
            .add_link(&TemplateLink::data_access(
                "link.partner.medical",
                group("partner"),
                EntityRef::Dataset("claims".parse().unwrap()),
            ))
            .is_err()
    );
}

#[test]
fn time_is_the_callers() {
    // The same request decided at two clocks: inside and past retention.
    let w = world();
    let mut req = w.request(
        u("tess"),
        Action::Read,
        "retention-future",
        "research",
        "DE",
    );
    assert!(w.decide(&req).is_allowed());
    let late: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    req.now = late;
    let g = w.issuer.issue(
        &GrantRequest {
            principal: u("tess"),
            actions: Action::DATA.into_iter().collect(),
            cid: w.cid("retention-future"),
            purpose: "research".parse().unwrap(),
            region: "DE".parse().unwrap(),
        },
        late,
    );
    let req = req.with_grant(w.verifier.verify(&g.unwrap(), late).unwrap());
    assert_eq!(
        w.decide(&req).determining_policies(),
        ["state.retention-ended"]
    );
}
