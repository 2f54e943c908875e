use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use dataseal_base::Cid;

use crate::block::store_key;
use crate::walk::check_complete;
use crate::{Block, BlockStat, Error, MAX_BLOCK_LEN, Transport};

/// The marker file at the top of a store directory, and what it holds.
const MARKER: &str = "dataseal-blockstore";
const MARKER_CONTENT: &str = "dataseal-blockstore 1\n";

/// An on-disk block store: the embedded default, no server needed.
///
/// # Layout
///
/// ```text
/// ROOT/dataseal-blockstore        "dataseal-blockstore 1": the layout version
/// ROOT/blocks/<xy>/<cid>          one file per block, holding exactly its bytes
/// ROOT/pins/<cid>                 one file per pinned root, holding the CID as pinned
/// ```
///
/// `<cid>` is the block's CIDv1 in lowercase base32 (a CIDv0 is stored under the CIDv1
/// with the same digest, so both name one file) and `<xy>` is the two characters before
/// its last one, which spreads blocks evenly over at most 1,024 directories. Names that
/// start with a dot are never blocks: `.tmp-*` files are writes in progress (left behind
/// only by a crash, and safe to delete when no writer runs), `.corrupt-*` files are
/// blocks that failed verification, kept for inspection.
///
/// # Guarantees
///
/// - **Atomic writes.** A block or pin is written to a temporary file in its final
///   directory, flushed to disk (`fsync`), renamed to its final name, and the directory is
///   flushed. A crash at any point leaves either no file or the complete one under the
///   final name, never a partial block.
/// - **Concurrent readers** (threads or processes) only ever open final names, so they
///   see whole blocks. Concurrent writers of one block write identical bytes.
/// - **Verified reads.** Every block read is hashed against its CID. A file that does not
///   match (disk corruption, tampering) is an [`Error::Integrity`], never returned data;
///   it is renamed to `.corrupt-<cid>` so that `has` reports it missing and the next
///   `put` restores it.
/// - **Regular files only, bounded reads.** A block, pin or marker is read only from a
///   regular file: a symlink is never followed and a FIFO, socket, device or directory is
///   never opened (the type is checked with `lstat` first, and the opened file checked to
///   be the one examined). Under a block's name, such an entry is an [`Error::Integrity`]
///   and is quarantined like a corrupt file. No read takes more than the limit plus one
///   byte: a block file over the store's `max_block_len` is an [`Error::BlockTooLarge`]
///   (left for the next `put` to replace), pin and marker files are bounded too.
/// - **Durable pins.** Written like blocks; a pin survives a crash once `pin` returns.
///
/// File operations run on tokio's blocking thread pool when called inside a tokio
/// runtime, and inline otherwise.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dataseal_transport::{DirStore, ImportParams, Transport};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let store = DirStore::open(dir.path())?;
/// let root = store.add(&mut &b"some bytes"[..], &ImportParams::default()).await?;
/// store.pin(&root).await?;
/// let mut out = Vec::new();
/// store.cat(&root, &mut out).await?;
/// assert_eq!(out, b"some bytes");
/// # Ok::<(), dataseal_transport::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct DirStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    max_block_len: usize,
}

impl DirStore {
    /// Opens the store in `root`, creating it if the directory is missing or empty.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directories cannot be created; [`Error::Malformed`] if
    /// `root` holds a store of another layout version.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, Error> {
        let root = root.as_ref().to_path_buf();
        for dir in [root.clone(), root.join("blocks"), root.join("pins")] {
            fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        let marker = root.join(MARKER);
        match read_marker(&marker)? {
            Some(content) if content == MARKER_CONTENT => {}
            Some(content) => {
                return Err(Error::malformed(
                    "block store",
                    format!(
                        "{} holds {:?}; this version reads layout {:?}",
                        marker.display(),
                        content.trim_end(),
                        MARKER_CONTENT.trim_end()
                    ),
                ));
            }
            None => write_atomic(&root, MARKER, MARKER_CONTENT.as_bytes())?,
        }
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                max_block_len: MAX_BLOCK_LEN,
            }),
        })
    }

    /// Sets the largest block accepted (default [`MAX_BLOCK_LEN`]).
    #[must_use]
    pub fn with_max_block_len(self, max_block_len: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                root: self.inner.root.clone(),
                max_block_len,
            }),
        }
    }

    /// The store's directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The path of the file that holds (or would hold) `cid`.
    #[must_use]
    pub fn block_path(&self, cid: &Cid) -> PathBuf {
        self.inner.block_path(cid)
    }
}

