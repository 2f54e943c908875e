#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access;
pub mod blocks;
mod broker;
mod catalog;
mod error;
mod fetch;
mod fsutil;
mod journal;
pub mod keys;
mod meta;
mod open;
mod publish;
mod quarantine;
mod records;
mod rules;
mod steward;
mod store;
mod verify;

use std::sync::Arc;

pub use access::{
    GRANT_LEEWAY_SECS, GateConfig, OwnedGate, open_audit_log, parse_approver, parse_principal,
};
pub use broker::{FileBroker, KeyBroker, Release};
pub use catalog::{Catalog, CatalogEntry, DirCatalog};
pub use error::{Error, ErrorKind};
pub use fetch::{
    Fetch, Fetched, FetchedFile, Gate, MAX_ENVELOPE_LEN, RECEIPT_PAYLOAD_TYPE, Receipt,
    ReceiptObject, ServedChunk,
};
pub use fsutil::AtomicFile;
pub use meta::DatasetMeta;
pub use open::{ObjectInfo, ObjectReader, OpenVersion, RangeProgress};
pub use publish::{PlacedObject, Publish, Published};
pub use quarantine::{Problem, Quarantine, QuarantineReport, SourceFile};
pub use records::{
    Approved, ERASURE_PAYLOAD_TYPE, Erase, ErasureReceipt, Sweep, Swept, SyncRegistry,
    UnpinnedStore, stewardship,
};
pub use rules::{ClassRule, PlacementRules, RegionRule, region_within};
pub use steward::Steward;
pub use store::{Provider, Store, StoreSpec};
pub use verify::{ObjectReplicas, Repair, RepairReport, RepairedObject, Verify, VerifyReport};

/// The library crates, for what the facade does not wrap.
pub use dataseal_base as base;
pub use dataseal_btfs as btfs;
pub use dataseal_crypt as crypt;
pub use dataseal_manifest as manifest;
pub use dataseal_policy as policy;
pub use dataseal_registry as registry;
pub use dataseal_reputation as reputation;
pub use dataseal_transport as transport;

pub use dataseal_base::{
    Cid, DatasetId, ProviderId, Purpose, Region, Role, SigningKey, Timestamp, VerifyingKey,
};
pub use dataseal_crypt::{Identity, Recipient};
pub use dataseal_manifest::Sensitivity;

/// How far a long operation has got.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Plaintext bytes done.
    pub bytes_done: u64,
    /// Plaintext bytes in all.
    pub bytes_total: u64,
    /// The object being worked on.
    pub object: String,
}

/// A progress callback.
pub(crate) type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// The runtime a synchronous call drives its async I/O on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::Invalid(
            "dataseal's synchronous API was called inside an async runtime: call it from spawn_blocking"
                .to_owned(),
        ));
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))
}
