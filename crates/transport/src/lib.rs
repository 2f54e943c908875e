#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod block;
mod car;
mod dagpb;
mod dir;
mod error;
mod faulty;
mod memory;
mod read;
mod transport;
mod unixfs;
mod varint;
mod walk;

#[cfg(feature = "test-util")]
pub mod conformance;
#[doc(hidden)]
pub mod fuzzing;

pub use block::{Block, BlockStat, MAX_BLOCK_LEN};
pub use car::{CarReader, CarSummary, CarWriter};
pub use dir::DirStore;
pub use error::Error;
pub use faulty::{Faults, FaultyStore};
pub use memory::MemoryStore;
pub use read::{DEFAULT_READ_WINDOW, Failed, FailureKind, Served, VerifiedRead};
pub use transport::Transport;
pub use unixfs::{
    Child, FileBuilder, FileNode, ImportParams, ImportedFile, MAX_CHUNK_LEN, MAX_LINKS, Profile,
    import_bytes, raw_leaves_root,
};
pub use walk::{UploadReport, upload};

pub use dataseal_base::Cid;
