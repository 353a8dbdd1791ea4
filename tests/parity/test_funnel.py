"""Parity of the Funnel Transformer family with PyTorch transformers.

Every head is built from a tiny random config (three blocks, so the sequence is pooled twice
and the decoder upsamples by 4) with PyTorch transformers, saved and loaded into tfhf (family
class and TFAutoModel class): outputs, hidden states, attentions and the loss with labels
agree within 1e-4 in float32 on a padded batch with token types (``<cls>`` = 2); the
factorized attention and the other pooling options too; XLA and a graph with unknown lengths
give the same outputs; tfhf's files load in PyTorch with no missing or unexpected weight,
and a transformers 4.x ``tf_model.h5`` loads. FunnelTokenizer loads through ``AutoTokenizer``
and returns tf.Tensors, and the text-classification tutorial's recipe runs on a tiny
checkpoint.
"""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import _keras  # noqa: E402

from parity.test_encoders import (as_np, assert_close, assert_outputs_match,  # noqa: E402
                                  pt_forward, to_tf)
from parity.test_encoder_families import make_labels, run_recipe  # noqa: E402
from training._train_helpers import FILL, NEG, POS  # noqa: E402

VOCAB, LENGTHS, NUM_LABELS = 99, (9, 6, 5), 3  # as test_encoder_families' (make_labels)
CONFIG = dict(vocab_size=VOCAB, block_sizes=[1, 2, 1], num_decoder_layers=1, d_model=32,
              n_head=4, d_head=8, d_inner=37, initializer_range=0.2, initializer_std=0.2)
HEADS = ("Model", "BaseModel", "ForSequenceClassification", "ForTokenClassification",
         "ForQuestionAnswering", "ForMultipleChoice", "ForMaskedLM", "ForPreTraining")
AUTO = {"Model": "TFAutoModel", "ForMultipleChoice": "TFAutoModelForMultipleChoice",
        "ForPreTraining": "TFAutoModelForPreTraining"}


def hf_config(head="", **overrides):
    return transformers.FunnelConfig(**{
        **CONFIG, "num_labels": 2 if head == "ForQuestionAnswering" else NUM_LABELS,
        **overrides})


def make_inputs(head, seed=0):
    """A padded batch: random ids, <cls> (token type 2) first, segment B from position 4."""
    if head == "ForMultipleChoice":
        rows = [make_inputs("", seed + i) for i in range(2)]
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    rs = np.random.RandomState(seed)
    t = max(LENGTHS)
    mask = (np.arange(t)[None, :] < np.array(LENGTHS)[:, None]).astype(np.int32)
    ids = np.where(mask == 1, rs.randint(5, VOCAB, size=mask.shape), 0).astype(np.int32)
    types = ((np.arange(t)[None, :] >= 4) * mask).astype(np.int32)
    types[:, 0] = 2
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


class Case:
    """One head (and config): the PyTorch model, its folder and the tfhf model loaded from it."""

    def __init__(self, head, folder, **overrides):
        self.head, self.folder = head, str(folder)
        torch.manual_seed(HEADS.index(head))
        self.pt = getattr(transformers, "Funnel" + head)(hf_config(head, **overrides)).eval()
        self.pt.save_pretrained(self.folder)
        self.inputs = make_inputs(head)
        self.pt_out = pt_forward(self.pt, self.inputs, output_hidden_states=True,
                                 output_attentions=True)
        with _keras.policy_scope("float32"):
            self.tf = getattr(tfhf, "TFFunnel" + head).from_pretrained(self.folder)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    cache = {}

    def get(head, **overrides):
        key = (head, repr(sorted(overrides.items())))
        if key not in cache:
            cache[key] = Case(head, tmp_path_factory.mktemp("funnel" + head), **overrides)
        return cache[key]

    return get


@pytest.mark.parametrize("head", HEADS)
def test_forward_and_loss_parity(cases, head):
    c = cases(head)
    out = c.tf(to_tf(c.inputs), output_hidden_states=True, output_attentions=True)
    assert_outputs_match(out, c.pt_out)
    # TFAutoModel: FunnelBaseModel for a FunnelBaseModel checkpoint, as transformers' AutoModel
    auto_name = "TFAutoModel" if head == "BaseModel" else AUTO.get(head, f"TFAutoModel{head}")
    auto = getattr(tfhf, auto_name).from_pretrained(c.folder)
    assert type(auto) is getattr(tfhf, "TFFunnel" + head)
    assert type(auto).__name__[2:] == type(
        getattr(transformers, auto_name[2:]).from_pretrained(c.folder)).__name__
    labels = make_labels(head, c.inputs)
    if labels:
        pt = pt_forward(c.pt, {**c.inputs, **labels})
        got = c.tf(to_tf(c.inputs), **to_tf(labels))
        assert got.loss.dtype == tf.float32 and got.loss.shape.rank == 0
        assert_close(got.loss, pt.loss, what="loss")


