//! The two stories end to end on `dir:` stores: publish a governed version, let an
//! approved job fetch it; and every way they must refuse.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use common::*;

use dataseal::base::dsse::TrustPolicy;
use std::path::PathBuf;

use dataseal::policy::{Principal, VersionState, verify_log};
use dataseal::reputation::Outcome;
use dataseal::transport::{ImportParams, Profile, import_bytes};
use dataseal::{ErrorKind, Fetch, Gate, Problem, SigningKey, Timestamp};

#[test]
fn publish_then_fetch_round_trips_every_file() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    assert!(!published.resumed);
    assert_eq!(published.objects.len(), 5);
    for o in &published.objects {
        assert_eq!(
            o.providers.len(),
            2,
            "internal class: two replicas of {}",
            o.path
        );
    }
    // The envelope is stored, one leaf at a time, as the DAG `ipfs add --cid-version=1
    // --raw-leaves` builds over it.
    let params = ImportParams::new(Profile::V1RawLeaves, 1 << 20).unwrap();
    assert_eq!(
        published.envelope_cid,
        import_bytes(published.envelope.as_bytes(), &params).root
    );

    let now = Timestamp::now();
    let grant = w.grant(&published, "research", 900, now);
    let decider = Decider::new(&w, &published, VersionState::default());
    let out = w.path("out");
    let fetched = w
        .fetch(&published, "research")
        .grant(grant)
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap();
    assert_same_as_source(&out);
    assert_eq!(fetched.files.len(), 5);
    assert!(fetched.files.iter().all(|f| !f.resumed));
    assert_eq!(fetched.receipt.manifest_cid, published.manifest_cid);
    assert_eq!(fetched.receipt.job.as_deref(), Some("job-1"));
    let c_blocks = &fetched
        .receipt
        .objects
        .iter()
        .find(|o| o.path == "train/c.bin")
        .unwrap()
        .blocks;
    assert_eq!(c_blocks.len(), 3 + 1, "three leaves and their parent");
    assert!(
        fetched
            .events
            .iter()
            .all(|e| e.outcome() == Outcome::Success)
    );
    // The receipt signs and verifies.
    let signer = SigningKey::generate().unwrap();
    let env = fetched.receipt.sign(&signer).unwrap();
    assert_eq!(env.payload_type(), dataseal::RECEIPT_PAYLOAD_TYPE);
    // Every decision is in the audit log.
    let report = verify_log(&std::fs::read(w.path("audit.jsonl")).unwrap(), None, None).unwrap();
    assert_eq!(report.records, 1);

    // Fetching again into the same directory reads nothing: every file is complete.
    let again = w
        .fetch(&published, "research")
        .grant(w.grant(&published, "research", 900, now))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap();
    assert!(again.files.iter().all(|f| f.resumed));
    assert!(again.receipt.objects.iter().all(|o| o.blocks.is_empty()));
}

#[test]
fn no_plaintext_reaches_a_store_or_the_manifest() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    let mut windows = std::collections::HashSet::new();
    for (_, data) in files() {
        for win in data.windows(32) {
            windows.insert(win.to_vec());
        }
    }
    let mut scanned = 0usize;
    for dir in [w.path("stores"), w.path("catalog")] {
        for rel in listing(&dir) {
            let bytes = std::fs::read(dir.join(&rel)).unwrap();
            scanned += bytes.len();
            for win in bytes.windows(32) {
                assert!(!windows.contains(win), "plaintext in {rel}");
            }
        }
    }
    for win in published.envelope.as_bytes().windows(32) {
        assert!(!windows.contains(win), "plaintext in the envelope");
    }
    assert!(scanned > 2 * files().iter().map(|(_, d)| d.len()).sum::<usize>());
}

