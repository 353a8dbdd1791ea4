"""mBART (Liu et al., 2020): BART's embeddings (learned positions with two extra rows, a
LayerNorm over the embeddings, ``sqrt(d_model)`` scaling when ``scale_embedding``) with
pre-LayerNorm layers and a final LayerNorm per stack. It has no single decoder start token:
the decoder input is the input shifted right behind each row's last non-pad token (the
language id in mBART's ``[tokens] </s> [lang_code]`` format)."""

import tensorflow as tf
from transformers import MBartConfig

from ...errors import ConfigError
from ..bart.modeling import bart_spec
from ..seq2seq import TFSeq2SeqLMBase, TFSeq2SeqModel, TFSeq2SeqPreTrainedModel
from ..seq2seq_classification import (Seq2SeqForQuestionAnswering,
                                      Seq2SeqForSequenceClassification)
from . import convert


def mbart_spec(config):
    return bart_spec(config, pre_norm=True, final_norm=True)


def shift_tokens_right(ids, pad_token_id):
    """``[last non-pad token] + ids[:-1]`` per row, -100 as pad (transformers' mBART rule)."""
    if pad_token_id is None:
        raise ConfigError("mBART builds decoder inputs from config.pad_token_id, which is not "
                          "set: set it or pass decoder_input_ids.")
    ids = tf.cast(ids, tf.int32)
    pad = tf.constant(pad_token_id, tf.int32)
    ids = tf.where(tf.equal(ids, -100), pad, ids)
    last = tf.reduce_sum(tf.cast(tf.not_equal(ids, pad), tf.int32), axis=1) - 1
    start = tf.gather(ids, tf.maximum(last, 0), batch_dims=1)  # a row of pads starts with pad
    start = tf.where(last < 0, ids[:, -1], start)
    return tf.concat([start[:, None], ids[:, :-1]], axis=1)


class TFMBartPreTrainedModel(TFSeq2SeqPreTrainedModel):
    config_class = MBartConfig
    base_model_prefix = "model"
    converter = convert
    spec = staticmethod(mbart_spec)

    def shift_right(self, ids):
        return shift_tokens_right(ids, self.config.pad_token_id)


class TFMBartModel(TFSeq2SeqModel, TFMBartPreTrainedModel):
    hf_architecture = "MBartModel"
    shift_inputs_for_decoder = True  # MBartModel(input_ids) decodes input_ids shifted right


class TFMBartForConditionalGeneration(TFSeq2SeqLMBase, TFMBartPreTrainedModel):
    hf_architecture = "MBartForConditionalGeneration"
    final_logits_bias = True


class TFMBartForSequenceClassification(Seq2SeqForSequenceClassification,
                                       TFMBartPreTrainedModel):
    hf_architecture = "MBartForSequenceClassification"


class TFMBartForQuestionAnswering(Seq2SeqForQuestionAnswering, TFMBartPreTrainedModel):
    hf_architecture = "MBartForQuestionAnswering"
    forces_two_labels = True  # transformers sets config.num_labels = 2
