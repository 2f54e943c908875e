//! `dataseal registry …`: argument parsing and output over `dataseal-registry`, which
//! does all the work. Every input is parsed and checked before the registry is opened, so
//! malformed input never creates or changes a registry.

use std::fs;
use std::future::Future;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use dataseal_base::{Cid, DatasetId, Role, Timestamp};
use dataseal_policy::{GrantId, Principal};
use dataseal_registry::{
    Actor, Change, Error, Hold, HoldId, HoldScope, KnownVersion, LifecycleState, NewVersion,
    OpenOptions, Reason, Registry, SourceId, TransitionRecord, VersionStatus,
};
use serde_json::{Value, json};

use crate::manifest_cli::{manifest_exit_code, read_document, trust_policy};
use crate::{Failure, show};

/// Exit code: the registry could not be reached or used.
pub const EXIT_UNAVAILABLE: u8 = 5;

/// The registry used when `--registry` is not given, relative to the working directory.
pub const DEFAULT_REGISTRY: &str = "sqlite:.dataseal/registry.db";

/// The directory [`DEFAULT_REGISTRY`] lives in, created by commands that write.
const DEFAULT_DIR: &str = ".dataseal";

/// The exit code for a registry error: 2 for malformed input, an unknown version, hold
/// or registry file, a version already registered and a transition the table forbids;
/// 3 for a hold lifted in the wrong role; 4 for a transition refused by a legal hold; 1
/// for stored data that does not parse or a rolled-back checkpoint; 5 for a database
/// that cannot be reached, stays busy or cannot be migrated.
#[must_use]
pub fn exit_code(err: &Error) -> u8 {
    dataseal::ErrorKind::from(err).exit_code()
}

fn failure(err: &Error) -> Failure {
    Failure::new(exit_code(err), err.to_string())
}

/// `dataseal registry`.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// The registry: sqlite:PATH (an embedded file, created by commands that write) or
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS]. Default
    /// sqlite:.dataseal/registry.db in the working directory.
    #[arg(long, value_name = "URL", global = true)]
    registry: Option<String>,
    /// How long to keep trying to reach a PostgreSQL server, in seconds.
    #[arg(long, value_name = "SECONDS", global = true, default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=600))]
    connect_timeout: u16,
    /// The operation.
    #[command(subcommand)]
    command: RegistryCommand,
}

/// Who makes a change, in which role, why and when.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// The acting principal: user:ID or service-account:ID.
    #[arg(long = "as", value_name = "PRINCIPAL")]
    principal: String,
    /// The role the principal acts in (recorded with the change).
    #[arg(long, value_name = "ROLE")]
    role: String,
    /// Why: free text for the record.
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// When the change happens instead of now (RFC 3339, UTC).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
}

/// `dataseal registry …`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Register a version as quarantined: from a signed manifest envelope (verified,
    /// lineage and retention read from the manifest) or from a manifest CID and dataset.
    Register(Box<RegisterArgs>),
    /// Print what a decision reads about a version: state, holds, consent, retention.
    Status {
        /// The version's manifest CID.
        cid: String,
    },
    /// Print a version's history: its registration and every transition.
    History {
        /// The version's manifest CID.
        cid: String,
    },
    /// Move a version to another lifecycle state, if the transition table allows it and
    /// no legal hold refuses it.
    Transition {
        /// The state to move to: approved, published, superseded, revoked, expired,
        /// archived or erased.
        #[arg(long, value_name = "STATE")]
        to: String,
        /// Move only if the version is in this state now.
        #[arg(long, value_name = "STATE")]
        from: Option<String>,
        /// The version's manifest CID.
        cid: String,
        /// Who, in which role, why and when.
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Place, lift, show and list legal holds.
    Hold {
        /// The operation.
        #[command(subcommand)]
        command: HoldCommand,
    },
    /// Revoke grants before they expire, and look revocations up.
    Grant {
        /// The operation.
        #[command(subcommand)]
        command: GrantCommand,
    },
    /// Withdraw a source's consent, and look withdrawals up.
    Consent {
        /// The operation.
        #[command(subcommand)]
        command: ConsentCommand,
    },
    /// Retention: the versions whose retention has ended.
    Retention {
        /// The operation.
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// The audit log's latest signed checkpoint, as the registry keeps it.
    Checkpoint {
        /// The operation.
        #[command(subcommand)]
        command: CheckpointCommand,
    },
    /// Sign an approval of a version as its data owner or a compliance reviewer (run by
    /// the approver, with their own key); prints the approval (DSSE JSON) on stdout.
    ApprovalSign {
        /// The approver's Ed25519 private key (PKCS#8 PEM).
        #[arg(long, value_name = "signing.key")]
        key: PathBuf,
        /// Who approves (a user id).
        #[arg(long, value_name = "USER")]
        approver: String,
        /// In which capacity: data-owner or compliance.
        #[arg(long = "as-role", value_name = "ROLE")]
        role: String,
        /// The version's manifest CID.
        cid: String,
    },
    /// Record a signed approval, verified together with those already kept: signed by
    /// a key trusted for the approver and role it names, at most one per role, by two
    /// different people, never by the uploader. Once the data owner and compliance both
    /// approved, a quarantined version moves to approved.
    Approve {
        /// An approver key the registry trusts: KEY.pub=ROLE:USER with ROLE data-owner or
        /// compliance; repeatable.
        #[arg(long = "approver", value_name = "KEY.pub=ROLE:USER", required = true)]
        approvers: Vec<String>,
        /// The approval (DSSE JSON).
        approval: PathBuf,
    },
    /// Erase a version by crypto-shredding: mark it erased (refused under a legal hold,
    /// exit 4), destroy its key in the key broker, unpin its envelope and objects on
    /// every store, and write a signed erasure receipt the registry keeps too.
    Erase(Box<EraseArgs>),
    /// The retention sweep: carry out the on-expiry action of every version past its
    /// retention that no hold covers (delete → erase with a receipt, archive →
    /// archived, anonymise and review → expired); prints what it did to each.
    Sweep(Box<SweepArgs>),
    /// Erasure receipts.
    Receipt {
        /// The operation.
        #[command(subcommand)]
        command: ReceiptCommand,
    },
    /// The reads fetches recorded (who, which job, when, with their receipts): of one
    /// version, or of every version derived from a source (the jobs that used data whose
    /// consent may be withdrawn).
    #[command(
        disable_version_flag = true,
        group(clap::ArgGroup::new("of").required(true).multiple(false))
    )]
    Reads {
        /// The version's manifest CID.
        #[arg(long, value_name = "CID", group = "of")]
        version: Option<String>,
        /// The source (a URI).
        #[arg(long, value_name = "URI", group = "of")]
        source: Option<String>,
    },
}

