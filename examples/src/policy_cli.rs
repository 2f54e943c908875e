//! The `dataseal authorize`, `grant issue|verify` and `audit verify` subcommands over
//! `dataseal-policy`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use dataseal_base::{Cid, Timestamp, VerifyingKey};
use dataseal_policy::{
    Action, ApprovalVerifier, ApproverRole, AuditLog, Clock, DecisionPoint, Grant, GrantError,
    GrantIssuer, GrantRequest, GrantVerifier, PolicyEngine, Principal, UserId, read_anchor,
    verify_log_with_keys,
};
use serde_json::json;

use crate::manifest_cli::{manifest_exit_code, read_document, read_signing_key, trust_policy};
use crate::{EXIT_VERIFY, Failure, show};

/// Exit code: denied by policy.
pub const EXIT_DENIED: u8 = 3;
/// Exit code: the version is revoked, erased or under legal hold.
pub const EXIT_BLOCKED: u8 = 4;

/// `dataseal authorize`.
#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The entities document: directory entities, and versions as signed manifest
    /// envelopes with their records (see the dataseal-policy README). It cannot add
    /// trusted keys: those come from --trust.
    #[arg(long, value_name = "ENTITIES.json")]
    entities: PathBuf,
    /// The request: principal, action, resource, purpose, region, time, grant,
    /// approvals (signed envelopes).
    #[arg(long, value_name = "REQUEST.json")]
    request: PathBuf,
    /// A directory of extra *.cedar policies and templates, loaded beside the defaults.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// A public key (PEM) trusted to sign manifests, with its role; repeatable. Only
    /// these keys make a version's manifest trusted.
    #[arg(long = "trust", value_name = "KEY.pub=ROLE")]
    trust: Vec<String>,
    /// Signatures needed in a role (default 1 per trusted role); repeatable.
    #[arg(long = "threshold", value_name = "ROLE=N")]
    thresholds: Vec<String>,
    /// A public key (PEM) trusted to issue grants; repeatable.
    #[arg(long = "grant-key", value_name = "KEY.pub")]
    grant_keys: Vec<PathBuf>,
    /// A public key (PEM) trusted to sign approvals for one person in one role
    /// (data-owner or compliance), as KEY.pub=ROLE:USER; repeatable.
    #[arg(long = "approver", value_name = "KEY.pub=ROLE:USER")]
    approvers: Vec<String>,
    /// Clock-skew tolerance, in seconds (at most 300): how far the request's `time`, when
    /// it has one, may be from this machine's clock, and the tolerance for grants and
    /// approvals.
    #[arg(long, value_name = "SECONDS", default_value_t = dataseal_policy::DEFAULT_REQUEST_SKEW_SECONDS,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(dataseal_policy::MAX_REQUEST_SKEW_SECONDS)))]
    skew: u32,
    /// Append the decision's audit record (or, for a malformed request, the record of
    /// its refusal) to this log, followed by a checkpoint signed with --audit-key.
    #[arg(
        long,
        value_name = "LOG",
        conflicts_with = "what_if",
        requires = "audit_key"
    )]
    audit_log: Option<PathBuf>,
    /// The Ed25519 key (PKCS#8 PEM) that signs a checkpoint after every append.
    #[arg(long, value_name = "signing.key", requires = "audit_log")]
    audit_key: Option<PathBuf>,
    /// Keep the log's truncation anchor (its latest checkpoint) here instead of beside
    /// the log: somewhere whoever can rewrite the log cannot.
    #[arg(long, value_name = "PATH", requires = "audit_log")]
    anchor: Option<PathBuf>,
    /// Evaluate at the request's own `time` instead of this machine's clock: a what-if
    /// answer that is never written to an audit log.
    #[arg(long)]
    what_if: bool,
}

