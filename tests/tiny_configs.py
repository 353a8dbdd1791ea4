"""Tiny random model configs and fixture builders shared by the tests.

Imported as ``import tiny_configs`` (pytest puts ``tests/`` on ``sys.path`` through
``tests/conftest.py``). torch and transformers are imported inside the builders, so a test
module can ``pytest.importorskip`` them first.
"""

from __future__ import annotations

# ---------------------------------------------------------------- encoder-decoder (T5, BART, ...)
SEQ2SEQ_VOCAB, SEQ2SEQ_D = 64, 16
_T5 = dict(vocab_size=SEQ2SEQ_VOCAB, d_model=SEQ2SEQ_D, d_kv=6, d_ff=24, num_layers=2,
           num_decoder_layers=2, num_heads=3, relative_attention_num_buckets=8,
           relative_attention_max_distance=10, dropout_rate=0.0, decoder_start_token_id=0)
_BART = dict(vocab_size=SEQ2SEQ_VOCAB, d_model=SEQ2SEQ_D, encoder_layers=2, decoder_layers=2,
             encoder_attention_heads=4, decoder_attention_heads=2, encoder_ffn_dim=24,
             decoder_ffn_dim=20, max_position_embeddings=32, dropout=0.0, init_std=0.2)
SEQ2SEQ_CASES = {
    # name: (transformers class prefix, config class, config kwargs)
    "t5": ("T5", "T5Config", dict(_T5)),  # v1.0: ReLU, tied head scaled by d_model ** -0.5
    "t5_v11": ("T5", "T5Config", dict(_T5, feed_forward_proj="gated-gelu",
                                      tie_word_embeddings=False)),
    "bart": ("Bart", "BartConfig", dict(_BART, scale_embedding=True)),
    "m2m100": ("M2M100", "M2M100Config", dict(_BART)),
    "mbart": ("MBart", "MBartConfig", dict(_BART, scale_embedding=True)),  # pre-norm BART
    "mt5": ("MT5", "MT5Config", dict(_T5, feed_forward_proj="gated-gelu")),  # own head
    "umt5": ("UMT5", "UMT5Config", dict(_T5, feed_forward_proj="gated-gelu")),  # per-layer bias
}


def seq2seq_config(name):
    """The transformers config of the tiny ``SEQ2SEQ_CASES[name]`` (eager attention)."""
    import transformers

    _, cfg, kwargs = SEQ2SEQ_CASES[name]
    return getattr(transformers, cfg)(**kwargs, attn_implementation="eager")


def torch_seq2seq_lm(name, seed=0):
    """A PyTorch ``<Family>ForConditionalGeneration`` with random weights from ``seed``."""
    import torch
    import transformers

    torch.manual_seed(seed)
    cls = getattr(transformers, f"{SEQ2SEQ_CASES[name][0]}ForConditionalGeneration")
    return cls(seq2seq_config(name)).eval()


def widen_weights(pt, std=0.5):
    """Redraw every matrix of the PyTorch model from N(0, std): larger weights give less
    degenerate generations than the default initialisation."""
    import torch

    with torch.no_grad():
        for p in pt.parameters():
            if p.dim() > 1:
                p.normal_(0.0, std)
    return pt


def decode_with_cache(model, encoder_hidden, dec, encoder_mask, prefill, cache_len):
    """An encoder-decoder's cache methods step by step: ``cross_cache`` once, then
    ``decoder_forward_with_cache`` on ``prefill`` decoder tokens and one token per step
    after; the logits of every decoder position (batch, dec length, vocab)."""
    import tensorflow as tf

    b, length = dec.shape[0], dec.shape[1]
    cross = model.cross_cache(encoder_hidden)
    cache = model.init_cache(b, cache_len)
    self_mask = tf.ones([b, cache_len], tf.int32)
    pos = tf.range(length, dtype=tf.int32)[None] * tf.ones([b, 1], tf.int32)
    logits, cache = model.decoder_forward_with_cache(dec[:, :prefill], pos[:, :prefill],
                                                     self_mask, cache, 0, cross, encoder_mask)
    outs = [logits]
    for i in range(prefill, length):
        logits, cache = model.decoder_forward_with_cache(dec[:, i:i + 1], pos[:, i:i + 1],
                                                         self_mask, cache, i, cross,
                                                         encoder_mask)
        outs.append(logits)
    return tf.concat(outs, axis=1)
