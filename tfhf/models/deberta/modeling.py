"""DeBERTa (He et al., 2020): BERT's post-LayerNorm encoder whose attention scores add
content-to-position and position-to-content terms over learned relative-distance embeddings
(disentangled attention, :mod:`tfhf.layers.disentangled`); absolute positions are optional
(``position_biased_input``) and the embeddings are zeroed at padding. Version 1 projects
queries, keys and values with one fused ``in_proj``. The classification heads put a
ContextPooler (dense + ``pooler_hidden_act`` on the first token) before the classifier; the
masked-LM head is BERT's (``legacy=True``) or DeBERTa's own, tied to the word embeddings.

:class:`DisentangledMainLayer` and :func:`disentangled_spec` serve DeBERTa-v2 as well.
"""

from transformers import DebertaConfig

from ..._keras import keras, register_serializable
from ...errors import ConfigError
from ...layers.core import build_sublayers
from ...layers.disentangled import DisentangledEmbeddings, DisentangledStack
from ...layers.specs import DisentangledSpec
from ..encoder import (BaseModel, EncoderPreTrainedModel, MaskedLMModel,
                       QuestionAnsweringModel, SequenceClassificationModel,
                       TokenClassificationModel, check_encoder_inputs)
from . import convert


def disentangled_spec(config, **overrides) -> DisentangledSpec:
    if getattr(config, "talking_head", False):
        raise ConfigError("talking_head=True: tfhf's DeBERTa does not implement talking-heads "
                          "attention (no released checkpoint uses it); set it to False.")
    pooler = getattr(config, "pooler_hidden_size", config.hidden_size)
    if pooler != config.hidden_size:
        raise ConfigError(f"pooler_hidden_size={pooler} differs from hidden_size="
                          f"{config.hidden_size}; DeBERTa's ContextPooler reads the hidden "
                          "state, so they must be equal.")
    embedding = getattr(config, "embedding_size", None) or config.hidden_size
    return DisentangledSpec(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers, num_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        max_positions=config.max_position_embeddings, activation=config.hidden_act,
        type_vocab_size=config.type_vocab_size, layer_norm_eps=config.layer_norm_eps,
        hidden_dropout=config.hidden_dropout_prob,
        attention_dropout=config.attention_probs_dropout_prob,
        init_std=config.initializer_range, pad_token_id=config.pad_token_id,
        embedding_size=embedding if embedding != config.hidden_size else None,
        position_biased_input=getattr(config, "position_biased_input", True),
        relative_attention=bool(getattr(config, "relative_attention", False)),
        max_relative_positions=getattr(config, "max_relative_positions", -1),
        pos_att_type=tuple(config.pos_att_type or ()), **overrides)


def deberta_spec(config) -> DisentangledSpec:
    return disentangled_spec(config, fused_qkv=True, pos_key_bias=False)


@register_serializable()
class DisentangledMainLayer(keras.layers.Layer):
    """Embeddings -> disentangled blocks (no pooler); checks its inputs as
    :class:`~tfhf.models.encoder.EncoderMainLayer` does."""

    def __init__(self, spec: DisentangledSpec, with_pooler=False, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.embeddings = DisentangledEmbeddings(spec, name="embeddings")
        self.encoder = DisentangledStack(spec, name="encoder")

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
             inputs_embeds=None, output_hidden_states=False, output_attentions=False,
             training=False):
        if not self.spec.type_vocab_size:
            token_type_ids = None  # ignored, as transformers does (v3's tokenizer sends zeros)
        input_ids, attention_mask, token_type_ids = check_encoder_inputs(
            self.spec, input_ids, attention_mask, token_type_ids, inputs_embeds)
        x = self.embeddings(input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                            inputs_embeds=inputs_embeds, padding_mask=attention_mask,
                            training=training)
        x, hidden, attns = self.encoder(x, attention_mask,
                                        output_hidden_states=output_hidden_states,
                                        output_attentions=output_attentions, training=training)
        return x, None, hidden, attns


def context_pooler_head(config):
    """ClassificationHead options of DeBERTa's ContextPooler + classifier (one dropout rate,
    ``cls_dropout``, for the pooler's and the classifier's dropout)."""
    dropout = getattr(config, "cls_dropout", None)
    return dict(dropout=config.hidden_dropout_prob if dropout is None else dropout,
                inner_activation=config.pooler_hidden_act, use_pooled=False, input_dropout=True)


class ContextPoolerClassification(SequenceClassificationModel):
    """Sequence classification through the ContextPooler (DeBERTa, DeBERTa-v2)."""

    @staticmethod
    def classifier_dropout(config):
        return context_pooler_head(config)["dropout"]

    @property
    def classifier_activation(self):
        return self.config.pooler_hidden_act


class TFDebertaPreTrainedModel(EncoderPreTrainedModel):
    config_class = DebertaConfig
    base_model_prefix = "deberta"
    converter = convert
    spec = staticmethod(deberta_spec)
    main_layer_class = DisentangledMainLayer

    def _uses_pooler(self):
        return False

    @property
    def tied_keys(self):
        return self.converter.tied_keys(self.config)


class TFDebertaModel(BaseModel, TFDebertaPreTrainedModel):
    hf_architecture = "DebertaModel"


class TFDebertaForSequenceClassification(ContextPoolerClassification,
                                         TFDebertaPreTrainedModel):
    hf_architecture = "DebertaForSequenceClassification"


class TFDebertaForTokenClassification(TokenClassificationModel, TFDebertaPreTrainedModel):
    hf_architecture = "DebertaForTokenClassification"


class TFDebertaForQuestionAnswering(QuestionAnsweringModel, TFDebertaPreTrainedModel):
    hf_architecture = "DebertaForQuestionAnswering"


class TFDebertaForMaskedLM(MaskedLMModel, TFDebertaPreTrainedModel):
    hf_architecture = "DebertaForMaskedLM"
