"""A read-only fsspec filesystem for ``dataseal://<manifest-cid>/<path>``.

The ``storage_options`` are the keyword arguments of :func:`dataseal.open_version`
(stores, identity, trust, entities, principal, purpose, region, grant, …); they apply
to every version the filesystem opens. Each version is opened (verified, decided,
its key released) once per process, on first use.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Optional

from fsspec.spec import AbstractFileSystem

from . import Version, open_version


class DatasealFileSystem(AbstractFileSystem):
    """fsspec filesystem over governed dataset versions (protocol ``dataseal``)."""

    protocol = "dataseal"
    root_marker = ""

    def __init__(self, **storage_options: Any) -> None:
        super().__init__(**storage_options)
        self._options = dict(storage_options)
        self._versions: dict = {}
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = str(path)
        if text.startswith("dataseal://"):
            text = text[len("dataseal://") :]
        return text.strip("/")

    def _split(self, path: str) -> tuple:
        stripped = self._strip_protocol(path)
        cid, _, inner = stripped.partition("/")
        if not cid:
            raise ValueError(f"{path!r}: expected dataseal://<manifest-cid>/<path>")
        return cid, inner

    def version(self, cid: str) -> Version:
        """The version ``cid``, opened on first use in this process."""
        with self._lock:
            if os.getpid() != self._pid:
                # A forked worker: connections and runtimes do not cross a fork.
                self._versions = {}
                self._pid = os.getpid()
            found = self._versions.get(cid)
            if found is None:
                found = open_version(cid, **self._options)
                self._versions[cid] = found
            return found

    def _entries(self, cid: str) -> list:
        return [(f"{cid}/{f.path}", f.size) for f in self.version(cid).files()]

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list:
        cid, inner = self._split(path)
        prefix = f"{cid}/{inner}".rstrip("/") + "/"
        out: dict = {}
        for name, size in self._entries(cid):
            if name == prefix.rstrip("/"):
                out[name] = {"name": name, "size": size, "type": "file"}
                continue
            if not name.startswith(prefix):
                continue
            head, sep, _ = name[len(prefix) :].partition("/")
            full = prefix + head
            if sep:
                out.setdefault(full, {"name": full, "size": 0, "type": "directory"})
            else:
                out[full] = {"name": full, "size": size, "type": "file"}
        if not out:
            raise FileNotFoundError(path)
        entries = sorted(out.values(), key=lambda e: e["name"])
        return entries if detail else [e["name"] for e in entries]

    def info(self, path: str, **kwargs: Any) -> dict:
        cid, inner = self._split(path)
        name = f"{cid}/{inner}".rstrip("/")
        prefix = name + "/"
        is_dir = not inner
        for entry, size in self._entries(cid):
            if entry == name:
                return {"name": name, "size": size, "type": "file"}
            if entry.startswith(prefix):
                is_dir = True
        if is_dir:
            return {"name": name, "size": 0, "type": "directory"}
        raise FileNotFoundError(path)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Optional[int] = None,
        autocommit: bool = True,
        cache_options: Optional[dict] = None,
        **kwargs: Any,
    ) -> Any:
        if mode != "rb":
            raise PermissionError(f"dataseal:// is read-only (mode {mode!r})")
        cid, inner = self._split(path)
        return self.version(cid).open(inner, buffering=block_size or (1 << 20))

    def ukey(self, path: str) -> str:
        cid, inner = self._split(path)
        return f"{cid}/{inner}"

    def created(self, path: str) -> Any:
        raise NotImplementedError("dataseal versions carry no per-file times")

    def modified(self, path: str) -> Any:
        raise NotImplementedError("dataseal versions carry no per-file times")


try:  # Registered on import as well as through the package's entry point.
    import fsspec

    fsspec.register_implementation("dataseal", DatasealFileSystem, clobber=True)
except Exception:  # pragma: no cover - fsspec is a dependency; registration is a convenience
    pass