/// `dataseal registry erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    /// Where the version's blocks are pinned.
    #[command(flatten)]
    stores: crate::stories_cli::StoreArgs,
    /// The keys trusted to sign manifests (the envelope names the objects to unpin).
    #[command(flatten)]
    trust: crate::stories_cli::TrustArgs,
    /// The key broker's directory (sealed version keys).
    #[arg(long, value_name = "DIR", default_value = ".dataseal/keys")]
    keys_dir: PathBuf,
    /// The Ed25519 key (PKCS#8 PEM) the erasure receipt is signed with.
    #[arg(long, value_name = "signing.key")]
    key: PathBuf,
    /// Where to write the signed receipt (DSSE JSON).
    #[arg(long, value_name = "RECEIPT.json")]
    receipt: PathBuf,
    /// The version's manifest CID.
    cid: String,
    /// Who, in which role, why (the time is now).
    #[command(flatten)]
    change: ChangeArgs,
}

/// `dataseal registry sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Where the versions' blocks are pinned.
    #[command(flatten)]
    stores: crate::stories_cli::StoreArgs,
    /// The keys trusted to sign manifests (each envelope names its on-expiry action).
    #[command(flatten)]
    trust: crate::stories_cli::TrustArgs,
    /// The key broker's directory (sealed version keys).
    #[arg(long, value_name = "DIR", default_value = ".dataseal/keys")]
    keys_dir: PathBuf,
    /// The Ed25519 key (PKCS#8 PEM) erasure receipts are signed with.
    #[arg(long, value_name = "signing.key")]
    key: PathBuf,
    /// Where to write the erasure receipts, one RECEIPT-CID.json per erased version.
    #[arg(long, value_name = "DIR", default_value = ".dataseal/receipts")]
    receipts: PathBuf,
    /// Who sweeps, in which role, and as of when (`--at`, default now); the reason is
    /// the on-expiry action.
    #[arg(long = "as", value_name = "PRINCIPAL")]
    principal: String,
    /// The role the sweeper acts in.
    #[arg(long, value_name = "ROLE")]
    role: String,
    /// Sweep as of this time instead of now (RFC 3339, UTC).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
}

/// `dataseal registry receipt …`.
#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Verify a signed erasure receipt against the keys trusted to sign them (exit 1 if
    /// it does not verify) and print what it says.
    Verify {
        /// A public key (PEM) trusted to sign receipts, with its role; repeatable.
        #[arg(long = "trust", value_name = "KEY.pub=ROLE", required = true)]
        trust: Vec<String>,
        /// The receipt (DSSE JSON).
        receipt: PathBuf,
    },
}

/// `dataseal registry register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// A signed manifest envelope: its signatures are verified against --trust, and the
    /// version's CID, dataset, parent, sources and retention end come from the manifest.
    #[arg(long, value_name = "ENVELOPE.json", conflicts_with_all = ["cid", "dataset", "parents", "sources", "retention_until"],
          required_unless_present = "cid", requires = "trust")]
    envelope: Option<PathBuf>,
    /// A public key (PEM) trusted to sign manifests, with its role; repeatable.
    #[arg(long = "trust", value_name = "KEY.pub=ROLE", requires = "envelope")]
    trust: Vec<String>,
    /// Signatures needed in a role (default 1 per trusted role); repeatable.
    #[arg(long = "threshold", value_name = "ROLE=N", requires = "envelope")]
    thresholds: Vec<String>,
    /// The version's manifest CID (without --envelope).
    #[arg(long, value_name = "CID", requires = "dataset")]
    cid: Option<String>,
    /// The dataset it is a version of.
    #[arg(long, value_name = "ID", requires = "cid")]
    dataset: Option<String>,
    /// A version it was revised or derived from; repeatable.
    #[arg(long = "parent", value_name = "CID", requires = "cid")]
    parents: Vec<String>,
    /// A source it was derived from (a URI); repeatable.
    #[arg(long = "source", value_name = "URI", requires = "cid")]
    sources: Vec<String>,
    /// When its retention ends (RFC 3339, UTC).
    #[arg(long, value_name = "RFC3339", requires = "cid")]
    retention_until: Option<String>,
    /// The version's data owner (with --organisation and --uploader): without them the
    /// version can never be approved, since its uploader cannot be told apart from an
    /// approver.
    #[arg(long, value_name = "USER", requires_all = ["organisation", "uploader"])]
    owner: Option<String>,
    /// The organisation that owns it.
    #[arg(long, value_name = "GROUP", requires_all = ["owner", "uploader"])]
    organisation: Option<String>,
    /// Who uploaded it.
    #[arg(long, value_name = "USER", requires_all = ["owner", "organisation"])]
    uploader: Option<String>,
    /// The data holds special categories of personal data (GDPR Art. 9).
    #[arg(long, requires = "owner")]
    special_category_data: bool,
    /// Who, in which role, why and when.
    #[command(flatten)]
    change: ChangeArgs,
}

