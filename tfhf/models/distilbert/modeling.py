"""DistilBERT (Sanh et al., 2019): BERT with half the layers, no token types and no pooler.

The block is BERT's post-LayerNorm block (LayerNorm eps fixed at 1e-12) except that dropout
follows only the feed-forward part. Heads: ``pre_classifier`` + ReLU + ``classifier`` on the
first token; ``vocab_transform`` + activation + ``vocab_layer_norm`` + a ``vocab_projector``
tied to the word embeddings.

``sinusoidal_pos_embds=True`` only changes how the position table is *initialized* (as in
transformers 5, which also keeps it trainable); a checkpoint's stored table always wins.
"""

import numpy as np
import tensorflow as tf
from transformers import DistilBertConfig

from ...errors import ConfigError
from ...layers.specs import EncoderSpec
from ..encoder import (BaseModel, EncoderPreTrainedModel, MaskedLMModel, MultipleChoiceModel,
                       QuestionAnsweringModel, SequenceClassificationModel,
                       TokenClassificationModel)
from . import convert

LAYER_NORM_EPS = 1e-12  # hard-coded in DistilBERT, not a config field


def distilbert_spec(config) -> EncoderSpec:
    return EncoderSpec(
        vocab_size=config.vocab_size, hidden_size=config.dim, num_layers=config.n_layers,
        num_heads=config.n_heads, intermediate_size=config.hidden_dim,
        max_positions=config.max_position_embeddings, activation=config.activation,
        type_vocab_size=0, layer_norm_eps=LAYER_NORM_EPS, hidden_dropout=config.dropout,
        attention_dropout=config.attention_dropout, init_std=config.initializer_range,
        pad_token_id=config.pad_token_id, attention_output_dropout=False)


def sinusoidal_table(n_pos, dim):
    """``sin`` on even, ``cos`` on odd columns of ``pos / 10000^(2*(j//2)/dim)``."""
    pos = np.arange(n_pos, dtype=np.float64)[:, None]
    j = np.arange(dim)[None, :]
    angle = pos / np.power(10000.0, 2 * (j // 2) / dim)
    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)


class TFDistilBertPreTrainedModel(EncoderPreTrainedModel):
    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    converter = convert
    tied_keys = convert.TIED_KEYS
    spec = staticmethod(distilbert_spec)
    model_input_names = ("input_ids", "attention_mask", "position_ids", "inputs_embeds")

    def _uses_pooler(self):
        return False

    def build(self, input_shape=None):
        super().build(input_shape)
        if self.config.sinusoidal_pos_embds:
            table = self.main_layer.embeddings.position_embeddings.embeddings
            table.assign(tf.cast(sinusoidal_table(*table.shape), table.dtype))


class TFDistilBertModel(BaseModel, TFDistilBertPreTrainedModel):
    hf_architecture = "DistilBertModel"


class TFDistilBertForSequenceClassification(SequenceClassificationModel,
                                            TFDistilBertPreTrainedModel):
    hf_architecture = "DistilBertForSequenceClassification"
    classifier_activation = "relu"  # pre_classifier -> ReLU -> dropout -> classifier
    classifier_input_dropout = False

    @staticmethod
    def classifier_dropout(config):
        return config.seq_classif_dropout


class TFDistilBertForTokenClassification(TokenClassificationModel, TFDistilBertPreTrainedModel):
    hf_architecture = "DistilBertForTokenClassification"

    @staticmethod
    def classifier_dropout(config):
        return config.dropout


class TFDistilBertForQuestionAnswering(QuestionAnsweringModel, TFDistilBertPreTrainedModel):
    hf_architecture = "DistilBertForQuestionAnswering"

    def __init__(self, config, **kwargs):
        if config.num_labels != 2:  # transformers checks this too
            raise ConfigError(f"DistilBERT question answering needs config.num_labels=2 (start "
                              f"and end logits), got num_labels={config.num_labels}.")
        super().__init__(config, **kwargs)

    @staticmethod
    def qa_dropout(config):
        return config.qa_dropout


class TFDistilBertForMultipleChoice(MultipleChoiceModel, TFDistilBertPreTrainedModel):
    """The sequence classifier's head (``pre_classifier`` + ReLU + dropout + ``classifier``)
    on each choice's first token, to one logit."""

    hf_architecture = "DistilBertForMultipleChoice"

    def choice_head(self, config):
        return dict(dropout=config.seq_classif_dropout, inner_activation="relu",
                    use_pooled=False, input_dropout=False)


class TFDistilBertForMaskedLM(MaskedLMModel, TFDistilBertPreTrainedModel):
    hf_architecture = "DistilBertForMaskedLM"
