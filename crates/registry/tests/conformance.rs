//! The conformance suite: one function per behaviour, each run on a fresh registry of
//! every backend (SQLite always; PostgreSQL on a throw-away cluster).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::collections::{BTreeMap, VecDeque};

use common::{at, change, cid, dataset, version};
use dataseal_base::{Cid, Timestamp};
use dataseal_policy::GrantId;
use dataseal_registry::{
    BackendKind, Change, Error, HoldScope, LifecycleState, ReadRecord, Registry, SourceId,
    Stewardship, VersionStatus,
};

use LifecycleState as S;

/// Runs every case, each on a registry from `fresh`.
async fn run_suite(mut fresh: impl AsyncFnMut() -> Registry) {
    macro_rules! case {
        ($name:ident) => {{
            eprintln!("  case {}", stringify!($name));
            let registry = fresh().await;
            $name(&registry).await;
            registry.close().await;
        }};
    }
    case!(transitions_exhaustive);
    case!(transition_from_is_compare_and_set);
    case!(history_records_who_why_when);
    case!(version_hold_blocks);
    case!(dataset_hold_blocks_every_version);
    case!(source_hold_blocks_derived_versions);
    case!(lifting_needs_the_placing_role);
    case!(grant_revocation);
    case!(consent_withdrawal_three_levels);
    case!(retention_query);
    case!(checkpoint_monotonic);
    case!(unknown_version);
    case!(bad_input_leaves_registry_unchanged);
    case!(approval_envelopes_kept);
    case!(stewardship_is_the_policy_record);
    case!(reads_of_withdrawn_sources);
    case!(erasure_receipts);
    case!(racing_writers_one_wins);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    run_suite(async || {
        n += 1;
        let url = format!("sqlite:{}", dir.path().join(format!("r{n}.db")).display());
        let registry = Registry::open(&url).await.unwrap();
        assert_eq!(registry.backend(), BackendKind::Sqlite);
        registry
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(pg) = common::PgCluster::start() else {
        return;
    };
    run_suite(async || {
        let registry = pg.fresh_registry().await;
        assert_eq!(registry.backend(), BackendKind::Postgres);
        registry
    })
    .await;
}

#[tokio::test]
async fn urls_are_checked() {
    for bad in [
        "",
        "mysql://x/y",
        "sqlite:",
        "sqlite://",
        "sqlite::memory:",
        "file:x.db",
    ] {
        let e = Registry::open(bad).await.unwrap_err();
        assert!(matches!(e, Error::InvalidUrl { .. }), "{bad}: {e}");
    }
    let e = Registry::open("postgres://alice:s3cret@[bad/x")
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[test]
fn registry_futures_are_send() {
    fn send<T: Send>(_: T) {}
    let run = async {
        let r = Registry::open("sqlite:never-opened.db").await.unwrap();
        let c = cid("x");
        r.status(&c).await.unwrap();
        r.transition(&c, S::Approved, &change("a", "b", "c"))
            .await
            .unwrap();
    };
    send(run);
}

// ----- helpers -----

/// The shortest path of states from `quarantined` to `target`.
fn path_to(target: LifecycleState) -> Vec<LifecycleState> {
    let mut prev: BTreeMap<LifecycleState, LifecycleState> = BTreeMap::new();
    let mut queue = VecDeque::from([S::Quarantined]);
    while let Some(s) = queue.pop_front() {
        for &t in s.allowed_targets() {
            if t != S::Quarantined && !prev.contains_key(&t) {
                prev.insert(t, s);
                queue.push_back(t);
            }
        }
    }
    let mut path = vec![];
    let mut s = target;
    while s != S::Quarantined {
        path.push(s);
        s = prev[&s];
    }
    path.reverse();
    path
}

async fn register(r: &Registry, name: &str, ds: &str) -> Cid {
    r.register(
        &version(name, ds),
        &change("uploader", "publisher", "upload"),
    )
    .await
    .unwrap();
    cid(name)
}

async fn drive(r: &Registry, c: &Cid, to: LifecycleState) {
    for s in path_to(to) {
        step(r, c, s, &change("steward", "steward", "drive"))
            .await
            .unwrap();
    }
}

/// Moves `c` to `to`; to `approved` as the facade does once both approvals verified: the
/// first approval's envelope kept, the second kept together with the transition.
async fn step(r: &Registry, c: &Cid, to: LifecycleState, who: &Change) -> Result<u64, Error> {
    if to == S::Approved {
        r.record_approval_envelope(c, b"{\"approval\":\"data owner\"}", who.at)
            .await?;
        return r
            .approve_verified(c, b"{\"approval\":\"compliance\"}", who)
            .await;
    }
    r.transition(c, to, who).await
}

fn known(status: VersionStatus) -> dataseal_registry::KnownVersion {
    match status {
        VersionStatus::Known(k) => *k,
        other => panic!("not known: {other:?}"),
    }
}

/// Everything observable about one version.
async fn snapshot(r: &Registry, c: &Cid) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        r.status(c).await.unwrap(),
        r.history(c).await.unwrap(),
        r.holds_covering(c).await.unwrap(),
        r.approval_envelopes(c).await.unwrap()
    )
}

// ----- cases -----

async fn transitions_exhaustive(r: &Registry) {
    let mut allowed = 0;
    for from in LifecycleState::ALL {
        for to in LifecycleState::ALL {
            let name = format!("v-{from}-{to}");
            let c = register(r, &name, "exhaustive").await;
            drive(r, &c, from).await;
            let before = snapshot(r, &c).await;
            let who = change("bob", "compliance", "table");
            if to == S::Approved {
                // Never by a plain transition, never with one approval kept.
                for refused in [
                    r.transition(&c, to, &who).await,
                    r.transition_from(&c, from, to, &who).await,
                ] {
                    assert!(
                        matches!(refused, Err(Error::ApprovalRequired { .. })),
                        "{from} -> {to}: {refused:?}"
                    );
                }
                // Versions driven through approval keep two approvals already: the
                // table refuses them instead.
                let kept = r.approval_envelopes(&c).await.unwrap().len();
                let third = r.approve_verified(&c, b"only one", &who).await;
                if kept == 0 {
                    assert!(
                        matches!(third, Err(Error::ApprovalRequired { .. })),
                        "{third:?}"
                    );
                } else {
                    assert!(
                        matches!(third, Err(Error::IllegalTransition { .. })),
                        "{from}: {third:?}"
                    );
                }
                assert_eq!(snapshot(r, &c).await, before, "{from} -> {to}");
            }
            let result = if to == S::Approved && from.can_move_to(to) {
                step(r, &c, to, &who).await
            } else if to == S::Approved {
                r.record_approval_envelope(&c, b"first", who.at)
                    .await
                    .unwrap();
                let before = snapshot(r, &c).await;
                let result = r.approve_verified(&c, b"second", &who).await;
                assert_eq!(snapshot(r, &c).await, before, "{from} -> {to} kept half");
                result
            } else {
                r.transition(&c, to, &who).await
            };
            if from.can_move_to(to) {
                allowed += 1;
                let revision = result.unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
                let k = known(r.status(&c).await.unwrap());
                assert_eq!(k.state, to);
                assert_eq!(k.revision, revision);
                let last = r.history(&c).await.unwrap().pop().unwrap();
                assert_eq!(
                    (last.from, last.to, last.revision),
                    (Some(from), to, revision)
                );
            } else {
                match result {
                    Err(Error::IllegalTransition { from: f, to: t, .. }) => {
                        assert_eq!((f, t), (from, to));
                    }
                    other => panic!("{from} -> {to}: {other:?}"),
                }
                if to != S::Approved {
                    assert_eq!(
                        snapshot(r, &c).await,
                        before,
                        "{from} -> {to} changed something"
                    );
                }
            }
        }
    }
    let table: usize = LifecycleState::ALL
        .iter()
        .map(|s| s.allowed_targets().len())
        .sum();
    assert_eq!(allowed, table);
}

async fn transition_from_is_compare_and_set(r: &Registry) {
    let c = register(r, "cas", "ds").await;
    let who = change("a", "steward", "cas");
    let e = r
        .transition_from(&c, S::Approved, S::Published, &who)
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        Error::StateMismatch {
            expected: S::Approved,
            found: S::Quarantined,
            ..
        }
    ));
    assert_eq!(known(r.status(&c).await.unwrap()).state, S::Quarantined);
    assert_eq!(
        r.transition_from(&c, S::Quarantined, S::Expired, &who)
            .await
            .unwrap(),
        1
    );
}