/// `dataseal registry hold …`.
#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Place a legal hold on one version, a whole dataset (later versions included) or
    /// every version derived from a source; prints the hold's id.
    #[command(
        disable_version_flag = true,
        group(clap::ArgGroup::new("scope").required(true).multiple(false))
    )]
    Place {
        /// Hold one version (by manifest CID).
        #[arg(long, value_name = "CID", group = "scope")]
        version: Option<String>,
        /// Hold every version of a dataset, those registered later included.
        #[arg(long, value_name = "ID", group = "scope")]
        dataset: Option<String>,
        /// Hold every version derived from a source, directly or through parents.
        #[arg(long, value_name = "URI", group = "scope")]
        source: Option<String>,
        /// Who, in which role, why and when.
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Lift a legal hold: only a principal acting in the role that placed it may.
    Lift {
        /// The hold: hold-N (or N).
        hold: String,
        /// Who, in which role, why and when.
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Show one hold, active or lifted.
    Show {
        /// The hold: hold-N (or N).
        hold: String,
    },
    /// List the holds, active and lifted, that cover a version.
    List {
        /// Only the active ones.
        #[arg(long)]
        active: bool,
        /// The version's manifest CID.
        cid: String,
    },
}

/// `dataseal registry grant …`.
#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Revoke a grant by id (the next decision sees it); revoking twice keeps the first.
    Revoke {
        /// The grant id (32 lowercase hexadecimal characters).
        grant: String,
        /// Who, in which role, why and when.
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Show whether a grant was revoked, by whom and when.
    Show {
        /// The grant id.
        grant: String,
    },
}

/// `dataseal registry consent …`.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Record that a source's consent was withdrawn; lists every version derived from
    /// it, directly or through parent versions.
    Withdraw {
        /// The source (the URI a manifest's provenance names).
        source: String,
        /// Who, in which role, why and when.
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Show whether a source's consent was withdrawn, and the versions derived from it.
    Show {
        /// The source.
        source: String,
    },
}

/// `dataseal registry retention …`.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// List the versions whose retention has ended, that no hold covers and that are
    /// not yet expired, archived or erased.
    Due {
        /// The time to compare against instead of now (RFC 3339, UTC).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
}

/// `dataseal registry checkpoint …`.
#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Show the stored checkpoint: its sequence number, when it was stored, and its
    /// bytes.
    Show,
}

fn say(line: &str) {
    // If stderr is gone there is nobody left to tell; the exit code still says it.
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Prints the JSON document with `--json`, else `lines` (each followed by a newline).
fn emit(json: bool, doc: &Value, lines: &[String]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    let written = if json {
        writeln!(out, "{doc}")
    } else {
        lines.iter().try_for_each(|l| writeln!(out, "{l}"))
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Failure::io("cannot write to stdout", &e))
}

fn parse_cid(what: &str, text: &str) -> Result<Cid, Failure> {
    text.parse()
        .map_err(|e| Failure::usage(format!("{what} {text:?}: {e}")))
}

fn parse_time(what: &str, text: Option<&str>) -> Result<Timestamp, Failure> {
    text.map_or_else(
        || Ok(Timestamp::now()),
        |t| {
            t.parse()
                .map_err(|e| Failure::usage(format!("{what} {t:?}: {e}")))
        },
    )
}

fn parse_state(what: &str, text: &str) -> Result<LifecycleState, Failure> {
    text.parse()
        .map_err(|e: Error| Failure::usage(format!("{what}: {e}")))
}

fn parse_dataset(text: &str) -> Result<DatasetId, Failure> {
    text.parse()
        .map_err(|e| Failure::usage(format!("--dataset: {e}")))
}

fn parse_source(what: &str, text: &str) -> Result<SourceId, Failure> {
    text.parse()
        .map_err(|e: Error| Failure::usage(format!("{what}: {e}")))
}

fn parse_grant(text: &str) -> Result<GrantId, Failure> {
    GrantId::try_from(text.to_owned()).map_err(Failure::usage)
}

fn parse_hold(text: &str) -> Result<HoldId, Failure> {
    let digits = text.strip_prefix("hold-").unwrap_or(text);
    digits
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && digits.bytes().all(|b| b.is_ascii_digit()))
        .map(HoldId::new)
        .ok_or_else(|| {
            Failure::usage(format!(
                "hold {text:?}: expected hold-N (or N), N a positive whole number"
            ))
        })
}

fn parse_principal(text: &str) -> Result<Principal, Failure> {
    crate::policy_cli::principal_arg("--as", text)
}

impl ChangeArgs {
    fn change(&self) -> Result<Change, Failure> {
        let principal = parse_principal(&self.principal)?;
        let role: Role = self
            .role
            .parse()
            .map_err(|e| Failure::usage(format!("--role: {e}")))?;
        let reason: Reason = self
            .reason
            .parse()
            .map_err(|e: Error| Failure::usage(format!("--reason: {e}")))?;
        let at = parse_time("--at", self.at.as_deref())?;
        Ok(Change::new(Actor { principal, role }, reason, at))
    }
}

fn change_json(c: &Change) -> Value {
    json!({
        "principal": c.actor.principal.to_string(),
        "role": c.actor.role.to_string(),
        "reason": c.reason.to_string(),
        "at": c.at.to_string(),
    })
}

/// A hold scope's kind and key.
fn scope_parts(scope: &HoldScope) -> (&'static str, Option<String>) {
    match scope {
        HoldScope::Version(c) => ("version", Some(c.to_string())),
        HoldScope::Dataset(d) => ("dataset", Some(d.to_string())),
        HoldScope::Source(s) => ("source", Some(s.to_string())),
        // `HoldScope` is non-exhaustive.
        _ => ("other", None),
    }
}

