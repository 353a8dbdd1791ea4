"""BART (Lewis et al., 2019): a post-LayerNorm encoder-decoder with learned positions
(two extra rows in front of the table), a LayerNorm over the embeddings of each stack,
optional ``sqrt(d_model)`` embedding scaling, and an LM head tied to the embeddings plus a
``final_logits_bias``. The sequence-classification head (MNLI / zero-shot checkpoints)
reads the decoder state at each row's last ``eos_token_id`` of the input."""

import math

import tensorflow as tf
from transformers import BartConfig

from ...errors import InvalidInputError
from ...layers.seq2seq import shift_tokens_right
from ...layers.specs import LEARNED, Seq2SeqSpec
from ...training import losses
from ... import outputs
from ..heads import ClassificationHead
from ..seq2seq import TFSeq2SeqLMBase, TFSeq2SeqModel, TFSeq2SeqPreTrainedModel
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


def last_eos_states(hidden, input_ids, eos_token_id):
    """The decoder state at each row's last ``eos_token_id`` (BART's sentence vector)."""
    is_eos = tf.cast(tf.equal(input_ids, eos_token_id), tf.int32)
    t = tf.shape(input_ids)[1]
    last = t - 1 - tf.argmax(tf.reverse(is_eos, [1]), axis=1, output_type=tf.int32)
    return tf.gather(hidden, last, batch_dims=1)


class TFBartForSequenceClassification(TFBartPreTrainedModel):
    hf_architecture = "BartForSequenceClassification"
    task = "sequence_classification"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else 0.0
        self.classification_head = ClassificationHead(
            config.d_model, config.num_labels, dropout=dropout, inner_activation="tanh",
            use_pooled=True, init_std=config.init_std, name="classification_head")

    @property
    def tied_keys(self):
        return super().tied_keys - {"lm_head.weight", "model.lm_head.weight"}

    def call(self, input_ids=None, attention_mask=None, decoder_input_ids=None,
             decoder_attention_mask=None, labels=None, output_hidden_states=None,
             return_dict=None, training=False, **kwargs):
        input_ids, kw = self._unpack_all(input_ids, dict(
            attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask, labels=labels, **kwargs))
        mask, dec_ids, dec_mask = (kw.pop("attention_mask"), kw.pop("decoder_input_ids"),
                                   kw.pop("decoder_attention_mask"))
        labels = kw.pop("labels")
        self._check_unknown(kw)
        if input_ids is None:
            raise InvalidInputError("BART sequence classification needs input_ids (it pools "
                                    "at the last eos token of the input).")
        input_ids = self._ids(input_ids, "input_ids")
        if dec_ids is None:
            pad, start = self._decoder_start()
            dec_ids = shift_tokens_right(input_ids, pad, start)
        eos = self.config.eos_token_id
        if tf.executing_eagerly():
            missing = ~tf.reduce_any(tf.equal(input_ids, eos), axis=1).numpy()
            if missing.any():
                raise InvalidInputError(f"Each example must contain at least one <eos> token "
                                        f"(id {eos}); rows {missing.nonzero()[0].tolist()} "
                                        "have none.")
        x, enc, dec_hidden, enc_hidden = self._run(input_ids, mask, dec_ids, dec_mask, None,
                                                   output_hidden_states, training)
        pooled = last_eos_states(x, input_ids, eos)
        logits = tf.cast(self.classification_head(x, pooled, training=training), tf.float32)
        loss = None
        if labels is not None:
            loss = losses.sequence_classification_loss(
                tf.convert_to_tensor(labels), logits, self.config.problem_type,
                self.config.num_labels)
        return self._finish(outputs.TFSeq2SeqSequenceClassifierOutput(
            loss=loss, logits=logits, decoder_hidden_states=dec_hidden,
            encoder_last_hidden_state=enc, encoder_hidden_states=enc_hidden), return_dict)
