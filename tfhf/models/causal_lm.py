"""Decoder-only language models: the backbone shared by the decoder families and
:class:`TFCausalLMBase`, the model/generation contract of docs/generation-design.md.

A family describes itself with a :class:`~tfhf.layers.decoder.DecoderSpec` built from its
transformers config and picks its classes by mixing its ``TF<Family>PreTrainedModel`` with
:class:`TFDecoderModel` (the bare backbone) or :class:`TFCausalLMBase` (backbone + LM head):

* ``model(input_ids, attention_mask=None, position_ids=None, labels=None)`` -> logits
  (float32) and the shifted next-token loss when labels are given. Without
  ``position_ids`` positions are ``cumsum(attention_mask) - 1`` (0 on padding), so a
  left-padded batch gets the positions generation uses (transformers' plain forward uses
  ``arange`` whatever the mask);
* ``init_cache(batch, max_length)`` / ``forward_with_cache(input_ids, position_ids,
  attention_mask, cache, cache_index)`` -> ``(logits, cache)`` with a static cache: a tuple
  of one ``(keys, values)`` pair per layer, each ``(batch, kv_heads, max_length, head_dim)``
  in the compute dtype (``cache_batch_axis = 0``).
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import keras, register_serializable, track_layers
from ..errors import InvalidInputError
from ..generation import TFGenerationMixin
from ..layers.attention import causal_bias
from ..layers.core import Dense, Embedding
from ..layers.decoder import DecoderBlock
from ..layers.rotary import RotaryEmbedding
from ..layers.specs import DecoderSpec
from ..training import losses
from .. import outputs
from .base import TFPreTrainedModel
from .inputs import check_mask_shape, check_token_ids, mask_or_ones, reject_unexpected


def default_position_ids(attention_mask):
    """``cumsum(mask) - 1``, clipped at 0: positions that skip left padding."""
    mask = tf.cast(attention_mask, tf.int32)
    return tf.maximum(tf.cumsum(mask, axis=-1) - 1, 0)


@register_serializable()
class DecoderMainLayer(keras.layers.Layer):
    """Token (+ learned position) embeddings -> decoder blocks -> final norm."""

    def __init__(self, spec: DecoderSpec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.embed_tokens = Embedding(spec.vocab_size, spec.hidden_size, spec.init_std,
                                      name="embed_tokens")
        self.embed_positions = (Embedding(spec.max_positions, spec.hidden_size, spec.init_std,
                                          name="embed_positions")
                                if spec.learned_positions else None)
        self.embed_dropout = (keras.layers.Dropout(spec.embedding_dropout)
                              if spec.embedding_dropout else None)
        self.blocks = track_layers(self, "block", [DecoderBlock(spec, i, name=f"block_{i}")
                                                   for i in range(spec.num_layers)])
        self.norm = spec.make_norm("norm")
        # one rotary table per distinct rope setting (Gemma 3: local and global layers)
        self._rotary = {}
        if not spec.learned_positions:
            for layer_type in sorted(set(spec.layer_types)):
                self._rotary[layer_type] = RotaryEmbedding(
                    spec.rope[layer_type], spec.head_dim, spec.max_positions)

    def build(self, input_shape=None):
        for layer in (self.embed_tokens, self.embed_positions, self.norm, *self.blocks):
            if layer is not None and not layer.built:
                layer.build(None)
        self.built = True

    def call(self, input_ids, position_ids, attention_mask, cache=None, cache_index=0,
             output_hidden_states=False, training=False):
        spec = self.spec
        x = self.embed_tokens(input_ids)
        if spec.embed_scale is not None:
            x = x * tf.cast(spec.embed_scale, x.dtype)
        if self.embed_positions is not None:
            x = x + self.embed_positions(position_ids)
        if self.embed_dropout is not None:
            x = self.embed_dropout(x, training=training)
        t = tf.shape(input_ids)[1]
        types = sorted(set(spec.layer_types))
        biases = {lt: causal_bias(attention_mask, cache_index, t, spec.window(lt))
                  for lt in types}
        tables, rope = {}, {}
        for lt, rotary in self._rotary.items():
            key = rotary.key()
            if key not in tables:
                tables[key] = rotary.cos_sin(position_ids, x.dtype)
            rope[lt] = tables[key]
        hidden = [x] if output_hidden_states else None
        new_cache = []
        for i, block in enumerate(self.blocks):
            cos, sin = rope.get(block.layer_type, (None, None))
            x, layer_cache = block(x, cos, sin, biases[block.layer_type],
                                   cache=None if cache is None else cache[i],
                                   cache_index=cache_index, training=training)
            new_cache.append(layer_cache)
            if hidden is not None:
                hidden.append(x)
        cache = None if cache is None else tuple(new_cache)
        x = self.norm(x)
        if hidden is not None:
            hidden[-1] = x  # as transformers: the last hidden state is the normed one
        return x, cache, hidden


class TFDecoderPreTrainedModel(TFPreTrainedModel):
    """A model whose backbone is :class:`DecoderMainLayer`; families set ``spec(config)``."""

    model_input_names = ("input_ids", "attention_mask", "position_ids")

    @staticmethod
    def spec(config) -> DecoderSpec:  # pragma: no cover - families override
        raise NotImplementedError

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.decoder_spec = self.spec(config)
        setattr(self, self.base_model_prefix,
                DecoderMainLayer(self.decoder_spec, name=self.base_model_prefix))

    @property
    def main_layer(self):
        return getattr(self, self.base_model_prefix)

    def get_input_embeddings(self):
        return self.main_layer.embed_tokens

    @property
    def tied_keys(self):
        """Checkpoint names that are not weights here: a tied head, old buffers."""
        keys = set(getattr(self.converter, "ignored_keys", lambda c: ())(self.config))
        if self.decoder_spec.tie_word_embeddings:
            keys.add("lm_head.weight")
        return keys

    # ------------------------------------------------------------------ inputs
    def _check_inputs(self, input_ids, attention_mask, position_ids, extra):
        reject_unexpected(self, extra, self.model_input_names)
        if input_ids is None:
            raise InvalidInputError("Pass input_ids to the model.")
        spec = self.decoder_spec
        input_ids = tf.cast(check_token_ids(
            input_ids, spec.vocab_size,
            max_length=spec.max_positions if spec.learned_positions else None,
            length_note=". Truncate the input."), tf.int32)
        attention_mask = mask_or_ones(attention_mask, input_ids)
        check_mask_shape(attention_mask, input_ids)
        if position_ids is None:
            position_ids = default_position_ids(attention_mask)
        else:
            position_ids = tf.cast(tf.convert_to_tensor(position_ids), tf.int32)
        return input_ids, attention_mask, position_ids

    def _run(self, input_ids, attention_mask, position_ids, output_hidden_states, training,
             extra):
        input_ids, attention_mask, position_ids = self._check_inputs(
            input_ids, attention_mask, position_ids, extra)
        if output_hidden_states is None:
            output_hidden_states = getattr(self.config, "output_hidden_states", False)
        x, _, hidden = self.main_layer(input_ids, position_ids, attention_mask,
                                       output_hidden_states=bool(output_hidden_states),
                                       training=training)
        return x, (tuple(hidden) if hidden is not None else None)


class TFDecoderModel(TFDecoderPreTrainedModel):
    """The bare decoder: ``last_hidden_state`` (after the final norm) and ``hidden_states``."""

    task = None

    def call(self, input_ids=None, attention_mask=None, position_ids=None,
             output_hidden_states=None, return_dict=None, training=False, **kwargs):
        input_ids, kwargs = self._unpack(input_ids, dict(attention_mask=attention_mask,
                                                         position_ids=position_ids, **kwargs))
        mask, pos = kwargs.pop("attention_mask"), kwargs.pop("position_ids")
        x, hidden = self._run(input_ids, mask, pos, output_hidden_states, training, kwargs)
        return self._finish(outputs.TFBaseModelOutput(last_hidden_state=x, hidden_states=hidden),
                            return_dict)


class TFCausalLMBase(TFGenerationMixin, TFDecoderPreTrainedModel):
    """Backbone + LM head (tied to the token embeddings when ``tie_word_embeddings``)."""

    task = "causal_lm"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.decoder_spec
        self.lm_head = (None if spec.tie_word_embeddings else
                        Dense(spec.hidden_size, spec.vocab_size, use_bias=False,
                              init_std=spec.init_std, name="lm_head"))

    @property
    def label_names(self):
        return ("labels",)

    def lm_logits(self, x):
        """Final hidden states -> float32 logits (soft-capped where the family does)."""
        if self.lm_head is None:
            logits = self.main_layer.embed_tokens.attend(x)
        else:
            logits = self.lm_head(x)
        logits = tf.cast(logits, tf.float32)
        cap = self.decoder_spec.final_softcap
        if cap is not None:
            logits = tf.tanh(logits / cap) * cap
        return logits

    def call(self, input_ids=None, attention_mask=None, position_ids=None, labels=None,
             output_hidden_states=None, return_dict=None, training=False, **kwargs):
        input_ids, kwargs = self._unpack(input_ids, dict(
            attention_mask=attention_mask, position_ids=position_ids, labels=labels, **kwargs))
        mask, pos = kwargs.pop("attention_mask"), kwargs.pop("position_ids")
        labels = kwargs.pop("labels")
        x, hidden = self._run(input_ids, mask, pos, output_hidden_states, training, kwargs)
        logits = self.lm_logits(x)
        loss = None if labels is None else losses.causal_lm_loss(tf.convert_to_tensor(labels),
                                                                 logits)
        return self._finish(outputs.TFCausalLMOutputWithPast(loss=loss, logits=logits,
                                                       hidden_states=hidden), return_dict)

    # ------------------------------------------------------------------ cache contract
    # the loop reorders / repeats cache rows along this axis of every cache tensor
    cache_batch_axis = 0

    @property
    def cache_dtype(self):
        return tf.as_dtype(self.main_layer.compute_dtype)

    def init_cache(self, batch_size, max_length):
        """One ``(keys, values)`` pair of zeros per layer, each (batch, kv_heads, max_length,
        head_dim) in the compute dtype. Separate buffers let every layer update its own slot
        in place inside the compiled decode loop."""
        s = self.decoder_spec
        shape = [batch_size, s.num_kv_heads, max_length, s.head_dim]
        return tuple((tf.zeros(shape, self.cache_dtype), tf.zeros(shape, self.cache_dtype))
                     for _ in range(s.num_layers))

    def forward_with_cache(self, input_ids, position_ids, attention_mask, cache, cache_index):
        """Run ``input_ids`` (batch, t) at cache slots ``cache_index ... cache_index + t - 1``.

        ``position_ids`` (batch, t) are their absolute positions, ``attention_mask``
        (batch, max_length) marks the slots that hold (or will hold) real tokens. The new
        keys/values are written into ``cache`` in place (XLA dynamic-update-slice); query i
        attends to slot j iff ``mask[:, j] == 1`` and ``j <= cache_index + i`` (and, in a
        sliding-window layer, ``cache_index + i - j < window``).
        Returns ``(logits (batch, t, vocab) float32, cache)``.
        """
        if not self.built:
            self.build_weights()
        x, cache, _ = self.main_layer(tf.cast(input_ids, tf.int32),
                                      tf.cast(position_ids, tf.int32),
                                      tf.cast(attention_mask, tf.int32), cache=cache,
                                      cache_index=tf.cast(cache_index, tf.int32))
        return self.lm_logits(x), cache