/// `dataseal grant …`.
#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Issue a grant (a PASETO v4.public token) and print it on stdout.
    Issue {
        /// The issuer's Ed25519 private key (PKCS#8 PEM).
        #[arg(long, value_name = "signing.key")]
        key: PathBuf,
        /// The issuer's name, recorded in the grant.
        #[arg(long, value_name = "NAME")]
        issuer: String,
        /// Who may use it: user:ID or service-account:ID.
        #[arg(long, value_name = "PRINCIPAL")]
        principal: String,
        /// The manifest CID of the dataset version.
        #[arg(long, value_name = "CID")]
        cid: String,
        /// A data action the grant covers (read, download, evaluate, train,
        /// fine-tune-commercial, embed); repeatable, at least one.
        #[arg(long = "action", value_name = "ACTION", required = true)]
        actions: Vec<String>,
        /// The purpose (research, training, evaluation, embedding, analytics,
        /// commercial-training, commercial-fine-tuning, commercial-analytics).
        #[arg(long)]
        purpose: String,
        /// The region.
        #[arg(long)]
        region: String,
        /// Lifetime in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 900)]
        ttl: i64,
        /// Start of the window instead of now (YYYY-MM-DDTHH:MM:SSZ).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
    /// Verify a grant: exit 0 if valid now (or at --at), 1 if refused, 2 if malformed.
    Verify {
        /// A trusted issuer public key (PEM); repeatable.
        #[arg(long = "key", value_name = "KEY.pub", required = true)]
        keys: Vec<PathBuf>,
        /// Clock-skew tolerance in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        skew: u32,
        /// Verify at this time instead of now (YYYY-MM-DDTHH:MM:SSZ).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// A file holding the token.
        grant: PathBuf,
    },
}

/// `dataseal audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify an audit log's hash chain and checkpoints: exit 0 if intact, 1 if broken
    /// (naming the line), 2 if unreadable.
    Verify {
        /// A public key (PEM) trusted to sign checkpoints; repeatable. With one, every
        /// checkpoint must be signed by a trusted key and the last record must be covered
        /// by one (exit 1 otherwise); without one, checkpoints are checked against the
        /// chain but their signatures are not, and the log proves nothing about who
        /// wrote it.
        #[arg(long = "trust", value_name = "KEY.pub")]
        trust: Vec<PathBuf>,
        /// The last checkpoint known from elsewhere (default: LOG.checkpoint, if present).
        #[arg(long, value_name = "FILE")]
        anchor: Option<PathBuf>,
        /// The log.
        log: PathBuf,
    },
}

/// Reads a small UTF-8 document.
///
/// # Errors
///
/// Exit 2 naming the file.
pub fn read_text(path: &Path) -> Result<String, Failure> {
    String::from_utf8(read_document(path)?)
        .map_err(|_| Failure::usage(format!("{}: not UTF-8", show(path))))
}

/// Reads an Ed25519 public key (SPKI PEM).
///
/// # Errors
///
/// Exit 2 naming the file.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, Failure> {
    VerifyingKey::from_spki_pem(&read_text(path)?)
        .map_err(|e| Failure::usage(format!("{}: {e}", show(path))))
}

fn time(at: Option<&str>) -> Result<Timestamp, Failure> {
    at.map_or_else(
        || Ok(Timestamp::now()),
        |t| t.parse().map_err(|e| Failure::usage(format!("--at: {e}"))),
    )
}

fn policy_failure(context: &str, err: &dataseal_policy::Error) -> Failure {
    match err {
        dataseal_policy::Error::Manifest(m) => {
            Failure::new(manifest_exit_code(m), format!("{context}: {err}"))
        }
        _ => Failure::usage(format!("{context}: {err}")),
    }
}

fn emit(json: bool, value: &serde_json::Value) -> Result<(), Failure> {
    if json {
        let mut out = io::stdout().lock();
        writeln!(out, "{value}").map_err(|e| Failure::io("writing stdout", &e))?;
    }
    Ok(())
}

fn say(message: &str) {
    // If stderr is gone there is nobody left to tell; the exit code still says it.
    let _ = writeln!(io::stderr().lock(), "{message}");
}

/// An audit log checkpointed with `key` after every append, its anchor at `anchor` (or
/// beside the log).
///
/// # Errors
///
/// Exit 2 for an unreadable key.
pub fn open_audit_log(log: &Path, key: &Path, anchor: Option<&Path>) -> Result<AuditLog, Failure> {
    dataseal::open_audit_log(log, key, anchor).map_err(|e| crate::stories_cli::failure(&e))
}

/// Parses `KEY.pub=ROLE:USER` and reads the key.
///
/// # Errors
///
/// Exit 2.
pub fn approver(spec: &str) -> Result<(VerifyingKey, UserId, ApproverRole), Failure> {
    dataseal::parse_approver(spec).map_err(|e| crate::stories_cli::failure(&e))
}

