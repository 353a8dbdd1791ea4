"""Sequence classification on the decoder LMs (Llama, Mistral, Qwen2, Gemma 3, GPT-2) against
PyTorch transformers' ``<Family>ForSequenceClassification``.

Each family is a tiny random config from tests/parity/test_decoders.py with a 3-label
``score`` head, saved by PyTorch and loaded through ``TFAutoModelForSequenceClassification``.
On a batch with left- and right-padded rows (both sides get the same position ids) the
logits pooled at each row's last non-pad token and the loss with labels agree within 1e-4 in
float32, eagerly and (Llama, Gemma 3) under XLA; tfhf's files load in PyTorch with no missing or
unexpected weight. Without ``pad_token_id`` a batch of one pools the last token and a larger
batch raises as transformers does. ``fit`` with the model's own loss trains it.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import _keras  # noqa: E402
from tfhf.errors import ConfigError  # noqa: E402

from parity.test_decoders import CASES, VOCAB, as_np, positions  # noqa: E402
from parity.test_seq2seq_classification import \
    saved_and_loaded_in_pytorch as pytorch_reload  # noqa: E402,F401

ATOL = 1e-4
NUM_LABELS = 3
FAMILIES = {"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2",
            "gemma3": "Gemma3Text", "gpt2": "GPT2"}
XLA = ("llama", "gemma3")


def hf_config(family, **overrides):
    _, cfg, kwargs = CASES[family]
    kwargs = {**kwargs, "attn_implementation": "eager", "initializer_range": 0.2,
              "num_labels": NUM_LABELS, **overrides}
    return getattr(transformers, cfg)(**kwargs)


def batch(pad=0):
    """Rows: left-padded (9 real tokens), right-padded (5), left-padded (3); ids avoid ``pad``."""
    rs = np.random.RandomState(0)
    ids = rs.randint(1, VOCAB, size=(3, 10)).astype(np.int32)
    mask = np.zeros_like(ids)
    mask[0, 1:] = 1
    mask[1, :5] = 1
    mask[2, 7:] = 1
    ids[mask == 0] = pad
    return ids, mask


def pt_logits(model, ids, mask, **kwargs):
    with torch.no_grad():
        return model(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long(),
                     position_ids=torch.tensor(positions(mask)).long(), **kwargs)


class Case:
    def __init__(self, family, folder):
        torch.manual_seed(list(FAMILIES).index(family))
        self.pt_cls = getattr(transformers, FAMILIES[family] + "ForSequenceClassification")
        self.pt = self.pt_cls(hf_config(family)).eval()
        self.pt.save_pretrained(folder)
        self.folder = str(folder)
        with _keras.policy_scope("float32"):
            self.tf = tfhf.TFAutoModelForSequenceClassification.from_pretrained(self.folder)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    cache = {}

    def get(family):
        if family not in cache:
            cache[family] = Case(family, tmp_path_factory.mktemp(family))
        return cache[family]

    return get


@pytest.mark.parametrize("family", FAMILIES)
def test_logits_and_loss_match_pytorch(cases, family):
    c = cases(family)
    assert type(c.tf).__name__ == f"TF{FAMILIES[family]}ForSequenceClassification"
    ids, mask = batch()
    labels = np.array([2, 0, 1], np.int32)
    ref = pt_logits(c.pt, ids, mask, labels=torch.tensor(labels).long())
    out = c.tf(ids, attention_mask=mask, position_ids=positions(mask), labels=labels)
    assert out.logits.shape == (3, NUM_LABELS) and out.logits.dtype == tf.float32
    np.testing.assert_allclose(as_np(out.logits), as_np(ref.logits), atol=ATOL, rtol=0)
    np.testing.assert_allclose(float(out.loss), float(ref.loss), atol=ATOL, rtol=0)


@pytest.mark.parametrize("family", XLA)
def test_logits_match_pytorch_under_xla(cases, family):
    c = cases(family)
    ids, mask = batch()
    fn = tf.function(lambda i, m, p: c.tf(i, attention_mask=m, position_ids=p).logits,
                     jit_compile=True)
    got = fn(tf.constant(ids), tf.constant(mask), tf.constant(positions(mask)))
    np.testing.assert_allclose(as_np(got), as_np(pt_logits(c.pt, ids, mask).logits),
                               atol=ATOL, rtol=0)


@pytest.mark.parametrize("family", ["qwen2", "gpt2"])
def test_tfhf_save_pytorch_load(cases, family, tmp_path):
    c = cases(family)
    pt = pytorch_reload(c.tf, c.pt_cls, tmp_path)
    ids, mask = batch()
    np.testing.assert_allclose(as_np(pt_logits(pt, ids, mask).logits),
                               as_np(pt_logits(c.pt, ids, mask).logits), atol=1e-6, rtol=0)


def test_without_pad_token_id_one_row_pools_the_last_token(tmp_path):
    torch.manual_seed(0)
    pt = transformers.LlamaForSequenceClassification(hf_config("llama", pad_token_id=None))
    pt.eval().save_pretrained(tmp_path)
    model = tfhf.TFLlamaForSequenceClassification.from_pretrained(str(tmp_path))
    ids = np.array([[5, 6, 7, 8]], np.int32)
    with torch.no_grad():
        ref = pt(input_ids=torch.tensor(ids).long()).logits
    np.testing.assert_allclose(as_np(model(ids).logits), as_np(ref), atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match="no padding token"):
        pt(input_ids=torch.tensor(np.repeat(ids, 2, 0)).long())
    with pytest.raises(ConfigError, match="no padding token is defined.*pad_token_id"):
        model(np.repeat(ids, 2, 0))


def test_causal_lm_checkpoint_starts_a_classifier(tmp_path):
    """The fine-tuning recipe: a base LM's checkpoint loads with a new ``score`` head."""
    torch.manual_seed(3)
    lm = transformers.LlamaForCausalLM(hf_config("llama"))
    lm.save_pretrained(tmp_path)
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(str(tmp_path),
                                                                      num_labels=2)
    ids, mask = batch()
    assert model(ids, attention_mask=mask).logits.shape == (3, 2)
    np.testing.assert_array_equal(np.asarray(model.model.embed_tokens.embeddings),
                                  as_np(lm.model.embed_tokens.weight))


def test_fit_trains_with_the_models_loss(cases):
    c = cases("gpt2")
    ids, mask = batch()
    data = tf.data.Dataset.from_tensor_slices(
        {"input_ids": ids, "attention_mask": mask, "labels": np.array([0, 1, 2])}).batch(3)
    model = tfhf.TFGPT2ForSequenceClassification.from_pretrained(c.folder)
    model.compile(optimizer=tfhf.create_optimizer(1e-3, 4, 0)[0])
    before = as_np(model(ids, attention_mask=mask).logits)
    history = model.fit(data, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert not np.allclose(as_np(model(ids, attention_mask=mask).logits), before)
