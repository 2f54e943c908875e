//! `dataseal publish | fetch | verify | repair`: argument parsing and output over the
//! `dataseal` facade crate, which does all the work.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use dataseal::policy::{Action, Approval, Grant};
use dataseal::{
    Cid, DatasetMeta, DirCatalog, Fetch, FileBroker, GateConfig, Identity, Progress, Provider,
    Publish, Recipient, Repair, Verify,
};
use serde_json::json;

use crate::manifest_cli::{read_document, read_signing_key, trust_policy};
use crate::policy_cli::{parse_principal, read_text};
use crate::{EXIT_VERIFY, Failure, progress_bar, show};

/// Where the embedded catalog and key broker live unless told otherwise.
const HOME: &str = ".dataseal";

pub(crate) fn failure(err: &dataseal::Error) -> Failure {
    Failure::new(err.exit_code(), err.to_string())
}

fn say(line: &str) {
    // If stderr is gone there is nobody left to tell; the exit code still says it.
    let _ = writeln!(io::stderr().lock(), "{line}");
}

fn emit(json: bool, doc: &serde_json::Value, line: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    let text = if json {
        doc.to_string()
    } else {
        line.to_owned()
    };
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::io("cannot write to stdout", &e))
}

/// The stores and the embedded catalog/broker directories, shared by every story.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// A provider: [NAME[@REGION]=]SPEC with SPEC dir:PATH, kubo:URL or btfs:URL;
    /// repeatable. `eu-1@DE=kubo:http://127.0.0.1:5001`.
    #[arg(long = "store", value_name = "PROVIDER", required = true)]
    stores: Vec<String>,
    /// The catalog directory: where a version's envelope is found by its CID.
    #[arg(long, value_name = "DIR", default_value = ".dataseal/catalog")]
    catalog: PathBuf,
}

impl StoreArgs {
    /// The catalog directory.
    pub(crate) fn catalog(&self) -> &Path {
        &self.catalog
    }

    pub(crate) fn open(&self, create: bool) -> Result<Vec<Provider>, Failure> {
        self.stores
            .iter()
            .map(|s| Provider::open(s, create).map_err(|e| failure(&e)))
            .collect()
    }
}

/// The keys trusted to sign manifests, shared by fetch, verify and repair.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// A public key (PEM) trusted to sign manifests, with its role; repeatable.
    #[arg(long = "trust", value_name = "KEY.pub=ROLE", required = true)]
    trust: Vec<String>,
    /// Signatures needed in a role (default 1 per trusted role); repeatable.
    #[arg(long = "threshold", value_name = "ROLE=N")]
    thresholds: Vec<String>,
}

impl TrustArgs {
    pub(crate) fn policy(&self) -> Result<dataseal::base::dsse::TrustPolicy, Failure> {
        trust_policy(&self.trust, &self.thresholds)
    }
}

fn parse_cid(text: &str) -> Result<Cid, Failure> {
    text.parse()
        .map_err(|e| Failure::usage(format!("MANIFEST_CID {text:?}: {e}")))
}

fn read_recipient(text: &str) -> Result<Recipient, Failure> {
    // An age recipient, or a file holding one.
    let literal = text.trim();
    if literal.starts_with("age1") {
        return literal
            .parse()
            .map_err(|e| Failure::usage(format!("--recipient {text:?}: {e}")));
    }
    let path = Path::new(text);
    read_text(path)?
        .trim()
        .parse()
        .map_err(|e| Failure::usage(format!("{}: {e}", show(path))))
}

fn read_identities(path: &Path) -> Result<Vec<Identity>, Failure> {
    Identity::parse_file(&read_text(path)?)
        .map_err(|e| Failure::usage(format!("{}: {e}", show(path))))
}

fn bar_for(label: &str) -> impl Fn(&Progress) + Send + Sync + 'static {
    let bar = progress_bar(0, label);
    move |p: &Progress| {
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        if p.bytes_done >= p.bytes_total {
            bar.finish_and_clear();
        }
    }
}

