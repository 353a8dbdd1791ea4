"""GGUF files (llama.cpp): a defensive reader, dequantization, config and HF weight names.

``load_gguf(path)`` returns ``(config, state)``: a transformers config (``LlamaConfig``,
``Qwen2Config`` or ``Gemma3TextConfig``) rebuilt from the file's metadata, and a lazy
``HF name -> float32 numpy array`` mapping in PyTorch layout, like
:class:`tfhf.hub.state.SafetensorsState`. Tensors are dequantized when asked for.

The reader parses the header itself (it is simple) and checks every count, length, shape,
type and offset against the file size before it allocates or reads anything, so a truncated
or hostile file raises :class:`~tfhf.errors.CheckpointError` at once. Tensor data stays in a
memory map. Dequantization is the ``gguf`` package's (``gguf.quants.dequantize``).

What llama.cpp's converter changes, and this module undoes:

* names: ``blk.N.attn_q.weight`` -> ``model.layers.N.self_attn.q_proj.weight`` and so on;
* llama: q_proj/k_proj rows (weights and biases) are permuted for llama.cpp's interleaved
  rotary; the inverse permutation restores HF's rotate-half layout (qwen2 and gemma3 are
  stored unpermuted);
* gemma3: every ``*norm.weight`` is stored as ``1 + w`` (Gemma's RMSNorm scales by
  ``1 + weight``); one is subtracted again;
* a missing ``output.weight`` means the LM head is tied to the embedding.

transformers 5 reads GGUF only through PyTorch; this module needs numpy and ``gguf`` only.
It reuses transformers' tokenizer builders (see ``gguf_tokenizer.py``) but not its loader.
"""

from __future__ import annotations

import math
import mmap
import os
import re
import struct

import numpy as np

from ..errors import CheckpointError, UnsupportedModelError

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (2, 3)  # v1 (32-bit counts) predates every file in circulation
GGML_MAX_DIMS = 4
MAX_TENSORS = 1 << 20
MAX_KV = 1 << 20
MAX_ALIGNMENT = 1 << 16
DEFAULT_ALIGNMENT = 32

# metadata value types (gguf.GGUFValueType)
_T_STRING, _T_ARRAY = 8, 9
_SCALARS = {  # type id -> (numpy dtype, width, struct format)
    0: ("<u1", 1, "<B"), 1: ("<i1", 1, "<b"), 2: ("<u2", 2, "<H"), 3: ("<i2", 2, "<h"),
    4: ("<u4", 4, "<I"), 5: ("<i4", 4, "<i"), 6: ("<f4", 4, "<f"), 7: ("<u1", 1, "<B"),
    10: ("<u8", 8, "<Q"), 11: ("<i8", 8, "<q"), 12: ("<f8", 8, "<d"),
}
_T_BOOL, _T_F32 = 7, 6

SUPPORTED_ARCHITECTURES = ("llama", "qwen2", "gemma3")


def _ggml_types():
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    return GGMLQuantizationType, GGML_QUANT_SIZES


# ggml types tfhf turns into float32. The plain ones are numpy views; the block-quantized
# ones go through gguf.quants.dequantize (checked against independent references in
# tests/hub/test_gguf.py for Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K and more).
_PLAIN = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4",
          "I64": "<i8"}
_QUANTIZED = ("BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
              "Q6_K", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M",
              "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4")


def _bad(path, what):
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


class _Cursor:
    """Bounds-checked little-endian reads from the mapped file."""

    def __init__(self, buf, path, size):
        self.buf, self.path, self.size, self.pos = buf, path, size, 0

    def left(self):
        return self.size - self.pos

    def take(self, n, what):
        if n > self.size - self.pos:
            raise _bad(self.path, f"{what} needs {n} bytes at offset {self.pos} but the file "
                                  f"ends at {self.size}")
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
            raise _bad(self.path, f"{what} at offset {start} is not valid UTF-8") from None