async fn history_records_who_why_when(r: &Registry) {
    let c = cid("hist");
    r.register(
        &version("hist", "ds"),
        &change("uploader", "publisher", "first upload"),
    )
    .await
    .unwrap();
    let mut approve = change("carol", "compliance", "checked licences");
    approve.at = at(60);
    step(r, &c, S::Approved, &approve).await.unwrap();
    let h = r.history(&c).await.unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].revision, h[0].from, h[0].to),
        (0, None, S::Quarantined)
    );
    assert_eq!(h[0].reason.as_str(), "first upload");
    assert_eq!(h[1].actor, approve.actor);
    assert_eq!(h[1].reason, approve.reason);
    assert_eq!(h[1].at, approve.at);
    let e = r
        .register(
            &version("hist", "other"),
            &change("x", "publisher", "again"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AlreadyRegistered(_)));
    assert_eq!(r.history(&c).await.unwrap(), h);
}

/// Asserts `c` is held by `n` holds and that every hold-blocked move is refused while
/// revocation still works on a copy of the same situation.
async fn assert_held(r: &Registry, c: &Cid, n: u64) {
    let k = known(r.status(c).await.unwrap());
    assert_eq!(k.active_holds, n, "{c}");
    assert!(k.is_held());
    assert!(k.policy_state().legal_hold);
    assert!(!k.data_actions_possible());
    for to in [S::Expired, S::Archived, S::Erased] {
        if k.state.can_move_to(to) {
            let before = snapshot(r, c).await;
            let e = r
                .transition(c, to, &change("x", "steward", "try"))
                .await
                .unwrap_err();
            assert!(
                matches!(e, Error::Held { holds, .. } if holds == n),
                "{to}: {e}"
            );
            assert_eq!(snapshot(r, c).await, before);
        }
    }
}

