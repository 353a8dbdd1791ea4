"""GGUF dequantization: gguf.quants (which tfhf uses) against scalar ports of ggml-quants.c,
transformers' PyTorch kernels, and the plain types."""

import struct

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from gguf import GGMLQuantizationType as Q  # noqa: E402
from gguf.quants import quantize  # noqa: E402

from tfhf.hub.gguf import dequantize  # noqa: E402


# ----------------------------------------------------------------------------- references
# Scalar ports of ggml-quants.c's dequantize_row_* (one block at a time, float32 math), as an
# independent check of gguf.quants.dequantize, which tfhf uses.
f32 = np.float32


def _half(b, i):
    return f32(np.frombuffer(bytes(b[i:i + 2]), np.float16)[0])


def ref_q8_0(b):
    d = _half(b, 0)
    return [d * f32(np.int8(np.uint8(q).view(np.int8))) for q in b[2:34]]


def ref_q4_0(b):
    d, qs, y = _half(b, 0), b[2:18], [0.0] * 32
    for j in range(16):
        y[j] = f32(int(qs[j] & 0xF) - 8) * d
        y[j + 16] = f32(int(qs[j] >> 4) - 8) * d
    return y


def ref_q4_1(b):
    d, m, qs, y = _half(b, 0), _half(b, 2), b[4:20], [0.0] * 32
    for j in range(16):
        y[j] = f32(int(qs[j] & 0xF)) * d + m
        y[j + 16] = f32(int(qs[j] >> 4)) * d + m
    return y


def _q5(b, d, m, qh_at):
    qh = struct.unpack("<I", bytes(b[qh_at:qh_at + 4]))[0]
    qs, y = b[qh_at + 4:qh_at + 20], [0.0] * 32
    for j in range(16):
        xh0 = ((qh >> j) << 4) & 0x10
        xh1 = (qh >> (j + 12)) & 0x10
        x0, x1 = (int(qs[j] & 0xF) | xh0), (int(qs[j] >> 4) | xh1)
        if m is None:
            y[j], y[j + 16] = f32(x0 - 16) * d, f32(x1 - 16) * d
        else:
            y[j], y[j + 16] = f32(x0) * d + m, f32(x1) * d + m
    return y


def ref_q5_0(b):
    return _q5(b, _half(b, 0), None, 2)


def ref_q5_1(b):
    return _q5(b, _half(b, 0), _half(b, 2), 4)


