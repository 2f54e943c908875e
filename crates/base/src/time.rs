use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::Error;

/// A point in time, to the second, in UTC.
///
/// Its text form is the one canonical RFC 3339 spelling `YYYY-MM-DDTHH:MM:SSZ`: UTC,
/// upper-case `T` and `Z`, no fractional seconds. Only that spelling is accepted when
/// parsing, so a timestamp inside signed, content-addressed bytes has exactly one
/// encoding. Time is always passed in explicitly; nothing here reads the clock except
/// [`Timestamp::now`].
///
/// ```
/// use dataseal_base::Timestamp;
/// let t: Timestamp = "2026-11-21T05:00:00Z".parse()?;
/// assert_eq!(t.unix_seconds(), 1_795_237_200);
/// assert_eq!(t.to_string(), "2026-11-21T05:00:00Z");
/// assert!("2026-11-21T05:00:00+00:00".parse::<Timestamp>().is_err());
/// assert!("2026-11-21T05:00:00.5Z".parse::<Timestamp>().is_err());
/// # Ok::<(), dataseal_base::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Years 0000 to 9999 only, so the text form is always four digits of year.
const MIN_UNIX: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
const MAX_UNIX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

impl Timestamp {
    /// From seconds since the Unix epoch.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTimestamp`] outside the years 0000–9999.
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, Error> {
        if (MIN_UNIX..=MAX_UNIX).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(Error::InvalidTimestamp(format!(
                "{seconds} s is outside the years 0000-9999"
            )))
        }
    }

    /// The current time from the system clock, truncated to the second.
    #[must_use]
    pub fn now() -> Self {
        Self(
            OffsetDateTime::now_utc()
                .unix_timestamp()
                .clamp(MIN_UNIX, MAX_UNIX),
        )
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// This time plus `seconds` (which may be negative), saturating at the ends of the
    /// representable range.
    #[must_use]
    pub fn saturating_add_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds).clamp(MIN_UNIX, MAX_UNIX))
    }
}

impl FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad =
            || Error::InvalidTimestamp(format!("{s:?} is not of the form YYYY-MM-DDTHH:MM:SSZ"));
        let shape_ok = s.len() == 20
            && s.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                10 => b == b'T',
                13 | 16 => b == b':',
                19 => b == b'Z',
                _ => b.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(bad());
        }
        let dt = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?;
        Self::from_unix_seconds(dt.unix_timestamp())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = OffsetDateTime::from_unix_timestamp(self.0)
            .map_err(|_| fmt::Error)?
            .to_offset(UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_only() {
        for good in [
            "1970-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T12:34:56Z",
        ] {
            let t: Timestamp = good.parse().unwrap();
            assert_eq!(t.to_string(), good);
        }
        for bad in [
            "2026-11-21t05:00:00Z",
            "2026-11-21T05:00:00z",
            "2026-11-21 05:00:00Z",
            "2026-11-21T05:00:00",
            "2026-11-21T05:00:00+01:00",
            "2026-11-21T05:00Z",
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "+2026-11-21T05:00:00Z",
            "",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
        assert!(Timestamp::from_unix_seconds(MAX_UNIX + 1).is_err());
        assert_eq!(
            Timestamp::from_unix_seconds(0)
                .unwrap()
                .saturating_add_seconds(i64::MAX)
                .unix_seconds(),
            MAX_UNIX
        );
    }
}
