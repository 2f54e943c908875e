use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::path::{Component, Path};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

use crate::Error;

const MAX_PATH_LEN: usize = 4096;

/// Characters that Windows refuses in a file name (besides `/`, the separator, and the
/// control characters, refused on their own).
const FORBIDDEN_CHARS: [char; 8] = ['\\', ':', '<', '>', '"', '|', '?', '*'];

/// Windows device names: a component whose stem (the part before the first `.`, with
/// trailing spaces removed) is one of these, in any ASCII case, opens the device instead
/// of a file. Microsoft's list includes `COM0`, `LPT0` and the superscript digits.
const RESERVED_STEMS: [&str; 30] = [
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "COM0",
    "COM1",
    "COM2",
    "COM3",
    "COM4",
    "COM5",
    "COM6",
    "COM7",
    "COM8",
    "COM9",
    "COM\u{b9}",
    "COM\u{b2}",
    "COM\u{b3}",
    "LPT0",
    "LPT1",
    "LPT2",
    "LPT3",
    "LPT4",
    "LPT5",
    "LPT6",
    "LPT7",
    "LPT8",
    "LPT9",
    "LPT\u{b9}",
    "LPT\u{b2}",
    "LPT\u{b3}",
];

/// Whether `component` is, or starts as, a Windows device name (`con`, `NUL.txt`,
/// `com1.tar.gz`, `aux .log`).
fn is_reserved_device_name(component: &str) -> bool {
    let stem = component
        .split_once('.')
        .map_or(component, |(stem, _)| stem)
        .trim_end_matches(' ');
    RESERVED_STEMS
        .iter()
        .any(|reserved| stem.eq_ignore_ascii_case(reserved))
}

/// Why a single component cannot be written back to every file system, if it cannot.
fn component_problem(component: &str) -> Option<&'static str> {
    if component.is_empty() {
        Some("has an empty component")
    } else if component == "." || component == ".." {
        Some("has a '.' or '..' component")
    } else if component.contains(':') {
        Some("contains a ':' (an NTFS alternate data stream or drive separator)")
    } else if component.contains(FORBIDDEN_CHARS) {
        Some("contains one of the characters \\ < > \" | ? * that Windows refuses")
    } else if component.ends_with('.') || component.ends_with(' ') {
        Some("has a component ending in '.' or ' ', which Windows strips")
    } else if is_reserved_device_name(component) {
        Some(
            "has a component named after a Windows device (CON, PRN, AUX, NUL, COM0-9, LPT0-9), \
             with or without an extension",
        )
    } else {
        None
    }
}

/// The form under which a component is compared for collisions: Unicode NFKC, then
/// `str::to_lowercase`, `str::to_uppercase` and `str::to_lowercase` again, then NFKC
/// again. See [`CanonicalPath::collision_key`].
fn fold_component(component: &str) -> String {
    let nfkc: String = component.nfkc().collect();
    nfkc.to_lowercase()
        .to_uppercase()
        .to_lowercase()
        .nfkc()
        .collect()
}

