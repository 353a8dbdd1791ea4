"""Safetensors reading and writing with numpy, defensive against hostile files.

The reader validates the whole header before touching tensor bytes: the header length must
fit in the file, every dtype must be known, every shape must be a list of non-negative
integers whose byte size equals its offset range, and ranges must lie inside the data section
without overlapping; the header must be UTF-8 JSON (an object) within safetensors' 100 MB
limit. Any violation raises :class:`tfhf.errors.CheckpointError` naming the file. Tensor data
is then memory-mapped, so nothing larger than the file is ever allocated.

The writer produces files the ``safetensors`` package reads (and reads what it writes),
including bfloat16 and float8 through ``ml_dtypes``. Every write goes through
:class:`FolderTransaction`: files are written under temporary names in the target folder and
renamed into place together, so a failure leaves neither temporary files nor a half-written
checkpoint, and the files of an earlier save stay as they were.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile

import numpy as np

from ..errors import CheckpointError, InvalidInputError
from .mapped import MappedFile

MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit
MAX_RANK = 64  # numpy's limit on dimensions
MAX_NOMINAL_BYTES = 2**60  # an empty tensor's shape must still be one numpy can describe
# JSON values (keys included) in a header: a tensor entry has about 12, so this allows some
# 87,000 tensors in one file while json.loads stays near 100 MB however the header is built.
MAX_HEADER_VALUES = 1 << 20

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


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def count_json_values(raw: bytes) -> int:
    """An upper bound on the values (keys included) of a JSON text, without parsing it: each
    one but the first follows a ``,``, a ``:`` or an opening bracket. When a quick count over
    the whole text is over the limit, separators inside strings are taken off (every string
    is a value too, so a text of more strings than the limit is over it anyway)."""
    def count(text):
        return sum(text.count(c) for c in (b",", b":", b"[", b"{"))

    quick = 1 + count(raw)
    if quick <= MAX_HEADER_VALUES:
        return quick
    strings = (raw.count(b'"') - raw.count(b'\\"')) // 2
    if strings > MAX_HEADER_VALUES:
        return strings
    return quick - sum(count(m.group()) for m in _JSON_STRING.finditer(raw))


def _check_text(path, text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(path, f"the name or metadata string {_short(text)} is not valid Unicode "
                         "(it holds a lone surrogate)") from None


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SafetensorsFile(MappedFile):
    """A validated safetensors file. ``keys()``, ``get(name)`` (numpy), ``metadata``."""

    kind = "weights file"

    def _parse(self):
        header = self._read_header()
        meta = header.pop("__metadata__", {})
        if meta is None:
            meta = {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise _bad(self.path, "__metadata__ must be an object mapping strings to strings")
        for text in (*meta, *meta.values(), *header):
            _check_text(self.path, text)
        self.metadata = meta
        data_len = self.size - self._data_start
        entries = {name: self._entry(name, info, data_len) for name, info in header.items()}
        spans = sorted((b, e, k) for k, (_, _, b, e) in entries.items() if e > b)
        for (_, end1, name1), (begin2, _, name2) in zip(spans, spans[1:]):
            if begin2 < end1:
                raise _bad(self.path, f"tensors {_short(name1)} and {_short(name2)} overlap in "
                                      "the data section")
        self._entries = entries

    def _read_header(self) -> dict:
        """The JSON header, refused before it is parsed when its length or its number of JSON
        values is over the limits (parsing allocates ~100 bytes per value)."""
        path, size = self.path, self.size
        if size < 8:
            raise _bad(path, f"it is {size} bytes long, shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", self._handle.read(8))
        if length > size - 8:
            raise _bad(path, f"the header claims {length} bytes but only {size - 8} follow")
        if length > MAX_HEADER_BYTES:
            raise _bad(path, f"the header is {length} bytes, over the {MAX_HEADER_BYTES}-byte "
                             "limit")
        raw = self._handle.read(length)
        if len(raw) != length:
            raise _bad(path, f"the header claims {length} bytes but only {len(raw)} could be "
                             "read")
        values = count_json_values(raw)
        if values > MAX_HEADER_VALUES:
            raise _bad(path, f"the header holds about {values} JSON values, over tfhf's limit "
                             f"of {MAX_HEADER_VALUES} (some {MAX_HEADER_VALUES // 12} tensors)")
        self._data_start = 8 + length
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _bad(path, f"the header is not UTF-8 ({e})") from None
        del raw
        try:
            header = json.loads(text)
        except RecursionError:
            raise _bad(path, "the header is not valid JSON (nested too deeply)") from None
        except ValueError as e:  # JSONDecodeError, and ints over Python's digit limit
            raise _bad(path, f"the header is not valid JSON ({str(e)[:200]})") from None
        if not isinstance(header, dict):
            raise _bad(path, f"the header is a JSON {type(header).__name__}, not an object")
        return header

    def _entry(self, name, info, data_len):
        """``(dtype, shape, begin, end)`` of one header entry, every field checked."""
        path = self.path
        if not isinstance(info, dict):
            raise _bad(path, f"entry {_short(name)} is not an object")
        dtype = info.get("dtype")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise _bad(path, f"tensor {_short(name)} has unknown dtype {_short(dtype)} "
                             f"(known: {', '.join(sorted(DTYPES))})")
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise _bad(path, f"tensor {_short(name)} has an invalid shape {_short(shape)} "
                             "(expected a list of non-negative integers)")
        if len(shape) > MAX_RANK:
            raise _bad(path, f"tensor {_short(name)} has {len(shape)} dimensions (at most "
                             f"{MAX_RANK} are supported)")
        offsets = info.get("data_offsets")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise _bad(path, f"tensor {_short(name)} has invalid data_offsets {_short(offsets)}")
        begin, end = offsets
        if begin < 0 or end < begin or end > data_len:
            raise _bad(path, f"tensor {_short(name)} has data_offsets {_short(offsets)} "
                             f"outside the {data_len}-byte data section")
        itemsize = DTYPES[dtype].itemsize
        count, nominal = 1, 1
        for d in shape:
            count *= d
            nominal *= max(d, 1)
        if nominal * itemsize > MAX_NOMINAL_BYTES:
            # Only reachable for empty tensors (a non-empty one must fit in the file); numpy
            # could not even describe such a shape.
            raise _bad(path, f"tensor {_short(name)} has an impossibly large shape "
                             f"{_short(shape)}")
        if count * itemsize != end - begin:
            raise _bad(path, f"tensor {_short(name)} has shape {_short(shape)} of {dtype} = "
                             f"{count * itemsize} bytes but its data_offsets span {end - begin} "
                             "bytes")
        return DTYPES[dtype], tuple(shape), begin, end

    def keys(self):
        return list(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def shape(self, name):
        return self._entries[name][1]

    def get(self, name) -> np.ndarray:
        dtype, shape, begin, end = self._entries[name]
        self._require_open()
        if end == begin:
            return np.zeros(shape, dtype)
        start = self._data_start + begin
        return np.frombuffer(self._map, dtype=dtype, count=(end - begin) // dtype.itemsize,
                             offset=start).reshape(shape)


def load_file(path: str) -> dict[str, np.ndarray]:
    """Read every tensor of a safetensors file into numpy arrays (copies)."""
    with SafetensorsFile(path) as f:
        return {k: np.array(f.get(k)) for k in f.keys()}


def shard_files_from_index(index_path: str) -> list[str]:
    """The shard file names an index (``*.index.json``) lists, in order, without repeats."""
    try:
        with open(index_path, encoding="utf-8") as fh:
            index = json.load(fh)
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        raise CheckpointError(
            f"'{index_path}' is not a valid shard index: expected JSON with a 'weight_map' "
            "object mapping weight names to shard files. Download or save the model again."
        ) from None
    files = []
    for f in weight_map.values():
        if (not isinstance(f, str) or not f or f in (".", "..")
                or os.path.basename(f) != f or "\\" in f or "\0" in f):
            raise CheckpointError(
                f"'{index_path}' names an invalid shard file {_short(f)}: shards must be plain "
                "file names in the same folder as the index.")
        if f not in files:
            files.append(f)
    return files


# ---------------------------------------------------------------------------- writing
TMP_PREFIX = ".tmp-tfhf-"


def _file_mode():
    """The mode a plainly created file gets (``mkstemp`` would leave 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class FolderTransaction:
    """Write several files into one folder so that either all of them land or none does.

    Each file is written under a temporary name in the target folder; :meth:`commit` renames
    them into place (moving files they replace aside first, and putting those back if a rename
    fails) and then deletes the files listed in ``remove``. Leaving the ``with`` block without
    committing, or with an exception, deletes every temporary file.
    """

    def __init__(self, folder: str):
        self.folder = folder
        self._staged: list[tuple[str, str]] = []  # (temp path, final name)
        self._mode = _file_mode()

    def write(self, name: str, writer):
        """Stage ``name``; ``writer(fh)`` writes its bytes to a binary file handle."""
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".part", dir=self.folder)
        self._staged.append((tmp, name))
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
        os.chmod(tmp, self._mode)

    def write_text(self, name: str, text: str):
        data = text.encode("utf-8")
        self.write(name, lambda fh: fh.write(data))

    def commit(self, remove=()):
        placed, backups = [], []
        try:
            for tmp, name in self._staged:
                final = os.path.join(self.folder, name)
                if os.path.lexists(final):
                    fd, bak = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".old", dir=self.folder)
                    os.close(fd)
                    os.replace(final, bak)
                    backups.append((bak, final))
                os.replace(tmp, final)
                placed.append(final)
        except BaseException:
            for final in placed:
                _remove_quietly(final)
            for bak, final in reversed(backups):
                try:
                    os.replace(bak, final)
                except OSError:  # pragma: no cover - nothing better to do
                    pass
            self.abort()
            raise
        self._staged = []
        for bak, _ in backups:
            _remove_quietly(bak)
        for name in remove:
            _remove_quietly(os.path.join(self.folder, name))

    def abort(self):
        for tmp, _ in self._staged:
            _remove_quietly(tmp)
        self._staged = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _prepare_tensors(tensors) -> dict[str, np.ndarray]:
    out = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise InvalidInputError(f"Cannot save a tensor named {_short(name)} in safetensors: "
                                    "names must be strings other than '__metadata__'.")
        arr = np.asarray(value)
        if not arr.flags.c_contiguous:  # (np.ascontiguousarray would turn scalars 1-D)
            arr = arr.copy(order="C")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        if arr.dtype not in _NAMES:
            raise InvalidInputError(
                f"Cannot save tensor '{name}' of dtype {arr.dtype} as safetensors (supported: "
                f"{', '.join(sorted(str(d) for d in _NAMES))}).")
        out[name] = arr
    return out


