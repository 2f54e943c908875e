//! The native half of the `dataseal` Python package: thin bindings over the `dataseal`
//! facade (verify, open a version for reading, read objects by ranges). Every decision
//! is the facade's; this crate only converts arguments, results and errors, and
//! releases the GIL while the facade works.

#![forbid(unsafe_code)]

use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use dataseal::policy::{Action, Approval, Grant};
use dataseal::{
    DirCatalog, Error, ErrorKind, Fetch, FileBroker, GateConfig, ObjectReader, OpenVersion,
    Provider,
};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

create_exception!(
    _native,
    DatasealError,
    PyException,
    "Base class of every dataseal error."
);
create_exception!(
    _native,
    VerificationError,
    DatasealError,
    "Something did not verify (CLI exit code 1)."
);
create_exception!(
    _native,
    InvalidInput,
    DatasealError,
    "Bad input: a malformed document, option or path (CLI exit code 2)."
);
create_exception!(
    _native,
    PolicyDenied,
    DatasealError,
    "The policy decision point denied the read (CLI exit code 3)."
);
create_exception!(
    _native,
    VersionBlocked,
    DatasealError,
    "The version is revoked, erased or under legal hold (CLI exit code 4)."
);
create_exception!(
    _native,
    Unavailable,
    DatasealError,
    "No provider could serve, or a store could not be reached (CLI exit code 5)."
);

/// The Python exception for a facade error, carrying its message.
fn to_py(err: &Error) -> PyErr {
    let message = err.to_string();
    match err.kind() {
        ErrorKind::Verification => VerificationError::new_err(message),
        ErrorKind::Invalid => InvalidInput::new_err(message),
        ErrorKind::Denied => PolicyDenied::new_err(message),
        ErrorKind::Blocked => VersionBlocked::new_err(message),
        _ => Unavailable::new_err(message),
    }
}

fn invalid(message: impl Into<String>) -> PyErr {
    InvalidInput::new_err(message.into())
}

/// The CID of the manifest a DSSE envelope carries (its JSON bytes), without
/// verifying any signature.
#[pyfunction]
fn manifest_cid(envelope: &[u8]) -> PyResult<String> {
    let envelope = dataseal::base::dsse::Envelope::from_json(envelope)
        .map_err(|e| invalid(format!("the envelope: {e}")))?;
    Ok(dataseal::manifest::manifest_cid(envelope.payload_unverified()).to_string())
}

/// Verifies a signed manifest envelope (its JSON bytes) against keys trusted in roles
/// (`KEY.pub=ROLE`) and thresholds (`ROLE=N`); with `against`, also the files of a
/// local directory. Returns the verification report as JSON.
#[pyfunction]
#[pyo3(signature = (envelope, trust, thresholds = Vec::new(), against = None))]
fn verify_report(
    py: Python<'_>,
    envelope: Vec<u8>,
    trust: Vec<String>,
    thresholds: Vec<String>,
    against: Option<PathBuf>,
) -> PyResult<String> {
    let policy = dataseal::keys::trust_policy(&trust).map_err(|e| to_py(&e))?;
    let policy = dataseal::keys::with_thresholds(policy, &thresholds).map_err(|e| to_py(&e))?;
    let json = py.detach(move || {
        let (report, _) = dataseal::manifest::verify_with_report(
            &envelope,
            &policy,
            dataseal::Timestamp::now(),
            against.as_deref(),
        );
        serde_json::to_string(&report)
    });
    json.map_err(|e| invalid(format!("the report: {e}")))
}

/// A version opened for reading.
#[pyclass(frozen, module = "dataseal._native")]
struct NativeVersion {
    version: OpenVersion,
}

