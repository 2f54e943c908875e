//! The manifest schema: typed, strict, and declared in canonical key order.
//!
//! Every struct's fields are declared in the lexicographic order of their JSON names, and
//! every map is a `BTreeMap`, so serialising with `serde_json` yields RFC 8785 canonical
//! bytes directly (checked by a test against an independent canonicaliser).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use dataseal_base::{Cid, DatasetId, Purpose, Region, Role, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{CanonicalPath, Error};

/// The largest integer the canonical form allows: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The schema version this crate writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// One dataset version: what it is, where it came from, what it may be used for, and
/// its objects.
///
/// Field names follow Croissant (`creator`, `license`), PROV-O (`wasDerivedFrom`,
/// `wasGeneratedBy`, `wasRevisionOf`) and the Data Provenance Initiative (licence
/// conditions) where they have one. Unknown fields are rejected when parsing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// The legal basis for processing personal data; required when `pii` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentBasis>,
    /// When this version was built (PROV-O `generatedAtTime`).
    pub created: Timestamp,
    /// Who created the data (Croissant `creator`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub creator: Vec<Agent>,
    /// The dataset this is a version of.
    pub dataset_id: DatasetId,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Glob patterns of files left out when the object list was built from a directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// The licence, as an SPDX licence expression (`CC-BY-4.0`, `MIT OR Apache-2.0`,
    /// `LicenseRef-acme-eula`).
    pub license: SpdxExpression,
    /// What the licence allows, in the terms the policy engine reads.
    pub license_conditions: LicenseConditions,
    /// A human-readable name.
    pub name: String,
    /// The objects, in canonical path order, each path once.
    pub objects: Vec<ObjectEntry>,
    /// Whether the data holds personal data.
    pub pii: bool,
    /// Sources, transformations, reviewers and approvals.
    #[serde(default, skip_serializing_if = "Provenance::is_empty")]
    pub provenance: Provenance,
    /// Who publishes this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<Agent>,
    /// Purposes the data may be used for.
    pub purposes: BTreeSet<Purpose>,
    /// Regions where the data may be stored and used.
    pub regions: BTreeSet<Region>,
    /// How long the data may be kept and what happens then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// A section only key holders can read: standard padded base64 of an age file
    /// (plaintext digests, wrapped keys), filled by the publish pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// How sensitive the data is.
    pub sensitivity: Sensitivity,
    /// The version, as semantic versioning.
    pub version: Version,
    /// The manifest CID of the version this one revises (PROV-O `wasRevisionOf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was_revision_of: Option<Cid>,
}

/// A person or organisation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Agent {
    /// Contact address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The name.
    pub name: String,
    /// A web page or identifier (ORCID, ROR, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Agent {
    /// An agent known only by name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            email: None,
            name: name.into(),
            url: None,
        }
    }
}

/// What the licence permits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LicenseConditions {
    /// Use in academic research.
    pub academic_use: bool,
    /// Attribution is required.
    pub attribution: bool,
    /// Commercial use, including training models sold or served commercially.
    pub commercial_use: bool,
    /// Non-commercial use.
    pub non_commercial_use: bool,
    /// Derived data must carry the same licence.
    pub share_alike: bool,
    /// The tier the policy engine matches purposes against.
    pub tier: LicenseTier,
}

/// The licence tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseTier {
    /// Open licence: any purpose its conditions allow.
    Open,
    /// Research only: never commercial use or commercial fine-tuning.
    ResearchOnly,
    /// Limited by a contract to the purposes it names.
    ContractLimited,
    /// Proprietary: internal use by the owner.
    Proprietary,
}

/// How sensitive the data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sensitivity {
    /// May be published.
    Public,
    /// Internal to the organisation.
    Internal,
    /// Restricted: reads need dual approval.
    Restricted,
    /// Ephemeral: kept only briefly, never archived.
    Ephemeral,
}

impl Sensitivity {
    /// The class's name as the manifest spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Internal => "internal",
            Self::Restricted => "restricted",
            Self::Ephemeral => "ephemeral",
        }
    }

    /// Whether a version of this class must be encrypted: every class but `public`.
    #[must_use]
    pub fn requires_encryption(self) -> bool {
        self != Self::Public
    }
}

/// The legal basis for processing personal data (GDPR).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentBasis {
    /// Where the evidence for the basis is kept (a consent register, a contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The Art. 6(1) lawful basis.
    pub lawful_basis: LawfulBasis,
    /// The Art. 9(2) condition, for special categories of personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_category: Option<SpecialCategoryCondition>,
}

