"""dataseal for Python: verify signed dataset versions and read them, decrypted in
memory only, from pandas, pyarrow, Hugging Face ``datasets`` and PyTorch.

Every decision is made by the Rust facade underneath: signatures, the policy
decision, key release, block re-hashing and chunk authentication. Nothing here
re-implements any of it.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from . import _native
from ._native import (
    DatasealError,
    InvalidInput,
    PolicyDenied,
    Unavailable,
    VerificationError,
    VersionBlocked,
)

__all__ = [
    "DatasealError",
    "InvalidInput",
    "ObjectFile",
    "PolicyDenied",
    "Unavailable",
    "VerificationError",
    "VerificationReport",
    "Version",
    "VersionBlocked",
    "manifest_cid",
    "open_version",
    "verify",
]

PathLike = Union[str, "os.PathLike[str]"]


def _bytes_of(envelope: Union[bytes, bytearray, PathLike]) -> bytes:
    """The envelope's bytes: given directly, or read from a path."""
    if isinstance(envelope, (bytes, bytearray)):
        return bytes(envelope)
    with open(envelope, "rb") as f:
        return f.read()


def manifest_cid(envelope: Union[bytes, bytearray, PathLike]) -> str:
    """The CID of the manifest a DSSE envelope carries (no signature is checked)."""
    return _native.manifest_cid(_bytes_of(envelope))


@dataclass(frozen=True)
class Failure:
    """One reason verification failed: a stable ``code`` and a message."""

    code: str
    message: str


@dataclass(frozen=True)
class VerificationReport:
    """What verification found; the same document as ``dataseal manifest verify --json``."""

    verified: bool
    manifest_cid: Optional[str]
    dataset: Optional[str]
    signatures: list = field(default_factory=list)
    thresholds: list = field(default_factory=list)
    files: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def codes(self) -> list:
        """The reason codes of every failure, in order."""
        return [f.code for f in self.failures]

    def raise_for_failure(self) -> None:
        """Raises :class:`VerificationError` naming every failure, unless verified."""
        if not self.verified:
            reasons = "; ".join(f"{f.code}: {f.message}" for f in self.failures)
            raise VerificationError(reasons or "not verified")


def verify(
    envelope: Union[bytes, bytearray, PathLike],
    trust: Sequence[str],
    thresholds: Sequence[str] = (),
    against: Optional[PathLike] = None,
) -> VerificationReport:
    """Verifies a signed manifest envelope.

    ``trust`` lists ``KEY.pub=ROLE`` entries (a public key file trusted to sign in a
    role), ``thresholds`` ``ROLE=N`` entries. With ``against``, the files of that
    directory are checked against the manifest too. Returns the report; call
    :meth:`VerificationReport.raise_for_failure` to turn a failure into an exception.
    Unreadable keys or malformed trust entries raise :class:`InvalidInput`.
    """
    raw = json.loads(
        _native.verify_report(
            _bytes_of(envelope),
            list(trust),
            list(thresholds),
            None if against is None else os.fspath(against),
        )
    )
    return VerificationReport(
        verified=bool(raw.get("verified")),
        manifest_cid=raw.get("manifest_cid"),
        dataset=raw.get("dataset"),
        signatures=list(raw.get("signatures", [])),
        thresholds=list(raw.get("thresholds", [])),
        files=list(raw.get("files", [])),
        failures=[Failure(f["code"], f["message"]) for f in raw.get("failures", [])],
        raw=raw,
    )


