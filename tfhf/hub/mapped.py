"""The open / memory-map / close life cycle the checkpoint readers share.

:class:`MappedFile` opens a file read-only, maps the whole of it (an empty file gets no map),
runs the subclass's ``_parse`` and closes everything again if parsing raises, so a reader
never leaks a handle on a bad file. Arrays a reader hands out are views of the map; closing
while such views are alive leaves the map to close when the last view goes.
"""

from __future__ import annotations

import mmap
import os

from ..errors import CheckpointError


class MappedFile:
    """Base of the readers: ``path``, ``size``, ``_handle`` (binary file), ``_map`` (read-only
    ``mmap`` of the whole file, ``None`` when the file is empty or closed).

    ``kind`` names the format in the error raised when the file cannot be opened.
    """

    kind = "checkpoint file"

    def __init__(self, path):
        self.path = os.fspath(path)
        self._map = None
        self._handle = None
        try:
            self._handle = open(self.path, "rb")
        except OSError as e:
            raise CheckpointError(f"Cannot open {self.kind} '{self.path}': {e}") from None
        try:
            self.size = os.fstat(self._handle.fileno()).st_size
            if self.size:
                self._map = mmap.mmap(self._handle.fileno(), 0, access=mmap.ACCESS_READ)
            self._parse()
        except BaseException:
            self.close()
            raise

    def _parse(self):  # pragma: no cover - every reader defines it
        raise NotImplementedError

    def _require_open(self):
        if self._handle is None:
            raise CheckpointError(f"{self.kind} '{self.path}' is closed.")

    def close(self):
        mapping, handle = self._map, self._handle
        self._map = self._handle = None
        if mapping is not None:
            try:
                mapping.close()
            except BufferError:  # arrays still view the map; it closes when they are freed
                pass
        if handle is not None:
            handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
