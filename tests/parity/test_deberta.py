"""Parity of DeBERTa and DeBERTa-v2/v3 with PyTorch transformers.

Every family x head is built from a tiny random config with PyTorch transformers, saved and
loaded into tfhf (family class and TFAutoModel class): outputs, hidden states, attentions and
the loss with labels agree within 1e-4 in float32 on a padded batch; the classifier runs
under XLA; tfhf's files load in PyTorch with no missing or unexpected weight. The tiny
configs exercise disentangled attention's options: v1's fused projection and a relative span
shorter than the input, v2's log buckets, share_att_key, norm_rel_ebd and (in the variants)
separate position projections, the convolution, factorized embeddings and the non-legacy
masked-LM head. The tokenizers (byte-level BPE, SentencePiece Unigram) load through
``AutoTokenizer``, and the tutorial's recipe runs on a tiny checkpoint of each family.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import _keras  # noqa: E402
from tfhf.errors import UnsupportedModelError  # noqa: E402

from parity.test_encoder_families import (LENGTHS, NUM_LABELS, VOCAB, check_auto_tokenizer,  # noqa: E402
                                          make_labels, run_text_classification_recipe, unigram)
from parity.test_encoders import assert_close, assert_outputs_match, pt_forward, to_tf  # noqa: E402

_TINY = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=37, max_position_embeddings=64, pad_token_id=0,
             relative_attention=True, pos_att_type="c2p|p2c", initializer_range=0.2,
             attn_implementation="eager")
FAMILIES = {
    # name: (class prefix, config class, config kwargs, heads)
    # v1: fused in_proj; a relative span (6) shorter than the batch (9 tokens)
    "deberta": ("Deberta", "DebertaConfig", dict(_TINY, type_vocab_size=2,
                                                 max_relative_positions=6),
                ("Model", "ForSequenceClassification", "ForTokenClassification",
                 "ForQuestionAnswering", "ForMaskedLM")),
    # deberta-v3-base's options: log buckets, shared keys, normalized table, no absolute
    # positions, no token types
    "deberta-v2": ("DebertaV2", "DebertaV2Config",
                   dict(_TINY, type_vocab_size=0, position_buckets=8, norm_rel_ebd="layer_norm",
                        share_att_key=True, position_biased_input=False,
                        layer_norm_eps=1e-7),
                   ("Model", "ForSequenceClassification", "ForTokenClassification",
                    "ForQuestionAnswering", "ForMultipleChoice", "ForMaskedLM")),
}
CASES = [(f, h) for f, spec in FAMILIES.items() for h in spec[3]]
VARIANTS = {
    # name: (family, head, config overrides)
    "v1-factorized-c2p": ("deberta", "Model", dict(embedding_size=16, pos_att_type="c2p",
                                                   max_relative_positions=-1)),
    "v2-separate-keys-conv": ("deberta-v2", "Model", dict(
        share_att_key=False, conv_kernel_size=3, conv_act="gelu", position_biased_input=True,
        type_vocab_size=2)),
    "v2-no-buckets-p2c": ("deberta-v2", "Model", dict(position_buckets=-1,
                                                      max_relative_positions=5,
                                                      pos_att_type="p2c")),
    "v2-mlm-not-legacy": ("deberta-v2", "ForMaskedLM", dict(legacy=False)),
}
AUTO = {"Model": "TFAutoModel"}


def hf_config(family, head="", **overrides):
    kwargs = {**FAMILIES[family][2],
              "num_labels": 2 if head == "ForQuestionAnswering" else NUM_LABELS, **overrides}
    return getattr(transformers, FAMILIES[family][1])(**kwargs)


def tf_class(family, head):
    return getattr(tfhf, f"TF{FAMILIES[family][0]}{head}")


def make_inputs(family, head, seed=0, token_types=None):
    """A padded batch (pad ids where attention_mask is 0); multiple choice: (2, choices, t)."""
    if head == "ForMultipleChoice":
        rows = [make_inputs(family, "", seed + i) for i in range(2)]
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    rs = np.random.RandomState(seed)
    t = max(LENGTHS)
    mask = (np.arange(t)[None, :] < np.array(LENGTHS)[:, None]).astype(np.int32)
    ids = np.where(mask == 1, rs.randint(5, VOCAB, size=mask.shape), 0).astype(np.int32)
    inputs = {"input_ids": ids, "attention_mask": mask}
    if token_types if token_types is not None else FAMILIES[family][2]["type_vocab_size"]:
        inputs["token_type_ids"] = (np.arange(t)[None, :] >= 3).astype(np.int32) * mask
    return inputs


class Case:
    def __init__(self, family, head, folder, seed, **overrides):
        self.folder = str(folder)
        torch.manual_seed(seed)
        config = hf_config(family, head, **overrides)
        self.pt = getattr(transformers, FAMILIES[family][0] + head)(config).eval()
        self.pt.save_pretrained(self.folder)
        self.inputs = make_inputs(family, head, token_types=config.type_vocab_size)
        self.pt_out = pt_forward(self.pt, self.inputs, output_hidden_states=True,
                                 output_attentions=True)
        with _keras.policy_scope("float32"):
            self.tf = tf_class(family, head).from_pretrained(self.folder)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    cache = {}

    def get(family, head):
        if (family, head) not in cache:
            cache[family, head] = Case(family, head, tmp_path_factory.mktemp(family + head),
                                       CASES.index((family, head)))
        return cache[family, head]

    return get


@pytest.mark.parametrize("family,head", CASES)
def test_forward_and_loss_parity(cases, family, head):
    c = cases(family, head)
    out = c.tf(to_tf(c.inputs), output_hidden_states=True, output_attentions=True)
    assert_outputs_match(out, c.pt_out)
    auto = getattr(tfhf, AUTO.get(head, f"TFAutoModel{head}")).from_pretrained(c.folder)
    assert type(auto) is tf_class(family, head)
    labels = make_labels(head, c.inputs)
    if labels:
        pt = pt_forward(c.pt, {**c.inputs, **labels})
        got = c.tf(to_tf(c.inputs), **to_tf(labels))
        assert got.loss.dtype == tf.float32 and got.loss.shape.rank == 0
        assert_close(got.loss, pt.loss, what="loss")


@pytest.mark.parametrize("family", FAMILIES)
def test_forward_parity_xla(cases, family):
    c = cases(family, "ForSequenceClassification")
    fn = tf.function(lambda x: c.tf(x, output_hidden_states=True, output_attentions=True),
                     jit_compile=True)
    assert_outputs_match(fn(to_tf(c.inputs)), c.pt_out)


@pytest.mark.parametrize("family,head", CASES)
def test_tfhf_save_pytorch_load(cases, family, head, tmp_path):
    c = cases(family, head)
    c.tf.save_pretrained(tmp_path)
    pt_cls = getattr(transformers, FAMILIES[family][0] + head)
    pt_model, info = pt_cls.from_pretrained(tmp_path, output_loading_info=True,
                                            attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    reloaded = pt_forward(pt_model.eval(), c.inputs, output_hidden_states=True,
                          output_attentions=True)
    assert_outputs_match(reloaded, c.pt_out, atol=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_config_variants_parity(variant, tmp_path):
    family, head, overrides = VARIANTS[variant]
    c = Case(family, head, tmp_path, 0, **overrides)
    out = c.tf(to_tf(c.inputs), output_hidden_states=True, output_attentions=True)
    assert_outputs_match(out, c.pt_out)
    c.tf.save_pretrained(tmp_path / "tfhf")
    _, info = getattr(transformers, FAMILIES[family][0] + head).from_pretrained(
        tmp_path / "tfhf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info


def test_unsupported_model_type_lists_deberta():
    with pytest.raises(UnsupportedModelError) as err:
        tfhf.TFAutoModel.from_config(transformers.XLNetConfig())
    for family in FAMILIES:
        assert f"{family}," in str(err.value) or str(err.value).endswith(f"{family}.")


# ---------------------------------------------------------------------------- tokenizers
def bpe_tokenizer():
    """DeBERTa's byte-level BPE over the 256 byte symbols (no merges)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {t: i for i, t in enumerate(["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"])}
    for symbol in bytes_to_unicode().values():
        vocab.setdefault(symbol, len(vocab))
    return transformers.DebertaTokenizer(vocab=vocab, merges=[])


