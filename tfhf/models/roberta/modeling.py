"""RoBERTa (Liu et al., 2019): BERT's post-LayerNorm encoder trained without next-sentence
prediction. Two differences in the model: positions count only non-pad tokens and start at
``pad_token_id + 1``, and the heads are named and shaped differently (a dense+tanh
classification head on ``<s>``, a gelu LM head). Only the bare model has a pooler."""

from transformers import RobertaConfig

from ..encoder import EncoderSpec
from ..heads import (BaseModel, EncoderPreTrainedModel, MaskedLMModel, QuestionAnsweringModel,
                     SequenceClassificationModel, TokenClassificationModel)
from . import convert


def roberta_spec(config) -> EncoderSpec:
    return EncoderSpec(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers, num_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        max_positions=config.max_position_embeddings, activation=config.hidden_act,
        type_vocab_size=config.type_vocab_size, layer_norm_eps=config.layer_norm_eps,
        hidden_dropout=config.hidden_dropout_prob,
        attention_dropout=config.attention_probs_dropout_prob,
        init_std=config.initializer_range, pad_token_id=config.pad_token_id,
        roberta_positions=True)


class TFRobertaPreTrainedModel(EncoderPreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"
    converter = convert
    spec = staticmethod(roberta_spec)

    @property
    def tied_keys(self):
        return convert.tied_keys(self.config)


class TFRobertaModel(BaseModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaModel"


class TFRobertaForSequenceClassification(SequenceClassificationModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaForSequenceClassification"
    classifier_activation = "tanh"  # classifier.dense -> tanh -> classifier.out_proj on <s>


class TFRobertaForTokenClassification(TokenClassificationModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaForTokenClassification"


class TFRobertaForQuestionAnswering(QuestionAnsweringModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaForQuestionAnswering"


class TFRobertaForMaskedLM(MaskedLMModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaForMaskedLM"
    mlm_activation = "gelu"  # RobertaLMHead calls gelu whatever hidden_act says
