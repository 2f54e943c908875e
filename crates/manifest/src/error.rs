use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in `dataseal-manifest`.
///
/// Variants are staged like the pipeline: parsing ([`Error::Json`],
/// [`Error::NonCanonical`], [`Error::Invalid`], [`Error::Path`],
/// [`Error::PathCollision`]), signatures
/// ([`Error::Signature`]), and the file system ([`Error::Io`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed JSON, a missing or unknown field, or a value of the wrong type; the
    /// message names the field.
    #[error("malformed {what}: {message}")]
    Json {
        /// What was being parsed (`manifest`, `statement`, `envelope`, …).
        what: &'static str,
        /// The parser's message, naming the field and position.
        message: String,
    },
    /// The payload parses but is not in canonical form (RFC 8785 restricted to the
    /// DAG-JSON-compatible subset): the signed bytes would not be the manifest's only
    /// encoding.
    #[error("non-canonical payload: {0}")]
    NonCanonical(String),
    /// The manifest breaks a schema rule; the message names the field.
    #[error("invalid manifest: {0}")]
    Invalid(String),
    /// A path cannot be a canonical object path.
    #[error("invalid path {path:?}: {reason}")]
    Path {
        /// The offending path, lossily converted to text.
        path: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// Two object paths cannot both be written to a case-insensitive or
    /// Unicode-normalising file system (ext4 with casefold, APFS, NTFS, FAT) and read back
    /// under the same names: equal after Unicode NFKC normalisation and case folding, a
    /// file where the other path needs a directory, or one directory spelled two ways.
    #[error("paths {first:?} and {second:?} collide: {reason}")]
    PathCollision {
        /// The path listed (or found) first.
        first: String,
        /// The path that collides with it.
        second: String,
        /// How they collide.
        reason: &'static str,
    },
    /// The envelope is malformed or its signatures do not meet the trust policy.
    #[error(transparent)]
    Signature(#[from] dataseal_base::Error),
    /// Reading the directory or a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn json(what: &'static str, e: &serde_json::Error) -> Self {
        Self::Json {
            what,
            message: e.to_string(),
        }
    }

    /// A parse error with the path of the field at fault (`objects[3].size: …`).
    pub(crate) fn json_at(
        what: &'static str,
        e: &serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let path = e.path().to_string();
        let message = if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        };
        Self::Json { what, message }
    }
}
