"""ALBERT (Lan et al., 2019): BERT's post-LayerNorm encoder with two parameter savings —
factorized embeddings (tables of ``embedding_size`` columns projected to ``hidden_size`` by
``embedding_hidden_mapping_in``) and layers shared across depth (``num_hidden_layers`` steps
run through ``num_hidden_groups`` groups of ``inner_group_num`` blocks). Its heads are BERT's:
the classifier sees the tanh pooler's output; the masked-LM head projects back to
``embedding_size`` before the tied vocabulary projection."""

from transformers import AlbertConfig

from ...layers.specs import EncoderSpec
from ..encoder import (BaseModel, EncoderPreTrainedModel, MaskedLMModel, MultipleChoiceModel,
                       QuestionAnsweringModel, SequenceClassificationModel,
                       TokenClassificationModel)
from ..bert.modeling import bert_spec
from . import convert


def albert_spec(config) -> EncoderSpec:
    return bert_spec(config, embedding_size=config.embedding_size,
                     layer_groups=config.num_hidden_groups,
                     blocks_per_group=config.inner_group_num)


class TFAlbertPreTrainedModel(EncoderPreTrainedModel):
    config_class = AlbertConfig
    base_model_prefix = "albert"
    converter = convert
    spec = staticmethod(albert_spec)

    @property
    def tied_keys(self):
        return convert.tied_keys(self.config)


class TFAlbertModel(BaseModel, TFAlbertPreTrainedModel):
    hf_architecture = "AlbertModel"


class TFAlbertForSequenceClassification(SequenceClassificationModel, TFAlbertPreTrainedModel):
    hf_architecture = "AlbertForSequenceClassification"
    uses_pooler = True


class TFAlbertForTokenClassification(TokenClassificationModel, TFAlbertPreTrainedModel):
    hf_architecture = "AlbertForTokenClassification"


class TFAlbertForQuestionAnswering(QuestionAnsweringModel, TFAlbertPreTrainedModel):
    hf_architecture = "AlbertForQuestionAnswering"


class TFAlbertForMultipleChoice(MultipleChoiceModel, TFAlbertPreTrainedModel):
    hf_architecture = "AlbertForMultipleChoice"


class TFAlbertForMaskedLM(MaskedLMModel, TFAlbertPreTrainedModel):
    hf_architecture = "AlbertForMaskedLM"
