#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attest;
mod bits;
mod btfs;
mod decay;
mod default;
mod error;
mod event;
mod id;
mod log;
mod model;
mod scored;
mod select;
mod sim;
mod sketch;
mod tier;

pub use attest::{PROVIDER_SCORE_PREDICATE_TYPE, ProviderAttestation, STATEMENT_TYPE};
pub use btfs::{BtfsModel, BtfsParams};
pub use default::{
    DefaultModel, DefaultParams, LatencyParams, SignalParams, TransitionParams, VettingParams,
};
pub use error::Error;
pub use event::{
    EVENT_SCHEMA_VERSION, Event, EventKind, OnMalformed, Outcome, ParsedEvents, SkippedLine,
    parse_events,
};
pub use id::{ModelId, NetworkGroup, ObserverId, ParamsDigest, Sha256Digest, params_digest};
pub use log::{EventLog, LogHead, LogProblem};
pub use model::{ScoreBreakdown, ScoringModel, Snapshot, Status};
pub use scored::{Scored, attestation_file_name};
pub use select::{Candidate, Placement, choose_providers, order_for_read};
pub use sim::{
    Behaviour, ModelReport, ProviderGroup, Scenario, SimulationReport, baseline_models, simulate,
};
pub use sketch::DdSketch;
pub use tier::{Tier, TierParams, TierRequirement};

pub use dataseal_base::{ProviderId, Region, Timestamp};
