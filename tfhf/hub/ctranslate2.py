"""A defensive reader of CTranslate2 ``model.bin`` files (binary versions 4 to 6).

Layout (little endian), as CTranslate2's ``ModelSpec._serialize`` writes it:

* ``uint32`` binary version; ``string`` spec name (e.g. ``WhisperSpec``); ``uint32`` spec
  revision; ``uint32`` variable count;
* per variable: ``string`` name, ``uint8`` rank, ``rank x uint32`` dims, ``uint8`` dtype code,
  ``uint32`` byte count, the raw bytes (C order);
* ``uint32`` alias count, then ``(string alias, string target)`` pairs: a variable stored
  once under several names (tied weights).

A ``string`` is a ``uint16`` length (counting a NUL terminator) followed by that many
bytes. Dtype codes follow CTranslate2's ``DataType`` enum: 0 float32, 1 int8, 2 int16,
3 int32, 4 float16, 5 bfloat16.

Every count, length and size is checked against what is left of the file before anything
is allocated; arrays are read-only views of a memory map. Quantized weights (``int8``
with a per-row ``<name>_scale``, ``int16`` with a scalar one) are dequantized by
:meth:`CT2Model.float_array` as ``value / scale``.
"""

from __future__ import annotations

import struct

import numpy as np

from ..errors import CheckpointError
from .mapped import MappedFile

SUPPORTED_VERSIONS = (4, 5, 6)
MAX_RANK = 8
MAX_NAME = 4096

_BF16 = "bfloat16"
DTYPES = {0: np.dtype("<f4"), 1: np.dtype("i1"), 2: np.dtype("<i2"), 3: np.dtype("<i4"),
          4: np.dtype("<f2"), 5: _BF16}
DTYPE_NAMES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}


def _itemsize(dtype):
    return 2 if dtype == _BF16 else dtype.itemsize


def bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    """uint16 bfloat16 bit patterns -> float32 (the high half of a float32)."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


class CT2Variable:
    __slots__ = ("name", "shape", "code", "offset", "nbytes")

    def __init__(self, name, shape, code, offset, nbytes):
        self.name, self.shape, self.code = name, shape, code
        self.offset, self.nbytes = offset, nbytes

    @property
    def dtype_name(self):
        return DTYPE_NAMES[self.code]


class CT2Model(MappedFile):
    """A parsed ``model.bin``: ``spec``, ``revision``, ``version``, ``names()``, ``shape()``,
    ``raw(name)`` (stored dtype, bfloat16 as float32), ``float_array(name)`` (dequantized
    float32 or float16 as stored) and ``scalar(name)``. Aliases resolve to their target."""

    kind = "CTranslate2 model"

    # ------------------------------------------------------------------ parsing
    def _bad(self, what):
        return CheckpointError(f"CTranslate2 model '{self.path}' is corrupt or not a "
                               f"CTranslate2 model.bin: {what}. Re-download or re-convert it.")

    def _take(self, n, what):
        if n < 0 or self._pos + n > self.size:
            raise self._bad(f"{what} needs {n} bytes at offset {self._pos} but the file has "
                            f"{self.size} bytes (truncated?)")
        start = self._pos
        self._pos += n
        return start

    def _unpack(self, fmt, what):
        n = struct.calcsize("<" + fmt)
        start = self._take(n, what)
        return struct.unpack_from("<" + fmt, self._map, start)[0]

    def _string(self, what):
        n = self._unpack("H", f"the length of {what}")
        if n == 0 or n > MAX_NAME:
            raise self._bad(f"{what} has length {n}")
        start = self._take(n, what)
        raw = bytes(self._map[start:start + n])
        if raw[-1] != 0:
            raise self._bad(f"{what} is not NUL-terminated")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise self._bad(f"{what} is not UTF-8 text") from None

    def _parse(self):
        if self.size == 0:
            raise self._bad("the file is empty")
        self._pos = 0
        self.version = self._unpack("I", "the binary version")
        if self.version not in SUPPORTED_VERSIONS:
            raise CheckpointError(
                f"CTranslate2 model '{self.path}' has binary version {self.version}; tfhf reads "
                f"versions {SUPPORTED_VERSIONS[0]} to {SUPPORTED_VERSIONS[-1]} (CTranslate2 3.x "
                "and 4.x). Convert the model with a matching ctranslate2 release.")
        self.spec = self._string("the spec name")
        self.revision = self._unpack("I", "the spec revision")
        count = self._unpack("I", "the variable count")
        # the smallest record: 3-byte name, rank, dtype, byte count
        if count > (self.size - self._pos) // 9:
            raise self._bad(f"it declares {count} variables, more than {self.size} bytes "
                            "can hold")
        self._vars: dict[str, CT2Variable] = {}
        for i in range(count):
            name = self._string(f"the name of variable {i}")
            rank = self._unpack("B", f"the rank of '{name}'")
            if rank > MAX_RANK:
                raise self._bad(f"variable '{name}' has rank {rank}")
            dims = [self._unpack("I", f"a dimension of '{name}'") for _ in range(rank)]
            code = self._unpack("B", f"the dtype of '{name}'")
            if code not in DTYPES:
                raise CheckpointError(
                    f"CTranslate2 model '{self.path}': variable '{name}' has dtype code {code}, "
                    f"not one tfhf knows ({', '.join(f'{k}={v}' for k, v in DTYPE_NAMES.items())}"
                    "). The file is corrupt or from a newer CTranslate2.")
            nbytes = self._unpack("I", f"the byte count of '{name}'")
            expected = _itemsize(DTYPES[code])
            for d in dims:
                expected *= d
            if expected != nbytes:
                raise self._bad(f"variable '{name}' of shape {tuple(dims)} and dtype "
                                f"{DTYPE_NAMES[code]} needs {expected} bytes but declares "
                                f"{nbytes}")
            offset = self._take(nbytes, f"the data of '{name}'")
            if name in self._vars:
                raise self._bad(f"variable '{name}' appears twice")
            self._vars[name] = CT2Variable(name, tuple(dims), code, offset, nbytes)
        self.aliases: dict[str, str] = {}
        n_alias = self._unpack("I", "the alias count")
        if n_alias > (self.size - self._pos) // 6:
            raise self._bad(f"it declares {n_alias} aliases, more than the rest of the file "
                            "can hold")
        for i in range(n_alias):
            alias = self._string(f"alias {i}")
            target = self._string(f"the target of alias '{alias}'")
            if target not in self._vars:
                raise self._bad(f"alias '{alias}' points to '{target}', which is not a variable")
            self.aliases[alias] = target
        if self._pos != self.size:
            raise self._bad(f"{self.size - self._pos} unexpected bytes after the aliases")

    # ------------------------------------------------------------------ access
    def names(self):
        return list(self._vars) + list(self.aliases)

    def __contains__(self, name):
        return name in self._vars or name in self.aliases

    def variable(self, name) -> CT2Variable:
        name = self.aliases.get(name, name)
        if name not in self._vars:
            raise CheckpointError(f"CTranslate2 model '{self.path}' has no variable '{name}'.")
        return self._vars[name]

    def shape(self, name):
        return self.variable(name).shape

    def raw(self, name) -> np.ndarray:
        """The stored values (a read-only view; bfloat16 is widened to float32)."""
        v = self.variable(name)
        self._require_open()
        dtype = DTYPES[v.code]
        if dtype == _BF16:
            arr = np.frombuffer(self._map, np.dtype("<u2"), v.nbytes // 2, v.offset)
            return bfloat16_to_float32(arr).reshape(v.shape)
        return np.frombuffer(self._map, dtype, v.nbytes // dtype.itemsize,
                             v.offset).reshape(v.shape)

    def scalar(self, name, default=None):
        if name not in self:
            return default
        v = self.raw(name)
        if v.size != 1:
            raise self._bad(f"'{name}' should be a scalar, has shape {v.shape}")
        return v.reshape(()).item()

    def float_array(self, name) -> np.ndarray:
        """A floating-point weight: float32/float16 as stored, bfloat16 as float32, int8/int16
        divided by ``<name>_scale`` (CTranslate2's quantization: ``q = round(w * scale)``)."""
        v = self.variable(name)
        arr = self.raw(name)
        if v.code in (0, 4, 5):
            return arr
        scale_name = f"{name}_scale"
        if v.code not in (1, 2) or scale_name not in self:
            raise CheckpointError(
                f"CTranslate2 model '{self.path}': weight '{name}' is {v.dtype_name} without a "
                f"'{scale_name}' to dequantize it; tfhf cannot read this quantization.")
        scale = np.asarray(self.float_array(scale_name), np.float32)
        if scale.size == 1:
            scale = scale.reshape(())
        elif scale.shape == (arr.shape[0],):
            scale = scale.reshape((-1,) + (1,) * (arr.ndim - 1))
        else:
            raise self._bad(f"'{scale_name}' has shape {scale.shape}, which does not fit "
                            f"'{name}' {arr.shape}")
        if not np.all(np.isfinite(scale)) or np.any(scale == 0):
            raise self._bad(f"'{scale_name}' holds zero or non-finite scales")
        return arr.astype(np.float32) / scale


def read_spec_name(path: str):
    """The spec name of a ``model.bin`` (``None`` when it is not a readable CT2 header)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4 + 2 + MAX_NAME)
    except OSError:
        return None
    if len(head) < 6:
        return None
    version, n = struct.unpack_from("<IH", head, 0)
    if version not in SUPPORTED_VERSIONS or not 0 < n <= len(head) - 6:
        return None
    raw = head[6:6 + n]
    if raw[-1:] != b"\0":
        return None
    try:
        return raw[:-1].decode("utf-8")
    except UnicodeDecodeError:
        return None
