"""Parity of the Longformer family (sliding-window + global attention) with PyTorch transformers.

Tiny random configs with small per-layer windows (8 and 4) and a padded batch longer than
the windows (13 tokens: transformers and tfhf pad to 16): every head's outputs, hidden states,
window attentions, global attentions and loss agree within 1e-4 in float32, with global tokens
given by ``global_attention_mask`` (base, token classification, masked LM) and chosen
automatically as transformers does (the first token for sequence classification, the question
for QA, the text after the question for multiple choice); the same under XLA; files go both
ways; a transformers 4.x ``tf_model.h5`` loads; the byte-level BPE tokenizer returns
tf.Tensors through ``AutoTokenizer``; the tutorial's recipe runs on a tiny checkpoint.
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
from tfhf.errors import ConfigError, InvalidInputError  # noqa: E402

from parity.test_encoders import (as_np, assert_close, assert_outputs_match,  # noqa: E402
                                  pt_forward, to_tf)
from parity.test_encoder_families import make_labels, run_recipe  # noqa: E402
from training._train_helpers import FILL, NEG, POS  # noqa: E402

VOCAB, LENGTHS, NUM_LABELS, SEP, PAD = 99, (13, 9, 6), 3, 2, 1
CONFIG = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=37, max_position_embeddings=66, type_vocab_size=1,
              pad_token_id=PAD, bos_token_id=0, eos_token_id=SEP, sep_token_id=SEP,
              attention_window=[8, 4], layer_norm_eps=1e-5, initializer_range=0.2,
              attn_implementation="eager")
HEADS = ("Model", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering",
         "ForMultipleChoice", "ForMaskedLM")
# heads whose test passes global_attention_mask; the others get transformers' default
EXPLICIT_GLOBAL = ("Model", "ForTokenClassification", "ForMaskedLM")
AUTO = {"Model": "TFAutoModel", "ForMultipleChoice": "TFAutoModelForMultipleChoice"}


def hf_config(head="", **overrides):
    return transformers.LongformerConfig(**{
        **CONFIG, "num_labels": 2 if head == "ForQuestionAnswering" else NUM_LABELS,
        **overrides})


def make_inputs(head, explicit_global=True):
    """``<s> q q </s></s> text... </s>`` rows of 13, 9 and 6 tokens padded to 13; global
    tokens at 0 and 5 in the first row, 2 in the second, none in the third."""
    rs = np.random.RandomState(0)
    t = max(LENGTHS)
    ids = rs.randint(5, VOCAB, size=(len(LENGTHS), t)).astype(np.int32)
    mask = (np.arange(t)[None, :] < np.array(LENGTHS)[:, None]).astype(np.int32)
    for row, length in enumerate(LENGTHS):
        ids[row, [0, 3, 4, length - 1]] = [0, SEP, SEP, SEP]
    ids[mask == 0] = PAD
    inputs = {"input_ids": ids, "attention_mask": mask}
    if explicit_global:
        g = np.zeros_like(ids)
        g[0, [0, 5]] = 1
        g[1, 2] = 1
        inputs["global_attention_mask"] = g
    if head == "ForMultipleChoice":  # (2, 3 choices, 13)
        return {k: np.stack([v, v[::-1]]) for k, v in inputs.items()}
    return inputs


class Case:
    """One head: the PyTorch model, its saved folder and the tfhf model loaded from it."""

    def __init__(self, head, folder):
        self.head, self.folder = head, str(folder)
        torch.manual_seed(HEADS.index(head))
        self.pt = getattr(transformers, "Longformer" + head)(hf_config(head)).eval()
        self.pt.save_pretrained(self.folder)
        self.inputs = make_inputs(head, head in EXPLICIT_GLOBAL)
        self.pt_out = pt_forward(self.pt, self.inputs, output_hidden_states=True,
                                 output_attentions=True)
        with _keras.policy_scope("float32"):
            self.tf = getattr(tfhf, "TFLongformer" + head).from_pretrained(self.folder)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    cache = {}

    def get(head):
        if head not in cache:
            cache[head] = Case(head, tmp_path_factory.mktemp(head))
        return cache[head]

    return get


# ---------------------------------------------------------------------------- parity
@pytest.mark.parametrize("head", HEADS)
def test_forward_and_loss_parity(cases, head):
    c = cases(head)
    out = c.tf(to_tf(c.inputs), output_hidden_states=True, output_attentions=True)
    assert_outputs_match(out, c.pt_out)
    assert type(out).__name__ == "TFLongformer" + type(c.pt_out).__name__[len("Longformer"):]
    auto = getattr(tfhf, AUTO.get(head, f"TFAutoModel{head}")).from_pretrained(c.folder)
    assert type(auto) is getattr(tfhf, "TFLongformer" + head)
    labels = make_labels(head, c.inputs)
    if labels:
        pt = pt_forward(c.pt, {**c.inputs, **labels})
        got = c.tf(to_tf(c.inputs), **to_tf(labels))
        assert got.loss.dtype == tf.float32 and got.loss.shape.rank == 0
        assert_close(got.loss, pt.loss, what="loss")


def test_no_global_tokens(cases):
    """Without global tokens there are no global attentions, as in transformers."""
    c = cases("Model")
    inputs = {k: v for k, v in c.inputs.items() if k != "global_attention_mask"}
    pt = pt_forward(c.pt, inputs, output_attentions=True)
    out = c.tf(to_tf(inputs), output_attentions=True)
    assert out.global_attentions is None and pt.global_attentions is None
    assert_outputs_match(out, pt)


def test_inputs_embeds_and_mixed_bfloat16(cases):
    """``inputs_embeds`` are padded to the window as transformers pads them; under
    mixed_bfloat16 the masks stay float32 and the logits come out float32."""
    c = cases("Model")
    embeds = np.random.RandomState(3).randn(2, 11, 32).astype(np.float32)
    g = np.zeros((2, 11), np.int32)
    g[0, 3] = 1
    pt = pt_forward(c.pt, {"inputs_embeds": embeds, "global_attention_mask": g})
    out = c.tf({"inputs_embeds": tf.constant(embeds), "global_attention_mask": tf.constant(g)})
    assert_close(out.last_hidden_state, pt.last_hidden_state, what="last_hidden_state")
    folder = cases("ForSequenceClassification").folder
    with _keras.policy_scope("mixed_bfloat16"):
        model = tfhf.TFLongformerForSequenceClassification.from_pretrained(folder)
        logits = model(tf.constant(c.inputs["input_ids"])).logits
    assert logits.dtype == tf.float32 and np.all(np.isfinite(logits.numpy()))


def test_forward_parity_xla(cases):
    """Under XLA the number of global slots is a dynamic size: the same numbers come out."""
    for head in ("Model", "ForQuestionAnswering"):
        c = cases(head)
        fn = tf.function(lambda x, m=c.tf: m(x, output_hidden_states=True,
                                             output_attentions=True), jit_compile=True)
        assert_outputs_match(fn(to_tf(c.inputs)), c.pt_out)


@pytest.mark.parametrize("head", HEADS)
def test_tfhf_save_pytorch_load(cases, head, tmp_path):
    c = cases(head)
    c.tf.save_pretrained(tmp_path)
    pt_cls = getattr(transformers, "Longformer" + head)
    pt_model, info = pt_cls.from_pretrained(tmp_path, output_loading_info=True,
                                            attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert pt_model.config.architectures == [pt_cls.__name__]
    reloaded = pt_forward(pt_model.eval(), c.inputs, output_hidden_states=True,
                          output_attentions=True)
    assert_outputs_match(reloaded, c.pt_out, atol=1e-6)


def test_legacy_tf_model_h5(cases, tmp_path):
    """A ``tf_model.h5`` as transformers 4.x's TFLongformerForSequenceClassification saved it
    loads into the same logits."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "hub"))
    from test_hub_formats import write_tf_model_h5

    c = cases("ForSequenceClassification")
    write_tf_model_h5(tmp_path / "tf_model.h5", c.pt, "tf_longformer_for_sequence_classification",
                      ["longformer", "classifier"])
    shutil.copy(os.path.join(c.folder, "config.json"), tmp_path)
    model = tfhf.TFLongformerForSequenceClassification.from_pretrained(tmp_path)
    assert_close(model(to_tf(c.inputs)).logits, c.pt_out.logits, what="logits")