TOKENIZERS = {
    "deberta": bpe_tokenizer,
    "deberta-v2": lambda: unigram("DebertaV2Tokenizer",
                                  ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]),
}


@pytest.mark.parametrize("family", TOKENIZERS)
def test_auto_tokenizer_returns_tf_tensors(family, tmp_path):
    check_auto_tokenizer(TOKENIZERS[family](), tmp_path)


@pytest.mark.parametrize("family", TOKENIZERS)
def test_text_classification_recipe(family, tmp_path):
    """prepare_tf_dataset, compile without a loss, fit, pipeline on a tiny checkpoint."""
    tok = TOKENIZERS[family]()
    config = hf_config(family, "ForSequenceClassification", vocab_size=len(tok),
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                       initializer_range=0.02, num_labels=2,
                       id2label={0: "NEGATIVE", 1: "POSITIVE"},
                       label2id={"NEGATIVE": 0, "POSITIVE": 1})
    torch.manual_seed(0)
    folder = tmp_path / "ckpt"
    getattr(transformers, FAMILIES[family][0] + "ForSequenceClassification")(
        config).save_pretrained(folder)
    tok.save_pretrained(folder)
    run_text_classification_recipe(str(folder), tf_class(family, "ForSequenceClassification"),
                                   tmp_path)