fn scope_json(scope: &HoldScope) -> Value {
    let (kind, key) = scope_parts(scope);
    json!({"kind": kind, "key": key})
}

fn scope_text(scope: &HoldScope) -> String {
    let (kind, key) = scope_parts(scope);
    format!("{kind} {}", key.as_deref().unwrap_or("?"))
}

fn hold_json(h: &Hold) -> Value {
    json!({
        "hold": h.id.to_string(),
        "scope": scope_json(&h.scope),
        "active": h.is_active(),
        "placed": change_json(&h.placed),
        "lifted": h.lifted.as_ref().map(change_json),
    })
}

fn hold_line(h: &Hold) -> String {
    let lifted = h.lifted.as_ref().map_or_else(String::new, |l| {
        format!(
            "; lifted by {} as {} at {}: {}",
            l.actor.principal, l.actor.role, l.at, l.reason
        )
    });
    format!(
        "{} {} on {} by {} as {} at {}: {}{lifted}",
        h.id,
        if h.is_active() { "active" } else { "lifted" },
        scope_text(&h.scope),
        h.placed.actor.principal,
        h.placed.actor.role,
        h.placed.at,
        h.placed.reason,
    )
}

fn status_json(k: &KnownVersion) -> Value {
    let p = k.policy_state();
    json!({
        "cid": k.cid.to_string(),
        "dataset": k.dataset.to_string(),
        "state": k.state.as_str(),
        "held": k.is_held(),
        "activeHolds": k.active_holds,
        "consentWithdrawn": k.consent_withdrawn,
        "retentionUntil": k.retention_until.map(|t| t.to_string()),
        "revision": k.revision,
        "dataActionsPossible": k.data_actions_possible(),
        "policyState": {
            "legalHold": p.legal_hold,
            "revoked": p.revoked,
            "quarantined": p.quarantined,
            "erased": p.erased,
        },
    })
}

fn record_json(r: &TransitionRecord) -> Value {
    json!({
        "revision": r.revision,
        "from": r.from.map(LifecycleState::as_str),
        "to": r.to.as_str(),
        "principal": r.actor.principal.to_string(),
        "role": r.actor.role.to_string(),
        "reason": r.reason.to_string(),
        "at": r.at.to_string(),
    })
}

fn cids_json(cids: &[Cid]) -> Vec<String> {
    cids.iter().map(ToString::to_string).collect()
}

/// Runs `fut` to completion on a current-thread runtime.
fn block_on<F: Future>(fut: F) -> Result<F::Output, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                EXIT_UNAVAILABLE,
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    Ok(runtime.block_on(fut))
}

impl RegistryArgs {
    /// Opens the registry; commands that write create a missing SQLite file (and, for
    /// the default, its `.dataseal` directory), commands that read refuse it.
    async fn open(&self, write: bool) -> Result<Registry, Failure> {
        let url = self.registry.as_deref().unwrap_or(DEFAULT_REGISTRY);
        if write && self.registry.is_none() {
            fs::create_dir_all(DEFAULT_DIR).map_err(|e| {
                Failure::new(
                    EXIT_UNAVAILABLE,
                    format!("cannot create directory {DEFAULT_DIR}: {e}"),
                )
            })?;
        }
        let options = OpenOptions::new()
            .create(write)
            .connect_timeout(Duration::from_secs(u64::from(self.connect_timeout)));
        Registry::open_with(url, &options)
            .await
            .map_err(|e| match e {
                Error::Missing(path) => Failure::usage(format!(
                    "no registry at {path}: register a version first, or name one with --registry"
                )),
                e => failure(&e),
            })
    }
}

/// Runs `dataseal registry …`.
///
/// # Errors
///
/// A [`Failure`] with the exit code [`exit_code`] gives the registry's error, 2 for
/// malformed input, and 1 for an envelope whose signatures do not verify.
pub fn run(args: &RegistryArgs, json: bool) -> Result<(), Failure> {
    match &args.command {
        RegistryCommand::Erase(e) => erase(args, e, json),
        RegistryCommand::Sweep(a) => sweep(args, a, json),
        RegistryCommand::ApprovalSign {
            key,
            approver,
            role,
            cid,
        } => approval_sign(key, approver, role, cid),
        RegistryCommand::Approve {
            approvers,
            approval,
        } => approve(args, approvers, approval, json),
        RegistryCommand::Receipt {
            command: ReceiptCommand::Verify { trust, receipt },
        } => verify_receipt(trust, receipt, json),
        _ => block_on(run_async(args, json))?,
    }
}

fn facade_failure(e: &dataseal::Error) -> Failure {
    Failure::new(e.exit_code(), e.to_string())
}

fn approval_sign(
    key: &std::path::Path,
    approver: &str,
    role: &str,
    cid: &str,
) -> Result<(), Failure> {
    let cid = parse_cid("CID", cid)?;
    let statement = dataseal::policy::ApprovalStatement {
        approver: approver
            .parse()
            .map_err(|e| Failure::usage(format!("--approver: {e}")))?,
        cid,
        role: role
            .parse()
            .map_err(|e| Failure::usage(format!("--as-role: {e}")))?,
        time: Timestamp::now(),
    };
    let key = crate::manifest_cli::read_signing_key(key)?;
    let approval = dataseal::policy::Approval::sign(&statement, &key)
        .map_err(|e| Failure::usage(format!("signing the approval: {e}")))?;
    emit(false, &Value::Null, &[approval.to_json()])
}

fn open_sync(args: &RegistryArgs) -> Result<dataseal::SyncRegistry, Failure> {
    let url = args.registry.as_deref().unwrap_or(DEFAULT_REGISTRY);
    let options = OpenOptions::new()
        .create(false)
        .connect_timeout(Duration::from_secs(u64::from(args.connect_timeout)));
    dataseal::SyncRegistry::open_with(url, &options).map_err(|e| facade_failure(&e))
}

