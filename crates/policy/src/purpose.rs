//! The closed vocabulary of purposes a request, a grant and a manifest may name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// Why data is used: one of a closed list of names, parsed strictly.
///
/// A purpose outside the list (`"ads-commercial"`, `"Training"`) is refused when a
/// request, a grant or a manifest is read, so a made-up name can never match a policy
/// by accident. Policies compare purposes by equality and set membership only; which
/// purposes are commercial is written out in the policies (see
/// [`DataPurpose::COMMERCIAL`]).
///
/// ```
/// use dataseal_policy::DataPurpose;
/// assert_eq!("training".parse::<DataPurpose>()?, DataPurpose::Training);
/// assert!(DataPurpose::CommercialFineTuning.is_commercial());
/// assert!("ads-commercial".parse::<DataPurpose>().is_err());
/// # Ok::<(), dataseal_policy::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DataPurpose {
    /// `research`: non-commercial research.
    Research,
    /// `training`: training a model.
    Training,
    /// `evaluation`: evaluating a model.
    Evaluation,
    /// `embedding`: computing embeddings.
    Embedding,
    /// `analytics`: statistics and reporting.
    Analytics,
    /// `commercial-training`: training a model that is sold or served commercially.
    CommercialTraining,
    /// `commercial-fine-tuning`: fine-tuning a model for commercial use.
    CommercialFineTuning,
    /// `commercial-analytics`: statistics and reporting for a commercial product.
    CommercialAnalytics,
}

impl DataPurpose {
    /// Every purpose.
    pub const ALL: [Self; 8] = [
        Self::Research,
        Self::Training,
        Self::Evaluation,
        Self::Embedding,
        Self::Analytics,
        Self::CommercialTraining,
        Self::CommercialFineTuning,
        Self::CommercialAnalytics,
    ];

    /// The commercial purposes: the set the licence policies list by name.
    pub const COMMERCIAL: [Self; 3] = [
        Self::CommercialTraining,
        Self::CommercialFineTuning,
        Self::CommercialAnalytics,
    ];

    /// The purpose's name (`commercial-fine-tuning`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Research => "research",
            Self::Training => "training",
            Self::Evaluation => "evaluation",
            Self::Embedding => "embedding",
            Self::Analytics => "analytics",
            Self::CommercialTraining => "commercial-training",
            Self::CommercialFineTuning => "commercial-fine-tuning",
            Self::CommercialAnalytics => "commercial-analytics",
        }
    }

    /// Whether the purpose is commercial.
    #[must_use]
    pub fn is_commercial(self) -> bool {
        Self::COMMERCIAL.contains(&self)
    }
}

impl fmt::Display for DataPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataPurpose {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| Error::InvalidId {
                what: "purpose",
                value: s.to_owned(),
                rule: "one of research, training, evaluation, embedding, analytics, commercial-training, commercial-fine-tuning, commercial-analytics",
            })
    }
}

impl TryFrom<&dataseal_base::Purpose> for DataPurpose {
    type Error = Error;
    fn try_from(p: &dataseal_base::Purpose) -> Result<Self, Error> {
        p.as_str().parse()
    }
}

impl Serialize for DataPurpose {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DataPurpose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_is_a_manifest_token() {
        for p in DataPurpose::ALL {
            assert_eq!(p.as_str().parse::<DataPurpose>().ok(), Some(p));
            assert!(p.as_str().parse::<dataseal_base::Purpose>().is_ok());
        }
        for bad in ["ads-commercial", "commercial", "Training", " research", ""] {
            assert!(bad.parse::<DataPurpose>().is_err(), "{bad}");
        }
    }
}
