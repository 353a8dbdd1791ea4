"""The in-graph WordPiece tokenizer against the Hugging Face fast tokenizer.

1,000 deterministic inputs (accents, CJK, emoji, punctuation, control and format characters,
special tokens, very long words and texts, the empty string, invalid UTF-8 bytes) must give
exactly the fast tokenizer's ids under the MiniLM vocabulary, for the uncased checkpoint's
own settings and for cased / accent-keeping / no-CJK-splitting variants.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from _export_sentences import as_text, sentences
from conftest import minilm_folder

VARIANTS = {
    "uncased": {},  # the checkpoint's tokenizer.json (lowercase, strip accents, CJK)
    "cased-no-cjk": dict(do_lower_case=False, tokenize_chinese_chars=False),
    "lowercase-keep-accents": dict(do_lower_case=True, strip_accents=False),
}


def _tokenizer(variant):
    import os

    import transformers

    folder = minilm_folder()
    if not VARIANTS[variant]:
        return transformers.AutoTokenizer.from_pretrained(folder)
    return transformers.BertTokenizerFast(os.path.join(folder, "vocab.txt"),
                                          **VARIANTS[variant])


def _encoder(tok, tmp_path, max_length):
    from tfhf.export.tokenization import WordPieceEncoder, WordPieceSpec, write_vocab

    spec = WordPieceSpec(tok)
    return WordPieceEncoder(spec, write_vocab(spec, str(tmp_path)), max_length)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_ids_equal_hf_fast_tokenizer_on_1000_sentences(variant, tmp_path):
    tok = _tokenizer(variant)
    data = sentences()
    assert len(data) == 1000 and len(set(data)) > 950
    texts = [as_text(b) for b in data]
    encode = tf.function(_encoder(tok, tmp_path, 4096).encode)  # in a graph, as exported
    ids, mask, types = (t.numpy() for t in encode(tf.constant(data)))
    ref = tok(texts, truncation=True, max_length=4096)["input_ids"]
    bad = [i for i in range(len(data)) if ids[i][mask[i] == 1].tolist() != ref[i]]
    assert not bad, [(texts[i][:80], ids[i][mask[i] == 1][:20], ref[i][:20]) for i in bad[:3]]
    assert ids.dtype == np.int32 and not types.any()
    assert (ids[mask == 0] == tok.pad_token_id).all()
    assert max(len(r) for r in ref) > 1000  # the long inputs really are long


def test_truncation_and_padding_match_hf(tmp_path):
    tok = _tokenizer("uncased")
    data = sentences()[:200]
    texts = [as_text(b) for b in data]
    ids, mask, _ = _encoder(tok, tmp_path, 16).encode(tf.constant(data))
    ref = tok(texts, truncation=True, max_length=16, padding=True, return_tensors="np")
    np.testing.assert_array_equal(ids.numpy(), ref["input_ids"])
    np.testing.assert_array_equal(mask.numpy(), ref["attention_mask"])


def test_invalid_utf8_becomes_replacement_character_then_dropped(tmp_path):
    """Invalid bytes decode to U+FFFD (as bytes.decode("utf-8", "replace")); clean_text then
    drops U+FFFD, so they vanish between the characters around them."""
    tok = _tokenizer("uncased")
    enc = _encoder(tok, tmp_path, 64)
    ids, mask, _ = enc.encode(tf.constant([b"gre\xffat", b"\xff\xfe", b"a\x00b"]))
    rows = [r[m == 1].tolist() for r, m in zip(ids.numpy(), mask.numpy())]
    assert rows[0] == tok("great")["input_ids"]
    assert rows[1] == [tok.cls_token_id, tok.sep_token_id]
    assert rows[2] == tok("ab")["input_ids"]


def test_unsupported_tokenizers_are_refused_with_the_ids_only_alternative():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from tfhf.errors import UnsupportedModelError
    from tfhf.export.tokenization import WordPieceSpec

    bpe = Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "ab": 2}, merges=[("a", "b")]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=bpe)
    with pytest.raises(UnsupportedModelError, match="tokenizer=None") as err:
        WordPieceSpec(fast)
    assert "--no-tokenizer" in str(err.value)  # a CLI user is told the CLI option
    with pytest.raises(UnsupportedModelError, match="fast"):
        WordPieceSpec(object())


def test_missing_tensorflow_text_names_the_cli_option(monkeypatch):
    import sys

    from tfhf.errors import MissingDependencyError
    from tfhf.export.tokenization import tf_text

    monkeypatch.setitem(sys.modules, "tensorflow_text", None)  # import fails
    with pytest.raises(MissingDependencyError, match="pip install tensorflow-text") as err:
        tf_text()
    assert "--no-tokenizer" in str(err.value) and "tokenizer=None" in str(err.value)
