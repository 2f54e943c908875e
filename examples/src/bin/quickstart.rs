//! `quickstart`: the whole dataseal story through the `dataseal` facade, on two embedded
//! on-disk `dir:` stores, no server needed. It publishes a small generated dataset to two
//! providers (encrypted client-side, signed in two roles), verifies the signatures, asks
//! the policy gate who may read it (every decision audited), fetches it back around a
//! provider whose every block is corrupt, and scores the providers from what it saw.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dataseal::base::dsse::{Envelope, TrustPolicy};
use dataseal::manifest::{sign, verify_envelope};
use dataseal::policy::{AccessRequest, Action, AuditLog, DataPurpose, EntityStore, GrantIssuer};
use dataseal::policy::{GrantRequest, GrantVerifier, PolicyEngine, Principal, Resource};
use dataseal::policy::{VersionRecord, verify_log};
use dataseal::reputation::{DefaultModel, DefaultParams, ScoringModel};
use dataseal::{DatasetMeta, DirCatalog, Fetch, FileBroker, Gate, Identity, Publish};
use dataseal::{Region, Timestamp};
use dataseal_examples::story::{check, corrupt_every_file, demo_dataset, dir_providers, ds};
use dataseal_examples::story::{fail, join, parse, same_tree, served_and_caught};
use dataseal_examples::story::{signing_keys, workdir, write, write_tree};
use dataseal_examples::{Failure, show};

/// What the publisher says of the version: every manifest field a publish does not compute.
const META: &str = r#"{"datasetId": "quickstart-demo", "version": "1.0.0", "name": "Quickstart",
  "description": "A generated image-classification dataset, encrypted client-side.",
  "license": "CC-BY-NC-4.0", "licenseConditions": {"academicUse": true, "attribution": true,
    "commercialUse": false, "nonCommercialUse": true, "shareAlike": false, "tier": "research-only"},
  "purposes": ["research", "training"], "regions": ["EU"], "sensitivity": "internal"}"#;

/// Who the decision point knows: trainer tess, a member of the quickstart organisation.
const ENTITIES: &str = r#"{"entities": [{"uid": {"type": "Dataseal::User", "id": "tess"}, "attrs": {},
  "parents": [{"type": "Dataseal::Role", "id": "trainer"}, {"type": "Dataseal::Group", "id": "quickstart"}]}]}"#;

/// What the organisation records of the version (the registry keeps this in production).
const RECORD: &str = r#"{"owner": "olivia", "organisation": "quickstart", "uploader": "ulrich",
  "specialCategoryData": false,
  "state": {"legalHold": false, "revoked": false, "quarantined": false, "erased": false}}"#;

/// Runs the whole dataseal story on a small generated dataset and prints what it did.
#[derive(Debug, Parser)]
#[command(name = "quickstart", version, about)]
struct Args {
    /// Work in DIR (created if missing; an earlier run there is replaced) instead of a
    /// fresh temporary directory. Either way the directory is kept.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints one line on stdout.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(fail(2, "stdout"))?
    };
}

fn main() -> ExitCode {
    match run(Args::parse().dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report("quickstart"),
    }
}

