use std::fmt;
use std::io;

use dataseal_base::Cid;

/// Everything that can go wrong in `dataseal-transport`.
///
/// The variants are staged like a read: the block was not there ([`Error::NotFound`]), the
/// store could not be asked ([`Error::Unavailable`]), the store answered with bytes that do
/// not hash to the CID asked for ([`Error::Integrity`]), or the bytes were not what their
/// codec says ([`Error::Malformed`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store does not hold this block (or, for `unpin`, this pin).
    #[error("block {0} not found")]
    NotFound(Cid),
    /// The store could not be reached or has stopped answering: a network error, a dead
    /// node, a store that was closed. Retrying later, or elsewhere, may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A store answered with bytes that do not hash to the CID that names them.
    #[error("integrity failure: the bytes served for block {cid} do not hash to its CID")]
    Integrity {
        /// The CID asked for.
        cid: Cid,
    },
    /// A store returned a different block, or computed a different CID, from the one
    /// expected: a node that ignored a parameter, chunks differently, or lies.
    #[error("CID mismatch: expected {expected}, the store gave {got}")]
    CidMismatch {
        /// The CID asked for, or computed locally.
        expected: Box<Cid>,
        /// The CID the store answered with.
        got: Box<Cid>,
    },
    /// Input that does not parse: a CAR file, a dag-pb node, a UnixFS header, a CID, or a
    /// DAG whose sizes do not add up. The message says what and where.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// A block larger than the store (or the format) accepts.
    #[error("block of {len} bytes is over the limit of {limit} bytes")]
    BlockTooLarge {
        /// The block's length in bytes.
        len: u64,
        /// The largest block accepted.
        limit: u64,
    },
    /// A byte range that does not lie inside the file.
    #[error("range of {len} bytes at offset {offset} is outside the file of {file_len} bytes")]
    Range {
        /// The first byte asked for.
        offset: u64,
        /// The number of bytes asked for.
        len: u64,
        /// The file's length.
        file_len: u64,
    },
    /// A DAG (a CAR file's, or one being pinned) lacks a block reachable from its roots
    /// (for a CAR file, or linked by any of its blocks: see
    /// [`CarReader::require_complete`](crate::CarReader::require_complete)).
    #[error("incomplete DAG: block {missing} is linked but not present")]
    Incomplete {
        /// The first missing block found.
        missing: Cid,
    },
    /// No store in the list could serve a block: each was missing it, unreachable, or
    /// answered with bytes that do not hash to it. One error per store, in list order.
    #[error("no store could serve block {cid}: {}", Failures(.failures))]
    Exhausted {
        /// The block that could not be read.
        cid: Cid,
        /// What each store answered, in the order they were tried.
        failures: Vec<Error>,
    },
    /// A local I/O error; the context names the file or operation.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether the data itself was found to be wrong: a block that does not hash to its
    /// CID, a CID other than the one expected, or (for [`Error::Exhausted`]) every store answering with such a block. Callers
    /// map this to "verification failed" rather than "unavailable".
    #[must_use]
    pub fn is_integrity(&self) -> bool {
        match self {
            Self::Integrity { .. } | Self::CidMismatch { .. } => true,
            Self::Exhausted { failures, .. } => {
                !failures.is_empty() && failures.iter().all(Self::is_integrity)
            }
            _ => false,
        }
    }
}

struct Failures<'a>(&'a [Error]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no store was given");
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "store {i}: {e}")?;
        }
        Ok(())
    }
}
