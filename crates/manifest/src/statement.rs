//! The in-toto Statement around a manifest, its canonical bytes and CID, signing and
//! verification.

use std::collections::{BTreeMap, BTreeSet};

use dataseal_base::dsse::{Envelope, Evaluation, IN_TOTO_PAYLOAD_TYPE, KeyId, TrustPolicy};
use dataseal_base::{Cid, Role, SigningKey, Timestamp, codec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::schema::{Manifest, Sha256Digest};

/// The in-toto Statement type this crate writes.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of a dataseal manifest.
pub const PREDICATE_TYPE: &str = "https://dataseal.dev/manifest/v1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "_type")]
    statement_type: String,
    predicate: Manifest,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    subject: Vec<Subject>,
}

/// The same Statement, borrowing the manifest, for writing without a copy.
#[derive(Serialize)]
struct StatementRef<'a> {
    #[serde(rename = "_type")]
    statement_type: &'static str,
    predicate: &'a Manifest,
    #[serde(rename = "predicateType")]
    predicate_type: &'static str,
    subject: [Subject; 1],
}

/// Hashes what is written to it.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Compares what is written to it with `expected`, without storing it.
struct CompareWriter<'a> {
    expected: &'a [u8],
    at: usize,
    differs: bool,
}

impl std::io::Write for CompareWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let end = self.at + buf.len();
        if !self.differs && self.expected.get(self.at..end) != Some(buf) {
            self.differs = true;
        }
        self.at = end;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Subject {
    digest: SubjectDigest,
    name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectDigest {
    sha256: Sha256Digest,
}

fn subject_for(m: &Manifest) -> Result<Subject, Error> {
    let mut hasher = HashWriter(Sha256::new());
    serde_json::to_writer(&mut hasher, &m.objects).map_err(|e| Error::json("objects", &e))?;
    Ok(Subject {
        digest: SubjectDigest {
            sha256: Sha256Digest(hasher.0.finalize().into()),
        },
        name: format!("{}@{}", m.dataset_id, m.version),
    })
}

/// The CID that names a manifest: CIDv1, dag-json (0x0129), SHA2-256 of the payload.
#[must_use]
pub fn manifest_cid(payload: &[u8]) -> Cid {
    Cid::v1_from_sha256(codec::DAG_JSON, Sha256::digest(payload).into())
}

impl Manifest {
    /// Parses a manifest (the predicate alone, as `dataseal manifest build` writes it)
    /// strictly and checks it. Formatting is free: canonical bytes are made when signing.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] for malformed JSON or unknown fields, [`Error::Invalid`] for a
    /// broken rule.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let m: Self = parse_json("manifest", bytes)?;
        m.validate()?;
        Ok(m)
    }

    /// The manifest alone in canonical JSON.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the manifest breaks a rule.
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        self.validate()?;
        serde_json::to_vec(self).map_err(|e| Error::json("manifest", &e))
    }

    /// The payload that gets signed: the in-toto Statement carrying this manifest, in
    /// canonical form (RFC 8785, which for this schema is also canonical DAG-JSON).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the manifest breaks a rule.
    pub fn to_payload(&self) -> Result<Vec<u8>, Error> {
        self.validate()?;
        let mut out = Vec::new();
        self.write_statement(&mut out)?;
        // The buffer grew by doubling; a large payload lives on inside the envelope.
        out.shrink_to_fit();
        Ok(out)
    }

    fn write_statement<W: std::io::Write>(&self, out: W) -> Result<(), Error> {
        let statement = StatementRef {
            statement_type: STATEMENT_TYPE,
            predicate: self,
            predicate_type: PREDICATE_TYPE,
            subject: [subject_for(self)?],
        };
        serde_json::to_writer(out, &statement).map_err(|e| Error::json("statement", &e))
    }

    /// Parses a signed payload: strict JSON, an in-toto Statement v1 with this crate's
    /// predicate type, a subject that matches the objects, a valid manifest, and bytes in
    /// canonical form (re-encoding gives exactly the same bytes).
    ///
    /// # Errors
    ///
    /// [`Error::Json`], [`Error::Invalid`] or [`Error::NonCanonical`].
    pub fn from_payload(payload: &[u8]) -> Result<Self, Error> {
        let statement: Statement = parse_json("statement", payload)?;
        if statement.statement_type != STATEMENT_TYPE {
            return Err(Error::Invalid(format!(
                "_type: {:?} is not {STATEMENT_TYPE}",
                statement.statement_type
            )));
        }
        if statement.predicate_type != PREDICATE_TYPE {
            return Err(Error::Invalid(format!(
                "predicateType: {:?} is not {PREDICATE_TYPE}",
                statement.predicate_type
            )));
        }
        let manifest = statement.predicate;
        manifest.validate()?;
        let mut compare = CompareWriter {
            expected: payload,
            at: 0,
            differs: false,
        };
        manifest.write_statement(&mut compare)?;
        if compare.differs || compare.at != payload.len() {
            let again = manifest.to_payload()?;
            // Tell a wrong subject apart from mere formatting.
            let expected = subject_for(&manifest)?;
            let matches = statement.subject.len() == 1
                && statement.subject.first().is_some_and(|s| {
                    s.name == expected.name && s.digest.sha256 == expected.digest.sha256
                });
            if !matches {
                return Err(Error::Invalid(
                    "subject: does not name this dataset version and its objects".to_owned(),
                ));
            }
            return Err(Error::NonCanonical(first_difference(payload, &again)));
        }
        Ok(manifest)
    }
}

