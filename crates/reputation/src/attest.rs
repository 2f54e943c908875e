use std::collections::BTreeMap;

use dataseal_base::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, TrustPolicy};
use dataseal_base::{ProviderId, Role, SigningKey, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Error, LogHead, ModelId, ParamsDigest, ScoreBreakdown, Sha256Digest, Status, Tier};

/// The in-toto Statement type this crate writes.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The predicate type of a provider-score attestation, version 1; the format is
/// documented in this crate's README, section "Attestations".
pub const PROVIDER_SCORE_PREDICATE_TYPE: &str =
    "https://github.com/dataseal/dataseal/blob/main/crates/reputation/README.md#attestations";

/// A signed statement of one provider's score: the predicate of a provider-score
/// attestation.
///
/// Every number is an integer: sub-scores and the score in millionths (`0..=1_000_000`),
/// figures in millionths of their unit (`latency.p95_ms` 812.5 is `812_500_000`). Keys
/// are written in sorted order and without whitespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAttestation {
    /// When it stops being valid.
    pub expires_at: Timestamp,
    /// Named sub-scores, millionths.
    pub factors_micro: BTreeMap<String, u32>,
    /// Named figures, millionths of their unit.
    pub figures_micro: BTreeMap<String, i64>,
    /// When it was issued (and starts being valid).
    pub issued_at: Timestamp,
    /// The event log the score was computed from, as its head.
    pub log_head: LogHead,
    /// The model that computed it.
    pub model: ModelId,
    /// The digest of that model's parameters.
    pub params_digest: ParamsDigest,
    /// The provider.
    pub provider: ProviderId,
    /// The score, millionths.
    pub score_micro: u32,
    /// The provider's status.
    pub status: Status,
    /// The tier label, if the model assigns one.
    pub tier: Option<Tier>,
    /// The time the score is for.
    pub window_end: Timestamp,
    /// The first event time the score covers.
    pub window_start: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "_type")]
    statement_type: String,
    predicate: ProviderAttestation,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    subject: Vec<Subject>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Subject {
    digest: BTreeMap<String, String>,
    name: String,
}

fn micro_unit(x: f64) -> u32 {
    // In [0, 1] by construction of ScoreBreakdown, so the product is in [0, 1e6].
    (x.clamp(0.0, 1.0) * 1e6).round() as u32
}

fn micro(x: f64) -> i64 {
    let v = (x * 1e6).round();
    if v.is_finite() {
        v.clamp(-9.0e18, 9.0e18) as i64
    } else {
        0
    }
}

fn subject_digest(provider: &ProviderId) -> String {
    Sha256Digest::of(provider.as_str().as_bytes()).to_hex()
}

impl ProviderAttestation {
    /// The attestation of `breakdown`, computed by the model `model` with parameters
    /// `params_digest` from the events of the log at `log_head`, which start at
    /// `window_start`; valid from `issued_at` to `expires_at`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] if `expires_at` is not after `issued_at`, or the window
    /// ends before it starts or after `issued_at`.
    pub fn from_breakdown(
        breakdown: &ScoreBreakdown,
        model: ModelId,
        params_digest: ParamsDigest,
        log_head: LogHead,
        window_start: Timestamp,
        issued_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Self, Error> {
        let a = Self {
            expires_at,
            factors_micro: breakdown
                .factors()
                .iter()
                .map(|(k, v)| (k.clone(), micro_unit(*v)))
                .collect(),
            figures_micro: breakdown
                .figures()
                .iter()
                .map(|(k, v)| (k.clone(), micro(*v)))
                .collect(),
            issued_at,
            log_head,
            model,
            params_digest,
            provider: breakdown.provider().clone(),
            score_micro: micro_unit(breakdown.score()),
            status: breakdown.status(),
            tier: breakdown.tier(),
            window_end: breakdown.at(),
            window_start,
        };
        a.check().map_err(Error::InvalidParams)?;
        Ok(a)
    }

    fn check(&self) -> Result<(), String> {
        if self.expires_at <= self.issued_at {
            return Err("expires_at must be after issued_at".to_owned());
        }
        if self.window_start > self.window_end || self.window_end > self.issued_at {
            return Err("the window must start before it ends, and end by issued_at".to_owned());
        }
        if self.score_micro > 1_000_000 || self.factors_micro.values().any(|v| *v > 1_000_000) {
            return Err("scores are at most 1,000,000 millionths".to_owned());
        }
        Ok(())
    }

    /// The in-toto Statement v1 payload bytes.
    #[must_use]
    pub fn to_statement_json(&self) -> Vec<u8> {
        let statement = Statement {
            statement_type: STATEMENT_TYPE.to_owned(),
            predicate: self.clone(),
            predicate_type: PROVIDER_SCORE_PREDICATE_TYPE.to_owned(),
            subject: vec![Subject {
                digest: BTreeMap::from([("sha256".to_owned(), subject_digest(&self.provider))]),
                name: self.provider.as_str().to_owned(),
            }],
        };
        // Strings, integers and maps of them always serialise.
        serde_json::to_vec(&statement).unwrap_or_default()
    }

    /// Signs the statement into a DSSE envelope (`application/vnd.in-toto+json`).
    ///
    /// # Errors
    ///
    /// [`Error::Signature`] if signing fails.
    pub fn sign(&self, key: &SigningKey, role: Option<Role>) -> Result<Envelope, Error> {
        Ok(Envelope::sign(
            IN_TOTO_PAYLOAD_TYPE,
            self.to_statement_json(),
            key,
            role,
        )?)
    }

    /// Verifies an envelope against `policy` at `now` and returns the attestation.
    ///
    /// Rejects envelopes not signed as the policy demands (foreign keys, too few
    /// signers), tampered payloads (the signature no longer verifies), payloads that are
    /// not a provider-score Statement of this version, and attestations not valid at
    /// `now`.
    ///
    /// # Errors
    ///
    /// [`Error::Signature`], [`Error::MalformedAttestation`], [`Error::NotYetValid`] or
    /// [`Error::Expired`].
    pub fn verify(
        envelope: &Envelope,
        policy: &TrustPolicy,
        now: Timestamp,
    ) -> Result<Self, Error> {
        let verified = policy.verify(envelope, IN_TOTO_PAYLOAD_TYPE, now)?;
        let bad = |m: String| Error::MalformedAttestation(m);
        let statement: Statement =
            serde_json::from_slice(verified.payload()).map_err(|e| bad(e.to_string()))?;
        if statement.statement_type != STATEMENT_TYPE {
            return Err(bad(format!("_type {:?}", statement.statement_type)));
        }
        if statement.predicate_type != PROVIDER_SCORE_PREDICATE_TYPE {
            return Err(bad(format!("predicateType {:?}", statement.predicate_type)));
        }
        let a = statement.predicate;
        let subject_ok = matches!(statement.subject.as_slice(), [s]
            if s.name == a.provider.as_str()
                && s.digest.len() == 1
                && s.digest.get("sha256") == Some(&subject_digest(&a.provider)));
        if !subject_ok {
            return Err(bad(
                "the subject must be the predicate's provider alone".to_owned()
            ));
        }
        a.check().map_err(bad)?;
        if now < a.issued_at {
            return Err(Error::NotYetValid {
                issued_at: a.issued_at,
                now,
            });
        }
        if now > a.expires_at {
            return Err(Error::Expired {
                expires_at: a.expires_at,
                now,
            });
        }
        Ok(a)
    }
}
