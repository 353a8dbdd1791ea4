"""DeBERTa-v2 and v3 (He et al., 2021; ``microsoft/deberta-v3-base``): DeBERTa's disentangled
attention with separate query/key/value projections, relative distances bucketed
logarithmically beyond ``position_buckets // 2``, an optional LayerNorm on the relative
embeddings (``norm_rel_ebd``), optionally the content projections reused for positions
(``share_att_key``) and a convolution beside the first layer (``conv_kernel_size``). The
heads are DeBERTa's, plus multiple choice through the same ContextPooler; the tokenizer is
SentencePiece (``DebertaV2Tokenizer``)."""

from transformers import DebertaV2Config

from ...errors import ConfigError
from ...layers.specs import DisentangledSpec
from ..deberta.modeling import (ContextPoolerClassification, TFDebertaPreTrainedModel,
                                context_pooler_head, disentangled_spec)
from ..encoder import (BaseModel, MaskedLMModel, MultipleChoiceModel,
                       QuestionAnsweringModel, TokenClassificationModel)
from . import convert


def deberta_v2_spec(config) -> DisentangledSpec:
    norm_rel = [x.strip() for x in getattr(config, "norm_rel_ebd", "none").lower().split("|")]
    head_size = getattr(config, "attention_head_size", None)
    if head_size is not None and head_size * config.num_attention_heads != config.hidden_size:
        raise ConfigError(f"attention_head_size={head_size} x num_attention_heads="
                          f"{config.num_attention_heads} differs from hidden_size="
                          f"{config.hidden_size}; tfhf supports heads that split the hidden "
                          "size.")
    conv = getattr(config, "conv_kernel_size", 0)
    if conv > 0 and getattr(config, "conv_groups", 1) != 1:
        raise ConfigError(f"conv_groups={config.conv_groups}: tfhf's DeBERTa-v2 convolution "
                          "is not grouped; only conv_groups=1 is supported.")
    return disentangled_spec(
        config, position_buckets=max(getattr(config, "position_buckets", -1), 0),
        share_att_key=bool(getattr(config, "share_att_key", False)),
        norm_rel_embeddings="layer_norm" in norm_rel, conv_kernel_size=max(conv, 0),
        conv_act=getattr(config, "conv_act", "tanh"))


class TFDebertaV2PreTrainedModel(TFDebertaPreTrainedModel):
    """DeBERTa's backbone class with v2's config, spec and weight names."""

    config_class = DebertaV2Config
    converter = convert
    spec = staticmethod(deberta_v2_spec)


class TFDebertaV2Model(BaseModel, TFDebertaV2PreTrainedModel):
    hf_architecture = "DebertaV2Model"


class TFDebertaV2ForSequenceClassification(ContextPoolerClassification,
                                           TFDebertaV2PreTrainedModel):
    hf_architecture = "DebertaV2ForSequenceClassification"


class TFDebertaV2ForTokenClassification(TokenClassificationModel, TFDebertaV2PreTrainedModel):
    hf_architecture = "DebertaV2ForTokenClassification"


class TFDebertaV2ForQuestionAnswering(QuestionAnsweringModel, TFDebertaV2PreTrainedModel):
    hf_architecture = "DebertaV2ForQuestionAnswering"


class TFDebertaV2ForMultipleChoice(MultipleChoiceModel, TFDebertaV2PreTrainedModel):
    hf_architecture = "DebertaV2ForMultipleChoice"

    def choice_head(self, config):
        return context_pooler_head(config)


class TFDebertaV2ForMaskedLM(MaskedLMModel, TFDebertaV2PreTrainedModel):
    hf_architecture = "DebertaV2ForMaskedLM"
