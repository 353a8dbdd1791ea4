"""Weight-only int8 / int4 quantization: math, whole models, save/reload, generate, errors.

Bounds (relative L2 error of the logits): int8 rounds each weight to within half a step of
``max|row| / 127``, an rms error of ~0.6% of a Gaussian row's spread per matmul; ten quantized
matmuls (and the tied head) compound to ~1.3% on this tiny random model, bound 3%. int4 (groups
of 32, 15 steps) has ~15x coarser steps: ~9% rms per matmul, ~21% on the logits of random
Gaussian weights (the worst case for 4 bits), bound 35%; the quality on a real model is what
scripts/eval_quantization.py measures.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

transformers = pytest.importorskip("transformers")

from tfhf import TFAutoModel, TFAutoModelForCausalLM  # noqa: E402
from tfhf.errors import InvalidInputError, UnsupportedModelError  # noqa: E402
from tfhf.quantization import ops, packing  # noqa: E402

IDS = tf.constant([[1, 5, 7, 9, 11, 3, 4, 5, 20, 31]])


def tiny_config():
    return transformers.LlamaConfig(
        vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        tie_word_embeddings=True, initializer_range=0.1, bos_token_id=1, eos_token_id=2,
        pad_token_id=0)


@pytest.fixture(scope="module")
def float_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_float")
    tf.keras.utils.set_random_seed(0)
    model = TFAutoModelForCausalLM.from_config(tiny_config())
    model.save_pretrained(folder)
    return str(folder), model(IDS).logits.numpy()


# ------------------------------------------------------------------------ math
@pytest.mark.parametrize("bits,group", [(8, 64), (8, 16), (4, 16), (4, 64)])
def test_both_formulations_match_numpy_dequantization(bits, group):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((24, 64)).astype(np.float32)
    fn = packing.quantize_int8 if bits == 8 else packing.quantize_int4
    arrays = fn(w, group)
    deq = packing.dequantize(arrays, 64)
    step = np.abs(w).max() / (127 if bits == 8 else 7)
    assert np.abs(deq - w).max() <= step  # within one quantization step
    x = rng.standard_normal((2, 64)).astype(np.float32)
    args = (tf.constant(arrays["qweight"]), tf.constant(arrays["scale"]),
            None if bits == 8 else tf.constant(arrays["offset"]), bits, tf.float32)
    expected = x @ deq.T
    np.testing.assert_allclose(ops.gemv(tf.constant(x), *args).numpy(), expected,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ops.matmul(tf.constant(np.tile(x, (4, 1))), *args).numpy(),
                               np.tile(expected, (4, 1)), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------ models
def test_int8_logits_close_tokens_equal_and_reload(float_folder, tmp_path):
    folder, ref = float_folder
    q = TFAutoModelForCausalLM.from_pretrained(folder, quantization="int8")
    assert q.quantization_config["mode"] == "int8"
    dtypes = {v.dtype if isinstance(v.dtype, str) else v.dtype.name for v in q.weights}
    assert "int8" in dtypes
    assert not any(v.shape == (64, 128) and "float" in str(v.dtype) for v in q.weights)
    out = q(IDS).logits.numpy()
    assert np.linalg.norm(out - ref) < 0.03 * np.linalg.norm(ref)
    f = TFAutoModelForCausalLM.from_pretrained(folder)
    want = f.generate(IDS, max_new_tokens=8, do_sample=False).numpy()
    got = q.generate(IDS, max_new_tokens=8, do_sample=False).numpy()
    np.testing.assert_array_equal(got, want)
    q.save_pretrained(tmp_path)
    saved = json.load(open(os.path.join(tmp_path, "config.json")))
    assert saved["quantization_config"]["quant_method"] == "tfhf"
    r = TFAutoModelForCausalLM.from_pretrained(tmp_path)
    assert r.quantization_config["mode"] == "int8"
    np.testing.assert_array_equal(r(IDS).logits.numpy(), out)


def test_int4_quantize_in_place_save_and_reload(float_folder, tmp_path):
    folder, ref = float_folder
    model = TFAutoModelForCausalLM.from_pretrained(folder)
    assert model.quantize("int4", group_size=32) is model
    out = model(IDS).logits.numpy()
    assert np.linalg.norm(out - ref) < 0.35 * np.linalg.norm(ref)
    step, _ = model.forward_with_cache(IDS[:, :1], tf.zeros([1, 1], tf.int32),
                                       tf.ones([1, 8], tf.int32), model.init_cache(1, 8), 0)
    np.testing.assert_allclose(step.numpy()[0, 0], out[0, 0], atol=1e-4)  # cached step
    model.save_pretrained(tmp_path)
    from safetensors.numpy import load_file

    tensors = load_file(os.path.join(tmp_path, "model.safetensors"))
    w = tensors["model.layers.0.mlp.up_proj.weight"]
    assert w.dtype == np.uint8 and w.shape == (128, 32)  # two 4-bit weights per byte
    assert tensors["model.layers.0.mlp.up_proj.weight_scale"].shape == (128, 2)
    r = TFAutoModelForCausalLM.from_pretrained(tmp_path)
    assert r.quantization_config["modules"]["model.embed_tokens"] == {"bits": 4,
                                                                      "group_size": 32}
    np.testing.assert_array_equal(r(IDS).logits.numpy(), out)


# ------------------------------------------------------------------------ errors
def test_bad_arguments(float_folder):
    folder, _ = float_folder
    with pytest.raises(InvalidInputError, match="Unknown quantization mode 'int3'"):
        TFAutoModelForCausalLM.from_pretrained(folder, quantization="int3")
    with pytest.raises(InvalidInputError, match="group_size=7"):
        TFAutoModelForCausalLM.from_pretrained(folder, quantization={"mode": "int4",
                                                                     "group_size": 7})
    with pytest.raises(InvalidInputError, match="gguf_file"):
        TFAutoModelForCausalLM.from_pretrained(folder, quantization="gguf")
    model = TFAutoModelForCausalLM.from_config(tiny_config())
    with pytest.raises(InvalidInputError, match="group_size=48 does not divide"):
        model.quantize("int4", group_size=48)
    model.quantize("int8")
    with pytest.raises(InvalidInputError, match="already quantized"):
        model.quantize("int8")


def test_encoder_cannot_be_quantized():
    bert = TFAutoModel.from_config(transformers.BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32))
    with pytest.raises(UnsupportedModelError, match="decoder-only"):
        bert.quantize("int8")


def test_cli_quantize_option_loads_the_model_quantized(tmp_path):
    """``tfhf chat/generate --quantize int8`` reach from_pretrained(quantization=...)."""
    from chat_fixtures import save_tokenizer

    from tfhf import chat

    vocab = save_tokenizer(tmp_path)
    cfg = tiny_config()
    cfg.vocab_size = vocab
    TFAutoModelForCausalLM.from_config(cfg).save_pretrained(tmp_path)
    args = chat.generate_parser().parse_args(["--model", str(tmp_path), "--prompt", "hi",
                                              "--quantize", "int8"])
    assert args.quantize == "int8"
    model, _ = chat.load(str(tmp_path), None, quantization=args.quantize, verbose=False)
    assert model.quantization_config["mode"] == "int8"


def test_int4_default_group_fits_narrow_layers():
    from tfhf.quantization import parse_mode

    spec = parse_mode("int4")
    assert [spec.group_for(n) for n in (576, 32, 48, 40)] == [64, 32, 48, 40]
    with pytest.raises(InvalidInputError, match="group_size=64 does not divide the 21"):
        spec.group_for(21)
    assert parse_mode("int4", 128).group_for(256) == 128
