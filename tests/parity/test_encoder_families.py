"""Parity of the encoder families added on the shared encoder (XLM-RoBERTa, CamemBERT, ELECTRA,
ALBERT, MPNet, DeBERTa, DeBERTa-v2) and of the multiple-choice head (also BERT's, RoBERTa's and
DistilBERT's), with PyTorch transformers.

Every family x head is built from a tiny random config with PyTorch transformers, saved and
loaded into tfhf (family class and TFAutoModel class): outputs, hidden states, attentions and
the loss with labels agree within 1e-4 in float32 on a padded batch; one head per family runs
under XLA; tfhf's files load in PyTorch with no missing or unexpected weight. Their
SentencePiece / WordPiece tokenizers load through ``AutoTokenizer`` and return tf.Tensors, and
the text-classification tutorial's recipe (``prepare_tf_dataset``, ``compile`` without a loss,
``fit``, ``pipeline``) runs on a tiny checkpoint of each family. DeBERTa's other config options
are checked in test_deberta.py.
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
from tfhf.errors import InvalidInputError, UnsupportedModelError  # noqa: E402

from parity.test_encoders import (as_np, assert_close, assert_outputs_match,  # noqa: E402
                                  pt_forward, to_tf)
from training._train_helpers import FILL, NEG, POS, toy_rows  # noqa: E402

VOCAB, HIDDEN, LAYERS, HEADS, FFN, MAX_POS = 99, 32, 2, 4, 37, 64
LENGTHS, CHOICES, NUM_LABELS = (9, 6, 4), 3, 3
_ROBERTA = dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                num_attention_heads=HEADS, intermediate_size=FFN, max_position_embeddings=MAX_POS,
                type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                layer_norm_eps=1e-5)
_BERT = dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
             num_attention_heads=HEADS, intermediate_size=FFN, max_position_embeddings=MAX_POS,
             type_vocab_size=2, pad_token_id=0)
COMMON = ("Model", "ForSequenceClassification", "ForTokenClassification",
          "ForQuestionAnswering", "ForMultipleChoice", "ForMaskedLM")
_DEBERTA = dict(_BERT, relative_attention=True, pos_att_type="c2p|p2c",
                max_relative_positions=6)  # v1: fused in_proj; a span shorter than the input
# deberta-v3-base's options: log buckets, shared keys, normalized table, no absolute
# positions, no token types
_DEBERTA_V2 = dict(_DEBERTA, type_vocab_size=0, max_relative_positions=-1, position_buckets=8,
                   norm_rel_ebd="layer_norm", share_att_key=True, position_biased_input=False,
                   layer_norm_eps=1e-7)
FAMILIES = {
    # name: (class prefix, config class, config kwargs, heads (class suffixes), token types)
    "xlm-roberta": ("XLMRoberta", "XLMRobertaConfig", _ROBERTA, COMMON, False),
    "camembert": ("Camembert", "CamembertConfig", _ROBERTA, COMMON, False),
    "electra": ("Electra", "ElectraConfig", dict(_BERT, embedding_size=16),
                COMMON + ("ForPreTraining",), True),
    # 3 layers through 2 groups of 2 shared blocks (gelu_new, ALBERT's default activation)
    "albert": ("Albert", "AlbertConfig", dict(_BERT, embedding_size=16, num_hidden_layers=3,
                                              num_hidden_groups=2, inner_group_num=2), COMMON,
               True),
    "mpnet": ("MPNet", "MPNetConfig",
              {k: v for k, v in _ROBERTA.items() if k != "type_vocab_size"}, COMMON, False),
    "deberta": ("Deberta", "DebertaConfig", _DEBERTA,
                tuple(h for h in COMMON if h != "ForMultipleChoice"), True),
    "deberta-v2": ("DebertaV2", "DebertaV2Config", _DEBERTA_V2, COMMON, False),
}
# the multiple-choice head of the families tfhf had before
_DISTILBERT = dict(vocab_size=VOCAB, dim=HIDDEN, n_layers=LAYERS, n_heads=HEADS, hidden_dim=FFN,
                   max_position_embeddings=MAX_POS, pad_token_id=0)
MC_ONLY = {"bert": ("Bert", "BertConfig", _BERT, ("ForMultipleChoice",), True),
           "roberta": ("Roberta", "RobertaConfig", _ROBERTA, ("ForMultipleChoice",), False),
           "distilbert": ("DistilBert", "DistilBertConfig", _DISTILBERT, ("ForMultipleChoice",),
                          False)}
ALL = {**FAMILIES, **MC_ONLY}
AUTO = {"Model": "TFAutoModel", "ForMultipleChoice": "TFAutoModelForMultipleChoice",
        "ForPreTraining": "TFAutoModelForPreTraining"}
CASES = [(f, h) for f, spec in ALL.items() for h in spec[3]]


def hf_config(family, head="", **overrides):
    _, cfg, kwargs, _, _ = ALL[family]
    kwargs = {**kwargs, "num_labels": 2 if head == "ForQuestionAnswering" else NUM_LABELS,
              "attn_implementation": "eager", "initializer_range": 0.2, **overrides}
    return getattr(transformers, cfg)(**kwargs)


def tf_class(family, head):
    return getattr(tfhf, f"TF{ALL[family][0]}{head}")


def make_inputs(family, head, seed=0):
    """A padded batch (random ids, zeros in attention_mask, pad_token_id in the padding);
    for multiple choice two such batches stacked as (2, choices, length)."""
    if head == "ForMultipleChoice":
        rows = [make_inputs(family, "", seed + i) for i in range(2)]
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    rs = np.random.RandomState(seed)
    t = max(LENGTHS)
    ids = rs.randint(5, VOCAB, size=(len(LENGTHS), t)).astype(np.int32)
    mask = (np.arange(t)[None, :] < np.array(LENGTHS)[:, None]).astype(np.int32)
    ids[mask == 0] = ALL[family][2]["pad_token_id"]
    inputs = {"input_ids": ids, "attention_mask": mask}
    if ALL[family][4]:
        inputs["token_type_ids"] = (np.arange(t)[None, :] >= 3).astype(np.int32) * mask
    return inputs


def make_labels(head, inputs):
    rs = np.random.RandomState(7)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    if head in ("ForSequenceClassification", "ForMultipleChoice"):
        return {"labels": rs.randint(0, NUM_LABELS, size=ids.shape[:1]).astype(np.int32)}
    if head == "ForQuestionAnswering":
        return {"start_positions": np.array([1, 0, 50], np.int32),  # out of range: ignored
                "end_positions": np.array([3, 2, 1], np.int32)}
    if head == "ForPreTraining":  # replaced-token labels; padding is left out of the loss
        return {"labels": rs.randint(0, 2, size=ids.shape).astype(np.int32)}
    if head in ("ForTokenClassification", "ForMaskedLM"):
        n = VOCAB if head == "ForMaskedLM" else NUM_LABELS
        labels = np.where((rs.rand(*ids.shape) < 0.5) & (mask == 1),
                          rs.randint(0, n, size=ids.shape), -100)
        labels[0, 1] = 2
        return {"labels": labels.astype(np.int32)}
    return {}


class Case:
    """One family x head: the PyTorch model, its saved folder and the tfhf model loaded from it.

    ``pt_model`` and ``inputs`` (other test modules pass theirs) default to this module's."""

    def __init__(self, family, head, folder, pt_model=None, inputs=None, tf_cls=None):
        self.family, self.head, self.folder = family, head, str(folder)
        if pt_model is None:
            torch.manual_seed(CASES.index((family, head)))
            pt_model = getattr(transformers, ALL[family][0] + head)(hf_config(family, head))
        self.pt = pt_model.eval()
        self.pt_class = type(self.pt)
        self.pt.save_pretrained(self.folder)
        self.inputs = make_inputs(family, head) if inputs is None else inputs
        self.pt_out = pt_forward(self.pt, self.inputs, output_hidden_states=True,
                                 output_attentions=True)
        self.tf_class = tf_cls or tf_class(family, head)
        with _keras.policy_scope("float32"):
            self.tf = self.tf_class.from_pretrained(self.folder)


