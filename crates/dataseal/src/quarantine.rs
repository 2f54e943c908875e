//! Quarantine: every source file is checked before anything is encrypted or stored.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use dataseal_manifest::CanonicalPath;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::Error;

/// How many leading bytes are sniffed for a content type.
const SNIFF_LEN: usize = 8192;

/// Limits and switches of a quarantine check. The defaults suit training datasets: files
/// up to 64 GiB, 4 TiB and ten million files in all, no empty files, no duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantine {
    /// The largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// The largest total accepted, in bytes.
    pub max_total_bytes: u64,
    /// The most files accepted.
    pub max_files: usize,
    /// Whether empty files are accepted.
    pub allow_empty: bool,
    /// Whether two files with the same content are accepted.
    pub allow_duplicates: bool,
    /// Glob patterns (relative to the source directory) of files left out.
    pub ignore: Vec<String>,
}

impl Default for Quarantine {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 << 30,
            max_total_bytes: 4 << 40,
            max_files: 10_000_000,
            allow_empty: false,
            allow_duplicates: false,
            ignore: Vec::new(),
        }
    }
}

/// What is wrong with one source file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A symbolic link (never followed).
    Symlink,
    /// Not a regular file (a device, socket or FIFO).
    NotRegular,
    /// A name that cannot be a canonical object path.
    BadName(String),
    /// Larger than the per-file limit.
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Empty.
    Empty,
    /// Could not be read.
    Unreadable(String),
    /// The same bytes as another file.
    Duplicate {
        /// The first file with these bytes.
        of: String,
    },
    /// Its bytes are not of the type its name declares.
    TypeMismatch {
        /// The declared type (from the extension).
        declared: &'static str,
        /// What the bytes are.
        found: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Symlink => f.write_str("a symbolic link"),
            Self::NotRegular => f.write_str("not a regular file"),
            Self::BadName(why) => write!(f, "not a valid object path ({why})"),
            Self::TooLarge { size, limit } => {
                write!(f, "{size} bytes, over the {limit}-byte limit per file")
            }
            Self::Empty => f.write_str("empty"),
            Self::Unreadable(why) => write!(f, "unreadable ({why})"),
            Self::Duplicate { of } => write!(f, "the same content as {of}"),
            Self::TypeMismatch { declared, found } => {
                write!(
                    f,
                    "declared {declared} by its name, but its bytes are {found}"
                )
            }
        }
    }
}

/// Every problem quarantine found, file by file (and for the whole set).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuarantineReport {
    /// `(path relative to the source, problem)`, in path order.
    pub files: Vec<(String, Problem)>,
    /// Problems of the set as a whole (too many files, too many bytes, no files).
    pub overall: Vec<String>,
}

impl fmt::Display for QuarantineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.files.len() + self.overall.len();
        write!(f, "{n} problem{}", if n == 1 { "" } else { "s" })?;
        let mut sep = ": ";
        for o in &self.overall {
            write!(f, "{sep}{o}")?;
            sep = "; ";
        }
        for (path, p) in &self.files {
            write!(f, "{sep}{path}: {p}")?;
            sep = "; ";
        }
        Ok(())
    }
}

/// A source file that passed quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Its object path.
    pub path: CanonicalPath,
    /// Where it is on disk.
    pub location: PathBuf,
    /// Its size in bytes, when checked.
    pub size: u64,
    /// SHA-256 of its bytes, when checked.
    pub sha256: [u8; 32],
    /// The content type sniffed from its bytes, if recognised.
    pub content_type: Option<String>,
}

/// The type a file's extension declares, and how to recognise it.
fn declared(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "csv" | "tsv" | "txt" | "json" | "jsonl" | "ndjson" | "md" | "xml" | "yaml" | "yml" => {
            "text"
        }
        "parquet" => "parquet",
        "png" => "png",
        "jpg" | "jpeg" => "jpg",
        "gif" => "gif",
        "webp" => "webp",
        "gz" => "gz",
        "zip" => "zip",
        "zst" => "zst",
        "npy" => "npy",
        "wav" => "wav",
        "flac" => "flac",
        "mp3" => "mp3",
        "mp4" => "mp4",
        "pdf" => "pdf",
        _ => return None,
    })
}

/// What the leading bytes (and, for Parquet, the trailing magic) say a file is.
fn sniff(head: &[u8], tail_is_par1: bool) -> Option<String> {
    if head.starts_with(b"PAR1") && tail_is_par1 {
        return Some("parquet".into());
    }
    if head.starts_with(b"\x93NUMPY") {
        return Some("npy".into());
    }
    if let Some(t) = infer::get(head) {
        return Some(t.extension().to_owned());
    }
    let text = !head.contains(&0)
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            // A multi-byte character cut at the end of the sniffed prefix.
            Err(e) => e.error_len().is_none() && head.len() == SNIFF_LEN,
        };
    text.then(|| "text".to_owned())
}

fn matches_declared(declared: &str, found: Option<&str>) -> bool {
    match (declared, found) {
        (d, Some(f)) if d == f => true,
        // Files that are not text may still be UTF-8 by chance; a declared binary type
        // must be recognised.
        _ => false,
    }
}

/// One walked entry, before it is read.
struct Candidate {
    rel: String,
    location: PathBuf,
}