#[test]
fn quarantine_names_every_problem_and_stores_nothing() {
    let w = World::new();
    let src = w.path("src");
    std::fs::write(src.join("empty.txt"), b"").unwrap();
    std::fs::write(src.join("copy.bin"), bytes(1, 65_536 - 16)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
    std::fs::write(src.join("image.png"), b"this is not a PNG at all").unwrap();
    let mut providers = w.providers(&["a", "b"]);
    let err = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.exit_code(), 2);
    let dataseal::Error::Quarantine(report) = &err else {
        panic!("{err}")
    };
    let find = |p: &str| {
        report
            .files
            .iter()
            .find(|(f, _)| f == p)
            .map(|(_, x)| x.clone())
    };
    assert_eq!(find("empty.txt"), Some(Problem::Empty));
    assert_eq!(find("link"), Some(Problem::Symlink));
    assert!(
        matches!(find("copy.bin"), Some(Problem::Duplicate { .. }))
            || matches!(find("train/a.bin"), Some(Problem::Duplicate { .. }))
    );
    assert!(matches!(
        find("image.png"),
        Some(Problem::TypeMismatch { .. })
    ));
    assert!(
        listing(&w.path("stores"))
            .iter()
            .all(|f| !f.starts_with("a/blocks") && !f.starts_with("b/blocks"))
    );
    assert!(listing(&w.path("catalog")).is_empty());
    assert!(listing(&w.path("keys")).is_empty());
}

#[test]
fn refusals_write_nothing_and_map_to_their_exit_codes() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    let now = Timestamp::now();
    let decider = Decider::new(&w, &published, VersionState::default());
    let out = w.path("out");

    // No grant: denied (3).
    let err = w
        .fetch(&published, "research")
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    // A grant for another purpose than the request's: denied.
    let err = w
        .fetch(&published, "research")
        .grant(w.grant(&published, "training", 900, now))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    // A purpose the manifest does not allow.
    let err = w
        .fetch(&published, "commercial-training")
        .grant(w.grant(&published, "commercial-training", 900, now))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    // An expired grant.
    let old = Timestamp::from_unix_seconds(now.unix_seconds() - 3600).unwrap();
    let err = w
        .fetch(&published, "research")
        .grant(w.grant(&published, "research", 60, old))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(listing(&out).is_empty(), "{:?}", listing(&out));

    // Revoked, held, erased: blocked (4).
    for state in [
        VersionState {
            revoked: true,
            ..VersionState::default()
        },
        VersionState {
            legal_hold: true,
            ..VersionState::default()
        },
        VersionState {
            erased: true,
            ..VersionState::default()
        },
    ] {
        let blocked = Decider::new(&w, &published, state);
        let err = w
            .fetch(&published, "research")
            .grant(w.grant(&published, "research", 900, now))
            .run(
                &mut providers,
                &w.catalog(),
                &w.broker(),
                &blocked.gate(),
                &out,
            )
            .unwrap_err();
        assert_eq!(err.exit_code(), 4, "{err}");
        assert!(listing(&out).is_empty());
    }

    // A trust policy that does not know the compliance key: verification fails (1).
    let partial =
        TrustPolicy::new().trust(w.publisher.verifying_key(), "publisher".parse().unwrap());
    let err = Fetch::new(
        published.manifest_cid,
        partial.trust(
            SigningKey::generate().unwrap().verifying_key(),
            "compliance".parse().unwrap(),
        ),
        Principal::User("tess".parse().unwrap()),
        dataseal::policy::Action::Train,
        "research".parse().unwrap(),
        "DE".parse().unwrap(),
    )
    .grant(w.grant(&published, "research", 900, now))
    .run(
        &mut providers,
        &w.catalog(),
        &w.broker(),
        &decider.gate(),
        &out,
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");

    // A tampered envelope given directly: it names another manifest (1).
    let mut doc: serde_json::Value = serde_json::from_str(&published.envelope).unwrap();
    let payload = doc["payload"].as_str().unwrap().to_owned();
    let flipped = if payload.as_bytes()[40] == b'A' {
        "B"
    } else {
        "A"
    };
    doc["payload"] = format!("{}{flipped}{}", &payload[..40], &payload[41..]).into();
    let tampered = doc.to_string();
    let err = w
        .fetch(&published, "research")
        .envelope(tampered.into_bytes())
        .grant(w.grant(&published, "research", 900, now))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(listing(&out).is_empty());

    // A purpose outside the vocabulary: malformed (2), refused before any decision,
    // nothing written, and the refusal recorded.
    let err = w
        .fetch(&published, "ads-commercial")
        .grant(w.grant(&published, "research", 900, now))
        .run(
            &mut providers,
            &w.catalog(),
            &w.broker(),
            &decider.gate(),
            &out,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("ads-commercial"), "{err}");
    assert!(listing(&out).is_empty());

    // Every decision, allowed or not, went to the audit log, and so did the refusal.
    let report = verify_log(&std::fs::read(w.path("audit.jsonl")).unwrap(), None, None).unwrap();
    assert_eq!((report.records, report.refusals), (7, 1));
}