/// GDPR Art. 6(1) lawful bases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LawfulBasis {
    /// (a) consent of the data subject.
    Consent,
    /// (b) performance of a contract.
    Contract,
    /// (c) a legal obligation.
    LegalObligation,
    /// (d) vital interests.
    VitalInterests,
    /// (e) a task in the public interest.
    PublicTask,
    /// (f) legitimate interests.
    LegitimateInterests,
}

/// GDPR Art. 9(2) conditions for special categories of personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpecialCategoryCondition {
    /// (a) explicit consent.
    ExplicitConsent,
    /// (b) employment and social security law.
    Employment,
    /// (c) vital interests where consent cannot be given.
    VitalInterests,
    /// (d) a not-for-profit body's legitimate activities.
    NotForProfit,
    /// (e) made manifestly public by the data subject.
    MadePublic,
    /// (f) legal claims.
    LegalClaims,
    /// (g) substantial public interest.
    SubstantialPublicInterest,
    /// (h) health or social care.
    HealthCare,
    /// (i) public health.
    PublicHealth,
    /// (j) archiving, scientific or historical research, or statistics.
    Research,
}

/// A pointer to evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Evidence {
    /// Digests of the evidence document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestSet>,
    /// Where it is.
    pub uri: String,
}

/// How long data may be kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retention {
    /// Kept for this many days after `created`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_days: Option<u32>,
    /// What must happen at the end.
    pub on_expiry: RetentionAction,
    /// Kept until this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

/// What happens when retention ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetentionAction {
    /// Delete every copy (and destroy the keys).
    Delete,
    /// Anonymise.
    Anonymise,
    /// Review whether to keep.
    Review,
    /// Move to an archive.
    Archive,
}

/// Where the data came from (PROV-O).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Provenance {
    /// Sign-offs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
    /// People who reviewed the data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<Agent>,
    /// Sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub was_derived_from: Vec<Source>,
    /// Transformation steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub was_generated_by: Vec<Activity>,
}

impl Provenance {
    /// Whether nothing is recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.approvals.is_empty()
            && self.reviewers.is_empty()
            && self.was_derived_from.is_empty()
            && self.was_generated_by.is_empty()
    }
}

/// An approval: who signed off, in what role, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    /// Who.
    pub agent: Agent,
    /// In which role.
    pub role: Role,
    /// When.
    pub time: Timestamp,
}

/// A source the data was derived from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// Digests of what was retrieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestSet>,
    /// The source's licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<SpdxExpression>,
    /// When it was retrieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieved: Option<Timestamp>,
    /// Where it came from.
    pub uri: String,
}

/// A transformation step (PROV-O Activity): the code and parameters that ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Activity {
    /// Digests of the code that ran (`sha256`, `gitCommit`, …).
    pub code_digest: DigestSet,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at_time: Option<Timestamp>,
    /// What it did.
    pub name: String,
    /// Digests of its parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_digest: Option<DigestSet>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_time: Option<Timestamp>,
}

/// One object of the dataset: either public (`sha256` of the plaintext) or encrypted
/// (`encryption` header and `rootCid` of the ciphertext).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectEntry {
    /// The encryption header of an encrypted object (the `dataseal-crypt` header JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionHeader>,
    /// The canonical path.
    pub path: CanonicalPath,
    /// The UnixFS root CID of an encrypted object's ciphertext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cid: Option<Cid>,
    /// SHA-256 of a public object's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Digest>,
    /// Size in bytes (of the plaintext).
    pub size: u64,
}

impl ObjectEntry {
    /// A public object.
    #[must_use]
    pub fn public(path: CanonicalPath, size: u64, sha256: Sha256Digest) -> Self {
        Self {
            encryption: None,
            path,
            root_cid: None,
            sha256: Some(sha256),
            size,
        }
    }

    /// An encrypted object: its encryption header and the UnixFS root CID of its
    /// ciphertext; `size` is the plaintext's.
    #[must_use]
    pub fn encrypted(
        path: CanonicalPath,
        size: u64,
        encryption: EncryptionHeader,
        root_cid: Cid,
    ) -> Self {
        Self {
            encryption: Some(encryption),
            path,
            root_cid: Some(root_cid),
            sha256: None,
            size,
        }
    }
}

