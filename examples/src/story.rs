//! The small helpers a narrated story (the `quickstart` binary) is written with: each
//! turns an error into a [`Failure`] with an exit code and the step it happened in.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use dataseal::reputation::Outcome;
use dataseal::{Fetched, Provider, SigningKey};

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

/// The story's working directory: `dir`, or a fresh temporary one (kept either way),
/// with an earlier run's `stale` entries (files or directories) removed.
///
/// # Errors
///
/// A [`Failure`] (exit code 2) when the directory cannot be made or an entry removed.
pub fn workdir(dir: Option<PathBuf>, stale: &[&str]) -> Result<PathBuf, Failure> {
    let root = match dir {
        Some(dir) => dir,
        None => tempfile::Builder::new()
            .prefix("dataseal-quickstart-")
            .tempdir()
            .map_err(fail(2, "temporary directory"))?
            .keep(),
    };
    for entry in stale.iter().map(|s| root.join(s)) {
        let gone = if entry.is_dir() {
            std::fs::remove_dir_all(&entry)
        } else {
            std::fs::remove_file(&entry)
        };
        match gone {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(fail(2, "removing an earlier run's files")(e));
            }
            _ => {}
        }
    }
    Ok(root)
}

/// Writes every `(path, bytes)` under `dir`.
///
/// # Errors
///
/// As [`write`].
pub fn write_tree(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), Failure> {
    files
        .iter()
        .try_for_each(|(path, bytes)| write(&dir.join(path), bytes, false))
}

/// Checks that every `(path, bytes)` is under `dir` with exactly those bytes.
///
/// # Errors
///
/// A verification [`Failure`] (exit code 1) naming the first file that differs.
pub fn same_tree(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), Failure> {
    for (path, bytes) in files {
        let got = std::fs::read(dir.join(path)).map_err(fail(2, "reading the output"))?;
        check(
            &got == bytes,
            &format!("{path}: every byte matches the source"),
        )?;
    }
    Ok(())
}

/// `dir:` stores, each `(name, region)` in `root/name` (created).
///
/// # Errors
///
/// A [`Failure`] with the facade's exit code when a store cannot be opened.
pub fn dir_providers(root: &Path, stores: &[(&str, &str)]) -> Result<Vec<Provider>, Failure> {
    stores
        .iter()
        .map(|(name, region)| {
            let spec = format!("{name}@{region}=dir:{}", root.join(name).display());
            Provider::open(&spec, true).map_err(ds("provider"))
        })
        .collect()
}

/// `N` fresh Ed25519 signing keys.
///
/// # Errors
///
/// A [`Failure`] (exit code 2) when the system's random source fails.
pub fn signing_keys<const N: usize>() -> Result<[SigningKey; N], Failure> {
    let keys: Vec<SigningKey> = (0..N)
        .map(|_| SigningKey::generate().map_err(fail(2, "key")))
        .collect::<Result<_, _>>()?;
    keys.try_into()
        .map_err(|_| Failure::new(2, "key: not as many as asked".to_owned()))
}

/// What a fetch saw of its providers: how many blocks failed their hash (each then read
/// elsewhere), and which providers served the blocks it kept.
#[must_use]
pub fn served_and_caught(fetched: &Fetched) -> (usize, BTreeSet<String>) {
    let caught = fetched
        .events
        .iter()
        .filter(|e| e.outcome() == Outcome::IntegrityFailure)
        .count();
    let blocks = fetched.receipt.objects.iter().flat_map(|o| &o.blocks);
    (caught, blocks.map(|b| b.provider.to_string()).collect())
}

/// A small deterministic dataset: a labels CSV and two binary shards, one spanning
/// three 1 MiB chunks; the same bytes on every run.
#[must_use]
pub fn demo_dataset() -> Vec<(&'static str, Vec<u8>)> {
    let labels = ["cat", "dog", "bird", "fish", "horse"].into_iter().cycle();
    let csv: String = labels
        .take(12_000)
        .enumerate()
        .map(|(i, l)| format!("{i},{l}\n"))
        .collect();
    // Deterministic noise: the high byte of a multiplicative hash of each position.
    let noise = |seed: u64, len: u64| -> Vec<u8> {
        let hash = |i: u64| {
            (i ^ seed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(29)
        };
        (0..len)
            .map(|i| (hash(i).wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 56) as u8)
            .collect()
    };
    vec![
        ("labels.csv", csv.into_bytes()),
        ("train/shard-0000.bin", noise(1, 2_200_000)),
        ("train/shard-0001.bin", noise(2, 900_000)),
    ]
}