class GGUFFile:
    """A validated GGUF file.

    ``metadata``: key -> value (int, float, bool, str; arrays of numbers as numpy arrays,
    arrays of strings as lists). ``tensors``: GGUF name -> :class:`GGUFTensorInfo`, in file
    order. ``raw(name)`` is the tensor's bytes (a view of the memory map) and
    ``dequantize(name)`` its float32 values in numpy (PyTorch) order.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._mm = None
        try:
            self._fh = open(self.path, "rb")
        except OSError as e:
            raise CheckpointError(f"Cannot open GGUF file '{self.path}': {e}") from None
        try:
            self._parse()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ parsing
    def _parse(self):
        path = self.path
        size = os.fstat(self._fh.fileno()).st_size
        if size < 24:
            head = self._fh.read(4)
            if head != GGUF_MAGIC:
                raise _bad(path, f"it does not start with the GGUF magic (got {head!r})")
            raise _bad(path, f"it is {size} bytes long, shorter than the 24-byte GGUF header")
        self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
        cur = _Cursor(self._mm, path, size)
        magic = self._mm[:4]
        if magic != GGUF_MAGIC:
            raise _bad(path, f"it does not start with the GGUF magic (got {magic!r})")
        cur.pos = 4
        version = cur.u32("the version")
        if version not in GGUF_VERSIONS:
            hint = (" (a big-endian file?)" if struct.unpack("<I", struct.pack(">I", version))[0]
                    in GGUF_VERSIONS else "")
            raise _bad(path, f"GGUF version {version}{hint} is not supported (tfhf reads "
                             f"versions {', '.join(map(str, GGUF_VERSIONS))})")
        self.version = version
        n_tensors = cur.u64("the tensor count")
        n_kv = cur.u64("the metadata count")
        # Each metadata entry takes at least 13 bytes (key length, type, one-byte value) and
        # each tensor entry at least 24 (name length, dim count, type, offset).
        if n_kv > MAX_KV or n_kv * 13 > cur.left():
            raise _bad(path, f"the header claims {n_kv} metadata entries, more than the "
                             f"{cur.left()} bytes left can hold")
        if n_tensors > MAX_TENSORS or n_tensors * 24 > cur.left():
            raise _bad(path, f"the header claims {n_tensors} tensors, more than the "
                             f"{cur.left()} bytes left can hold")
        meta = {}
        for i in range(n_kv):
            key = cur.string(f"metadata key #{i}")
            vtype = cur.u32(f"the type of metadata '{key}'")
            if key in meta:
                raise _bad(path, f"metadata key '{key}' appears twice")
            meta[key] = self._read_value(cur, vtype, key)
        self.metadata = meta

        GGMLType, QUANT_SIZES = _ggml_types()
        entries = []
        names = set()
        for i in range(n_tensors):
            name = cur.string(f"the name of tensor #{i}")
            if name in names:
                raise _bad(path, f"tensor '{name}' appears twice")
            names.add(name)
            n_dims = cur.u32(f"the dimension count of tensor '{name}'")
            if n_dims > GGML_MAX_DIMS:
                raise _bad(path, f"tensor '{name}' has {n_dims} dimensions (at most "
                                 f"{GGML_MAX_DIMS})")
            dims = cur.unpack(f"<{n_dims}Q", 8 * n_dims, f"the dimensions of tensor '{name}'")
            ggml_type = cur.u32(f"the type of tensor '{name}'")
            offset = cur.u64(f"the offset of tensor '{name}'")
            try:
                qtype = GGMLType(ggml_type)
            except ValueError:
                raise _bad(path, f"tensor '{name}' has unknown ggml type id {ggml_type}") from None
            if qtype.name not in _PLAIN and qtype.name not in _QUANTIZED:
                raise CheckpointError(
                    f"'{path}': tensor '{name}' is stored as {qtype.name}, a ggml type tfhf "
                    f"cannot dequantize (supported: {', '.join([*_PLAIN, *_QUANTIZED])}).")
            block, type_size = QUANT_SIZES[qtype]
            count = math.prod(dims)
            ne0 = dims[0] if dims else 1
            if ne0 % block:
                raise _bad(path, f"tensor '{name}' has rows of {ne0} values, not a multiple of "
                                 f"the {qtype.name} block size {block}")
            nbytes = count // block * type_size
            if nbytes > size:
                raise _bad(path, f"tensor '{name}' of shape {list(reversed(dims))} as "
                                 f"{qtype.name} needs {nbytes} bytes, more than the whole file "
                                 f"({size} bytes)")
            shape = tuple(int(d) for d in reversed(dims))
            entries.append((name, shape, ggml_type, qtype.name, offset, nbytes))

        alignment = meta.get("general.alignment", DEFAULT_ALIGNMENT)
        if (not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0
                or alignment > MAX_ALIGNMENT or alignment & (alignment - 1)):
            raise _bad(path, f"general.alignment is {alignment!r}, not a power of two up to "
                             f"{MAX_ALIGNMENT}")
        self.alignment = alignment
        data_start = -(-cur.pos // alignment) * alignment
        if entries and data_start > size:
            raise _bad(path, f"the tensor data would start at offset {data_start}, past the "
                             f"end of the file ({size} bytes)")
        self.data_start = data_start
        data_len = size - data_start
        tensors = {}
        for name, shape, ggml_type, type_name, offset, nbytes in entries:
            if offset % alignment:
                raise _bad(path, f"tensor '{name}' starts at data offset {offset}, not a "
                                 f"multiple of the alignment {alignment}")
            if offset + nbytes > data_len:
                raise _bad(path, f"tensor '{name}' spans data bytes {offset}..{offset + nbytes} "
                                 f"but the data section holds {data_len} bytes")
            tensors[name] = GGUFTensorInfo(name, shape, ggml_type, type_name,
                                           data_start + offset, nbytes)
        spans = sorted((t.start, t.start + t.nbytes, t.name) for t in tensors.values() if t.nbytes)
        for (b1, e1, k1), (b2, e2, k2) in zip(spans, spans[1:]):
            if b2 < e1:
                raise _bad(path, f"tensors '{k1}' and '{k2}' overlap in the data section")
        self.tensors = tensors

    def _read_value(self, cur, vtype, key):
        if vtype == _T_STRING:
            return cur.string(f"the value of '{key}'")
        if vtype in _SCALARS:
            _, width, fmt = _SCALARS[vtype]
            (value,) = cur.unpack(fmt, width, f"the value of '{key}'")
            return _py_scalar(value, vtype)
        if vtype != _T_ARRAY:
            raise _bad(self.path, f"metadata '{key}' has unknown value type {vtype}")
        etype = cur.u32(f"the element type of '{key}'")
        count = cur.u64(f"the length of '{key}'")
        if etype == _T_STRING:
            if count * 8 > cur.left():
                raise _bad(self.path, f"metadata '{key}' claims {count} strings, more than the "
                                      f"{cur.left()} bytes left can hold")
            return self._read_strings(cur, count, key)
        if etype in _SCALARS:
            dt, width, _ = _SCALARS[etype]
            if count * width > cur.left():
                raise _bad(self.path, f"metadata '{key}' claims {count} values of {width} bytes, "
                                      f"more than the {cur.left()} bytes left")
            start = cur.take(count * width, f"the values of '{key}'")
            arr = np.frombuffer(self._mm, dtype=dt, count=count, offset=start).copy()
            if etype == _T_BOOL:
                arr = arr != 0
            return arr
        if etype == _T_ARRAY:
            raise _bad(self.path, f"metadata '{key}' is an array of arrays, which GGUF readers "
                                  "do not support")
        raise _bad(self.path, f"metadata '{key}' is an array of unknown type {etype}")

    def _read_strings(self, cur, count, key):
        """``count`` length-prefixed strings (a vocabulary: the one hot loop of the header)."""
        buf, pos, end = self._mm, cur.pos, cur.size
        unpack = struct.Struct("<Q").unpack_from
        out = []
        append = out.append
        try:
            for i in range(count):
                if end - pos < 8:
                    raise _bad(self.path, f"'{key}'[{i}] starts at offset {pos}, past the end")
                (n,) = unpack(buf, pos)
                pos += 8
                if n > end - pos:
                    raise _bad(self.path, f"'{key}'[{i}] claims {n} bytes at offset {pos} but "
                                          f"the file ends at {end}")
                append(buf[pos:pos + n].decode("utf-8"))
                pos += n
        except UnicodeDecodeError:
            raise _bad(self.path, f"'{key}'[{len(out)}] is not valid UTF-8") from None
        cur.pos = pos
        return out

    # ------------------------------------------------------------------ access
    @property
    def architecture(self) -> str:
        arch = self.metadata.get("general.architecture")
        if not isinstance(arch, str):
            raise _bad(self.path, "general.architecture is missing")
        return arch

    def raw(self, name) -> np.ndarray:
        """The tensor's bytes: a read-only uint8 view of the memory map."""
        info = self.tensors[name]
        if self._mm is None:
            raise CheckpointError(f"GGUF file '{self.path}' is closed.")
        return np.frombuffer(self._mm, dtype=np.uint8, count=info.nbytes, offset=info.start)

    def dequantize(self, name) -> np.ndarray:
        """float32 values in numpy order (a read-only view of the map for F32 tensors)."""
        info = self.tensors[name]
        return dequantize(self.raw(name), info.type_name, info.shape)

    def close(self):
        mm, self._mm = self._mm, None
        if mm is not None:
            try:
                mm.close()
            except BufferError:  # arrays still view the map; it closes when they are freed
                pass
        fh = getattr(self, "_fh", None)
        if fh is not None:
            fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _py_scalar(value, vtype):
    if vtype == _T_BOOL:
        return bool(value)
    if vtype == _T_F32:
        # the shortest decimal that is this float32: 1e-05, not 9.999999747378752e-06
        if not math.isfinite(value):
            return float(value)
        return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))
    if vtype == 12:
        return float(value)
    return int(value)


