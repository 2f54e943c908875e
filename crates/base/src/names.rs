//! Small validated names: dataset ids, purposes and regions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $rule:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps a name.
            ///
            /// # Errors
            ///
            #[doc = concat!("[`Error::InvalidName`] unless the name is ", $rule, ".")]
            pub fn new(name: impl Into<String>) -> Result<Self, Error> {
                let name = name.into();
                let check: fn(&str) -> bool = $check;
                if check(&name) {
                    Ok(Self(name))
                } else {
                    Err(Error::InvalidName { what: $what, name, rule: $rule })
                }
            }

            /// The name as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

name_type! {
    /// Names a dataset across its versions (`imagenet-mini`, `acme.claims-2024`).
    ///
    /// ```
    /// use dataseal_base::DatasetId;
    /// assert!("acme.claims-2024".parse::<DatasetId>().is_ok());
    /// assert!("Acme".parse::<DatasetId>().is_err());
    /// ```
    DatasetId, "dataset id", "1-128 characters of a-z, 0-9, '.', '-', '_', starting with a letter or digit",
    |s| token(s, 128)
}

name_type! {
    /// Why data is used (`research`, `training`, `commercial-fine-tuning`, `evaluation`,
    /// `embedding`, …): a lowercase token the manifest lists as allowed and the policy
    /// engine compares with a request's purpose.
    ///
    /// ```
    /// use dataseal_base::Purpose;
    /// assert_eq!("research".parse::<Purpose>()?.as_str(), "research");
    /// assert!("Research".parse::<Purpose>().is_err());
    /// # Ok::<(), dataseal_base::Error>(())
    /// ```
    Purpose, "purpose", "1-64 characters of a-z, 0-9, '.', '-', '_', starting with a letter or digit",
    |s| token(s, 64)
}

name_type! {
    /// Where data may be stored or used: an ISO 3166-1 alpha-2 country code (`DE`, `US`),
    /// or one of the groups `EU`, `EEA` and `GLOBAL`.
    ///
    /// ```
    /// use dataseal_base::Region;
    /// assert!("DE".parse::<Region>().is_ok());
    /// assert!("EEA".parse::<Region>().is_ok());
    /// assert!("de".parse::<Region>().is_err());
    /// ```
    Region, "region", "two upper-case letters (ISO 3166-1 alpha-2) or EU, EEA or GLOBAL",
    |s| (s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())) || matches!(s, "EEA" | "GLOBAL")
}
