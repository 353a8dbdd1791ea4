"""SpeechT5's autoregressive mel loop, compiled with XLA (transformers' ``_generate_speech``).

One ``tf.function(jit_compile=True)`` runs the encoder, a ``tf.while_loop`` over decoder steps
on a static self-attention cache (one ``(keys, values)`` buffer pair per layer, written with
dynamic-update-slice), and the post-net over the finished frames. Each step feeds the last
predicted frame through the speech pre-net (its consistent dropout included), decodes one
position, writes ``reduction_factor`` frames and sums the stop probabilities; a row is
finished when that sum reaches ``threshold`` (once ``minlen`` steps are done), and every row
when ``maxlen`` steps are. The loop leaves early when every row is finished.

Shapes are static per compile: the text is padded (masked) to a bucket of 16 tokens, and the
buffers hold ``min(bucket * max(maxlenratio, minlenratio) / reduction_factor,
max_speech_positions)`` steps;
``minlen`` / ``maxlen`` themselves come from the true text length at run time, as in
transformers (which cannot decode past ``max_speech_positions`` either).

The loop is an :class:`~tfhf.generation.compile_cache.AnnouncedFunction`, as ``generate``'s:
one ``tfhf: compiling ...`` line per new shape, and with the opt-in persistent XLA cache
(``TFHF_XLA_CACHE``) a later process loads the program instead of compiling it.

The vocoder runs as a second call on the spectrogram cut to its real length
(:meth:`TFSpeechT5HifiGan.synthesize`: a TensorFlow graph with a dynamic frame axis, traced
once, no XLA): inside the loop's call it would run over the whole static buffer (up to
``maxlenratio`` times the speech actually produced) with XLA's CPU convolutions, which ran
HiFi-GAN ~1.5x slower than TensorFlow's oneDNN ones.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice

from ...errors import ConfigError, InvalidInputError
from ...generation.compile_cache import AnnouncedFunction
from ...layers.seq2seq import decoder_self_bias, encoder_bias
from .layers import length_mask
from .speakers import check_speaker_embeddings

TEXT_BUCKET = 16


def check_vocoder(model, vocoder):
    """A ``TFSpeechT5HifiGan`` whose input mel bins are the model's (None passes)."""
    if vocoder is None:
        return
    from .hifigan import TFSpeechT5HifiGan

    if not isinstance(vocoder, TFSpeechT5HifiGan):
        raise InvalidInputError(f"vocoder must be a TFSpeechT5HifiGan, got "
                                f"{type(vocoder).__name__}.")
    if vocoder.config.model_in_dim != model.config.num_mel_bins:
        raise ConfigError(
            f"The vocoder takes {vocoder.config.model_in_dim} mel bins (model_in_dim) but this "
            f"SpeechT5 model makes {model.config.num_mel_bins} (num_mel_bins): use the vocoder "
            "trained with it (microsoft/speecht5_hifigan for microsoft/speecht5_tts).")


def _loop_fn(model, batch, text_len, steps, prenet_dropout):
    config = model.config
    r, mels = config.reduction_factor, config.num_mel_bins
    heads = config.decoder_attention_heads
    head_dim = config.hidden_size // heads

    def run(ids, mask, speakers, threshold, minlen, maxlen, seed):
        enc, _ = model.encode(ids, mask)
        cross_kv = model.decoder.cross_key_values(enc)
        cross_bias = encoder_bias(mask)
        dtype = enc.dtype
        cache = tuple((tf.zeros([batch, heads, steps, head_dim], dtype),
                       tf.zeros([batch, heads, steps, head_dim], dtype))
                      for _ in range(config.decoder_layers))
        slots = tf.ones([batch, steps], tf.int32)

        def body(i, last, cache, feats, done, lengths):
            x = model.speech_prenet(last[:, None, :], i[None], speakers,
                                    seed=tf.stack([seed, i]), prenet_dropout=prenet_dropout)
            h, cache, _ = model.decoder(x, None, decoder_self_bias(slots, i, 1), cache=cache,
                                        cache_index=i, cross_kv=cross_kv,
                                        cross_bias=cross_bias)
            spectrum = tf.cast(model.postnet.feat_out(h), tf.float32)  # (batch, 1, r * mels)
            feats = dynamic_update_slice(feats, spectrum, tf.stack([0, i, 0]))
            prob = tf.reduce_sum(tf.sigmoid(tf.cast(model.postnet.prob_out(h[:, 0]),
                                                    tf.float32)), axis=-1)
            idx = i + 1
            meet = tf.logical_or(prob >= threshold, idx >= maxlen)
            meet = tf.logical_or(tf.logical_and(meet, idx >= minlen), idx >= steps)
            lengths = tf.where(tf.logical_and(meet, tf.logical_not(done)), idx * r, lengths)
            return (idx, spectrum[:, 0, -mels:], cache, feats, tf.logical_or(done, meet),
                    lengths)

        def cond(i, last, cache, feats, done, lengths):
            return tf.logical_and(i < steps, tf.logical_not(tf.reduce_all(done)))

        state = (tf.constant(0, tf.int32), tf.zeros([batch, mels]), cache,
                 tf.zeros([batch, steps, r * mels]), tf.zeros([batch], tf.bool),
                 tf.zeros([batch], tf.int32))
        _, _, _, feats, _, lengths = tf.while_loop(cond, body, state,
                                                   maximum_iterations=steps)
        frames = tf.reshape(feats, [batch, steps * r, mels])
        spec = model.postnet.postnet(frames, lengths)
        return spec * length_mask(lengths, steps * r, spec.dtype), lengths

    return run


