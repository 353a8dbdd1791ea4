"""MobileBERT (Sun et al., 2020): a deep, thin BERT. Every layer squeezes its ``hidden_size``
input into an ``intra_bottleneck_size`` stream (a dense + norm; queries and keys get a second,
shared one), runs attention and ``num_feedforward_networks`` stacked feed-forward networks at
that width, and widens back with an output bottleneck around a residual of the layer input.
The norms are ``NoNorm`` (an elementwise ``x * weight + bias``) by default. Word embeddings
are ``embedding_size`` wide; with ``trigram_input`` each token's embedding is concatenated
with its right and left neighbours' before a dense maps them to the hidden size. The masked-LM
head projects onto the tied embeddings for the first ``embedding_size`` columns and onto a
``(hidden_size - embedding_size, vocab)`` matrix of its own for the rest. The heads are
BERT's: the classifiers read the pooler (tanh dense on [CLS], or [CLS] itself without
``classifier_activation``)."""

from __future__ import annotations

import dataclasses

import tensorflow as tf
from transformers import MobileBertConfig

from ..._keras import add_weight, keras, register_serializable, track_layers
from ...errors import ConfigError
from ...layers import Dense, Embedding, EncoderStack, FeedForward, LayerNorm, Pooler
from ...layers.attention import attend, merge_heads, split_heads
from ...layers.core import build_sublayers
from ...layers.specs import EncoderSpec
from ..bert.modeling import bert_spec
from ..encoder import (BaseModel, EncoderMainLayer, EncoderPreTrainedModel, MaskedLMModel,
                       MultipleChoiceModel, QuestionAnsweringModel,
                       SequenceClassificationModel, TokenClassificationModel)
from ..heads import MaskedLMHead
from . import convert

DEFAULT_EPS = 1e-5  # the norms transformers builds without passing layer_norm_eps


@dataclasses.dataclass
class MobileBertSpec(EncoderSpec):
    word_embedding_size: int = 128
    trigram_input: bool = True
    true_hidden_size: int = 128  # the bottleneck width when use_bottleneck
    use_bottleneck: bool = True
    use_bottleneck_attention: bool = False
    key_query_shared_bottleneck: bool = True
    num_feedforward_networks: int = 4
    normalization_type: str = "no_norm"
    classifier_activation: bool = True

    def make_norm(self, dim, name, eps=None):
        if self.normalization_type == "no_norm":
            return NoNorm(dim, name=name)
        return LayerNorm(dim, self.layer_norm_eps if eps is None else eps, name=name)


def mobilebert_spec(config) -> MobileBertSpec:
    if config.normalization_type not in ("no_norm", "layer_norm"):
        raise ConfigError(f"normalization_type={config.normalization_type!r}: MobileBERT "
                          "supports 'no_norm' and 'layer_norm'.")
    return MobileBertSpec(
        **dataclasses.asdict(bert_spec(config)), word_embedding_size=config.embedding_size,
        trigram_input=config.trigram_input, true_hidden_size=config.true_hidden_size,
        use_bottleneck=config.use_bottleneck,
        use_bottleneck_attention=config.use_bottleneck_attention,
        key_query_shared_bottleneck=config.key_query_shared_bottleneck,
        num_feedforward_networks=config.num_feedforward_networks,
        normalization_type=config.normalization_type,
        classifier_activation=config.classifier_activation)