def dequantize(raw: np.ndarray, ggml_type, shape) -> np.ndarray:
    """Bytes of one tensor stored as ``ggml_type`` (name or id) -> float32 of ``shape``."""
    GGMLType, QUANT_SIZES = _ggml_types()
    qtype = GGMLType[ggml_type] if isinstance(ggml_type, str) else GGMLType(ggml_type)
    shape = tuple(shape)
    if math.prod(shape) == 0:
        return np.zeros(shape, np.float32)
    if qtype.name == "F32":
        return raw.view("<f4").reshape(shape)
    if qtype.name in _PLAIN:
        return raw.view(_PLAIN[qtype.name]).astype(np.float32).reshape(shape)
    if qtype.name == "BF16":
        return (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    from gguf.quants import dequantize as gguf_dequantize

    block, type_size = QUANT_SIZES[qtype]
    row_bytes = shape[-1] // block * type_size
    out = gguf_dequantize(raw.reshape(-1, row_bytes), qtype)
    return np.asarray(out, dtype=np.float32).reshape(shape)


# ---------------------------------------------------------------------- names
_TOP_LEVEL = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
}
_BLOCK = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
# Gemma 3 has four norms per block; llama.cpp calls the one before the MLP ffn_norm.
_BLOCK_GEMMA3 = {
    **_BLOCK,
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
}
_BLOCK_TABLES = {"llama": _BLOCK, "qwen2": _BLOCK, "gemma3": _BLOCK_GEMMA3}
# tensors the config already accounts for (Llama 3 rope scaling), left out of the state
_CONSUMED = ("rope_freqs.weight",)
_BLK_RE = re.compile(r"blk\.(\d+)\.([a-z0-9_]+)\.(weight|bias)")
_TOP_RE = re.compile(r"([a-z0-9_]+)\.(weight|bias)")


