"""GGUF files (llama.cpp): a defensive reader, dequantization and a lazy weight state.

:class:`GGUFFile` parses the header itself (it is simple) and checks every count, length,
shape, type and offset against the file's own size and fixed limits before it allocates or
reads anything, so a truncated or hostile file raises :class:`~tfhf.errors.CheckpointError`
at once, in bounded time and memory. Tensor data stays in a memory map. Dequantization is the
``gguf`` package's (``gguf.quants.dequantize``).

This module knows the file format only. What a model family's metadata and tensor names mean
(the transformers config, HF weight names, llama.cpp's rotary permutation of Llama's q/k rows,
Gemma's ``1 + w`` norms) lives in ``tfhf/models/<family>/gguf.py``; ``tfhf.models.gguf``
picks the family from ``general.architecture`` through the registry and returns
``(config, GGUFState)``. transformers 5 reads GGUF only through PyTorch; this needs numpy and
``gguf`` only.
"""

from __future__ import annotations

import math
import os
import struct

import numpy as np

from ..errors import CheckpointError, UnsupportedModelError
from .mapped import MappedFile
from .state import WeightState

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (2, 3)  # v1 (32-bit counts) predates every file in circulation
GGML_MAX_DIMS = 4
DEFAULT_ALIGNMENT = 32
MAX_ALIGNMENT = 1 << 16
# Limits far above any real model (a 405B Llama has ~1,100 tensors and ~50 metadata keys; the
# largest vocabularies have ~262k tokens and ~500k merges) that keep a hostile header from
# making the reader build lists of billions of items.
MAX_TENSORS = 1 << 16
MAX_KV = 1 << 16
MAX_ARRAY_ITEMS = 1 << 21  # per metadata array
MAX_METADATA_ITEMS = 1 << 22  # all metadata arrays together

# metadata value types (gguf.GGUFValueType)
TYPE_F32, TYPE_BOOL, TYPE_STRING, TYPE_ARRAY, TYPE_F64 = 6, 7, 8, 9, 12
SCALARS = {  # type id -> (numpy dtype, width, struct format)
    0: ("<u1", 1, "<B"), 1: ("<i1", 1, "<b"), 2: ("<u2", 2, "<H"), 3: ("<i2", 2, "<h"),
    4: ("<u4", 4, "<I"), 5: ("<i4", 4, "<i"), 6: ("<f4", 4, "<f"), 7: ("<u1", 1, "<B"),
    10: ("<u8", 8, "<Q"), 11: ("<i8", 8, "<q"), 12: ("<f8", 8, "<d"),
}


def _ggml_types():
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    return GGMLQuantizationType, GGML_QUANT_SIZES


# ggml types tfhf turns into float32. The plain ones are numpy views; the block-quantized
# ones go through gguf.quants.dequantize (checked against independent references in
# tests/hub/test_gguf_dequantize.py for Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K and more).
PLAIN = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4",
         "I64": "<i8"}
QUANTIZED = ("BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
             "Q6_K", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M",
             "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4")


def invalid(path, what):
    """The error for a file that breaks the format."""
    return CheckpointError(f"'{path}' is not a valid GGUF file: {what}. The file may be "
                           "truncated or corrupt; download or convert it again.")


class GGUFTensorInfo:
    """One tensor's entry in the file: numpy-order ``shape``, ggml type, absolute byte span."""

    __slots__ = ("name", "shape", "ggml_type", "type_name", "start", "nbytes")

    def __init__(self, name, shape, ggml_type, type_name, start, nbytes):
        self.name, self.shape, self.ggml_type = name, shape, ggml_type
        self.type_name, self.start, self.nbytes = type_name, start, nbytes

    def __repr__(self):
        return f"GGUFTensorInfo({self.name!r}, shape={self.shape}, type={self.type_name})"