/// A SHA-256 digest, written as 64 lowercase hexadecimal characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl FromStr for Sha256Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.len() != 64 || !is_lower_hex(s) {
            return Err(Error::Invalid(format!(
                "sha256 {s:?}: expected 64 lowercase hexadecimal characters"
            )));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|e| Error::Invalid(format!("sha256: {e}")))?;
        Ok(Self(out))
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of digests of one thing, by algorithm (in-toto's DigestSet): `{"sha256": hex,
/// "gitCommit": hex}`. Algorithm names are 1–32 ASCII letters and digits; values are
/// 8–128 lowercase hexadecimal characters; at least one entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DigestSet(BTreeMap<String, String>);

impl DigestSet {
    /// Checks and wraps a digest set.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the bad entry.
    pub fn new(map: BTreeMap<String, String>) -> Result<Self, Error> {
        if map.is_empty() {
            return Err(Error::Invalid("digest set: empty".to_owned()));
        }
        for (alg, value) in &map {
            if alg.is_empty() || alg.len() > 32 || !alg.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Error::Invalid(format!(
                    "digest algorithm {alg:?}: expected 1-32 letters and digits"
                )));
            }
            if value.len() < 8 || value.len() > 128 || value.len() % 2 != 0 || !is_lower_hex(value)
            {
                return Err(Error::Invalid(format!(
                    "digest {alg}: expected 8-128 lowercase hexadecimal characters"
                )));
            }
        }
        Ok(Self(map))
    }

    /// A set holding one SHA-256 digest.
    #[must_use]
    pub fn sha256(digest: Sha256Digest) -> Self {
        Self(BTreeMap::from([("sha256".to_owned(), digest.to_string())]))
    }

    /// The digests by algorithm.
    #[must_use]
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DigestSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(deserializer)?;
        Self::new(map).map_err(serde::de::Error::custom)
    }
}

/// An SPDX licence expression, checked by the `spdx` crate and kept as written.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SpdxExpression(String);

impl SpdxExpression {
    /// Checks an expression.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if it is not a valid SPDX expression.
    pub fn new(expr: impl Into<String>) -> Result<Self, Error> {
        let expr = expr.into();
        spdx::Expression::parse(&expr)
            .map_err(|e| Error::Invalid(format!("license {expr:?}: {}", e.reason)))?;
        Ok(Self(expr))
    }

    /// The expression as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SpdxExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpdxExpression({})", self.0)
    }
}

impl fmt::Display for SpdxExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SpdxExpression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl<'de> Deserialize<'de> for SpdxExpression {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// A semantic version (`1.0.0`, `2.1.0-rc.1`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(semver::Version);

impl Version {
    /// The parsed semantic version.
    #[must_use]
    pub fn as_semver(&self) -> &semver::Version {
        &self.0
    }
}

impl FromStr for Version {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        semver::Version::parse(s)
            .map(Self)
            .map_err(|e| Error::Invalid(format!("version {s:?}: {e}")))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.0)
    }
}

/// A value inside an encryption header: a string or an integer within ±(2^53 − 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    /// An integer.
    Integer(i64),
    /// A string.
    Text(String),
}

/// An encrypted object's header, carried as a flat JSON object of strings and integers
/// (the `dataseal-crypt` header; this crate does not interpret it).
///
/// It is held as its canonical JSON text (members sorted, no whitespace): one small
/// allocation per object rather than a map of owned keys and values, which matters for
/// a manifest of many objects.
#[derive(Clone, Debug)]
pub struct EncryptionHeader(Box<serde_json::value::RawValue>);

impl EncryptionHeader {
    /// Checks and wraps a header object: ASCII keys other than `"/"`, integers within
    /// ±(2^53 − 1).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the bad member.
    pub fn new(map: BTreeMap<String, HeaderValue>) -> Result<Self, Error> {
        for (k, v) in &map {
            if k.is_empty() || k == "/" || !k.is_ascii() {
                return Err(Error::Invalid(format!(
                    "encryption header key {k:?}: must be non-empty ASCII and not \"/\""
                )));
            }
            if let HeaderValue::Integer(i) = v
                && i.unsigned_abs() > MAX_SAFE_INTEGER
            {
                return Err(Error::Invalid(format!(
                    "encryption header {k}: integer beyond 2^53 - 1"
                )));
            }
        }
        // A map of strings and integers always serialises, and its text is valid JSON.
        serde_json::to_string(&map)
            .and_then(serde_json::value::RawValue::from_string)
            .map(Self)
            .map_err(|e| Error::json("encryption header", &e))
    }

    /// Parses the header's JSON form.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] or [`Error::Invalid`].
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let map: BTreeMap<String, HeaderValue> =
            serde_json::from_str(text).map_err(|e| Error::json("encryption header", &e))?;
        Self::new(map)
    }

    /// The header's JSON form (canonical).
    #[must_use]
    pub fn to_json(&self) -> String {
        self.0.get().to_owned()
    }

    /// The header's JSON form (canonical), borrowed.
    #[must_use]
    pub fn as_json(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for EncryptionHeader {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for EncryptionHeader {}

impl Serialize for EncryptionHeader {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EncryptionHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, HeaderValue>::deserialize(deserializer)?;
        Self::new(map).map_err(serde::de::Error::custom)
    }
}
