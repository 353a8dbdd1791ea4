"""Parity of RoFormer (rotary positions) and MobileBERT (bottleneck layers, stacked FFNs,
NoNorm, trigram embeddings) with PyTorch transformers.

Every family x head is built from a tiny random config with PyTorch transformers, saved and
loaded into tfhf (family class and TFAutoModel class): outputs, hidden states, attentions and
the loss with labels agree within 1e-4 in float32 on a padded batch; one head per family runs
under XLA; tfhf's files load in PyTorch with no missing or unexpected weight, and a
``tf_model.h5`` as transformers 4.x saved it loads. The tokenizers load through
``AutoTokenizer`` and return tf.Tensors, and the text-classification tutorial's recipe
(``prepare_tf_dataset``, ``compile`` without a loss, ``fit``, ``pipeline``) runs on a tiny
checkpoint of each family.
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

from parity.test_encoder_families import (LENGTHS, NUM_LABELS, VOCAB, Case,  # noqa: E402
                                          case_cache, check_auto_tokenizer,
                                          check_forward_and_loss, check_legacy_h5,
                                          check_save_round_trip, run_recipe, wordpiece)
from parity.test_encoders import assert_outputs_match, to_tf  # noqa: E402

HIDDEN, LAYERS, HEADS, FFN, MAX_POS = 32, 2, 4, 37, 64
_COMMON = dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
               num_attention_heads=HEADS, intermediate_size=FFN, max_position_embeddings=MAX_POS,
               type_vocab_size=2, pad_token_id=0)
ALL_HEADS = ("Model", "ForSequenceClassification", "ForTokenClassification",
             "ForQuestionAnswering", "ForMultipleChoice", "ForMaskedLM")
FAMILIES = {
    # name: (class prefix, config class, config kwargs, heads (class suffixes))
    # factorized embeddings (16 wide, projected to 32)
    "roformer": ("RoFormer", "RoFormerConfig", dict(_COMMON, embedding_size=16), ALL_HEADS),
    # rotary positions on the values too
    "roformer-rotary-value": ("RoFormer", "RoFormerConfig", dict(_COMMON, rotary_value=True),
                              ("Model", "ForMaskedLM")),
    # bottlenecks of 16, 2 stacked FFNs, NoNorm, trigram embeddings of 16 (the defaults' shape)
    "mobilebert": ("MobileBert", "MobileBertConfig",
                   dict(_COMMON, embedding_size=16, intra_bottleneck_size=16,
                        num_feedforward_networks=2), ALL_HEADS),
    # LayerNorm, no trigrams, bottlenecked values, one FFN, a pooler without dense
    "mobilebert-variant": ("MobileBert", "MobileBertConfig",
                           dict(_COMMON, embedding_size=16, intra_bottleneck_size=16,
                                normalization_type="layer_norm", trigram_input=False,
                                use_bottleneck_attention=True, num_feedforward_networks=1,
                                classifier_activation=False),
                           ("ForSequenceClassification", "ForMaskedLM")),
}
AUTO = {"Model": "TFAutoModel", "ForMultipleChoice": "TFAutoModelForMultipleChoice"}
CASES = [(f, h) for f, spec in FAMILIES.items() for h in spec[3]]


def hf_config(family, head="", **overrides):
    _, cfg, kwargs, _ = FAMILIES[family]
    kwargs = {**kwargs, "num_labels": 2 if head == "ForQuestionAnswering" else NUM_LABELS,
              "attn_implementation": "eager", "initializer_range": 0.2, **overrides}
    return getattr(transformers, cfg)(**kwargs)


def tf_class(family, head):
    return getattr(tfhf, f"TF{FAMILIES[family][0]}{head}")


def make_inputs(head, seed=0):
    """A padded batch with token types; for multiple choice two batches as (2, choices, t)."""
    if head == "ForMultipleChoice":
        rows = [make_inputs("", seed + i) for i in range(2)]
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    rs = np.random.RandomState(seed)
    t = max(LENGTHS)
    ids = rs.randint(5, VOCAB, size=(len(LENGTHS), t)).astype(np.int32)
    mask = (np.arange(t)[None, :] < np.array(LENGTHS)[:, None]).astype(np.int32)
    ids[mask == 0] = 0
    types = (np.arange(t)[None, :] >= 3).astype(np.int32) * mask
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def make_case(family, head, folder):
    torch.manual_seed(CASES.index((family, head)))
    pt = getattr(transformers, FAMILIES[family][0] + head)(hf_config(family, head))
    with torch.no_grad():  # norms away from their initial ones/zeros
        for name, p in pt.named_parameters():
            if "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return Case(family, head, folder, pt_model=pt, inputs=make_inputs(head),
                tf_cls=tf_class(family, head))


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return case_cache(tmp_path_factory, make_case)


# ---------------------------------------------------------------------------- parity
@pytest.mark.parametrize("family,head", CASES)
def test_forward_and_loss_parity(cases, family, head):
    check_forward_and_loss(cases(family, head))


@pytest.mark.parametrize("family,head", [("roformer", "ForSequenceClassification"),
                                         ("mobilebert", "ForMaskedLM")])
def test_forward_parity_xla(cases, family, head):
    c = cases(family, head)
    fn = tf.function(lambda x: c.tf(x, output_hidden_states=True, output_attentions=True),
                     jit_compile=True)
    assert_outputs_match(fn(to_tf(c.inputs)), c.pt_out)


@pytest.mark.parametrize("family,head", CASES)
def test_tfhf_save_pytorch_load(cases, family, head, tmp_path):
    check_save_round_trip(cases(family, head), tmp_path)


@pytest.mark.parametrize("family", ["roformer", "mobilebert"])
def test_legacy_tf_model_h5(cases, family, tmp_path):
    """A ``tf_model.h5`` as transformers 4.x's TF class saved it loads into the same outputs."""
    check_legacy_h5(cases(family, "ForSequenceClassification"),
                    f"tf_{family}_for_sequence_classification", tmp_path)


