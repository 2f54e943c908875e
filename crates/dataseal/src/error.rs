//! The facade's one error type and the classes the command line maps to exit codes.

use std::io;
use std::path::Path;

use crate::quarantine::QuarantineReport;

/// What kind of failure an [`Error`] is: the classes of the command line's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Something did not verify: a bad tag, a CID mismatch, a bad or missing signature,
    /// a threshold not met, an incomplete dataset, a block a store lied about (exit 1).
    Verification,
    /// Bad input: usage, a malformed document, a file that failed quarantine, a local
    /// I/O error (exit 2).
    Invalid,
    /// The policy decision point denied the request (exit 3).
    Denied,
    /// The version is revoked, erased or under legal hold (exit 4).
    Blocked,
    /// No provider could serve, or a store could not be reached (exit 5).
    Unavailable,
}

impl ErrorKind {
    /// The command line's exit code for this kind (`CLI.md`): 1 to 5.
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Verification => 1,
            Self::Invalid => 2,
            Self::Denied => 3,
            Self::Blocked => 4,
            Self::Unavailable => 5,
        }
    }
}

/// Everything that can go wrong in a publish, fetch, verify or repair.
///
/// Every message is one line naming the file, object, store or policy involved;
/// [`Error::kind`] says which class it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Quarantine refused the source files; nothing was encrypted or stored.
    #[error("quarantine refused the source: {0}")]
    Quarantine(QuarantineReport),
    /// Bad input: a malformed document, a bad option, an inconsistent request.
    #[error("{0}")]
    Invalid(String),
    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Something did not verify.
    #[error("{0}")]
    Verification(String),
    /// The policy decision point denied the request.
    #[error("denied by policy: {reason}")]
    Denied {
        /// The determining policies or the errors that made the answer Deny.
        reason: String,
    },
    /// The version is revoked, erased or under legal hold.
    #[error("version {version} is {state}: no data action is allowed")]
    Blocked {
        /// The version's manifest CID.
        version: String,
        /// Its state (`revoked`, `erased`, `under legal hold`).
        state: String,
    },
    /// No store could serve what was asked, or a store could not be reached.
    #[error("{0}")]
    Unavailable(String),
    /// An encryption-layer error (a failed chunk names its index).
    #[error("{context}: {source}")]
    Crypt {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: Box<dataseal_crypt::Error>,
    },
    /// A transport error.
    #[error("{context}: {source}")]
    Transport {
        /// What was being done, naming the store or object.
        context: String,
        /// The cause.
        #[source]
        source: Box<dataseal_transport::Error>,
    },
    /// An error from a node's RPC API (a node store's put, pin, streamed read or CAR).
    #[error("{context}: {source}")]
    Node {
        /// What was being done, naming the store.
        context: String,
        /// The cause.
        #[source]
        source: Box<dataseal_btfs::Error>,
    },
    /// A manifest error (schema, signatures, thresholds).
    #[error("{context}: {source}")]
    Manifest {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: Box<dataseal_manifest::Error>,
    },
    /// The registry refused or failed.
    #[error("{context}: {source}")]
    Registry {
        /// What was being done.
        context: String,
        /// The registry's error.
        #[source]
        source: Box<dataseal_registry::Error>,
    },
    /// A policy-layer error (malformed entities, policies, grants or audit logs).
    #[error("{context}: {source}")]
    Policy {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: Box<dataseal_policy::Error>,
    },
}

