//! Shared helpers for the dataseal example binaries: the mapping from library errors to
//! the command line's exit codes, atomic output files, strict key and header readers,
//! and the small parsers and formatters the binaries have in common.
//!
//! Nothing here panics: every failure is a [`Failure`] carrying its exit code and a
//! one-line message.

pub mod manifest_cli;
pub mod policy_cli;
pub mod providers_cli;
pub mod stories_cli;
pub mod transport_cli;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use dataseal_crypt::{DataKey, Error, ObjectHeader};
use indicatif::{ProgressBar, ProgressStyle};
use tempfile::NamedTempFile;
use zeroize::Zeroizing;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: verification failed (a chunk failed authentication, a wrong key, trailing
/// data after the last chunk).
pub const EXIT_VERIFY: u8 = 1;
/// Exit code: usage error or malformed input (a bad key file, a malformed header, a bad
/// object id, chunk size or range, an unreadable input or unwritable output).
pub const EXIT_USAGE: u8 = 2;

/// The largest key file read, in bytes: a data key file is 65 bytes.
const MAX_KEY_FILE: u64 = 4096;
/// The largest header file read, in bytes: a header is a few hundred bytes (an object id
/// is at most 1024).
const MAX_HEADER_FILE: u64 = 64 * 1024;

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

/// An output file written under a temporary name in the destination's directory and
/// renamed into place only by [`AtomicFile::commit`] (or [`AtomicFile::commit_new`]).
///
/// Dropped without a commit — on an error, or on an early return — the temporary file is
/// removed and nothing appears under the final name. A process killed mid-write leaves
/// only a hidden `.NAME.XXXXXX.tmp` file, never a file that looks finished.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    /// Starts writing `dest`. A `secret` file is created with mode 0600; any other with
    /// 0644 less the umask (on Unix).
    ///
    /// # Errors
    ///
    /// A [`Failure`] (exit code 2) if `dest` has no file name or the temporary file cannot
    /// be created in its directory.
    pub fn create(dest: impl Into<PathBuf>, secret: bool) -> Result<Self, Failure> {
        let dest = dest.into();
        let name = dest
            .file_name()
            .ok_or_else(|| Failure::usage(format!("{}: not a file name", show(&dest))))?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if secret { 0o600 } else { 0o644 };
            builder.permissions(fs::Permissions::from_mode(mode));
        }
        let tmp = builder
            .tempfile_in(&dir)
            .map_err(|e| Failure::io(format!("cannot create {}", show(&dest)), &e))?;
        #[cfg(unix)]
        if secret {
            // Exactly 0600 whatever the umask.
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(|e| Failure::io(format!("cannot create {}", show(&dest)), &e))?;
        }
        #[cfg(not(unix))]
        let _ = secret;
        Ok(Self { tmp, dest })
    }

    /// The final path.
    #[must_use]
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The open temporary file, to write to.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Writes all of `bytes`.
    ///
    /// # Errors
    ///
    /// A [`Failure`] (exit code 2) naming the final path.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let dest = show(&self.dest);
        self.file()
            .write_all(bytes)
            .map_err(|e| Failure::io(format!("cannot write {dest}"), &e))
    }

    fn sync(&mut self) -> Result<(), Failure> {
        let dest = show(&self.dest);
        let file = self.file();
        file.flush()
            .and_then(|()| file.sync_all())
            .map_err(|e| Failure::io(format!("cannot write {dest}"), &e))
    }

    /// Flushes the file to disk and renames it to its final name, replacing any file
    /// already there.
    ///
    /// # Errors
    ///
    /// A [`Failure`] (exit code 2); the temporary file is then removed.
    pub fn commit(mut self) -> Result<(), Failure> {
        self.sync()?;
        let dest = self.dest;
        self.tmp
            .persist(&dest)
            .map(drop)
            .map_err(|e| Failure::io(format!("cannot create {}", show(&dest)), &e.error))
    }

    /// Like [`AtomicFile::commit`], but never replaces an existing file.
    ///
    /// # Errors
    ///
    /// A [`Failure`] (exit code 2) if a file already exists under the final name, or the
    /// rename fails; the temporary file is then removed.
    pub fn commit_new(mut self) -> Result<(), Failure> {
        self.sync()?;
        let dest = self.dest;
        self.tmp.persist_noclobber(&dest).map(drop).map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                Failure::usage(format!(
                    "{} already exists; refusing to overwrite it",
                    show(&dest)
                ))
            } else {
                Failure::io(format!("cannot create {}", show(&dest)), &e.error)
            }
        })
    }
}

/// Reads at most `max` bytes of a file; a longer file is an error.
fn read_small(path: &Path, max: u64, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let file = File::open(path)
        .map_err(|e| Failure::io(format!("cannot read {what} {}", show(path)), &e))?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| Failure::io(format!("cannot read {what} {}", show(path)), &e))?;
    if buf.len() as u64 > max {
        return Err(Failure::usage(format!(
            "{what} {} is larger than {max} bytes",
            show(path)
        )));
    }
    Ok(buf)
}

/// Reads a data key file: 64 hexadecimal characters and an optional line ending, as
/// `dataseal keygen --data-key` writes it.
///
/// # Errors
///
/// A [`Failure`] (exit code 2) naming the file if it is missing, unreadable, too short,
/// too long or not hexadecimal.
pub fn read_data_key(path: &Path) -> Result<DataKey, Failure> {
    let bytes = read_small(path, MAX_KEY_FILE, "key file")?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Failure::usage(format!(
            "key file {}: invalid key: not 64 hexadecimal characters",
            show(path)
        ))
    })?;
    DataKey::from_hex(text).map_err(|e| Failure::usage(format!("key file {}: {e}", show(path))))
}

/// Reads and strictly parses an object header (the `header.json` that `encrypt` writes).
///
/// # Errors
///
/// A [`Failure`] (exit code 2) naming the file if it is missing, unreadable, too large or
/// malformed (an unknown or missing field, a bad value).
pub fn read_header(path: &Path) -> Result<ObjectHeader, Failure> {
    let bytes = read_small(path, MAX_HEADER_FILE, "header")?;
    ObjectHeader::from_json(&bytes)
        .map_err(|e| Failure::crypt(format!("header {}", show(path)), &e))
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

    #[test]
    fn atomic_file_leaves_nothing_unless_committed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let mut f = AtomicFile::create(&dest, false).unwrap();
        f.write_all(b"abc").unwrap();
        drop(f);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut f = AtomicFile::create(&dest, true).unwrap();
        f.write_all(b"abc").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"abc");
        let f = AtomicFile::create(&dest, true).unwrap();
        assert_eq!(f.commit_new().unwrap_err().code(), EXIT_USAGE);
        assert_eq!(fs::read(&dest).unwrap(), b"abc");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