async fn assert_not_held(r: &Registry, c: &Cid) {
    let k = known(r.status(c).await.unwrap());
    assert_eq!(k.active_holds, 0, "{c}");
    assert!(!k.policy_state().legal_hold);
}

async fn version_hold_blocks(r: &Registry) {
    let held = register(r, "vh-1", "ds").await;
    let other = register(r, "vh-2", "ds").await;
    drive(r, &held, S::Published).await;
    drive(r, &other, S::Published).await;
    assert!(known(r.status(&held).await.unwrap()).data_actions_possible());
    let legal = change("lee", "legal", "litigation 17");
    let h1 = r
        .place_hold(&HoldScope::Version(held), &legal)
        .await
        .unwrap();
    let h2 = r
        .place_hold(&HoldScope::Version(held), &legal)
        .await
        .unwrap();
    assert_ne!(h1, h2);
    assert_held(r, &held, 2).await;
    assert_not_held(r, &other).await;
    // Revocation is not blocked: a held version can still be withdrawn.
    r.transition(&held, S::Revoked, &change("x", "steward", "withdraw"))
        .await
        .unwrap();
    assert_held(r, &held, 2).await;
    r.lift_hold(h1, &legal).await.unwrap();
    assert_held(r, &held, 1).await;
    r.lift_hold(h2, &legal).await.unwrap();
    assert_not_held(r, &held).await;
    r.transition(&held, S::Erased, &change("x", "steward", "erase"))
        .await
        .unwrap();
    let holds = r.holds_covering(&held).await.unwrap();
    assert_eq!(holds.len(), 2);
    assert!(
        holds
            .iter()
            .all(|h| !h.is_active() && h.placed.actor == legal.actor)
    );
}

async fn dataset_hold_blocks_every_version(r: &Registry) {
    let a1 = register(r, "dh-a1", "acme.a").await;
    let a2 = register(r, "dh-a2", "acme.a").await;
    let b1 = register(r, "dh-b1", "acme.b").await;
    drive(r, &a2, S::Published).await;
    let legal = change("lee", "legal", "regulator inquiry");
    let h = r
        .place_hold(&HoldScope::Dataset(dataset("acme.a")), &legal)
        .await
        .unwrap();
    assert_held(r, &a1, 1).await;
    assert_held(r, &a2, 1).await;
    assert_not_held(r, &b1).await;
    // A version registered later is covered too.
    let a3 = register(r, "dh-a3", "acme.a").await;
    assert_held(r, &a3, 1).await;
    // A hold on a dataset with no version yet covers its first one.
    let h_new = r
        .place_hold(&HoldScope::Dataset(dataset("acme.new")), &legal)
        .await
        .unwrap();
    let n1 = register(r, "dh-n1", "acme.new").await;
    assert_held(r, &n1, 1).await;
    r.lift_hold(h, &legal).await.unwrap();
    r.lift_hold(h_new, &legal).await.unwrap();
    for c in [a1, a2, a3, n1] {
        assert_not_held(r, &c).await;
    }
    r.transition(&a2, S::Expired, &change("x", "steward", "retention"))
        .await
        .unwrap();
}