impl Inner {
    fn shard_dir(&self, name: &str) -> PathBuf {
        let chars: Vec<char> = name.chars().collect();
        let shard: String = match chars.len() {
            n if n >= 3 => chars.get(n - 3..n - 1).unwrap_or_default().iter().collect(),
            _ => "__".to_owned(),
        };
        self.root.join("blocks").join(shard)
    }

    fn block_path(&self, cid: &Cid) -> PathBuf {
        let name = store_key(cid).to_string();
        self.shard_dir(&name).join(name)
    }

    fn pin_path(&self, cid: &Cid) -> PathBuf {
        self.root.join("pins").join(store_key(cid).to_string())
    }
}

/// Runs blocking file work off the async executor when there is a tokio runtime.
async fn blocking<T, F>(work: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Error> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(work)
            .await
            .map_err(|e| Error::io("a block store task failed", io::Error::other(e)))?,
        Err(_) => work(),
    }
}

/// Writes `bytes` to `dir/name` atomically and durably.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let dest = dir.join(name);
    let context = || format!("cannot write {}", dest.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(context(), e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(context(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(context(), e))?;
    tmp.persist(&dest)
        .map_err(|e| Error::io(context(), e.error))?;
    sync_dir(dir).map_err(|e| Error::io(context(), e))
}

/// Flushes a directory's entries (the rename) to disk.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The largest pin file read: a CID as text and a newline, with room to spare.
const MAX_PIN_LEN: u64 = 1024;

/// How many times a read starts over when the file it opened is not the one it checked.
const OPEN_ATTEMPTS: usize = 3;

/// What a bounded read of a store file found.
#[derive(Debug)]
enum Bounded {
    /// The whole file, at most the limit.
    Data(Vec<u8>),
    /// Nothing under that name.
    Missing,
    /// A symlink, FIFO, socket, device or directory: never opened, never followed.
    NotRegular,
    /// A regular file over the limit (its length, as far as it was known or read).
    TooLarge(u64),
    /// The name was replaced between the check and the open, on every attempt.
    Changed,
}

/// Reads the regular file `path`, refusing anything else and any file over `limit`
/// bytes without reading more than `limit + 1` of them.
///
/// The file type is checked with `lstat` before the file is opened, so a symlink is never
/// followed and a FIFO or device is never opened (opening a FIFO blocks until a writer
/// comes, reading `/dev/zero` never ends). The opened file is then checked to be the one
/// that was examined (same device and inode, still a regular file); a name swapped in
/// between is read again, up to [`OPEN_ATTEMPTS`] times.
fn read_bounded(path: &Path, limit: u64) -> io::Result<Bounded> {
    for _ in 0..OPEN_ATTEMPTS {
        let before = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Bounded::Missing),
            Err(e) => return Err(e),
        };
        if !before.file_type().is_file() {
            return Ok(Bounded::NotRegular);
        }
        if before.len() > limit {
            return Ok(Bounded::TooLarge(before.len()));
        }
        let file = match fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Bounded::Missing),
            Err(e) => return Err(e),
        };
        let after = file.metadata()?;
        if !after.file_type().is_file() || !same_file(&before, &after) {
            continue;
        }
        let capacity = usize::try_from(after.len().min(limit)).unwrap_or(0);
        let mut data = Vec::with_capacity(capacity);
        file.take(limit.saturating_add(1)).read_to_end(&mut data)?;
        let read = data.len() as u64;
        if read > limit {
            return Ok(Bounded::TooLarge(read));
        }
        return Ok(Bounded::Data(data));
    }
    Ok(Bounded::Changed)
}

