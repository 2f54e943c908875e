//! Files written atomically: never a half-written file under a final name.

use std::io::Write;
use std::path::Path;

use crate::Error;

/// Writes `bytes` to `path` through a temporary file in the same directory, synced and
/// renamed into place; `secret` files get mode 0600.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], secret: bool) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".dataseal-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| Error::io_at("create a temporary file in", dir, e))?;
    if !secret {
        set_mode(tmp.path(), 0o644)?;
    }
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io_at("write", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io_at("rename into", path, e.error))?;
    Ok(())
}

/// Syncs a directory, so a removal or rename in it survives a crash (best effort: a
/// file system that cannot sync directories is not an error).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Sets a file's permission bits.
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io_at("set the mode of", path, e))
}

/// Creates a directory (and its parents) with mode 0700 for the last one.
pub(crate) fn create_private_dir(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(|e| Error::io_at("create", path, e))?;
    set_mode(path, 0o700)
}

/// An output file written under a temporary name in the destination's directory and
/// renamed into place only by [`AtomicFile::commit`] (or [`AtomicFile::commit_new`]).
///
/// Dropped without a commit — on an error, or on an early return — the temporary file is
/// removed and nothing appears under the final name. A process killed mid-write leaves
/// only a hidden `.NAME.XXXXXX.tmp` file, never a file that looks finished.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    dest: std::path::PathBuf,
}

impl AtomicFile {
    /// Starts writing `dest`. A `secret` file is created with mode 0600 whatever the
    /// umask; any other with 0644 less the umask.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if `dest` has no file name; [`Error::Io`] if the temporary
    /// file cannot be created in its directory.
    pub fn create(dest: impl Into<std::path::PathBuf>, secret: bool) -> Result<Self, Error> {
        use std::os::unix::fs::PermissionsExt;
        let dest = dest.into();
        let name = dest
            .file_name()
            .ok_or_else(|| Error::Invalid(format!("{}: not a file name", dest.display())))?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let mode = if secret { 0o600 } else { 0o644 };
        let tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(mode))
            .tempfile_in(&dir)
            .map_err(|e| Error::io_at("create", &dest, e))?;
        if secret {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io_at("create", &dest, e))?;
        }
        Ok(Self { tmp, dest })
    }

    /// The final path.
    #[must_use]
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The open temporary file, to write to.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.tmp.as_file_mut()
    }

    /// Writes all of `bytes`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the final path.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let result = self.file().write_all(bytes);
        result.map_err(|e| Error::io_at("write", &self.dest, e))
    }

    fn sync(&mut self) -> Result<(), Error> {
        let file = self.tmp.as_file_mut();
        let result = file.flush().and_then(|()| file.sync_all());
        result.map_err(|e| Error::io_at("write", &self.dest, e))
    }

    /// Flushes the file to disk and renames it to its final name, replacing any file
    /// already there.
    ///
    /// # Errors
    ///
    /// [`Error::Io`]; the temporary file is then removed.
    pub fn commit(mut self) -> Result<(), Error> {
        self.sync()?;
        let dest = self.dest;
        self.tmp
            .persist(&dest)
            .map(drop)
            .map_err(|e| Error::io_at("create", &dest, e.error))
    }

    /// Like [`AtomicFile::commit`], but never replaces an existing file.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if a file already exists under the final name; [`Error::Io`]
    /// if the rename fails. The temporary file is then removed.
    pub fn commit_new(mut self) -> Result<(), Error> {
        self.sync()?;
        let dest = self.dest;
        self.tmp.persist_noclobber(&dest).map(drop).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Invalid(format!(
                    "{} already exists; refusing to overwrite it",
                    dest.display()
                ))
            } else {
                Error::io_at("create", &dest, e.error)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_file_leaves_nothing_unless_committed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let mut f = AtomicFile::create(&dest, false).unwrap();
        f.write_all(b"abc").unwrap();
        drop(f);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut f = AtomicFile::create(&dest, true).unwrap();
        f.write_all(b"abc").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
        let f = AtomicFile::create(&dest, true).unwrap();
        assert!(matches!(f.commit_new(), Err(Error::Invalid(_))));
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(matches!(
            AtomicFile::create(dir.path().join(".."), false),
            Err(Error::Invalid(_))
        ));
    }
}