def gguf_to_hf_name(name: str, architecture: str) -> str | None:
    """The HF (PyTorch transformers) name of a GGUF tensor, or None if it has none."""
    table = _BLOCK_TABLES.get(architecture, _BLOCK)
    m = _BLK_RE.fullmatch(name)
    if m:
        part = table.get(m.group(2))
        return None if part is None else f"model.layers.{m.group(1)}.{part}.{m.group(3)}"
    m = _TOP_RE.fullmatch(name)
    if m and m.group(1) in _TOP_LEVEL:
        return f"{_TOP_LEVEL[m.group(1)]}.{m.group(2)}"
    return None


def unpermute_rotary_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """Invert llama.cpp's ``LlamaModel.permute`` of q_proj/k_proj rows (weight or bias).

    llama.cpp reshapes the rows as ``(n_head, 2, head_dim // 2)`` and swaps the last two
    axes (rotary pairs interleaved); this reshapes as ``(n_head, head_dim // 2, 2)`` and
    swaps back to HF's half-split layout.
    """
    rows = w.shape[0]
    if n_head <= 0 or rows % (2 * n_head):
        raise CheckpointError(f"Cannot undo llama.cpp's rotary permutation: {rows} rows do not "
                              f"split into {n_head} heads of an even size.")
    return (w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


# ---------------------------------------------------------------------- config
def _meta_int(gf, key, default=None, required=True, minimum=1):
    value = gf.metadata.get(key, default)
    if value is None:
        if required:
            raise CheckpointError(f"'{gf.path}': GGUF metadata '{key}' is missing; it is needed "
                                  "to rebuild the model config.")
        return None
    if isinstance(value, np.ndarray):
        raise UnsupportedModelError(
            f"'{gf.path}': GGUF metadata '{key}' is a per-layer array ({value.tolist()[:8]}...); "
            "tfhf supports models with the same value for every layer.")
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum or value > 1 << 40:
        raise CheckpointError(f"'{gf.path}': GGUF metadata '{key}' = {value!r} is not a valid "
                              "count.")
    return value


def _meta_float(gf, key, default=None):
    value = gf.metadata.get(key, default)
    if value is None:
        return None
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not math.isfinite(value) or value <= 0):
        raise CheckpointError(f"'{gf.path}': GGUF metadata '{key}' = {value!r} is not a positive "
                              "number.")
    return float(value)


