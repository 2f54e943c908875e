use std::fmt;
use std::path::{Component, Path};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

const MAX_PATH_LEN: usize = 4096;

/// The canonical relative path of an object: UTF-8, `/` separators, no empty, `.` or
/// `..` components, no leading or trailing `/`, no backslash or control character, at
/// most 4096 bytes. No Unicode normalisation is applied: two names that differ in bytes
/// are two objects.
///
/// Paths order by their UTF-8 bytes, which is the order objects are listed in, so
/// `x-y` sorts before `x/z` (`-` is 0x2D, `/` is 0x2F) and `Z` before `a`.
///
/// ```
/// use dataseal_manifest::CanonicalPath;
/// let p: CanonicalPath = "train/shard-0001.parquet".parse()?;
/// assert_eq!(p.as_str(), "train/shard-0001.parquet");
/// for bad in ["", "/abs", "a//b", "a/./b", "../up", "dir/", "back\\slash"] {
///     assert!(bad.parse::<CanonicalPath>().is_err(), "{bad}");
/// }
/// let mut v: Vec<CanonicalPath> = ["x/z", "x-y", "Z", "a"].iter().map(|s| s.parse().unwrap()).collect();
/// v.sort();
/// assert_eq!(v.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["Z", "a", "x-y", "x/z"]);
/// # Ok::<(), dataseal_manifest::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CanonicalPath(String);

impl CanonicalPath {
    /// Checks a `/`-separated relative path.
    ///
    /// # Errors
    ///
    /// [`Error::Path`] naming the rule broken.
    pub fn new(path: impl Into<String>) -> Result<Self, Error> {
        let path = path.into();
        let reason = if path.is_empty() {
            Some("empty")
        } else if path.len() > MAX_PATH_LEN {
            Some("longer than 4096 bytes")
        } else if path.starts_with('/') {
            Some("absolute")
        } else if path.chars().any(char::is_control) {
            Some("contains a control character")
        } else if path.contains('\\') {
            Some("contains a backslash")
        } else if path.split('/').any(str::is_empty) {
            Some("has an empty component")
        } else if path.split('/').any(|c| c == "." || c == "..") {
            Some("has a '.' or '..' component")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::Path { path, reason }),
            None => Ok(Self(path)),
        }
    }

    /// The canonical form of a relative file-system path.
    ///
    /// # Errors
    ///
    /// [`Error::Path`] if a component is not UTF-8, the path is not relative, or the
    /// result breaks a rule of [`CanonicalPath::new`].
    pub fn from_relative(path: &Path) -> Result<Self, Error> {
        let mut parts = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(name) => match name.to_str() {
                    Some(s) => parts.push(s),
                    None => {
                        return Err(Error::Path {
                            path: path.to_string_lossy().into_owned(),
                            reason: "not valid UTF-8",
                        });
                    }
                },
                _ => {
                    return Err(Error::Path {
                        path: path.to_string_lossy().into_owned(),
                        reason: "not a plain relative path",
                    });
                }
            }
        }
        Self::new(parts.join("/"))
    }

    /// The path as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CanonicalPath {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl fmt::Display for CanonicalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CanonicalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CanonicalPath({:?})", self.0)
    }
}

impl Serialize for CanonicalPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CanonicalPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}