fn approve(
    args: &RegistryArgs,
    approvers: &[String],
    path: &std::path::Path,
    json: bool,
) -> Result<(), Failure> {
    let mut verifier = dataseal::policy::ApprovalVerifier::new();
    for spec in approvers {
        let (key, user, role) = crate::policy_cli::approver(spec)?;
        verifier = verifier.trust(key, user, role);
    }
    let approval = dataseal::policy::Approval::from_json(&read_document(path)?)
        .map_err(|e| Failure::usage(format!("{}: {e}", show(path))))?;
    let registry = open_sync(args)?;
    let approved = registry
        .approve(&approval, &verifier, Timestamp::now())
        .map_err(|e| facade_failure(&e))?;
    let cid = approval.statement_unverified().cid;
    let owner = approved.approvals.data_owner().map(ToString::to_string);
    let reviewer = approved
        .approvals
        .compliance_reviewer()
        .map(ToString::to_string);
    say(&format!(
        "{cid}: approved by the data owner {} and compliance {}; now {}",
        owner.as_deref().unwrap_or("(not yet)"),
        reviewer.as_deref().unwrap_or("(not yet)"),
        approved.state
    ));
    let doc = json!({
        "cid": cid.to_string(),
        "dataOwner": owner,
        "compliance": reviewer,
        "state": approved.state.as_str(),
    });
    emit(json, &doc, &[approved.state.as_str().to_owned()])
}

fn sweep(args: &RegistryArgs, a: &SweepArgs, json: bool) -> Result<(), Failure> {
    let principal = parse_principal(&a.principal)?;
    let role: Role = a
        .role
        .parse()
        .map_err(|e| Failure::usage(format!("--role: {e}")))?;
    let at = parse_time("--at", a.at.as_deref())?;
    let trust = a.trust.policy()?;
    let signer = crate::manifest_cli::read_signing_key(&a.key)?;
    let mut providers = a.stores.open(false)?;
    let catalog = dataseal::DirCatalog::new(a.stores.catalog());
    let broker = dataseal::FileBroker::new(&a.keys_dir);
    let registry = open_sync(args)?;
    let report = dataseal::Sweep::new(trust, Actor { principal, role })
        .run(
            &registry,
            &[&broker as &dyn dataseal::KeyBroker],
            &mut providers,
            &catalog,
            &signer,
            at,
        )
        .map_err(|e| facade_failure(&e))?;
    let mut lines = Vec::with_capacity(report.len());
    let mut docs = Vec::with_capacity(report.len());
    let mut failed = 0;
    for s in &report {
        let action = serde_json::to_value(s.on_expiry)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        match &s.outcome {
            Ok((state, receipt)) => {
                let mut receipt_path = None;
                if let Some((envelope, _)) = receipt {
                    fs::create_dir_all(&a.receipts).map_err(|e| {
                        Failure::io(format!("cannot create {}", show(&a.receipts)), &e)
                    })?;
                    let path = a.receipts.join(format!("RECEIPT-{}.json", s.cid));
                    let mut file = crate::AtomicFile::create(&path, false)?;
                    file.write_all(format!("{}\n", envelope.to_json()).as_bytes())?;
                    file.commit()?;
                    receipt_path = Some(show(&path));
                }
                lines.push(format!("{} {action}: {state}", s.cid));
                docs.push(json!({"cid": s.cid.to_string(), "onExpiry": action,
                                 "state": state.as_str(), "receipt": receipt_path}));
            }
            Err(why) => {
                failed += 1;
                lines.push(format!("{} {action}: failed: {why}", s.cid));
                docs.push(json!({"cid": s.cid.to_string(), "onExpiry": action, "error": why}));
            }
        }
    }
    say(&format!(
        "swept {} version(s) past retention, {failed} failed",
        report.len()
    ));
    emit(json, &json!({"at": at.to_string(), "swept": docs}), &lines)?;
    if failed > 0 {
        return Err(Failure::new(
            EXIT_UNAVAILABLE,
            format!("{failed} version(s) could not be swept: run the sweep again"),
        ));
    }
    Ok(())
}

fn erase(args: &RegistryArgs, e: &EraseArgs, json: bool) -> Result<(), Failure> {
    let cid = parse_cid("CID", &e.cid)?;
    let change = e.change.change()?;
    let trust = e.trust.policy()?;
    let signer = crate::manifest_cli::read_signing_key(&e.key)?;
    let mut providers = e.stores.open(false)?;
    let catalog = dataseal::DirCatalog::new(e.stores.catalog());
    let broker = dataseal::FileBroker::new(&e.keys_dir);
    let url = args.registry.as_deref().unwrap_or(DEFAULT_REGISTRY);
    let options = OpenOptions::new()
        .create(false)
        .connect_timeout(Duration::from_secs(u64::from(args.connect_timeout)));
    let registry =
        dataseal::SyncRegistry::open_with(url, &options).map_err(|e| facade_failure(&e))?;
    let (envelope, receipt) = dataseal::Erase::new(cid, trust, change.actor, change.reason)
        .run(
            &registry,
            &[&broker as &dyn dataseal::KeyBroker],
            &mut providers,
            &catalog,
            &signer,
        )
        .map_err(|e| facade_failure(&e))?;
    let mut file = crate::AtomicFile::create(&e.receipt, false)?;
    file.write_all(format!("{}\n", envelope.to_json()).as_bytes())?;
    file.commit()?;
    let unpinned: usize = receipt.stores.iter().map(|s| s.unpinned.len()).sum();
    say(&format!(
        "erased {cid}: {} key copies destroyed, {unpinned} pins removed on {} stores; receipt in {}",
        receipt.keys_destroyed.len(),
        receipt.stores.len(),
        show(&e.receipt)
    ));
    let doc =
        serde_json::to_value(&receipt).map_err(|err| Failure::usage(format!("receipt: {err}")))?;
    emit(json, &doc, &[cid.to_string()])
}