class Cursor:
    """Bounds-checked little-endian reads from the mapped file."""

    def __init__(self, buf, path, size):
        self.buf, self.path, self.size, self.pos = buf, path, size, 0

    def left(self):
        return self.size - self.pos

    def take(self, n, what):
        if n > self.size - self.pos:
            raise invalid(self.path, f"{what} needs {n} bytes at offset {self.pos} but the "
                                     f"file ends at {self.size}")
        start = self.pos
        self.pos += n
        return start

    def unpack(self, fmt, n, what):
        return struct.unpack_from(fmt, self.buf, self.take(n, what))

    def u32(self, what):
        return self.unpack("<I", 4, what)[0]

    def u64(self, what):
        return self.unpack("<Q", 8, what)[0]

    def string(self, what):
        n = self.u64(f"the length of {what}")
        start = self.take(n, f"{what} ({n} bytes)")
        try:
            return self.buf[start:start + n].decode("utf-8")
        except UnicodeDecodeError:
            raise invalid(self.path, f"{what} at offset {start} is not valid UTF-8") from None


class GGUFFile(MappedFile):
    """A validated GGUF file.

    ``metadata``: key -> value (int, float, bool, str; arrays of numbers as numpy arrays,
    arrays of strings as lists). ``tensors``: GGUF name -> :class:`GGUFTensorInfo`, in file
    order. ``raw(name)`` is the tensor's bytes (a view of the memory map) and
    ``dequantize(name)`` its float32 values in numpy (PyTorch) order. ``meta_int``,
    ``meta_float`` and ``token_id`` read metadata with range checks.
    """

    kind = "GGUF file"

    # ------------------------------------------------------------------ parsing
    def _parse(self):
        path, size = self.path, self.size
        magic = self._map[:4] if self._map is not None else b""
        if magic != GGUF_MAGIC:
            raise invalid(path, f"it does not start with the GGUF magic (got {magic!r})")
        if size < 24:
            raise invalid(path, f"it is {size} bytes long, shorter than the 24-byte GGUF header")
        cursor = Cursor(self._map, path, size)
        cursor.pos = 4
        version = cursor.u32("the version")
        if version not in GGUF_VERSIONS:
            hint = (" (a big-endian file?)" if struct.unpack("<I", struct.pack(">I", version))[0]
                    in GGUF_VERSIONS else "")
            raise invalid(path, f"GGUF version {version}{hint} is not supported (tfhf reads "
                                f"versions {', '.join(map(str, GGUF_VERSIONS))})")
        self.version = version
        n_tensors = cursor.u64("the tensor count")
        n_kv = cursor.u64("the metadata count")
        # Each metadata entry takes at least 13 bytes (key length, type, one-byte value) and
        # each tensor entry at least 24 (name length, dim count, type, offset).
        if n_kv > MAX_KV or n_kv * 13 > cursor.left():
            raise invalid(path, f"the header claims {n_kv} metadata entries, more than the "
                                f"{cursor.left()} bytes left can hold (or the limit {MAX_KV})")
        if n_tensors > MAX_TENSORS or n_tensors * 24 > cursor.left():
            raise invalid(path, f"the header claims {n_tensors} tensors, more than the "
                                f"{cursor.left()} bytes left can hold (or the limit "
                                f"{MAX_TENSORS})")
        self._items_left = MAX_METADATA_ITEMS
        metadata = {}
        for i in range(n_kv):
            key = cursor.string(f"metadata key #{i}")
            vtype = cursor.u32(f"the type of metadata '{key}'")
            if key in metadata:
                raise invalid(path, f"metadata key '{key}' appears twice")
            metadata[key] = self._read_value(cursor, vtype, key)
        self.metadata = metadata
        entries, names = [], set()
        for i in range(n_tensors):
            entry = self._read_tensor_entry(cursor, i, size)
            if entry[0] in names:
                raise invalid(path, f"tensor '{entry[0]}' appears twice")
            names.add(entry[0])
            entries.append(entry)
        self._place_tensors(entries, cursor.pos)

    def _read_tensor_entry(self, cursor, i, size):
        path = self.path
        name = cursor.string(f"the name of tensor #{i}")
        n_dims = cursor.u32(f"the dimension count of tensor '{name}'")
        if n_dims > GGML_MAX_DIMS:
            raise invalid(path, f"tensor '{name}' has {n_dims} dimensions (at most "
                                f"{GGML_MAX_DIMS})")
        dims = cursor.unpack(f"<{n_dims}Q", 8 * n_dims, f"the dimensions of tensor '{name}'")
        ggml_type = cursor.u32(f"the type of tensor '{name}'")
        offset = cursor.u64(f"the offset of tensor '{name}'")
        ggml_types, quant_sizes = _ggml_types()
        try:
            qtype = ggml_types(ggml_type)
        except ValueError:
            raise invalid(path, f"tensor '{name}' has unknown ggml type id {ggml_type}") from None
        if qtype.name not in PLAIN and qtype.name not in QUANTIZED:
            raise CheckpointError(
                f"'{path}': tensor '{name}' is stored as {qtype.name}, a ggml type tfhf "
                f"cannot dequantize (supported: {', '.join([*PLAIN, *QUANTIZED])}).")
        block, type_size = quant_sizes[qtype]
        shape = list(reversed(dims))
        ne0 = dims[0] if dims else 1
        if ne0 % block:
            raise invalid(path, f"tensor '{name}' has rows of {ne0} values, not a multiple of "
                                f"the {qtype.name} block size {block}")
        nbytes = math.prod(dims) // block * type_size
        # An empty tensor holds no bytes, but numpy must still describe its shape: counting
        # each empty dimension as 1, it must fit in the file too.
        nominal = math.prod(max(d, 1) for d in dims) // block * type_size
        if max(nbytes, nominal) > size:
            raise invalid(path, f"tensor '{name}' of shape {shape} as {qtype.name} needs "
                                f"{max(nbytes, nominal)} bytes, more than the whole file "
                                f"({size} bytes)")
        return name, tuple(int(d) for d in shape), ggml_type, qtype.name, offset, nbytes

    def _place_tensors(self, entries, header_end):
        path, size = self.path, self.size
        alignment = self.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if (not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0
                or alignment > MAX_ALIGNMENT or alignment & (alignment - 1)):
            raise invalid(path, f"general.alignment is {alignment!r}, not a power of two up to "
                                f"{MAX_ALIGNMENT}")
        self.alignment = alignment
        data_start = -(-header_end // alignment) * alignment
        if entries and data_start > size:
            raise invalid(path, f"the tensor data would start at offset {data_start}, past the "
                                f"end of the file ({size} bytes)")
        self.data_start = data_start
        data_len = size - data_start
        tensors = {}
        for name, shape, ggml_type, type_name, offset, nbytes in entries:
            if offset % alignment:
                raise invalid(path, f"tensor '{name}' starts at data offset {offset}, not a "
                                    f"multiple of the alignment {alignment}")
            if offset + nbytes > data_len:
                raise invalid(path, f"tensor '{name}' spans data bytes {offset}..{offset + nbytes}"
                                    f" but the data section holds {data_len} bytes")
            tensors[name] = GGUFTensorInfo(name, shape, ggml_type, type_name,
                                           data_start + offset, nbytes)
        spans = sorted((t.start, t.start + t.nbytes, t.name) for t in tensors.values() if t.nbytes)
        for (_, end1, name1), (begin2, _, name2) in zip(spans, spans[1:]):
            if begin2 < end1:
                raise invalid(path, f"tensors '{name1}' and '{name2}' overlap in the data section")
        self.tensors = tensors

    def _read_value(self, cursor, vtype, key):
        if vtype == TYPE_STRING:
            return cursor.string(f"the value of '{key}'")
        if vtype in SCALARS:
            _, width, fmt = SCALARS[vtype]
            (value,) = cursor.unpack(fmt, width, f"the value of '{key}'")
            return _python_scalar(value, vtype)
        if vtype != TYPE_ARRAY:
            raise invalid(self.path, f"metadata '{key}' has unknown value type {vtype}")
        etype = cursor.u32(f"the element type of '{key}'")
        count = cursor.u64(f"the length of '{key}'")
        if etype == TYPE_ARRAY:
            raise invalid(self.path, f"metadata '{key}' is an array of arrays, which GGUF "
                                     "readers do not support")
        if etype != TYPE_STRING and etype not in SCALARS:
            raise invalid(self.path, f"metadata '{key}' is an array of unknown type {etype}")
        width = 8 if etype == TYPE_STRING else SCALARS[etype][1]  # a string's least size
        if count * width > cursor.left():
            what = "strings" if etype == TYPE_STRING else f"values of {width} bytes"
            raise invalid(self.path, f"metadata '{key}' claims {count} {what}, more than the "
                                     f"{cursor.left()} bytes left can hold")
        if count > min(MAX_ARRAY_ITEMS, self._items_left):
            raise invalid(self.path, f"metadata '{key}' claims {count} items, over tfhf's limit "
                                     f"of {MAX_ARRAY_ITEMS} per array and {MAX_METADATA_ITEMS} "
                                     "for all metadata arrays")
        self._items_left -= count
        if etype == TYPE_STRING:
            return self._read_strings(cursor, count, key)
        start = cursor.take(count * width, f"the values of '{key}'")
        values = np.frombuffer(self._map, dtype=SCALARS[etype][0], count=count,
                               offset=start).copy()
        return values != 0 if etype == TYPE_BOOL else values

    def _read_strings(self, cursor, count, key):
        """``count`` length-prefixed strings (a vocabulary: the one hot loop of the header)."""
        buf, pos, end = self._map, cursor.pos, cursor.size
        unpack = struct.Struct("<Q").unpack_from
        out = []
        append = out.append
        try:
            for i in range(count):
                if end - pos < 8:
                    raise invalid(self.path, f"'{key}'[{i}] starts at offset {pos}, past the end")
                (n,) = unpack(buf, pos)
                pos += 8
                if n > end - pos:
                    raise invalid(self.path, f"'{key}'[{i}] claims {n} bytes at offset {pos} "
                                             f"but the file ends at {end}")
                append(buf[pos:pos + n].decode("utf-8"))
                pos += n
        except UnicodeDecodeError:
            raise invalid(self.path, f"'{key}'[{len(out)}] is not valid UTF-8") from None
        cursor.pos = pos
        return out

    # ------------------------------------------------------------------ metadata
    @property
    def architecture(self) -> str:
        arch = self.metadata.get("general.architecture")
        if not isinstance(arch, str):
            raise invalid(self.path, "general.architecture is missing")
        return arch

    def meta_int(self, key, default=None, required=True, minimum=1, maximum=1 << 32):
        """An integer metadata value in ``[minimum, maximum]`` (``None`` if absent and not
        ``required``). A per-layer array is refused: tfhf models share one value."""
        value = self.metadata.get(key, default)
        if value is None:
            if required:
                raise CheckpointError(f"'{self.path}': GGUF metadata '{key}' is missing; it is "
                                      "needed to rebuild the model config.")
            return None
        if isinstance(value, np.ndarray):
            raise UnsupportedModelError(
                f"'{self.path}': GGUF metadata '{key}' is a per-layer array "
                f"({value.tolist()[:8]}...); tfhf supports models with the same value for "
                "every layer.")
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise CheckpointError(f"'{self.path}': GGUF metadata '{key}' = {value!r} is not a "
                                  "valid count.")
        if value > maximum:
            raise CheckpointError(f"'{self.path}': GGUF metadata '{key}' = {value} is over "
                                  f"tfhf's limit of {maximum} for it; the file is corrupt or "
                                  "describes no real model.")
        return value

    def meta_float(self, key, default=None):
        """A positive finite number, or ``None`` if absent."""
        value = self.metadata.get(key, default)
        if value is None:
            return None
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not math.isfinite(value) or value <= 0):
            raise CheckpointError(f"'{self.path}': GGUF metadata '{key}' = {value!r} is not a "
                                  "positive number.")
        return float(value)

    def token_id(self, key):
        """``tokenizer.ggml.<key>`` as an id of the file's vocabulary (``None`` if absent)."""
        value = self.metadata.get(f"tokenizer.ggml.{key}")
        if value is None:
            return None
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        n = len(tokens) if isinstance(tokens, list) else None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (
                n is not None and value >= n):
            raise CheckpointError(f"'{self.path}': tokenizer.ggml.{key} = {value!r} is not a "
                                  f"token id of the {n}-token vocabulary.")
        return value

    # ------------------------------------------------------------------ tensors
    def raw(self, name) -> np.ndarray:
        """The tensor's bytes: a read-only uint8 view of the memory map."""
        info = self.tensors[name]
        self._require_open()
        if info.nbytes == 0:
            return np.zeros(0, np.uint8)
        return np.frombuffer(self._map, dtype=np.uint8, count=info.nbytes, offset=info.start)

    def dequantize(self, name) -> np.ndarray:
        """float32 values in numpy order (a read-only view of the map for F32 tensors)."""
        info = self.tensors[name]
        return dequantize(self.raw(name), info.type_name, info.shape)