async fn source_hold_blocks_derived_versions(r: &Registry) {
    let s = SourceId::new("https://example.org/crawl-1").unwrap();
    let mut v1 = version("sh-1", "ds1");
    v1.sources = vec![s.clone()];
    let mut v2 = version("sh-2", "ds2");
    v2.parents = vec![v1.cid];
    let unrelated = register(r, "sh-u", "ds1").await;
    let who = change("up", "publisher", "upload");
    r.register(&v1, &who).await.unwrap();
    r.register(&v2, &who).await.unwrap();
    let legal = change("lee", "legal", "source dispute");
    let h = r
        .place_hold(&HoldScope::Source(s.clone()), &legal)
        .await
        .unwrap();
    assert_held(r, &v1.cid, 1).await;
    assert_held(r, &v2.cid, 1).await;
    assert_not_held(r, &unrelated).await;
    // A grandchild registered later is covered through its parent.
    let mut v3 = version("sh-3", "ds3");
    v3.parents = vec![v2.cid];
    r.register(&v3, &who).await.unwrap();
    assert_held(r, &v3.cid, 1).await;
    let covering = r.holds_covering(&v3.cid).await.unwrap();
    assert_eq!(covering.len(), 1);
    assert_eq!(covering[0].scope, HoldScope::Source(s));
    r.lift_hold(h, &legal).await.unwrap();
    assert_not_held(r, &v3.cid).await;
}

async fn lifting_needs_the_placing_role(r: &Registry) {
    let c = register(r, "lift", "ds").await;
    let h = r
        .place_hold(&HoldScope::Version(c), &change("lee", "legal", "hold"))
        .await
        .unwrap();
    let before = snapshot(r, &c).await;
    let e = r
        .lift_hold(h, &change("lee", "compliance", "lift"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::WrongRole { hold, .. } if hold == h),
        "{e}"
    );
    assert_eq!(snapshot(r, &c).await, before);
    assert!(r.hold(h).await.unwrap().is_active());
    // Another person in the same role may lift it.
    let lift = change("lou", "legal", "case closed");
    r.lift_hold(h, &lift).await.unwrap();
    let hold = r.hold(h).await.unwrap();
    assert_eq!(hold.lifted, Some(lift.clone()));
    let e = r.lift_hold(h, &lift).await.unwrap_err();
    assert!(matches!(e, Error::HoldNotActive(x) if x == h));
    let mut unknown = h;
    for _ in 0..3 {
        unknown = r
            .place_hold(&HoldScope::Dataset(dataset("other")), &lift)
            .await
            .unwrap();
    }
    let missing = dataseal_registry::HoldId::new(unknown.get() + 100);
    assert!(matches!(
        r.lift_hold(missing, &lift).await,
        Err(Error::UnknownHold(_))
    ));
    assert!(matches!(r.hold(missing).await, Err(Error::UnknownHold(_))));
}

