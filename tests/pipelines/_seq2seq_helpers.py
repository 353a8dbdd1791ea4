"""Tiny random PyTorch checkpoints for the zero-shot and encoder-decoder pipeline tests, with
tokenizers built offline from small vocabularies (no Hub, no sentencepiece):

* BART: a byte-level BPE tokenizer (the 256 byte symbols, a few merges) — BART seq2seq and
  BART NLI (``BartForSequenceClassification``, entailment at index 2 like bart-large-mnli);
* BERT NLI: a WordPiece vocabulary, entailment at index 0 (like the cross-encoder NLI models);
* T5: a Unigram tokenizer over whole words and letters;
* NLLB: ``NllbTokenizer`` (BPE, its 202 FLORES-200 language codes) on an M2M100 model, the
  architecture of facebook/nllb-200-distilled-600M.

The folders hold what PyTorch transformers saved (weights, config, generation config,
tokenizer); tfhf and the PyTorch reference load the same files.
"""

from __future__ import annotations

WORDS = ("the a film movie was is great bad good this example about sport politics match vote "
         "team won text hello world capital of france paris what who summarize translate "
         "english german to question answer it in and one short").split()
NLI_LABELS = {"bart": ["contradiction", "neutral", "entailment"],
              "bert": ["entailment", "neutral", "contradiction"]}


def bart_tokenizer():
    from transformers import BartTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for symbol in bytes_to_unicode().values():
        vocab.setdefault(symbol, len(vocab))
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "s"), ("Ġ", "w")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<mask>"] = len(vocab)
    return BartTokenizer(vocab=vocab, merges=merges)


def bert_tokenizer():
    from transformers import BertTokenizerFast

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?"] + list(WORDS)
    return BertTokenizerFast(vocab={t: i for i, t in enumerate(tokens)}, do_lower_case=True)


def t5_tokenizer():
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("\u2581" + w, -1.0 - i * 0.01) for i, w in enumerate(WORDS)]
    pieces += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz.,?!:'"] + [("\u2581", -4.0)]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


def nllb_tokenizer():
    from transformers import NllbTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in ["\u2581" + w for w in WORDS] + list("abcdefghijklmnopqrstuvwxyz.,?!'") \
            + ["\u2581"]:
        vocab.setdefault(piece, len(vocab))
    return NllbTokenizer(vocab=vocab, merges=[])


_SEQ2SEQ = dict(d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                decoder_attention_heads=4, encoder_ffn_dim=24, decoder_ffn_dim=24,
                max_position_embeddings=128, dropout=0.0, attention_dropout=0.0,
                activation_dropout=0.0)


def make_nli(folder, family, seed=0):
    """A tiny NLI checkpoint: BART (entailment = 2) or BERT (entailment = 0)."""
    import torch
    import transformers

    labels = NLI_LABELS[family]
    ids = dict(id2label=dict(enumerate(labels)), label2id={v: k for k, v in enumerate(labels)})
    if family == "bart":
        tok = bart_tokenizer()
        config = transformers.BartConfig(vocab_size=len(tok), init_std=0.5, **_SEQ2SEQ, **ids)
        cls = transformers.BartForSequenceClassification
    else:
        tok = bert_tokenizer()
        config = transformers.BertConfig(vocab_size=len(tok), hidden_size=32,
                                         num_hidden_layers=2, num_attention_heads=4,
                                         intermediate_size=37, max_position_embeddings=128,
                                         initializer_range=0.2, **ids)
        cls = transformers.BertForSequenceClassification
    tok.save_pretrained(folder)
    torch.manual_seed(seed)
    cls(config).eval().save_pretrained(folder)
    return str(folder)


def make_seq2seq(folder, family, seed=0, **overrides):
    """A tiny conditional-generation checkpoint: "t5", "bart" or "nllb" (M2M100 + NLLB
    tokenizer). ``overrides`` go to the config (e.g. ``task_specific_params``, ``prefix``)."""
    import torch
    import transformers

    if family == "t5":
        tok = t5_tokenizer()
        config = transformers.T5Config(
            vocab_size=len(tok), d_model=16, d_kv=8, d_ff=24, num_layers=2,
            num_decoder_layers=2, num_heads=2, relative_attention_num_buckets=8,
            relative_attention_max_distance=16, dropout_rate=0.0, initializer_factor=2.0,
            feed_forward_proj="gated-gelu", tie_word_embeddings=False,
            decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id, **overrides)
        cls = transformers.T5ForConditionalGeneration
    elif family == "bart":
        tok = bart_tokenizer()
        config = transformers.BartConfig(vocab_size=len(tok), init_std=0.5,
                                         forced_eos_token_id=None, **_SEQ2SEQ, **overrides)
        cls = transformers.BartForConditionalGeneration
    else:
        tok = nllb_tokenizer()
        config = transformers.M2M100Config(vocab_size=len(tok), init_std=0.5,
                                           decoder_start_token_id=tok.eos_token_id,
                                           **_SEQ2SEQ, **overrides)
        cls = transformers.M2M100ForConditionalGeneration
    tok.save_pretrained(folder)
    torch.manual_seed(seed)
    model = cls(config).eval()
    model.generation_config = transformers.GenerationConfig.from_model_config(config)
    model.save_pretrained(folder)
    return str(folder)
