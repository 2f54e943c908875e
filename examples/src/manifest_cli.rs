//! The `dataseal manifest build|sign|verify|cid` subcommands.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use dataseal_base::dsse::{Envelope, TrustPolicy};
use dataseal_base::{Cid, Purpose, Region, Role, SigningKey, Timestamp, VerifyingKey};
use dataseal_manifest::{
    Agent, ConsentBasis, LicenseConditions, LicenseTier, Manifest, Provenance, Retention,
    SCHEMA_VERSION, Sensitivity, SpdxExpression, VerificationReport, build_objects, cosign,
    manifest_cid, sign, verify_with_report,
};
use serde::Deserialize;

use crate::{EXIT_USAGE, EXIT_VERIFY, Failure, show};

/// Manifest files larger than this are refused before parsing (a 1-million-object
/// manifest is about 150 MB).
const MAX_DOCUMENT: u64 = 1 << 30;

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

/// Reads a whole (bounded) file.
///
/// # Errors
///
/// A usage failure naming the file.
pub fn read_document(path: &Path) -> Result<Vec<u8>, Failure> {
    let f =
        fs::File::open(path).map_err(|e| Failure::io(format!("cannot open {}", show(path)), &e))?;
    let mut buf = Vec::new();
    f.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Failure::io(format!("cannot read {}", show(path)), &e))?;
    if buf.len() as u64 > MAX_DOCUMENT {
        return Err(Failure::usage(format!("{}: larger than 1 GiB", show(path))));
    }
    Ok(buf)
}

/// The metadata `manifest build --meta` reads: every manifest field except the ones the
/// build computes (`datasetId`, `version`, `objects`, `schemaVersion`), all optional.
/// Unknown fields are rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Meta {
    consent: Option<ConsentBasis>,
    created: Option<Timestamp>,
    #[serde(default)]
    creator: Vec<Agent>,
    description: Option<String>,
    #[serde(default)]
    ignore: Vec<String>,
    license: Option<SpdxExpression>,
    license_conditions: Option<LicenseConditions>,
    name: Option<String>,
    pii: Option<bool>,
    provenance: Option<Provenance>,
    publisher: Option<Agent>,
    purposes: Option<BTreeSet<Purpose>>,
    regions: Option<BTreeSet<Region>>,
    retention: Option<Retention>,
    sealed: Option<String>,
    sensitivity: Option<Sensitivity>,
    was_revision_of: Option<Cid>,
}

/// The time a build records: `created` from the metadata, else `SOURCE_DATE_EPOCH` (for
/// reproducible builds), else now.
fn build_time(meta: &Meta) -> Result<Timestamp, Failure> {
    if let Some(t) = meta.created {
        return Ok(t);
    }
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|n| Timestamp::from_unix_seconds(n).ok())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "SOURCE_DATE_EPOCH={s:?} is not a number of seconds"
                ))
            }),
        Err(_) => Ok(Timestamp::now()),
    }
}

/// `manifest build`: the canonical manifest JSON of a public dataset in `src`.
///
/// Without metadata the manifest allows nothing: no purposes, no regions, a proprietary
/// licence tier, internal sensitivity, licence `LicenseRef-unspecified`.
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
    let meta: Meta = match meta {
        Some(p) => {
            let bytes = read_document(p)?;
            serde_json::from_slice(&bytes)
                .map_err(|e| Failure::usage(format!("{}: {e}", show(p))))?
        }
        None => Meta::default(),
    };
    let dataset_id = name
        .parse()
        .map_err(|e| Failure::usage(format!("--name: {e}")))?;
    let version = version
        .parse()
        .map_err(|e: dataseal_manifest::Error| Failure::usage(format!("--version: {e}")))?;
    if !src.is_dir() {
        return Err(Failure::usage(format!("{} is not a directory", show(src))));
    }
    let created = build_time(&meta)?;
    let objects = build_objects(src, &meta.ignore, None)
        .map_err(|e| fail(format!("reading {}", show(src)), &e))?;
    let unspecified = "LicenseRef-unspecified"
        .parse()
        .map_err(|e| fail("licence", &e))?;
    let manifest = Manifest {
        consent: meta.consent,
        created,
        creator: meta.creator,
        dataset_id,
        description: meta.description.unwrap_or_default(),
        ignore: meta.ignore,
        license: meta.license.unwrap_or(unspecified),
        license_conditions: meta.license_conditions.unwrap_or(LicenseConditions {
            academic_use: false,
            attribution: true,
            commercial_use: false,
            non_commercial_use: false,
            share_alike: false,
            tier: LicenseTier::Proprietary,
        }),
        name: meta.name.unwrap_or_else(|| name.to_owned()),
        objects,
        pii: meta.pii.unwrap_or(false),
        provenance: meta.provenance.unwrap_or_default(),
        publisher: meta.publisher,
        purposes: meta.purposes.unwrap_or_default(),
        regions: meta.regions.unwrap_or_default(),
        retention: meta.retention,
        schema_version: SCHEMA_VERSION,
        sealed: meta.sealed,
        sensitivity: meta.sensitivity.unwrap_or(Sensitivity::Internal),
        version,
        was_revision_of: meta.was_revision_of,
    };
    let mut json = manifest.to_json().map_err(|e| fail("the manifest", &e))?;
    json.push(b'\n');
    Ok(json)
}