def test_question_answering_needs_three_separators(cases):
    c = cases("ForQuestionAnswering")
    ids = c.inputs["input_ids"].copy()
    ids[0, 3] = 7  # two separators left in the first row
    with pytest.raises(InvalidInputError, match="global_attention_mask"):
        c.tf(tf.constant(ids), attention_mask=tf.constant(c.inputs["attention_mask"]))


def test_bad_attention_window():
    with pytest.raises(ConfigError, match="attention_window"):
        tfhf.TFLongformerModel(hf_config(attention_window=[8, 6]))
    with pytest.raises(ConfigError, match="even"):
        tfhf.TFLongformerModel(hf_config(attention_window=5))


# ---------------------------------------------------------------------------- recipe
def tiny_tokenizer():
    """A byte-level BPE (RoBERTa's, which Longformer uses) over single letters."""
    words = sorted(set(" ".join(POS + NEG + FILL)))
    letters = [ch for ch in words if ch != " "]
    vocab = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "\u0120"] + letters
    return transformers.RobertaTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=[])


def test_auto_tokenizer_and_text_classification_recipe(tmp_path):
    """``AutoTokenizer`` gives tf.Tensors; then the tutorial's steps on a tiny checkpoint
    (:func:`parity.test_encoder_families.run_recipe`)."""
    tok = tiny_tokenizer()
    folder = tmp_path / "ckpt"
    config = hf_config("ForSequenceClassification", num_labels=2, max_position_embeddings=130,
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                       initializer_range=0.02, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                       label2id={"NEGATIVE": 0, "POSITIVE": 1})
    torch.manual_seed(0)
    transformers.LongformerForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    tokenizer = tfhf.AutoTokenizer.from_pretrained(str(folder))
    texts = ["the film was great", "so boring"]
    got, want = tokenizer(texts, padding=True, return_tensors="tf"), tok(texts, padding=True)
    for k in want:
        assert isinstance(got[k], tf.Tensor), k
        np.testing.assert_array_equal(got[k].numpy(), np.array(want[k]))
    assert tok.unk_token_id not in np.array(want["input_ids"])
    run_recipe(str(folder), tfhf.TFLongformerForSequenceClassification, tmp_path)