/// `dataseal publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    stores: StoreArgs,
    /// A signing key (PKCS#8 PEM) and the role it signs in, KEY[=ROLE] (default role
    /// `publisher`); repeatable, one signature per key.
    #[arg(long = "key", value_name = "signing.key[=ROLE]", required = true)]
    keys: Vec<String>,
    /// An age recipient (age1…, or a file holding one) the version's key is sealed to;
    /// repeatable.
    #[arg(long = "recipient", value_name = "RECIPIENT", required = true)]
    recipients: Vec<String>,
    /// The version's metadata: datasetId, version, licence, purposes, regions,
    /// sensitivity, provenance… (the manifest's fields; see the dataseal crate).
    #[arg(long, value_name = "META.json")]
    meta: PathBuf,
    /// The key broker's directory (sealed version keys).
    #[arg(long, value_name = "DIR", default_value = ".dataseal/keys")]
    keys_dir: PathBuf,
    /// The publish journal: re-running an interrupted publish with the same journal
    /// resumes it (default .dataseal/journal/DATASET@VERSION).
    #[arg(long, value_name = "DIR")]
    journal: Option<PathBuf>,
    /// Replicas of every object, overriding the sensitivity class's default.
    #[arg(long, value_name = "N")]
    replicas: Option<usize>,
    /// The ciphertext chunk size: a power of two from 65536 to 1048576.
    #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
    chunk_size: u64,
    /// Register the new version in this registry (sqlite:PATH or postgres://…) as
    /// quarantined, with its owner, organisation and uploader: a fetch with the
    /// registry reads it once it is approved and published there.
    #[arg(long, value_name = "URL", requires_all = ["owner", "organisation", "uploader"])]
    registry: Option<String>,
    /// The version's data owner (with --registry).
    #[arg(long, value_name = "USER", requires = "registry")]
    owner: Option<String>,
    /// The organisation that owns it (with --registry).
    #[arg(long, value_name = "GROUP", requires = "registry")]
    organisation: Option<String>,
    /// Who uploads it, recorded as the registering principal in role `publisher` (with
    /// --registry).
    #[arg(long, value_name = "USER", requires = "registry")]
    uploader: Option<String>,
    /// The data holds special categories of personal data (GDPR Art. 9).
    #[arg(long, requires = "registry")]
    special_category_data: bool,
    /// The directory to publish.
    src_dir: PathBuf,
}

