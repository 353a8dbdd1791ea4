"""Funnel Transformer (Dai et al., 2020): an encoder whose blocks (``block_sizes``) run on a
sequence mean-pooled by 2 between blocks, with relative attention
(:mod:`tfhf.models.funnel.attention`) instead of position embeddings. The full model
(:class:`TFFunnelModel`) adds a decoder: the last block's states are repeated back to the
input length, added to the first block's output and run through ``num_decoder_layers``
more layers, so token-level heads (masked LM, token classification, QA, the ELECTRA-style
discriminator) see every token. Sequence classification and multiple choice read the first
token of the pooled encoder (:class:`TFFunnelBaseModel`, no decoder) through dense + tanh.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf
from transformers import FunnelConfig

from ... import outputs
from ..._keras import add_weight, keras, register_serializable, track_layers
from ...errors import ConfigError
from ...layers import Dense, Embedding, LayerNorm
from ...layers.core import build_sublayers
from ...training import losses
from ..encoder import (BaseModel, EncoderPreTrainedModel, MultipleChoiceModel,
                       QuestionAnsweringModel, ReplacedTokenDetectionModel,
                       SequenceClassificationModel, TokenClassificationModel,
                       check_encoder_inputs)
from . import convert
from .attention import AttentionStructure, FunnelLayer, length_of, pick

TOKEN_TYPES = 3  # segment A, segment B, <cls>


def head_dropout(config):
    return config.hidden_dropout  # Funnel's heads use the hidden dropout


@dataclass
class FunnelSpec:
    vocab_size: int
    hidden_size: int
    num_heads: int
    head_dim: int
    intermediate_size: int
    block_sizes: tuple
    block_repeats: tuple
    num_decoder_layers: int
    activation: str
    hidden_dropout: float
    attention_dropout: float
    activation_dropout: float
    layer_norm_eps: float
    init_std: float
    pooling_type: str
    attention_type: str
    separate_cls: bool
    truncate_seq: bool
    pool_q_only: bool
    max_positions: int = 0  # no position table: any length runs
    type_vocab_size: int = TOKEN_TYPES

    def max_length(self):
        return None


def funnel_spec(config) -> FunnelSpec:
    if config.attention_type not in ("relative_shift", "factorized"):
        raise ConfigError(f"attention_type={config.attention_type!r}: Funnel supports "
                          "'relative_shift' and 'factorized'.")
    if config.pooling_type not in ("mean", "max", "min"):
        raise ConfigError(f"pooling_type={config.pooling_type!r}: Funnel supports 'mean', "
                          "'max' and 'min'.")
    repeats = config.block_repeats or [1] * len(config.block_sizes)
    return FunnelSpec(
        config.vocab_size, config.d_model, config.n_head, config.d_head, config.d_inner,
        tuple(config.block_sizes), tuple(repeats), config.num_decoder_layers,
        config.hidden_act, config.hidden_dropout, config.attention_dropout,
        config.activation_dropout, config.layer_norm_eps, config.initializer_std or 0.02,
        config.pooling_type, config.attention_type, config.separate_cls, config.truncate_seq,
        config.pool_q_only)


@register_serializable()
class FunnelEmbeddings(keras.layers.Layer):
    """Word embeddings -> LayerNorm -> dropout (no positions: the attention is relative)."""

    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.word_embeddings = Embedding(spec.vocab_size, spec.hidden_size, spec.init_std,
                                         name="word_embeddings")
        self.layer_norm = LayerNorm(spec.hidden_size, spec.layer_norm_eps, name="layer_norm")
        self.dropout = keras.layers.Dropout(spec.hidden_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, input_ids=None, inputs_embeds=None, training=False):
        x = self.word_embeddings(input_ids) if inputs_embeds is None else tf.cast(
            inputs_embeds, self.compute_dtype)
        return self.dropout(self.layer_norm(x), training=training)


@register_serializable()
class FunnelEncoder(keras.layers.Layer):
    """The blocks; the first layer of every block but the first pools the sequence
    (when it is still longer than the ``<cls>`` plus one token)."""

    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.structure = AttentionStructure(spec, name="structure")
        self.block_of = [b for b, size in enumerate(spec.block_sizes) for _ in range(size)]
        self.blocks = track_layers(self, "layer", [
            FunnelLayer(spec, b, name=f"layer_{i}") for i, b in enumerate(self.block_of)])

    def build(self, input_shape=None):
        for layer in self.blocks:
            layer.build(None)
        self.built = True

    def call(self, x, attention_mask, token_type_ids, training=False):
        spec = self.spec
        att = self.structure.initial(x, attention_mask, token_type_ids, training)
        hidden, attns, start = [x], [], 0
        for b, size in enumerate(spec.block_sizes):
            layers = self.blocks[start:start + size]
            start += size
            for i, layer in enumerate(layers):
                for repeat in range(spec.block_repeats[b]):
                    if b > 0 and i == 0 and repeat == 0:
                        x, att, probs = self._pooling_step(layer, x, att, training)
                    else:
                        x, probs = layer(x, x, att, training=training)
                    hidden.append(x)
                    attns.append(probs)
        return x, hidden, attns

    def _pooling_step(self, layer, x, att, training):
        structure, pool_q_only = self.structure, self.spec.pool_q_only

        def pooled():
            q, att_q = structure.before_attention(x, att)
            out, probs = layer(q, x if pool_q_only else q, att_q,
                               shift=2 if pool_q_only else 1, training=training)
            return out, structure.after_attention(att_q), probs

        def unpooled():
            out, probs = layer(x, x, att, training=training)
            return out, att, probs

        length = length_of(x)
        return pick(length > (2 if self.spec.separate_cls else 1), pooled, unpooled)


def upsample(x, stride, target_len, separate_cls, truncate_seq):
    """Repeat every token ``stride`` times back to ``target_len`` (``<cls>`` kept apart)."""
    if stride == 1:
        return x
    cls = x[:, :1]
    if separate_cls:
        x = x[:, 1:]
    out = tf.repeat(x, stride, axis=1)
    if not separate_cls:
        return out[:, :target_len]
    if truncate_seq:
        out = tf.pad(out, [[0, 0], [0, stride - 1], [0, 0]])
    return tf.concat([cls, out[:, :target_len - 1]], 1)


@register_serializable()
class FunnelDecoder(keras.layers.Layer):
    """Upsampled last block + first block's output, then full-length layers."""

    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.structure = AttentionStructure(spec, name="structure")
        self.blocks = track_layers(self, "layer", [
            FunnelLayer(spec, 0, name=f"layer_{i}") for i in range(spec.num_decoder_layers)])

    def build(self, input_shape=None):
        for layer in self.blocks:
            layer.build(None)
        self.built = True

    def call(self, final, first_block, attention_mask, token_type_ids, training=False):
        spec = self.spec
        x = first_block + upsample(final, 2 ** (len(spec.block_sizes) - 1),
                                   length_of(first_block), spec.separate_cls, spec.truncate_seq)
        att = self.structure.initial(x, attention_mask, token_type_ids, training)
        hidden, attns = [x], []
        for layer in self.blocks:
            x, probs = layer(x, x, att, training=training)
            hidden.append(x)
            attns.append(probs)
        return x, hidden, attns