impl Error {
    /// The class of this failure, and so its exit code.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Quarantine(_) | Self::Invalid(_) | Self::Io { .. } => ErrorKind::Invalid,
            Self::Verification(_) => ErrorKind::Verification,
            Self::Denied { .. } => ErrorKind::Denied,
            Self::Blocked { .. } => ErrorKind::Blocked,
            Self::Unavailable(_) => ErrorKind::Unavailable,
            Self::Crypt { source, .. } => crypt_kind(source),
            Self::Transport { source, .. } => transport_kind(source),
            Self::Node { source, .. } => node_kind(source),
            Self::Manifest { source, .. } => manifest_kind(source),
            Self::Policy { source, .. } => policy_kind(source),
            Self::Registry { source, .. } => ErrorKind::from(&**source),
        }
    }

    /// The command line's exit code: `self.kind().exit_code()`.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        self.kind().exit_code()
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn io_at(what: &str, path: &Path, source: io::Error) -> Self {
        Self::io(format!("cannot {what} {}", path.display()), source)
    }

    pub(crate) fn crypt(context: impl Into<String>, source: dataseal_crypt::Error) -> Self {
        Self::Crypt {
            context: context.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn transport(context: impl Into<String>, source: dataseal_transport::Error) -> Self {
        Self::Transport {
            context: context.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn node(context: impl Into<String>, source: dataseal_btfs::Error) -> Self {
        Self::Node {
            context: context.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn manifest(context: impl Into<String>, source: dataseal_manifest::Error) -> Self {
        Self::Manifest {
            context: context.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn registry(context: impl Into<String>, source: dataseal_registry::Error) -> Self {
        Self::Registry {
            context: context.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn policy(context: impl Into<String>, source: dataseal_policy::Error) -> Self {
        Self::Policy {
            context: context.into(),
            source: Box::new(source),
        }
    }
}

fn crypt_kind(e: &dataseal_crypt::Error) -> ErrorKind {
    use dataseal_crypt::Error as E;
    match e {
        E::Chunk { .. }
        | E::KeyCommitment
        | E::TrailingData { .. }
        | E::KeyUnwrap(_)
        | E::SealedOpen => ErrorKind::Verification,
        _ => ErrorKind::Invalid,
    }
}

fn transport_kind(e: &dataseal_transport::Error) -> ErrorKind {
    use dataseal_transport::Error as E;
    match e {
        E::Integrity { .. } | E::CidMismatch { .. } | E::Incomplete { .. } => {
            ErrorKind::Verification
        }
        // A store that served bad bytes is a verification failure even when the others
        // were merely down or without the block.
        E::Exhausted { failures, .. } if failures.iter().any(E::is_integrity) => {
            ErrorKind::Verification
        }
        E::NotFound(_) | E::Unavailable(_) | E::Exhausted { .. } => ErrorKind::Unavailable,
        _ => ErrorKind::Invalid,
    }
}

/// A node's error: data that did not verify (a root differing from the one computed
/// locally, a bad block, an incomplete DAG) is a verification failure; a bad address, an
/// unsupported request, a local I/O error or an oversized block is invalid input; any
/// other failure to serve (unreachable, too slow, an HTTP error, a missing block, an
/// answer that does not parse) is unavailability.
fn node_kind(e: &dataseal_btfs::Error) -> ErrorKind {
    use dataseal_btfs::Error as E;
    if e.is_integrity() {
        return ErrorKind::Verification;
    }
    match e {
        E::Incomplete { .. } => ErrorKind::Verification,
        E::Transport(inner) => transport_kind(inner),
        E::InvalidUrl { .. } | E::Unsupported(_) | E::Io { .. } | E::BlockTooLarge { .. } => {
            ErrorKind::Invalid
        }
        _ => ErrorKind::Unavailable,
    }
}

fn manifest_kind(e: &dataseal_manifest::Error) -> ErrorKind {
    use dataseal_manifest::Error as E;
    match e {
        E::Signature(dataseal_base::Error::InvalidEnvelope(_)) => ErrorKind::Invalid,
        E::Signature(_) => ErrorKind::Verification,
        _ => ErrorKind::Invalid,
    }
}

fn policy_kind(_: &dataseal_policy::Error) -> ErrorKind {
    ErrorKind::Invalid
}

/// The class of a registry error: 4 for a change a legal hold refuses; 3 for a hold
/// lifted in the wrong role; 1 for stored data that does not parse or a rolled-back
/// checkpoint; 5 for a database that cannot be reached, stays busy or cannot be
/// migrated; 2 for everything else (malformed input, unknown versions and holds,
/// transitions the table forbids).
impl From<&dataseal_registry::Error> for ErrorKind {
    fn from(e: &dataseal_registry::Error) -> Self {
        use dataseal_registry::Error as E;
        match e {
            E::Held { .. } => Self::Blocked,
            E::WrongRole { .. } | E::ApprovalRequired { .. } => Self::Denied,
            E::Corrupt(_) | E::CheckpointRollback { .. } | E::CheckpointMismatch(_) => {
                Self::Verification
            }
            E::Database(_) | E::Busy(_) | E::Migrate(_) => Self::Unavailable,
            _ => Self::Invalid,
        }
    }
}
