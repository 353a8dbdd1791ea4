"""Parity of the decoder families (Llama, Mistral, Qwen2, Gemma 3, GPT-2) with PyTorch.

Each case is a tiny random config built with PyTorch transformers, saved with
``save_pretrained`` and loaded into tfhf. On a left-padded batch of three prompts of
different lengths (PyTorch gets the position ids ``cumsum(mask) - 1`` that tfhf derives),
logits agree within 1e-4 in float32, eagerly and under XLA; the KV-cache path
(``forward_with_cache``: prefill, then one token per step) gives the full forward's logits,
eagerly and inside one ``tf.function(jit_compile=True)``. Cases cover every rope scaling
type, sliding windows shorter than the sequence, q/k/v biases, tied and untied heads, MQA
and GQA, Gemma 3's local/global layers with soft-capping, and GPT-2.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import _keras  # noqa: E402
from tfhf.errors import InvalidInputError, ModelNotFoundError  # noqa: E402
from tfhf.models.causal_lm import TFCausalLMBase  # noqa: E402

ATOL = 1e-4
# bfloat16 compute vs PyTorch float32: max |diff| <= MIXED_RTOL * max |ref logits| on real
# tokens (measured worst case 2.2e-2: llama, mixed_bfloat16 and bfloat16 alike).
MIXED_RTOL = 5e-2

VOCAB, HIDDEN, FFN, LAYERS, HEADS, MAX_POS = 100, 32, 48, 2, 4, 64
LENGTHS = (10, 7, 4)  # real tokens per row of the left-padded batch
PREFILL = 7  # forward_with_cache: prefill these columns, then one column per step
CACHE_LEN = 12  # cache slots (> sequence length: trailing slots stay unused)

_LLAMA = dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FFN,
              num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=2,
              max_position_embeddings=MAX_POS, pad_token_id=0)

CASES = {
    # name: (transformers class prefix, config class, config kwargs)
    "llama": ("Llama", "LlamaConfig", dict(_LLAMA)),  # GQA, untied head
    "llama_mqa_tied_bias": ("Llama", "LlamaConfig", dict(
        _LLAMA, num_key_value_heads=1, tie_word_embeddings=True, attention_bias=True,
        mlp_bias=True)),
    "llama_linear": ("Llama", "LlamaConfig", dict(
        _LLAMA, rope_parameters={"rope_type": "linear", "factor": 4.0, "rope_theta": 100.0})),
    # max_position_embeddings below the sequence length: the NTK base grows
    "llama_dynamic": ("Llama", "LlamaConfig", dict(
        _LLAMA, max_position_embeddings=6,
        rope_parameters={"rope_type": "dynamic", "factor": 3.0, "rope_theta": 100.0})),
    "llama_yarn": ("Llama", "LlamaConfig", dict(
        _LLAMA, rope_parameters={"rope_type": "yarn", "factor": 4.0, "rope_theta": 100.0,
                                 "original_max_position_embeddings": 16})),
    # wavelengths 6, 63, 628, 6283 with bands at 16 and 64: all three branches
    "llama_llama3": ("Llama", "LlamaConfig", dict(
        _LLAMA, rope_parameters={"rope_type": "llama3", "factor": 8.0, "rope_theta": 10000.0,
                                 "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 64})),
    "mistral": ("Mistral", "MistralConfig", dict(_LLAMA, sliding_window=4)),
    "qwen2": ("Qwen2", "Qwen2Config", dict(
        _LLAMA, use_sliding_window=True, sliding_window=3, max_window_layers=1,
        tie_word_embeddings=True)),
    "gemma3": ("Gemma3", "Gemma3TextConfig", dict(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=3,
        num_attention_heads=HEADS, num_key_value_heads=2, head_dim=8,
        max_position_embeddings=MAX_POS, pad_token_id=0, sliding_window=4,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        query_pre_attn_scalar=16, attn_logit_softcapping=2.0, final_logit_softcapping=3.0,
        rope_parameters={
            "sliding_attention": {"rope_type": "default", "rope_theta": 100.0},
            "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}})),
    "gpt2": ("GPT2", "GPT2Config", dict(
        vocab_size=VOCAB, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS, n_positions=MAX_POS,
        pad_token_id=0)),
}
HEAD_CLASS = {"GPT2": "LMHeadModel"}
BASE_CLASS = {"Gemma3": "TextModel"}
# the cache path feeds positions one step at a time, so dynamic NTK rope (whose base depends
# on the longest position seen) differs from one full forward by design, in transformers too
CACHE_CASES = [c for c in CASES if c != "llama_dynamic"]
# rope scaling types only change constant tables: the XLA cache loop runs on the others
XLA_CACHE_CASES = [c for c in CACHE_CASES if c not in ("llama_linear", "llama_yarn",
                                                       "llama_llama3")]


def hf_config(name, **overrides):
    _, cfg_name, kwargs = CASES[name]
    # initializer_range 0.2 (not 0.02) so activations and soft-caps leave their linear range
    kwargs = {**kwargs, "attn_implementation": "eager", "initializer_range": 0.2, **overrides}
    return getattr(transformers, cfg_name)(**kwargs)


def pt_class(name, base=False):
    prefix = CASES[name][0]
    suffix = BASE_CLASS.get(prefix, "Model") if base else HEAD_CLASS.get(prefix, "ForCausalLM")
    return getattr(transformers, prefix + suffix)


def tf_class(name, base=False):
    return getattr(tfhf, "TF" + pt_class(name, base).__name__)


def make_inputs(seed=0):
    rs = np.random.RandomState(seed)
    t = max(LENGTHS)
    ids = rs.randint(1, VOCAB, size=(len(LENGTHS), t)).astype(np.int32)
    mask = np.zeros_like(ids)
    for row, n in enumerate(LENGTHS):
        mask[row, t - n:] = 1
    ids[mask == 0] = 0
    return ids, mask


def positions(mask):
    return np.maximum(np.cumsum(mask, -1) - 1, 0).astype(np.int32)


def pt_forward(model, ids, mask, **kwargs):
    with torch.no_grad():
        return model(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long(),
                     position_ids=torch.tensor(positions(mask)).long(), **kwargs)


def as_np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().float().numpy()
    return np.asarray(tf.cast(x, tf.float32).numpy() if hasattr(x, "numpy") else x)


def assert_real_close(actual, expected, mask, atol=ATOL, what="logits"):
    """Compare (batch, t, ...) outputs on real tokens (padding rows see nothing)."""
    actual, expected = as_np(actual), as_np(expected)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    real = np.asarray(mask) == 1
    np.testing.assert_allclose(actual[real], expected[real], atol=atol, rtol=0, err_msg=what)


class Case:
    def __init__(self, name, folder):
        self.name, self.folder = name, str(folder)
        torch.manual_seed(list(CASES).index(name))
        self.pt = pt_class(name)(hf_config(name)).eval()
        self.pt.save_pretrained(self.folder)
        self.ids, self.mask = make_inputs()
        self.ref = pt_forward(self.pt, self.ids, self.mask, output_hidden_states=True)
        with _keras.policy_scope("float32"):
            self.tf = tf_class(name).from_pretrained(self.folder)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = Case(name, tmp_path_factory.mktemp(name))
        return cache[name]

    return get


# ---------------------------------------------------------------------------- forward parity
@pytest.mark.parametrize("name", list(CASES))
def test_logits_parity_eager_and_xla(cases, name):
    c = cases(name)
    assert isinstance(c.tf, TFCausalLMBase)
    out = c.tf(tf.constant(c.ids), attention_mask=tf.constant(c.mask))
    assert out.logits.dtype == tf.float32
    assert_real_close(out.logits, c.ref.logits, c.mask)
    fn = tf.function(lambda i, m: c.tf(i, attention_mask=m).logits, jit_compile=True)
    assert_real_close(fn(tf.constant(c.ids), tf.constant(c.mask)), c.ref.logits, c.mask,
                      what="xla logits")


def test_hidden_states_and_tuple_output(cases):
    c = cases("llama")
    out = c.tf({"input_ids": c.ids, "attention_mask": c.mask}, output_hidden_states=True)
    assert len(out.hidden_states) == LAYERS + 1 == len(c.ref.hidden_states)
    for i, (a, e) in enumerate(zip(out.hidden_states, c.ref.hidden_states)):
        assert_real_close(a, e, c.mask, what=f"hidden_states[{i}]")
    tup = c.tf(c.ids, attention_mask=c.mask, return_dict=False)
    assert isinstance(tup, tuple) and len(tup) == 1
    np.testing.assert_array_equal(as_np(tup[0]), as_np(out.logits))


def test_explicit_position_ids_and_no_mask(cases):
    """Without a mask positions are arange (transformers' plain forward); explicit ones win."""
    c = cases("llama")
    ids = c.ids[:1]
    with torch.no_grad():
        ref = c.pt(input_ids=torch.tensor(ids).long()).logits
    assert_real_close(c.tf(ids).logits, ref, np.ones_like(ids))
    shifted = np.arange(ids.shape[1], dtype=np.int32)[None] + 3
    with torch.no_grad():
        ref = c.pt(input_ids=torch.tensor(ids).long(),
                   position_ids=torch.tensor(shifted).long()).logits
    assert_real_close(c.tf(ids, position_ids=shifted).logits, ref, np.ones_like(ids))


# ---------------------------------------------------------------------------- KV cache
def run_with_cache(model, ids, mask, steps_from=PREFILL):
    """Prefill ``ids[:, :steps_from]``, then feed the remaining columns one per step."""
    b, t = ids.shape
    pos = tf.constant(positions(mask))
    ids = tf.constant(ids)
    slots = tf.concat([tf.constant(mask), tf.ones([b, CACHE_LEN - t], tf.int32)], axis=1)
    cache = model.init_cache(b, CACHE_LEN)
    logits, cache = model.forward_with_cache(ids[:, :steps_from], pos[:, :steps_from], slots,
                                             cache, 0)
    out = [logits]
    for i in range(steps_from, t):
        step, cache = model.forward_with_cache(ids[:, i:i + 1], pos[:, i:i + 1], slots, cache,
                                               tf.constant(i))
        out.append(step)
    return tf.concat(out, axis=1), cache


@pytest.mark.parametrize("name", CACHE_CASES)
def test_forward_with_cache_matches_full_forward(cases, name):
    c = cases(name)
    spec = c.tf.decoder_spec
    cache = c.tf.init_cache(3, CACHE_LEN)
    # one (keys, values) pair per layer, batch first (the loop reads cache_batch_axis)
    assert c.tf.cache_batch_axis == 0
    assert len(cache) == spec.num_layers
    for pair in cache:
        assert len(pair) == 2
        for buf in pair:
            assert tuple(buf.shape) == (3, spec.num_kv_heads, CACHE_LEN, spec.head_dim)
            assert buf.dtype == tf.float32
    logits, cache = run_with_cache(c.tf, c.ids, c.mask)
    assert logits.dtype == tf.float32
    assert_real_close(logits, c.ref.logits, c.mask, what="eager cache logits")
    # slots past the last token were never written
    assert not any(np.any(buf.numpy()[:, :, max(LENGTHS):]) for buf in tf.nest.flatten(cache))
    if name not in XLA_CACHE_CASES:
        return
    xla = tf.function(lambda ids, mask: _graph_run(c.tf, ids, mask), jit_compile=True)
    assert_real_close(xla(tf.constant(c.ids), tf.constant(c.mask)), c.ref.logits, c.mask,
                      what="xla cache logits")


def _graph_run(model, ids, mask):
    """``run_with_cache`` with tensors only (inside one XLA computation)."""
    b, t = ids.shape
    pos = tf.maximum(tf.cumsum(mask, axis=-1) - 1, 0)
    slots = tf.concat([mask, tf.ones([b, CACHE_LEN - t], tf.int32)], axis=1)
    cache = model.init_cache(b, CACHE_LEN)
    logits, cache = model.forward_with_cache(ids[:, :PREFILL], pos[:, :PREFILL], slots, cache,
                                             0)
    out = [logits]

    def body(i, cache, acc):
        tok = tf.gather(ids, [i], axis=1)
        p = tf.gather(pos, [i], axis=1)
        step, cache = model.forward_with_cache(tok, p, slots, cache, i)
        return i + 1, cache, acc.write(i - PREFILL, step[:, 0])

    acc = tf.TensorArray(tf.float32, size=t - PREFILL)
    _, cache, acc = tf.while_loop(lambda i, *_: i < t, body,
                                  (tf.constant(PREFILL), cache, acc))
    out.append(tf.transpose(acc.stack(), [1, 0, 2]))
    return tf.concat(out, axis=1)


def test_greedy_generate_matches_pytorch(cases):
    """The contract end to end: tfhf.generation's loop on forward_with_cache (left padding)."""
    pytest.importorskip("tfhf.generation.loop")
    c = cases("mistral")
    out = c.tf.generate(c.ids, attention_mask=c.mask, max_new_tokens=4, do_sample=False)
    with torch.no_grad():
        ref = c.pt.generate(torch.tensor(c.ids).long(), attention_mask=torch.tensor(c.mask).long(),
                            max_new_tokens=4, do_sample=False, pad_token_id=0)
    np.testing.assert_array_equal(np.asarray(out), ref.numpy())


def test_attention_softcap_matches_transformers():
    """Soft-capped scores (Gemma 2 style) as transformers' eager attention computes them."""
    from transformers.models.gemma3.modeling_gemma3 import eager_attention_forward

    from tfhf.layers.attention import causal_bias, grouped_attention

    rs = np.random.RandomState(7)
    b, t, heads, kv_heads, d = 2, 5, 4, 2, 8
    q = rs.randn(b, t, heads, d).astype(np.float32) * 3
    k = rs.randn(b, kv_heads, t, d).astype(np.float32) * 3
    v = rs.randn(b, kv_heads, t, d).astype(np.float32)
    mask = np.ones((b, t), np.int32)
    mask[1, :2] = 0
    bias = causal_bias(tf.constant(mask), 0, t)
    ours = grouped_attention(tf.constant(q), tf.constant(k), tf.constant(v), bias, 0.25,
                             softcap=5.0)

    class Module:
        num_key_value_groups, head_dim, training = heads // kv_heads, d, False

    pt_mask = torch.tensor(bias.numpy()[:, 0])  # (b, 1, t, t) additive
    ref, _ = eager_attention_forward(Module(), torch.tensor(q).transpose(1, 2), torch.tensor(k),
                                     torch.tensor(v), pt_mask, scaling=0.25, softcap=5.0)
    assert_real_close(ours, ref.reshape(b, t, heads * d), mask, what="softcapped attention")


def test_sliding_window_really_limits_attention(cases):
    """Mistral's window (4) is shorter than the prompt: a token outside it changes nothing."""
    c = cases("mistral")
    ids = c.ids[:1].copy()
    base = as_np(c.tf(ids).logits)[0, -1]
    far, near = ids.copy(), ids.copy()
    far[0, 0] = (far[0, 0] % (VOCAB - 1)) + 1  # 9 positions back, outside every window
    near[0, -2] = (near[0, -2] % (VOCAB - 1)) + 1
    # two layers of window 4 reach back 6 positions at most
    np.testing.assert_allclose(as_np(c.tf(far).logits)[0, -1], base, atol=1e-6)
    assert np.abs(as_np(c.tf(near).logits)[0, -1] - base).max() > 1e-3


# ---------------------------------------------------------------------------- loss
@pytest.mark.parametrize("name", ["llama", "gemma3", "gpt2"])
def test_loss_parity(cases, name):
    c = cases(name)
    labels = np.where(c.mask == 1, c.ids, -100).astype(np.int32)
    ref = pt_forward(c.pt, c.ids, c.mask, labels=torch.tensor(labels).long())
    out = c.tf(c.ids, attention_mask=c.mask, labels=labels)
    assert out.loss.dtype == tf.float32 and out.loss.shape.rank == 0
    np.testing.assert_allclose(as_np(out.loss), as_np(ref.loss), atol=ATOL, rtol=0)
    assert c.tf.compute_loss is not None and c.tf.label_names == ("labels",)


# ---------------------------------------------------------------------------- save round trip
@pytest.mark.parametrize("name", ["llama", "llama_mqa_tied_bias", "qwen2", "gemma3", "gpt2"])
def test_save_round_trip_with_pytorch(cases, name, tmp_path):
    c = cases(name)
    c.tf.save_pretrained(tmp_path)
    with open(tmp_path / "config.json") as fh:
        assert json.load(fh)["architectures"] == [pt_class(name).__name__]
    from safetensors import safe_open

    with safe_open(os.path.join(tmp_path, "model.safetensors"), "np") as fh:
        keys = set(fh.keys())
    assert ("lm_head.weight" in keys) is (not c.pt.config.tie_word_embeddings)
    assert keys == set(c.pt.state_dict()) - {"lm_head.weight"} | (
        {"lm_head.weight"} if not c.pt.config.tie_word_embeddings else set())
    back, info = pt_class(name).from_pretrained(tmp_path, output_loading_info=True,
                                                attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    ref = pt_forward(back.eval(), c.ids, c.mask)
    assert_real_close(ref.logits, c.ref.logits, c.mask, atol=1e-6)
    again = tf_class(name).from_pretrained(tmp_path)
    np.testing.assert_array_equal(as_np(again(c.ids, attention_mask=c.mask).logits),
                                  as_np(c.tf(c.ids, attention_mask=c.mask).logits))


@pytest.mark.parametrize("name", ["llama", "gemma3", "gpt2"])
def test_auto_classes_and_base_model(cases, name):
    c = cases(name)
    auto = tfhf.TFAutoModelForCausalLM.from_pretrained(c.folder)
    assert type(auto) is tf_class(name)
    base, info = tfhf.TFAutoModel.from_pretrained(c.folder, output_loading_info=True)
    assert type(base) is tf_class(name, base=True)
    assert not info["missing_keys"]
    assert set(info["unexpected_keys"]) <= {"lm_head.weight"}
    out = base(c.ids, attention_mask=c.mask, output_hidden_states=True)
    assert_real_close(out.last_hidden_state, c.ref.hidden_states[-1], c.mask,
                      what="last_hidden_state")
    assert len(out.hidden_states) == len(c.ref.hidden_states)


# ---------------------------------------------------------------------------- mixed precision
@pytest.mark.parametrize("name,policy", [("llama", "mixed_bfloat16"), ("gemma3", "mixed_bfloat16"),
                                         ("gpt2", "mixed_bfloat16"), ("qwen2", "bfloat16")])
def test_bfloat16_compute(cases, name, policy):
    """bfloat16 compute: the cache is bfloat16, logits float32 and close to float32's; the
    cache path agrees, eagerly and (one case, compiles are slow) under XLA."""
    c = cases(name)
    model = tf_class(name).from_pretrained(c.folder, dtype=policy)
    scale = np.abs(as_np(c.ref.logits)[c.mask == 1]).max()

    def check(logits, what):
        assert logits.dtype == tf.float32, what
        err = np.abs(as_np(logits) - as_np(c.ref.logits))[c.mask == 1].max()
        assert err <= MIXED_RTOL * scale, (what, err, scale)

    check(model(c.ids, attention_mask=c.mask).logits, "forward")
    assert {b.dtype for b in tf.nest.flatten(model.init_cache(3, CACHE_LEN))} == {tf.bfloat16}
    logits, cache = run_with_cache(model, c.ids, c.mask)
    assert {b.dtype for b in tf.nest.flatten(cache)} == {tf.bfloat16}
    check(logits, "eager cache")
    if name == "llama":
        xla = tf.function(lambda ids, mask: _graph_run(model, ids, mask), jit_compile=True)
        check(xla(tf.constant(c.ids), tf.constant(c.mask)), "xla cache")


# ---------------------------------------------------------------------------- GGUF hook
def test_gguf_file_goes_through_load_gguf(cases, tmp_path, monkeypatch):
    """``from_pretrained(folder, gguf_file=...)`` resolves the file and loads
    ``tfhf.models.gguf.load_gguf``'s (config, state); the family classes and the auto class."""
    gguf = pytest.importorskip("tfhf.models.gguf")
    from tfhf.hub.state import DictState

    c = cases("llama")
    state = {k: v.numpy() for k, v in c.pt.state_dict().items()}
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    opened = []

    def fake_load_gguf(path):
        opened.append(path)
        return c.pt.config, DictState(state)

    monkeypatch.setattr(gguf, "load_gguf", fake_load_gguf)
    for cls in (tfhf.TFAutoModelForCausalLM, tfhf.TFLlamaForCausalLM):
        model = cls.from_pretrained(tmp_path, gguf_file="tiny.gguf")
        assert type(model) is tfhf.TFLlamaForCausalLM
        assert_real_close(model(c.ids, attention_mask=c.mask).logits, c.ref.logits, c.mask)
    assert opened and all(p == os.path.join(str(tmp_path), "tiny.gguf") for p in opened)
    with pytest.raises(ModelNotFoundError, match="missing.gguf"):
        tfhf.TFLlamaForCausalLM.from_pretrained(tmp_path, gguf_file="missing.gguf")


# ---------------------------------------------------------------------------- input errors
def test_input_errors(cases):
    model = cases("llama").tf
    with pytest.raises(InvalidInputError, match="token_type_ids"):
        model(tf.constant([[1, 2]]), token_type_ids=tf.constant([[0, 0]]))
    with pytest.raises(InvalidInputError, match="outside the vocabulary"):
        model(tf.constant([[1, VOCAB]]))
    with pytest.raises(InvalidInputError, match="attention_mask has shape"):
        model(tf.constant([[1, 2]]), attention_mask=tf.constant([[1, 1, 1]]))