def _scale_min_k4(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def ref_q4_k(b):
    d, dmin, sc, q = _half(b, 0), _half(b, 2), [int(x) for x in b[4:16]], b[16:144]
    y, qi, is_ = [], 0, 0
    for _ in range(4):
        s1, m1 = _scale_min_k4(is_, sc)
        s2, m2 = _scale_min_k4(is_ + 1, sc)
        d1, mm1, d2, mm2 = d * f32(s1), dmin * f32(m1), d * f32(s2), dmin * f32(m2)
        y += [d1 * f32(int(q[qi + l] & 0xF)) - mm1 for l in range(32)]
        y += [d2 * f32(int(q[qi + l] >> 4)) - mm2 for l in range(32)]
        qi += 32
        is_ += 2
    return y


def ref_q5_k(b):
    d, dmin, sc = _half(b, 0), _half(b, 2), [int(x) for x in b[4:16]]
    qh, ql = b[16:48], b[48:176]
    y, qi, is_, u1, u2 = [], 0, 0, 1, 2
    for _ in range(4):
        s1, m1 = _scale_min_k4(is_, sc)
        s2, m2 = _scale_min_k4(is_ + 1, sc)
        d1, mm1, d2, mm2 = d * f32(s1), dmin * f32(m1), d * f32(s2), dmin * f32(m2)
        y += [d1 * f32(int(ql[qi + l] & 0xF) + (16 if qh[l] & u1 else 0)) - mm1 for l in range(32)]
        y += [d2 * f32(int(ql[qi + l] >> 4) + (16 if qh[l] & u2 else 0)) - mm2 for l in range(32)]
        qi += 32
        is_ += 2
        u1 <<= 2
        u2 <<= 2
    return y


def ref_q6_k(b):
    ql, qh = b[0:128], b[128:192]
    sc = np.frombuffer(bytes(b[192:208]), np.int8).astype(int)
    d = _half(b, 208)
    y = [0.0] * 256
    for half in range(2):
        o, qlo, qho, so = 128 * half, 64 * half, 32 * half, 8 * half
        for l in range(32):
            is_ = l // 16
            q1 = (int(ql[qlo + l] & 0xF) | (((int(qh[qho + l]) >> 0) & 3) << 4)) - 32
            q2 = (int(ql[qlo + l + 32] & 0xF) | (((int(qh[qho + l]) >> 2) & 3) << 4)) - 32
            q3 = (int(ql[qlo + l] >> 4) | (((int(qh[qho + l]) >> 4) & 3) << 4)) - 32
            q4 = (int(ql[qlo + l + 32] >> 4) | (((int(qh[qho + l]) >> 6) & 3) << 4)) - 32
            y[o + l] = d * f32(sc[so + is_]) * f32(q1)
            y[o + l + 32] = d * f32(sc[so + is_ + 2]) * f32(q2)
            y[o + l + 64] = d * f32(sc[so + is_ + 4]) * f32(q3)
            y[o + l + 96] = d * f32(sc[so + is_ + 6]) * f32(q4)
    return y


REFS = {"Q8_0": ref_q8_0, "Q4_0": ref_q4_0, "Q4_1": ref_q4_1, "Q5_0": ref_q5_0,
        "Q5_1": ref_q5_1, "Q4_K": ref_q4_k, "Q5_K": ref_q5_k, "Q6_K": ref_q6_k}
# where each block type keeps its fp16 scales (random bytes there could be inf/nan)
HALF_FIELDS = {"Q8_0": (0,), "Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2),
               "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,)}


def _reference(raw_rows, type_name):
    block, size = gguf.GGML_QUANT_SIZES[Q[type_name]]
    blocks = raw_rows.reshape(-1, size)
    return np.array([v for b in blocks for v in REFS[type_name](b)], np.float32)


def random_blocks(type_name, n_blocks, rng):
    _, size = gguf.GGML_QUANT_SIZES[Q[type_name]]
    raw = rng.randint(0, 256, size=(n_blocks, size)).astype(np.uint8)
    for at in HALF_FIELDS[type_name]:
        scale = rng.uniform(-0.05, 0.05, n_blocks).astype(np.float16)
        raw[:, at:at + 2] = scale.view(np.uint8).reshape(n_blocks, 2)
    return raw


@pytest.mark.parametrize("type_name", ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"])
def test_dequantize_matches_reference_on_quantized_data(type_name, rng):
    x = (rng.randn(3, 64) * rng.uniform(0.01, 2, size=(3, 1))).astype(np.float32)
    raw = quantize(x, Q[type_name])
    ours = dequantize(raw.reshape(-1), type_name, x.shape)
    assert ours.dtype == np.float32 and ours.shape == x.shape
    np.testing.assert_allclose(ours.reshape(-1), _reference(raw, type_name), rtol=1e-6, atol=1e-7)
    # and the values are the data, up to the quantization step of each 32-value block
    blocks = x.reshape(-1, 32)
    levels = {"Q8_0": 127, "Q4_0": 8, "Q4_1": 15, "Q5_0": 16, "Q5_1": 31}[type_name]
    step = (blocks.max(1) - blocks.min(1) if type_name in ("Q4_1", "Q5_1")
            else np.abs(blocks).max(1)) / levels
    err = np.abs(ours.reshape(-1, 32) - blocks).max(1)
    assert np.all(err <= step * 1.01 + 1e-6), (err, step)


@pytest.mark.parametrize("type_name", ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q4_K", "Q5_K", "Q6_K"])
def test_dequantize_matches_reference_on_random_blocks(type_name, rng):
    block, _ = gguf.GGML_QUANT_SIZES[Q[type_name]]
    raw = random_blocks(type_name, 6, rng)
    shape = (3, 2 * block)
    ours = dequantize(raw.reshape(-1), type_name, shape)
    assert ours.shape == shape and np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours.reshape(-1), _reference(raw, type_name), rtol=1e-6, atol=1e-8)


def test_dequantize_agrees_with_transformers_torch_kernels(rng):
    """gguf.quants vs transformers' independent PyTorch dequantizers, every shared type."""
    torch = pytest.importorskip("torch")
    from transformers.integrations.gguf.dequant import GGML_BLOCK, GGML_NAME
    from transformers.integrations.gguf.dequant import dequantize as torch_dequantize

    for type_id, name in GGML_NAME.items():
        block, size = GGML_BLOCK[type_id]
        raw = rng.randint(0, 256, size=(64, size)).astype(np.uint8)
        with np.errstate(all="ignore"):  # random scales: a few inf/nan blocks, skipped below
            ours = dequantize(raw.reshape(-1), name, (64, block))
        theirs = torch_dequantize(torch.from_numpy(raw.reshape(-1).copy()), type_id).numpy()
        theirs = theirs.reshape(64, block)
        finite = np.isfinite(ours).all(1) & np.isfinite(theirs).all(1)
        assert finite.sum() >= 32, name  # random fp16 scales are rarely inf/nan
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_dequantize_plain_types(rng):
    x = rng.randn(4, 8).astype(np.float32)
    assert np.array_equal(dequantize(x.view(np.uint8).reshape(-1), "F32", (4, 8)), x)
    h = x.astype(np.float16)
    assert np.array_equal(dequantize(h.view(np.uint8).reshape(-1), "F16", (4, 8)),
                          h.astype(np.float32))
    import ml_dtypes

    b = x.astype(ml_dtypes.bfloat16)
    assert np.array_equal(dequantize(b.view(np.uint8).reshape(-1), "BF16", (4, 8)),
                          b.astype(np.float32))
    assert dequantize(np.zeros(0, np.uint8), "Q4_K", (0, 256)).shape == (0, 256)
