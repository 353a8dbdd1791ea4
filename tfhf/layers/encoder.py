"""The post-LayerNorm transformer encoder shared by BERT, RoBERTa and DistilBERT.

Families differ only in the names of their weights (their ``convert.py``), whether token
types exist, and how position ids are derived; those are constructor flags here.
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import keras, register_serializable, track_layers
from ..errors import ConfigError
from .activations import get_activation
from .attention import attend, merge_heads, split_heads
from .core import Dense, Embedding, LayerNorm
from .rotary import apply_rotary_interleaved


@register_serializable()
class TextEmbeddings(keras.layers.Layer):
    """Word + learned position (+ token type) embeddings, then LayerNorm and dropout.

    ``position_offset`` selects RoBERTa's scheme: positions count only non-pad tokens and
    start at ``padding_idx + 1``. ``max_positions=0``: no position table (RoFormer's positions
    are rotary, in the attention).
    """

    def __init__(self, vocab_size, hidden_size, max_positions, type_vocab_size=0,
                 layer_norm_eps=1e-12, dropout=0.0, init_std=0.02, padding_idx=None,
                 position_offset=False, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_positions = vocab_size, max_positions
        self.padding_idx, self.position_offset = padding_idx, position_offset
        self.word_embeddings = Embedding(vocab_size, hidden_size, init_std, name="word_embeddings")
        self.position_embeddings = (Embedding(max_positions, hidden_size, init_std,
                                              name="position_embeddings")
                                    if max_positions else None)
        self.token_type_embeddings = (Embedding(type_vocab_size, hidden_size, init_std,
                                                name="token_type_embeddings")
                                      if type_vocab_size else None)
        self.norm = LayerNorm(hidden_size, layer_norm_eps, name="LayerNorm")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        for layer in (self.word_embeddings, self.position_embeddings,
                      self.token_type_embeddings, self.norm):
            if layer is not None:
                layer.build(None)
        self.built = True

    def position_ids_for(self, input_ids, past_length=0):
        if self.position_offset:
            mask = tf.cast(tf.not_equal(input_ids, self.padding_idx), tf.int32)
            return (tf.cumsum(mask, axis=1) + past_length) * mask + self.padding_idx
        t = tf.shape(input_ids)[1]
        return tf.range(past_length, past_length + t)[None, :]

    def _position_ids(self, x, input_ids, position_ids):
        if position_ids is not None:
            return position_ids
        if input_ids is None:
            t = tf.shape(x)[1]
            offset = self.padding_idx + 1 if self.position_offset else 0
            return tf.range(offset, offset + t)[None, :]
        return self.position_ids_for(input_ids)

    def call(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
             training=False):
        x = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        if self.position_embeddings is not None:
            x = x + self.position_embeddings(self._position_ids(x, input_ids, position_ids))
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = tf.zeros(tf.shape(x)[:2], tf.int32)
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.norm(x), training=training)


@register_serializable()
class SelfAttention(keras.layers.Layer):
    """Q/K/V projections, scaled dot-product attention (:func:`~tfhf.layers.attention.attend`),
    output projection. ``rotary`` (a ``(sin, cos)`` pair, RoFormer) rotates queries and keys,
    and values too with ``rotary_value``."""

    def __init__(self, hidden_size, num_heads, dropout=0.0, init_std=0.02, rotary_value=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.rotary_value = rotary_value
        if hidden_size % num_heads:
            raise ConfigError(f"hidden_size={hidden_size} is not a multiple of "
                              f"num_attention_heads={num_heads}.")
        self.hidden_size, self.num_heads = hidden_size, num_heads
        self.head_dim = hidden_size // num_heads
        self.query = Dense(hidden_size, hidden_size, init_std=init_std, name="query")
        self.key = Dense(hidden_size, hidden_size, init_std=init_std, name="key")
        self.value = Dense(hidden_size, hidden_size, init_std=init_std, name="value")
        self.out = Dense(hidden_size, hidden_size, init_std=init_std, name="out")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        for d in (self.query, self.key, self.value, self.out):
            d.build(None)
        self.built = True

    def call(self, x, bias=None, training=False, rotary=None):
        q = split_heads(self.query(x), self.num_heads, self.head_dim)
        k = split_heads(self.key(x), self.num_heads, self.head_dim)
        v = split_heads(self.value(x), self.num_heads, self.head_dim)
        if rotary is not None:
            q, k = (apply_rotary_interleaved(t, *rotary) for t in (q, k))
            if self.rotary_value:
                v = apply_rotary_interleaved(v, *rotary)
        ctx, probs = attend(q, k, v, bias, self.dropout, training, bfloat16_softmax=True)
        return self.out(merge_heads(ctx)), probs


@register_serializable()
class FeedForward(keras.layers.Layer):
    """``down(act(up(x)))``."""

    def __init__(self, hidden_size, intermediate_size, activation, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.up = Dense(hidden_size, intermediate_size, init_std=init_std, name="up")
        self.down = Dense(intermediate_size, hidden_size, init_std=init_std, name="down")
        self.act = get_activation(activation)

    def build(self, input_shape=None):
        self.up.build(None)
        self.down.build(None)
        self.built = True

    def call(self, x):
        return self.down(self.act(self.up(x)))


@register_serializable()
class EncoderBlock(keras.layers.Layer):
    """``x = LN(x + Attn(x)); x = LN(x + FFN(x))`` (post-LayerNorm, as in BERT).

    ``attention_output_dropout=False`` drops the dropout on the attention output
    (DistilBERT applies dropout only after the feed-forward block). ``attention`` replaces
    :class:`SelfAttention` by another layer returning ``(output, probs)`` (DeBERTa's
    disentangled attention); ``call``'s extra keyword arguments go to it.
    """

    def __init__(self, hidden_size, num_heads, intermediate_size, activation="gelu",
                 layer_norm_eps=1e-12, hidden_dropout=0.0, attention_dropout=0.0,
                 init_std=0.02, attention_output_dropout=True, attention=None, rotary_value=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.attention_output_dropout = attention_output_dropout
        self.attention = attention or SelfAttention(hidden_size, num_heads, attention_dropout,
                                                    init_std, rotary_value=rotary_value,
                                                    name="attention")
        self.attention_norm = LayerNorm(hidden_size, layer_norm_eps, name="attention_norm")
        self.ffn = FeedForward(hidden_size, intermediate_size, activation, init_std, name="ffn")
        self.output_norm = LayerNorm(hidden_size, layer_norm_eps, name="output_norm")
        self.dropout = keras.layers.Dropout(hidden_dropout)

    def build(self, input_shape=None):
        for layer in (self.attention, self.attention_norm, self.ffn, self.output_norm):
            layer.build(None)
        self.built = True

    def call(self, x, bias=None, training=False, **attention_kwargs):
        a, probs = self.attention(x, bias=bias, training=training, **attention_kwargs)
        if self.attention_output_dropout:
            a = self.dropout(a, training=training)
        x = self.attention_norm(x + a)
        h = self.ffn(x)
        x = self.output_norm(x + self.dropout(h, training=training))
        return x, probs


@register_serializable()
class EncoderStack(keras.layers.Layer):
    """A list of encoder blocks; collects hidden states and attentions on request.

    ``layer_groups`` > 0 shares weights as ALBERT does: the ``num_layers`` steps run through
    ``layer_groups`` groups of ``blocks_per_group`` blocks (step i uses group
    ``i * layer_groups // num_layers``), so only ``layer_groups * blocks_per_group`` blocks
    exist. ``block_class`` makes the blocks (a subclass sets another: the pre-norm ViT layer).
    """

    block_class = EncoderBlock

    def __init__(self, num_layers, layer_groups=0, blocks_per_group=1, **block_kwargs):
        name = block_kwargs.pop("name", None)
        super().__init__(name=name)
        self.num_layers, self.layer_groups = num_layers, layer_groups
        self.blocks_per_group = blocks_per_group if layer_groups else 1
        count = layer_groups * blocks_per_group if layer_groups else num_layers
        self.blocks = track_layers(self, "layer", [
            self.block_class(name=f"layer_{i}", **block_kwargs) for i in range(count)])

    def schedule(self):
        """The blocks in the order they run."""
        if not self.layer_groups:
            return list(self.blocks)
        n = self.blocks_per_group
        return [self.blocks[(i * self.layer_groups // self.num_layers) * n + j]
                for i in range(self.num_layers) for j in range(n)]

    def build(self, input_shape=None):
        for b in self.blocks:
            b.build(None)
        self.built = True

    def call(self, x, bias=None, output_hidden_states=False, output_attentions=False,
             training=False, rotary=None):
        hidden, attns = [], []
        extra = {} if rotary is None else {"rotary": rotary}  # (sin, cos): RoFormer
        for block in self.schedule():
            if output_hidden_states:
                hidden.append(x)
            x, probs = block(x, bias=bias, training=training, **extra)
            if output_attentions:
                attns.append(probs)
        if output_hidden_states:
            hidden.append(x)
        return x, (tuple(hidden) if output_hidden_states else None), (
            tuple(attns) if output_attentions else None)


@register_serializable()
class Pooler(keras.layers.Layer):
    """tanh(dense(first token))."""

    def __init__(self, hidden_size, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.dense = Dense(hidden_size, hidden_size, init_std=init_std, name="dense")

    def build(self, input_shape=None):
        self.dense.build(None)
        self.built = True

    def call(self, x):
        return tf.tanh(self.dense(x[:, 0]))
