"""MPNet (Song et al., 2020): a post-LayerNorm encoder without token types whose attention
scores get a learned per-head bias over bucketed relative positions (T5's bidirectional
buckets, one table shared by all layers), on top of RoBERTa-style absolute positions (counted
over non-pad tokens from ``padding_idx + 1``, with ``padding_idx`` fixed at 1). Its heads
are RoBERTa's, names included, so the task classes are RoBERTa's under MPNet's names
(:func:`tfhf.models.roberta.modeling.variant_classes`)."""

from transformers import MPNetConfig

from ...errors import ConfigError
from ...layers.specs import EncoderSpec
from ..bert.modeling import bert_spec
from ..roberta.modeling import TFRobertaPreTrainedModel, variant_classes
from . import convert

PADDING_IDX = 1  # hard-coded in transformers' MPNetEmbeddings
BUCKETS, MAX_DISTANCE = 32, 128  # MPNetEncoder.compute_position_bias' fixed bucketing


def mpnet_spec(config) -> EncoderSpec:
    if config.relative_attention_num_buckets != BUCKETS:
        raise ConfigError(
            f"relative_attention_num_buckets={config.relative_attention_num_buckets}: MPNet "
            f"buckets relative positions into {BUCKETS} buckets whatever the config says, so "
            f"tfhf supports only relative_attention_num_buckets={BUCKETS}.")
    return bert_spec(config, type_vocab_size=0, pad_token_id=PADDING_IDX,
                     roberta_positions=True, relative_buckets=BUCKETS,
                     relative_max_distance=MAX_DISTANCE)


class TFMPNetPreTrainedModel(TFRobertaPreTrainedModel):
    config_class = MPNetConfig
    base_model_prefix = "mpnet"
    converter = convert
    spec = staticmethod(mpnet_spec)
    model_input_names = ("input_ids", "attention_mask", "position_ids", "inputs_embeds")


globals().update(variant_classes("MPNet", TFMPNetPreTrainedModel, __name__))