/// What `open_version` needs, gathered so the work can run without the GIL.
struct OpenRequest {
    manifest_cid: String,
    stores: Vec<String>,
    identity: PathBuf,
    trust: Vec<String>,
    thresholds: Vec<String>,
    entities: PathBuf,
    principal: String,
    purpose: String,
    region: String,
    action: String,
    grant: Option<String>,
    grant_keys: Vec<PathBuf>,
    approvals: Vec<PathBuf>,
    approvers: Vec<String>,
    policies: Option<PathBuf>,
    record: Option<PathBuf>,
    registry: Option<String>,
    catalog: PathBuf,
    keys_dir: PathBuf,
    audit_log: Option<(PathBuf, PathBuf)>,
    job: Option<String>,
    window: usize,
}

impl OpenRequest {
    fn open(self) -> Result<OpenVersion, Error> {
        let cid = self
            .manifest_cid
            .parse()
            .map_err(|e| Error::Invalid(format!("manifest CID {:?}: {e}", self.manifest_cid)))?;
        let trust = dataseal::keys::trust_policy(&self.trust)?;
        let trust = dataseal::keys::with_thresholds(trust, &self.thresholds)?;
        let action: Action = self
            .action
            .parse()
            .map_err(|e| Error::Invalid(format!("action {:?}: {e}", self.action)))?;
        let mut fetch = Fetch::new(
            cid,
            trust.clone(),
            dataseal::parse_principal(&self.principal)?,
            action,
            self.purpose
                .parse()
                .map_err(|e| Error::Invalid(format!("purpose {:?}: {e}", self.purpose)))?,
            self.region
                .parse()
                .map_err(|e| Error::Invalid(format!("region {:?}: {e}", self.region)))?,
        )
        .window(self.window);
        if let Some(grant) = &self.grant {
            fetch = fetch.grant(Grant::from_token(grant.trim()));
        }
        if let Some(job) = &self.job {
            fetch = fetch.job(job);
        }
        for path in &self.approvals {
            let approval = Approval::from_json(&dataseal::keys::read_document(path)?)
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
            fetch = fetch.approval(approval);
        }
        let identities =
            dataseal::Identity::parse_file(&dataseal::keys::read_text(&self.identity)?)
                .map_err(|e| Error::Invalid(format!("{}: {e}", self.identity.display())))?;
        let broker = FileBroker::new(&self.keys_dir).identities(identities);
        let catalog = DirCatalog::new(&self.catalog);
        let mut providers = self
            .stores
            .iter()
            .map(|s| Provider::open(s, false))
            .collect::<Result<Vec<_>, _>>()?;
        let mut config = GateConfig::new(&self.entities);
        if let Some(dir) = &self.policies {
            config = config.policies(dir);
        }
        if let Some(path) = &self.record {
            config = config.record(path);
        }
        for key in &self.grant_keys {
            config = config.grant_key(key);
        }
        for spec in &self.approvers {
            config = config.approver(spec);
        }
        if let Some((log, key)) = &self.audit_log {
            config = config.audit(log, key, None);
        }
        if let Some(url) = &self.registry {
            config = config.registry(url);
        }
        let owned = config.load(&trust, &mut fetch, &mut providers, &catalog)?;
        fetch.open(providers, &catalog, &broker, &owned.gate())
    }
}