def case_cache(tmp_path_factory, make=Case):
    """``get(family, head)``: the :class:`Case` made once per module (``make(family, head,
    folder)``)."""
    cache = {}

    def get(family, head):
        if (family, head) not in cache:
            cache[family, head] = make(family, head, tmp_path_factory.mktemp(family + head))
        return cache[family, head]

    return get


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return case_cache(tmp_path_factory)


# ---------------------------------------------------------------------------- parity
@pytest.mark.parametrize("family,head", CASES)
def test_forward_and_loss_parity(cases, family, head):
    check_forward_and_loss(cases(family, head))


def check_forward_and_loss(c):
    """Outputs (hidden states, attentions), the TFAutoModel class and the loss match."""
    head = c.head
    out = c.tf(to_tf(c.inputs), output_hidden_states=True, output_attentions=True)
    assert_outputs_match(out, c.pt_out)
    auto = getattr(tfhf, AUTO.get(head, f"TFAutoModel{head}")).from_pretrained(c.folder)
    assert type(auto) is c.tf_class
    labels = make_labels(head, c.inputs)
    if labels:
        pt = pt_forward(c.pt, {**c.inputs, **labels})
        got = c.tf(to_tf(c.inputs), **to_tf(labels))
        assert got.loss.dtype == tf.float32 and got.loss.shape.rank == 0
        assert_close(got.loss, pt.loss, what="loss")


