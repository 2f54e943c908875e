#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod diff;
mod dir;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod path;
mod report;
mod schema;
mod statement;
mod validate;

pub use diff::{FieldChange, ManifestDiff, diff};
pub use dir::{FileCheck, build_objects, check_dir};
pub use error::Error;
pub use path::CanonicalPath;
pub use report::{
    Failure, REPORT_VERSION, ReasonCode, SignatureReport, ThresholdReport, VerificationReport,
    verify_with_report,
};
pub use schema::{
    Activity, Agent, Approval, ConsentBasis, DigestSet, EncryptionHeader, Evidence, HeaderValue,
    LawfulBasis, LicenseConditions, LicenseTier, MAX_SAFE_INTEGER, Manifest, ObjectEntry,
    Provenance, Retention, RetentionAction, SCHEMA_VERSION, Sensitivity, Sha256Digest, Source,
    SpdxExpression, SpecialCategoryCondition, Version,
};
pub use statement::{
    PREDICATE_TYPE, STATEMENT_TYPE, VerifiedManifest, cosign, document_cid, evaluate, manifest_cid,
    sign, sign_document, verify, verify_envelope, verify_envelope_into,
};
