use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// The role a signer acts in (`publisher`, `compliance`, `steward`, …): 1 to 64
/// characters from `a-z`, `0-9`, `-` and `_`, starting with a letter.
///
/// ```
/// use dataseal_base::Role;
/// let r: Role = "compliance".parse()?;
/// assert_eq!(r.as_str(), "compliance");
/// assert!("Compliance".parse::<Role>().is_err());
/// # Ok::<(), dataseal_base::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Role(String);

impl Role {
    /// Checks and wraps a role name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRole`] unless the name matches `[a-z][a-z0-9_-]{0,63}`.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        let ok = name.len() <= 64
            && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(name))
        } else {
            Err(Error::InvalidRole(name))
        }
    }

    /// The role name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Role({})", self.0)
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}