#[test]
fn a_lying_store_is_routed_around_and_reported() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    assert!(corrupt_store(&w.path("stores/a")) > 5);
    let decider = Decider::new(&w, &published, VersionState::default());
    let out = w.path("out");
    let fetched = w.read(&mut providers, &published, &decider, &out).unwrap();
    assert_same_as_source(&out);
    let bad: Vec<_> = fetched
        .events
        .iter()
        .filter(|e| e.outcome() == Outcome::IntegrityFailure)
        .collect();
    assert!(!bad.is_empty());
    assert!(bad.iter().all(|e| e.provider().as_str() == "a"));
    assert!(
        fetched
            .receipt
            .objects
            .iter()
            .flat_map(|o| &o.blocks)
            .all(|b| b.provider.as_str() == "b")
    );

    // Both stores lie: verification fails (1), no file is left under a final name.
    corrupt_store(&w.path("stores/b"));
    let out2 = w.path("out2");
    let err = w
        .read(&mut providers, &published, &decider, &out2)
        .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(listing(&out2).is_empty(), "{:?}", listing(&out2));
}

#[test]
fn an_interrupted_publish_resumes_to_the_same_manifest() {
    let w = World::new();
    let journal = w.path("journal");
    // Too few providers for two replicas: the publish stops after its journal is kept.
    let mut one = w.providers(&["a"]);
    let err = w
        .publish()
        .journal(&journal)
        .run(&mut one, &w.broker(), &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
    assert!(journal.join("journal.json").is_file());

    // Two resumes from the same journal, one into empty stores and one into stores that
    // already hold part of the blocks, name the same version.
    let copy = w.path("journal-copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(journal.join("journal.json"), copy.join("journal.json")).unwrap();

    let mut two = w.providers(&["a", "b"]);
    let first = w
        .publish()
        .journal(&journal)
        .run(&mut two, &w.broker(), &w.catalog())
        .unwrap();
    assert!(first.resumed);
    assert!(
        !journal.join("journal.json").exists(),
        "a finished publish removes its journal"
    );

    // Drop every block of one store: the second resume uploads those only.
    std::fs::remove_dir_all(w.path("stores/b")).unwrap();
    let mut again = w.providers(&["a", "b"]);
    let second = w
        .publish()
        .journal(&copy)
        .run(&mut again, &w.broker(), &w.catalog())
        .unwrap();
    assert_eq!(second.manifest_cid, first.manifest_cid);
    assert_eq!(second.envelope, first.envelope);
    let blocks: u64 = second.objects.iter().map(|o| o.blocks).sum();
    assert_eq!(
        second.uploaded() * 2,
        blocks,
        "only store b's half was uploaded"
    );

    // A source file changed since the interruption is refused, never re-encrypted under
    // the same key and salt.
    let copy2 = w.path("journal-copy2");
    std::fs::create_dir_all(&copy2).unwrap();
    std::fs::copy(copy.join("journal.json"), copy2.join("journal.json")).ok();
    let w2 = w.path("src/labels.csv");
    std::fs::write(&w2, b"id,label\n1,cow\n").unwrap();
    let mut p = w.providers(&["a", "b"]);
    // The copy's journal is gone (finished); start one and interrupt it again.
    let mut single = w.providers(&["a"]);
    let _ = w
        .publish()
        .journal(&copy2)
        .run(&mut single, &w.broker(), &w.catalog());
    std::fs::write(&w2, b"id,label\n1,hen\n").unwrap();
    let err = w
        .publish()
        .journal(&copy2)
        .run(&mut p, &w.broker(), &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("labels.csv"), "{err}");
}

#[test]
fn verify_reports_replicas_and_repair_restores_them() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();

    // Offline: the envelope and signatures only.
    let shallow = dataseal::Verify::new(published.manifest_cid, w.trust())
        .run(&mut providers, &w.catalog())
        .unwrap();
    assert_eq!(shallow.manifest.cid(), published.manifest_cid);
    assert!(shallow.objects.is_empty());

    // Deep: every object whole on both stores.
    let deep = dataseal::Verify::new(published.manifest_cid, w.trust())
        .deep(true)
        .run(&mut providers, &w.catalog())
        .unwrap();
    assert_eq!(deep.objects.len(), 5);
    assert!(deep.objects.iter().all(|o| o.complete.len() == 2));
    assert_eq!(deep.under_replicated().count(), 0);

    // Store b loses every block: each object has one replica of the two it needs.
    std::fs::remove_dir_all(w.path("stores/b/blocks")).unwrap();
    std::fs::create_dir_all(w.path("stores/b/blocks")).unwrap();
    let deep = dataseal::Verify::new(published.manifest_cid, w.trust())
        .deep(true)
        .run(&mut providers, &w.catalog())
        .unwrap();
    assert_eq!(deep.under_replicated().count(), 5);
    for o in &deep.objects {
        assert_eq!(o.complete.len(), 1);
        assert_eq!(o.complete[0].as_str(), "a");
        assert_eq!(o.incomplete.len(), 1);
    }

    // Repair onto a new provider c (b is eligible too; the choice is seeded).
    let mut three = w.providers(&["a", "b", "c"]);
    let repaired = dataseal::Repair::new(published.manifest_cid, w.trust())
        .run(&mut three, &w.catalog())
        .unwrap();
    assert!(repaired.complete());
    assert_eq!(repaired.objects.len(), 5);
    assert!(
        repaired
            .objects
            .iter()
            .all(|o| o.added.len() == 1 && o.uploaded > 0)
    );
    let after = dataseal::Verify::new(published.manifest_cid, w.trust())
        .deep(true)
        .run(&mut three, &w.catalog())
        .unwrap();
    assert_eq!(after.under_replicated().count(), 0);
    // A second repair has nothing to do.
    let again = dataseal::Repair::new(published.manifest_cid, w.trust())
        .run(&mut three, &w.catalog())
        .unwrap();
    assert!(again.objects.is_empty());

    // Every replica gone: the dataset is incomplete (1).
    for n in ["a", "b", "c"] {
        let blocks = w.path(&format!("stores/{n}/blocks"));
        std::fs::remove_dir_all(&blocks).unwrap();
        std::fs::create_dir_all(&blocks).unwrap();
    }
    let err = dataseal::Verify::new(published.manifest_cid, w.trust())
        .envelope(published.envelope.clone().into_bytes())
        .deep(true)
        .run(&mut three, &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(err.to_string().contains("incomplete"), "{err}");
    // Without the envelope in any store, the version cannot be read (5).
    let err = dataseal::Verify::new(published.manifest_cid, w.trust())
        .run(&mut three, &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
}

#[test]
fn an_interrupted_fetch_resumes_without_reading_completed_files() {
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let published = w
        .publish()
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    let decider = Decider::new(&w, &published, VersionState::default());
    let out = w.path("out");

    // The last object (in path order) loses its root block on both stores: the fetch
    // stops there, unavailable (5), after the files before it are complete.
    let last = published.objects.last().unwrap();
    assert_eq!(last.path.as_str(), "val/d.bin");
    let moved: Vec<(PathBuf, PathBuf)> = ["a", "b"]
        .iter()
        .map(|n| {
            let store =
                dataseal::transport::DirStore::open(w.path(&format!("stores/{n}"))).unwrap();
            let path = store.block_path(&last.root);
            let aside = path.with_extension("aside");
            std::fs::rename(&path, &aside).unwrap();
            (path, aside)
        })
        .collect();
    let err = w
        .read(&mut providers, &published, &decider, &out)
        .unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
    assert!(err.to_string().contains("val/d.bin"), "{err}");
    let partial = listing(&out);
    assert_eq!(partial.len(), 4, "{partial:?}");
    assert!(!out.join("val/d.bin").exists());
    assert!(
        listing(&out.join("val")).is_empty(),
        "no temporary file is left behind"
    );

    // The block comes back: the resumed fetch reads only the missing file.
    for (path, aside) in moved {
        std::fs::rename(aside, path).unwrap();
    }
    let fetched = w.read(&mut providers, &published, &decider, &out).unwrap();
    assert_same_as_source(&out);
    let read: Vec<&str> = fetched
        .files
        .iter()
        .filter(|f| !f.resumed)
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(read, ["val/d.bin"]);
    let blocks: usize = fetched.receipt.objects.iter().map(|o| o.blocks.len()).sum();
    assert_eq!(
        blocks, 5,
        "four leaves of val/d.bin and their parent, nothing else"
    );

    // A completed file that was altered since is read again, not trusted.
    std::fs::write(out.join("labels.csv"), b"id,label\n1,cat\n2,cow\n").unwrap();
    let fetched = w.read(&mut providers, &published, &decider, &out).unwrap();
    assert_same_as_source(&out);
    let read: Vec<&str> = fetched
        .files
        .iter()
        .filter(|f| !f.resumed)
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(read, ["labels.csv"]);
}

#[test]
fn a_resumed_chunk_that_differs_from_its_logged_cid_never_leaves() {
    let w = World::new();
    let journal = w.path("journal");
    // Interrupted after its journal was kept, before anything was encrypted.
    let mut one = w.providers(&["a"]);
    let err = w
        .publish()
        .journal(&journal)
        .run(&mut one, &w.broker(), &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
    // The interrupted run's log says chunk 0 of labels.csv (the first object written)
    // went out as another ciphertext than these bytes and keys make now.
    let log = journal.join("chunks.jsonl");
    let other = dataseal::Cid::raw_sha256(b"another ciphertext");
    let record = format!(r#"{{"object":"labels.csv","index":0,"cid":"{other}"}}"#);
    std::fs::write(&log, format!("{record}\n")).unwrap();
    let mut two = w.providers(&["a", "b"]);
    let err = w
        .publish()
        .journal(&journal)
        .run(&mut two, &w.broker(), &w.catalog())
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("labels.csv") && text.contains("chunk 0"),
        "{text}"
    );
    // Nothing of it reached a store, and the log still holds only the old record.
    for store in ["a", "b"] {
        let blocks: Vec<String> = listing(&w.path(&format!("stores/{store}")))
            .into_iter()
            .filter(|p| p.starts_with("blocks"))
            .collect();
        assert!(blocks.is_empty(), "{store}: {blocks:?}");
    }
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("{record}\n")
    );

    // A torn last record (no newline: the process died writing it) was never followed by
    // an upload: it is ignored, and the resume completes.
    std::fs::write(&log, &record).unwrap();
    let done = w
        .publish()
        .journal(&journal)
        .run(&mut two, &w.broker(), &w.catalog())
        .unwrap();
    assert!(done.resumed);
    assert!(
        !journal.exists(),
        "a finished publish removes its journal and chunk logs"
    );
}

#[test]
fn a_restricted_version_is_read_only_with_both_approvals() {
    use dataseal::policy::{
        ApprovalStatement, ApprovalVerifier, ApproverRole, AuditLog, EntityRef, EntityStore,
        GrantVerifier, PolicyEngine, VersionRecord,
    };
    let w = World::new();
    let mut providers = w.providers(&["a", "b"]);
    let mut meta = dataseal::DatasetMeta::from_json(META.as_bytes()).unwrap();
    meta.sensitivity = Some(dataseal::Sensitivity::Restricted);
    let published = w
        .publish_meta(meta)
        .run(&mut providers, &w.broker(), &w.catalog())
        .unwrap();
    let now = Timestamp::now();

    // The decision point: tess reads, olivia owns the version, carol reviews compliance.
    let engine = PolicyEngine::with_defaults().unwrap();
    let verified =
        dataseal::manifest::verify_envelope(&envelope_of(&published), &w.trust(), now).unwrap();
    let mut b = EntityStore::builder(&engine);
    let stories = EntityRef::Group("stories".parse().unwrap());
    b.add_user(
        &"tess".parse().unwrap(),
        &[EntityRef::Role("trainer".parse().unwrap()), stories.clone()],
    )
    .unwrap();
    b.add_user(
        &"carol".parse().unwrap(),
        &[
            EntityRef::Role("compliance-reviewer".parse().unwrap()),
            stories,
        ],
    )
    .unwrap();
    let record = VersionRecord {
        owner: "olivia".parse().unwrap(),
        organisation: "stories".parse().unwrap(),
        uploader: "ulrich".parse().unwrap(),
        special_category_data: false,
        state: VersionState::default(),
    };
    b.add_version(&verified, &record).unwrap();
    let entities = b.build().unwrap();
    let (olivia, carol) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let approvers = ApprovalVerifier::new()
        .trust(
            olivia.verifying_key(),
            "olivia".parse().unwrap(),
            ApproverRole::DataOwner,
        )
        .trust(
            carol.verifying_key(),
            "carol".parse().unwrap(),
            ApproverRole::Compliance,
        );
    let verifier = GrantVerifier::new(30).trust(w.grant_key.verifying_key());
    let audit = AuditLog::open(w.path("audit.jsonl"));
    let gate = Gate {
        engine: &engine,
        entities: &entities,
        verifier: &verifier,
        audit: Some(&audit),
        approvals: Some(&approvers),
        registry: None,
    };
    let approval = |key: &SigningKey, who: &str, role| {
        dataseal::policy::Approval::sign(
            &ApprovalStatement {
                approver: who.parse().unwrap(),
                cid: published.manifest_cid,
                role,
                time: now,
            },
            key,
        )
        .unwrap()
    };
    let by_owner = approval(&olivia, "olivia", ApproverRole::DataOwner);
    let by_compliance = approval(&carol, "carol", ApproverRole::Compliance);
    let out = w.path("out");
    let fetch = || {
        w.fetch(&published, "research")
            .grant(w.grant(&published, "research", 900, now))
    };

    // No approval, or the owner's alone: denied, nothing written.
    for f in [fetch(), fetch().approval(by_owner.clone())] {
        let err = f
            .run(&mut providers, &w.catalog(), &w.broker(), &gate, &out)
            .unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err}");
        assert!(listing(&out).is_empty());
    }
    // An approval signed by a key the gate does not trust in that role: denied.
    let forged = approval(&olivia, "carol", ApproverRole::Compliance);
    let err = fetch()
        .approval(by_owner.clone())
        .approval(forged)
        .run(&mut providers, &w.catalog(), &w.broker(), &gate, &out)
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    // Both: read.
    fetch()
        .approval(by_owner)
        .approval(by_compliance)
        .run(&mut providers, &w.catalog(), &w.broker(), &gate, &out)
        .unwrap();
    assert_same_as_source(&out);
}
