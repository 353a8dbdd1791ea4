"""RoFormer (Su et al., 2021): BERT's post-LayerNorm encoder without a position table and
without a pooler; positions enter every attention layer as rotary embeddings — queries and
keys (and values with ``rotary_value``) are rotated pair by pair, pairs (2i, 2i + 1), by the
angles of a frozen sinusoid table saved as ``encoder.embed_positions``. Embeddings may be
narrower (``embedding_size``) and projected to the hidden size, as ELECTRA's. The sequence
classifier is dense + ``hidden_act`` + out_proj on the first token; multiple choice reads the
*last* token (transformers' sequence summary with its default ``summary_type="last"``)."""

from transformers import RoFormerConfig

from ...errors import ConfigError
from ...layers.specs import EncoderSpec
from ..bert.modeling import bert_spec
from ..encoder import (BaseModel, EncoderPreTrainedModel, MaskedLMModel, MultipleChoiceModel,
                       QuestionAnsweringModel, SequenceClassificationModel,
                       TokenClassificationModel)
from . import convert


def roformer_spec(config) -> EncoderSpec:
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        raise ConfigError("RoFormer configs with is_decoder=True or add_cross_attention=True "
                          "(causal LM / cross-attention) are not supported by tfhf; set both "
                          "to False for the encoder heads.")
    factorized = config.embedding_size != config.hidden_size
    return bert_spec(config, embedding_size=config.embedding_size if factorized else None,
                     absolute_positions=False, rotary=True,
                     rotary_value=bool(config.rotary_value))


class TFRoFormerPreTrainedModel(EncoderPreTrainedModel):
    config_class = RoFormerConfig
    base_model_prefix = "roformer"
    converter = convert
    spec = staticmethod(roformer_spec)
    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "inputs_embeds")

    def _uses_pooler(self):
        return False

    @property
    def tied_keys(self):
        return convert.tied_keys(self.config)


class TFRoFormerModel(BaseModel, TFRoFormerPreTrainedModel):
    hf_architecture = "RoFormerModel"


class TFRoFormerForSequenceClassification(SequenceClassificationModel,
                                          TFRoFormerPreTrainedModel):
    hf_architecture = "RoFormerForSequenceClassification"

    @property
    def classifier_activation(self):
        return self.config.hidden_act


class TFRoFormerForTokenClassification(TokenClassificationModel, TFRoFormerPreTrainedModel):
    hf_architecture = "RoFormerForTokenClassification"


class TFRoFormerForQuestionAnswering(QuestionAnsweringModel, TFRoFormerPreTrainedModel):
    hf_architecture = "RoFormerForQuestionAnswering"


class TFRoFormerForMultipleChoice(MultipleChoiceModel, TFRoFormerPreTrainedModel):
    hf_architecture = "RoFormerForMultipleChoice"
    uses_pooler = False

    def choice_head(self, config):
        kind = getattr(config, "summary_type", "last")
        if kind not in ("first", "last") or getattr(config, "summary_use_proj", False):
            raise ConfigError(f"RoFormer multiple choice with summary_type={kind!r} (or "
                              "summary_use_proj=True) is not supported by tfhf; it supports "
                              "summary_type 'last' (the default) and 'first' without projection.")
        return dict(super().choice_head(config), token_index=-1 if kind == "last" else 0,
                    dropout=getattr(config, "summary_last_dropout", 0.0))


class TFRoFormerForMaskedLM(MaskedLMModel, TFRoFormerPreTrainedModel):
    hf_architecture = "RoFormerForMaskedLM"