/// Runs `dataseal publish`; prints the new version's manifest CID.
///
/// # Errors
///
/// A [`Failure`] with the facade's exit code.
pub fn publish(args: &PublishArgs, json: bool) -> Result<(), Failure> {
    let meta = DatasetMeta::from_file(&args.meta).map_err(|e| failure(&e))?;
    let (dataset, version) = meta.identity().map_err(|e| failure(&e))?;
    let mut signers = dataseal::base::dsse::TrustPolicy::new();
    let mut publish = Publish::new(&args.src_dir, meta)
        .chunk_size(
            dataseal::crypt::ChunkSize::new(args.chunk_size)
                .map_err(|e| Failure::usage(format!("--chunk-size: {e}")))?,
        )
        .journal(args.journal.clone().unwrap_or_else(|| {
            Path::new(HOME)
                .join("journal")
                .join(format!("{dataset}@{version}"))
        }))
        .on_progress(bar_for("publish"));
    for k in &args.keys {
        let (file, role) = match k.rsplit_once('=') {
            Some((f, r)) => (f, r),
            None => (k.as_str(), "publisher"),
        };
        let role: dataseal::Role = role
            .parse()
            .map_err(|e| Failure::usage(format!("--key {k:?}: {e}")))?;
        let key = read_signing_key(Path::new(file))?;
        signers = signers.trust(key.verifying_key(), role.clone());
        publish = publish.signer(key, role);
    }
    // The registry and who answers for the version, checked before anything is stored.
    let registration = match (
        &args.registry,
        &args.owner,
        &args.organisation,
        &args.uploader,
    ) {
        (Some(url), Some(owner), Some(organisation), Some(uploader)) => {
            let stewardship =
                dataseal::stewardship(owner, organisation, uploader, args.special_category_data)
                    .map_err(|e| failure(&e))?;
            let registry = dataseal::SyncRegistry::open(url).map_err(|e| failure(&e))?;
            Some((registry, stewardship))
        }
        _ => None,
    };
    if let Some(n) = args.replicas {
        publish = publish.rules(dataseal::PlacementRules::default().with_replicas(n));
    }
    let recipients = args
        .recipients
        .iter()
        .map(|r| read_recipient(r))
        .collect::<Result<Vec<_>, _>>()?;
    let broker = FileBroker::new(&args.keys_dir).recipients(recipients);
    let catalog = DirCatalog::new(&args.stores.catalog);
    let mut providers = args.stores.open(true)?;
    let published = publish
        .run(&mut providers, &broker, &catalog)
        .map_err(|e| failure(&e))?;
    if let Some((registry, stewardship)) = registration {
        let uploader = stewardship.uploader.clone();
        let envelope = dataseal::base::dsse::Envelope::from_json(published.envelope.as_bytes())
            .map_err(|e| Failure::new(EXIT_VERIFY, format!("the new envelope: {e}")))?;
        let now = dataseal::Timestamp::now();
        let verified = dataseal::manifest::verify_envelope(&envelope, &signers, now)
            .map_err(|e| Failure::new(EXIT_VERIFY, format!("the new envelope: {e}")))?;
        registry
            .register_published(
                &verified,
                stewardship,
                dataseal::registry::Actor::user(
                    uploader,
                    "publisher"
                        .parse()
                        .map_err(|e| Failure::usage(format!("{e}")))?,
                ),
                "published"
                    .parse()
                    .map_err(|e| Failure::usage(format!("{e}")))?,
                now,
            )
            .map_err(|e| failure(&e))?;
        say(&format!(
            "registered {} as quarantined: approve and publish it in the registry to make it readable",
            published.manifest_cid
        ));
    }
    for o in &published.objects {
        let on: Vec<&str> = o.providers.iter().map(|p| p.as_str()).collect();
        say(&format!(
            "{:<32} {:>12} bytes  {}  on {}",
            o.path.as_str(),
            o.size,
            o.root,
            on.join(", ")
        ));
    }
    say(&format!(
        "published {dataset}@{version}: {} objects, {} blocks uploaded{}",
        published.objects.len(),
        published.uploaded(),
        if published.resumed {
            " (resumed an interrupted publish)"
        } else {
            ""
        }
    ));
    let objects: Vec<_> = published
        .objects
        .iter()
        .map(|o| {
            json!({
                "path": o.path.as_str(),
                "size": o.size,
                "root": o.root.to_string(),
                "providers": o.providers.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                "uploaded": o.uploaded,
            })
        })
        .collect();
    emit(
        json,
        &json!({
            "manifestCid": published.manifest_cid.to_string(),
            "envelopeCid": published.envelope_cid.to_string(),
            "resumed": published.resumed,
            "objects": objects,
        }),
        &published.manifest_cid.to_string(),
    )
}