def _serialize_header(tensors: dict[str, np.ndarray], metadata):
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        n = arr.nbytes
        header[name] = {"dtype": _NAMES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return raw


def _writer(tensors, metadata):
    header = _serialize_header(tensors, metadata)

    def write(fh):
        fh.write(struct.pack("<Q", len(header)))
        fh.write(header)
        for arr in tensors.values():
            if arr.size:
                fh.write(arr.reshape(-1).view(np.uint8).data)

    return write


def save_file(tensors: dict[str, np.ndarray], path: str, metadata: dict | None = None):
    """Write a safetensors file atomically (temp file in the same folder, then rename)."""
    tensors = _prepare_tensors(tensors)
    folder = os.path.dirname(os.path.abspath(path))
    with FolderTransaction(folder) as tx:
        tx.write(os.path.basename(path), _writer(tensors, metadata))
        tx.commit()


def parse_size(size) -> int:
    """'5GB', '200MB', '10KiB' or an int -> bytes."""
    if isinstance(size, int) and not isinstance(size, bool):
        value = size
    else:
        s = str(size).strip().upper()
        units = {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
                 "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "B": 1}
        value = None
        for unit, mult in units.items():
            if s.endswith(unit):
                try:
                    value = int(float(s[: -len(unit)]) * mult)
                except ValueError:
                    pass
                break
    if value is None or value <= 0:
        raise InvalidInputError(f"max_shard_size={size!r} is not a positive size like '5GB', "
                                "'200MB' or a number of bytes.")
    return value


_SHARD_RE = r"{base}-\d{{5}}-of-\d{{5}}\.safetensors"


def plan_shards(tensors: dict[str, np.ndarray], max_shard_size="5GB") -> list[dict]:
    """Split ``tensors`` (in order) into shards of at most ``max_shard_size`` bytes each; a
    tensor larger than the limit gets a shard of its own (as transformers does)."""
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
    return shards


def save_sharded(tensors: dict[str, np.ndarray], folder: str, max_shard_size="5GB",
                 metadata=None, base="model", extra_files: dict | None = None) -> list[str]:
    """Save as ``model.safetensors`` or as shards plus ``model.safetensors.index.json``.

    ``extra_files`` (name -> text, e.g. ``config.json``) are written in the same
    all-or-nothing step. Returns the file names written. Weight files of an earlier save in
    ``folder`` that the new save does not replace (other shards, a stale index or single
    file) are removed once the new files are in place; if anything fails, the folder is left
    as it was and no temporary file remains.
    """
    import re

    tensors = _prepare_tensors(tensors)
    shards = plan_shards(tensors, max_shard_size)
    os.makedirs(folder, exist_ok=True)
    single = f"{base}.safetensors"
    index_name = f"{base}.safetensors.index.json"
    shard_re = re.compile(_SHARD_RE.format(base=re.escape(base)))
    stale = [f for f in os.listdir(folder) if shard_re.fullmatch(f)]
    old_index = os.path.join(folder, index_name)
    if os.path.isfile(old_index):
        try:
            stale += [f for f in shard_files_from_index(old_index) if f.endswith(".safetensors")]
        except CheckpointError:
            pass  # an unreadable old index is replaced anyway
    written = []
    with FolderTransaction(folder) as tx:
        if len(shards) == 1:
            tx.write(single, _writer(shards[0], metadata))
            written.append(single)
            stale.append(index_name)
        else:
            total = len(shards)
            weight_map = {}
            for i, shard in enumerate(shards, 1):
                fname = f"{base}-{i:05d}-of-{total:05d}.safetensors"
                tx.write(fname, _writer(shard, metadata))
                written.append(fname)
                weight_map.update({k: fname for k in shard})
            index = {"metadata": {"total_size": int(sum(a.nbytes for a in tensors.values()))},
                     "weight_map": weight_map}
            tx.write_text(index_name, json.dumps(index, indent=2, sort_keys=True) + "\n")
            written.append(index_name)
            stale.append(single)
        for name, text in (extra_files or {}).items():
            tx.write_text(name, text)
            written.append(name)
        tx.commit(remove=[f for f in dict.fromkeys(stale) if f not in written])
    return written