def _rope_scaling(gf, arch, base_theta, head_dim, rope_params):
    """Add the file's rope scaling (linear / yarn / llama3 factors) to ``rope_params``."""
    kind = gf.metadata.get(f"{arch}.rope.scaling.type")
    factor = _meta_float(gf, f"{arch}.rope.scaling.factor")
    if kind in (None, "none") or (kind == "linear" and factor in (None, 1.0)):
        pass
    elif kind == "linear":
        rope_params.update(rope_type="linear", factor=factor)
    elif kind == "yarn":
        rope_params.update(rope_type="yarn", factor=factor or 1.0)
        orig = _meta_int(gf, f"{arch}.rope.scaling.original_context_length", required=False)
        if orig:
            rope_params["original_max_position_embeddings"] = orig
        for key, hf in (("yarn_beta_fast", "beta_fast"), ("yarn_beta_slow", "beta_slow"),
                        ("attn_factor", "attention_factor")):
            v = gf.metadata.get(f"{arch}.rope.scaling.{key}")
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                rope_params[hf] = float(v)
    else:
        raise UnsupportedModelError(f"'{gf.path}': rope scaling type {kind!r} is not supported "
                                    "(tfhf reads none, linear and yarn).")
    if "rope_freqs.weight" in gf.tensors:
        rope_params.update(_llama3_rope_from_freqs(gf, base_theta, head_dim))


def _llama3_rope_from_freqs(gf, base, head_dim):
    """llama.cpp stores Llama 3.x rope scaling as per-frequency divisors (``rope_freqs``).

    Recover transformers' ``llama3`` parameters: the factor is the largest divisor; the other
    three are Meta's published values, accepted only if they reproduce the stored divisors.
    """
    freqs = np.asarray(gf.dequantize("rope_freqs.weight"), np.float64).reshape(-1)
    if freqs.size != head_dim // 2 or not np.all(np.isfinite(freqs)) or freqs.min() <= 0:
        raise CheckpointError(f"'{gf.path}': rope_freqs.weight has {freqs.size} values; "
                              f"expected {head_dim // 2} positive divisors.")
    if np.allclose(freqs, 1.0):
        return {}
    factor = float(freqs.max())
    inv = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    low, high = 1.0, 4.0
    wavelen = 2 * math.pi / inv
    for orig in (8192, 4096, 2048, 16384, 32768, 131072):
        smooth = (orig / wavelen - low) / (high - low)
        expected = np.where(wavelen < orig / high, 1.0,
                            np.where(wavelen > orig / low, factor,
                                     1 / ((1 - smooth) / factor + smooth)))
        if np.allclose(expected, freqs, rtol=1e-4, atol=1e-5):
            return {"rope_type": "llama3", "factor": factor, "low_freq_factor": low,
                    "high_freq_factor": high, "original_max_position_embeddings": orig}
    raise UnsupportedModelError(
        f"'{gf.path}': its rope_freqs.weight rope scaling does not match Llama 3's scheme with "
        "Meta's parameters; tfhf cannot rebuild the rope settings of this file.")