class ObjectFile(io.RawIOBase):
    """A read-only, seekable binary file over one object of a :class:`Version`.

    Each read fetches only the chunks it touches, re-hashes every block, authenticates
    and decrypts each chunk in memory. Sequential reads fetch ahead. Wrap it in
    :class:`io.BufferedReader` (as :meth:`Version.open` does) for small reads.
    """

    def __init__(self, native: Any, name: str) -> None:
        super().__init__()
        self._native = native
        self.name = name

    @property
    def size(self) -> int:
        """The object's plaintext length."""
        return self._native.size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        self._checkClosed()
        view = memoryview(buffer).cast("B")
        return self._native.readinto(view)

    def readall(self) -> bytes:
        self._checkClosed()
        return self._native.read(-1)

    def read(self, size: int = -1) -> bytes:
        self._checkClosed()
        return self._native.read(-1 if size is None else size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()
        if whence == io.SEEK_SET and offset < 0:
            raise ValueError(f"negative seek position {offset}")
        return self._native.seek(offset, whence)

    def tell(self) -> int:
        self._checkClosed()
        return self._native.tell()


@dataclass(frozen=True)
class FileInfo:
    """One object of a version: its path and plaintext size."""

    path: str
    size: int


@dataclass(frozen=True)
class Progress:
    """One range a reader fetched, re-hashed and decrypted (see
    :meth:`Version.on_progress`)."""

    path: str
    """The object's path."""
    offset: int
    """Where the range starts in the object's plaintext."""
    length: int
    """The range's plaintext length."""
    size: int
    """The object's plaintext length."""
    total: int
    """Plaintext bytes fetched by every reader of the version so far."""


class Version:
    """A version opened for reading by :func:`open_version`: verified, allowed by the
    policy decision point, its key released. Plaintext exists only in memory."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self._manifest: Optional[dict] = None

    @property
    def cid(self) -> str:
        """The manifest CID."""
        return self._native.cid

    @property
    def manifest(self) -> dict:
        """The verified manifest (its JSON as a dict)."""
        if self._manifest is None:
            self._manifest = json.loads(self._native.manifest_json())
        return self._manifest

    def files(self) -> list:
        """Every object, in path order."""
        return [FileInfo(p, s) for p, s in self._native.files()]

    def open(self, path: str, buffering: int = 1 << 20) -> io.BufferedReader:
        """Opens object ``path`` as a seekable, read-only binary file."""
        raw = ObjectFile(self._native.open(path), path)
        return io.BufferedReader(raw, buffer_size=max(buffering, 1))

    def open_raw(self, path: str) -> ObjectFile:
        """Opens object ``path`` unbuffered: every read goes to the reader."""
        return ObjectFile(self._native.open(path), path)

    def read(self, path: str) -> bytes:
        """Reads object ``path`` whole, checked against its sealed digest as well."""
        return self._native.read(path)

    def receipt(self) -> dict:
        """The reproducibility receipt of what has been read so far."""
        return json.loads(self._native.receipt_json())

    def on_progress(self, callback: Optional[Callable[[Progress], None]]) -> None:
        """Calls ``callback(Progress(...))`` after every range any reader of this
        version fetched, re-hashed and decrypted (``None`` stops it). It runs on the
        reading thread; what it raises is reported as unraisable and does not stop
        the read. For example ``tqdm``: ``version.on_progress(lambda p:
        bar.update(p.length))``."""
        if callback is None:
            self._native.on_progress(None)
            return
        self._native.on_progress(lambda *fields: callback(Progress(*fields)))

    @property
    def bytes_fetched(self) -> int:
        """Plaintext bytes fetched and decrypted so far."""
        return self._native.bytes_fetched

    @property
    def remote_reads(self) -> int:
        """How many ranges were fetched from the stores."""
        return self._native.remote_reads

    @property
    def integrity_failures(self) -> int:
        """How many blocks that did not hash to their CID were routed around."""
        return self._native.integrity_failures


def _grant_token(grant: Optional[Union[str, PathLike]]) -> Optional[str]:
    """A grant token, given directly or as the path of a file holding one."""
    if grant is None:
        return None
    text = os.fspath(grant)
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as f:
            return f.read().strip()
    return text.strip()


def open_version(
    manifest_cid: str,
    *,
    stores: Iterable[str],
    identity: PathLike,
    trust: Sequence[str],
    entities: PathLike,
    principal: str,
    purpose: str,
    region: str,
    action: str = "train",
    grant: Optional[Union[str, PathLike]] = None,
    grant_keys: Sequence[PathLike] = (),
    approvals: Sequence[PathLike] = (),
    approvers: Sequence[str] = (),
    thresholds: Sequence[str] = (),
    policies: Optional[PathLike] = None,
    record: Optional[PathLike] = None,
    registry: Optional[str] = None,
    catalog: PathLike = ".dataseal/catalog",
    keys_dir: PathLike = ".dataseal/keys",
    audit_log: Optional[tuple] = None,
    job: Optional[str] = None,
    window: int = 8,
    progress: Optional[Callable[[Progress], None]] = None,
) -> Version:
    """Opens version ``manifest_cid`` for reading, as ``dataseal fetch`` does up to
    the first block: the envelope and its signatures, the policy decision (recorded
    in ``audit_log`` = ``(LOG, SIGNING_KEY)`` when given, and in the registry), the
    key. Nothing of any object is read before the decision allows.

    The arguments are those of ``dataseal fetch``: ``stores`` as ``[NAME[@REGION]=]SPEC``
    (``dir:PATH``, ``kubo:URL``, ``btfs:URL``), ``trust`` as ``KEY.pub=ROLE``,
    ``approvers`` as ``KEY.pub=ROLE:USER``; ``grant`` is a token or a file holding one.
    ``progress``, if given, is called after every range read (:meth:`Version.on_progress`).

    Raises :class:`PolicyDenied` (denied), :class:`VersionBlocked` (revoked, erased,
    held), :class:`VerificationError`, :class:`InvalidInput` or :class:`Unavailable`.
    """
    native = _native.open_version(
        manifest_cid,
        stores=[str(s) for s in stores],
        identity=os.fspath(identity),
        trust=list(trust),
        entities=os.fspath(entities),
        principal=principal,
        purpose=purpose,
        region=region,
        action=action,
        grant=_grant_token(grant),
        grant_keys=[os.fspath(k) for k in grant_keys],
        approvals=[os.fspath(a) for a in approvals],
        approvers=list(approvers),
        thresholds=list(thresholds),
        policies=None if policies is None else os.fspath(policies),
        record=None if record is None else os.fspath(record),
        registry=registry,
        catalog=os.fspath(catalog),
        keys_dir=os.fspath(keys_dir),
        audit_log=None
        if audit_log is None
        else (os.fspath(audit_log[0]), os.fspath(audit_log[1])),
        job=job,
        window=window,
    )
    version = Version(native)
    if progress is not None:
        version.on_progress(progress)
    return version


from .dataset import VersionDataset  # noqa: E402
from .fs import DatasealFileSystem  # noqa: E402

__all__ += ["DatasealFileSystem", "FileInfo", "Failure", "Progress", "VersionDataset"]
