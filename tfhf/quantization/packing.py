"""Quantizing float weights and repacking GGUF blocks, in numpy.

Every quantized weight is stored in the HF (PyTorch) layout ``(out, in)``: one row per output
channel, so a batch-1 matmul is a reduction along rows and a tied embedding table is already in
this layout.

* 8 bits: ``qweight`` int8 ``(out, in)``, ``scale`` ``(out, in // group)``; ``w = q * scale``.
* 4 bits: ``qweight`` uint8 ``(out, in // 2)``, ``scale`` and ``offset`` ``(out, in // group)``;
  ``w = q * scale + offset`` with ``q`` in 0..15. Inside a group of ``g`` weights, byte ``j``
  holds weight ``j`` in its low nibble and weight ``j + g // 2`` in its high nibble (the layout of
  ggml's Q4_0 / Q4_1 blocks, so those load as they are).
"""

from __future__ import annotations

import numpy as np

from ..errors import CheckpointError


def scale_dtype(groups: int):
    """float32 for one scale per channel (few values, full precision), float16 for groups."""
    return np.float32 if groups == 1 else np.float16


def quantize_int8(w: np.ndarray, group: int):
    """Symmetric int8 of ``w`` (out, in) with one scale per ``group`` inputs of a row."""
    out, n = w.shape
    w3 = np.asarray(w, np.float32).reshape(out, n // group, group)
    amax = np.abs(w3).max(axis=-1)
    scale = (np.where(amax > 0, amax, 1.0) / 127.0).astype(scale_dtype(n // group))
    q = np.clip(np.rint(w3 / scale.astype(np.float32)[..., None]), -127, 127).astype(np.int8)
    return {"qweight": q.reshape(out, n), "scale": scale}


def quantize_int4(w: np.ndarray, group: int):
    """Asymmetric 4-bit of ``w`` (out, in): per group, ``offset`` = min and ``scale`` =
    (max - min) / 15, both float16 (``q`` is computed against the rounded values)."""
    out, n = w.shape
    w3 = np.asarray(w, np.float32).reshape(out, n // group, group)
    lo, hi = w3.min(axis=-1), w3.max(axis=-1)
    offset = lo.astype(np.float16)
    span = hi - offset.astype(np.float32)
    scale = (np.where(span > 0, span, 1.0) / 15.0).astype(np.float16)
    q = np.rint((w3 - offset.astype(np.float32)[..., None]) / scale.astype(np.float32)[..., None])
    q = np.clip(q, 0, 15).astype(np.uint8)
    return {"qweight": pack_nibbles(q).reshape(out, n // 2), "scale": scale, "offset": offset}


def pack_nibbles(q: np.ndarray) -> np.ndarray:
    """(..., g) values 0..15 -> (..., g // 2) bytes: low nibble j, high nibble j + g // 2."""
    half = q.shape[-1] // 2
    return (q[..., :half] | (q[..., half:] << 4)).astype(np.uint8)


def unpack_nibbles(p: np.ndarray) -> np.ndarray:
    return np.concatenate([p & 15, p >> 4], axis=-1)


def dequantize(arrays: dict, in_features: int) -> np.ndarray:
    """float32 (out, in) of a quantized weight (what the TF ops compute)."""
    q, scale = arrays["qweight"], np.asarray(arrays["scale"], np.float32)
    out, groups = scale.shape
    g = in_features // groups
    if q.dtype == np.int8:
        return (q.reshape(out, groups, g) * scale[..., None]).reshape(out, in_features)
    values = unpack_nibbles(q.reshape(out, groups, g // 2)).astype(np.float32)
    offset = np.asarray(arrays["offset"], np.float32)
    return (values * scale[..., None] + offset[..., None]).reshape(out, in_features)


# ---------------------------------------------------------------------- GGUF blocks
# ggml block layouts (ggml-common.h): Q8_0 = f16 d + 32 int8; Q4_0 = f16 d + 16 bytes
# (w = (q - 8) d); Q4_1 = f16 d, f16 m + 16 bytes (w = q d + m); Q4_K = 256 weights: f16 d,
# f16 dmin, 12 bytes of 6-bit scales/mins for 8 sub-blocks of 32, 128 bytes of nibbles.
# type -> (bits, group) of its tfhf form. Q5_0 and Q6_K values (5 and 6 bits, symmetric) are
# widened to int8 with the file's scales: exact, twice the bytes of Q4.
GGUF_NATIVE = {"Q8_0": (8, 32), "Q4_0": (4, 32), "Q4_1": (4, 32), "Q4_K": (4, 32),
               "Q5_0": (8, 32), "Q6_K": (8, 16)}


def from_gguf(raw: np.ndarray, type_name: str, shape) -> dict:
    """A GGUF tensor's bytes (rows of blocks) -> tfhf's quantized arrays, the 4- or 8-bit
    values kept as they are (Q4_K's nibbles are only regrouped)."""
    out, n = shape
    blocks = np.asarray(raw, np.uint8).reshape(out, -1)
    if type_name == "Q8_0":
        b = blocks.reshape(out, n // 32, 34)
        scale = b[..., :2].copy().view(np.float16)[..., 0]
        return {"qweight": b[..., 2:].copy().view(np.int8).reshape(out, n), "scale": scale}
    if type_name in ("Q4_0", "Q4_1"):
        head = 2 if type_name == "Q4_0" else 4
        b = blocks.reshape(out, n // 32, head + 16)
        d = b[..., :2].copy().view(np.float16)[..., 0]
        if type_name == "Q4_0":
            offset = (-8.0 * d.astype(np.float32)).astype(np.float16)
        else:
            offset = b[..., 2:4].copy().view(np.float16)[..., 0]
        return {"qweight": b[..., head:].reshape(out, n // 2).copy(), "scale": d,
                "offset": offset}
    if type_name == "Q4_K":
        return _from_q4_k(blocks, out, n)
    if type_name == "Q5_0":
        return _from_q5_0(blocks, out, n)
    if type_name == "Q6_K":
        return _from_q6_k(blocks, out, n)
    raise CheckpointError(f"GGUF type {type_name} has no quantized form in tfhf.")


def _q4_k_scales(s: np.ndarray):
    """ggml's get_scale_min_k4: 12 bytes -> 8 six-bit scales and 8 six-bit mins."""
    s = s.astype(np.uint8)
    sc = np.empty(s.shape[:-1] + (8,), np.uint8)
    mn = np.empty_like(sc)
    sc[..., :4] = s[..., 0:4] & 63
    mn[..., :4] = s[..., 4:8] & 63
    sc[..., 4:] = (s[..., 8:12] & 0xF) | ((s[..., 0:4] >> 6) << 4)
    mn[..., 4:] = (s[..., 8:12] >> 4) | ((s[..., 4:8] >> 6) << 4)
    return sc, mn


def _from_q4_k(blocks, out, n):
    b = blocks.reshape(out, n // 256, 144)
    d = b[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    dmin = b[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    sc, mn = _q4_k_scales(b[..., 4:16])
    scale = (d[..., None] * sc).reshape(out, n // 32)
    offset = (-dmin[..., None] * mn).reshape(out, n // 32)
    # each 64 weights: 32 bytes, low nibbles = weights 0..31, high nibbles = 32..63; regroup
    # into tfhf's groups of 32 (byte j: weight j low, weight j + 16 high)
    qs = b[..., 16:].reshape(out, n // 64, 32)
    lo, hi = qs & 15, qs >> 4
    first = lo[..., :16] | (lo[..., 16:] << 4)
    second = hi[..., :16] | (hi[..., 16:] << 4)
    packed = np.stack([first, second], axis=-2).reshape(out, n // 2)
    return {"qweight": packed.astype(np.uint8), "scale": scale.astype(np.float16),
            "offset": offset.astype(np.float16)}


def _f16(b):
    return b.copy().view(np.float16)[..., 0]


def _from_q5_0(blocks, out, n):
    b = blocks.reshape(out, n // 32, 22)
    qh = b[..., 2:6].copy().view("<u4")[..., 0]
    bits = ((qh[..., None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.uint8) << 4
    qs = b[..., 6:]
    q = np.concatenate([qs & 15, qs >> 4], axis=-1) | bits
    values = (q.astype(np.int16) - 16).astype(np.int8)
    return {"qweight": values.reshape(out, n), "scale": _f16(b[..., 0:2])}


def _from_q6_k(blocks, out, n):
    b = blocks.reshape(out, n // 256, 210)
    ql, qh = b[..., :128].reshape(out, -1, 2, 64), b[..., 128:192].reshape(out, -1, 2, 32)
    sc = b[..., 192:208].copy().view(np.int8).astype(np.float32)
    d = _f16(b[..., 208:210]).astype(np.float32)
    # per 128-weight half: 4 runs of 32 (ggml's dequantize_row_q6_K)
    q = np.stack([(ql[..., :32] & 15) | ((qh & 3) << 4),
                  (ql[..., 32:] & 15) | (((qh >> 2) & 3) << 4),
                  (ql[..., :32] >> 4) | (((qh >> 4) & 3) << 4),
                  (ql[..., 32:] >> 4) | (((qh >> 6) & 3) << 4)], axis=-2)
    values = (q.astype(np.int16) - 32).astype(np.int8).reshape(out, n)
    scale = (d[..., None] * sc).reshape(out, n // 16).astype(np.float16)
    return {"qweight": values, "scale": scale}