def _token_id(gf, key):
    value = gf.metadata.get(f"tokenizer.ggml.{key}")
    if value is None:
        return None
    tokens = gf.metadata.get("tokenizer.ggml.tokens")
    n = len(tokens) if isinstance(tokens, list) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (
            n is not None and value >= n):
        raise CheckpointError(f"'{gf.path}': tokenizer.ggml.{key} = {value!r} is not a token id "
                              f"of the {n}-token vocabulary.")
    return value


def gguf_config_kwargs(gf: GGUFFile) -> tuple[str, dict]:
    """``(model_type, kwargs)`` of the transformers config the file describes."""
    arch = gf.architecture
    if arch not in SUPPORTED_ARCHITECTURES:
        raise UnsupportedModelError(
            f"'{gf.path}' holds a GGUF model of architecture '{arch}'; tfhf reads GGUF files of "
            f"architecture {', '.join(SUPPORTED_ARCHITECTURES)}.")
    p = f"{arch}."
    hidden = _meta_int(gf, p + "embedding_length")
    heads = _meta_int(gf, p + "attention.head_count")
    kv_heads = _meta_int(gf, p + "attention.head_count_kv", default=heads)
    layers = _meta_int(gf, p + "block_count")
    emb = gf.tensors.get("token_embd.weight")
    if emb is None or len(emb.shape) != 2:
        raise CheckpointError(f"'{gf.path}' has no 2-D token_embd.weight tensor.")
    vocab, emb_dim = emb.shape
    if emb_dim != hidden:
        raise CheckpointError(f"'{gf.path}': token_embd.weight is {emb.shape} but "
                              f"{p}embedding_length is {hidden}.")
    if heads % kv_heads:
        raise CheckpointError(f"'{gf.path}': {heads} attention heads do not split into "
                              f"{kv_heads} key/value heads.")
    kw = dict(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=_meta_int(gf, p + "feed_forward_length"),
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        tie_word_embeddings="output.weight" not in gf.tensors,
        bos_token_id=_token_id(gf, "bos_token_id"),
        eos_token_id=_token_id(gf, "eos_token_id"),
        pad_token_id=_token_id(gf, "padding_token_id"),
    )
    ctx = _meta_int(gf, p + "context_length", required=False)
    if ctx:
        kw["max_position_embeddings"] = ctx
    eps = _meta_float(gf, p + "attention.layer_norm_rms_epsilon")
    if eps is not None:
        kw["rms_norm_eps"] = eps
    key_length = _meta_int(gf, p + "attention.key_length", required=False)
    value_length = _meta_int(gf, p + "attention.value_length", required=False)
    if key_length and value_length and key_length != value_length:
        raise UnsupportedModelError(f"'{gf.path}': key length {key_length} differs from value "
                                    f"length {value_length}.")
    rope_dim = _meta_int(gf, p + "rope.dimension_count", required=False)
    head_dim = key_length or (rope_dim if arch == "llama" else None) or hidden // heads
    if rope_dim and rope_dim != head_dim:
        raise UnsupportedModelError(f"'{gf.path}': rotary dimension {rope_dim} differs from the "
                                    f"head size {head_dim} (partial rotary is not supported).")
    q = gf.tensors.get("blk.0.attn_q.weight")
    if q is not None and q.shape[0] != heads * head_dim:
        raise CheckpointError(f"'{gf.path}': blk.0.attn_q.weight has {q.shape[0]} rows, not "
                              f"{heads} heads x {head_dim}.")
    theta = _meta_float(gf, p + "rope.freq_base", default=10000.0)  # llama.cpp's default
    if arch == "llama":
        kw["head_dim"] = head_dim
        kw["attention_bias"] = "blk.0.attn_q.bias" in gf.tensors
        kw["mlp_bias"] = "blk.0.ffn_up.bias" in gf.tensors
        rope = {"rope_type": "default", "rope_theta": theta}
        _rope_scaling(gf, arch, theta, head_dim, rope)
        kw["rope_parameters"] = rope
        return "llama", kw
    if arch == "qwen2":
        if head_dim != hidden // heads:
            raise UnsupportedModelError(f"'{gf.path}': Qwen2 needs head size hidden/heads.")
        rope = {"rope_type": "default", "rope_theta": theta}
        _rope_scaling(gf, arch, rope["rope_theta"], head_dim, rope)
        kw["rope_parameters"] = rope
        return "qwen2", kw
    # gemma3: llama.cpp hard-codes what the GGUF does not state (llama-model.cpp):
    # local rope base 10000, every 6th layer global, and the query scale 1/sqrt(head_dim)
    # except for the 27B model (62 layers), which scales by 1/sqrt(hidden/heads).
    kw["head_dim"] = head_dim
    window = _meta_int(gf, p + "attention.sliding_window", required=False)
    if window:
        kw["sliding_window"] = window
    pattern = gf.metadata.get(p + "attention.sliding_window_pattern", 6)
    if isinstance(pattern, np.ndarray):
        if pattern.shape != (layers,):
            raise CheckpointError(f"'{gf.path}': sliding_window_pattern has {pattern.size} "
                                  f"entries for {layers} layers.")
        layer_types = ["sliding_attention" if s else "full_attention" for s in pattern.tolist()]
    elif isinstance(pattern, int) and not isinstance(pattern, bool) and pattern > 0:
        layer_types = ["sliding_attention" if (i + 1) % pattern else "full_attention"
                       for i in range(layers)]
    else:
        raise CheckpointError(f"'{gf.path}': sliding_window_pattern = {pattern!r} is invalid.")
    kw["layer_types"] = layer_types
    full = {"rope_type": "default", "rope_theta": theta}
    _rope_scaling(gf, arch, full["rope_theta"], head_dim, full)
    local = {"rope_type": "default",
             "rope_theta": _meta_float(gf, p + "rope.freq_base_swa", default=10000.0)}
    kw["rope_parameters"] = {"full_attention": full, "sliding_attention": local}
    kw["query_pre_attn_scalar"] = hidden // heads if layers == 62 else head_dim
    for key, hf in (("attn_logit_softcapping", "attn_logit_softcapping"),
                    ("final_logit_softcapping", "final_logit_softcapping")):
        v = _meta_float(gf, p + key)
        if v:
            kw[hf] = v
    return "gemma3_text", kw


