"""Sequence classification on the encoder-decoders (T5, mT5, UMT5, BART, mBART) against PyTorch
transformers' ``<Family>ForSequenceClassification``.

Each family is a tiny random config from tests/tiny_configs.py with a 3-label head, saved by
PyTorch and loaded through ``TFAutoModelForSequenceClassification``. On a batch whose second
row is right-padded and whose rows each end with one ``</s>``, the logits pooled at each row's
last eos and the loss with labels agree within 1e-4 in float32, eagerly and under XLA; tfhf's
files load in PyTorch with no missing or unexpected weight and the same logits. Rows with
different eos counts, or none, raise transformers' messages as ``InvalidInputError``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import _keras  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

from tiny_configs import SEQ2SEQ_CASES, SEQ2SEQ_VOCAB as VOCAB, seq2seq_config  # noqa: E402

ATOL = 1e-4
NUM_LABELS = 3
FAMILIES = ("t5", "mt5", "umt5", "bart", "mbart")


def hf_config(family):
    config = seq2seq_config(family)
    config.num_labels = NUM_LABELS
    return config


def batch(config):
    """Two rows of 9 tokens, the second right-padded after 6; each ends with one eos."""
    rs = np.random.RandomState(0)
    special = {config.pad_token_id, config.eos_token_id}
    ids = rs.randint(3, VOCAB, size=(2, 9)).astype(np.int32)
    ids[np.isin(ids, list(special))] = 7
    mask = np.ones_like(ids)
    mask[1, 6:] = 0
    ids[1, 6:] = config.pad_token_id
    ids[0, 8] = ids[1, 5] = config.eos_token_id
    return ids, mask


def as_np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def pt_forward(model, ids, mask, **kwargs):
    with torch.no_grad():
        return model(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long(),
                     **kwargs)


def saved_and_loaded_in_pytorch(model, pt_cls, folder):
    """tfhf's ``save_pretrained`` files loaded by ``pt_cls``: every weight, no extra one."""
    model.save_pretrained(folder)
    pt, info = pt_cls.from_pretrained(folder, output_loading_info=True,
                                      attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert pt.config.architectures == [pt_cls.__name__]
    return pt.eval()


class Case:
    def __init__(self, family, folder):
        torch.manual_seed(FAMILIES.index(family))
        prefix = SEQ2SEQ_CASES[family][0]
        self.pt_cls = getattr(transformers, f"{prefix}ForSequenceClassification")
        self.config = hf_config(family)
        self.pt = self.pt_cls(self.config).eval()
        self.pt.save_pretrained(folder)
        self.folder = str(folder)
        self.tf_name = f"TF{prefix}ForSequenceClassification"
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
def test_logits_and_loss_match_pytorch_eager_and_xla(cases, family):
    c = cases(family)
    assert type(c.tf).__name__ == c.tf_name
    ids, mask = batch(c.config)
    labels = np.array([2, 0], np.int32)
    ref = pt_forward(c.pt, ids, mask, labels=torch.tensor(labels).long())
    out = c.tf(ids, attention_mask=mask, labels=labels)
    assert out.logits.shape == (2, NUM_LABELS) and out.logits.dtype == tf.float32
    np.testing.assert_allclose(as_np(out.logits), as_np(ref.logits), atol=ATOL, rtol=0)
    np.testing.assert_allclose(float(out.loss), float(ref.loss), atol=ATOL, rtol=0)
    fn = tf.function(lambda i, m: c.tf(i, attention_mask=m).logits, jit_compile=True)
    np.testing.assert_allclose(as_np(fn(tf.constant(ids), tf.constant(mask))),
                               as_np(ref.logits), atol=ATOL, rtol=0)


@pytest.mark.parametrize("family", ["t5", "umt5", "mbart"])
def test_tfhf_save_pytorch_load(cases, family, tmp_path):
    c = cases(family)
    pt = saved_and_loaded_in_pytorch(c.tf, c.pt_cls, tmp_path)
    ids, mask = batch(c.config)
    np.testing.assert_allclose(as_np(pt_forward(pt, ids, mask).logits),
                               as_np(pt_forward(c.pt, ids, mask).logits), atol=1e-6, rtol=0)
    again = tfhf.TFAutoModelForSequenceClassification.from_pretrained(str(tmp_path))
    np.testing.assert_allclose(as_np(again(ids, attention_mask=mask).logits),
                               as_np(c.tf(ids, attention_mask=mask).logits), atol=1e-6)


@pytest.mark.parametrize("family", ["t5", "bart"])
def test_eos_count_errors_match_pytorch(cases, family):
    c = cases(family)
    eos = c.config.eos_token_id
    ids, mask = batch(c.config)
    ids[0, 2] = eos  # two in row 0, one in row 1
    for message in ("same number of <eos> tokens", "at least one <eos> token"):
        with pytest.raises(ValueError, match=message):
            pt_forward(c.pt, ids, mask)
        with pytest.raises(InvalidInputError, match=message):
            c.tf(ids, attention_mask=mask)
        ids[ids == eos] = 7  # then: no eos at all
    graph = tf.function(lambda i, m: c.tf(i, attention_mask=m).logits)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one <eos>"):
        graph(tf.constant(ids), tf.constant(mask))


def test_t5_lm_checkpoint_starts_a_classifier(tmp_path):
    """A T5ForConditionalGeneration checkpoint (no ``transformer.`` prefix) loads its
    backbone into the classifier; the new head is initialized."""
    torch.manual_seed(3)
    lm = transformers.T5ForConditionalGeneration(seq2seq_config("t5")).eval()
    lm.save_pretrained(tmp_path)
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(str(tmp_path),
                                                                      num_labels=2)
    assert type(model).__name__ == "TFT5ForSequenceClassification"
    np.testing.assert_array_equal(np.asarray(model.model.shared.embeddings),
                                  as_np(lm.shared.weight))
    ids, mask = batch(seq2seq_config("t5"))
    assert model(ids, attention_mask=mask).logits.shape == (2, 2)


def test_fit_trains_with_the_models_loss(cases):
    c = cases("t5")
    ids, mask = batch(c.config)
    ds = tf.data.Dataset.from_tensor_slices(
        ({"input_ids": ids, "attention_mask": mask}, np.array([1, 2]))).batch(2)
    c.tf.compile(optimizer=_keras.keras.optimizers.Adam(1e-2))
    before = c.tf.evaluate(ds, verbose=0)
    c.tf.fit(ds, epochs=3, verbose=0)
    assert c.tf.evaluate(ds, verbose=0) < before


def test_prepare_tf_dataset_checks_eos_before_fit(cases):
    """Examples without eos, or with different eos counts, are a clear error when the
    dataset is prepared (before fit); transformers' messages lead."""
    datasets = pytest.importorskip("datasets")
    c = cases("bart")
    ids, mask = batch(c.config)
    rows = {"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "labels": [0, 1]}
    assert c.tf.prepare_tf_dataset(datasets.Dataset.from_dict(rows), batch_size=2) is not None
    rows["input_ids"][1][5] = 7  # its eos replaced
    with pytest.raises(InvalidInputError, match="at least one <eos> token.*example 1"):
        c.tf.prepare_tf_dataset(datasets.Dataset.from_dict(rows), batch_size=2)
    rows["input_ids"][1][2] = rows["input_ids"][1][5] = c.config.eos_token_id
    with pytest.raises(InvalidInputError, match="same number of <eos> tokens.*example 1 holds 2"):
        c.tf.prepare_tf_dataset(datasets.Dataset.from_dict(rows), batch_size=2)