/// `dataseal fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    stores: StoreArgs,
    /// The reader's age identity file (opens the version's key once policy allows).
    #[arg(long, value_name = "recipient.key")]
    identity: PathBuf,
    /// A file holding the access grant (a PASETO token).
    #[arg(long, value_name = "GRANT")]
    grant: Option<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
    /// The decision point's entities (principals, roles, groups; versions optional),
    /// as for `authorize`.
    #[arg(long, value_name = "ENTITIES.json")]
    entities: PathBuf,
    /// The version's record (owner, organisation, uploader, state) when the entities
    /// do not list the version: its attributes then come from the verified manifest.
    #[arg(long, value_name = "RECORD.json")]
    record: Option<PathBuf>,
    /// A directory of extra *.cedar policies loaded beside the defaults.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// A public key (PEM) trusted to issue grants; repeatable.
    #[arg(long = "grant-key", value_name = "KEY.pub")]
    grant_keys: Vec<PathBuf>,
    /// A signed approval of the version (DSSE JSON, as `authorize` takes them); a
    /// restricted version needs one from its data owner and one from compliance;
    /// repeatable.
    #[arg(long = "approval", value_name = "APPROVAL.json")]
    approvals: Vec<PathBuf>,
    /// An approver the decision point trusts: KEY.pub=ROLE:USER with ROLE data-owner or
    /// compliance; repeatable.
    #[arg(long = "approver", value_name = "KEY.pub=ROLE:USER")]
    approvers: Vec<String>,
    /// Who reads: user:ID or service-account:ID.
    #[arg(long, value_name = "PRINCIPAL")]
    principal: String,
    /// The action: train, fine-tune, fine-tune-commercial, evaluate, download, …
    #[arg(long, default_value = "train")]
    action: String,
    /// Why.
    #[arg(long)]
    purpose: String,
    /// Where the data will be used.
    #[arg(long)]
    region: String,
    /// The job, recorded in the receipt.
    #[arg(long, value_name = "ID")]
    job: Option<String>,
    /// Append every decision to this audit log, each followed by a checkpoint signed
    /// with --audit-key.
    #[arg(long, value_name = "LOG", requires = "audit_key")]
    audit_log: Option<PathBuf>,
    /// The Ed25519 key (PKCS#8 PEM) that signs the audit log's checkpoints.
    #[arg(long, value_name = "signing.key", requires = "audit_log")]
    audit_key: Option<PathBuf>,
    /// Keep the audit log's truncation anchor here instead of beside the log.
    #[arg(long, value_name = "PATH", requires = "audit_log")]
    anchor: Option<PathBuf>,
    /// Write the signed reproducibility receipt here (needs --receipt-key).
    #[arg(long, value_name = "RECEIPT.json", requires = "receipt_key")]
    receipt: Option<PathBuf>,
    /// The key (PKCS#8 PEM) the receipt is signed with.
    #[arg(long, value_name = "signing.key", requires = "receipt")]
    receipt_key: Option<PathBuf>,
    /// Append the reputation events observed to this file (JSON lines).
    #[arg(long, value_name = "EVENTS.jsonl")]
    events: Option<PathBuf>,
    /// The key broker's directory (sealed version keys).
    #[arg(long, value_name = "DIR", default_value = ".dataseal/keys")]
    keys_dir: PathBuf,
    /// Blocks fetched ahead per object.
    #[arg(long, value_name = "BLOCKS", default_value_t = 8)]
    window: usize,
    /// Decide with the registry in the loop (sqlite:PATH or postgres://…): the version's
    /// record (owner, organisation, uploader, lifecycle, holds, consent) and revoked
    /// grants are read from it at decision time, an unknown version is denied, and the
    /// read is recorded with its receipt.
    #[arg(long, value_name = "URL", conflicts_with = "record")]
    registry: Option<String>,
    /// The version.
    manifest_cid: String,
    /// The directory to write the files into (files already complete there are kept).
    outdir: PathBuf,
}

