//! Small validated names: dataset ids, purposes and regions, and the macro that
//! generates their newtypes for this and other dataseal crates.

/// Defines a newtype over `String` that holds only text passing a check.
///
/// The type gets:
///
/// - `new(impl Into<String>) -> Result<Self, E>`, which keeps the text if the check
///   passes and otherwise builds the caller's error from the `what` literal, the rejected
///   text and the `rule` literal;
/// - `as_str(&self) -> &str`;
/// - [`FromStr`](core::str::FromStr) through `new`, [`Display`](core::fmt::Display) as the
///   bare text, and `Debug` as `Name(text)`, or as `Name("text")` with `debug: quoted`;
/// - `Serialize` as a string, and `Deserialize` from a string through `new`, so malformed
///   input is rejected while parsing;
/// - derived `Clone`, `PartialEq`, `Eq`, `PartialOrd`, `Ord` and `Hash` on the text.
///
/// The check is a `fn(&str) -> bool`: a function, or a closure that captures nothing. The
/// error is a closure with its return type written out; it takes the `what`
/// (`&'static str`), the rejected text (`String`) and the `rule` (`&'static str`), and its
/// return type is the error type of `new` and `from_str`. The rule also goes into the docs
/// of `new`. `debug` is optional: `plain` (the default) or `quoted`. Callers need no
/// imports; serde is reached through this crate.
///
/// ```
/// /// The error of this example crate.
/// #[derive(Debug)]
/// pub enum MyError {
///     /// A name broke its rule.
///     Invalid { what: &'static str, value: String, rule: &'static str },
/// }
///
/// impl std::fmt::Display for MyError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         let Self::Invalid { what, value, rule } = self;
///         write!(f, "invalid {what} {value:?}: {rule}")
///     }
/// }
///
/// impl std::error::Error for MyError {}
///
/// dataseal_base::validated_name! {
///     /// A shelf label: 1-8 upper-case letters.
///     pub struct Shelf;
///     what: "shelf",
///     rule: "1-8 upper-case letters",
///     check: |s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase()),
///     error: |what, value, rule| -> MyError { MyError::Invalid { what, value, rule } },
/// }
///
/// dataseal_base::validated_name! {
///     /// A bin on a shelf, printed quoted by `Debug`.
///     pub struct Bin;
///     what: "bin",
///     rule: "1-4 digits",
///     check: |s| (1..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()),
///     error: |what, value, rule| -> MyError { MyError::Invalid { what, value, rule } },
///     debug: quoted,
/// }
///
/// let shelf: Shelf = "ABC".parse()?;
/// assert_eq!(shelf.as_str(), "ABC");
/// assert_eq!(format!("{shelf} {shelf:?}"), "ABC Shelf(ABC)");
/// assert_eq!(format!("{:?}", Bin::new("12")?), "Bin(\"12\")");
/// assert_eq!(
///     Shelf::new("abc").unwrap_err().to_string(),
///     "invalid shelf \"abc\": 1-8 upper-case letters"
/// );
/// assert_eq!(serde_json::to_string(&shelf)?, "\"ABC\"");
/// assert!(serde_json::from_str::<Shelf>("\"abc\"").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[macro_export]
macro_rules! validated_name {
    (@debug $name:ident $(plain)?) => {
        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::write!(f, ::core::concat!(::core::stringify!($name), "({})"), self.0)
            }
        }
    };
    (@debug $name:ident quoted) => {
        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::write!(f, ::core::concat!(::core::stringify!($name), "({:?})"), self.0)
            }
        }
    };
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident;
        what: $what:literal,
        rule: $rule:literal,
        check: $check:expr,
        error: |$($param:pat_param),*| -> $err:ty { $($build:tt)* }
        $(, debug: $debug:ident)?
        $(,)?
    ) => {
        $(#[$attr])*
        #[derive(
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::cmp::PartialOrd,
            ::core::cmp::Ord,
            ::core::hash::Hash,
        )]
        $vis struct $name(::std::string::String);

        impl $name {
            /// Checks and wraps the text.
            ///
            /// # Errors
            ///
            #[doc = ::core::concat!(
                "[`", ::core::stringify!($err), "`] unless the text is ", $rule, "."
            )]
            pub fn new(
                text: impl ::core::convert::Into<::std::string::String>,
            ) -> ::core::result::Result<Self, $err> {
                let text = text.into();
                let check: fn(&str) -> bool = $check;
                if check(&text) {
                    ::core::result::Result::Ok(Self(text))
                } else {
                    let build: fn(&'static str, ::std::string::String, &'static str) -> $err =
                        |$($param),*| -> $err { $($build)* };
                    ::core::result::Result::Err(build($what, text, $rule))
                }
            }

            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $err;
            fn from_str(s: &str) -> ::core::result::Result<Self, $err> {
                Self::new(s)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(&self.0)
            }
        }

        $crate::validated_name!(@debug $name $($debug)?);

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                let s: ::std::string::String =
                    $crate::__private::serde::Deserialize::deserialize(deserializer)?;
                Self::new(s).map_err(<D::Error as $crate::__private::serde::de::Error>::custom)
            }
        }
    };
}

use crate::Error;

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

validated_name! {
    /// Names a dataset across its versions (`imagenet-mini`, `acme.claims-2024`).
    ///
    /// ```
    /// use dataseal_base::DatasetId;
    /// assert!("acme.claims-2024".parse::<DatasetId>().is_ok());
    /// assert!("Acme".parse::<DatasetId>().is_err());
    /// ```
    pub struct DatasetId;
    what: "dataset id",
    rule: "1-128 characters of a-z, 0-9, '.', '-', '_', starting with a letter or digit",
    check: |s| token(s, 128),
    error: |what, name, rule| -> Error { Error::InvalidName { what, name, rule } },
}

validated_name! {
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
    pub struct Purpose;
    what: "purpose",
    rule: "1-64 characters of a-z, 0-9, '.', '-', '_', starting with a letter or digit",
    check: |s| token(s, 64),
    error: |what, name, rule| -> Error { Error::InvalidName { what, name, rule } },
}

validated_name! {
    /// Where data may be stored or used: an ISO 3166-1 alpha-2 country code (`DE`, `US`),
    /// or one of the groups `EU`, `EEA` and `GLOBAL`.
    ///
    /// ```
    /// use dataseal_base::Region;
    /// assert!("DE".parse::<Region>().is_ok());
    /// assert!("EEA".parse::<Region>().is_ok());
    /// assert!("de".parse::<Region>().is_err());
    /// ```
    pub struct Region;
    what: "region",
    rule: "two upper-case letters (ISO 3166-1 alpha-2) or EU, EEA or GLOBAL",
    check: |s| (s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()))
        || matches!(s, "EEA" | "GLOBAL"),
    error: |what, name, rule| -> Error { Error::InvalidName { what, name, rule } },
}
