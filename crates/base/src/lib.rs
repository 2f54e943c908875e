#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod address;
pub mod dsse;
mod ed25519;
mod error;
mod id;
mod key;
mod names;
mod provider;
mod role;
mod time;

pub use address::{Cid, codec};
pub use ed25519::{SigningKey, VerifyingKey};
pub use error::Error;
pub use id::ObjectId;
pub use key::{DataKey, KeyEncryptionKey};
pub use names::{DatasetId, Purpose, Region};
pub use provider::ProviderId;
pub use role::Role;
pub use time::Timestamp;

/// Paths the expansion of [`validated_name!`] uses; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}

/// Fills `buf` with bytes from the operating system's cryptographically secure generator.
///
/// # Errors
///
/// [`Error::Random`] if the operating system cannot supply random bytes.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|_| Error::Random)
}