fn run(dir: Option<PathBuf>) -> Result<(), Failure> {
    let (started, now) = (Instant::now(), Timestamp::now());
    let root = workdir(dir, &["out", "audit.jsonl", "audit.jsonl.checkpoint"])?;
    let at = |rel: &str| root.join(rel);
    say!("dataseal quickstart: publish, verify, authorize, fetch and score a dataset version");
    say!("working directory: {}\n", show(&root));

    // 1. A small deterministic dataset, and what its publisher says of it.
    let files = demo_dataset();
    write_tree(&at("dataset"), &files)?;
    write(&at("meta.json"), META.as_bytes(), false)?;
    let meta = DatasetMeta::from_file(&at("meta.json")).map_err(ds("meta.json"))?;
    let (count, total) = (files.len(), files.iter().map(|f| f.1.len()).sum::<usize>());
    say!("1. generated {count} files ({total} bytes) under dataset/, and meta.json: research-only");
    say!("   licence, purposes research and training, regions EU, sensitivity internal");

    // 2. Keys: four Ed25519 signing keys, and the reader's age identity.
    let [publisher, compliance, grant_key, operator] = signing_keys()?;
    let (reader, identity_file) = (Identity::generate(), at("keys/recipient.key"));
    let recipient = reader.to_public();
    write(
        &identity_file,
        reader.to_identity_file(now).as_bytes(),
        true,
    )?;
    say!("2. generated Ed25519 keys (publisher, compliance, grant issuer, operator) and the");
    say!("   reader's age identity {recipient} (keys/recipient.key, mode 0600)");

    // 3. Publish to two providers; the broker keeps the version's key, sealed to the reader.
    let broker = FileBroker::new(at("keys")).recipients([recipient]);
    let (broker, catalog) = (broker.identities([reader]), DirCatalog::new(at("catalog")));
    let mut providers = dir_providers(&at("stores"), &[("eu-1", "DE"), ("eu-2", "FR")])?;
    let published = Publish::new(at("dataset"), meta)
        .signer(publisher.clone(), parse("publisher")?)
        .signer(compliance.clone(), parse("compliance")?)
        .journal(at("journal"))
        .run(&mut providers, &broker, &catalog)
        .map_err(ds("publish"))?;
    let (cid, envelope) = (published.manifest_cid, published.envelope.as_bytes());
    write(&at("manifest.dsse.json"), envelope, false)?;
    say!("3. published to eu-1 (DE) and eu-2 (FR), encrypted client-side in 1 MiB chunks and");
    say!("   signed as publisher and compliance: manifest CID {cid} (manifest.dsse.json)");
    for o in &published.objects {
        say!(
            "   {:<21} root {} on {}",
            o.path.as_str(),
            o.root,
            join(&o.providers)
        );
    }

    // 4. Verify the envelope: the trust policy needs both roles; one signature is refused.
    let trust = TrustPolicy::new()
        .trust(publisher.verifying_key(), parse("publisher")?)
        .trust(compliance.verifying_key(), parse("compliance")?);
    let envelope = Envelope::from_json(envelope).map_err(fail(1, "DSSE"))?;
    let verified = verify_envelope(&envelope, &trust, now).map_err(fail(1, "verify"))?;
    check(verified.cid() == cid, "the envelope names this version")?;
    let single = sign(verified.manifest(), &publisher, parse("publisher")?);
    let single = single.map_err(fail(2, "sign"))?;
    let refusal = verify_envelope(&single, &trust, now).err();
    let refusal = refusal.ok_or_else(|| Failure::verify("one signature was enough"))?;
    say!("4. verified both signatures against a trust policy needing publisher and compliance;");
    say!("   a copy signed by the publisher alone is rejected: {refusal}");

    // 5. Policy: may trainer tess train on it? Every decision goes to the audit log.
    let engine = PolicyEngine::with_defaults().map_err(fail(2, "policies"))?;
    let people = EntityStore::from_document(&engine, ENTITIES.as_bytes(), &trust, now);
    let (people, to) = (people.map_err(fail(2, "entities"))?, fail(2, "the version"));
    let mut record: VersionRecord = serde_json::from_str(RECORD).map_err(fail(2, "record"))?;
    let current = people
        .with_version(&engine, &verified, &record)
        .map_err(&to)?;
    record.state.revoked = true;
    let revoked = people
        .with_version(&engine, &verified, &record)
        .map_err(&to)?;
    let verifier = GrantVerifier::new(30).trust(grant_key.verifying_key());
    let audit = AuditLog::open(at("audit.jsonl")).with_checkpoints(operator.clone(), 2);
    let gate = Gate::new(&engine, &current, &verifier).with_audit(&audit);
    let (tess, purpose) = (Principal::User(parse("tess")?), DataPurpose::Research);
    let (region, actions): (Region, _) = (parse("DE")?, [Action::Train].into());
    let (principal, issuer) = (tess.clone(), GrantIssuer::new(grant_key, "quickstart"));
    let request = GrantRequest {
        principal,
        cid,
        actions,
        purpose,
        region: region.clone(),
    };
    let grant = issuer.issue(&request, now).map_err(fail(2, "grant"))?;
    say!(
        "5. asked the policy gate (Cedar, default policies, fail-closed): may trainer tess train?"
    );
    for (label, entities, grant, want) in [
        ("for research, with a grant", &current, Some(&grant), 0),
        ("for research, without a grant", &current, None, 3),
        ("on a revoked version", &revoked, Some(&grant), 4),
    ] {
        let (who, on) = (tess.clone(), Resource::Version(cid));
        let ask = AccessRequest::new(who, Action::Train, on, purpose, region.clone(), now);
        let (code, why) = match gate.with_entities(entities).decide(ask, grant, now) {
            Ok(d) => (0, format!("ALLOW {:?}", d.determining_policies())),
            Err(e) => (e.exit_code(), format!("exit {}: {e}", e.exit_code())),
        };
        say!("     {label:<30} -> {why}");
        check(code == want, label)?;
    }
    let log = std::fs::read(audit.path()).map_err(fail(2, "audit.jsonl"))?;
    let auditors = TrustPolicy::new().trust(operator.verifying_key(), parse("audit")?);
    let report = verify_log(&log, Some(&auditors), None).map_err(fail(1, "audit.jsonl"))?;
    let (records, checkpoints) = (report.records, report.checkpoints);
    say!("   audit.jsonl: {records} chained decisions, {checkpoints} signed checkpoints, verified");

    // 6. Corrupt every block eu-1 holds, then fetch: each block is re-hashed, and read from
    //    the next provider when it does not match.
    let flipped = corrupt_every_file(&at("stores/eu-1/blocks"))?;
    let fetched = Fetch::new(cid, trust, tess, Action::Train, parse("research")?, region)
        .grant(grant)
        .run(&mut providers, &catalog, &broker, &gate, &at("out"))
        .map_err(ds("fetch"))?;
    same_tree(&at("out"), &files)?;
    let (caught, served) = served_and_caught(&fetched);
    check(
        caught > 0 && join(&served) == "eu-2",
        "eu-1's bad blocks were caught",
    )?;
    let receipt = fetched.receipt.sign(&operator).map_err(ds("receipt"))?;
    write(
        &at("receipt.dsse.json"),
        receipt.to_json().as_bytes(),
        false,
    )?;
    say!("6. flipped a byte in each of eu-1's {flipped} block files, then fetched with the grant:");
    say!("   {caught} integrity failures caught by re-hashing, every block served by eu-2;");
    say!("   every byte in out/ matches the source; signed the receipt (receipt.dsse.json)");

    // 7. Reputation from what the fetch observed.
    let mut model = DefaultModel::new(DefaultParams::default()).map_err(fail(2, "model"))?;
    model.observe_all(&fetched.events);
    model.advance(Timestamp::now());
    say!("7. scored the providers from the fetch's verified observations:");
    for s in model.scores() {
        say!(
            "     {:<5} score {:.3}, {:?}",
            s.provider().as_str(),
            s.score(),
            s.status()
        );
    }

    // 8. Where things are.
    let (secs, root) = (started.elapsed().as_secs_f64(), show(&root));
    say!("8. done in {secs:.1} s; everything is in {root}: dataset/, meta.json,");
    say!("   keys/, stores/, catalog/, manifest.dsse.json, audit.jsonl, out/, receipt.dsse.json");
    Ok(())
}