fn looks_like_envelope(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v.get("payloadType").is_some())
}

/// Reads an Ed25519 private key (PKCS#8 PEM).
///
/// # Errors
///
/// Exit 2 naming the file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, Failure> {
    // The PEM text is a secret: every copy of it is zeroed when dropped.
    let bytes = zeroize::Zeroizing::new(read_document(path)?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::usage(format!("{}: not a PEM file", show(path))))?;
    SigningKey::from_pkcs8_pem(text).map_err(|e| Failure::usage(format!("{}: {e}", show(path))))
}

/// `manifest sign`: a new envelope for a manifest, or one more signature on an envelope.
///
/// # Errors
///
/// Exit 2 for malformed input or a bad key.
pub fn sign_cmd(key: &Path, role: &str, input: &Path) -> Result<Vec<u8>, Failure> {
    let key = read_signing_key(key)?;
    let role: Role = role
        .parse()
        .map_err(|e| Failure::usage(format!("--role: {e}")))?;
    let bytes = read_document(input)?;
    let envelope = if looks_like_envelope(&bytes) {
        let mut env = Envelope::from_json(&bytes)
            .map_err(|e| Failure::usage(format!("{}: {e}", show(input))))?;
        cosign(&mut env, &key, role).map_err(|e| fail(show(input), &e))?;
        env
    } else {
        let manifest = Manifest::from_json(&bytes).map_err(|e| fail(show(input), &e))?;
        sign(&manifest, &key, role).map_err(|e| fail(show(input), &e))?
    };
    let mut out = envelope.to_json().into_bytes();
    out.push(b'\n');
    Ok(out)
}

/// Parses `KEY.pub=ROLE` options and `ROLE=N` thresholds into a trust policy.
///
/// # Errors
///
/// Exit 2 naming the bad option.
pub fn trust_policy(trust: &[String], thresholds: &[String]) -> Result<TrustPolicy, Failure> {
    let mut policy = TrustPolicy::new();
    for t in trust {
        let (file, role) = t
            .rsplit_once('=')
            .ok_or_else(|| Failure::usage(format!("--trust {t:?}: expected KEY.pub=ROLE")))?;
        let role: Role = role
            .parse()
            .map_err(|e| Failure::usage(format!("--trust {t:?}: {e}")))?;
        let path = PathBuf::from(file);
        let bytes = read_document(&path)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Failure::usage(format!("{file}: not a PEM file")))?;
        let key = VerifyingKey::from_spki_pem(&text)
            .map_err(|e| Failure::usage(format!("{file}: {e}")))?;
        policy = policy.trust(key, role);
    }
    for t in thresholds {
        let (role, n) = t
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--threshold {t:?}: expected ROLE=N")))?;
        let role: Role = role
            .parse()
            .map_err(|e| Failure::usage(format!("--threshold {t:?}: {e}")))?;
        let n: usize = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            Failure::usage(format!(
                "--threshold {t:?}: N must be a whole number of at least 1"
            ))
        })?;
        policy = policy.threshold(role, n);
    }
    Ok(policy)
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

/// `manifest cid`: the manifest CID of an envelope's payload (or of a bare manifest's
/// canonical payload), after checking that the payload is a valid canonical manifest.
/// Signatures are not checked: use `manifest verify` for that.
///
/// # Errors
///
/// Exit 2 for malformed input.
pub fn cid_cmd(input: &Path) -> Result<Cid, Failure> {
    let bytes = read_document(input)?;
    let payload = if looks_like_envelope(&bytes) {
        let env = Envelope::from_json(&bytes)
            .map_err(|e| Failure::usage(format!("{}: {e}", show(input))))?;
        Manifest::from_payload(env.payload_unverified()).map_err(|e| fail(show(input), &e))?;
        env.payload_unverified().to_vec()
    } else {
        let m = Manifest::from_json(&bytes).map_err(|e| fail(show(input), &e))?;
        m.to_payload().map_err(|e| fail(show(input), &e))?
    };
    Ok(manifest_cid(&payload))
}