/// Whether two metadata describe the same file.
#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Whether two metadata describe the same file (no inode numbers: both regular files).
#[cfg(not(unix))]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.file_type().is_file() && b.file_type().is_file()
}

/// Renames a block file that failed verification to `.corrupt-<name>`, next to it.
///
/// `rename` acts on the name itself: a symlink is moved, never followed.
fn quarantine(path: &Path) {
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
        let mut quarantined = std::ffi::OsString::from(".corrupt-");
        quarantined.push(name);
        let _ = fs::rename(path, dir.join(quarantined));
    }
}

/// Reads and verifies a block file of at most `limit` bytes; quarantines it if it does
/// not verify or is not a regular file.
///
/// A symlink, FIFO, socket, device or directory under a block's name is an
/// [`Error::Integrity`] (never followed, never opened), like a file whose bytes do not
/// hash to the CID, and is quarantined the same way; a file over `limit` is an
/// [`Error::BlockTooLarge`] and is left in place (another handle on the store may accept
/// larger blocks), to be replaced by the next `put`.
fn read_verified(path: &Path, cid: &Cid, limit: usize) -> Result<Bytes, Error> {
    let read = read_bounded(path, limit as u64)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let data = match read {
        Bounded::Data(data) => data,
        Bounded::Missing => return Err(Error::NotFound(*cid)),
        Bounded::TooLarge(len) => {
            return Err(Error::BlockTooLarge {
                len,
                limit: limit as u64,
            });
        }
        Bounded::Changed => return Err(Error::Integrity { cid: *cid }),
        Bounded::NotRegular => {
            quarantine(path);
            return Err(Error::Integrity { cid: *cid });
        }
    };
    if cid.verify(&data) {
        return Ok(Bytes::from(data));
    }
    quarantine(path);
    Err(Error::Integrity { cid: *cid })
}

/// Reads the store's marker file: a regular file of at most a few bytes.
fn read_marker(marker: &Path) -> Result<Option<String>, Error> {
    let limit = MARKER_CONTENT.len() as u64 * 4;
    let read = read_bounded(marker, limit)
        .map_err(|e| Error::io(format!("cannot read {}", marker.display()), e))?;
    let refuse = |why: &str| {
        Err(Error::malformed(
            "block store",
            format!("{}: {why}", marker.display()),
        ))
    };
    match read {
        Bounded::Data(data) => Ok(Some(String::from_utf8_lossy(&data).into_owned())),
        Bounded::Missing => Ok(None),
        Bounded::NotRegular => refuse("not a regular file"),
        Bounded::TooLarge(_) => refuse(&format!("larger than {limit} bytes")),
        Bounded::Changed => refuse("changed while being read"),
    }
}

/// Reads one pin file: a regular file of at most [`MAX_PIN_LEN`] bytes holding a CID.
/// `None` if it was removed (unpinned) since it was listed.
fn read_pin(path: &Path) -> Result<Option<Cid>, Error> {
    let read = read_bounded(path, MAX_PIN_LEN)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let refuse = |why: String| {
        Err(Error::malformed(
            "pin file",
            format!("{}: {why}", path.display()),
        ))
    };
    let data = match read {
        Bounded::Data(data) => data,
        Bounded::Missing => return Ok(None),
        Bounded::NotRegular => return refuse("not a regular file".to_owned()),
        Bounded::TooLarge(_) => return refuse(format!("larger than {MAX_PIN_LEN} bytes")),
        Bounded::Changed => return refuse("changed while being read".to_owned()),
    };
    let Ok(text) = std::str::from_utf8(&data) else {
        return refuse("not UTF-8".to_owned());
    };
    text.trim()
        .parse()
        .map(Some)
        .or_else(|e| refuse(format!("{e}")))
}