def test_roformer_input_errors(cases):
    c = cases("roformer", "Model")
    too_long = np.ones((1, MAX_POS + 1), np.int32)
    with pytest.raises(InvalidInputError, match="max_position_embeddings"):
        c.tf(tf.constant(too_long))
    with pytest.raises(InvalidInputError, match="position_ids"):  # RoFormer's are rotary
        c.tf(to_tf(c.inputs), position_ids=tf.zeros_like(c.inputs["input_ids"]))
    with pytest.raises(ConfigError, match="is_decoder"):
        tfhf.TFRoFormerModel(hf_config("roformer", is_decoder=True))


# ---------------------------------------------------------------------------- tokenizers
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "今", "天", "气", "天气"]
TOKENIZERS = {
    "roformer": lambda: wordpiece("RoFormerTokenizer", SPECIALS),
    "mobilebert": lambda: wordpiece("MobileBertTokenizer", SPECIALS),
}


def tokenizer_for(family):
    if family == "roformer":
        pytest.importorskip("rjieba", reason="RoFormer's tokenizer needs rjieba "
                            "(pip install rjieba; in tfhf's test extra)")
    return TOKENIZERS[family]()


@pytest.mark.parametrize("family", TOKENIZERS)
def test_auto_tokenizer_returns_tf_tensors(family, tmp_path):
    check_auto_tokenizer(tokenizer_for(family), tmp_path,
                         ["the film was great", "so boring", "今天天气"])


@pytest.mark.parametrize("family", TOKENIZERS)
def test_text_classification_recipe(family, tmp_path):
    """The tutorial's steps on a tiny checkpoint: tokenize a dataset, ``prepare_tf_dataset``
    with a padding collator, ``compile`` without a loss, ``fit``, then ``pipeline``."""
    folder = str(tmp_path / "ckpt")
    tok = tokenizer_for(family)
    assert len(tok) <= VOCAB
    config = hf_config(family, "ForSequenceClassification", num_labels=2,
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                       initializer_range=0.02, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                       label2id={"NEGATIVE": 0, "POSITIVE": 1})
    torch.manual_seed(0)
    getattr(transformers, FAMILIES[family][0] + "ForSequenceClassification")(
        config).save_pretrained(folder)
    tok.save_pretrained(folder)
    run_recipe(folder, tf_class(family, "ForSequenceClassification"), tmp_path)


@pytest.mark.parametrize("family,head", [("roformer", "ForMultipleChoice"),
                                         ("mobilebert", "ForMaskedLM")])
def test_layers_registered_with_pure_data_config(cases, family, head):
    """Every tfhf layer of the model rebuilds from its Keras config (``.keras`` saving)."""
    import json

    model = cases(family, head).tf
    layers = model._flatten_layers() if hasattr(model, "_flatten_layers") else model.submodules
    seen = set()
    for layer in layers:
        cls = type(layer)
        if layer is model or not cls.__module__.startswith("tfhf."):
            continue
        assert _keras.keras.utils.get_registered_object(f"tfhf>{cls.__name__}") is cls, cls
        config = layer.get_config()
        assert json.loads(json.dumps(config)) == config, cls
        assert cls.from_config(config).get_config() == config, cls
        seen.add(cls.__name__)
    assert {"RotaryTable"} <= seen if family == "roformer" else {
        "MobileBertLayer", "NoNorm", "MobileBertLMHead"} <= seen
