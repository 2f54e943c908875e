use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::Error;

/// A point in time, to the second, in UTC.
///
/// Its text form is the one canonical RFC 3339 spelling `YYYY-MM-DDTHH:MM:SSZ`: UTC,
/// upper-case `T` and `Z`, no fractional seconds, no leap second (`23:59:60`, which RFC
/// 3339 allows but Unix time cannot tell from `23:59:59`). Only that spelling is accepted
/// when parsing, and parsing checks that the value prints back to the same text, so a
/// timestamp inside signed, content-addressed bytes has exactly one encoding. Time is always passed in explicitly; nothing here reads the clock except
/// [`Timestamp::now`].
///
/// ```
/// use dataseal_base::Timestamp;
/// let t: Timestamp = "2026-11-21T05:00:00Z".parse()?;
/// assert_eq!(t.unix_seconds(), 1_795_237_200);
/// assert_eq!(t.to_string(), "2026-11-21T05:00:00Z");
/// assert!("2026-11-21T05:00:00+00:00".parse::<Timestamp>().is_err());
/// assert!("2026-11-21T05:00:00.5Z".parse::<Timestamp>().is_err());
/// assert!("2016-12-31T23:59:60Z".parse::<Timestamp>().is_err());
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
        // RFC 3339 allows a leap second, and the `time` crate accepts `23:59:60` on the
        // last day of a month as 23:59:59.999999999, which truncates to the same second
        // as `23:59:59`: two spellings of one instant. Unix time has no leap seconds.
        if s.get(17..19) == Some("60") {
            return Err(Error::InvalidTimestamp(format!(
                "{s:?} is a leap second (:60), which has no Unix time of its own; \
                 write the second before it (:59)"
            )));
        }
        let dt = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?;
        let t = Self::from_unix_seconds(dt.unix_timestamp())?;
        // One spelling per instant, whatever the parser tolerates.
        if t.to_string() != s {
            return Err(bad());
        }
        Ok(t)
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
            "2026-11-21T05:60:00Z",
            "2026-11-21T05:00:61Z",
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

    #[test]
    fn the_time_crate_takes_a_leap_second_as_the_second_before() {
        // Why the explicit check exists: without it these would parse as 23:59:59.
        let dt = OffsetDateTime::parse("2016-12-31T23:59:60Z", &Rfc3339).unwrap();
        assert_eq!(dt.unix_timestamp(), 1_483_228_799);
    }

    #[test]
    fn leap_seconds_are_refused() {
        for leap in [
            "2016-12-31T23:59:60Z", // a real leap second
            "1972-06-30T23:59:60Z", // the first one
            "2026-11-30T23:59:60Z", // the last second of a month, as `time` allows
            "2026-11-21T12:00:60Z", // not at the end of a day
            "9999-12-31T23:59:60Z",
        ] {
            let err = leap.parse::<Timestamp>().unwrap_err();
            assert!(err.to_string().contains("leap second"), "{leap}: {err}");
        }
        let before: Timestamp = "2016-12-31T23:59:59Z".parse().unwrap();
        assert_eq!(before.unix_seconds(), 1_483_228_799);
        let err = serde_json::from_str::<Timestamp>("\"2016-12-31T23:59:60Z\"").unwrap_err();
        assert!(err.to_string().contains("leap second"), "{err}");
    }

    proptest::proptest! {
        /// Every instant has exactly one spelling: printing and parsing round-trip, and
        /// no other text in the canonical shape parses to the same instant.
        #[test]
        fn one_spelling_per_instant(secs in MIN_UNIX..=MAX_UNIX) {
            let t = Timestamp::from_unix_seconds(secs).unwrap();
            let text = t.to_string();
            proptest::prop_assert_eq!(text.parse::<Timestamp>().unwrap(), t);
            proptest::prop_assert!(!text.contains(":60Z"));
        }

        #[test]
        fn whatever_parses_prints_back_identically(
            y in 0u32..=9999, mo in 0u32..=13, d in 0u32..=32,
            h in 0u32..=25, mi in 0u32..=61, s in 0u32..=61,
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
            if let Ok(t) = text.parse::<Timestamp>() {
                proptest::prop_assert_eq!(t.to_string(), text);
                proptest::prop_assert!(s < 60);
            }
        }
    }
}
