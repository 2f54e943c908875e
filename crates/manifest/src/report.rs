//! The verification report: a stable JSON document of everything verification found.

use std::path::Path;

use dataseal_base::Timestamp;
use dataseal_base::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, SignatureOutcome, TrustPolicy};
use serde::Serialize;

use crate::Error;
use crate::dir::{FileCheck, check_dir};
use crate::statement::{VerifiedManifest, verify_envelope_into};

/// The version of the report's JSON layout; it changes only when a field is removed or
/// its meaning changes.
pub const REPORT_VERSION: u32 = 1;

/// Why verification failed, as a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonCode {
    /// The envelope is not valid JSON of the DSSE shape.
    EnvelopeMalformed,
    /// The payload type is not the in-toto one.
    PayloadType,
    /// The trust policy names no role.
    NoTrust,
    /// A role has fewer valid signatures from distinct trusted keys than required.
    ThresholdNotMet,
    /// The signed payload is not a well-formed Statement with a manifest.
    PayloadMalformed,
    /// The signed payload is not in canonical form.
    NonCanonical,
    /// The manifest breaks a schema rule.
    ManifestInvalid,
    /// A listed file is missing from the directory.
    FileMissing,
    /// The directory holds a file the manifest does not list.
    FileExtra,
    /// A file's size or digest differs.
    FileChanged,
    /// A listed file is present under another name.
    FileRenamed,
    /// The directory could not be read.
    Io,
}

impl ReasonCode {
    /// Whether the failure means malformed input (exit code 2) rather than a failed
    /// verification of well-formed input (exit code 1).
    #[must_use]
    pub fn is_malformed_input(self) -> bool {
        matches!(
            self,
            Self::EnvelopeMalformed
                | Self::PayloadMalformed
                | Self::NonCanonical
                | Self::ManifestInvalid
                | Self::Io
        )
    }
}

/// One failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The stable reason code.
    pub code: ReasonCode,
    /// A human-readable explanation naming the field, signature or file.
    pub message: String,
}

/// What became of one signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    /// Its position in the envelope.
    pub index: usize,
    /// The key id hint it carries.
    pub keyid: String,
    /// The role it claims.
    pub role: Option<String>,
    /// `counted`, `duplicate`, `role_not_granted`, `outside_validity`,
    /// `no_trusted_key` or `malformed`.
    pub outcome: &'static str,
    /// The trusted key that verified it, if any (its securesystemslib key id).
    pub verified_by: Option<String>,
}

/// How one role stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThresholdReport {
    /// The role.
    pub role: String,
    /// Distinct keys required.
    pub needed: usize,
    /// Distinct keys that counted.
    pub found: usize,
    /// Whether `found >= needed`.
    pub met: bool,
}

/// The report of one verification (documented in the crate README).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerificationReport {
    /// [`REPORT_VERSION`].
    pub report_version: u32,
    /// Whether everything verified.
    pub verified: bool,
    /// The time verification was done for.
    pub verified_at: Timestamp,
    /// The manifest CID, once the payload parsed.
    pub manifest_cid: Option<String>,
    /// `DATASET@VERSION`, once the payload parsed.
    pub dataset: Option<String>,
    /// Every signature, in envelope order.
    pub signatures: Vec<SignatureReport>,
    /// Every role of the trust policy.
    pub thresholds: Vec<ThresholdReport>,
    /// With a directory to check against: every file's result.
    pub files: Vec<FileCheck>,
    /// Every failure found, in the order found.
    pub failures: Vec<Failure>,
}

impl VerificationReport {
    /// Whether any failure is malformed input rather than a failed check.
    #[must_use]
    pub fn has_malformed_input(&self) -> bool {
        self.failures.iter().any(|f| f.code.is_malformed_input())
    }
}

fn outcome_name(o: &SignatureOutcome) -> (&'static str, Option<String>) {
    match o {
        SignatureOutcome::Counted { key, .. } => ("counted", Some(key.to_string())),
        SignatureOutcome::Duplicate { key } => ("duplicate", Some(key.to_string())),
        SignatureOutcome::RoleNotGranted { key } => ("role_not_granted", Some(key.to_string())),
        SignatureOutcome::OutsideValidity { key } => ("outside_validity", Some(key.to_string())),
        SignatureOutcome::Malformed => ("malformed", None),
        _ => ("no_trusted_key", None),
    }
}

