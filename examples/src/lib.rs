//! Shared helpers for the dataseal example binaries: the mapping from library errors to
//! the command line's exit codes, atomic output files, strict key and header readers,
//! and the small parsers and formatters the binaries have in common.
//!
//! Nothing here panics: every failure is a [`Failure`] carrying its exit code and a
//! one-line message.

pub mod manifest_cli;
pub mod policy_cli;
pub mod providers_cli;
pub mod registry_cli;
pub mod stories_cli;
pub mod story;
pub mod transport_cli;

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

use dataseal_crypt::{DataKey, Error, ObjectHeader};
use indicatif::{ProgressBar, ProgressStyle};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: verification failed (a chunk failed authentication, a wrong key, trailing
/// data after the last chunk).
pub const EXIT_VERIFY: u8 = 1;
/// Exit code: usage error or malformed input (a bad key file, a malformed header, a bad
/// object id, chunk size or range, an unreadable input or unwritable output).
pub const EXIT_USAGE: u8 = 2;

/// The exit code for a library error: [`EXIT_VERIFY`] when the data did not verify
/// ([`Error::Chunk`], [`Error::KeyCommitment`], [`Error::TrailingData`], and
/// [`Error::KeyUnwrap`], a wrapped key that does not open), [`EXIT_USAGE`] for everything
/// else (malformed input, bad parameters, I/O errors).
#[must_use]
pub fn exit_code(err: &Error) -> u8 {
    match err {
        Error::Chunk { .. }
        | Error::KeyCommitment
        | Error::TrailingData { .. }
        | Error::KeyUnwrap(_)
        | Error::SealedOpen => EXIT_VERIFY,
        Error::Header(_)
        | Error::ChunkSize(_)
        | Error::Range { .. }
        | Error::TooLarge
        | Error::WrappedKeyFormat
        | Error::SealedFormat(_)
        | Error::Age(_)
        | Error::Io(_)
        | Error::Base(_) => EXIT_USAGE,
        // `Error` is non-exhaustive: a variant added later is treated as malformed input
        // until it is given a code of its own here.
        _ => EXIT_USAGE,
    }
}

/// A failed command: an exit code and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// A failure with an explicit exit code.
    #[must_use]
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: one_line(&message.into()),
        }
    }

    /// A usage error or malformed input (exit code 2).
    #[must_use]
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(EXIT_USAGE, message)
    }

    /// A verification failure (exit code 1).
    #[must_use]
    pub fn verify(message: impl Into<String>) -> Self {
        Self::new(EXIT_VERIFY, message)
    }

    /// A library error, with `context` (what was being done) in front of its message and
    /// the exit code [`exit_code`] gives it.
    #[must_use]
    pub fn crypt(context: impl fmt::Display, err: &Error) -> Self {
        Self::new(exit_code(err), format!("{context}: {err}"))
    }

    /// An I/O error (exit code 2), with `context` in front of its message.
    #[must_use]
    pub fn io(context: impl fmt::Display, err: &io::Error) -> Self {
        Self::usage(format!("{context}: {err}"))
    }

    /// The exit code.
    #[must_use]
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The one-line message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prints `PROGRAM: error: MESSAGE` on stderr and returns the exit code to end with.
    #[must_use]
    pub fn report(&self, program: &str) -> std::process::ExitCode {
        // If stderr is gone there is nobody left to tell; the exit code still says it.
        let _ = writeln!(io::stderr().lock(), "{program}: error: {}", self.message);
        std::process::ExitCode::from(self.code)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Self::new(exit_code(&err), err.to_string())
    }
}

impl From<dataseal::Error> for Failure {
    fn from(err: dataseal::Error) -> Self {
        Self::new(err.exit_code(), err.to_string())
    }
}

/// Folds a message onto one line: line breaks become spaces.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a path is shown in messages.
#[must_use]
pub fn show(path: &Path) -> String {
    path.display().to_string()
}

pub use dataseal::AtomicFile;

/// Reads a data key file ([`dataseal::keys::read_data_key`]).
///
/// # Errors
///
/// A [`Failure`] (exit code 2) naming the file if it is missing, unreadable, too short,
/// too long or not hexadecimal.
pub fn read_data_key(path: &Path) -> Result<DataKey, Failure> {
    dataseal::keys::read_data_key(path).map_err(Failure::from)
}

/// Reads and strictly parses an object header ([`dataseal::keys::read_header`]).
///
/// # Errors
///
/// A [`Failure`] (exit code 2) naming the file if it is missing, unreadable, too large or
/// malformed (an unknown or missing field, a bad value).
pub fn read_header(path: &Path) -> Result<ObjectHeader, Failure> {
    dataseal::keys::read_header(path).map_err(Failure::from)
}

/// Parses a byte range `OFFSET:LEN` (two decimal integers).
///
/// # Errors
///
/// A [`Failure`] (exit code 2) if the text is not of that form. Whether the range lies
/// inside an object is checked against its header later.
pub fn parse_range(text: &str) -> Result<(u64, u64), Failure> {
    let bad = || {
        Failure::usage(format!(
            "invalid range {text:?}: expected OFFSET:LEN, two decimal byte counts"
        ))
    };
    let (offset, len) = text.split_once(':').ok_or_else(bad)?;
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    Ok((
        number(offset).ok_or_else(bad)?,
        number(len).ok_or_else(bad)?,
    ))
}

/// A progress bar of `len` bytes on stderr, drawn only when stderr is a terminal (a
/// hidden bar otherwise, which costs next to nothing).
#[must_use]
pub fn progress_bar(len: u64, label: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0:10").unwrap(), (0, 10));
        assert_eq!(parse_range("65519:2").unwrap(), (65_519, 2));
        for bad in [
            "",
            ":",
            "1:",
            ":1",
            "1",
            "-1:2",
            "+1:2",
            "1:2:3",
            "a:b",
            "99999999999999999999:1",
        ] {
            assert_eq!(parse_range(bad).unwrap_err().code(), EXIT_USAGE, "{bad}");
        }
    }

    #[test]
    fn codes() {
        assert_eq!(exit_code(&Error::Chunk { index: 3 }), EXIT_VERIFY);
        assert_eq!(exit_code(&Error::KeyCommitment), EXIT_VERIFY);
        assert_eq!(exit_code(&Error::TrailingData { expected: 1 }), EXIT_VERIFY);
        assert_eq!(exit_code(&Error::ChunkSize(3)), EXIT_USAGE);
        assert_eq!(exit_code(&Error::Header("x".into())), EXIT_USAGE);
        assert_eq!(Failure::usage("a\nb\n").message(), "a b");
    }
}