@register_serializable()
class NoNorm(keras.layers.Layer):
    """MobileBERT's replacement for LayerNorm: ``x * weight + bias``."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)

    def build(self, input_shape=None):
        self.weight = add_weight(self, "weight", (self.dim,), "ones")
        self.bias = add_weight(self, "bias", (self.dim,), "zeros")
        self.built = True

    def call(self, x):
        return x * tf.cast(self.weight, x.dtype) + tf.cast(self.bias, x.dtype)


@register_serializable()
class Bottleneck(keras.layers.Layer):
    """dense -> norm (a change of width)."""

    def __init__(self, spec, in_dim, out_dim, **kwargs):
        super().__init__(**kwargs)
        self.dense = Dense(in_dim, out_dim, init_std=spec.init_std, name="dense")
        self.norm = spec.make_norm(out_dim, "norm")

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, residual=None):
        h = self.dense(x)
        return self.norm(h if residual is None else h + residual)


@register_serializable()
class MobileBertEmbeddings(keras.layers.Layer):
    """word (embedding_size) [-> trigram concat] -> dense to hidden, + positions + token
    types -> norm -> dropout."""

    def __init__(self, spec: MobileBertSpec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        e, h = spec.word_embedding_size, spec.hidden_size
        self.word_embeddings = Embedding(spec.vocab_size, e, spec.init_std,
                                         name="word_embeddings")
        self.position_embeddings = Embedding(spec.max_positions, h, spec.init_std,
                                             name="position_embeddings")
        self.token_type_embeddings = Embedding(spec.type_vocab_size, h, spec.init_std,
                                               name="token_type_embeddings")
        # always a weight (transformers' checkpoints carry it), used only when needed
        self.transform = Dense(e * (3 if spec.trigram_input else 1), h, init_std=spec.init_std,
                               name="transform")
        self.use_transform = spec.trigram_input or e != h
        self.norm = spec.make_norm(h, "norm", eps=DEFAULT_EPS)
        self.dropout = keras.layers.Dropout(spec.hidden_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
             training=False):
        x = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        if self.spec.trigram_input:  # [next token, token, previous token], zeros at the ends
            nxt = tf.pad(x[:, 1:], [[0, 0], [0, 1], [0, 0]])
            prev = tf.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0]])
            x = tf.concat([nxt, x, prev], axis=-1)
        if self.use_transform:
            x = self.transform(x)
        if position_ids is None:
            position_ids = tf.range(tf.shape(x)[1])[None, :]
        if token_type_ids is None:
            token_type_ids = tf.zeros(tf.shape(x)[:2], tf.int32)
        x = x + self.position_embeddings(position_ids) + self.token_type_embeddings(
            token_type_ids)
        return self.dropout(self.norm(x), training=training)


@register_serializable()
class MobileBertAttention(keras.layers.Layer):
    """Attention at the bottleneck width: queries and keys from one input, values from
    another (of ``value_dim`` columns); output dense + norm over ``residual``."""

    def __init__(self, spec: MobileBertSpec, value_dim, **kwargs):
        super().__init__(**kwargs)
        width = spec.true_hidden_size
        self.num_heads, self.head_dim = spec.num_heads, width // spec.num_heads
        inner = self.num_heads * self.head_dim
        self.query = Dense(width, inner, init_std=spec.init_std, name="query")
        self.key = Dense(width, inner, init_std=spec.init_std, name="key")
        self.value = Dense(value_dim, inner, init_std=spec.init_std, name="value")
        self.out = Dense(inner, width, init_std=spec.init_std, name="out")
        self.norm = spec.make_norm(width, "norm")
        self.attention_dropout = keras.layers.Dropout(spec.attention_dropout)
        self.dropout = (keras.layers.Dropout(spec.hidden_dropout) if not spec.use_bottleneck
                        else None)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, qk, v, residual, bias=None, training=False):
        q = split_heads(self.query(qk), self.num_heads, self.head_dim)
        k = split_heads(self.key(qk), self.num_heads, self.head_dim)
        v = split_heads(self.value(v), self.num_heads, self.head_dim)
        ctx, probs = attend(q, k, v, bias, self.attention_dropout, training)
        out = self.out(merge_heads(ctx))
        if self.dropout is not None:
            out = self.dropout(out, training=training)
        return self.norm(out + residual), probs


@register_serializable()
class StackedFFN(keras.layers.Layer):
    """``norm(x + down(act(up(x))))``: one of the extra feed-forward networks."""

    def __init__(self, spec: MobileBertSpec, **kwargs):
        super().__init__(**kwargs)
        self.ffn = FeedForward(spec.true_hidden_size, spec.intermediate_size, spec.activation,
                               spec.init_std, name="ffn")
        self.norm = spec.make_norm(spec.true_hidden_size, "norm")

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x):
        return self.norm(x + self.ffn(x))


@register_serializable()
class MobileBertLayer(keras.layers.Layer):
    """bottleneck in -> attention -> stacked FFNs -> FFN -> bottleneck out (+ layer input)."""

    def __init__(self, spec: MobileBertSpec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        h, w = spec.hidden_size, spec.true_hidden_size
        bottleneck = spec.use_bottleneck
        self.input_bottleneck = Bottleneck(spec, h, w, name="input_bottleneck") if bottleneck \
            else None
        self.shared_bottleneck = (Bottleneck(spec, h, w, name="shared_bottleneck")
                                  if bottleneck and spec.key_query_shared_bottleneck else None)
        value_dim = w if spec.use_bottleneck_attention or not bottleneck else h
        self.attention = MobileBertAttention(spec, value_dim, name="attention")
        self.ffns = track_layers(self, "stacked_ffn", [
            StackedFFN(spec, name=f"ffn_{i}") for i in range(spec.num_feedforward_networks - 1)])
        self.ffn = FeedForward(w, spec.intermediate_size, spec.activation, spec.init_std,
                               name="ffn")
        self.output_norm = spec.make_norm(w, "output_norm", eps=DEFAULT_EPS)
        self.output_bottleneck = Bottleneck(spec, w, h, name="output_bottleneck") if bottleneck \
            else None
        self.dropout = keras.layers.Dropout(spec.hidden_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        for f in self.ffns:
            f.build(None)
        self.built = True

    def attention_inputs(self, x):
        """(queries and keys, values, residual of the attention output)."""
        if self.input_bottleneck is None:
            return x, x, x
        squeezed = self.input_bottleneck(x)
        if self.spec.use_bottleneck_attention:
            return squeezed, squeezed, squeezed
        if self.shared_bottleneck is not None:
            return self.shared_bottleneck(x), x, squeezed
        return x, x, squeezed

    def call(self, x, bias=None, training=False):
        qk, v, residual = self.attention_inputs(x)
        a, probs = self.attention(qk, v, residual, bias=bias, training=training)
        for f in self.ffns:
            a = f(a)
        out = self.ffn(a)
        if self.output_bottleneck is None:
            return self.output_norm(self.dropout(out, training=training) + a), probs
        out = self.output_norm(out + a)
        widened = self.dropout(self.output_bottleneck.dense(out), training=training)
        return self.output_bottleneck.norm(widened + x), probs


@register_serializable()
class MobileBertStack(EncoderStack):
    block_class = MobileBertLayer


@register_serializable()
class FirstToken(keras.layers.Layer):
    """The pooler without ``classifier_activation``: the [CLS] hidden state as is."""

    def call(self, x):
        return x[:, 0]


@register_serializable()
class MobileBertMainLayer(EncoderMainLayer):
    @staticmethod
    def make_embeddings(spec):
        return MobileBertEmbeddings(spec, name="embeddings")

    @staticmethod
    def make_encoder(spec):
        return MobileBertStack(spec.num_layers, spec=spec, name="encoder")

    @staticmethod
    def make_pooler(spec):
        if spec.classifier_activation:
            return Pooler(spec.hidden_size, spec.init_std, name="pooler")
        return FirstToken(name="pooler")


@register_serializable()
class MobileBertLMHead(MaskedLMHead):
    """BERT's head whose output projection is ``[embeddings^T ; extra]``: the first
    ``embedding_size`` columns of the transformed states meet the (tied) word embeddings,
    the others a ``(hidden_size - embedding_size)``-row matrix of the head's own."""

    def __init__(self, spec: MobileBertSpec, tied=True, **kwargs):
        super().__init__(spec.hidden_size, spec.vocab_size, spec.activation,
                         spec.layer_norm_eps, tied=True, init_std=spec.init_std, **kwargs)
        self.embedding_size = spec.word_embedding_size
        if not tied:
            self.decoder = Dense(self.embedding_size, spec.vocab_size, use_bias=False,
                                 init_std=spec.init_std, name="decoder")
        self.extra = Dense(spec.vocab_size, spec.hidden_size - self.embedding_size,
                           use_bias=False, init_std=spec.init_std, name="extra")

    def build(self, input_shape=None):
        super().build(input_shape)
        self.extra.build(None)

    def call(self, hidden, embedding):
        h = self.norm(self.act(self.dense(hidden)))
        head, rest = h[..., : self.embedding_size], h[..., self.embedding_size:]
        logits = embedding.attend(head) if self.decoder is None else self.decoder(head)
        extra = tf.cast(self.extra.kernel, rest.dtype)  # (vocab, hidden - embedding_size)
        logits = logits + tf.einsum("...i,vi->...v", rest, extra)
        return logits + tf.cast(self.bias, logits.dtype)