/// Parses JSON, keeping the path to the field at fault, and rejecting trailing data.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| Error::json_at(what, &e))?;
    de.end().map_err(|e| Error::json(what, &e))?;
    Ok(value)
}

fn first_difference(got: &[u8], canonical: &[u8]) -> String {
    let at = got
        .iter()
        .zip(canonical)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(canonical.len()));
    let context = |b: &[u8]| {
        let start = at.saturating_sub(20);
        String::from_utf8_lossy(b.get(start..(at + 20).min(b.len())).unwrap_or_default())
            .into_owned()
    };
    format!(
        "byte {at} differs from the canonical encoding: found {:?}, expected {:?}",
        context(got),
        context(canonical)
    )
}

/// Signs a manifest: a new DSSE envelope over its canonical Statement, with one
/// signature in `role`.
///
/// # Errors
///
/// [`Error::Invalid`] if the manifest breaks a rule.
pub fn sign(manifest: &Manifest, key: &SigningKey, role: Role) -> Result<Envelope, Error> {
    Ok(Envelope::sign(
        IN_TOTO_PAYLOAD_TYPE,
        manifest.to_payload()?,
        key,
        Some(role),
    )?)
}

/// Whether a JSON document is a DSSE envelope (it has a `payloadType`) rather than a
/// bare manifest.
fn is_envelope(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v.get("payloadType").is_some())
}

/// Signs a document in `role`: a bare manifest (canonical JSON) gets a new envelope; an
/// envelope holding a manifest gets one more signature ([`cosign`]).
///
/// # Errors
///
/// [`Error::Signature`] for a malformed envelope or another payload type; the parse and
/// rule errors of [`Manifest::from_json`] and [`Manifest::from_payload`].
pub fn sign_document(bytes: &[u8], key: &SigningKey, role: Role) -> Result<Envelope, Error> {
    if is_envelope(bytes) {
        let mut envelope = Envelope::from_json(bytes)?;
        cosign(&mut envelope, key, role)?;
        Ok(envelope)
    } else {
        sign(&Manifest::from_json(bytes)?, key, role)
    }
}

/// The manifest CID of a document: of an envelope's payload, or of a bare manifest's
/// canonical payload, after checking that the payload is a valid manifest. Signatures
/// are not checked (see [`verify_envelope`]).
///
/// # Errors
///
/// [`Error::Signature`] for a malformed envelope; the parse and rule errors of
/// [`Manifest::from_json`] and [`Manifest::from_payload`].
pub fn document_cid(bytes: &[u8]) -> Result<Cid, Error> {
    if is_envelope(bytes) {
        let envelope = Envelope::from_json(bytes)?;
        Manifest::from_payload(envelope.payload_unverified())?;
        Ok(manifest_cid(envelope.payload_unverified()))
    } else {
        Ok(manifest_cid(&Manifest::from_json(bytes)?.to_payload()?))
    }
}

