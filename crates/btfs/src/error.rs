use std::io;

use dataseal_base::Cid;

/// Everything that can go wrong talking to a node.
///
/// Staged like a request: the node could not be asked ([`Error::Unreachable`],
/// [`Error::Timeout`]), it answered with an error ([`Error::Http`], [`Error::NotFound`]),
/// its answer did not parse ([`Error::Malformed`], [`Error::BadCid`]), or it parsed and
/// was wrong ([`Error::CidMismatch`], [`Error::Integrity`]). Through the
/// [`Transport`](dataseal_transport::Transport) trait these arrive as
/// [`dataseal_transport::Error`] (see the `From` conversion, which says where each goes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The node's address is not an `http` or `https` URL, or the HTTP client could not
    /// be built.
    #[error("invalid node address {url:?}: {detail}")]
    InvalidUrl {
        /// The address given.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The node could not be reached: connection refused or reset, name resolution or
    /// TLS failure, or the connection dropped mid-answer.
    #[error("node unreachable at {endpoint}: {detail}")]
    Unreachable {
        /// The endpoint called (URL without the query).
        endpoint: String,
        /// What the HTTP client reported.
        detail: String,
    },
    /// The caller's time limit ran out before the node answered.
    #[error("no answer from {endpoint} within the time limit")]
    Timeout {
        /// The endpoint called.
        endpoint: String,
    },
    /// The node answered with an HTTP error status. `message` is the node's own error
    /// text when it sent one (`{"Message": …}`), or the start of its answer otherwise.
    #[error("{endpoint} answered HTTP {status}: {message}")]
    Http {
        /// The endpoint called.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The node's error message.
        message: String,
    },
    /// The node does not hold this block (or DAG root).
    #[error("the node does not hold block {0}")]
    NotFound(Cid),
    /// A block reachable from a root the node was asked to pin is not on the node.
    #[error("the node lacks block {missing}, linked from the DAG being pinned")]
    Incomplete {
        /// The missing block, as the node named it.
        missing: Cid,
    },
    /// The node's answer does not have the documented shape.
    #[error("malformed answer from {endpoint}: {detail}")]
    Malformed {
        /// The endpoint called.
        endpoint: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The node answered with a CID that does not parse (or is not SHA2-256).
    #[error("{endpoint} answered with CID {text:?}, which does not parse: {detail}")]
    BadCid {
        /// The endpoint called.
        endpoint: String,
        /// The text the node sent.
        text: String,
        /// Why it does not parse.
        detail: String,
    },
    /// The node addressed data under another CID than the one computed locally: the node
    /// ignored a parameter (BTFS's `add` ignores `cid-version`), chunks or lays out
    /// differently, or lies. Fails closed: the data is not to be trusted under either CID.
    #[error("the node answered CID {got} where {expected} was computed locally")]
    CidMismatch {
        /// The CID computed locally.
        expected: Box<Cid>,
        /// The CID the node answered.
        got: Box<Cid>,
    },
    /// A block the node served does not hash to the CID it was asked for.
    #[error("the node served bytes for block {cid} that do not hash to its CID")]
    Integrity {
        /// The CID asked for.
        cid: Cid,
    },
    /// A block over the node's limit ([`Capabilities::max_block_len`](crate::Capabilities)),
    /// to be sent or served.
    #[error("block of {len} bytes is over the limit of {limit} bytes")]
    BlockTooLarge {
        /// The block's length (for a block served, at least this much).
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// The node, as its capabilities describe it, cannot do this.
    #[error("unsupported by this node: {0}")]
    Unsupported(String),
    /// An error from the transport layer: a CAR stream or file that does not parse, a
    /// bad chunk size.
    #[error(transparent)]
    Transport(Box<dataseal_transport::Error>),
    /// A local I/O error: reading the file to add, writing an export.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl From<dataseal_transport::Error> for Error {
    fn from(err: dataseal_transport::Error) -> Self {
        Self::Transport(Box::new(err))
    }
}

impl Error {
    pub(crate) fn mismatch(expected: Cid, got: Cid) -> Self {
        Self::CidMismatch {
            expected: Box::new(expected),
            got: Box::new(got),
        }
    }

    pub(crate) fn malformed(endpoint: &str, detail: impl Into<String>) -> Self {
        Self::Malformed {
            endpoint: endpoint.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether asking again later, or another node, may succeed: the node was
    /// unreachable, too slow, or answered with an HTTP error.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::Http { .. }
        )
    }

    /// Whether the data was found to be wrong: a CID mismatch or a block that does not
    /// hash to its CID (or the transport layer's equivalent).
    #[must_use]
    pub fn is_integrity(&self) -> bool {
        match self {
            Self::CidMismatch { .. } | Self::Integrity { .. } => true,
            Self::Transport(e) => e.is_integrity(),
            _ => false,
        }
    }
}

/// How node errors travel through the [`Transport`](dataseal_transport::Transport) trait:
/// unreachable, timeout and HTTP errors, and answers that do not parse (malformed, bad
/// CIDs), become `Unavailable`: the node could not serve, and a multi-store reader moves
/// on to the next store. `NotFound`, `Incomplete`, `Integrity`, `BlockTooLarge` and `Io`
/// keep their meaning, and so does `CidMismatch` (both CIDs kept; an integrity failure);
/// an invalid address and unsupported requests
/// become `Malformed` (the request was wrong, not the node). The message always keeps the
/// whole story.
impl From<Error> for dataseal_transport::Error {
    fn from(err: Error) -> Self {
        use dataseal_transport::Error as T;
        match err {
            Error::Unreachable { .. }
            | Error::Timeout { .. }
            | Error::Http { .. }
            | Error::Malformed { .. }
            | Error::BadCid { .. } => T::Unavailable(err.to_string()),
            Error::NotFound(cid) => T::NotFound(cid),
            Error::Incomplete { missing } => T::Incomplete { missing },
            Error::Integrity { cid } => T::Integrity { cid },
            Error::CidMismatch { expected, got } => T::CidMismatch { expected, got },
            Error::BlockTooLarge { len, limit } => T::BlockTooLarge { len, limit },
            Error::Io { context, source } => T::Io { context, source },
            Error::Transport(inner) => *inner,
            Error::InvalidUrl { .. } => T::Malformed {
                what: "node address",
                detail: err.to_string(),
            },
            Error::Unsupported(_) => T::Malformed {
                what: "request",
                detail: err.to_string(),
            },
        }
    }
}
