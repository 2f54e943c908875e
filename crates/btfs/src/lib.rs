#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod caps;
mod cat;
mod client;
mod error;
mod store;
mod wire;

#[doc(hidden)]
pub mod fuzzing;

pub use caps::{BlockPutStyle, Capabilities, MissingBlocks, NodeVersion};
pub use cat::CatSummary;
pub use client::{Client, ClientBuilder, USER_AGENT};
pub use error::Error;

pub use dataseal_transport::{Cid, Transport};
