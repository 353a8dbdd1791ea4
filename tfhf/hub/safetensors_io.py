"""Safetensors reading and writing with numpy, defensive against hostile files.

The reader validates the whole header before touching tensor bytes: the header length must
fit in the file, every dtype must be known, every shape must be a list of non-negative
integers whose byte size equals its offset range, and ranges must lie inside the data section
without overlapping. Tensor data is then memory-mapped, so nothing larger than the file is
ever allocated.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import tempfile

import numpy as np

from ..errors import CheckpointError

MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit

try:  # ml_dtypes ships with TensorFlow
    import ml_dtypes

    _BF16 = np.dtype(ml_dtypes.bfloat16)
    _F8_E4M3 = np.dtype(ml_dtypes.float8_e4m3fn)
    _F8_E5M2 = np.dtype(ml_dtypes.float8_e5m2)
except Exception:  # pragma: no cover
    _BF16 = _F8_E4M3 = _F8_E5M2 = None

DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
if _BF16 is not None:
    DTYPES.update({"BF16": _BF16, "F8_E4M3": _F8_E4M3, "F8_E5M2": _F8_E5M2})
_NAMES = {v: k for k, v in DTYPES.items()}


def _bad(path, what):
    return CheckpointError(f"'{path}' is not a valid safetensors file: {what}. "
                           "The file may be truncated or corrupt; download or save it again.")


class SafetensorsFile:
    """A validated safetensors file. ``keys()``, ``get(name)`` (numpy), ``metadata``."""

    def __init__(self, path: str):
        self.path = path
        try:
            self._fh = open(path, "rb")
        except OSError as e:
            raise CheckpointError(f"Cannot open weights file '{path}': {e}") from None
        try:
            self._parse()
        except BaseException:
            self.close()
            raise

    def _parse(self):
        path = self.path
        size = os.fstat(self._fh.fileno()).st_size
        if size < 8:
            raise _bad(path, f"it is {size} bytes long, shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", self._fh.read(8))
        if n > size - 8:
            raise _bad(path, f"the header claims {n} bytes but only {size - 8} follow")
        if n > MAX_HEADER_BYTES:
            raise _bad(path, f"the header is {n} bytes, over the {MAX_HEADER_BYTES}-byte limit")
        raw = self._fh.read(n)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _bad(path, f"the header is not valid JSON ({e})") from None
        if not isinstance(header, dict):
            raise _bad(path, "the header is not a JSON object")
        meta = header.pop("__metadata__", None) or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise _bad(path, "__metadata__ must map strings to strings")
        self.metadata = meta
        self._data_start = 8 + n
        data_len = size - self._data_start
        entries = {}
        for name, info in header.items():
            if not isinstance(info, dict):
                raise _bad(path, f"entry '{name}' is not an object")
            dt = info.get("dtype")
            if dt not in DTYPES:
                raise _bad(path, f"tensor '{name}' has unknown dtype {dt!r} "
                                 f"(known: {', '.join(sorted(DTYPES))})")
            shape = info.get("shape")
            if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
            ):
                raise _bad(path, f"tensor '{name}' has an invalid shape {shape!r}")
            offs = info.get("data_offsets")
            if (not isinstance(offs, list) or len(offs) != 2
                    or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)):
                raise _bad(path, f"tensor '{name}' has invalid data_offsets {offs!r}")
            begin, end = offs
            if begin < 0 or end < begin or end > data_len:
                raise _bad(path, f"tensor '{name}' has data_offsets {offs} outside the "
                                 f"{data_len}-byte data section")
            count = 1
            for d in shape:
                count *= d
            nbytes = count * DTYPES[dt].itemsize
            if nbytes != end - begin:
                raise _bad(path, f"tensor '{name}' has shape {shape} of {dt} = {nbytes} bytes "
                                 f"but its data_offsets span {end - begin} bytes")
            entries[name] = (DTYPES[dt], tuple(shape), begin, end)
        spans = sorted((b, e, k) for k, (_, _, b, e) in entries.items() if e > b)
        for (b1, e1, k1), (b2, e2, k2) in zip(spans, spans[1:]):
            if b2 < e1:
                raise _bad(path, f"tensors '{k1}' and '{k2}' overlap in the data section")
        self._entries = entries
        self._mm = None
        if data_len > 0:
            self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)

    def keys(self):
        return list(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def shape(self, name):
        return self._entries[name][1]

    def get(self, name) -> np.ndarray:
        dtype, shape, begin, end = self._entries[name]
        if end == begin:
            return np.zeros(shape, dtype)
        start = self._data_start + begin
        return np.frombuffer(self._mm, dtype=dtype, count=(end - begin) // dtype.itemsize,
                             offset=start).reshape(shape)

    def close(self):
        mm, self._mm = getattr(self, "_mm", None), None
        if mm is not None:
            try:
                mm.close()
            except BufferError:  # arrays still view the map; it closes when they are freed
                pass
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_file(path: str) -> dict[str, np.ndarray]:
    """Read every tensor of a safetensors file into numpy arrays (copies)."""
    with SafetensorsFile(path) as f:
        return {k: np.array(f.get(k)) for k in f.keys()}


def shard_files_from_index(index_path: str) -> list[str]:
    try:
        with open(index_path, encoding="utf-8") as fh:
            index = json.load(fh)
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise CheckpointError(
            f"'{index_path}' is not a valid shard index: expected JSON with a 'weight_map' "
            "object mapping weight names to shard files."
        ) from None
    files = []
    for f in weight_map.values():
        if not isinstance(f, str) or os.path.basename(f) != f:
            raise CheckpointError(f"'{index_path}' names an invalid shard file {f!r}.")
        if f not in files:
            files.append(f)
    return files


def _serialize_header(tensors: dict[str, np.ndarray], metadata):
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        if arr.dtype not in _NAMES:
            raise CheckpointError(f"Cannot save tensor '{name}' of dtype {arr.dtype} as safetensors.")
        n = arr.nbytes
        header[name] = {"dtype": _NAMES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return raw


def save_file(tensors: dict[str, np.ndarray], path: str, metadata: dict | None = None):
    """Write a safetensors file atomically (temp file in the same folder, then rename)."""
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    tensors = {k: (v.astype(v.dtype.newbyteorder("<")) if v.dtype.byteorder == ">" else v)
               for k, v in tensors.items()}
    header = _serialize_header(tensors, metadata)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(struct.pack("<Q", len(header)))
            fh.write(header)
            for arr in tensors.values():
                fh.write(arr.tobytes())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def parse_size(size) -> int:
    """'5GB', '200MB', '10KiB' or an int -> bytes."""
    if isinstance(size, int):
        return size
    s = str(size).strip().upper()
    units = {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
             "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "B": 1}
    for unit, mult in units.items():
        if s.endswith(unit):
            try:
                return int(float(s[: -len(unit)]) * mult)
            except ValueError:
                break
    raise ValueError(f"max_shard_size={size!r} is not a size like '5GB' or '200MB'.")


def save_sharded(tensors: dict[str, np.ndarray], folder: str, max_shard_size="5GB",
                 metadata=None, base="model") -> list[str]:
    """Save as ``model.safetensors`` or as shards plus ``model.safetensors.index.json``.

    Returns the file names written. Stale shards of an earlier save in ``folder`` are removed
    only after the new files are in place.
    """
    limit = parse_size(max_shard_size)
    shards, current, current_size = [], {}, 0
    for name, arr in tensors.items():
        n = arr.nbytes
        if current and current_size + n > limit:
            shards.append(current)
            current, current_size = {}, 0
        current[name] = arr
        current_size += n
    if current or not shards:
        shards.append(current)
    written = []
    index_name = f"{base}.safetensors.index.json"
    if len(shards) == 1:
        save_file(shards[0], os.path.join(folder, f"{base}.safetensors"), metadata)
        written.append(f"{base}.safetensors")
        stale_index = os.path.join(folder, index_name)
        if os.path.exists(stale_index):
            for old in shard_files_from_index(stale_index):
                if os.path.exists(os.path.join(folder, old)):
                    os.remove(os.path.join(folder, old))
            os.remove(stale_index)
        return written
    total = len(shards)
    weight_map = {}
    for i, shard in enumerate(shards, 1):
        fname = f"{base}-{i:05d}-of-{total:05d}.safetensors"
        save_file(shard, os.path.join(folder, fname), metadata)
        written.append(fname)
        weight_map.update({k: fname for k in shard})
    index = {"metadata": {"total_size": int(sum(a.nbytes for a in tensors.values()))},
             "weight_map": weight_map}
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(index, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, os.path.join(folder, index_name))
    written.append(index_name)
    single = os.path.join(folder, f"{base}.safetensors")
    if os.path.exists(single):
        os.remove(single)
    return written
