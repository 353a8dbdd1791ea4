"""Token classification and question answering on the encoder-decoders against PyTorch
transformers: ``T5ForTokenClassification`` (the encoder alone, ``transformer.`` prefix),
``T5ForQuestionAnswering`` (the whole encoder-decoder, ``qa_outputs`` on the decoder), their
mT5 / UMT5 twins, and ``BartForQuestionAnswering`` / ``MBartForQuestionAnswering``.

Each case is a tiny random config from tests/tiny_configs.py, saved by PyTorch and loaded
through ``TFAutoModelForTokenClassification`` / ``TFAutoModelForQuestionAnswering``. On a
batch whose second row is right-padded (test_seq2seq_classification's), logits and the loss (labels with -100; start / end
positions, one outside the sequence) agree within 1e-4 in float32, eagerly and under XLA;
tfhf's files load in PyTorch with no missing or unexpected weight and the same logits.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import _keras  # noqa: E402
from tfhf.errors import ConfigError, InvalidInputError  # noqa: E402

from parity.test_encoder_families import case_cache  # noqa: E402
from parity.test_seq2seq_classification import as_np, batch, saved_and_loaded_in_pytorch  # noqa: E402
from tiny_configs import SEQ2SEQ_CASES, seq2seq_config  # noqa: E402

ATOL = 1e-4
NUM_LABELS = 5
CASES = [("t5", "TokenClassification"), ("mt5", "TokenClassification"),
         ("umt5", "TokenClassification"), ("t5", "QuestionAnswering"),
         ("mt5", "QuestionAnswering"), ("umt5", "QuestionAnswering"),
         ("bart", "QuestionAnswering"), ("mbart", "QuestionAnswering")]
AUTO = {"TokenClassification": "TFAutoModelForTokenClassification",
        "QuestionAnswering": "TFAutoModelForQuestionAnswering"}


def labels_for(head, mask):
    if head == "TokenClassification":
        labels = np.random.RandomState(1).randint(0, NUM_LABELS, size=mask.shape)
        return {"labels": np.where(mask == 1, labels, -100).astype(np.int32)}
    # the second row's start lies past the sequence: transformers ignores it
    return {"start_positions": np.array([3, 40], np.int32),
            "end_positions": np.array([5, 4], np.int32)}


def outputs_of(out, head):
    names = ("logits",) if head == "TokenClassification" else ("start_logits", "end_logits")
    return [as_np(getattr(out, n)) for n in names]


def pt_forward(model, ids, mask, **kwargs):
    kwargs = {k: torch.tensor(v).long() for k, v in kwargs.items()}
    with torch.no_grad():
        return model(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long(),
                     **kwargs)


class Case:
    def __init__(self, family, head, folder):
        torch.manual_seed(CASES.index((family, head)))
        self.head = head
        self.config = seq2seq_config(family)
        if head == "TokenClassification":
            self.config.num_labels = NUM_LABELS
        self.pt_cls = getattr(transformers, f"{SEQ2SEQ_CASES[family][0]}For{head}")
        self.pt = self.pt_cls(self.config).eval()
        self.pt.save_pretrained(folder)
        self.folder = str(folder)
        with _keras.policy_scope("float32"):
            self.tf = getattr(tfhf, AUTO[head]).from_pretrained(self.folder)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return case_cache(tmp_path_factory, Case)


@pytest.mark.parametrize("family,head", CASES)
def test_logits_and_loss_match_pytorch_eager_and_xla(cases, family, head):
    c = cases(family, head)
    assert type(c.tf).__name__ == "TF" + c.pt_cls.__name__
    ids, mask = batch(c.config)
    labels = labels_for(head, mask)
    ref = pt_forward(c.pt, ids, mask, **labels)
    out = c.tf(ids, attention_mask=mask, **labels)
    for got, want in zip(outputs_of(out, head), outputs_of(ref, head)):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
    np.testing.assert_allclose(float(out.loss), float(ref.loss), atol=ATOL, rtol=0)
    fn = tf.function(lambda i, m: c.tf(i, attention_mask=m), jit_compile=True)
    for got, want in zip(outputs_of(fn(tf.constant(ids), tf.constant(mask)), head),
                         outputs_of(ref, head)):
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("family,head", CASES)
def test_tfhf_save_pytorch_load(cases, family, head, tmp_path):
    c = cases(family, head)
    pt = saved_and_loaded_in_pytorch(c.tf, c.pt_cls, tmp_path)
    ids, mask = batch(c.config)
    for got, want in zip(outputs_of(pt_forward(pt, ids, mask), head),
                         outputs_of(pt_forward(c.pt, ids, mask), head)):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_decoder_inputs_given_and_missing(cases):
    """Explicit decoder inputs are used as given; with neither input_ids nor decoder inputs
    the error is transformers' message."""
    c = cases("t5", "QuestionAnswering")
    ids, mask = batch(c.config)
    dec = ids[:, :4]
    ref = pt_forward(c.pt, ids, mask, decoder_input_ids=dec)
    out = c.tf(ids, attention_mask=mask, decoder_input_ids=dec)
    assert out.start_logits.shape == (2, 4)
    np.testing.assert_allclose(as_np(out.start_logits), as_np(ref.start_logits), atol=ATOL)
    enc = c.tf(ids, attention_mask=mask).encoder_last_hidden_state
    with pytest.raises(ValueError, match="input_ids` cannot be `None`"):
        c.pt(encoder_outputs=(torch.tensor(np.asarray(enc)),))
    with pytest.raises(InvalidInputError, match="input_ids` cannot be `None`"):
        c.tf({"encoder_outputs": enc, "attention_mask": mask})  # (tf_keras: one positional)