/// Adds a signature in `role` to an envelope holding a manifest, after checking that the
/// payload is one (so no one co-signs bytes they cannot read).
///
/// # Errors
///
/// [`Error::Signature`] for another payload type; parse errors of
/// [`Manifest::from_payload`].
pub fn cosign(envelope: &mut Envelope, key: &SigningKey, role: Role) -> Result<(), Error> {
    if envelope.payload_type() != IN_TOTO_PAYLOAD_TYPE {
        return Err(Error::Signature(dataseal_base::Error::PayloadType {
            expected: IN_TOTO_PAYLOAD_TYPE.to_owned(),
            found: envelope.payload_type().to_owned(),
        }));
    }
    Manifest::from_payload(envelope.payload_unverified())?;
    envelope.add_signature(key, Some(role))?;
    Ok(())
}

/// A manifest whose signatures met the trust policy: the only form later stages accept.
///
/// It holds exactly the payload bytes that were verified, the manifest parsed from them,
/// its CID, and which keys counted for which roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedManifest {
    manifest: Manifest,
    payload: Vec<u8>,
    cid: Cid,
    counted: BTreeMap<Role, BTreeSet<KeyId>>,
}

impl VerifiedManifest {
    /// The manifest.
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The exact bytes that were verified.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The manifest CID (names this dataset version).
    #[must_use]
    pub fn cid(&self) -> Cid {
        self.cid
    }

    /// Which keys counted for which roles.
    #[must_use]
    pub fn signers(&self) -> &BTreeMap<Role, BTreeSet<KeyId>> {
        &self.counted
    }
}

/// Verifies a signed manifest envelope (its JSON bytes) against a trust policy at time
/// `now`, turning untrusted bytes into a [`VerifiedManifest`].
///
/// Signatures are checked first, over exactly the payload bytes; only then is the payload
/// parsed (strictly, and required to be canonical).
///
/// # Errors
///
/// [`Error::Signature`] for a malformed envelope, another payload type, or thresholds not
/// met; the parse errors of [`Manifest::from_payload`].
pub fn verify(
    envelope_json: &[u8],
    policy: &TrustPolicy,
    now: Timestamp,
) -> Result<VerifiedManifest, Error> {
    let envelope = Envelope::from_json(envelope_json)?;
    let verified = policy.verify_into(envelope, IN_TOTO_PAYLOAD_TYPE, now)?;
    finish(verified)
}

/// [`verify`] for an already parsed envelope.
///
/// # Errors
///
/// As [`verify`].
pub fn verify_envelope(
    envelope: &Envelope,
    policy: &TrustPolicy,
    now: Timestamp,
) -> Result<VerifiedManifest, Error> {
    finish(policy.verify(envelope, IN_TOTO_PAYLOAD_TYPE, now)?)
}

/// [`verify_envelope`], consuming the envelope so its payload is moved into the
/// [`VerifiedManifest`] rather than copied: for a large manifest, one payload-sized buffer
/// less.
///
/// # Errors
///
/// As [`verify`].
pub fn verify_envelope_into(
    envelope: Envelope,
    policy: &TrustPolicy,
    now: Timestamp,
) -> Result<VerifiedManifest, Error> {
    finish(policy.verify_into(envelope, IN_TOTO_PAYLOAD_TYPE, now)?)
}

fn finish(verified: dataseal_base::dsse::VerifiedEnvelope) -> Result<VerifiedManifest, Error> {
    let counted = verified.counted().clone();
    let payload = verified.into_payload();
    let manifest = Manifest::from_payload(&payload)?;
    let cid = manifest_cid(&payload);
    Ok(VerifiedManifest {
        manifest,
        payload,
        cid,
        counted,
    })
}

/// The detailed signature evaluation behind [`verify`], for reports.
#[must_use]
pub fn evaluate(envelope: &Envelope, policy: &TrustPolicy, now: Timestamp) -> Evaluation {
    policy.evaluate(envelope, now)
}