@pytest.mark.parametrize("options", [
    dict(attention_type="factorized"),
    dict(attention_type="factorized", pool_q_only=False, separate_cls=False),
    dict(truncate_seq=False, pooling_type="max", block_repeats=[1, 2, 1],
         tie_word_embeddings=False),
])
def test_attention_and_pooling_options(cases, options):
    c = cases("ForMaskedLM", **options)
    assert_outputs_match(c.tf(to_tf(c.inputs), output_hidden_states=True,
                              output_attentions=True), c.pt_out)


def test_xla_and_unknown_lengths(cases):
    """jit_compile, and a graph traced for (None, None) inputs (as ``fit`` traces), whose
    pooling decisions are taken at run time."""
    c = cases("ForMaskedLM")
    xla = tf.function(lambda x: c.tf(x, output_hidden_states=True, output_attentions=True),
                      jit_compile=True)
    assert_outputs_match(xla(to_tf(c.inputs)), c.pt_out)
    spec = tf.TensorSpec([None, None], tf.int32)
    graph = tf.function(lambda i, m, t: c.tf(input_ids=i, attention_mask=m, token_type_ids=t,
                                             output_hidden_states=True).logits,
                        input_signature=[spec] * 3)
    for length in (9, 6):
        inputs = {k: v[:, :length] for k, v in c.inputs.items()}
        want = pt_forward(c.pt, inputs).logits
        assert_close(graph(*to_tf(inputs).values()), want, what=f"logits, length {length}")


@pytest.mark.parametrize("head", HEADS)
def test_tfhf_save_pytorch_load(cases, head, tmp_path):
    c = cases(head)
    c.tf.save_pretrained(tmp_path)
    pt_cls = getattr(transformers, "Funnel" + head)
    pt_model, info = pt_cls.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert pt_model.config.architectures == [pt_cls.__name__]
    reloaded = pt_forward(pt_model.eval(), c.inputs, output_hidden_states=True,
                          output_attentions=True)
    assert_outputs_match(reloaded, c.pt_out, atol=1e-6)
    again = getattr(tfhf, "TFFunnel" + head).from_pretrained(tmp_path)
    for k, v in c.tf(to_tf(c.inputs)).items():
        np.testing.assert_array_equal(as_np(again(to_tf(c.inputs))[k]), as_np(v))


def test_legacy_tf_model_h5(cases, tmp_path):
    """A ``tf_model.h5`` as transformers 4.x's TF class saved it loads into the same logits."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "hub"))
    from test_hub_formats import write_tf_model_h5

    c = cases("ForSequenceClassification")
    write_tf_model_h5(tmp_path / "tf_model.h5", c.pt, "tf_funnel_for_sequence_classification",
                      ["funnel", "classifier"])
    shutil.copy(os.path.join(c.folder, "config.json"), tmp_path)
    model = tfhf.TFFunnelForSequenceClassification.from_pretrained(tmp_path)
    assert_close(model(to_tf(c.inputs)).logits, c.pt_out.logits, what="logits")


# ---------------------------------------------------------------------------- tokenizer, recipe
WORDS = sorted(set(" ".join(POS + NEG + FILL).split()))
SPECIALS = ["<pad>", "<unk>", "<cls>", "<sep>", "<mask>", "<s>", "</s>"]


def tokenizer():
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = SPECIALS + WORDS + list(letters) + [f"##{ch}" for ch in letters]
    return transformers.FunnelTokenizer(vocab={t: i for i, t in enumerate(vocab)})


def test_auto_tokenizer_returns_tf_tensors(tmp_path):
    tokenizer().save_pretrained(tmp_path)
    ours = tfhf.AutoTokenizer.from_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    texts = ["the film was great", "so boring"]
    kwargs = dict(padding=True, return_token_type_ids=True)  # not returned by default
    got = ours(texts, ["a film", "good"], return_tensors="tf", **kwargs)
    want = theirs(texts, ["a film", "good"], return_tensors="np", **kwargs)
    assert set(got) == set(want)
    for k in want:
        assert isinstance(got[k], tf.Tensor), k
        np.testing.assert_array_equal(got[k].numpy(), want[k])
    assert list(want["token_type_ids"][1][:5]) == [2, 0, 0, 0, 1]  # <cls> so boring <sep> good
    assert theirs.unk_token_id not in want["input_ids"]


def test_text_classification_recipe(tmp_path):
    """The tutorial's steps on a tiny checkpoint: tokenize a dataset, ``prepare_tf_dataset``
    with a padding collator, ``compile`` without a loss, ``fit``, then ``pipeline``
    (:func:`parity.test_encoder_families.run_recipe`)."""
    folder = str(tmp_path / "ckpt")
    tok = tokenizer()
    assert len(tok) <= VOCAB
    config = hf_config(num_labels=2, hidden_dropout=0.0, attention_dropout=0.0,
                       initializer_std=0.02, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                       label2id={"NEGATIVE": 0, "POSITIVE": 1})
    torch.manual_seed(0)
    transformers.FunnelForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    run_recipe(folder, tfhf.TFFunnelForSequenceClassification, tmp_path)