fn verify_receipt(trust: &[String], path: &std::path::Path, json: bool) -> Result<(), Failure> {
    let trust = trust_policy(trust, &[])?;
    let bytes = read_document(path)?;
    let receipt = dataseal::ErasureReceipt::verify(&bytes, &trust, Timestamp::now())
        .map_err(|e| Failure::new(e.exit_code(), format!("{}: {e}", show(path))))?;
    say(&format!(
        "{}: a valid erasure receipt: {} erased at {} by {} as {}",
        show(path),
        receipt.manifest_cid,
        receipt.time,
        receipt.principal,
        receipt.role
    ));
    let doc =
        serde_json::to_value(&receipt).map_err(|err| Failure::usage(format!("receipt: {err}")))?;
    emit(json, &doc, &[receipt.manifest_cid.to_string()])
}

fn read_json(r: &dataseal::registry::ReadRecord) -> Value {
    json!({
        "cid": r.cid.to_string(),
        "principal": r.principal.to_string(),
        "job": r.job,
        "at": r.at.to_string(),
        "receipt": r.receipt.as_ref().and_then(|b| serde_json::from_slice::<Value>(b).ok()),
    })
}

async fn run_async(args: &RegistryArgs, json: bool) -> Result<(), Failure> {
    match &args.command {
        RegistryCommand::Erase(_)
        | RegistryCommand::Sweep(_)
        | RegistryCommand::Receipt { .. }
        | RegistryCommand::ApprovalSign { .. }
        | RegistryCommand::Approve { .. } => Err(Failure::usage(
            "this command runs outside the async runtime".to_owned(),
        )),
        RegistryCommand::Reads { version, source } => {
            let registry = args.open(false).await?;
            let reads = match (version, source) {
                (Some(v), _) => registry
                    .reads_of(&parse_cid("--version", v)?)
                    .await
                    .map_err(|e| failure(&e))?,
                (None, Some(s)) => registry
                    .reads_derived_from(&parse_source("--source", s)?)
                    .await
                    .map_err(|e| failure(&e))?,
                (None, None) => return Err(Failure::usage("--version or --source".to_owned())),
            };
            let lines: Vec<String> = reads
                .iter()
                .map(|r| {
                    format!(
                        "{} {} by {}{}",
                        r.at,
                        r.cid,
                        r.principal,
                        r.job
                            .as_deref()
                            .map_or_else(String::new, |j| format!(" for job {j}"))
                    )
                })
                .collect();
            let doc = json!({"reads": reads.iter().map(read_json).collect::<Vec<_>>()});
            emit(json, &doc, &lines)
        }
        RegistryCommand::Register(r) => register(args, r, json).await,
        RegistryCommand::Status { cid } => {
            let cid = parse_cid("CID", cid)?;
            let registry = args.open(false).await?;
            let status = registry.status(&cid).await.map_err(|e| failure(&e))?;
            let VersionStatus::Known(k) = status else {
                return Err(failure(&Error::UnknownVersion(cid)));
            };
            say(&format!(
                "{cid} ({}): {}{}{}, revision {}{}",
                k.dataset,
                k.state,
                if k.is_held() {
                    format!(", under {} legal hold(s)", k.active_holds)
                } else {
                    String::new()
                },
                if k.consent_withdrawn {
                    ", consent withdrawn"
                } else {
                    ""
                },
                k.revision,
                k.retention_until
                    .map_or_else(String::new, |t| format!(", retention until {t}")),
            ));
            emit(json, &status_json(&k), &[k.state.to_string()])
        }
        RegistryCommand::History { cid } => {
            let cid = parse_cid("CID", cid)?;
            let registry = args.open(false).await?;
            let history = registry.history(&cid).await.map_err(|e| failure(&e))?;
            let lines: Vec<String> = history
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {} -> {} by {} as {}: {}",
                        r.revision,
                        r.at,
                        r.from.map_or("(registered)", LifecycleState::as_str),
                        r.to,
                        r.actor.principal,
                        r.actor.role,
                        r.reason
                    )
                })
                .collect();
            let doc = json!({
                "cid": cid.to_string(),
                "history": history.iter().map(record_json).collect::<Vec<_>>(),
            });
            emit(json, &doc, &lines)
        }
        RegistryCommand::Transition {
            to,
            from,
            cid,
            change,
        } => {
            let to = parse_state("--to", to)?;
            let from = from
                .as_deref()
                .map(|f| parse_state("--from", f))
                .transpose()?;
            let cid = parse_cid("CID", cid)?;
            let change = change.change()?;
            let registry = args.open(true).await?;
            let revision = match from {
                Some(from) => registry.transition_from(&cid, from, to, &change).await,
                None => registry.transition(&cid, to, &change).await,
            }
            .map_err(|e| failure(&e))?;
            // The state it came from, as recorded with the new revision (the transition
            // is done: a failure to read it back only leaves "from" out).
            let came_from = registry.history(&cid).await.ok().and_then(|history| {
                history
                    .iter()
                    .find(|r| r.revision == revision)
                    .and_then(|r| r.from)
            });
            say(&format!(
                "{cid}: {} -> {to} (revision {revision}) by {} as {}",
                came_from.map_or("?", LifecycleState::as_str),
                change.actor.principal,
                change.actor.role
            ));
            let doc = json!({
                "cid": cid.to_string(),
                "from": came_from.map(LifecycleState::as_str),
                "to": to.as_str(),
                "revision": revision,
                "change": change_json(&change),
            });
            emit(json, &doc, &[to.to_string()])
        }
        RegistryCommand::Hold { command } => hold(args, command, json).await,
        RegistryCommand::Grant { command } => grant(args, command, json).await,
        RegistryCommand::Consent { command } => consent(args, command, json).await,
        RegistryCommand::Retention {
            command: RetentionCommand::Due { at },
        } => {
            let at = parse_time("--at", at.as_deref())?;
            let registry = args.open(false).await?;
            let due = registry.past_retention(at).await.map_err(|e| failure(&e))?;
            say(&format!(
                "{} version(s) past retention at {at}, none of them held",
                due.len()
            ));
            let lines = cids_json(&due);
            let doc = json!({"at": at.to_string(), "versions": lines});
            emit(json, &doc, &lines)
        }
        RegistryCommand::Checkpoint {
            command: CheckpointCommand::Show,
        } => {
            let registry = args.open(false).await?;
            let stored = registry
                .latest_checkpoint()
                .await
                .map_err(|e| failure(&e))?;
            match &stored {
                Some(c) => say(&format!(
                    "checkpoint {} ({} bytes), stored at {}",
                    c.sequence,
                    c.bytes.len(),
                    c.stored_at
                )),
                None => say("no checkpoint stored"),
            }
            let doc = json!({
                "checkpoint": stored.as_ref().map(|c| json!({
                    "sequence": c.sequence,
                    "storedAt": c.stored_at.to_string(),
                    "bytes": String::from_utf8(c.bytes.clone())
                        .map_or_else(|_| Value::Null, Value::String),
                    "hex": hex::encode(&c.bytes),
                })),
            });
            let lines = stored
                .map(|c| vec![c.sequence.to_string()])
                .unwrap_or_default();
            emit(json, &doc, &lines)
        }
    }
}

