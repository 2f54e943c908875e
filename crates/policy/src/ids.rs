//! Identifiers of principals, groups and collections, and the actions.

use std::fmt;
use std::str::FromStr;

use dataseal_base::{Cid, DatasetId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control) && s.trim() == s
}

dataseal_base::validated_name! {
    /// A person (`Dataseal::User`).
    ///
    /// ```
    /// use dataseal_policy::UserId;
    /// assert!("alice@example.org".parse::<UserId>().is_ok());
    /// assert!("".parse::<UserId>().is_err());
    /// ```
    pub struct UserId;
    what: "user id",
    rule: "1-256 characters, no control characters, no surrounding spaces",
    check: id_ok,
    error: |what, value, rule| -> Error { Error::InvalidId { what, value, rule } },
    debug: quoted,
}

dataseal_base::validated_name! {
    /// A service account: a training job, a pipeline (`Dataseal::ServiceAccount`).
    pub struct ServiceAccountId;
    what: "service account id",
    rule: "1-256 characters, no control characters, no surrounding spaces",
    check: id_ok,
    error: |what, value, rule| -> Error { Error::InvalidId { what, value, rule } },
    debug: quoted,
}

dataseal_base::validated_name! {
    /// A group, team or organisation (`Dataseal::Group`).
    pub struct GroupId;
    what: "group id",
    rule: "1-256 characters, no control characters, no surrounding spaces",
    check: id_ok,
    error: |what, value, rule| -> Error { Error::InvalidId { what, value, rule } },
    debug: quoted,
}

dataseal_base::validated_name! {
    /// A collection of datasets (`Dataseal::Collection`).
    pub struct CollectionId;
    what: "collection id",
    rule: "1-256 characters, no control characters, no surrounding spaces",
    check: id_ok,
    error: |what, value, rule| -> Error { Error::InvalidId { what, value, rule } },
    debug: quoted,
}

/// Who asks: a person or a service account.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Principal {
    /// A person.
    User(UserId),
    /// A service account.
    ServiceAccount(ServiceAccountId),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(u) => write!(f, "user:{u}"),
            Self::ServiceAccount(s) => write!(f, "service-account:{s}"),
        }
    }
}

/// What is asked about: a dataset version (by manifest CID) or a dataset (for uploads).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Resource {
    /// A dataset version, named by its manifest CID.
    Version(Cid),
    /// A dataset across its versions.
    Dataset(DatasetId),
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version(c) => write!(f, "version:{c}"),
            Self::Dataset(d) => write!(f, "dataset:{d}"),
        }
    }
}

/// The actions of the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Read the data in place.
    Read,
    /// Take a copy of the data.
    Download,
    /// Evaluate a model on the data.
    Evaluate,
    /// Train a model on the data.
    Train,
    /// Fine-tune a model for commercial use.
    FineTuneCommercial,
    /// Compute embeddings of the data.
    Embed,
    /// Add a version to a dataset.
    Upload,
    /// Sign off a version.
    Approve,
    /// Publish a version.
    Publish,
    /// Withdraw a version.
    Revoke,
    /// Freeze a version as evidence.
    PlaceLegalHold,
    /// Lift a legal hold.
    LiftLegalHold,
    /// Destroy a version's keys.
    Erase,
    /// Read a version's manifest and audit trail.
    Inspect,
}

impl Action {
    /// Every action, data actions first.
    pub const ALL: [Self; 14] = [
        Self::Read,
        Self::Download,
        Self::Evaluate,
        Self::Train,
        Self::FineTuneCommercial,
        Self::Embed,
        Self::Upload,
        Self::Approve,
        Self::Publish,
        Self::Revoke,
        Self::PlaceLegalHold,
        Self::LiftLegalHold,
        Self::Erase,
        Self::Inspect,
    ];

    /// The data actions: those that release plaintext or something derived from it.
    pub const DATA: [Self; 6] = [
        Self::Read,
        Self::Download,
        Self::Evaluate,
        Self::Train,
        Self::FineTuneCommercial,
        Self::Embed,
    ];

    /// The action's name in the schema (`fine-tune-commercial`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Download => "download",
            Self::Evaluate => "evaluate",
            Self::Train => "train",
            Self::FineTuneCommercial => "fine-tune-commercial",
            Self::Embed => "embed",
            Self::Upload => "upload",
            Self::Approve => "approve",
            Self::Publish => "publish",
            Self::Revoke => "revoke",
            Self::PlaceLegalHold => "place-legal-hold",
            Self::LiftLegalHold => "lift-legal-hold",
            Self::Erase => "erase",
            Self::Inspect => "inspect",
        }
    }

    /// Whether this is a data action.
    #[must_use]
    pub fn is_data(self) -> bool {
        Self::DATA.contains(&self)
    }

    pub(crate) fn index(self) -> usize {
        Self::ALL.iter().position(|a| *a == self).unwrap_or(0)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::InvalidId {
                what: "action",
                value: s.to_owned(),
                rule: "one of read, download, evaluate, train, fine-tune-commercial, embed, upload, approve, publish, revoke, place-legal-hold, lift-legal-hold, erase, inspect",
            })
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
