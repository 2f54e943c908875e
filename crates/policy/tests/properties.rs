//! Properties: lifecycle states block every data action whatever else holds; any
//! evaluation error turns an allow into a deny; slicing never changes an answer.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod common;

use std::sync::OnceLock;

use common::*;
use dataseal_manifest::{LawfulBasis, LicenseTier, Sensitivity};
use dataseal_policy::*;
use proptest::prelude::*;

fn engine() -> &'static PolicyEngine {
    static E: OnceLock<PolicyEngine> = OnceLock::new();
    E.get_or_init(|| PolicyEngine::with_defaults().unwrap())
}

const PURPOSES: [&str; 5] = [
    "research",
    "training",
    "evaluation",
    "commercial-fine-tuning",
    "embedding",
];
const REGIONS: [&str; 6] = ["EU", "DE", "US", "EEA", "GLOBAL", "NO"];
const PEOPLE: [&str; 7] = ["tess", "olivia", "sam", "pete", "carol", "ulrich", "audrey"];

fn tier() -> impl Strategy<Value = LicenseTier> {
    prop_oneof![
        Just(LicenseTier::Open),
        Just(LicenseTier::ResearchOnly),
        Just(LicenseTier::ContractLimited),
        Just(LicenseTier::Proprietary),
    ]
}

fn sensitivity() -> impl Strategy<Value = Sensitivity> {
    prop_oneof![
        Just(Sensitivity::Public),
        Just(Sensitivity::Internal),
        Just(Sensitivity::Restricted),
        Just(Sensitivity::Ephemeral),
    ]
}

fn subset(all: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(all, 1..=all.len())
}

fn principal() -> impl Strategy<Value = Principal> {
    prop_oneof![
        proptest::sample::select(PEOPLE.as_slice()).prop_map(u),
        Just(sa("job-7")),
    ]
}

#[derive(Clone, Debug)]
struct Blocked {
    revoked: bool,
    legal_hold: bool,
    quarantined: bool,
    erased: bool,
    expired: bool,
}

