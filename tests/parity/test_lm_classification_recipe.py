"""The text-classification tutorial's recipe on the classifiers issue 18 put on language models:
T5 / mT5 / UMT5 and BART / mBART (encoder-decoder, pooled at the last <eos>) and the decoder
LMs (pooled at the last non-pad token), each a tiny random checkpoint with a tiny tokenizer of
its kind saved beside it: ``AutoTokenizer``, ``prepare_tf_dataset`` with a padding collator,
``compile`` without a loss, ``fit`` (weights move, finite losses), ``save_pretrained``, then
``pipeline("text-classification")`` on the saved folder (the recipe itself is
:func:`parity.test_encoder_families.run_recipe`, shared with the encoder families)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tensorflow")
pytest.importorskip("datasets")

import tfhf  # noqa: E402

from parity.test_decoders import CASES  # noqa: E402
from parity.test_encoder_families import byte_bpe, run_recipe, unigram  # noqa: E402
from tiny_configs import SEQ2SEQ_CASES  # noqa: E402

LABELS = dict(num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"},
              label2id={"NEGATIVE": 0, "POSITIVE": 1})
VOCAB = 128

# T5's SentencePiece kind: <pad> 0, </s> 1 (the config's pad / eos ids), appended eos
T5_TOKENIZER = (lambda: unigram("T5Tokenizer", ["<pad>", "</s>", "<unk>"], extra_ids=0))
# BART's byte-level BPE: <s> 0, <pad> 1, </s> 2 (BART's and mBART's config ids)
BART_TOKENIZER = (lambda: byte_bpe("BartTokenizer", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]))
# GPT-2's byte-level BPE: one special token, also the pad token (id 0, the configs' pad id)
GPT2_TOKENIZER = (lambda: _with_pad(byte_bpe("GPT2Tokenizer", ["<|endoftext|>"])))

SEQ2SEQ = {"t5": T5_TOKENIZER, "mt5": T5_TOKENIZER, "umt5": T5_TOKENIZER,
           "bart": BART_TOKENIZER, "mbart": BART_TOKENIZER}
DECODERS = {"llama": "llama", "gpt2": "gpt2"}


def _with_pad(tok):
    tok.pad_token = tok.eos_token
    return tok


def _save(pt_name, config, tokenizer, folder):
    assert len(tokenizer) <= VOCAB
    torch.manual_seed(0)
    getattr(transformers, pt_name)(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize("family", SEQ2SEQ)
def test_seq2seq_classifier_recipe(family, tmp_path):
    prefix, cfg, kwargs = SEQ2SEQ_CASES[family]
    extra = {} if prefix in ("T5", "MT5", "UMT5") else dict(max_position_embeddings=256)
    config = getattr(transformers, cfg)(**{**kwargs, "vocab_size": VOCAB, **extra, **LABELS},
                                        attn_implementation="eager")
    folder = _save(f"{prefix}ForSequenceClassification", config, SEQ2SEQ[family](),
                   tmp_path / "ckpt")
    run_recipe(folder, getattr(tfhf, f"TF{prefix}ForSequenceClassification"), tmp_path)


@pytest.mark.parametrize("family", DECODERS)
def test_decoder_classifier_recipe(family, tmp_path):
    prefix, cfg, kwargs = CASES[DECODERS[family]]
    config = getattr(transformers, cfg)(**{**kwargs, "vocab_size": VOCAB, "pad_token_id": 0,
                                           **LABELS}, attn_implementation="eager")
    folder = _save(f"{prefix}ForSequenceClassification", config, GPT2_TOKENIZER(),
                   tmp_path / "ckpt")
    run_recipe(folder, getattr(tfhf, f"TF{prefix}ForSequenceClassification"), tmp_path)