/// The decision point `dataseal authorize` configures from its arguments.
///
/// # Errors
///
/// Exit 2 for unreadable keys or policies.
pub fn decision_point(args: &AuthorizeArgs) -> Result<DecisionPoint, Failure> {
    let mut builder = PolicyEngine::builder();
    if let Some(dir) = &args.policies {
        builder = builder
            .policies_dir(dir)
            .map_err(|e| policy_failure(&show(dir), &e))?;
    }
    let engine = builder
        .build()
        .map_err(|e| policy_failure("policies", &e))?;
    let trust = trust_policy(&args.trust, &args.thresholds)?;
    let mut grants = GrantVerifier::new(args.skew);
    for key in &args.grant_keys {
        grants = grants.trust(read_public_key(key)?);
    }
    let mut approvals = ApprovalVerifier::new().with_skew_seconds(args.skew);
    for spec in &args.approvers {
        let (key, user, role) = approver(spec)?;
        approvals = approvals.trust(key, user, role);
    }
    let mut point = DecisionPoint::new(engine, trust)
        .with_grant_verifier(grants)
        .with_approval_verifier(approvals);
    if let (Some(path), Some(key)) = (&args.audit_log, &args.audit_key) {
        point = point.with_audit_log(open_audit_log(path, key, args.anchor.as_deref())?);
    }
    Ok(point)
}

/// Runs `dataseal authorize`: exit 0 allow, 3 deny, 4 when the version is revoked,
/// erased or held, 2 malformed input (recorded in the audit log, when one is given), 1
/// when a manifest envelope in the entities does not verify against --trust.
///
/// # Errors
///
/// A [`Failure`] carrying the exit code; a deny is a failure with [`EXIT_DENIED`].
pub fn authorize(args: &AuthorizeArgs, json: bool) -> Result<(), Failure> {
    let point = decision_point(args)?;
    let clock = if args.what_if {
        Clock::WhatIf
    } else {
        Clock::System {
            now: Timestamp::now(),
            skew_seconds: args.skew,
        }
    };
    let refused = |bytes: &[u8], e: dataseal_policy::Error| match clock {
        Clock::System { now, .. } => point.refuse(bytes, e, now).map(|_| ()),
        _ => Err(e),
    };
    let request = read_document(&args.request)?;
    let entities = match read_document(&args.entities) {
        Ok(bytes) => bytes,
        Err(failure) => {
            let e = dataseal_policy::Error::Entities(failure.to_string());
            return match refused(&request, e) {
                Err(e) => Err(policy_failure(&show(&args.entities), &e)),
                Ok(()) => Err(failure),
            };
        }
    };
    let authorized = point.authorize(&entities, &request, clock).map_err(|e| {
        let context = match &e {
            dataseal_policy::Error::Entities(_) | dataseal_policy::Error::Manifest(_) => {
                show(&args.entities)
            }
            _ => show(&args.request),
        };
        policy_failure(&context, &e)
    })?;
    let decision = &authorized.decision;
    let record = serde_json::to_value(decision.audit_record())
        .map_err(|e| Failure::usage(format!("audit record: {e}")))?;
    emit(
        json,
        &json!({
            "decision": decision.effect(),
            "policies": decision.determining_policies(),
            "forbid": decision.forbid_fired(),
            "errors": decision.errors(),
            "record": record,
        }),
    )?;
    let policies = decision.determining_policies().join(", ");
    if decision.is_allowed() {
        say(&format!("allow ({policies})"));
        Ok(())
    } else {
        let why = if !decision.errors().is_empty() {
            decision.errors().join("; ")
        } else if policies.is_empty() {
            "no policy permits it".to_owned()
        } else {
            format!("forbidden by {policies}")
        };
        match decision.version_blocked() {
            Some(state) => Err(Failure::new(
                EXIT_BLOCKED,
                format!("deny: the version is {state} ({policies})"),
            )),
            None => Err(Failure::new(EXIT_DENIED, format!("deny: {why}"))),
        }
    }
}

/// Parses `user:ID` or `service-account:ID`.
///
/// # Errors
///
/// Exit 2.
pub fn parse_principal(text: &str) -> Result<Principal, Failure> {
    principal_arg("--principal", text)
}

/// Parses the principal given to `flag`: `user:ID` or `service-account:ID`.
///
/// # Errors
///
/// Exit 2 naming the flag.
pub fn principal_arg(flag: &str, text: &str) -> Result<Principal, Failure> {
    dataseal::parse_principal(text).map_err(|e| Failure::usage(format!("{flag}: {e}")))
}