/// The canonical relative path of an object: UTF-8, `/` separators, no leading or
/// trailing `/`, at most 4096 bytes, and only components that every common file system
/// (ext4, APFS, NTFS, FAT) can write back under the same name:
///
/// - no empty, `.` or `..` component;
/// - no control character, and none of `\` `:` `<` `>` `"` `|` `?` `*`;
/// - no component ending in `.` or a space;
/// - no Windows device name as a component's stem, in any case, with or without an
///   extension: `CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9` and `COM`/`LPT`
///   followed by a superscript `¹`, `²` or `³` (so `con`, `Nul.txt` and `lpt1.tar.gz` are
///   refused, `console` and `null.txt` are not).
///
/// No Unicode normalisation is applied to the path itself: two names that differ in bytes
/// are two objects. A manifest, though, refuses two paths that would land on the same file
/// on a case-insensitive or normalising file system (see
/// [`CanonicalPath::collision_key`]).
///
/// Paths order by their UTF-8 bytes, which is the order objects are listed in, so
/// `x-y` sorts before `x/z` (`-` is 0x2D, `/` is 0x2F) and `Z` before `a`.
///
/// ```
/// use dataseal_manifest::CanonicalPath;
/// let p: CanonicalPath = "train/shard-0001.parquet".parse()?;
/// assert_eq!(p.as_str(), "train/shard-0001.parquet");
/// for bad in ["", "/abs", "a//b", "a/./b", "../up", "dir/", "back\\slash", "c:/x",
///             "a/con.txt", "LPT1", "dot./x", "space /x", "what?"] {
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
    /// [`Error::Path`] naming the path and the rule broken.
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
        } else {
            path.split('/').find_map(component_problem)
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
        Self::new(join_relative(path)?)
    }

    /// The path as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form under which this path is compared with others for collisions: each
    /// component in Unicode NFKC (compatibility composition, which also merges every pair
    /// that NFC or NFD merges), then case-folded, then in NFKC again, the components joined
    /// by U+0000 (which no component contains, folded or not; `/` would not do, since NFKC
    /// turns `℀` into `a/c`). Two objects collide when one's key equals the other's or
    /// the other's key up to a U+0000: the same file, or a file where a directory is
    /// needed. Directories collide when their keys are equal but their spellings differ.
    ///
    /// Case folding uses the standard library: `str::to_lowercase`, `str::to_uppercase`,
    /// then `str::to_lowercase` again. That joins every pair Unicode full case folding
    /// joins that we know of (`ß`, `ẞ` and `ss`; `ſ` and `s`; `ς` and `σ`; the Kelvin sign
    /// and `k`) and a few more that NTFS's upper-case table joins (dotless `ı` and `i`).
    /// It errs towards reporting a collision: a false one only refuses a name.
    ///
    /// ```
    /// use dataseal_manifest::CanonicalPath;
    /// let key = |s: &str| s.parse::<CanonicalPath>().unwrap().collision_key();
    /// assert_eq!(key("Data/Stra\u{df}e.CSV"), key("data/STRASSE.csv"));
    /// assert_eq!(key("caf\u{e9}"), key("cafe\u{301}"));
    /// assert_ne!(key("a/b"), key("a-b"));
    /// ```
    #[must_use]
    pub fn collision_key(&self) -> String {
        let mut key = String::with_capacity(self.0.len());
        for (i, component) in self.0.split('/').enumerate() {
            if i > 0 {
                key.push('\0');
            }
            key.push_str(&fold_component(component));
        }
        key
    }
}

/// One file or directory in the tree of a manifest's paths, by folded name.
struct Node<'a> {
    id: usize,
    /// The component as first spelled.
    name: &'a str,
    /// The first object path through this node.
    path: &'a str,
    /// Whether the node is an object (a file) rather than a directory.
    file: bool,
}

/// Refuses two paths that cannot both be written to a case-insensitive or
/// Unicode-normalising file system and read back under the same names: the same
/// [`CanonicalPath::collision_key`] (and so the exact same path, listed twice), a file
/// whose folded name is also a directory of another path (`a` and `A/b`, or `a` and
/// `a/b`), or one directory spelled two ways (`Data/x` and `data/y`).
///
/// # Errors
///
/// [`Error::PathCollision`] naming the first pair found, in iteration order.
pub(crate) fn check_collisions<'a>(
    paths: impl IntoIterator<Item = &'a CanonicalPath>,
) -> Result<(), Error> {
    // Keyed by (parent node, folded component); node 0 is the root.
    let mut nodes: HashMap<(usize, String), Node<'a>> = HashMap::new();
    for path in paths {
        let path = path.as_str();
        let mut parent = 0;
        let mut components = path.split('/').peekable();
        while let Some(name) = components.next() {
            let file = components.peek().is_none();
            let id = nodes.len() + 1;
            let node = match nodes.entry((parent, fold_component(name))) {
                Entry::Vacant(v) => v.insert(Node {
                    id,
                    name,
                    path,
                    file,
                }),
                Entry::Occupied(o) => {
                    let seen = o.into_mut();
                    let reason = if seen.file && file {
                        Some(if seen.path == path {
                            "the same path is listed twice"
                        } else {
                            "they name the same file on a case-insensitive or Unicode-normalising \
                             file system (equal after NFKC and case folding)"
                        })
                    } else if seen.file || file {
                        Some(
                            "one names a file where the other needs a directory (equal after NFKC \
                             and case folding)",
                        )
                    } else if seen.name != name {
                        Some(
                            "they spell one directory two ways, which a case-insensitive or \
                             Unicode-normalising file system keeps as one (equal after NFKC and \
                             case folding)",
                        )
                    } else {
                        None
                    };
                    if let Some(reason) = reason {
                        return Err(Error::PathCollision {
                            first: seen.path.to_owned(),
                            second: path.to_owned(),
                            reason,
                        });
                    }
                    seen
                }
            };
            parent = node.id;
        }
    }
    Ok(())
}

