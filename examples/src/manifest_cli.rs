//! The `dataseal manifest build|sign|verify|cid` subcommands: argument handling over
//! `dataseal-manifest` and the facade's [`dataseal::keys`] and [`dataseal::DatasetMeta`].

use std::path::Path;

use dataseal::DatasetMeta;
use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{Cid, Role, SigningKey, Timestamp};
use dataseal_manifest::{VerificationReport, document_cid, sign_document, verify_with_report};

use crate::{EXIT_USAGE, EXIT_VERIFY, Failure, show};

/// The exit code for a manifest error: 1 when signatures or thresholds failed, 2 for
/// malformed input.
#[must_use]
pub fn manifest_exit_code(err: &dataseal_manifest::Error) -> u8 {
    use dataseal_manifest::Error as E;
    match err {
        E::Signature(dataseal_base::Error::InvalidEnvelope(_)) => EXIT_USAGE,
        E::Signature(_) => EXIT_VERIFY,
        _ => EXIT_USAGE,
    }
}

fn fail(context: impl std::fmt::Display, err: &dataseal_manifest::Error) -> Failure {
    Failure::new(manifest_exit_code(err), format!("{context}: {err}"))
}

/// Reads a whole (bounded) file ([`dataseal::keys::read_document`]).
///
/// # Errors
///
/// A usage failure naming the file.
pub fn read_document(path: &Path) -> Result<Vec<u8>, Failure> {
    dataseal::keys::read_document(path).map_err(Failure::from)
}

/// Reads an Ed25519 private key ([`dataseal::keys::read_signing_key`]).
///
/// # Errors
///
/// Exit 2 naming the file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, Failure> {
    dataseal::keys::read_signing_key(path).map_err(Failure::from)
}

/// Parses `KEY.pub=ROLE` options and `ROLE=N` thresholds into a trust policy
/// ([`dataseal::keys::trust_policy`],
/// [`dataseal::keys::with_thresholds`]).
///
/// # Errors
///
/// Exit 2 naming the bad option.
pub fn trust_policy(trust: &[String], thresholds: &[String]) -> Result<TrustPolicy, Failure> {
    let with = |flag: &str, e: dataseal::Error| Failure::new(e.exit_code(), format!("{flag} {e}"));
    let policy = dataseal::keys::trust_policy(trust).map_err(|e| with("--trust", e))?;
    dataseal::keys::with_thresholds(policy, thresholds).map_err(|e| with("--threshold", e))
}

/// `manifest build`: the canonical manifest JSON of a public dataset in `src`
/// ([`DatasetMeta::public_manifest`]).
///
/// # Errors
///
/// Exit 2 for unreadable or malformed input.
pub fn build(
    name: &str,
    version: &str,
    meta: Option<&Path>,
    src: &Path,
) -> Result<Vec<u8>, Failure> {
    let mut meta = match meta {
        Some(p) => DatasetMeta::from_file(p)?,
        None => DatasetMeta::default(),
    };
    let dataset_id = name
        .parse()
        .map_err(|e| Failure::usage(format!("--name: {e}")))?;
    let version = version
        .parse()
        .map_err(|e: dataseal_manifest::Error| Failure::usage(format!("--version: {e}")))?;
    if meta.dataset_id.as_ref().is_some_and(|d| *d != dataset_id)
        || meta.version.as_ref().is_some_and(|v| *v != version)
    {
        return Err(Failure::usage(
            "--name and --version differ from datasetId and version in the metadata",
        ));
    }
    meta.dataset_id = Some(dataset_id);
    meta.version = Some(version);
    let manifest = meta.public_manifest(src)?;
    let mut json = manifest.to_json().map_err(|e| fail("the manifest", &e))?;
    json.push(b'\n');
    Ok(json)
}

/// `manifest sign`: a new envelope for a manifest, or one more signature on an envelope
/// ([`sign_document`]).
///
/// # Errors
///
/// Exit 2 for malformed input or a bad key.
pub fn sign_cmd(key: &Path, role: &str, input: &Path) -> Result<Vec<u8>, Failure> {
    let key = read_signing_key(key)?;
    let role: Role = role
        .parse()
        .map_err(|e| Failure::usage(format!("--role: {e}")))?;
    let envelope =
        sign_document(&read_document(input)?, &key, role).map_err(|e| fail(show(input), &e))?;
    let mut out = envelope.to_json().into_bytes();
    out.push(b'\n');
    Ok(out)
}

/// `manifest verify`: the report and the exit code it implies.
///
/// # Errors
///
/// Exit 2 for unreadable files or bad options (before any verification).
pub fn verify_cmd(
    envelope: &Path,
    trust: &[String],
    thresholds: &[String],
    against: Option<&Path>,
    at: Option<&str>,
) -> Result<(VerificationReport, u8), Failure> {
    if trust.is_empty() {
        return Err(Failure::usage(
            "at least one --trust KEY.pub=ROLE is required",
        ));
    }
    let policy = trust_policy(trust, thresholds)?;
    let now = match at {
        Some(t) => t
            .parse()
            .map_err(|e| Failure::usage(format!("--at: {e}")))?,
        None => Timestamp::now(),
    };
    if let Some(dir) = against
        && !dir.is_dir()
    {
        return Err(Failure::usage(format!(
            "--against {}: not a directory",
            show(dir)
        )));
    }
    let bytes = read_document(envelope)?;
    let (report, _) = verify_with_report(&bytes, &policy, now, against);
    let code = if report.verified {
        0
    } else if report.has_malformed_input() {
        EXIT_USAGE
    } else {
        EXIT_VERIFY
    };
    Ok((report, code))
}

/// `manifest cid`: the manifest CID of an envelope's payload, or of a bare manifest's
/// canonical payload ([`document_cid`]). Signatures are not checked: use `manifest
/// verify` for that.
///
/// # Errors
///
/// Exit 2 for malformed input.
pub fn cid_cmd(input: &Path) -> Result<Cid, Failure> {
    document_cid(&read_document(input)?).map_err(|e| fail(show(input), &e))
}