@register_serializable()
class FunnelMainLayer(keras.layers.Layer):
    """Embeddings -> encoder -> decoder (FunnelModel); checks its inputs. Returns ``(last
    hidden, None, hidden states, attentions)`` as :class:`~tfhf.models.encoder.EncoderMainLayer`
    does (there is no pooler)."""

    with_decoder = True

    def __init__(self, spec, with_pooler=False, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.embeddings = FunnelEmbeddings(spec, name="embeddings")
        self.encoder = FunnelEncoder(spec, name="encoder")
        self.decoder = FunnelDecoder(spec, name="decoder") if self.with_decoder else None

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None,
             inputs_embeds=None, output_hidden_states=False, output_attentions=False,
             training=False):
        input_ids, attention_mask, token_type_ids = check_encoder_inputs(
            self.spec, input_ids, attention_mask, token_type_ids, inputs_embeds)
        if token_type_ids is None:
            token_type_ids = tf.zeros_like(attention_mask, tf.int32)
        x = self.embeddings(input_ids, inputs_embeds=inputs_embeds, training=training)
        mask = tf.cast(attention_mask, x.dtype)
        x, hidden, attns = self.encoder(x, mask, token_type_ids, training=training)
        if self.decoder is not None:
            x, dec_hidden, dec_attns = self.decoder(
                x, hidden[self.spec.block_sizes[0]], mask, token_type_ids, training=training)
            hidden, attns = hidden + dec_hidden, attns + dec_attns
        return (x, None, tuple(hidden) if output_hidden_states else None,
                tuple(attns) if output_attentions else None)


@register_serializable()
class FunnelEncoderMainLayer(FunnelMainLayer):
    """Embeddings -> encoder, no decoder (FunnelBaseModel): the pooled sequence."""

    with_decoder = False