#[async_trait]
impl Transport for DirStore {
    async fn put(&self, block: &Block) -> Result<(), Error> {
        if block.len() > self.inner.max_block_len {
            return Err(Error::BlockTooLarge {
                len: block.len() as u64,
                limit: self.inner.max_block_len as u64,
            });
        }
        let inner = self.inner.clone();
        let block = block.clone();
        blocking(move || {
            let name = store_key(block.cid()).to_string();
            let dir = inner.shard_dir(&name);
            let path = dir.join(&name);
            // A good copy stays; anything else under the name (missing, corrupt, too
            // large, not a regular file: the last quarantined) is replaced.
            if read_verified(&path, block.cid(), inner.max_block_len).is_ok() {
                return Ok(());
            }
            fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            write_atomic(&dir, &name, block.data())
        })
        .await
    }

    async fn get(&self, cid: &Cid) -> Result<Bytes, Error> {
        let path = self.inner.block_path(cid);
        let (cid, limit) = (*cid, self.inner.max_block_len);
        blocking(move || read_verified(&path, &cid, limit)).await
    }

    /// Reads and checks the block once (a corrupt file is quarantined, as by `get`).
    async fn get_block(&self, cid: &Cid) -> Result<Block, Error> {
        let path = self.inner.block_path(cid);
        let (cid, limit) = (*cid, self.inner.max_block_len);
        let data = blocking(move || read_verified(&path, &cid, limit)).await?;
        Ok(Block::checked(cid, data))
    }

    async fn has(&self, cid: &Cid) -> Result<bool, Error> {
        let path = self.inner.block_path(cid);
        // `lstat`: a symlink is not a block, whatever it points to.
        blocking(move || match fs::symlink_metadata(&path) {
            Ok(meta) => Ok(meta.file_type().is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(format!("cannot stat {}", path.display()), e)),
        })
        .await
    }

    async fn stat(&self, cid: &Cid) -> Result<BlockStat, Error> {
        let path = self.inner.block_path(cid);
        let cid = *cid;
        blocking(move || match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_file() => Ok(BlockStat::new(meta.len())),
            Ok(_) => Err(Error::NotFound(cid)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound(cid)),
            Err(e) => Err(Error::io(format!("cannot stat {}", path.display()), e)),
        })
        .await
    }

    async fn pin(&self, root: &Cid) -> Result<(), Error> {
        check_complete(self, root).await?;
        let dir = self.inner.root.join("pins");
        let name = store_key(root).to_string();
        let content = format!("{root}\n");
        blocking(move || write_atomic(&dir, &name, content.as_bytes())).await
    }

    async fn unpin(&self, root: &Cid) -> Result<bool, Error> {
        let path = self.inner.pin_path(root);
        blocking(move || {
            let removed = match fs::remove_file(&path) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(Error::io(format!("cannot remove {}", path.display()), e)),
            };
            if let Some(dir) = path.parent() {
                sync_dir(dir)
                    .map_err(|e| Error::io(format!("cannot sync {}", dir.display()), e))?;
            }
            Ok(removed)
        })
        .await
    }

    async fn pins(&self) -> Result<Vec<Cid>, Error> {
        let dir = self.inner.root.join("pins");
        blocking(move || {
            let context = || format!("cannot list {}", dir.display());
            let mut pins = Vec::new();
            for entry in fs::read_dir(&dir).map_err(|e| Error::io(context(), e))? {
                let entry = entry.map_err(|e| Error::io(context(), e))?;
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                pins.extend(read_pin(&entry.path())?);
            }
            pins.sort();
            Ok(pins)
        })
        .await
    }
}