/// Runs `dataseal fetch`.
///
/// # Errors
///
/// A [`Failure`] with the facade's exit code.
pub fn fetch(args: &FetchArgs, json: bool) -> Result<(), Failure> {
    let cid = parse_cid(&args.manifest_cid)?;
    let trust = args.trust.policy()?;
    let action: Action = args
        .action
        .parse()
        .map_err(|e| Failure::usage(format!("--action: {e}")))?;
    let mut fetch = Fetch::new(
        cid,
        trust.clone(),
        parse_principal(&args.principal)?,
        action,
        args.purpose
            .parse()
            .map_err(|e| Failure::usage(format!("--purpose: {e}")))?,
        args.region
            .parse()
            .map_err(|e| Failure::usage(format!("--region: {e}")))?,
    )
    .window(args.window)
    .on_progress(bar_for("fetch"));
    if let Some(g) = &args.grant {
        fetch = fetch.grant(Grant::from_token(read_text(g)?.trim()));
    }
    if let Some(job) = &args.job {
        fetch = fetch.job(job);
    }
    for path in &args.approvals {
        let approval = Approval::from_json(&read_document(path)?)
            .map_err(|e| Failure::usage(format!("{}: {e}", show(path))))?;
        fetch = fetch.approval(approval);
    }
    let receipt_key = args
        .receipt_key
        .as_deref()
        .map(read_signing_key)
        .transpose()?;
    let broker = FileBroker::new(&args.keys_dir).identities(read_identities(&args.identity)?);
    let catalog = DirCatalog::new(&args.stores.catalog);
    let mut providers = args.stores.open(false)?;

    // The decision point: policies, entities (with the version from its verified
    // manifest when a record is given), trusted grant issuers and approvers, the audit
    // log, the registry.
    let mut config = GateConfig::new(&args.entities);
    if let Some(dir) = &args.policies {
        config = config.policies(dir);
    }
    if let Some(path) = &args.record {
        config = config.record(path);
    }
    for key in &args.grant_keys {
        config = config.grant_key(key);
    }
    for spec in &args.approvers {
        config = config.approver(spec);
    }
    if let (Some(log), Some(key)) = (&args.audit_log, &args.audit_key) {
        config = config.audit(log, key, args.anchor.clone());
    }
    if let Some(url) = &args.registry {
        config = config.registry(url);
    }
    let owned = config
        .load(&trust, &mut fetch, &mut providers, &catalog)
        .map_err(|e| failure(&e))?;
    let gate = owned.gate();

    let fetched = fetch
        .run(&mut providers, &catalog, &broker, &gate, &args.outdir)
        .map_err(|e| failure(&e))?;

    if let (Some(path), Some(key)) = (&args.receipt, &receipt_key) {
        let envelope = fetched.receipt.sign(key).map_err(|e| failure(&e))?;
        let mut file = crate::AtomicFile::create(path, false)?;
        file.write_all(format!("{}\n", envelope.to_json()).as_bytes())?;
        file.commit()?;
    }
    if let Some(path) = &args.events {
        let lines: String = fetched
            .events
            .iter()
            .map(|e| format!("{}\n", e.to_json_line()))
            .collect();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(lines.as_bytes()))
            .map_err(|e| Failure::io(format!("cannot append to {}", show(path)), &e))?;
    }
    let read = fetched.files.iter().filter(|f| !f.resumed).count();
    let kept = fetched.files.len() - read;
    let blocks: usize = fetched.receipt.objects.iter().map(|o| o.blocks.len()).sum();
    let bad = fetched
        .events
        .iter()
        .filter(|e| e.outcome() == dataseal::reputation::Outcome::IntegrityFailure)
        .count();
    say(&format!(
        "fetched {cid} into {}: {read} files read ({blocks} blocks, each re-hashed; {bad} bad answers routed around), {kept} already complete",
        show(&args.outdir)
    ));
    emit(
        json,
        &json!({
            "manifestCid": cid.to_string(),
            "files": fetched.files.iter().map(|f| json!({
                "path": f.path, "size": f.size, "resumed": f.resumed,
            })).collect::<Vec<_>>(),
            "policies": fetched.decision.determining_policies(),
            "receipt": fetched.receipt,
            "integrityFailures": bad,
        }),
        &format!("{read} read, {kept} kept"),
    )
}

/// `dataseal verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    stores: StoreArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// Also read every block of every object from every store (no key needed) and say
    /// which stores hold a full replica.
    #[arg(long)]
    deep: bool,
    /// The envelope, instead of reading it from the stores.
    #[arg(long, value_name = "ENVELOPE.json")]
    envelope: Option<PathBuf>,
    /// The version.
    manifest_cid: String,
}