def test_lm_checkpoint_starts_token_classifier_and_qa(tmp_path):
    """A T5ForConditionalGeneration checkpoint (no ``transformer.`` prefix) loads its encoder
    into the token classifier and its encoder-decoder into the QA model, as PyTorch does."""
    torch.manual_seed(3)
    transformers.T5ForConditionalGeneration(seq2seq_config("t5")).save_pretrained(tmp_path)
    ids, mask = batch(seq2seq_config("t5"))
    for head in ("TokenClassification", "QuestionAnswering"):
        model = getattr(tfhf, AUTO[head]).from_pretrained(str(tmp_path))
        pt = getattr(transformers, f"T5For{head}").from_pretrained(tmp_path).eval()
        head_layer = model.classifier if head == "TokenClassification" else model.qa_outputs
        name = "classifier" if head == "TokenClassification" else "qa_outputs"
        head_layer.out.kernel.assign(as_np(getattr(pt, name).weight).T)  # both heads are new
        head_layer.out.bias.assign(as_np(getattr(pt, name).bias))
        for got, want in zip(outputs_of(model(ids, attention_mask=mask), head),
                             outputs_of(pt_forward(pt, ids, mask), head)):
            np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


def test_t5_qa_needs_two_labels_bart_sets_them(tmp_path):
    config = seq2seq_config("t5")
    config.num_labels = 3
    with pytest.raises(ConfigError, match="num_labels must be 2"):
        tfhf.TFT5ForQuestionAnswering(config)
    config = seq2seq_config("bart")
    config.num_labels = 3
    assert tfhf.TFBartForQuestionAnswering(config).config.num_labels == 2


def test_fit_trains_qa_with_the_models_loss(cases):
    c = cases("bart", "QuestionAnswering")
    model = tfhf.TFAutoModelForQuestionAnswering.from_pretrained(c.folder)
    ids, mask = batch(c.config)
    ds = tf.data.Dataset.from_tensor_slices(
        ({"input_ids": ids, "attention_mask": mask}, labels_for("QA", mask))).batch(2)
    model.compile(optimizer=_keras.keras.optimizers.Adam(1e-2))
    before = model.evaluate(ds, verbose=0)
    model.fit(ds, epochs=3, verbose=0)
    assert model.evaluate(ds, verbose=0) < before