def _python_scalar(value, vtype):
    if vtype == TYPE_BOOL:
        return bool(value)
    if vtype == TYPE_F32:
        # the shortest decimal that is this float32: 1e-05, not 9.999999747378752e-06
        if not math.isfinite(value):
            return float(value)
        return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))
    if vtype == TYPE_F64:
        return float(value)
    return int(value)


def dequantize(raw: np.ndarray, ggml_type, shape) -> np.ndarray:
    """Bytes of one tensor stored as ``ggml_type`` (name or id) -> float32 of ``shape``."""
    ggml_types, quant_sizes = _ggml_types()
    qtype = ggml_types[ggml_type] if isinstance(ggml_type, str) else ggml_types(ggml_type)
    shape = tuple(shape)
    if math.prod(shape) == 0:
        return np.zeros(shape, np.float32)
    if qtype.name == "F32":
        return raw.view("<f4").reshape(shape)
    if qtype.name in PLAIN:
        return raw.view(PLAIN[qtype.name]).astype(np.float32).reshape(shape)
    if qtype.name == "BF16":
        return (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    from gguf.quants import dequantize as gguf_dequantize

    block, type_size = quant_sizes[qtype]
    row_bytes = shape[-1] // block * type_size
    out = gguf_dequantize(raw.reshape(-1, row_bytes), qtype)
    return np.asarray(out, dtype=np.float32).reshape(shape)


# ---------------------------------------------------------------------- state
class GGUFState(WeightState):
    """A GGUF file's tensors under HF names, dequantized to float32 on ``get``.

    The same interface as :class:`tfhf.hub.state.SafetensorsState`: ``keys()``, ``get(name)``,
    ``close()``, context manager. ``names`` maps each HF name to its GGUF tensor (the family's
    mapping decides both); ``transform(gguf_name, array)``, when given, undoes what the
    converter did to a tensor (a permutation, an offset). ``ggml_type(name)`` tells how a
    tensor is stored.
    """

    def __init__(self, gguf_file: GGUFFile, config, names: dict, transform=None):
        self._file = gguf_file
        self.config = config
        self.path = gguf_file.path
        self.architecture = gguf_file.architecture
        self._names = dict(names)
        self._transform = transform

    def keys(self):
        return list(self._names)

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)

    def __contains__(self, name):
        return name in self._names

    def gguf_name(self, name) -> str:
        return self._names[name]

    def ggml_type(self, name) -> str:
        return self._file.tensors[self._names[name]].type_name

    def shape(self, name) -> tuple:
        return self._file.tensors[self._names[name]].shape

    def quantized(self, name) -> dict:
        """The tensor's blocks as tfhf's quantized arrays (``qweight``, ``scale``, maybe
        ``offset``; :func:`tfhf.quantization.packing.from_gguf`), with no float32 round trip;
        the family's row transform is applied to each array."""
        from ..quantization.packing import from_gguf

        gguf_name = self._names[name]
        info = self._file.tensors[gguf_name]
        arrays = from_gguf(self._file.raw(gguf_name), info.type_name, info.shape)
        if self._transform is not None:
            arrays = {k: self._transform(gguf_name, v) for k, v in arrays.items()}
        return arrays

    def get(self, name) -> np.ndarray:
        gguf_name = self._names[name]
        values = self._file.dequantize(gguf_name)
        return values if self._transform is None else self._transform(gguf_name, values)

    def close(self):
        self._file.close()


def resolve_gguf_file(name_or_path, gguf_file, revision=None, cache_dir=None,
                      local_files_only=False, token=None, subfolder="") -> str:
    """Local path of ``gguf_file`` inside a folder or Hub repo (through the Hub cache)."""
    from .resolve import ModelSource

    name_or_path = os.fspath(name_or_path)
    gguf_file = os.fspath(gguf_file)
    if os.path.isabs(gguf_file) and os.path.isfile(gguf_file):
        return gguf_file
    source = ModelSource(name_or_path, revision=revision, cache_dir=cache_dir,
                         local_files_only=local_files_only, token=token, subfolder=subfolder)
    path = source.get(gguf_file, required=False)
    if path is None:
        from ..errors import ModelNotFoundError

        raise ModelNotFoundError(f"{source.describe()} has no file '{gguf_file}'."
                                 f"{source.offline_hint()}")
    return path
