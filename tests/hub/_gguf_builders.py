"""Builders of GGUF files for the GGUF tests (tests/hub/test_gguf_*.py).

* :func:`write_gguf`: an HF state dict written the way llama.cpp's converter writes it (gguf-py's
  own tensor names, llama q/k rows permuted, Gemma norms stored as 1 + w, quantized 2-D
  tensors); :func:`tiny_config`, :func:`numpy_llama_state`, :func:`gpt2_tokenizer_meta` and
  :func:`tiny_llama_file` give it something small to write;
* :func:`write_tensors`: a file of exactly the metadata and tensors given (no converter logic);
* :func:`raw_gguf`: a file built byte by byte, for hostile headers; :func:`write_blob`,
  :func:`header_end` and :func:`corrupt_header` for truncation and corruption tests.
"""

import struct

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter, MODEL_ARCH, get_tensor_name_map
from gguf.quants import quantize

from tfhf.hub.gguf import GGUFFile


# ----------------------------------------------------------------------------- llama.cpp-style
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
    return finish(w, path)


def tiny_config(**kw):
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


def finish(w, path):
    """Write a GGUFWriter's header, metadata and tensors to ``path`` and close it."""
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return str(path)


def gguf_tensor_name(hf, arch, n_layers):
    """gguf-py's name of an HF weight (``model.layers.0.self_attn.q_proj.weight`` ->
    ``blk.0.attn_q.weight``)."""
    base, suffix = hf.rsplit(".", 1)
    return get_tensor_name_map(ARCHS[arch], n_layers).get_name(base) + "." + suffix


def write_tensors(path, arch, metadata=(), tensors=None):
    """A GGUF of architecture ``arch`` with exactly ``metadata`` ([(GGUFWriter method name,
    value)]) and ``tensors`` ({GGUF name: array}), nothing converted."""
    w = GGUFWriter(str(path), arch)
    for method, value in metadata:
        getattr(w, method)(value)
    for name, value in (tensors or {}).items():
        w.add_tensor(name, value)
    return finish(w, path)


def tiny_llama_file(path, rng, qtype="F32", tokenizer=True):
    """A one-layer llama GGUF of random weights drawn from ``rng`` (with the tiny GPT-2
    vocabulary unless ``tokenizer`` is false)."""
    cfg = tiny_config(num_hidden_layers=1)
    state = numpy_llama_state(cfg, rng)
    return write_gguf(path, "llama", state, cfg, qtype=qtype,
                      tokenizer=gpt2_tokenizer_meta() if tokenizer else None)


def header_end(path):
    """Where the tensor data of a valid GGUF starts."""
    with GGUFFile(path) as gf:
        return gf.data_start


def corrupt_header(blob, end, rng):
    """``blob`` with one to three random bytes of its first ``end`` bytes overwritten."""
    bad = bytearray(blob)
    for at in rng.randint(0, end, size=rng.randint(1, 4)):
        bad[at] = rng.randint(0, 256)
    return bytes(bad)


# ----------------------------------------------------------------------------- byte by byte
def gguf_string(text):
    """A GGUF string: uint64 length + UTF-8 bytes."""
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def raw_gguf(version=3, n_tensors=None, n_kv=None, kvs=None, tensors=None, data=None,
             alignment=32):
    """A GGUF built byte by byte: ``kvs`` [(key, type, payload)], ``tensors`` [(name, ggml dims,
    type, offset)]."""
    kvs = kvs if kvs is not None else [("general.architecture", 8, gguf_string("llama"))]
    tensors = tensors if tensors is not None else [("t", [4, 2], 0, 0)]
    out = b"GGUF" + struct.pack("<IQQ", version,
                                len(tensors) if n_tensors is None else n_tensors,
                                len(kvs) if n_kv is None else n_kv)
    for key, vtype, payload in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + payload
    for name, dims, ttype, offset in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", ttype, offset)
    out += b"\0" * (-len(out) % alignment)
    out += data if data is not None else np.arange(8, dtype=np.float32).tobytes()
    return out


def write_blob(tmp_path, blob, name="h.gguf"):
    p = tmp_path / name
    p.write_bytes(blob)
    return str(p)