fn blocked() -> impl Strategy<Value = Blocked> {
    (any::<[bool; 5]>(), 0usize..5).prop_map(|(mut flags, forced)| {
        flags[forced] = true;
        Blocked {
            revoked: flags[0],
            legal_hold: flags[1],
            quarantined: flags[2],
            erased: flags[3],
            expired: flags[4],
        }
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        tier(),
        any::<bool>(),
        sensitivity(),
        subset(&PURPOSES),
        subset(&REGIONS),
        any::<bool>(),
        proptest::sample::select(["olivia", "ulrich", "pete"].as_slice()),
    )
        .prop_map(
            |(tier, commercial_use, sensitivity, purposes, regions, pii, owner)| Spec {
                tier,
                commercial_use,
                sensitivity,
                purposes,
                regions,
                pii,
                consent: pii.then_some(LawfulBasis::Consent),
                owner,
                ..Spec::default()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Revoked, held, quarantined, erased or expired: no data action is ever allowed,
    /// whoever asks, whatever the licence, purpose, region, approvals, grant or links.
    #[test]
    fn blocked_versions_release_nothing(
        base in spec(),
        block in blocked(),
        who in principal(),
        action in proptest::sample::select(Action::DATA.as_slice()),
        purpose in proptest::sample::select(PURPOSES.as_slice()),
        region in proptest::sample::select(REGIONS.as_slice()),
        approve in any::<bool>(),
    ) {
        let spec = Spec {
            state: VersionState {
                revoked: block.revoked,
                legal_hold: block.legal_hold,
                quarantined: block.quarantined,
                erased: block.erased,
            },
            retention_until: block.expired.then_some("2026-06-01T00:00:00Z"),
            ..base
        };
        let mut w = World::with_engine(engine().clone(), &[("v", spec)]);
        // Give the principal every permit there is: a standing link to the version.
        w.engine
            .add_link(&TemplateLink::data_access("link.any", who.clone().into(), EntityRef::Version(w.cid("v"))))
            .unwrap();
        let mut req = w.request(who, action, "v", purpose, region);
        if approve {
            req = w.approved(req, &["olivia", "carol"]);
        }
        let d = w.decide(&req);
        prop_assert!(!d.is_allowed());
        prop_assert!(d.forbid_fired());
        let fired = d.determining_policies();
        let expected = [
            (block.revoked, "state.revoked"),
            (block.legal_hold, "state.legal-hold"),
            (block.quarantined, "state.quarantined"),
            (block.erased, "state.erased"),
            (block.expired, "state.retention-ended"),
        ];
        for (on, id) in expected {
            prop_assert_eq!(on, fired.iter().any(|f| f == id), "{} in {:?}", id, fired);
        }
    }

    /// A forbid that errors at evaluation (Cedar skips it) turns every allow into a deny;
    /// so does an erroring permit beside a permit that holds.
    #[test]
    fn an_erroring_policy_denies(
        who in proptest::sample::select(["tess", "olivia"].as_slice()),
        action in proptest::sample::select([Action::Read, Action::Train, Action::Evaluate].as_slice()),
        purpose in proptest::sample::select(["research", "training", "evaluation"].as_slice()),
        region in proptest::sample::select(["DE", "FR", "EU", "NL"].as_slice()),
        effect in proptest::sample::select(["forbid", "permit"].as_slice()),
    ) {
        let healthy = World::with_engine(engine().clone(), &[("open", Spec::default())]);
        let req = healthy.request(u(who), action, "open", purpose, region);
        prop_assert!(healthy.decide(&req).is_allowed());

        // Valid under strict validation, but `now * 10^10` overflows a 64-bit Long.
        let erroring = format!(
            "@id(\"user.overflow\")\n{effect} (principal, action in Dataseal::Action::\"data\", resource)\nwhen {{ context.now * 10000000000 > 0 }};"
        );
        let engine = PolicyEngine::builder().policies("user.cedar", erroring).build().unwrap();
        let broken = World::with_engine(engine, &[("open", Spec::default())]);
        let req = broken.request(u(who), action, "open", purpose, region);
        let d = broken.decide(&req);
        prop_assert!(!d.is_allowed());
        prop_assert!(!d.forbid_fired());
        prop_assert!(d.errors().iter().any(|e| e.contains("user.overflow")), "{:?}", d.errors());
        prop_assert_eq!(&d.audit_record().errors, d.errors());
    }

    /// Slicing never changes an answer: every decision is compared with one over the
    /// whole policy set (inside `World::decide`).
    #[test]
    fn slicing_agrees_with_the_whole_set(
        specs in proptest::collection::vec(spec(), 1..4),
        who in principal(),
        action in proptest::sample::select(Action::ALL.as_slice()),
        pick in 0usize..4,
        purpose in proptest::sample::select(PURPOSES.as_slice()),
        region in proptest::sample::select(REGIONS.as_slice()),
        grant_for in principal(),
        approve in any::<bool>(),
        link in any::<bool>(),
    ) {
        let names = ["a", "b", "c", "d"];
        let named: Vec<(&str, Spec)> = specs.into_iter().enumerate().map(|(i, s)| (names[i], s)).collect();
        let mut w = World::with_engine(engine().clone(), &named);
        let version = named[pick % named.len()].0;
        if link {
            w.engine
                .add_link(&TemplateLink::data_access("link.group", group("partner"), EntityRef::Dataset("claims".parse().unwrap())))
                .unwrap();
        }
        let cid = w.cid(version);
        let grant = w.grant_for(&grant_for, cid, purpose, region);
        let mut req = AccessRequest::new(
            who,
            action,
            Resource::Version(cid),
            purpose.parse().unwrap(),
            region.parse().unwrap(),
            now(),
        )
        .with_grant(grant);
        if approve {
            req = w.approved(req, &["olivia", "carol"]);
        }
        let _ = w.decide(&req);
    }
}
