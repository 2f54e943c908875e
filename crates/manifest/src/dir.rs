//! Building object lists from a directory, checking a directory against a manifest, and
//! incremental rebuilds.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::path::{check_collisions, join_relative};
use crate::schema::{Manifest, ObjectEntry, Sha256Digest};
use crate::{CanonicalPath, Error};

/// A regular file found under the root, not yet hashed.
#[derive(Clone, Debug)]
struct Found {
    path: CanonicalPath,
    file: PathBuf,
    size: u64,
    modified: Option<SystemTime>,
}

fn ignore_set(patterns: &[String]) -> Result<globset::GlobSet, Error> {
    let mut builder = globset::GlobSetBuilder::new();
    for p in patterns {
        builder
            .add(globset::Glob::new(p).map_err(|e| Error::Invalid(format!("ignore {p:?}: {e}")))?);
    }
    builder
        .build()
        .map_err(|e| Error::Invalid(format!("ignore: {e}")))
}

/// Walks `root` and lists its regular files by canonical path, sorted, leaving out paths
/// that match an ignore pattern. Symbolic links to files inside the tree are followed;
/// a link that leaves the tree, or that points to a directory, is an error, as is any
/// name that is not UTF-8, any path [`CanonicalPath::new`] refuses and any two paths that
/// collide (see [`check_collisions`]).
fn scan(root: &Path, ignore: &[String]) -> Result<Vec<Found>, Error> {
    let ignore = ignore_set(ignore)?;
    let real_root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.to_path_buf());
            Error::io(
                path,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("file-system loop")),
            )
        })?;
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        if rel.as_os_str().is_empty() {
            continue;
        }
        // Ignored files and directories need not have names a manifest could list; a
        // directory's name is checked as part of the files under it.
        let text = join_relative(rel)?;
        if ignore.is_match(&text) {
            continue;
        }
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        let canonical = CanonicalPath::new(text)?;
        let file = entry.path().to_path_buf();
        let meta = if ft.is_symlink() {
            let target = fs::canonicalize(&file).map_err(|e| Error::io(&file, e))?;
            if !target.starts_with(&real_root) {
                return Err(Error::Path {
                    path: canonical.as_str().to_owned(),
                    reason: "symbolic link leaves the tree",
                });
            }
            let meta = fs::metadata(&target).map_err(|e| Error::io(&file, e))?;
            if !meta.is_file() {
                return Err(Error::Path {
                    path: canonical.as_str().to_owned(),
                    reason: "symbolic link to something other than a file",
                });
            }
            meta
        } else if ft.is_file() {
            entry.metadata().map_err(|e| {
                Error::io(
                    &file,
                    e.into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("metadata")),
                )
            })?
        } else {
            return Err(Error::Path {
                path: canonical.as_str().to_owned(),
                reason: "not a regular file, directory or symbolic link",
            });
        };
        found.push(Found {
            path: canonical,
            file,
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    // Directory-walk order is per component; the manifest's order is by whole-path bytes.
    found.sort_by(|a, b| a.path.cmp(&b.path));
    // Names that a case-sensitive file system keeps apart but others would merge.
    check_collisions(found.iter().map(|f| &f.path))?;
    Ok(found)
}

thread_local! {
    /// One read buffer per hashing thread, reused across files: allocating and zeroing a
    /// fresh buffer per file would cost more than hashing a small file.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 1 << 20]);
}

fn hash_file(path: &Path) -> Result<(Sha256Digest, u64), Error> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    READ_BUF.with_borrow_mut(|buf| {
        let mut h = Sha256::new();
        let mut total = 0u64;
        loop {
            let n = match f.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(path, e)),
            };
            h.update(buf.get(..n).unwrap_or_default());
            total += n as u64;
        }
        Ok((Sha256Digest(h.finalize().into()), total))
    })
}

/// Files whose modification time is this close to the previous build are re-hashed
/// even if their size is unchanged: a write in the same second as the build could
/// otherwise go unseen.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// Lists and hashes (in parallel) every file under `root` as public objects in
/// canonical order, leaving out paths matching `ignore` (glob patterns over the
/// canonical path, where `*` also matches `/`).
///
/// With `previous`, a file whose size equals the previous entry's and whose modification
/// time is at least two seconds before the previous manifest's `created` keeps the
/// previous digest instead of being re-read.
///
/// # Errors
///
/// [`Error::Path`] for a name that is not UTF-8 or not a canonical path (a `:`, a
/// Windows device name such as `con.txt`, a trailing `.` or space, …) or a link leaving
/// the tree, [`Error::PathCollision`] for two names that a case-insensitive or
/// Unicode-normalising file system would merge (`A.csv` and `a.csv`),
/// [`Error::Io`] for unreadable files, [`Error::Invalid`] for a bad pattern.
pub fn build_objects(
    root: &Path,
    ignore: &[String],
    previous: Option<&Manifest>,
) -> Result<Vec<ObjectEntry>, Error> {
    let found = scan(root, ignore)?;
    let reuse: HashMap<&CanonicalPath, (&ObjectEntry, SystemTime)> = previous
        .map(|m| {
            let created = UNIX_EPOCH
                + Duration::from_secs(u64::try_from(m.created.unix_seconds()).unwrap_or(0));
            m.objects
                .iter()
                .filter(|o| o.sha256.is_some())
                .map(|o| (&o.path, (o, created)))
                .collect()
        })
        .unwrap_or_default();
    found
        .par_iter()
        .map(|f| {
            if let (Some((old, created)), Some(modified)) = (reuse.get(&f.path), f.modified)
                && old.size == f.size
                && modified + RACY_WINDOW <= *created
            {
                return Ok((*old).clone());
            }
            let (digest, size) = hash_file(&f.file)?;
            Ok(ObjectEntry::public(f.path.clone(), size, digest))
        })
        .collect()
}