async fn grant_revocation(r: &Registry) {
    let g = GrantId::try_from("0123456789abcdef0123456789abcdef".to_owned()).unwrap();
    let other = GrantId::try_from("ffffffffffffffffffffffffffffffff".to_owned()).unwrap();
    assert!(r.grant_revocation(&g).await.unwrap().is_none());
    let first = change("sec", "security", "leaked token");
    assert!(r.revoke_grant(&g, &first).await.unwrap());
    assert!(
        !r.revoke_grant(&g, &change("x", "security", "again"))
            .await
            .unwrap()
    );
    let rev = r.grant_revocation(&g).await.unwrap().unwrap();
    assert_eq!(rev.grant, g);
    assert_eq!(rev.revoked, first);
    assert!(r.grant_revocation(&other).await.unwrap().is_none());

    // What a decision reads, in one statement: the same status, the revocation of the
    // grant asked about, the approvals kept (oldest first); an unknown version, only its
    // status; a known one without approvals, none.
    let who = change("up", "publisher", "upload");
    let v = version("view-1", "ds.view");
    r.register(&v, &who).await.unwrap();
    step(r, &v.cid, S::Approved, &who).await.unwrap();
    r.place_hold(
        &HoldScope::Dataset(v.dataset.clone()),
        &change("lee", "legal", "case"),
    )
    .await
    .unwrap();
    let view = r.decision_view(&v.cid, Some(&g)).await.unwrap();
    assert_eq!(view.status, r.status(&v.cid).await.unwrap());
    assert_eq!(known(view.status).active_holds, 1);
    assert_eq!(view.grant_revocation, Some(rev));
    assert_eq!(view.approvals, r.approval_envelopes(&v.cid).await.unwrap());
    assert_eq!(view.approvals.len(), 2);
    let view = r.decision_view(&v.cid, Some(&other)).await.unwrap();
    assert_eq!(view.grant_revocation, None);
    let view = r.decision_view(&v.cid, None).await.unwrap();
    assert_eq!(view.grant_revocation, None);
    let unknown = r
        .decision_view(&cid("view-unknown"), Some(&g))
        .await
        .unwrap();
    assert_eq!(unknown.status, VersionStatus::Unknown);
    assert_eq!(unknown.grant_revocation, None);
    assert!(unknown.approvals.is_empty());
    let bare = version("view-2", "ds.view");
    r.register(&bare, &who).await.unwrap();
    let view = r.decision_view(&bare.cid, Some(&g)).await.unwrap();
    assert_eq!(view.status, r.status(&bare.cid).await.unwrap());
    assert_eq!(known(view.status).active_holds, 1, "the dataset's hold");
    assert!(view.approvals.is_empty());
    assert!(view.grant_revocation.is_some());
}

async fn consent_withdrawal_three_levels(r: &Registry) {
    let s = SourceId::new("https://example.org/survey-2025").unwrap();
    let t = SourceId::new("https://example.org/other").unwrap();
    let who = change("up", "publisher", "upload");
    let mut l1 = version("cw-1", "ds.one");
    l1.sources = vec![s.clone(), t.clone()];
    let mut l2 = version("cw-2", "ds.two");
    l2.parents = vec![l1.cid];
    let mut l3 = version("cw-3", "ds.three");
    l3.parents = vec![l2.cid, cid("not-registered")];
    let mut u = version("cw-u", "ds.one");
    u.sources = vec![t.clone()];
    for v in [&l1, &l2, &l3, &u] {
        r.register(v, &who).await.unwrap();
        drive(r, &v.cid, S::Published).await;
    }
    let mut expected = vec![l1.cid, l2.cid, l3.cid];
    expected.sort();
    assert_eq!(r.derived_from(&s).await.unwrap(), expected);
    assert_eq!(r.consent_withdrawal(&s).await.unwrap(), None);
    let dpo = change("dpo", "privacy", "data subject request");
    let withdrawn = r.withdraw_consent(&s, &dpo).await.unwrap();
    assert_eq!(withdrawn, expected);
    assert_eq!(r.consent_withdrawal(&s).await.unwrap(), Some(dpo.clone()));
    for c in &expected {
        let k = known(r.status(c).await.unwrap());
        assert!(k.consent_withdrawn, "{c}");
        assert!(k.policy_state().revoked);
        assert!(!k.data_actions_possible());
    }
    let k = known(r.status(&u.cid).await.unwrap());
    assert!(!k.consent_withdrawn);
    assert!(k.data_actions_possible());
    let mut t_expected = vec![l1.cid, l2.cid, l3.cid, u.cid];
    t_expected.sort();
    assert_eq!(r.derived_from(&t).await.unwrap(), t_expected);
    // Withdrawing again is harmless; a version derived later is flagged too.
    assert_eq!(r.withdraw_consent(&s, &who).await.unwrap(), expected);
    assert_eq!(r.consent_withdrawal(&s).await.unwrap(), Some(dpo));
    let mut l4 = version("cw-4", "ds.four");
    l4.parents = vec![l3.cid];
    r.register(&l4, &who).await.unwrap();
    assert!(known(r.status(&l4.cid).await.unwrap()).consent_withdrawn);
}

