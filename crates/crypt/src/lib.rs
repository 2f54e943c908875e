#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod decrypt;
mod encrypt;
mod error;
mod files;
mod header;
mod keywrap;
mod primitive;
mod schedule;
mod sealed;

pub use decrypt::{ChunkSource, Decryptor, SeekSource};
pub use encrypt::{ChunkSink, Encryptor, WriteSink};
pub use error::Error;
pub use files::{decrypt_to_file, encrypt_to_files};
pub use header::{
    ChunkSize, Commitment, FORMAT_VERSION, MAX_PLAINTEXT_LEN, ObjectHeader, SUITE, Salt, TAG_LEN,
};
pub use keywrap::{
    Identity, Recipient, WrappedKey, open_kek, open_sealed, seal_kek, seal_to_recipients,
};

pub use sealed::{MAX_SEALED_LEN, SEALED_VERSION, SealedEntry, SealedSection};

pub use dataseal_base::{Cid, DataKey, KeyEncryptionKey, ObjectId};
