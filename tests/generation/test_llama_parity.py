"""generate() on a tiny random Llama against PyTorch transformers' generate.

The checkpoint is written by PyTorch ``save_pretrained`` and loaded with
``tfhf.TFAutoModelForCausalLM``; runs once the Llama family is registered.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf.models import registry  # noqa: E402

if "causal_lm" not in registry.MODELS.get("llama", {}):
    pytest.skip("the Llama family is not registered yet", allow_module_level=True)

IDS = np.array([[0, 0, 0, 5, 6, 7, 8],
                [11, 12, 13, 14, 15, 16, 17],
                [0, 0, 0, 0, 0, 21, 22]])
MASK = (IDS != 0).astype(np.int64)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cfg = transformers.LlamaConfig(
        vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        pad_token_id=0, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    pt = transformers.LlamaForCausalLM(cfg).eval()
    path = tmp_path_factory.mktemp("tiny_llama")
    pt.save_pretrained(path)
    gen = json.loads((path / "generation_config.json").read_text())
    (path / "generation_config.json").write_text(json.dumps(dict(gen, top_k=7)))
    return pt, tfhf.TFAutoModelForCausalLM.from_pretrained(str(path))


def _pt_generate(pt, **kwargs):
    with torch.no_grad():
        return pt.generate(torch.tensor(IDS), attention_mask=torch.tensor(MASK), **kwargs).numpy()


def test_generation_config_comes_from_the_checkpoint(models):
    _, tf_model = models
    assert tf_model.generation_config.eos_token_id == 2
    assert tf_model.generation_config.pad_token_id == 0
    assert tf_model.generation_config.top_k == 7  # read from generation_config.json


@pytest.mark.parametrize("use_xla", [False, True])
def test_greedy_left_padded_batch(models, use_xla):
    pt, tf_model = models
    ref = _pt_generate(pt, max_new_tokens=12, do_sample=False)
    out = tf_model.generate(IDS, attention_mask=MASK, max_new_tokens=12, use_xla=use_xla)
    np.testing.assert_array_equal(out.numpy(), ref)


def test_beam_search(models):
    pt, tf_model = models
    greedy = _pt_generate(pt, max_new_tokens=10, do_sample=False)
    eos = int(greedy[1, 7 + 3])  # a token the model produces: some beams finish early
    kwargs = dict(max_new_tokens=10, num_beams=3, num_return_sequences=3, do_sample=False,
                  eos_token_id=eos)
    ref = _pt_generate(pt, **kwargs)
    out = tf_model.generate(IDS, attention_mask=MASK, **kwargs)
    np.testing.assert_array_equal(out.numpy(), ref)