async fn retention_query(r: &Registry) {
    let now = at(1000);
    let past = |name: &str, until: Option<Timestamp>| {
        let mut v = version(name, "ret");
        v.retention_until = until;
        v
    };
    let who = change("up", "publisher", "upload");
    for v in [
        past("rt-past", Some(at(10))),
        past("rt-exact", Some(now)),
        past("rt-future", Some(at(5000))),
        past("rt-none", None),
        past("rt-held", Some(at(10))),
        past("rt-erased", Some(at(10))),
        past("rt-expired", Some(at(10))),
    ] {
        r.register(&v, &who).await.unwrap();
    }
    r.transition(&cid("rt-erased"), S::Erased, &who)
        .await
        .unwrap();
    r.transition(&cid("rt-expired"), S::Expired, &who)
        .await
        .unwrap();
    let legal = change("lee", "legal", "hold");
    let h = r
        .place_hold(&HoldScope::Version(cid("rt-held")), &legal)
        .await
        .unwrap();
    let sorted = |names: &[&str]| {
        let mut v: Vec<Cid> = names.iter().map(|n| cid(n)).collect();
        v.sort();
        v
    };
    assert_eq!(
        r.past_retention(now).await.unwrap(),
        sorted(&["rt-past", "rt-exact"])
    );
    r.lift_hold(h, &legal).await.unwrap();
    assert_eq!(
        r.past_retention(now).await.unwrap(),
        sorted(&["rt-past", "rt-exact", "rt-held"])
    );
    r.set_retention(&cid("rt-future"), Some(at(999)))
        .await
        .unwrap();
    r.set_retention(&cid("rt-past"), None).await.unwrap();
    assert_eq!(
        r.past_retention(now).await.unwrap(),
        sorted(&["rt-exact", "rt-held", "rt-future"])
    );
    let k = known(r.status(&cid("rt-future")).await.unwrap());
    assert_eq!(k.retention_until, Some(at(999)));
}

async fn checkpoint_monotonic(r: &Registry) {
    assert!(r.latest_checkpoint().await.unwrap().is_none());
    r.store_checkpoint(5, b"cp-5", at(1)).await.unwrap();
    r.store_checkpoint(5, b"cp-5", at(2)).await.unwrap();
    assert!(matches!(
        r.store_checkpoint(5, b"other", at(3)).await,
        Err(Error::CheckpointMismatch(5))
    ));
    assert!(matches!(
        r.store_checkpoint(4, b"cp-4", at(3)).await,
        Err(Error::CheckpointRollback {
            stored: 5,
            offered: 4
        })
    ));
    let cp = r.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(
        (cp.sequence, cp.bytes.as_slice(), cp.stored_at),
        (5, &b"cp-5"[..], at(1))
    );
    r.store_checkpoint(9, b"cp-9", at(4)).await.unwrap();
    assert!(matches!(
        r.store_checkpoint(u64::MAX, b"x", at(5)).await,
        Err(Error::InvalidInput { .. })
    ));
    r.store_checkpoint(0, b"", at(5)).await.unwrap_err();
    let cp = r.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!((cp.sequence, cp.bytes.as_slice()), (9, &b"cp-9"[..]));
}

async fn unknown_version(r: &Registry) {
    let c = cid("never-registered");
    let status = r.status(&c).await.unwrap();
    assert_eq!(status, VersionStatus::Unknown);
    assert_eq!(status.policy_state(), None);
    let who = change("x", "steward", "try");
    assert!(
        matches!(r.transition(&c, S::Published, &who).await, Err(Error::UnknownVersion(x)) if x == c)
    );
    assert!(
        matches!(r.approve_verified(&c, b"{}", &who).await, Err(Error::UnknownVersion(x)) if x == c)
    );
    assert!(matches!(r.history(&c).await, Err(Error::UnknownVersion(_))));
    assert!(matches!(
        r.holds_covering(&c).await,
        Err(Error::UnknownVersion(_))
    ));
    assert!(matches!(
        r.place_hold(&HoldScope::Version(c), &who).await,
        Err(Error::UnknownVersion(_))
    ));
    assert!(matches!(
        r.set_retention(&c, None).await,
        Err(Error::UnknownVersion(_))
    ));
    assert!(matches!(
        r.record_approval_envelope(&c, b"{}", at(0)).await,
        Err(Error::UnknownVersion(_))
    ));
    // None of it registered anything.
    assert_eq!(r.status(&c).await.unwrap(), VersionStatus::Unknown);
    assert!(r.past_retention(at(1_000_000)).await.unwrap().is_empty());
}