fn failure_of(e: &Error) -> Failure {
    let code = match e {
        Error::Signature(dataseal_base::Error::InvalidEnvelope(_)) => ReasonCode::EnvelopeMalformed,
        Error::Signature(dataseal_base::Error::PayloadType { .. }) => ReasonCode::PayloadType,
        Error::Signature(dataseal_base::Error::NoTrust) => ReasonCode::NoTrust,
        Error::Signature(_) => ReasonCode::ThresholdNotMet,
        Error::Json { .. } => ReasonCode::PayloadMalformed,
        Error::NonCanonical(_) => ReasonCode::NonCanonical,
        Error::Io { .. } => ReasonCode::Io,
        _ => ReasonCode::ManifestInvalid,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

/// Verifies an envelope like [`crate::verify`] and, with `against`, checks a directory
/// against the manifest; returns the full report, and the verified manifest when the
/// signatures and payload verified (even if the directory did not match).
#[must_use]
pub fn verify_with_report(
    envelope_json: &[u8],
    policy: &TrustPolicy,
    now: Timestamp,
    against: Option<&Path>,
) -> (VerificationReport, Option<VerifiedManifest>) {
    let mut report = VerificationReport {
        report_version: REPORT_VERSION,
        verified: false,
        verified_at: now,
        manifest_cid: None,
        dataset: None,
        signatures: Vec::new(),
        thresholds: Vec::new(),
        files: Vec::new(),
        failures: Vec::new(),
    };
    let envelope = match Envelope::from_json(envelope_json) {
        Ok(e) => e,
        Err(e) => {
            report.failures.push(failure_of(&Error::Signature(e)));
            return (report, None);
        }
    };
    let evaluation = policy.evaluate(&envelope, now);
    report.signatures = envelope
        .signatures()
        .iter()
        .zip(evaluation.signatures())
        .enumerate()
        .map(|(index, (sig, outcome))| {
            let (outcome, verified_by) = outcome_name(outcome);
            SignatureReport {
                index,
                keyid: sig.keyid().to_owned(),
                role: sig.role().map(|r| r.to_string()),
                outcome,
                verified_by,
            }
        })
        .collect();
    report.thresholds = evaluation
        .thresholds()
        .iter()
        .map(|t| ThresholdReport {
            role: t.role.to_string(),
            needed: t.needed,
            found: t.found,
            met: t.found >= t.needed,
        })
        .collect();
    if envelope.payload_type() != IN_TOTO_PAYLOAD_TYPE {
        report.failures.push(failure_of(&Error::Signature(
            dataseal_base::Error::PayloadType {
                expected: IN_TOTO_PAYLOAD_TYPE.to_owned(),
                found: envelope.payload_type().to_owned(),
            },
        )));
        return (report, None);
    }
    let verified = match verify_envelope_into(envelope, policy, now) {
        Ok(v) => v,
        Err(e) => {
            report.failures.push(failure_of(&e));
            return (report, None);
        }
    };
    report.manifest_cid = Some(verified.cid().to_string());
    report.dataset = Some(format!(
        "{}@{}",
        verified.manifest().dataset_id,
        verified.manifest().version
    ));
    if let Some(dir) = against {
        match check_dir(verified.manifest(), dir) {
            Ok(files) => {
                for f in &files {
                    let (code, message) = match f {
                        FileCheck::Missing { path } => (
                            ReasonCode::FileMissing,
                            format!("{path}: listed but missing"),
                        ),
                        FileCheck::Extra { path } => (
                            ReasonCode::FileExtra,
                            format!("{path}: present but not listed"),
                        ),
                        FileCheck::Changed { path, field } => {
                            (ReasonCode::FileChanged, format!("{path}: {field} differs"))
                        }
                        FileCheck::Renamed { from, to } => (
                            ReasonCode::FileRenamed,
                            format!("{from}: found renamed to {to}"),
                        ),
                        _ => continue,
                    };
                    report.failures.push(Failure { code, message });
                }
                report.files = files;
            }
            Err(e) => report.failures.push(failure_of(&e)),
        }
    }
    report.verified = report.failures.is_empty();
    (report, Some(verified))
}