/// Opens version `manifest_cid` for reading: verifies its envelope, asks the policy
/// decision point, releases its key. No block of any object is read before the
/// decision allows.
#[pyfunction]
#[pyo3(signature = (
    manifest_cid, *, stores, identity, trust, entities, principal, purpose, region,
    action = "train".to_owned(), grant = None, grant_keys = Vec::new(), approvals = Vec::new(),
    approvers = Vec::new(), thresholds = Vec::new(), policies = None, record = None,
    registry = None, catalog = PathBuf::from(".dataseal/catalog"),
    keys_dir = PathBuf::from(".dataseal/keys"), audit_log = None, job = None, window = 8
))]
#[expect(
    clippy::too_many_arguments,
    reason = "keyword arguments of a Python function"
)]
fn open_version(
    py: Python<'_>,
    manifest_cid: String,
    stores: Vec<String>,
    identity: PathBuf,
    trust: Vec<String>,
    entities: PathBuf,
    principal: String,
    purpose: String,
    region: String,
    action: String,
    grant: Option<String>,
    grant_keys: Vec<PathBuf>,
    approvals: Vec<PathBuf>,
    approvers: Vec<String>,
    thresholds: Vec<String>,
    policies: Option<PathBuf>,
    record: Option<PathBuf>,
    registry: Option<String>,
    catalog: PathBuf,
    keys_dir: PathBuf,
    audit_log: Option<(PathBuf, PathBuf)>,
    job: Option<String>,
    window: usize,
) -> PyResult<NativeVersion> {
    let request = OpenRequest {
        manifest_cid,
        stores,
        identity,
        trust,
        thresholds,
        entities,
        principal,
        purpose,
        region,
        action,
        grant,
        grant_keys,
        approvals,
        approvers,
        policies,
        record,
        registry,
        catalog,
        keys_dir,
        audit_log,
        job,
        window: window.max(1),
    };
    let version = py.detach(move || request.open()).map_err(|e| to_py(&e))?;
    Ok(NativeVersion { version })
}

#[pymethods]
impl NativeVersion {
    /// The manifest CID.
    #[getter]
    fn cid(&self) -> String {
        self.version.cid().to_string()
    }

    /// The verified manifest as canonical JSON.
    fn manifest_json(&self) -> PyResult<String> {
        let bytes = self
            .version
            .manifest()
            .manifest()
            .to_json()
            .map_err(|e| invalid(format!("the manifest: {e}")))?;
        String::from_utf8(bytes).map_err(|e| invalid(format!("the manifest: {e}")))
    }

    /// Every object as (path, size), in path order.
    fn files(&self) -> Vec<(String, u64)> {
        self.version
            .files()
            .into_iter()
            .map(|f| (f.path, f.size))
            .collect()
    }

    /// Opens one object for reading by ranges.
    fn open(&self, py: Python<'_>, path: String) -> PyResult<NativeObject> {
        let version = self.version.clone();
        let reader = py
            .detach(move || version.open(&path))
            .map_err(|e| to_py(&e))?;
        Ok(NativeObject {
            size: reader.size(),
            reader: Mutex::new(reader),
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Reads one object whole, checked against its sealed digest too.
    fn read<'py>(&self, py: Python<'py>, path: String) -> PyResult<Bound<'py, PyBytes>> {
        let version = self.version.clone();
        let bytes = py
            .detach(move || version.read(&path))
            .map_err(|e| to_py(&e))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The reproducibility receipt of what has been read so far, as JSON.
    fn receipt_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.version.receipt())
            .map_err(|e| invalid(format!("the receipt: {e}")))
    }

    /// Calls `callback(path, offset, length, size, total)` after every range read
    /// (fetched, re-hashed and decrypted); `None` stops it. The callback runs on the
    /// reading thread with the GIL held; what it raises is reported as unraisable and
    /// does not stop the read.
    #[pyo3(signature = (callback))]
    fn on_progress(&self, callback: Option<Py<PyAny>>) {
        let Some(callback) = callback else {
            self.version.clear_progress();
            return;
        };
        self.version.on_progress(move |p| {
            Python::attach(|py| {
                if let Err(e) = callback.call1(py, (p.path, p.offset, p.len, p.size, p.total)) {
                    e.write_unraisable(py, Some(callback.bind(py)));
                }
            });
        });
    }

    /// Plaintext bytes fetched and decrypted so far.
    #[getter]
    fn bytes_fetched(&self) -> u64 {
        self.version.bytes_fetched()
    }

    /// How many ranges have been fetched from the stores.
    #[getter]
    fn remote_reads(&self) -> u64 {
        self.version.remote_reads()
    }

    /// How many bad blocks were routed around.
    #[getter]
    fn integrity_failures(&self) -> u64 {
        self.version.integrity_failures()
    }
}

