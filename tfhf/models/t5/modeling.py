"""T5 (Raffel et al., 2019) and T5 v1.1 / Flan-T5: a pre-norm encoder-decoder with RMS-style
norms (no mean, no bias), relative position buckets (bidirectional in the encoder, causal in
the decoder, shared by the layers of a stack), unscaled attention scores and a ReLU or gated
GELU (``gelu_new``) feed-forward. T5 v1.0 ties its head to the embeddings and scales the
decoder output by ``d_model ** -0.5``; v1.1 has its own head and no scaling.

transformers v5 records the difference as ``config.scale_decoder_outputs`` (it sets
``tie_word_embeddings=True`` always and unties only when a checkpoint holds a distinct
``lm_head.weight``): tfhf gives v1.1 its own head, initialized from the embeddings when a
checkpoint has no ``lm_head.weight`` (what PyTorch does, by tying).
"""

import tensorflow as tf
from transformers import MT5Config, T5Config

from ...layers.specs import RELATIVE, Seq2SeqSpec
from ... import outputs
from ..seq2seq import TFSeq2SeqLMBase, TFSeq2SeqModel, TFSeq2SeqPreTrainedModel
from ..seq2seq_classification import (Seq2SeqForQuestionAnswering,
                                      Seq2SeqForSequenceClassification,
                                      Seq2SeqForTokenClassification)
from . import convert


def t5_spec(config) -> Seq2SeqSpec:
    return Seq2SeqSpec(
        vocab_size=config.vocab_size, d_model=config.d_model, encoder_layers=config.num_layers,
        decoder_layers=config.num_decoder_layers, encoder_heads=config.num_heads,
        decoder_heads=config.num_heads, encoder_ffn=config.d_ff, decoder_ffn=config.d_ff,
        head_dim=config.d_kv, activation=config.dense_act_fn, gated_ffn=config.is_gated_act,
        ffn_bias=False, attention_bias=False, scale_queries=False, norm="rms",
        norm_eps=config.layer_norm_epsilon, pre_norm=True, final_norm=True,
        encoder_positions=RELATIVE, decoder_positions=RELATIVE,
        relative_buckets=config.relative_attention_num_buckets,
        relative_max_distance=config.relative_attention_max_distance,
        init_std=config.initializer_factor * config.d_model ** -0.5,
        dropout=config.dropout_rate)


class TFT5PreTrainedModel(TFSeq2SeqPreTrainedModel):
    config_class = T5Config
    base_model_prefix = ""
    converter = convert
    spec = staticmethod(t5_spec)

    def _decoder_start(self):
        pad = self.config.pad_token_id if self.config.pad_token_id is not None else 0
        start = getattr(self.config, "decoder_start_token_id", None)
        return pad, pad if start is None else start


class TFT5Model(TFSeq2SeqModel, TFT5PreTrainedModel):
    hf_architecture = "T5Model"


class TFT5EncoderModel(TFT5PreTrainedModel):
    """The encoder alone (``last_hidden_state``)."""

    hf_architecture = "T5EncoderModel"
    with_decoder = False
    task = None
    model_input_names = ("input_ids", "attention_mask")

    def call(self, input_ids=None, attention_mask=None, output_hidden_states=None,
             return_dict=None, training=False, **kwargs):
        input_ids, kw = self._unpack_all(input_ids, dict(attention_mask=attention_mask,
                                                         **kwargs))
        mask = kw.pop("attention_mask")
        self._check_unknown(kw)
        x, hidden = self._encode_only(input_ids, mask, output_hidden_states, training)
        return self._finish(outputs.TFBaseModelOutput(last_hidden_state=x, hidden_states=hidden),
                            return_dict)


class TFT5ForConditionalGeneration(TFSeq2SeqLMBase, TFT5PreTrainedModel):
    hf_architecture = "T5ForConditionalGeneration"

    def tied_head(self):
        return bool(self.config.scale_decoder_outputs)

    def head_scale(self):
        return self.config.d_model ** -0.5 if self.config.scale_decoder_outputs else 1.0

    def load_hf_state(self, state, ignore_mismatched_sizes=False, source="checkpoint"):
        info = super().load_hf_state(state, ignore_mismatched_sizes, source)
        if self.lm_head is not None and "lm_head.weight" in info["missing_keys"]:
            # PyTorch ties a v1.1 head to the embeddings when the checkpoint has none
            self.lm_head.kernel.assign(tf.transpose(self.model.shared.embeddings))
            info["missing_keys"] = [k for k in info["missing_keys"] if k != "lm_head.weight"]
        return info



class TFT5ForSequenceClassification(Seq2SeqForSequenceClassification, TFT5PreTrainedModel):
    """The decoder state at each row's last ``</s>`` -> ``classification_head``."""

    hf_architecture = "T5ForSequenceClassification"
    base_model_prefix = "transformer"  # transformer.shared.weight, transformer.encoder...


class TFT5ForTokenClassification(Seq2SeqForTokenClassification, TFT5PreTrainedModel):
    """The encoder alone (a ``T5EncoderModel`` as ``transformer``) -> ``classifier``."""

    hf_architecture = "T5ForTokenClassification"
    base_model_prefix = "transformer"


class TFT5ForQuestionAnswering(Seq2SeqForQuestionAnswering, TFT5PreTrainedModel):
    """The decoder's states (input_ids shifted right by default) -> ``qa_outputs``."""

    hf_architecture = "T5ForQuestionAnswering"


# mT5 is T5 v1.1's math with its own config class and names
class MT5Family:
    """Mixed in before a T5 class: mT5's config class."""

    config_class = MT5Config


class TFMT5Model(MT5Family, TFT5Model):
    hf_architecture = "MT5Model"


class TFMT5EncoderModel(MT5Family, TFT5EncoderModel):
    hf_architecture = "MT5EncoderModel"


class TFMT5ForConditionalGeneration(MT5Family, TFT5ForConditionalGeneration):
    hf_architecture = "MT5ForConditionalGeneration"

    def tied_head(self):  # its own lm_head, never scaled
        return False

    def head_scale(self):
        return 1.0


class TFMT5ForSequenceClassification(MT5Family, TFT5ForSequenceClassification):
    hf_architecture = "MT5ForSequenceClassification"


class TFMT5ForTokenClassification(MT5Family, TFT5ForTokenClassification):
    hf_architecture = "MT5ForTokenClassification"


class TFMT5ForQuestionAnswering(MT5Family, TFT5ForQuestionAnswering):
    hf_architecture = "MT5ForQuestionAnswering"