def gguf_config(gf: GGUFFile):
    """The transformers config of a GGUF file (LlamaConfig, Qwen2Config, Gemma3TextConfig)."""
    from transformers import AutoConfig

    model_type, kw = gguf_config_kwargs(gf)
    try:
        return AutoConfig.for_model(model_type, **kw)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"'{gf.path}': its metadata gives an invalid {model_type} config: "
                              f"{e}") from None


# ---------------------------------------------------------------------- state
class GGUFState:
    """A GGUF file's tensors under HF names, dequantized to float32 on ``get``.

    The same interface as :class:`tfhf.hub.state.SafetensorsState`: ``keys()``, ``get(name)``,
    ``close()``, context manager. Tensors without an HF name keep their GGUF name, so a
    loader reports them as unexpected (``rope_freqs.weight`` is folded into the config's
    ``rope_parameters`` instead). ``ggml_type(name)`` tells how a tensor is stored.
    """

    def __init__(self, gf: GGUFFile, config):
        self._file = gf
        self.config = config
        self.path = gf.path
        self.architecture = gf.architecture
        self._names = {}
        for gname in gf.tensors:
            if gname in _CONSUMED:
                continue
            hf = gguf_to_hf_name(gname, self.architecture) or gname
            if hf in self._names:
                raise CheckpointError(f"'{gf.path}': tensors '{self._names[hf]}' and '{gname}' "
                                      f"both map to '{hf}'.")
            self._names[hf] = gname

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

    def get(self, name) -> np.ndarray:
        gname = self._names[name]
        w = self._file.dequantize(gname)
        if self.architecture == "llama" and (".attn_q." in gname or ".attn_k." in gname):
            n = (self.config.num_attention_heads if ".attn_q." in gname
                 else self.config.num_key_value_heads)
            w = unpermute_rotary_rows(w, n)
        elif self.architecture == "gemma3" and gname.endswith("norm.weight"):
            w = w - np.float32(1.0)
        return w

    def __getitem__(self, name):
        return self.get(name)

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_gguf(path):
    """``(config, state)`` of a GGUF file: a transformers config and a lazy :class:`GGUFState`."""
    gf = GGUFFile(path)
    try:
        config = gguf_config(gf)
        return config, GGUFState(gf, config)
    except BaseException:
        gf.close()
        raise


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