def _prepare(model, input_ids, speaker_embeddings, attention_mask):
    ids = model.check_text(input_ids)
    batch = int(ids.shape[0])
    if speaker_embeddings is None:
        from .speakers import load_speaker_embeddings

        speaker_embeddings = load_speaker_embeddings(None, model.config,
                                                     getattr(model, "name_or_path", None))
    speakers = check_speaker_embeddings(speaker_embeddings, model.config, batch)
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 1
    ids = tf.cast(ids, tf.int32)
    mask = (tf.cast(tf.not_equal(ids, pad), tf.int32) if attention_mask is None
            else tf.cast(tf.convert_to_tensor(attention_mask), tf.int32))
    if tuple(mask.shape) != tuple(ids.shape):
        raise InvalidInputError(f"attention_mask has shape {tuple(mask.shape)}; input_ids has "
                                f"{tuple(ids.shape)}.")
    return ids, mask, speakers, pad


def generate_speech(model, input_ids, speaker_embeddings=None, attention_mask=None,
                    threshold=0.5, minlenratio=0.0, maxlenratio=20.0, vocoder=None,
                    output_cross_attentions=False, return_output_lengths=False,
                    prenet_dropout=True, seed=None, jit_compile=True):
    """Synthesize a log-mel spectrogram (or, with ``vocoder``, a 16 kHz waveform) from ids.

    As transformers: batch 1 gives an un-batched (frames, mels) spectrogram or (samples,)
    waveform, a batch gives them padded with zeros; ``return_output_lengths=True`` returns
    ``(padded outputs, lengths)``. ``speaker_embeddings``: (dim,), (1, dim) or (batch, dim)
    floats, a ``.npy`` path, or None for ``speaker_embeddings.npy`` beside the checkpoint.
    ``prenet_dropout=False`` turns off the pre-net's inference dropout (deterministic output;
    transformers always applies it); ``seed`` fixes its masks.
    """
    if output_cross_attentions:
        raise InvalidInputError("output_cross_attentions=True is not supported by tfhf's "
                                "compiled synthesis loop.")
    check_vocoder(model, vocoder)
    ids, mask, speakers, pad = _prepare(model, input_ids, speaker_embeddings, attention_mask)
    config = model.config
    batch, length = int(ids.shape[0]), int(ids.shape[1])
    r = config.reduction_factor
    bucket = min(-(-length // TEXT_BUCKET) * TEXT_BUCKET, config.max_text_positions)
    if bucket > length:
        ids = tf.pad(ids, [[0, 0], [0, bucket - length]], constant_values=pad)
        mask = tf.pad(mask, [[0, 0], [0, bucket - length]])
    maxlen = min(int(length * maxlenratio / r), config.max_speech_positions)
    minlen = int(length * minlenratio / r)
    # transformers decodes until minlen even when minlenratio > maxlenratio
    steps = max(1, min(int(bucket * max(maxlenratio, minlenratio) / r),
                       config.max_speech_positions))
    key = (batch, bucket, steps, bool(prenet_dropout), bool(jit_compile))
    fn = model._compiled.get(key)
    if fn is None:
        run = _loop_fn(model, batch, bucket, steps, bool(prenet_dropout))
        if jit_compile:  # one notice line per compilation; the opt-in persistent XLA cache
            fn = AnnouncedFunction(run, lambda: (f"the SpeechT5 mel loop (batch {batch}, "
                                                 f"{bucket} tokens, {steps} steps)"))
        else:
            fn = tf.function(run, reduce_retracing=True)
        model._compiled[key] = fn
    if seed is None:
        seed = int(np.random.randint(0, 2 ** 31 - 1))
    spec, lengths = fn(ids, mask, speakers, tf.constant(threshold, tf.float32),
                       tf.constant(minlen, tf.int32), tf.constant(maxlen, tf.int32),
                       tf.constant(seed, tf.int32))
    lengths = [int(n) for n in lengths.numpy()]
    spec = spec[:, :max(lengths)]
    if vocoder is not None:
        wave = vocoder.synthesize(spec)
        if return_output_lengths:
            per_frame = int(wave.shape[1]) // max(lengths)
            return wave, [per_frame * n for n in lengths]
        return wave[0] if batch == 1 else wave
    if return_output_lengths:
        return spec, lengths
    return spec[0] if batch == 1 else spec
