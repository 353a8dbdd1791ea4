"""BART (Lewis et al., 2019): a post-LayerNorm encoder-decoder with learned positions
(two extra rows in front of the table), a LayerNorm over the embeddings of each stack,
optional ``sqrt(d_model)`` embedding scaling, and an LM head tied to the embeddings plus a
``final_logits_bias``. The sequence-classification head (MNLI / zero-shot checkpoints)
reads the decoder state at each row's last ``eos_token_id`` of the input."""

import math

import tensorflow as tf
from transformers import BartConfig

from ...layers.specs import LEARNED, Seq2SeqSpec
from ..seq2seq import TFSeq2SeqLMBase, TFSeq2SeqModel, TFSeq2SeqPreTrainedModel
from ..seq2seq_classification import (Seq2SeqForQuestionAnswering,
                                      Seq2SeqForSequenceClassification)
from . import convert


def bart_spec(config, **overrides) -> Seq2SeqSpec:
    """The spec of a BART-style config (M2M100 passes its differences as overrides)."""
    kwargs = dict(
        vocab_size=config.vocab_size, d_model=config.d_model,
        encoder_layers=config.encoder_layers, decoder_layers=config.decoder_layers,
        encoder_heads=config.encoder_attention_heads,
        decoder_heads=config.decoder_attention_heads, encoder_ffn=config.encoder_ffn_dim,
        decoder_ffn=config.decoder_ffn_dim, activation=config.activation_function,
        norm="layer", norm_eps=1e-5, pre_norm=False, embedding_norm=True, final_norm=False,
        encoder_positions=LEARNED, decoder_positions=LEARNED,
        max_source_positions=config.max_position_embeddings,
        max_target_positions=config.max_position_embeddings, position_offset=2,
        padding_idx=config.pad_token_id,
        embed_scale=math.sqrt(config.d_model) if config.scale_embedding else 1.0,
        init_std=config.init_std, dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        activation_dropout=config.activation_dropout)
    kwargs.update(overrides)
    return Seq2SeqSpec(**kwargs)


class TFBartPreTrainedModel(TFSeq2SeqPreTrainedModel):
    config_class = BartConfig
    base_model_prefix = "model"
    converter = convert
    spec = staticmethod(bart_spec)


class TFBartModel(TFSeq2SeqModel, TFBartPreTrainedModel):
    hf_architecture = "BartModel"
    shift_inputs_for_decoder = True  # BartModel(input_ids) decodes input_ids shifted right


class TFBartForConditionalGeneration(TFSeq2SeqLMBase, TFBartPreTrainedModel):
    hf_architecture = "BartForConditionalGeneration"
    final_logits_bias = True


class TFBartForSequenceClassification(Seq2SeqForSequenceClassification, TFBartPreTrainedModel):
    hf_architecture = "BartForSequenceClassification"


class TFBartForQuestionAnswering(Seq2SeqForQuestionAnswering, TFBartPreTrainedModel):
    hf_architecture = "BartForQuestionAnswering"
    forces_two_labels = True  # transformers sets config.num_labels = 2
