"""M2M100 (Fan et al., 2020), also the architecture of NLLB: a pre-LayerNorm
encoder-decoder with fairseq's sinusoidal positions (real tokens numbered from
``pad_token_id + 1``, pads on a zero row), ``sqrt(d_model)`` embedding scaling when
``scale_embedding`` and a final LayerNorm per stack; the LM head is tied to the embeddings."""

from transformers import M2M100Config

from ...layers.specs import SINUSOIDAL
from ..bart.modeling import bart_spec
from ..seq2seq import TFSeq2SeqLMBase, TFSeq2SeqModel, TFSeq2SeqPreTrainedModel
from . import convert


def m2m100_spec(config):
    return bart_spec(config, pre_norm=True, embedding_norm=False, final_norm=True,
                     encoder_positions=SINUSOIDAL, decoder_positions=SINUSOIDAL,
                     position_offset=0)


class TFM2M100PreTrainedModel(TFSeq2SeqPreTrainedModel):
    config_class = M2M100Config
    base_model_prefix = "model"
    converter = convert
    spec = staticmethod(m2m100_spec)


class TFM2M100Model(TFSeq2SeqModel, TFM2M100PreTrainedModel):
    hf_architecture = "M2M100Model"


class TFM2M100ForConditionalGeneration(TFSeq2SeqLMBase, TFM2M100PreTrainedModel):
    hf_architecture = "M2M100ForConditionalGeneration"