/// Runs `dataseal grant issue|verify`.
///
/// # Errors
///
/// A [`Failure`]: exit 1 for a refused grant, 2 for malformed input.
pub fn grant(command: &GrantCommand, json: bool) -> Result<(), Failure> {
    match command {
        GrantCommand::Issue {
            key,
            issuer,
            principal,
            cid,
            actions,
            purpose,
            region,
            ttl,
            at,
        } => {
            if *ttl < 1 {
                return Err(Failure::usage("--ttl: at least 1 second"));
            }
            let request = GrantRequest {
                principal: parse_principal(principal)?,
                cid: cid
                    .parse::<Cid>()
                    .map_err(|e| Failure::usage(format!("--cid: {e}")))?,
                actions: actions
                    .iter()
                    .map(|a| {
                        a.parse::<Action>()
                            .map_err(|e| Failure::usage(format!("--action: {e}")))
                    })
                    .collect::<Result<_, _>>()?,
                purpose: purpose
                    .parse()
                    .map_err(|e| Failure::usage(format!("--purpose: {e}")))?,
                region: region
                    .parse()
                    .map_err(|e| Failure::usage(format!("--region: {e}")))?,
            };
            let issuer =
                GrantIssuer::new(read_signing_key(key)?, issuer.clone()).with_ttl_seconds(*ttl);
            let now = time(at.as_deref())?;
            let grant = issuer
                .issue(&request, now)
                .map_err(|e| Failure::usage(format!("grant: {e}")))?;
            let covered: Vec<&str> = request.actions.iter().map(|a| a.as_str()).collect();
            let mut out = io::stdout().lock();
            if json {
                writeln!(
                    out,
                    "{}",
                    json!({"token": grant.as_str(), "notBefore": now, "expires": now.saturating_add_seconds(*ttl)})
                )
            } else {
                writeln!(out, "{grant}")
            }
            .map_err(|e| Failure::io("writing stdout", &e))?;
            say(&format!(
                "issued a grant for {} to {} {} ({}, {}) valid {} s",
                request.principal,
                covered.join(", "),
                request.cid,
                request.purpose,
                request.region,
                ttl
            ));
            Ok(())
        }
        GrantCommand::Verify {
            keys,
            skew,
            at,
            grant,
        } => {
            let mut verifier = GrantVerifier::new(*skew);
            for key in keys {
                verifier = verifier.trust(read_public_key(key)?);
            }
            let token = Grant::from_token(read_text(grant)?);
            let now = time(at.as_deref())?;
            match verifier.verify(&token, now) {
                Ok(v) => {
                    let claims = serde_json::to_value(v.claims())
                        .map_err(|e| Failure::usage(format!("claims: {e}")))?;
                    emit(json, &json!({"valid": true, "claims": claims}))?;
                    say(&format!("valid: grant {}", v.id()));
                    Ok(())
                }
                Err(e @ GrantError::Malformed(_)) => {
                    Err(Failure::usage(format!("{}: {e}", show(grant))))
                }
                Err(e) => {
                    emit(json, &json!({"valid": false, "reason": e.to_string()}))?;
                    Err(Failure::verify(format!("{}: {e}", show(grant))))
                }
            }
        }
    }
}

/// Runs `dataseal audit verify`.
///
/// # Errors
///
/// A [`Failure`]: exit 1 if the log is broken, 2 if it cannot be read.
pub fn audit(command: &AuditCommand, json: bool) -> Result<(), Failure> {
    let AuditCommand::Verify { trust, anchor, log } = command;
    let keys = trust
        .iter()
        .map(|k| read_public_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let anchor = match anchor {
        Some(path) => Some(
            serde_json::from_slice(&read_document(path)?)
                .map_err(|e| Failure::usage(format!("{}: {e}", show(path))))?,
        ),
        None => read_anchor(&AuditLog::open(log))
            .map_err(|e| Failure::usage(format!("{}: {e}", show(log))))?,
    };
    let bytes = read_document(log)?;
    let verified = verify_log_with_keys(&bytes, &keys, anchor.as_ref());
    match verified {
        Ok(report) => {
            let value = serde_json::to_value(&report)
                .map_err(|e| Failure::usage(format!("report: {e}")))?;
            emit(json, &json!({"intact": true, "report": value}))?;
            say(&format!(
                "intact: {} lines, {} records, {} checkpoints, {} lines after the last checkpoint",
                report.lines, report.records, report.checkpoints, report.unsigned_tail
            ));
            Ok(())
        }
        Err(fault) => {
            emit(
                json,
                &json!({"intact": false, "line": fault.line, "kind": fault.kind, "detail": fault.detail}),
            )?;
            Err(Failure::new(EXIT_VERIFY, format!("{}: {fault}", show(log))))
        }
    }
}
