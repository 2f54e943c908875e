//! Where a version's signed envelope is found from its manifest CID.

use std::fmt;
use std::path::{Path, PathBuf};

use dataseal_base::{Cid, DatasetId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::fsutil::write_atomic;

/// The largest catalog entry read, in bytes.
const MAX_ENTRY: u64 = 64 * 1024;

/// What a catalog knows of one published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogEntry {
    /// The version's manifest CID.
    pub manifest: Cid,
    /// The root CID of its signed envelope (a UnixFS file in the stores).
    pub envelope: Cid,
    /// The envelope's length in bytes.
    pub envelope_len: u64,
    /// The dataset.
    pub dataset_id: DatasetId,
    /// The version.
    pub version: String,
    /// When it was published.
    pub published: Timestamp,
}

/// Finds versions: manifest CID → where its signed envelope is. Nothing it says is
/// trusted: a reader checks that the envelope it fetches carries exactly the payload
/// the manifest CID names, and verifies the signatures itself.
pub trait Catalog: fmt::Debug + Send + Sync {
    /// Records a published version (again: not an error).
    ///
    /// # Errors
    ///
    /// Whatever keeps the catalog from storing it.
    fn record(&self, entry: &CatalogEntry) -> Result<(), Error>;

    /// Looks a version up.
    ///
    /// # Errors
    ///
    /// Whatever keeps the catalog from answering.
    fn lookup(&self, manifest: &Cid) -> Result<Option<CatalogEntry>, Error>;
}

/// The embedded catalog: one `CID.json` file per version in a directory.
#[derive(Debug, Clone)]
pub struct DirCatalog {
    dir: PathBuf,
}

impl DirCatalog {
    /// A catalog over `dir` (created on the first record).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, manifest: &Cid) -> PathBuf {
        self.dir.join(format!("{manifest}.json"))
    }
}

impl Catalog for DirCatalog {
    fn record(&self, entry: &CatalogEntry) -> Result<(), Error> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io_at("create", &self.dir, e))?;
        let mut json = serde_json::to_vec_pretty(entry)
            .map_err(|e| Error::Invalid(format!("catalog entry: {e}")))?;
        json.push(b'\n');
        write_atomic(&self.path(&entry.manifest), &json, false)
    }

    fn lookup(&self, manifest: &Cid) -> Result<Option<CatalogEntry>, Error> {
        use std::io::Read;
        let path = self.path(manifest);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io_at("open", &path, e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_ENTRY + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io_at("read", &path, e))?;
        let entry: CatalogEntry = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        if entry.manifest != *manifest {
            return Err(Error::Invalid(format!(
                "{}: names version {}, not {manifest}",
                path.display(),
                entry.manifest
            )));
        }
        Ok(Some(entry))
    }
}
