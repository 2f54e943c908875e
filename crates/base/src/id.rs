use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// The longest object id accepted, in bytes of UTF-8.
const MAX_OBJECT_ID_LEN: usize = 1024;

/// Names one encrypted object: by convention `DATASET@VERSION/PATH`, but any
/// non-empty UTF-8 string of at most 1024 bytes without control characters.
///
/// The object id is bound into every key derived for the object, so a chunk or a wrapped
/// key cannot be moved from one object to another without detection.
///
/// ```
/// use dataseal_base::ObjectId;
/// let id: ObjectId = "imagenet-mini@1.0.0/train/part-0001.parquet".parse()?;
/// assert_eq!(id.as_str(), "imagenet-mini@1.0.0/train/part-0001.parquet");
/// assert!("".parse::<ObjectId>().is_err());
/// assert!("tab\there".parse::<ObjectId>().is_err());
/// # Ok::<(), dataseal_base::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(String);

impl ObjectId {
    /// Checks and wraps an object id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidObjectId`] if `id` is empty, longer than 1024 bytes, or holds a
    /// control character (C0, DEL or C1).
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if id.is_empty() {
            return Err(Error::InvalidObjectId("empty"));
        }
        if id.len() > MAX_OBJECT_ID_LEN {
            return Err(Error::InvalidObjectId("longer than 1024 bytes"));
        }
        if id.chars().any(char::is_control) {
            return Err(Error::InvalidObjectId("contains a control character"));
        }
        Ok(Self(id))
    }

    /// The id as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's UTF-8 bytes, as bound into key derivation.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for ObjectId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({:?})", self.0)
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert!(ObjectId::new("a".repeat(1024)).is_ok());
        assert!(ObjectId::new("a".repeat(1025)).is_err());
        assert!(ObjectId::new("x\u{7f}").is_err());
        assert!(ObjectId::new("x\u{85}").is_err());
        assert!(ObjectId::new("données/été.csv").is_ok());
    }

    #[test]
    fn serde_checks() {
        let id: ObjectId = serde_json::from_str("\"a/b\"").unwrap();
        assert_eq!(id.as_str(), "a/b");
        assert!(serde_json::from_str::<ObjectId>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"a/b\"");
    }
}
