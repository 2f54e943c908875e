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