async fn register(args: &RegistryArgs, r: &RegisterArgs, json: bool) -> Result<(), Failure> {
    let change = r.change.change()?;
    let version = if let Some(envelope) = &r.envelope {
        let policy = trust_policy(&r.trust, &r.thresholds)?;
        let bytes = read_document(envelope)?;
        let verified = dataseal_manifest::verify(&bytes, &policy, change.at).map_err(|e| {
            Failure::new(manifest_exit_code(&e), format!("{}: {e}", show(envelope)))
        })?;
        NewVersion::from_manifest(verified.cid(), verified.manifest())
            .map_err(|e| Failure::usage(format!("{}: {e}", show(envelope))))?
    } else {
        let (Some(cid), Some(dataset)) = (&r.cid, &r.dataset) else {
            return Err(Failure::usage(
                "give --envelope ENVELOPE.json or --cid CID --dataset ID",
            ));
        };
        let mut version = NewVersion::new(parse_cid("--cid", cid)?, parse_dataset(dataset)?);
        version.parents = r
            .parents
            .iter()
            .map(|p| parse_cid("--parent", p))
            .collect::<Result<_, _>>()?;
        version.sources = r
            .sources
            .iter()
            .map(|s| parse_source("--source", s))
            .collect::<Result<_, _>>()?;
        version.retention_until = r
            .retention_until
            .as_deref()
            .map(|t| parse_time("--retention-until", Some(t)))
            .transpose()?;
        version
    };
    let version = match (&r.owner, &r.organisation, &r.uploader) {
        (Some(owner), Some(organisation), Some(uploader)) => version.with_stewardship(
            dataseal::stewardship(owner, organisation, uploader, r.special_category_data)
                .map_err(|e| Failure::usage(e.to_string()))?,
        ),
        _ => version,
    };
    let registry = args.open(true).await?;
    registry
        .register(&version, &change)
        .await
        .map_err(|e| failure(&e))?;
    say(&format!(
        "registered {} ({}) as quarantined by {} as {}",
        version.cid, version.dataset, change.actor.principal, change.actor.role
    ));
    let doc = json!({
        "cid": version.cid.to_string(),
        "dataset": version.dataset.to_string(),
        "state": LifecycleState::Quarantined.as_str(),
        "parents": cids_json(&version.parents),
        "sources": version.sources.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "retentionUntil": version.retention_until.map(|t| t.to_string()),
        "change": change_json(&change),
    });
    emit(json, &doc, &[version.cid.to_string()])
}

async fn hold(args: &RegistryArgs, command: &HoldCommand, json: bool) -> Result<(), Failure> {
    match command {
        HoldCommand::Place {
            version,
            dataset,
            source,
            change,
        } => {
            let scope = match (version, dataset, source) {
                (Some(v), None, None) => HoldScope::Version(parse_cid("--version", v)?),
                (None, Some(d), None) => HoldScope::Dataset(parse_dataset(d)?),
                (None, None, Some(s)) => HoldScope::Source(parse_source("--source", s)?),
                _ => {
                    return Err(Failure::usage(
                        "give exactly one of --version CID, --dataset ID, --source URI",
                    ));
                }
            };
            let change = change.change()?;
            let registry = args.open(true).await?;
            let id = registry
                .place_hold(&scope, &change)
                .await
                .map_err(|e| failure(&e))?;
            say(&format!(
                "placed legal hold {id} on {} by {} as {}",
                scope_text(&scope),
                change.actor.principal,
                change.actor.role
            ));
            let doc = json!({
                "hold": id.to_string(),
                "scope": scope_json(&scope),
                "placed": change_json(&change),
            });
            emit(json, &doc, &[id.to_string()])
        }
        HoldCommand::Lift { hold, change } => {
            let id = parse_hold(hold)?;
            let change = change.change()?;
            let registry = args.open(true).await?;
            registry
                .lift_hold(id, &change)
                .await
                .map_err(|e| failure(&e))?;
            let lifted = registry.hold(id).await.map_err(|e| failure(&e))?;
            say(&format!(
                "lifted legal hold {id} on {} by {} as {}",
                scope_text(&lifted.scope),
                change.actor.principal,
                change.actor.role
            ));
            emit(json, &hold_json(&lifted), &[id.to_string()])
        }
        HoldCommand::Show { hold } => {
            let id = parse_hold(hold)?;
            let registry = args.open(false).await?;
            let h = registry.hold(id).await.map_err(|e| failure(&e))?;
            emit(json, &hold_json(&h), &[hold_line(&h)])
        }
        HoldCommand::List { active, cid } => {
            let cid = parse_cid("CID", cid)?;
            let registry = args.open(false).await?;
            let holds: Vec<Hold> = registry
                .holds_covering(&cid)
                .await
                .map_err(|e| failure(&e))?
                .into_iter()
                .filter(|h| !active || h.is_active())
                .collect();
            say(&format!(
                "{cid}: {} active hold(s), {} listed",
                holds.iter().filter(|h| h.is_active()).count(),
                holds.len()
            ));
            let doc = json!({
                "cid": cid.to_string(),
                "holds": holds.iter().map(hold_json).collect::<Vec<_>>(),
            });
            let lines: Vec<String> = holds.iter().map(hold_line).collect();
            emit(json, &doc, &lines)
        }
    }
}

