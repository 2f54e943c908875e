/// Everything that can go wrong in `dataseal-base`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An object id was empty, too long, or held a control character.
    #[error("invalid object id: {0}")]
    InvalidObjectId(&'static str),
    /// A CID did not parse, or used a feature this crate does not accept.
    #[error("invalid CID: {0}")]
    InvalidCid(String),
    /// Key material had the wrong length or encoding.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A dataset id, purpose or region did not follow its rule.
    #[error("invalid {what} {name:?}: expected {rule}")]
    InvalidName {
        /// What kind of name.
        what: &'static str,
        /// The rejected text.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A provider id was empty, too long, or held a space or control character.
    #[error("invalid provider id {0:?}: expected 1-128 printable ASCII characters without spaces")]
    InvalidProviderId(String),
    /// A timestamp was not in the canonical form or range.
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// A role name was not of the form `[a-z][a-z0-9_-]{{0,63}}`.
    #[error(
        "invalid role {0:?}: expected 1-64 characters of a-z, 0-9, '-', '_', starting with a letter"
    )]
    InvalidRole(String),
    /// A DSSE envelope was malformed; the message names the field.
    #[error("malformed envelope: {0}")]
    InvalidEnvelope(String),
    /// The envelope's payload type is not the one expected.
    #[error("payload type {found:?} where {expected:?} was expected")]
    PayloadType {
        /// The payload type required.
        expected: String,
        /// The payload type found.
        found: String,
    },
    /// The trust policy names no role, so nothing could be verified.
    #[error("the trust policy trusts no key")]
    NoTrust,
    /// Too few distinct trusted keys signed in a role.
    #[error("role {role}: {found} of {needed} required signatures from distinct trusted keys")]
    ThresholdNotMet {
        /// The role short of signatures.
        role: crate::Role,
        /// Signatures required.
        needed: usize,
        /// Valid signatures from distinct trusted keys found.
        found: usize,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,
}
