use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::Error;

/// Whether `s` has 1 to `max` bytes, each passing `ok`.
fn label(s: &str, max: usize, ok: fn(u8) -> bool) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(ok)
}

fn label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-' | b'/')
}

dataseal_base::validated_name! {
    /// Who made an observation: a client, a monitoring node, an auditor. 1 to 128
    /// printable ASCII characters without spaces (the same rule as a provider id).
    pub struct ObserverId;
    what: "observer id",
    rule: "1-128 printable ASCII characters without spaces",
    check: |s| label(s, 128, |b| b.is_ascii_graphic()),
    error: |what, value, rule| -> Error { Error::InvalidIdentifier { what, value, rule } },
}

dataseal_base::validated_name! {
    /// The network a provider reaches us through, used to spread replicas across
    /// operators (`AS3320`, `203.0.113.0/24`): 1 to 64 characters from
    /// `A-Z a-z 0-9 . _ : - /`.
    pub struct NetworkGroup;
    what: "network group",
    rule: "1-64 characters from A-Z a-z 0-9 . _ : - /",
    check: |s| label(s, 64, label_byte),
    error: |what, value, rule| -> Error { Error::InvalidIdentifier { what, value, rule } },
}

impl ModelId {
    /// Wraps a model id known to be valid (the constants of this crate's models).
    pub(crate) fn from_static(id: &'static str) -> Self {
        Self(id.to_owned())
    }
}

dataseal_base::validated_name! {
    /// Names a scoring model and its version (`dataseal-default/1`, `btfs-host-score/1`):
    /// 1 to 64 characters from `A-Z a-z 0-9 . _ : - /`. Two models with the same id and the
    /// same [`ParamsDigest`] must compute the same scores from the same log.
    pub struct ModelId;
    what: "model id",
    rule: "1-64 characters from A-Z a-z 0-9 . _ : - /",
    check: |s| label(s, 64, label_byte),
    error: |what, value, rule| -> Error { Error::InvalidIdentifier { what, value, rule } },
}

/// A SHA-256 digest, written `sha256:` followed by 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// The all-zero digest: the `prev` of the first record of an event log.
    pub const ZERO: Self = Self([0; 32]);

    /// The SHA-256 of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Wraps raw digest bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for Sha256Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidIdentifier {
            what: "sha256 digest",
            value: s.to_owned(),
            rule: "\"sha256:\" and 64 lowercase hex digits",
        };
        let hex_part = s.strip_prefix("sha256:").ok_or_else(bad)?;
        if hex_part.len() != 64 || hex_part.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| bad())?;
        Ok(Self(out))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The digest of a model's parameters: SHA-256 of their canonical JSON.
pub type ParamsDigest = Sha256Digest;

/// The digest of a model's parameters as serialised by `serde_json` (fields in
/// declaration order, no whitespace, shortest round-trip floats).
///
/// # Errors
///
/// [`Error::InvalidParams`] if the parameters do not serialise (a non-finite float).
pub fn params_digest<P: Serialize>(params: &P) -> Result<ParamsDigest, Error> {
    let bytes = serde_json::to_vec(params).map_err(|e| Error::InvalidParams(e.to_string()))?;
    Ok(Sha256Digest::of(&bytes))
}
