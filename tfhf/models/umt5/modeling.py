"""UMT5 (Chung et al., 2023, "UniMax"): T5 v1.1's math (gated-GELU, RMS norms, unscaled
attention) with a relative position bias table in *every* self-attention layer instead of
one per stack shared by its layers. The classes are T5's with that spec and weight table."""

from dataclasses import replace

from transformers import UMT5Config

from ..t5.modeling import (TFT5EncoderModel, TFT5ForConditionalGeneration,
                           TFT5ForQuestionAnswering, TFT5ForSequenceClassification,
                           TFT5ForTokenClassification, TFT5Model, t5_spec)
from . import convert


def umt5_spec(config):
    return replace(t5_spec(config), relative_bias_per_layer=True)


class UMT5Family:
    """Mixed in before a T5 class: UMT5's config class, spec and weight names."""

    config_class = UMT5Config
    converter = convert
    spec = staticmethod(umt5_spec)


class TFUMT5Model(UMT5Family, TFT5Model):
    hf_architecture = "UMT5Model"


class TFUMT5EncoderModel(UMT5Family, TFT5EncoderModel):
    hf_architecture = "UMT5EncoderModel"


class TFUMT5ForConditionalGeneration(UMT5Family, TFT5ForConditionalGeneration):
    hf_architecture = "UMT5ForConditionalGeneration"


class TFUMT5ForSequenceClassification(UMT5Family, TFT5ForSequenceClassification):
    hf_architecture = "UMT5ForSequenceClassification"


class TFUMT5ForTokenClassification(UMT5Family, TFT5ForTokenClassification):
    hf_architecture = "UMT5ForTokenClassification"


class TFUMT5ForQuestionAnswering(UMT5Family, TFT5ForQuestionAnswering):
    hf_architecture = "UMT5ForQuestionAnswering"
