"""Task head layers shared by families: classification on the first token or the pooled
output (BERT-style encoders, BART), per-token projections (token classification, QA span
logits) and the masked-LM head. The task models that use them are in
:mod:`tfhf.models.encoder`."""

from __future__ import annotations

import tensorflow as tf

from .._keras import add_weight, keras, register_serializable
from ..layers import Dense, LayerNorm, get_activation


@register_serializable()
class ClassificationHead(keras.layers.Layer):
    """[dropout] -> [dense -> activation -> dropout] -> out, on the pooled output or first token.

    ``input_dropout=False`` skips the first dropout (DistilBERT's pre_classifier sees the
    first token as is). ``token_index`` picks another token than the first (-1: the last).
    """

    def __init__(self, hidden_size, num_labels, dropout=0.1, inner_activation=None,
                 use_pooled=False, init_std=0.02, input_dropout=True, token_index=0, **kwargs):
        super().__init__(**kwargs)
        self.use_pooled, self.input_dropout = use_pooled, input_dropout
        self.token_index = token_index
        self.dense = (Dense(hidden_size, hidden_size, init_std=init_std, name="dense")
                      if inner_activation else None)
        self.act = get_activation(inner_activation) if inner_activation else None
        self.out = Dense(hidden_size, num_labels, init_std=init_std, name="out")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        if self.dense is not None:
            self.dense.build(None)
        self.out.build(None)
        self.built = True

    def call(self, hidden, pooled=None, training=False):
        x = pooled if self.use_pooled else hidden[:, self.token_index]
        if self.dense is not None:
            if self.input_dropout:
                x = self.dropout(x, training=training)
            x = self.act(self.dense(x))
        return self.out(self.dropout(x, training=training))


@register_serializable()
class TokenHead(keras.layers.Layer):
    """Dropout then a per-token dense projection (token classification, QA span logits)."""

    def __init__(self, hidden_size, num_outputs, dropout=0.1, init_std=0.02, use_bias=True,
                 **kwargs):
        super().__init__(**kwargs)
        self.out = Dense(hidden_size, num_outputs, use_bias=use_bias, init_std=init_std,
                         name="out")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        self.out.build(None)
        self.built = True

    def call(self, hidden, training=False):
        return self.out(self.dropout(hidden, training=training))


@register_serializable()
class MaskedLMHead(keras.layers.Layer):
    """dense -> activation -> LayerNorm -> tied (or own) vocabulary projection + bias.

    ``embedding_size`` (factorized embeddings: ELECTRA's generator, ALBERT) is the width of
    the dense output and of the word-embedding table it projects onto.
    """

    def __init__(self, hidden_size, vocab_size, activation="gelu", layer_norm_eps=1e-12,
                 tied=True, init_std=0.02, embedding_size=None, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        width = embedding_size or hidden_size
        self.dense = Dense(hidden_size, width, init_std=init_std, name="dense")
        self.act = get_activation(activation)
        self.norm = LayerNorm(width, layer_norm_eps, name="norm")
        self.decoder = None if tied else Dense(width, vocab_size, use_bias=False,
                                               init_std=init_std, name="decoder")

    def build(self, input_shape=None):
        self.dense.build(None)
        self.norm.build(None)
        if self.decoder is not None:
            self.decoder.build(None)
        self.bias = add_weight(self, "bias", (self.vocab_size,), "zeros")
        self.built = True

    def call(self, hidden, embedding):
        h = self.norm(self.act(self.dense(hidden)))
        logits = embedding.attend(h) if self.decoder is None else self.decoder(h)
        return logits + tf.cast(self.bias, logits.dtype)


@register_serializable()
class TokenScoreHead(keras.layers.Layer):
    """dense -> activation -> a (hidden, 1) dense on every token: one score per token
    (ELECTRA's replaced-token discriminator). Returns (batch, length)."""

    def __init__(self, hidden_size, activation="gelu", init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.dense = Dense(hidden_size, hidden_size, init_std=init_std, name="dense")
        self.act = get_activation(activation)
        self.out = Dense(hidden_size, 1, init_std=init_std, name="out")

    def build(self, input_shape=None):
        self.dense.build(None)
        self.out.build(None)
        self.built = True

    def call(self, hidden):
        return self.out(self.act(self.dense(hidden)))[..., 0]