/// A relative file-system path as `/`-joined UTF-8 text, not yet checked against the
/// rules of [`CanonicalPath::new`].
pub(crate) fn join_relative(path: &Path) -> Result<String, Error> {
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
    Ok(parts.join("/"))
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

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "test code: a failure should panic with context"
    )]

    use proptest::prelude::*;

    use super::*;

    fn reason_of(path: &str) -> &'static str {
        match CanonicalPath::new(path) {
            Err(Error::Path {
                path: named,
                reason,
            }) => {
                assert_eq!(named, path);
                reason
            }
            other => panic!("{path:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn names_no_file_system_can_write_back_are_refused() {
        for (path, why) in [
            ("a:b", "':'"),
            ("c:/x", "':'"),
            ("x/file.txt:stream", "':'"),
            ("x/:", "':'"),
            ("a<b", "Windows refuses"),
            ("a>b", "Windows refuses"),
            ("a\"b", "Windows refuses"),
            ("a|b", "Windows refuses"),
            ("what?", "Windows refuses"),
            ("x/*.csv", "Windows refuses"),
            ("a\\b", "backslash"),
            ("a\u{0}b", "control"),
            ("a\tb", "control"),
            ("a\u{7f}", "control"),
            ("a\u{85}b", "control"),
            ("dot.", "ending in '.'"),
            ("dir./x", "ending in '.'"),
            ("x/...", "ending in '.'"),
            ("space ", "ending in '.' or ' '"),
            ("dir /x", "ending in '.' or ' '"),
            ("CON", "Windows device"),
            ("con", "Windows device"),
            ("Con.txt", "Windows device"),
            ("x/prn.tar.gz", "Windows device"),
            ("aux/x", "Windows device"),
            ("NUL", "Windows device"),
            ("nul.", "ending in '.'"),
            ("nul .txt", "Windows device"),
            ("COM1", "Windows device"),
            ("com9.log", "Windows device"),
            ("COM0", "Windows device"),
            ("com\u{b9}", "Windows device"),
            ("LPT1", "Windows device"),
            ("lpt9.csv", "Windows device"),
            ("a/LpT5/b", "Windows device"),
            ("LPT\u{b3}.txt", "Windows device"),
            ("", "empty"),
            ("a//b", "empty component"),
            ("a/./b", "'.'"),
            ("a/../b", "'..'"),
        ] {
            let reason = reason_of(path);
            assert!(reason.contains(why), "{path:?}: {reason}");
        }
    }

    #[test]
    fn lookalikes_that_are_writable_everywhere_are_accepted() {
        for path in [
            "console",
            "null.txt",
            "conx.txt",
            "com10",
            "com",
            "lpt",
            "COM1x.txt",
            "x.con",
            "auxiliary.csv",
            ".hidden",
            "x/.git/config",
            ".a.b",
            "a b",
            "train/shard-0001.parquet",
            "\u{ff1a}fullwidth colon",
            "caf\u{e9}/\u{0441}\u{043b}\u{043e}\u{0432}\u{043e}.txt",
        ] {
            let p: CanonicalPath = path.parse().unwrap();
            assert_eq!(p.as_str(), path);
        }
    }

    #[test]
    fn errors_name_the_path_and_the_rule() {
        let err = "data/con.txt".parse::<CanonicalPath>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"data/con.txt\""), "{text}");
        assert!(text.contains("Windows device"), "{text}");
    }

    fn collision(paths: &[&str]) -> Option<(String, String, &'static str)> {
        let paths: Vec<CanonicalPath> = paths.iter().map(|p| p.parse().unwrap()).collect();
        match check_collisions(&paths) {
            Ok(()) => None,
            Err(Error::PathCollision {
                first,
                second,
                reason,
            }) => Some((first, second, reason)),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn colliding_paths_are_refused_naming_both() {
        for (pair, why) in [
            (["a.csv", "A.csv"], "same file"),
            (["x/README", "x/readme"], "same file"),
            // NFC and NFD spellings of "café".
            (["caf\u{e9}", "cafe\u{301}"], "same file"),
            // Full case folding: ß, ẞ and ss.
            (["stra\u{df}e", "STRASSE"], "same file"),
            (["\u{1e9e}", "ss"], "same file"),
            // Final and medial sigma, long s, the Kelvin and Ångström signs.
            (["\u{3c3}", "\u{3c2}"], "same file"),
            (["\u{17f}", "s"], "same file"),
            (["\u{212a}", "k"], "same file"),
            (["\u{212b}", "\u{e5}"], "same file"),
            // Compatibility forms: the "fi" ligature, full-width letters.
            (["\u{fb01}le", "file"], "same file"),
            (["\u{ff21}", "a"], "same file"),
            (["same", "same"], "listed twice"),
            (["a", "a/b"], "needs a directory"),
            (["a", "A/b"], "needs a directory"),
            (["Data/x", "data/y"], "one directory two ways"),
            (["z/Data/x", "z/DATA/y/w"], "one directory two ways"),
        ] {
            let (first, second, reason) = collision(&pair).unwrap_or_else(|| panic!("{pair:?}"));
            assert_eq!([first.as_str(), second.as_str()], pair);
            assert!(reason.contains(why), "{pair:?}: {reason}");
        }
        let err = check_collisions(&[
            "A.csv".parse::<CanonicalPath>().unwrap(),
            "a.csv".parse().unwrap(),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("\"A.csv\"") && err.contains("\"a.csv\"") && err.contains("collide"),
            "{err}"
        );
    }

    #[test]
    fn distinct_paths_do_not_collide() {
        assert_eq!(
            collision(&[
                "Data/a",
                "Data/b",
                "Data/sub/c",
                "a-b",
                "a/b",
                "a.b",
                "e",
                "\u{e9}",
                "x/data",
                "y/Data",
                "\u{2100}",
                "a/c",
            ]),
            None
        );
        assert_eq!(collision(&[]), None);
    }

    #[test]
    fn collision_key_examples() {
        let key = |s: &str| s.parse::<CanonicalPath>().unwrap().collision_key();
        assert_eq!(key("A/B"), "a\0b");
        assert_eq!(key("Stra\u{df}e"), key("STRASSE"));
        assert_ne!(key("a/b"), key("a-b"));
        assert_ne!(key("\u{2100}"), key("a/c"));
    }

    const ALPHABET: &[&str] = &[
        "a", "A", "b", ".", " ", ":", "?", "*", "\\", "\u{1}", "con", "COM1", "lpt", "1", "x.",
        "\u{e9}", "e\u{301}", "\u{df}", "/", "//", "..", "nul",
    ];

    fn arb_text() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(ALPHABET), 0..8).prop_map(|v| v.concat())
    }

    proptest! {
        /// Whatever is accepted round-trips through text and serde and contains none of
        /// the refused forms.
        #[test]
        fn accepted_paths_round_trip_and_avoid_refused_forms(
            text in prop_oneof![arb_text(), "\\PC{0,12}", "[a-zA-Z0-9 ._:<>|?*\\\\/-]{0,12}"]
        ) {
            if let Ok(p) = CanonicalPath::new(text.clone()) {
                prop_assert_eq!(p.as_str(), text.as_str());
                prop_assert_eq!(p.to_string().parse::<CanonicalPath>().unwrap(), p.clone());
                let json = serde_json::to_string(&p).unwrap();
                prop_assert_eq!(serde_json::from_str::<CanonicalPath>(&json).unwrap(), p.clone());
                prop_assert!(!text.is_empty() && text.len() <= MAX_PATH_LEN);
                prop_assert!(!text.starts_with('/') && !text.ends_with('/'));
                for c in text.split('/') {
                    prop_assert!(!c.is_empty() && c != "." && c != "..");
                    prop_assert!(!c.ends_with('.') && !c.ends_with(' '));
                    prop_assert!(!c.chars().any(|ch| ch.is_control() || FORBIDDEN_CHARS.contains(&ch)));
                    prop_assert!(!is_reserved_device_name(c), "{}", c);
                }
            }
        }

        /// A path and its upper-cased, NFD or NFC spelling always collide; the check never
        /// objects to a single path.
        #[test]
        fn respellings_always_collide(text in arb_text()) {
            if let Ok(p) = CanonicalPath::new(text.clone()) {
                prop_assert!(check_collisions([&p]).is_ok());
                for other in [
                    text.to_uppercase(),
                    text.to_lowercase(),
                    text.nfd().collect::<String>(),
                    text.nfc().collect::<String>(),
                ] {
                    if other == text {
                        continue;
                    }
                    if let Ok(q) = CanonicalPath::new(other) {
                        prop_assert_eq!(q.collision_key(), p.collision_key());
                        prop_assert!(check_collisions([&p, &q]).is_err());
                    }
                }
            }
        }
    }
}
