"""GGUF files as models: config, HF names, llama un-permutation, Gemma norms, rope scaling,
unmapped tensors and the tokenizer, on synthetic files written like llama.cpp's converter
(builders in _gguf_builders.py)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from _gguf_builders import (  # noqa: E402
    ARCHS,
    gguf_tensor_name,
    gpt2_tokenizer_meta,
    llama_cpp_permute,
    numpy_llama_state,
    tiny_config,
    write_gguf,
    write_tensors,
)
from gguf import get_tensor_name_map  # noqa: E402

from tfhf.errors import CheckpointError, UnsupportedModelError  # noqa: E402
from tfhf.models.gguf import gguf_to_hf_name, load_gguf  # noqa: E402
from tfhf.models.llama.gguf import unpermute_rotary_rows  # noqa: E402


# ----------------------------------------------------------------------------- synthetic files
def test_llama_f32_roundtrip_undoes_permutation(tmp_path, rng):
    cfg = tiny_config()
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
    cfg = tiny_config(vocab_size=96, intermediate_size=128, max_position_embeddings=64,
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
    cfg = tiny_config(rope_theta=1000000.0, rms_norm_eps=1e-6)
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
    cfg = tiny_config(num_hidden_layers=7, num_key_value_heads=1, head_dim=32,
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
    cfg = tiny_config(num_hidden_layers=1)
    state = numpy_llama_state(cfg, rng)
    path = tmp_path / "extra.gguf"
    tensors = {gguf_tensor_name(hf, "llama", 1): v for hf, v in state.items()}
    tensors["blk.0.mystery.weight"] = np.ones(4, np.float32)
    write_tensors(path, "llama", [("add_block_count", 1), ("add_embedding_length", 64),
                                  ("add_head_count", 4), ("add_head_count_kv", 2),
                                  ("add_feed_forward_length", 96)], tensors)
    config, st = load_gguf(path)
    with st:
        assert "blk.0.mystery.weight" in st.keys()
        assert config.rope_parameters["rope_theta"] == 10000.0  # llama.cpp's default
        assert config.head_dim == 16


def test_unsupported_architecture(tmp_path):
    write_tensors(tmp_path / "gpt2.gguf", "gpt2",
                  tensors={"token_embd.weight": np.zeros((4, 8), np.float32)})
    with pytest.raises(UnsupportedModelError, match="architecture 'gpt2'.*llama, qwen2, gemma3"):
        load_gguf(tmp_path / "gpt2.gguf")


def test_llama3_rope_freqs_become_rope_parameters(tmp_path, rng):
    import math

    cfg = tiny_config(num_hidden_layers=1, head_dim=32, num_attention_heads=2, num_key_value_heads=1,
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
    path = tmp_path / "llama3.gguf"
    tensors = {hf if hf == "rope_freqs.weight" else gguf_tensor_name(hf, "llama", 1): v
               for hf, v in state.items()}
    write_tensors(path, "llama", [("add_block_count", 1), ("add_embedding_length", 64),
                                  ("add_head_count", 2), ("add_head_count_kv", 1),
                                  ("add_feed_forward_length", 96), ("add_rope_freq_base", base),
                                  ("add_rope_dimension_count", 32)], tensors)
    config, st = load_gguf(path)
    with st:
        assert "rope_freqs.weight" not in st.keys()  # folded into rope_parameters
    rp = config.rope_parameters
    assert rp["rope_type"] == "llama3" and rp["factor"] == 32.0
    assert (rp["low_freq_factor"], rp["high_freq_factor"]) == (1.0, 4.0)
    assert rp["original_max_position_embeddings"] == 8192 and rp["rope_theta"] == base


def test_torch_is_not_needed(tmp_path, rng):
    """load_gguf and the GGUF tokenizer run in a process where importing torch fails."""
    cfg = tiny_config()
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

    cfg = tiny_config(num_hidden_layers=1)
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

    cfg = tiny_config(num_hidden_layers=1)
    path = write_gguf(tmp_path / "novocab.gguf", "llama", numpy_llama_state(cfg, rng), cfg)
    with pytest.raises(CheckpointError, match="no vocabulary"):
        tokenizer_from_gguf(path)