async fn grant(args: &RegistryArgs, command: &GrantCommand, json: bool) -> Result<(), Failure> {
    match command {
        GrantCommand::Revoke { grant, change } => {
            let id = parse_grant(grant)?;
            let change = change.change()?;
            let registry = args.open(true).await?;
            let first = registry
                .revoke_grant(&id, &change)
                .await
                .map_err(|e| failure(&e))?;
            let kept = registry
                .grant_revocation(&id)
                .await
                .map_err(|e| failure(&e))?
                .map(|r| r.revoked);
            if first {
                say(&format!(
                    "revoked grant {id} by {} as {}",
                    change.actor.principal, change.actor.role
                ));
            } else {
                say(&format!(
                    "grant {id} was already revoked; the first revocation is kept"
                ));
            }
            let doc = json!({
                "grant": id.to_string(),
                "revoked": true,
                "alreadyRevoked": !first,
                "revocation": kept.as_ref().map(change_json),
            });
            emit(json, &doc, &[id.to_string()])
        }
        GrantCommand::Show { grant } => {
            let id = parse_grant(grant)?;
            let registry = args.open(false).await?;
            let revocation = registry
                .grant_revocation(&id)
                .await
                .map_err(|e| failure(&e))?;
            let line = match &revocation {
                Some(r) => format!(
                    "revoked by {} as {} at {}: {}",
                    r.revoked.actor.principal, r.revoked.actor.role, r.revoked.at, r.revoked.reason
                ),
                None => "not revoked".to_owned(),
            };
            say(&format!("grant {id}: {line}"));
            let doc = json!({
                "grant": id.to_string(),
                "revoked": revocation.is_some(),
                "revocation": revocation.as_ref().map(|r| change_json(&r.revoked)),
            });
            emit(
                json,
                &doc,
                &[if revocation.is_some() {
                    "revoked"
                } else {
                    "active"
                }
                .to_owned()],
            )
        }
    }
}

async fn consent(args: &RegistryArgs, command: &ConsentCommand, json: bool) -> Result<(), Failure> {
    match command {
        ConsentCommand::Withdraw { source, change } => {
            let source = parse_source("SOURCE", source)?;
            let change = change.change()?;
            let registry = args.open(true).await?;
            let affected = registry
                .withdraw_consent(&source, &change)
                .await
                .map_err(|e| failure(&e))?;
            let recorded = registry
                .consent_withdrawal(&source)
                .await
                .map_err(|e| failure(&e))?;
            say(&format!(
                "consent withdrawn for {source}: {} version(s) derived from it",
                affected.len()
            ));
            let lines = cids_json(&affected);
            let doc = json!({
                "source": source.to_string(),
                "withdrawal": recorded.as_ref().map(change_json),
                "versions": lines,
            });
            emit(json, &doc, &lines)
        }
        ConsentCommand::Show { source } => {
            let source = parse_source("SOURCE", source)?;
            let registry = args.open(false).await?;
            let recorded = registry
                .consent_withdrawal(&source)
                .await
                .map_err(|e| failure(&e))?;
            let derived = registry
                .derived_from(&source)
                .await
                .map_err(|e| failure(&e))?;
            say(&format!(
                "{source}: consent {}, {} version(s) derived from it",
                if recorded.is_some() {
                    "withdrawn"
                } else {
                    "not withdrawn"
                },
                derived.len()
            ));
            let lines = cids_json(&derived);
            let doc = json!({
                "source": source.to_string(),
                "withdrawn": recorded.is_some(),
                "withdrawal": recorded.as_ref().map(change_json),
                "versions": lines,
            });
            emit(json, &doc, &lines)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_ids() {
        use crate::EXIT_USAGE;
        assert_eq!(parse_hold("hold-7").unwrap(), HoldId::new(7));
        assert_eq!(parse_hold("12").unwrap(), HoldId::new(12));
        for bad in [
            "", "hold-", "hold-0", "hold--1", "-3", "+3", "h-3", "hold-1x",
        ] {
            assert_eq!(parse_hold(bad).unwrap_err().code(), EXIT_USAGE, "{bad}");
        }
    }

    #[test]
    fn codes() {
        use crate::EXIT_USAGE;
        use crate::policy_cli::EXIT_BLOCKED;
        let cid = Cid::raw_sha256(b"x");
        assert_eq!(exit_code(&Error::UnknownVersion(cid)), EXIT_USAGE);
        assert_eq!(
            exit_code(&Error::Held {
                cid,
                to: LifecycleState::Erased,
                holds: 1
            }),
            EXIT_BLOCKED
        );
        assert_eq!(exit_code(&Error::Database("down".into())), EXIT_UNAVAILABLE);
        assert_eq!(parse_principal("group:x").unwrap_err().code(), EXIT_USAGE);
    }
}
