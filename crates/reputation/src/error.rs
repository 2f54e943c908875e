use dataseal_base::{ProviderId, Timestamp};

/// Everything that can go wrong in `dataseal-reputation`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line of an events file is not a valid event; lines count from 1.
    #[error("line {line}: malformed event: {reason}")]
    MalformedEvent {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A hash-chained event log failed verification at the given 1-based line.
    #[error("event log broken at line {line}: {problem}")]
    LogBroken {
        /// The 1-based line where the problem shows.
        line: usize,
        /// What was found.
        problem: String,
    },
    /// An identifier (observer, region, network group, model id) has the wrong form.
    #[error("invalid {what} {value:?}: {rule}")]
    InvalidIdentifier {
        /// Which kind of identifier.
        what: &'static str,
        /// The text given.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// Model or selection parameters are out of range; the message names the field.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// A snapshot does not belong to this model or its parameters, or is malformed.
    #[error("cannot restore snapshot: {0}")]
    Snapshot(String),
    /// The model has no information about this provider.
    #[error("no information about provider {0}")]
    NoInformation(ProviderId),
    /// A DSSE signature or trust problem, from `dataseal-base`.
    #[error(transparent)]
    Signature(#[from] dataseal_base::Error),
    /// An attestation's payload is not a provider-score statement of this version.
    #[error("malformed attestation: {0}")]
    MalformedAttestation(String),
    /// The attestation expired before the verification time.
    #[error("attestation expired at {expires_at} (verified at {now})")]
    Expired {
        /// When it expired.
        expires_at: Timestamp,
        /// The verification time.
        now: Timestamp,
    },
    /// The attestation is issued after the verification time.
    #[error("attestation not valid before {issued_at} (verified at {now})")]
    NotYetValid {
        /// When it was issued.
        issued_at: Timestamp,
        /// The verification time.
        now: Timestamp,
    },
    /// Too few eligible providers to place `wanted` replicas under the constraints.
    #[error("only {found} eligible providers for {wanted} replicas under the constraints")]
    NotEnoughProviders {
        /// Replicas asked for.
        wanted: usize,
        /// Eligible providers found.
        found: usize,
    },
    /// A simulation scenario is malformed or inconsistent; the message names the field.
    #[error("invalid scenario: {0}")]
    Scenario(String),
}
