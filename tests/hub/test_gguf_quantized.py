"""``from_pretrained(gguf, quantization="gguf")``: Q8_0 / Q4_0 blocks kept as int8 / int4 with
the file's scales (same logits as the dequantized float load), a type that cannot stay
quantized falls back to int8 with a warning naming it, or fails under strict=True."""

import logging

import numpy as np
import pytest
import tensorflow as tf

gguf = pytest.importorskip("gguf")

from _gguf_builders import numpy_llama_state, tiny_config, write_gguf  # noqa: E402

from tfhf import TFAutoModelForCausalLM  # noqa: E402
from tfhf.errors import CheckpointError  # noqa: E402

IDS = tf.constant([[1, 5, 7, 9, 11, 3]])


def tiny_file(tmp_path, qtype):
    cfg = tiny_config(num_hidden_layers=1)
    state = numpy_llama_state(cfg, np.random.RandomState(0))
    state = {k: v * 0.1 if v.ndim == 2 else v for k, v in state.items()}
    return write_gguf(tmp_path / f"tiny_{qtype}.gguf", "llama", state, cfg, qtype=qtype)


@pytest.mark.parametrize("qtype,stored", [("Q8_0", "int8"), ("Q4_0", "uint8")])
def test_blocks_stay_quantized_with_the_float_logits(tmp_path, qtype, stored):
    path = tiny_file(tmp_path, qtype)
    ref = TFAutoModelForCausalLM.from_pretrained(path)(IDS).logits.numpy()
    model = TFAutoModelForCausalLM.from_pretrained(path, quantization="gguf")
    assert model.quantization_config["source"] == "gguf"
    q = model.model.blocks[0].attention.q_proj.quantized
    assert q.qweight.dtype == stored and q.group == 32  # the file's blocks of 32
    assert model.model.embed_tokens.quantized is not None  # the tied head too
    out = model(IDS).logits.numpy()
    # the same weights (only the f16 -8d offset of Q4_0 is a product): float rounding only
    np.testing.assert_allclose(out, ref, atol=1e-4 * np.abs(ref).max())


def test_type_that_cannot_stay_quantized_falls_back_or_fails(tmp_path, caplog):
    path = tiny_file(tmp_path, "Q5_1")
    with pytest.raises(CheckpointError, match=r"Q5_1.*blk\.0\.attn_q\.weight"):
        TFAutoModelForCausalLM.from_pretrained(path, quantization={"mode": "gguf",
                                                                   "strict": True})
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        model = TFAutoModelForCausalLM.from_pretrained(path, quantization="gguf")
    assert "re-quantized to int8 per channel" in caplog.text and "Q5_1" in caplog.text
    q = model.model.blocks[0].mlp.up_proj.quantized
    assert q.bits == 8 and q.group == q.shape[1]
