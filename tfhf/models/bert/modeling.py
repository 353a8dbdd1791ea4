"""BERT (Devlin et al., 2018): a post-LayerNorm transformer encoder with token types and a
tanh pooler over [CLS]. The backbone is :class:`tfhf.models.encoder.EncoderMainLayer`."""

from transformers import BertConfig

from ...layers.specs import EncoderSpec
from ..encoder import (BaseModel, EncoderPreTrainedModel, MaskedLMModel, MultipleChoiceModel,
                       QuestionAnsweringModel, SequenceClassificationModel,
                       TokenClassificationModel)
from . import convert


def bert_spec(config, **overrides) -> EncoderSpec:
    """The spec of a BERT-style config (the fields BERT, ELECTRA, ALBERT and MPNet configs
    share); ``overrides`` set further :class:`EncoderSpec` fields or replace config values
    (RoBERTa sets ``roberta_positions``: positions count only non-pad tokens, from
    ``pad_token_id + 1``; MPNet, which has no token types, ``type_vocab_size=0``)."""
    fields = dict(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers, num_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        max_positions=config.max_position_embeddings, activation=config.hidden_act,
        layer_norm_eps=config.layer_norm_eps, hidden_dropout=config.hidden_dropout_prob,
        attention_dropout=config.attention_probs_dropout_prob,
        init_std=config.initializer_range, pad_token_id=config.pad_token_id)
    if "type_vocab_size" not in overrides:
        fields["type_vocab_size"] = config.type_vocab_size
    return EncoderSpec(**{**fields, **overrides})


class TFBertPreTrainedModel(EncoderPreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"
    converter = convert
    spec = staticmethod(bert_spec)

    @property
    def tied_keys(self):
        return convert.tied_keys(self.config)


class TFBertModel(BaseModel, TFBertPreTrainedModel):
    hf_architecture = "BertModel"


class TFBertForSequenceClassification(SequenceClassificationModel, TFBertPreTrainedModel):
    hf_architecture = "BertForSequenceClassification"
    uses_pooler = True


class TFBertForTokenClassification(TokenClassificationModel, TFBertPreTrainedModel):
    hf_architecture = "BertForTokenClassification"


class TFBertForQuestionAnswering(QuestionAnsweringModel, TFBertPreTrainedModel):
    hf_architecture = "BertForQuestionAnswering"


class TFBertForMaskedLM(MaskedLMModel, TFBertPreTrainedModel):
    hf_architecture = "BertForMaskedLM"


class TFBertForMultipleChoice(MultipleChoiceModel, TFBertPreTrainedModel):
    hf_architecture = "BertForMultipleChoice"
