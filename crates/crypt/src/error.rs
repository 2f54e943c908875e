use std::io;

/// Everything that can go wrong in `dataseal-crypt`.
///
/// Integrity failures are deliberately terse: [`Error::Chunk`] names the chunk that failed
/// and nothing else about why (a flipped bit, a truncation, a chunk from elsewhere and a
/// wrong position all look the same), so an attacker learns nothing from the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object header is malformed: a field is missing, unknown, out of range or
    /// inconsistent with another. The message names the field.
    #[error("malformed object header: {0}")]
    Header(String),
    /// The chunk size is not a power of two between 64 KiB and 1 MiB.
    #[error("invalid chunk size {0}: must be a power of two from 65536 to 1048576 bytes")]
    ChunkSize(u64),
    /// The key commitment in the header does not match the key: a wrong data key, or a
    /// header (object id, salt, chunk size, …) that does not belong to this ciphertext.
    /// Checked before any chunk is opened.
    #[error("key commitment mismatch: wrong data key or a header that is not this object's")]
    KeyCommitment,
    /// Chunk `index` failed authentication, is missing, or is truncated.
    #[error("chunk {index} failed authentication")]
    Chunk {
        /// The index of the first chunk that failed.
        index: u64,
    },
    /// The ciphertext continues past the last chunk the header announces.
    #[error("ciphertext has trailing data past the {expected}-byte object")]
    TrailingData {
        /// The ciphertext length the header announces.
        expected: u64,
    },
    /// A byte range lies (partly) outside the plaintext.
    #[error("range {offset}+{len} is outside the {plaintext_len}-byte plaintext")]
    Range {
        /// Requested start.
        offset: u64,
        /// Requested length.
        len: u64,
        /// The object's plaintext length.
        plaintext_len: u64,
    },
    /// A resumed encryption made chunk `index` differently from the chunk recorded before
    /// the interruption (the plaintext changed, or the record is another object's). The
    /// chunk was handed to no sink: the same key and nonce never seal two plaintexts.
    #[error(
        "resuming: chunk {index} differs from the chunk recorded before the interruption (the input changed)"
    )]
    ResumeMismatch {
        /// The index of the first chunk that differs (or, for an input now shorter, the
        /// first recorded chunk it no longer has).
        index: u64,
    },
    /// The input is longer than the format allows (2^53 − 1 bytes).
    #[error("input longer than 2^53 - 1 bytes")]
    TooLarge,
    /// A wrapped data key is not 146 lowercase hexadecimal characters of format version 1.
    #[error("malformed wrapped key: expected 146 lowercase hexadecimal characters, version 01")]
    WrappedKeyFormat,
    /// A wrapped data key does not open under this key-encryption key and object id, or
    /// was modified.
    #[error("cannot unwrap the data key: {0}")]
    KeyUnwrap(&'static str),
    /// A sealed section (or its body) is malformed; the message names what.
    #[error("malformed sealed section: {0}")]
    SealedFormat(String),
    /// A sealed section does not open: a wrong key-encryption key, a section from another
    /// version, or a modified one.
    #[error(
        "the sealed section does not open: wrong key-encryption key, another version's section, or modified"
    )]
    SealedOpen,
    /// Sealing or opening an age file failed.
    #[error("age: {0}")]
    Age(String),
    /// Reading the input or writing the output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// An identifier or key was invalid.
    #[error(transparent)]
    Base(#[from] dataseal_base::Error),
}