@pytest.mark.parametrize("family,head", [(f, "ForSequenceClassification") for f in FAMILIES]
                         + [("distilbert", "ForMultipleChoice")])
def test_forward_parity_xla(cases, family, head):
    c = cases(family, head)
    fn = tf.function(lambda x: c.tf(x, output_hidden_states=True, output_attentions=True),
                     jit_compile=True)
    assert_outputs_match(fn(to_tf(c.inputs)), c.pt_out)


@pytest.mark.parametrize("family,head", CASES)
def test_tfhf_save_pytorch_load(cases, family, head, tmp_path):
    check_save_round_trip(cases(family, head), tmp_path)


def check_save_round_trip(c, tmp_path):
    """tfhf's files load in PyTorch (no missing/unexpected weight, same outputs) and in tfhf."""
    c.tf.save_pretrained(tmp_path)
    pt_cls = c.pt_class
    pt_model, info = pt_cls.from_pretrained(tmp_path, output_loading_info=True,
                                            attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert pt_model.config.architectures == [pt_cls.__name__]
    reloaded = pt_forward(pt_model.eval(), c.inputs, output_hidden_states=True,
                          output_attentions=True)
    assert_outputs_match(reloaded, c.pt_out, atol=1e-6)
    again = c.tf_class.from_pretrained(tmp_path)
    for k, v in c.tf(to_tf(c.inputs)).items():
        np.testing.assert_array_equal(as_np(again(to_tf(c.inputs))[k]), as_np(v))


@pytest.mark.parametrize("family", ["xlm-roberta", "camembert", "electra"])
def test_legacy_tf_model_h5(cases, family, tmp_path):
    """A ``tf_model.h5`` as transformers 4.x's TF class saved it (Keras 2 HDF5 weights named
    by its name scopes) loads into the same outputs."""
    check_legacy_h5(cases(family, "ForSequenceClassification"),
                    f"tf_{family.replace('-', '_')}_for_sequence_classification", tmp_path)


def check_legacy_h5(c, model_name, tmp_path):
    """A sequence classifier's ``tf_model.h5`` (Keras model ``model_name``) loads."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "hub"))
    from test_hub_formats import write_tf_model_h5

    write_tf_model_h5(tmp_path / "tf_model.h5", c.pt, model_name,
                      [c.pt.base_model_prefix, "classifier"])
    shutil.copy(os.path.join(c.folder, "config.json"), tmp_path)
    model = c.tf_class.from_pretrained(tmp_path)
    assert_close(model(to_tf(c.inputs)).logits, c.pt_out.logits, what="logits")


def test_multiple_choice_needs_choices_axis(cases):
    c = cases("xlm-roberta", "ForMultipleChoice")
    with pytest.raises(InvalidInputError, match="num_choices"):
        c.tf(tf.constant(c.inputs["input_ids"][0]))


def test_unsupported_model_type_lists_the_new_families():
    with pytest.raises(UnsupportedModelError) as err:
        tfhf.TFAutoModel.from_config(transformers.XLNetConfig())
    for family in FAMILIES:
        assert family in str(err.value)


# ---------------------------------------------------------------------------- tokenizers
WORDS = sorted(set(" ".join(POS + NEG + FILL).split()))
LETTERS = "abcdefghijklmnopqrstuvwxyz"
PIECES = [(f"\u2581{w}", -1.0 - i / 100) for i, w in enumerate(WORDS)] + [
    (ch, -10.0) for ch in "\u2581" + LETTERS]
WORDPIECE = WORDS + list(LETTERS) + [f"##{c}" for c in LETTERS]


def unigram(cls, specials, **kwargs):
    return getattr(transformers, cls)(vocab=[(s, 0.0) for s in specials] + PIECES, **kwargs)


def wordpiece(cls, specials, **kwargs):
    return getattr(transformers, cls)(
        vocab={t: i for i, t in enumerate(specials + WORDPIECE)}, **kwargs)


def byte_bpe(cls, specials):
    """Byte-level BPE without merges: one token per character (space is "\u0120")."""
    return getattr(transformers, cls)(
        vocab={t: i for i, t in enumerate(specials + ["\u0120"] + list(LETTERS))}, merges=[])


TOKENIZERS = {
    # family: a tiny tokenizer of the family's kind (SentencePiece Unigram or WordPiece)
    "xlm-roberta": lambda: unigram("XLMRobertaTokenizer", ["<s>", "<pad>", "</s>", "<unk>",
                                                            "<mask>"]),
    "camembert": lambda: unigram("CamembertTokenizer", ["<s>", "<pad>", "</s>", "<unk>",
                                                        "<mask>"]),
    "electra": lambda: wordpiece("BertTokenizer", ["[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                   "[MASK]"]),
    "mpnet": lambda: wordpiece("MPNetTokenizer", ["<s>", "<pad>", "</s>", "[UNK]", "<mask>"]),
    "albert": lambda: unigram("AlbertTokenizer", ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]),
    "deberta": lambda: byte_bpe("DebertaTokenizer", ["[PAD]", "[CLS]", "[SEP]", "[UNK]",
                                                     "[MASK]"]),
    "deberta-v2": lambda: unigram("DebertaV2Tokenizer", ["[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                         "[MASK]"]),
}


def tiny_classifier_folder(family, folder):
    """A tiny sequence classifier of ``family`` (dropout off) and its tokenizer in ``folder``."""
    tok = TOKENIZERS[family]()
    assert len(tok) <= VOCAB
    config = hf_config(family, "ForSequenceClassification", num_labels=2,
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                       initializer_range=0.02, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                       label2id={"NEGATIVE": 0, "POSITIVE": 1})
    torch.manual_seed(0)
    getattr(transformers, ALL[family][0] + "ForSequenceClassification")(config).save_pretrained(
        folder)
    tok.save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize("family", TOKENIZERS)
def test_auto_tokenizer_returns_tf_tensors(family, tmp_path):
    check_auto_tokenizer(TOKENIZERS[family](), tmp_path, ["the film was great", "so boring"])


def check_auto_tokenizer(tokenizer, tmp_path, texts):
    """tfhf's AutoTokenizer of the saved ``tokenizer`` gives transformers' ids as tf.Tensors."""
    tokenizer.save_pretrained(tmp_path)
    ours = tfhf.AutoTokenizer.from_pretrained(str(tmp_path))
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    got = ours(texts, padding=True, return_tensors="tf")
    want = theirs(texts, padding=True, return_tensors="np")
    assert set(got) == set(want)
    for k in want:
        assert isinstance(got[k], tf.Tensor), k
        np.testing.assert_array_equal(got[k].numpy(), want[k])
    assert theirs.unk_token_id not in want["input_ids"]  # the tiny vocabulary covers the text


@pytest.mark.parametrize("family", TOKENIZERS)
def test_text_classification_recipe(family, tmp_path):
    """The tutorial's steps on a tiny checkpoint: tokenize a dataset, ``prepare_tf_dataset``
    with a padding collator, ``compile`` without a loss, ``fit``, then ``pipeline``."""
    folder = tiny_classifier_folder(family, tmp_path / "ckpt")
    run_recipe(folder, tf_class(family, "ForSequenceClassification"), tmp_path)


def run_recipe(folder, expected_class, tmp_path):
    """The recipe's steps on the tiny classifier checkpoint (and tokenizer) in ``folder``."""
    from datasets import Dataset

    tokenizer = tfhf.AutoTokenizer.from_pretrained(folder)
    data = Dataset.from_list(toy_rows(16)).map(lambda e: tokenizer(e["text"], truncation=True),
                                               batched=True)
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(folder)
    assert type(model) is expected_class
    train = model.prepare_tf_dataset(data, shuffle=True, batch_size=8, collate_fn=(
        tfhf.DataCollatorWithPadding(tokenizer=tokenizer, return_tensors="tf")))
    optimizer, _ = tfhf.create_optimizer(init_lr=1e-3, num_warmup_steps=0, num_train_steps=4)
    model.compile(optimizer=optimizer)  # no loss: the model's own
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(train, epochs=2, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
    model.save_pretrained(tmp_path / "tuned")
    tokenizer.save_pretrained(tmp_path / "tuned")
    result = tfhf.pipeline("text-classification", model=str(tmp_path / "tuned"))("a great film")
    assert result[0]["label"] in ("NEGATIVE", "POSITIVE") and 0 <= result[0]["score"] <= 1
