//! The small helpers a narrated story (the `quickstart` binary) is written with: each
//! turns an error into a [`Failure`] with an exit code and the step it happened in.

use std::fmt::Display;
use std::path::Path;
use std::str::FromStr;

use crate::{AtomicFile, EXIT_USAGE, Failure};

/// A facade error in `step`, with the facade's own exit code.
pub fn ds(step: &'static str) -> impl Fn(dataseal::Error) -> Failure {
    move |e| Failure::new(e.exit_code(), format!("{step}: {e}"))
}

/// Any other error in `step`, with exit code `code`.
pub fn fail<E: Display>(code: u8, step: &'static str) -> impl Fn(E) -> Failure {
    move |e| Failure::new(code, format!("{step}: {e}"))
}

/// Parses `text` as a `T` (an identifier, a role, a region…).
///
/// # Errors
///
/// A [`Failure`] with [`EXIT_USAGE`] quoting the text.
pub fn parse<T: FromStr<Err: Display>>(text: &str) -> Result<T, Failure> {
    text.parse()
        .map_err(|e| Failure::new(EXIT_USAGE, format!("{text:?}: {e}")))
}

/// An expectation of the story: when it does not hold, neither does the story.
///
/// # Errors
///
/// A verification [`Failure`] (exit code 1) naming `what`.
pub fn check(ok: bool, what: &str) -> Result<(), Failure> {
    ok.then_some(())
        .ok_or_else(|| Failure::verify(format!("expected: {what}")))
}

/// `items`, comma-separated.
pub fn join<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    items.join(", ")
}

/// Writes `bytes` to `path` atomically (mode 0600 when `secret`), creating its directory.
///
/// # Errors
///
/// A [`Failure`] (exit code 2) naming the file.
pub fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<(), Failure> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail(2, "mkdir"))?;
    }
    let mut file = AtomicFile::create(path, secret)?;
    file.write_all(bytes)?;
    Ok(file.commit()?)
}

/// Flips one byte in every file under `dir`: a provider whose every answer lies.
/// Returns how many files it changed.
///
/// # Errors
///
/// A [`Failure`] (exit code 2) when a file cannot be read or written.
pub fn corrupt_every_file(dir: &Path) -> Result<usize, Failure> {
    let mut flipped = 0;
    for entry in walkdir::WalkDir::new(dir) {
        let path = entry.map_err(fail(2, "store"))?.into_path();
        if path.is_file() {
            let mut bytes = std::fs::read(&path).map_err(fail(2, "reading a block"))?;
            if let Some(b) = bytes.get_mut(7) {
                *b ^= 0x20;
            }
            std::fs::write(&path, bytes).map_err(fail(2, "writing a block"))?;
            flipped += 1;
        }
    }
    Ok(flipped)
}