fn rel_text(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

impl Quarantine {
    /// Checks every file under `dir`: regular files only (symbolic links, devices,
    /// sockets and FIFOs are refused, never followed), names that are canonical object
    /// paths, the size limits, content types sniffed from the bytes against the type the
    /// name declares, duplicates by content, and empty or unreadable files. Every file is
    /// read once, in parallel, and hashed.
    ///
    /// # Errors
    ///
    /// [`Error::Quarantine`] naming every problem found; [`Error::Invalid`] for a source
    /// that is not a directory or a bad ignore pattern.
    pub fn check(&self, dir: &Path) -> Result<Vec<SourceFile>, Error> {
        let meta = std::fs::symlink_metadata(dir).map_err(|e| Error::io_at("read", dir, e))?;
        if !meta.is_dir() {
            return Err(Error::Invalid(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let mut ignore = globset::GlobSetBuilder::new();
        for pattern in &self.ignore {
            ignore.add(
                globset::Glob::new(pattern)
                    .map_err(|e| Error::Invalid(format!("ignore pattern {pattern:?}: {e}")))?,
            );
        }
        let ignore = ignore
            .build()
            .map_err(|e| Error::Invalid(format!("ignore patterns: {e}")))?;
        let mut report = QuarantineReport::default();
        let mut candidates = Vec::new();
        for entry in walkdir::WalkDir::new(dir).follow_links(false).min_depth(1) {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let rel = e
                        .path()
                        .map_or_else(|| "?".to_owned(), |p| rel_text(dir, p));
                    report.files.push((rel, Problem::Unreadable(e.to_string())));
                    continue;
                }
            };
            let rel = rel_text(dir, entry.path());
            if ignore.is_match(&rel) {
                continue;
            }
            let ft = entry.file_type();
            if ft.is_dir() {
                continue;
            }
            if ft.is_symlink() {
                report.files.push((rel, Problem::Symlink));
            } else if !ft.is_file() {
                report.files.push((rel, Problem::NotRegular));
            } else {
                candidates.push(Candidate {
                    rel,
                    location: entry.path().to_path_buf(),
                });
            }
        }
        if candidates.len() > self.max_files {
            report.overall.push(format!(
                "{} files, over the limit of {}",
                candidates.len(),
                self.max_files
            ));
        }
        let checked: Vec<(String, Result<SourceFile, Problem>)> = candidates
            .into_par_iter()
            .map(|c| {
                let result = self.check_file(&c);
                (c.rel, result)
            })
            .collect();
        let mut accepted = Vec::new();
        let mut total: u64 = 0;
        for (rel, result) in checked {
            match result {
                Ok(f) => {
                    total = total.saturating_add(f.size);
                    accepted.push(f);
                }
                Err(p) => report.files.push((rel, p)),
            }
        }
        accepted.sort_by(|a, b| a.path.cmp(&b.path));
        if !self.allow_duplicates {
            let mut seen: HashMap<[u8; 32], String> = HashMap::new();
            for f in &accepted {
                if let Some(first) = seen.get(&f.sha256) {
                    report.files.push((
                        f.path.as_str().to_owned(),
                        Problem::Duplicate { of: first.clone() },
                    ));
                } else {
                    seen.insert(f.sha256, f.path.as_str().to_owned());
                }
            }
        }
        if total > self.max_total_bytes {
            report.overall.push(format!(
                "{total} bytes in all, over the limit of {}",
                self.max_total_bytes
            ));
        }
        if accepted.is_empty() && report.files.is_empty() {
            report.overall.push("no files to publish".to_owned());
        }
        if report.files.is_empty() && report.overall.is_empty() {
            Ok(accepted)
        } else {
            report.files.sort_by(|a, b| a.0.cmp(&b.0));
            Err(Error::Quarantine(report))
        }
    }

    fn check_file(&self, c: &Candidate) -> Result<SourceFile, Problem> {
        let path: CanonicalPath = c
            .rel
            .parse()
            .map_err(|e: dataseal_manifest::Error| Problem::BadName(e.to_string()))?;
        let unreadable = |e: std::io::Error| Problem::Unreadable(e.to_string());
        let mut file = File::open(&c.location).map_err(unreadable)?;
        let meta = file.metadata().map_err(unreadable)?;
        if !meta.is_file() {
            return Err(Problem::NotRegular);
        }
        let size = meta.len();
        if size > self.max_file_bytes {
            return Err(Problem::TooLarge {
                size,
                limit: self.max_file_bytes,
            });
        }
        if size == 0 && !self.allow_empty {
            return Err(Problem::Empty);
        }
        let mut hasher = Sha256::new();
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF_LEN);
        let mut tail = [0u8; 4];
        let mut buf = vec![0u8; 256 * 1024];
        let mut read: u64 = 0;
        loop {
            let n = file.read(&mut buf).map_err(unreadable)?;
            if n == 0 {
                break;
            }
            let chunk = buf.get(..n).unwrap_or_default();
            hasher.update(chunk);
            if head.len() < SNIFF_LEN {
                let want = (SNIFF_LEN - head.len()).min(n);
                head.extend_from_slice(chunk.get(..want).unwrap_or_default());
            }
            // Keep the last four bytes seen (Parquet's trailing magic).
            if n >= 4 {
                tail.copy_from_slice(chunk.get(n - 4..).unwrap_or_default());
            } else {
                let mut t = tail.to_vec();
                t.extend_from_slice(chunk);
                let start = t.len().saturating_sub(4);
                tail.copy_from_slice(t.get(start..).unwrap_or_default());
            }
            read += n as u64;
        }
        if read != size {
            return Err(Problem::Unreadable(format!(
                "changed while read ({size} bytes announced, {read} read)"
            )));
        }
        let found = if size == 0 {
            None
        } else {
            sniff(&head, size >= 8 && &tail == b"PAR1")
        };
        if size > 0
            && let Some(d) = declared(path.as_str())
            && !matches_declared(d, found.as_deref())
        {
            return Err(Problem::TypeMismatch {
                declared: d,
                found: found.unwrap_or_else(|| "of no recognised type".to_owned()),
            });
        }
        Ok(SourceFile {
            path,
            location: c.location.clone(),
            size,
            sha256: hasher.finalize().into(),
            content_type: found,
        })
    }
}