class TFMobileBertPreTrainedModel(EncoderPreTrainedModel):
    config_class = MobileBertConfig
    base_model_prefix = "mobilebert"
    converter = convert
    main_layer_class = MobileBertMainLayer
    spec = staticmethod(mobilebert_spec)

    @property
    def tied_keys(self):
        return convert.tied_keys(self.config)


class TFMobileBertModel(BaseModel, TFMobileBertPreTrainedModel):
    hf_architecture = "MobileBertModel"


class TFMobileBertForSequenceClassification(SequenceClassificationModel,
                                            TFMobileBertPreTrainedModel):
    hf_architecture = "MobileBertForSequenceClassification"
    uses_pooler = True


class TFMobileBertForTokenClassification(TokenClassificationModel,
                                         TFMobileBertPreTrainedModel):
    hf_architecture = "MobileBertForTokenClassification"


class TFMobileBertForQuestionAnswering(QuestionAnsweringModel, TFMobileBertPreTrainedModel):
    hf_architecture = "MobileBertForQuestionAnswering"


class TFMobileBertForMultipleChoice(MultipleChoiceModel, TFMobileBertPreTrainedModel):
    hf_architecture = "MobileBertForMultipleChoice"

    def choice_head(self, config):
        return dict(super().choice_head(config),
                    dropout=SequenceClassificationModel.classifier_dropout(config))


class TFMobileBertForMaskedLM(MaskedLMModel, TFMobileBertPreTrainedModel):
    hf_architecture = "MobileBertForMaskedLM"

    def make_mlm_head(self, config, spec):
        return MobileBertLMHead(spec, tied=getattr(config, "tie_word_embeddings", True),
                                name="mlm")