async fn bad_input_leaves_registry_unchanged(r: &Registry) {
    let c = register(r, "bad", "ds").await;
    drive(r, &c, S::Published).await;
    let h = r
        .place_hold(&HoldScope::Version(c), &change("lee", "legal", "hold"))
        .await
        .unwrap();
    let before = snapshot(r, &c).await;
    let who = change("x", "steward", "bad");
    assert!(r.transition(&c, S::Quarantined, &who).await.is_err());
    assert!(r.transition(&c, S::Approved, &who).await.is_err());
    assert!(r.transition(&c, S::Published, &who).await.is_err());
    assert!(r.transition(&c, S::Erased, &who).await.is_err());
    assert!(
        r.transition_from(&c, S::Revoked, S::Erased, &who)
            .await
            .is_err()
    );
    assert!(r.lift_hold(h, &change("x", "steward", "no")).await.is_err());
    assert!(r.register(&version("bad", "ds2"), &who).await.is_err());
    let mut own_parent = version("own-parent", "ds");
    own_parent.parents = vec![own_parent.cid];
    assert!(matches!(
        r.register(&own_parent, &who).await,
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(
        r.status(&own_parent.cid).await.unwrap(),
        VersionStatus::Unknown
    );
    assert_eq!(snapshot(r, &c).await, before);
    // Rejected before reaching the registry: malformed names.
    assert!(SourceId::new("").is_err());
    assert!(
        "with\ncontrol"
            .parse::<dataseal_registry::Reason>()
            .is_err()
    );
    assert!("Published".parse::<LifecycleState>().is_err());
}

/// Two writers on one version at the same moment (separate connections of one pool):
/// exactly one compare-and-set wins, and a hold racing an erasure either blocks it or
/// comes after it, never both.
async fn racing_writers_one_wins(r: &Registry) {
    let who = change("x", "steward", "race");
    let legal = change("lee", "legal", "race");
    for i in 0..10 {
        let c = register(r, &format!("race-{i}"), "ds").await;
        drive(r, &c, S::Published).await;
        let (a, b) = tokio::join!(
            r.transition_from(&c, S::Published, S::Revoked, &who),
            r.transition_from(&c, S::Published, S::Superseded, &who)
        );
        assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
        let lost = if a.is_ok() { b } else { a };
        assert!(matches!(lost, Err(Error::StateMismatch { .. })), "{lost:?}");
        assert_eq!(r.history(&c).await.unwrap().len(), 4);

        let scope = HoldScope::Version(c);
        let (erase, hold) = tokio::join!(
            r.transition(&c, S::Erased, &who),
            r.place_hold(&scope, &legal)
        );
        let hold = r.hold(hold.unwrap()).await.unwrap();
        match erase {
            Ok(revision) => assert!(hold.placed_revision.unwrap() > revision),
            Err(Error::Held { .. }) => {
                assert_ne!(known(r.status(&c).await.unwrap()).state, S::Erased);
            }
            Err(e) => panic!("{e}"),
        }
    }
}

async fn approval_envelopes_kept(r: &Registry) {
    let c = register(r, "appr", "ds").await;
    assert!(r.approval_envelopes(&c).await.unwrap().is_empty());
    r.record_approval_envelope(&c, b"{\"a\":1}", at(1))
        .await
        .unwrap();
    r.record_approval_envelope(&c, b"{\"b\":2}", at(2))
        .await
        .unwrap();
    assert_eq!(
        r.approval_envelopes(&c).await.unwrap(),
        vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]
    );
}

async fn stewardship_is_the_policy_record(r: &Registry) {
    use dataseal_policy::{GroupId, UserId};
    // Registered without: no record, so a decision denies.
    let bare = register(r, "bare", "ds").await;
    assert_eq!(known(r.status(&bare).await.unwrap()).version_record(), None);
    let steward = Stewardship {
        owner: UserId::new("olivia").unwrap(),
        organisation: GroupId::new("acme").unwrap(),
        uploader: UserId::new("uma").unwrap(),
        special_category_data: true,
    };
    let v = version("stewarded", "ds").with_stewardship(steward.clone());
    r.register(&v, &change("uma", "publisher", "upload"))
        .await
        .unwrap();
    let k = known(r.status(&v.cid).await.unwrap());
    assert_eq!(k.stewardship.as_ref(), Some(&steward));
    let record = k.version_record().unwrap();
    assert_eq!(record.owner, steward.owner);
    assert_eq!(record.organisation, steward.organisation);
    assert_eq!(record.uploader, steward.uploader);
    assert!(record.special_category_data);
    // The state is read now, not at registration.
    assert!(record.state.quarantined);
    drive(r, &v.cid, S::Published).await;
    let record = known(r.status(&v.cid).await.unwrap())
        .version_record()
        .unwrap();
    assert!(!record.state.quarantined && !record.state.revoked);
    r.place_hold(
        &HoldScope::Version(v.cid),
        &change("lee", "legal", "case 7"),
    )
    .await
    .unwrap();
    let record = known(r.status(&v.cid).await.unwrap())
        .version_record()
        .unwrap();
    assert!(record.state.legal_hold);
}

async fn reads_of_withdrawn_sources(r: &Registry) {
    use dataseal_policy::{Principal, UserId};
    let s = SourceId::new("https://example.org/panel").unwrap();
    let who = change("up", "publisher", "upload");
    let mut l1 = version("rd-1", "ds.one");
    l1.sources = vec![s.clone()];
    let mut l2 = version("rd-2", "ds.two");
    l2.parents = vec![l1.cid];
    let mut l3 = version("rd-3", "ds.three");
    l3.parents = vec![l2.cid];
    let other = version("rd-other", "ds.one");
    for v in [&l1, &l2, &l3, &other] {
        r.register(v, &who).await.unwrap();
    }
    let reader = Principal::User(UserId::new("tess").unwrap());
    assert!(r.reads_of(&l3.cid).await.unwrap().is_empty());
    let first = ReadRecord::new(l3.cid, reader.clone(), at(5))
        .job("train-7")
        .receipt(b"{\"signed\":1}".to_vec());
    r.record_read(&first).await.unwrap();
    let second = ReadRecord::new(l1.cid, reader.clone(), at(6));
    r.record_read(&second).await.unwrap();
    r.record_read(&ReadRecord::new(other.cid, reader.clone(), at(7)))
        .await
        .unwrap();
    assert_eq!(r.reads_of(&l3.cid).await.unwrap(), vec![first.clone()]);
    // Every read of a version derived from the source, through three levels.
    assert_eq!(r.reads_derived_from(&s).await.unwrap(), vec![first, second]);
    // Unknown versions and bad job names change nothing.
    let unknown = ReadRecord::new(cid("nowhere"), reader.clone(), at(8));
    assert!(matches!(
        r.record_read(&unknown).await,
        Err(Error::UnknownVersion(_))
    ));
    let long = ReadRecord::new(l1.cid, reader, at(9)).job("j".repeat(300));
    assert!(matches!(
        r.record_read(&long).await,
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(r.reads_of(&l1.cid).await.unwrap().len(), 1);
}

async fn erasure_receipts(r: &Registry) {
    let c = register(r, "er", "ds").await;
    drive(r, &c, S::Published).await;
    assert_eq!(r.erasure_receipt(&c).await.unwrap(), None);
    // Only an erased version has a receipt.
    assert!(matches!(
        r.record_erasure_receipt(&c, b"r1", at(1)).await,
        Err(Error::StateMismatch { .. })
    ));
    r.transition(&c, S::Erased, &change("dpo", "privacy", "erasure request"))
        .await
        .unwrap();
    r.record_erasure_receipt(&c, b"r1", at(1)).await.unwrap();
    // An erasure carried out again keeps the last receipt.
    r.record_erasure_receipt(&c, b"r2", at(2)).await.unwrap();
    assert_eq!(r.erasure_receipt(&c).await.unwrap(), Some(b"r2".to_vec()));
    assert!(matches!(
        r.erasure_receipt(&cid("nowhere")).await,
        Err(Error::UnknownVersion(_))
    ));
}

#[tokio::test]
async fn reopening_keeps_data_and_newer_schemas_are_refused() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let url = format!("sqlite:{}", path.display());
    let r = Registry::open(&url).await.unwrap();
    let c = register(&r, "kept", "ds").await;
    r.close().await;
    // Reopening migrates nothing and keeps everything.
    let r = Registry::open(&url).await.unwrap();
    assert_eq!(known(r.status(&c).await.unwrap()).state, S::Quarantined);
    r.close().await;
    // A schema version this library does not know (written by a newer one) is refused.
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let e = Registry::open(&url).await.unwrap_err();
    assert!(matches!(e, Error::Migrate(_)), "{e}");
}
