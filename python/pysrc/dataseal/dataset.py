"""A map-style dataset over a governed version, for PyTorch's ``DataLoader`` (or any
loader that indexes with ``__getitem__``), without importing torch."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional

from . import Version, open_version


class VersionDataset:
    """Items are the version's files (whole, checked against their sealed digest), or
    fixed-size records of one file when ``record_size`` and ``path`` are given.

    The version is opened lazily in each process, so the dataset pickles to worker
    processes (``DataLoader(num_workers=N)``) and each worker opens its own reader.
    ``transform`` is applied to each item's bytes (with its path for file items).
    ``prefix`` keeps only the files under it.
    """

    def __init__(
        self,
        manifest_cid: str,
        *,
        record_size: Optional[int] = None,
        path: Optional[str] = None,
        prefix: str = "",
        transform: Optional[Callable[..., Any]] = None,
        **options: Any,
    ) -> None:
        if (record_size is None) != (path is None):
            raise ValueError("record_size and path go together")
        if record_size is not None and record_size <= 0:
            raise ValueError(f"record_size {record_size}: must be positive")
        self.manifest_cid = manifest_cid
        self.record_size = record_size
        self.path = path
        self.prefix = prefix
        self.transform = transform
        self._options = options
        self._version: Optional[Version] = None
        self._pid: Optional[int] = None
        self._files: Optional[list] = None
        self._size: Optional[int] = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_version"] = None
        state["_pid"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def version(self) -> Version:
        """The version, opened once per process."""
        with self._lock:
            if self._version is None or self._pid != os.getpid():
                self._version = open_version(self.manifest_cid, **self._options)
                self._pid = os.getpid()
                files = [f for f in self._version.files() if f.path.startswith(self.prefix)]
                self._files = [f.path for f in files]
                if self.path is not None:
                    sizes = {f.path: f.size for f in files}
                    if self.path not in sizes:
                        raise KeyError(self.path)
                    self._size = sizes[self.path]
            return self._version

    def __len__(self) -> int:
        self.version()
        if self.record_size is not None:
            return (self._size or 0) // self.record_size
        return len(self._files or [])

    def __getitem__(self, index: int) -> Any:
        version = self.version()
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        if self.record_size is not None:
            with version.open_raw(self.path or "") as f:
                f.seek(index * self.record_size)
                data = f.read(self.record_size)
            return self.transform(data) if self.transform else data
        path = (self._files or [])[index]
        data = version.read(path)
        return self.transform(path, data) if self.transform else (path, data)