/// Runs `dataseal verify`: exit 0 verified, 1 not (or an object no store holds whole).
///
/// # Errors
///
/// A [`Failure`] with the facade's exit code.
pub fn verify(args: &VerifyArgs, json: bool) -> Result<(), Failure> {
    let cid = parse_cid(&args.manifest_cid)?;
    let mut verify = Verify::new(cid, args.trust.policy()?).deep(args.deep);
    if let Some(path) = &args.envelope {
        verify = verify.envelope(read_document(path)?);
    }
    let mut providers = args.stores.open(false)?;
    let report = verify
        .run(&mut providers, &DirCatalog::new(&args.stores.catalog))
        .map_err(|e| failure(&e))?;
    let m = report.manifest.manifest();
    say(&format!(
        "{cid}: {}@{} verified ({} objects)",
        m.dataset_id,
        m.version,
        m.objects.len()
    ));
    for o in &report.objects {
        let on: Vec<&str> = o.complete.iter().map(|p| p.as_str()).collect();
        say(&format!(
            "  {:<32} {}/{} replicas: {}{}",
            o.path,
            o.complete.len(),
            o.required,
            on.join(", "),
            if o.under_replicated() {
                "  (under-replicated: run dataseal repair)"
            } else {
                ""
            }
        ));
    }
    let objects: Vec<_> = report
        .objects
        .iter()
        .map(|o| {
            json!({
                "path": o.path,
                "root": o.root.to_string(),
                "required": o.required,
                "complete": o.complete.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                "incomplete": o.incomplete.iter().map(|(p, why)| json!({"provider": p.as_str(), "why": why})).collect::<Vec<_>>(),
            })
        })
        .collect();
    emit(
        json,
        &json!({
            "manifestCid": cid.to_string(),
            "verified": true,
            "deep": args.deep,
            "underReplicated": report.under_replicated().count(),
            "objects": objects,
        }),
        "verified",
    )
}

/// `dataseal repair`.
#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(flatten)]
    stores: StoreArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// Replicas of every object, overriding the sensitivity class's default.
    #[arg(long, value_name = "N")]
    replicas: Option<usize>,
    /// The version.
    manifest_cid: String,
}

/// Runs `dataseal repair`: exit 0 when every object has its replicas, 5 when too few
/// providers were eligible.
///
/// # Errors
///
/// A [`Failure`] with the facade's exit code.
pub fn repair(args: &RepairArgs, json: bool) -> Result<(), Failure> {
    let cid = parse_cid(&args.manifest_cid)?;
    let mut repair = Repair::new(cid, args.trust.policy()?);
    if let Some(n) = args.replicas {
        repair = repair.rules(dataseal::PlacementRules::default().with_replicas(n));
    }
    let mut providers = args.stores.open(false)?;
    let report = repair
        .run(&mut providers, &DirCatalog::new(&args.stores.catalog))
        .map_err(|e| failure(&e))?;
    for o in &report.objects {
        let to: Vec<&str> = o.added.iter().map(|p| p.as_str()).collect();
        say(&format!(
            "  {:<32} {} -> {} replicas (copied to {}; {} blocks){}",
            o.path,
            o.before,
            o.before + o.added.len(),
            if to.is_empty() {
                "none".to_owned()
            } else {
                to.join(", ")
            },
            o.uploaded,
            if o.still_missing > 0 {
                format!("; {} still missing", o.still_missing)
            } else {
                String::new()
            }
        ));
    }
    emit(
        json,
        &json!({
            "manifestCid": cid.to_string(),
            "complete": report.complete(),
            "objects": report.objects.iter().map(|o| json!({
                "path": o.path,
                "before": o.before,
                "added": o.added.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                "uploaded": o.uploaded,
                "stillMissing": o.still_missing,
            })).collect::<Vec<_>>(),
        }),
        &format!("{} objects repaired", report.objects.len()),
    )?;
    if report.complete() {
        Ok(())
    } else {
        Err(Failure::new(
            5,
            format!("{cid}: too few eligible providers to restore every replica"),
        ))
    }
}