/// One object of an opened version, read by ranges.
#[pyclass(frozen, module = "dataseal._native")]
struct NativeObject {
    size: u64,
    reader: Mutex<ObjectReader>,
    /// `readinto`'s buffer, kept so that a run of reads allocates it once.
    scratch: Mutex<Vec<u8>>,
}

#[pymethods]
impl NativeObject {
    /// The plaintext length.
    #[getter]
    fn size(&self) -> u64 {
        self.size
    }

    /// The current position.
    fn tell(&self) -> u64 {
        self.reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .position()
    }

    /// Moves to `offset` from `whence` (0 start, 1 current, 2 end); returns the new
    /// position.
    #[pyo3(signature = (offset, whence = 0))]
    fn seek(&self, offset: i64, whence: i32) -> PyResult<u64> {
        let to = match whence {
            0 => SeekFrom::Start(
                u64::try_from(offset).map_err(|_| invalid(format!("negative seek {offset}")))?,
            ),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            other => return Err(invalid(format!("whence {other}: expected 0, 1 or 2"))),
        };
        self.reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seek(to)
            .map_err(|e| invalid(e.to_string()))
    }

    /// Reads into a writable buffer from the current position; returns the count (0 at
    /// the end).
    fn readinto(&self, py: Python<'_>, buffer: pyo3::buffer::PyBuffer<u8>) -> PyResult<usize> {
        if buffer.readonly() {
            return Err(invalid("readinto needs a writable buffer"));
        }
        let len = buffer.item_count();
        let mut scratch = self.scratch.lock().unwrap_or_else(PoisonError::into_inner);
        scratch.resize(len, 0);
        let data = scratch.as_mut_slice();
        let n = py
            .detach(|| {
                let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
                read_full(&mut reader, data)
            })
            .map_err(|e| to_py(&e))?;
        buffer.copy_from_slice(py, &*data)?;
        Ok(n)
    }

    /// Reads up to `size` bytes (all that is left when negative), straight into the
    /// `bytes` object returned.
    #[pyo3(signature = (size = -1))]
    fn read<'py>(&self, py: Python<'py>, size: i64) -> PyResult<Bound<'py, PyBytes>> {
        let want = {
            let reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
            let left = reader.size().saturating_sub(reader.position());
            usize::try_from(u64::try_from(size).map_or(left, |s| s.min(left))).unwrap_or(0)
        };
        let mut got = 0;
        let bytes = PyBytes::new_with(py, want, |out| {
            got = py
                .detach(|| {
                    let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
                    read_full(&mut reader, out)
                })
                .map_err(|e| to_py(&e))?;
            Ok(())
        })?;
        if got == want {
            Ok(bytes)
        } else {
            // Another thread moved the position in between: return what was read.
            Ok(PyBytes::new(
                py,
                bytes.as_bytes().get(..got).unwrap_or_default(),
            ))
        }
    }
}

/// Fills `buf` as far as the object goes.
fn read_full(reader: &mut ObjectReader, buf: &mut [u8]) -> Result<usize, Error> {
    let mut done = 0;
    while done < buf.len() {
        let n = reader.read_bytes(buf.get_mut(done..).unwrap_or_default())?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(manifest_cid, m)?)?;
    m.add_function(wrap_pyfunction!(verify_report, m)?)?;
    m.add_function(wrap_pyfunction!(open_version, m)?)?;
    m.add_class::<NativeVersion>()?;
    m.add_class::<NativeObject>()?;
    m.add("DatasealError", py.get_type::<DatasealError>())?;
    m.add("VerificationError", py.get_type::<VerificationError>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    m.add("PolicyDenied", py.get_type::<PolicyDenied>())?;
    m.add("VersionBlocked", py.get_type::<VersionBlocked>())?;
    m.add("Unavailable", py.get_type::<Unavailable>())?;
    Ok(())
}