/// How one file compares with the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
#[non_exhaustive]
pub enum FileCheck {
    /// Present with the listed size and digest.
    Ok {
        /// The path.
        path: CanonicalPath,
    },
    /// Listed but not present (and not found renamed).
    Missing {
        /// The path.
        path: CanonicalPath,
    },
    /// Present but not listed (and not a rename).
    Extra {
        /// The path.
        path: CanonicalPath,
    },
    /// Present with other content.
    Changed {
        /// The path.
        path: CanonicalPath,
        /// `size` or `sha256`.
        field: &'static str,
    },
    /// A listed file found under another name with the same content.
    Renamed {
        /// The listed path.
        from: CanonicalPath,
        /// Where it is now.
        to: CanonicalPath,
    },
    /// An encrypted object: its plaintext digest is sealed, so only the size was compared.
    SizeOnly {
        /// The path.
        path: CanonicalPath,
    },
}

impl FileCheck {
    /// Whether this result is a failure.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        !matches!(self, Self::Ok { .. } | Self::SizeOnly { .. })
    }
}

/// Compares the directory `root` with the manifest's objects, reporting every file: ok,
/// missing, extra, changed, or renamed (a missing file whose exact content appears under
/// an extra name). The manifest's ignore patterns apply.
///
/// # Errors
///
/// As [`build_objects`].
pub fn check_dir(manifest: &Manifest, root: &Path) -> Result<Vec<FileCheck>, Error> {
    let found = scan(root, &manifest.ignore)?;
    let on_disk: BTreeMap<&CanonicalPath, &Found> = found.iter().map(|f| (&f.path, f)).collect();
    let listed: BTreeMap<&CanonicalPath, &ObjectEntry> =
        manifest.objects.iter().map(|o| (&o.path, o)).collect();

    let mut results: Vec<FileCheck> = manifest
        .objects
        .par_iter()
        .map(|o| -> Result<Option<FileCheck>, Error> {
            let Some(f) = on_disk.get(&o.path) else {
                return Ok(None);
            };
            if f.size != o.size {
                return Ok(Some(FileCheck::Changed {
                    path: o.path.clone(),
                    field: "size",
                }));
            }
            match &o.sha256 {
                None => Ok(Some(FileCheck::SizeOnly {
                    path: o.path.clone(),
                })),
                Some(want) => {
                    let (got, size) = hash_file(&f.file)?;
                    Ok(Some(if size != o.size {
                        FileCheck::Changed {
                            path: o.path.clone(),
                            field: "size",
                        }
                    } else if got != *want {
                        FileCheck::Changed {
                            path: o.path.clone(),
                            field: "sha256",
                        }
                    } else {
                        FileCheck::Ok {
                            path: o.path.clone(),
                        }
                    }))
                }
            }
        })
        .collect::<Result<Vec<_>, Error>>()?
        .into_iter()
        .flatten()
        .collect();

    let missing: Vec<&ObjectEntry> = manifest
        .objects
        .iter()
        .filter(|o| !on_disk.contains_key(&o.path))
        .collect();
    let extra: Vec<&Found> = found
        .iter()
        .filter(|f| !listed.contains_key(&f.path))
        .collect();
    // Renames: match missing entries to extra files of the same size and digest.
    let mut extra_digests: HashMap<(u64, Sha256Digest), Vec<&CanonicalPath>> = HashMap::new();
    if !missing.is_empty() {
        let hashed: Vec<(u64, Sha256Digest, &CanonicalPath)> = extra
            .par_iter()
            .filter(|f| missing.iter().any(|m| m.size == f.size))
            .map(|f| hash_file(&f.file).map(|(d, s)| (s, d, &f.path)))
            .collect::<Result<_, Error>>()?;
        for (size, digest, path) in hashed {
            extra_digests.entry((size, digest)).or_default().push(path);
        }
    }
    let mut renamed_to: Vec<&CanonicalPath> = Vec::new();
    for m in missing {
        let target = m
            .sha256
            .and_then(|d| extra_digests.get_mut(&(m.size, d)))
            .and_then(|v| {
                if v.is_empty() {
                    None
                } else {
                    Some(v.remove(0))
                }
            });
        match target {
            Some(to) => {
                renamed_to.push(to);
                results.push(FileCheck::Renamed {
                    from: m.path.clone(),
                    to: to.clone(),
                });
            }
            None => results.push(FileCheck::Missing {
                path: m.path.clone(),
            }),
        }
    }
    for f in extra {
        if !renamed_to.contains(&&f.path) {
            results.push(FileCheck::Extra {
                path: f.path.clone(),
            });
        }
    }
    results.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
    Ok(results)
}

fn sort_key(c: &FileCheck) -> &CanonicalPath {
    match c {
        FileCheck::Ok { path }
        | FileCheck::Missing { path }
        | FileCheck::Extra { path }
        | FileCheck::Changed { path, .. }
        | FileCheck::SizeOnly { path } => path,
        FileCheck::Renamed { from, .. } => from,
    }
}