# ---------------------------------------------------------------------------- task models
class TFFunnelPreTrainedModel(EncoderPreTrainedModel):
    config_class = FunnelConfig
    base_model_prefix = "funnel"
    converter = convert
    spec = staticmethod(funnel_spec)
    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "inputs_embeds")
    main_layer_class = FunnelMainLayer  # FunnelModel underneath; or FunnelEncoderMainLayer

    def _uses_pooler(self):
        return False

    def weight_table(self):
        table = super().weight_table()
        if self.main_layer_class.with_decoder:
            return table
        return {k: v for k, v in table.items()
                if not v.startswith(f"{self.base_model_prefix}.decoder.")}

    @property
    def tied_keys(self):
        return convert.tied_keys(self.config) if self.task == "masked_lm" else ()


class TFFunnelBaseModel(BaseModel, TFFunnelPreTrainedModel):
    hf_architecture = "FunnelBaseModel"
    main_layer_class = FunnelEncoderMainLayer


class TFFunnelModel(BaseModel, TFFunnelPreTrainedModel):
    hf_architecture = "FunnelModel"

    @classmethod
    def auto_class(cls, config):
        # transformers' AutoModel: FunnelBaseModel for a checkpoint saved as one (small-base)
        if "FunnelBaseModel" in (getattr(config, "architectures", None) or ()):
            return TFFunnelBaseModel
        return cls


class TFFunnelForSequenceClassification(SequenceClassificationModel, TFFunnelPreTrainedModel):
    hf_architecture = "FunnelForSequenceClassification"
    main_layer_class = FunnelEncoderMainLayer
    classifier_activation = "tanh"  # linear_hidden -> tanh -> dropout -> linear_out
    classifier_input_dropout = False
    classifier_dropout = staticmethod(head_dropout)


class TFFunnelForMultipleChoice(MultipleChoiceModel, TFFunnelPreTrainedModel):
    hf_architecture = "FunnelForMultipleChoice"
    main_layer_class = FunnelEncoderMainLayer

    def choice_head(self, config):  # the sequence-classification head with one output
        return dict(dropout=head_dropout(config), inner_activation="tanh", use_pooled=False,
                    input_dropout=False)


class TFFunnelForTokenClassification(TokenClassificationModel, TFFunnelPreTrainedModel):
    hf_architecture = "FunnelForTokenClassification"
    classifier_dropout = staticmethod(head_dropout)


class TFFunnelForQuestionAnswering(QuestionAnsweringModel, TFFunnelPreTrainedModel):
    hf_architecture = "FunnelForQuestionAnswering"


@register_serializable()
class OutputProjection(keras.layers.Layer):
    """Hidden states onto the vocabulary: the word embeddings (tied) or an own kernel, plus
    a bias (HF ``lm_head``, a plain Linear)."""

    def __init__(self, hidden_size, vocab_size, tied=True, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.decoder = None if tied else Dense(hidden_size, vocab_size, use_bias=False,
                                               init_std=init_std, name="decoder")

    def build(self, input_shape=None):
        if self.decoder is not None:
            self.decoder.build(None)
        self.bias = add_weight(self, "bias", (self.vocab_size,), "zeros")
        self.built = True

    def call(self, hidden, embedding):
        logits = embedding.attend(hidden) if self.decoder is None else self.decoder(hidden)
        return logits + tf.cast(self.bias, logits.dtype)


class TFFunnelForMaskedLM(TFFunnelPreTrainedModel):
    hf_architecture = "FunnelForMaskedLM"
    task = "masked_lm"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.spec(config)
        self.lm_head = OutputProjection(spec.hidden_size, spec.vocab_size,
                                        tied=getattr(config, "tie_word_embeddings", True),
                                        init_std=spec.init_std, name="lm_head")

    def call(self, input_ids=None, attention_mask=None, labels=None, output_hidden_states=None,
             output_attentions=None, return_dict=None, training=False, **inputs):
        x, _, hidden, attns, lab = self._forward(
            input_ids, dict(attention_mask=attention_mask, labels=labels, **inputs), ("labels",),
            output_hidden_states, output_attentions, training)
        logits = tf.cast(self.lm_head(x, embedding=self.get_input_embeddings()), tf.float32)
        loss = None if lab["labels"] is None else losses.masked_sparse_ce(lab["labels"], logits)
        return self._finish(outputs.TFMaskedLMOutput(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)


class TFFunnelForPreTraining(ReplacedTokenDetectionModel, TFFunnelPreTrainedModel):
    """The ELECTRA-style discriminator: one logit per token, > 0 meaning "replaced"."""

    hf_architecture = "FunnelForPreTraining"
    output_class = outputs.TFFunnelForPreTrainingOutput
