#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod db;
mod error;
mod registry;
mod types;

pub use db::{BackendKind, OpenOptions};
pub use error::Error;
pub use registry::Registry;
pub use types::{
    Actor, Change, DecisionView, GrantRevocation, Hold, HoldId, HoldScope, KnownVersion,
    LifecycleState, NewVersion, ReadRecord, Reason, SourceId, Stewardship, StoredCheckpoint,
    TransitionRecord, VersionStatus,
};
