"""The tables that tie files to families: the auto classes, GGUF files and foreign folders read
them, so adding a family touches its folder and this file only.

* ``MODELS``: model_type -> {task -> "module:Class"};
* ``GGUF``: a GGUF file's ``general.architecture`` -> the family module that maps its config
  and weight names (see :mod:`tfhf.models.gguf`);
* ``FOLDER_FORMATS``: modules that recognize a local folder in another library's format and
  infer its config (``folder_config(path)``: a transformers config, or ``None``).
"""

from __future__ import annotations

import importlib

from ..errors import UnsupportedModelError

TASKS = ("base", "sequence_classification", "token_classification", "question_answering",
         "multiple_choice", "masked_lm", "pretraining", "causal_lm", "seq2seq_lm",
         "speech_seq2seq", "vision2seq", "zero_shot_image_classification",
         "visual_question_answering", "image_segmentation", "text_to_spectrogram")

MODELS = {
    "bert": {
        "base": "bert.modeling:TFBertModel",
        "sequence_classification": "bert.modeling:TFBertForSequenceClassification",
        "token_classification": "bert.modeling:TFBertForTokenClassification",
        "question_answering": "bert.modeling:TFBertForQuestionAnswering",
        "multiple_choice": "bert.modeling:TFBertForMultipleChoice",
        "masked_lm": "bert.modeling:TFBertForMaskedLM",
    },
    "roberta": {
        "base": "roberta.modeling:TFRobertaModel",
        "sequence_classification": "roberta.modeling:TFRobertaForSequenceClassification",
        "token_classification": "roberta.modeling:TFRobertaForTokenClassification",
        "question_answering": "roberta.modeling:TFRobertaForQuestionAnswering",
        "multiple_choice": "roberta.modeling:TFRobertaForMultipleChoice",
        "masked_lm": "roberta.modeling:TFRobertaForMaskedLM",
    },
    "xlm-roberta": {
        "base": "xlm_roberta.modeling:TFXLMRobertaModel",
        "sequence_classification": "xlm_roberta.modeling:TFXLMRobertaForSequenceClassification",
        "token_classification": "xlm_roberta.modeling:TFXLMRobertaForTokenClassification",
        "question_answering": "xlm_roberta.modeling:TFXLMRobertaForQuestionAnswering",
        "multiple_choice": "xlm_roberta.modeling:TFXLMRobertaForMultipleChoice",
        "masked_lm": "xlm_roberta.modeling:TFXLMRobertaForMaskedLM",
    },
    "camembert": {
        "base": "camembert.modeling:TFCamembertModel",
        "sequence_classification": "camembert.modeling:TFCamembertForSequenceClassification",
        "token_classification": "camembert.modeling:TFCamembertForTokenClassification",
        "question_answering": "camembert.modeling:TFCamembertForQuestionAnswering",
        "multiple_choice": "camembert.modeling:TFCamembertForMultipleChoice",
        "masked_lm": "camembert.modeling:TFCamembertForMaskedLM",
    },
    "roformer": {
        "base": "roformer.modeling:TFRoFormerModel",
        "sequence_classification": "roformer.modeling:TFRoFormerForSequenceClassification",
        "token_classification": "roformer.modeling:TFRoFormerForTokenClassification",
        "question_answering": "roformer.modeling:TFRoFormerForQuestionAnswering",
        "multiple_choice": "roformer.modeling:TFRoFormerForMultipleChoice",
        "masked_lm": "roformer.modeling:TFRoFormerForMaskedLM",
    },
    "mobilebert": {
        "base": "mobilebert.modeling:TFMobileBertModel",
        "sequence_classification": "mobilebert.modeling:TFMobileBertForSequenceClassification",
        "token_classification": "mobilebert.modeling:TFMobileBertForTokenClassification",
        "question_answering": "mobilebert.modeling:TFMobileBertForQuestionAnswering",
        "multiple_choice": "mobilebert.modeling:TFMobileBertForMultipleChoice",
        "masked_lm": "mobilebert.modeling:TFMobileBertForMaskedLM",
    },
    "distilbert": {
        "base": "distilbert.modeling:TFDistilBertModel",
        "sequence_classification": "distilbert.modeling:TFDistilBertForSequenceClassification",
        "token_classification": "distilbert.modeling:TFDistilBertForTokenClassification",
        "question_answering": "distilbert.modeling:TFDistilBertForQuestionAnswering",
        "multiple_choice": "distilbert.modeling:TFDistilBertForMultipleChoice",
        "masked_lm": "distilbert.modeling:TFDistilBertForMaskedLM",
    },
    "electra": {
        "base": "electra.modeling:TFElectraModel",
        "sequence_classification": "electra.modeling:TFElectraForSequenceClassification",
        "token_classification": "electra.modeling:TFElectraForTokenClassification",
        "question_answering": "electra.modeling:TFElectraForQuestionAnswering",
        "multiple_choice": "electra.modeling:TFElectraForMultipleChoice",
        "masked_lm": "electra.modeling:TFElectraForMaskedLM",
        "pretraining": "electra.modeling:TFElectraForPreTraining",
    },
    "albert": {
        "base": "albert.modeling:TFAlbertModel",
        "sequence_classification": "albert.modeling:TFAlbertForSequenceClassification",
        "token_classification": "albert.modeling:TFAlbertForTokenClassification",
        "question_answering": "albert.modeling:TFAlbertForQuestionAnswering",
        "multiple_choice": "albert.modeling:TFAlbertForMultipleChoice",
        "masked_lm": "albert.modeling:TFAlbertForMaskedLM",
    },
    "mpnet": {
        "base": "mpnet.modeling:TFMPNetModel",
        "sequence_classification": "mpnet.modeling:TFMPNetForSequenceClassification",
        "token_classification": "mpnet.modeling:TFMPNetForTokenClassification",
        "question_answering": "mpnet.modeling:TFMPNetForQuestionAnswering",
        "multiple_choice": "mpnet.modeling:TFMPNetForMultipleChoice",
        "masked_lm": "mpnet.modeling:TFMPNetForMaskedLM",
    },
    "longformer": {
        "base": "longformer.modeling:TFLongformerModel",
        "sequence_classification": "longformer.modeling:TFLongformerForSequenceClassification",
        "token_classification": "longformer.modeling:TFLongformerForTokenClassification",
        "question_answering": "longformer.modeling:TFLongformerForQuestionAnswering",
        "multiple_choice": "longformer.modeling:TFLongformerForMultipleChoice",
        "masked_lm": "longformer.modeling:TFLongformerForMaskedLM",
    },
    "deberta": {
        "base": "deberta.modeling:TFDebertaModel",
        "sequence_classification": "deberta.modeling:TFDebertaForSequenceClassification",
        "token_classification": "deberta.modeling:TFDebertaForTokenClassification",
        "question_answering": "deberta.modeling:TFDebertaForQuestionAnswering",
        "masked_lm": "deberta.modeling:TFDebertaForMaskedLM",
    },
    "deberta-v2": {
        "base": "deberta_v2.modeling:TFDebertaV2Model",
        "sequence_classification": "deberta_v2.modeling:TFDebertaV2ForSequenceClassification",
        "token_classification": "deberta_v2.modeling:TFDebertaV2ForTokenClassification",
        "question_answering": "deberta_v2.modeling:TFDebertaV2ForQuestionAnswering",
        "multiple_choice": "deberta_v2.modeling:TFDebertaV2ForMultipleChoice",
        "masked_lm": "deberta_v2.modeling:TFDebertaV2ForMaskedLM",
    },
    "funnel": {
        "base": "funnel.modeling:TFFunnelModel",
        "base_encoder": "funnel.modeling:TFFunnelBaseModel",
        "sequence_classification": "funnel.modeling:TFFunnelForSequenceClassification",
        "token_classification": "funnel.modeling:TFFunnelForTokenClassification",
        "question_answering": "funnel.modeling:TFFunnelForQuestionAnswering",
        "multiple_choice": "funnel.modeling:TFFunnelForMultipleChoice",
        "masked_lm": "funnel.modeling:TFFunnelForMaskedLM",
        "pretraining": "funnel.modeling:TFFunnelForPreTraining",
    },
    "llama": {
        "base": "llama.modeling:TFLlamaModel",
        "causal_lm": "llama.modeling:TFLlamaForCausalLM",
        "sequence_classification": "llama.modeling:TFLlamaForSequenceClassification",
        "token_classification": "llama.modeling:TFLlamaForTokenClassification",
        "question_answering": "llama.modeling:TFLlamaForQuestionAnswering",
    },
    "mistral": {
        "base": "mistral.modeling:TFMistralModel",
        "causal_lm": "mistral.modeling:TFMistralForCausalLM",
        "sequence_classification": "mistral.modeling:TFMistralForSequenceClassification",
        "token_classification": "mistral.modeling:TFMistralForTokenClassification",
        "question_answering": "mistral.modeling:TFMistralForQuestionAnswering",
    },
    "qwen2": {
        "base": "qwen2.modeling:TFQwen2Model",
        "causal_lm": "qwen2.modeling:TFQwen2ForCausalLM",
        "sequence_classification": "qwen2.modeling:TFQwen2ForSequenceClassification",
        "token_classification": "qwen2.modeling:TFQwen2ForTokenClassification",
        "question_answering": "qwen2.modeling:TFQwen2ForQuestionAnswering",
    },
    "gemma3_text": {
        "base": "gemma3.modeling:TFGemma3TextModel",
        "causal_lm": "gemma3.modeling:TFGemma3ForCausalLM",
        "sequence_classification": "gemma3.modeling:TFGemma3TextForSequenceClassification",
    },
    "gpt2": {
        "base": "gpt2.modeling:TFGPT2Model",
        "causal_lm": "gpt2.modeling:TFGPT2LMHeadModel",
        "sequence_classification": "gpt2.modeling:TFGPT2ForSequenceClassification",
        "token_classification": "gpt2.modeling:TFGPT2ForTokenClassification",
        "question_answering": "gpt2.modeling:TFGPT2ForQuestionAnswering",
    },
    "t5": {
        "base": "t5.modeling:TFT5Model",
        "seq2seq_lm": "t5.modeling:TFT5ForConditionalGeneration",
        "encoder": "t5.modeling:TFT5EncoderModel",
        "sequence_classification": "t5.modeling:TFT5ForSequenceClassification",
        "token_classification": "t5.modeling:TFT5ForTokenClassification",
        "question_answering": "t5.modeling:TFT5ForQuestionAnswering",
    },
    "mt5": {
        "base": "t5.modeling:TFMT5Model",
        "seq2seq_lm": "t5.modeling:TFMT5ForConditionalGeneration",
        "encoder": "t5.modeling:TFMT5EncoderModel",
        "sequence_classification": "t5.modeling:TFMT5ForSequenceClassification",
        "token_classification": "t5.modeling:TFMT5ForTokenClassification",
        "question_answering": "t5.modeling:TFMT5ForQuestionAnswering",
    },
    "umt5": {
        "base": "umt5.modeling:TFUMT5Model",
        "seq2seq_lm": "umt5.modeling:TFUMT5ForConditionalGeneration",
        "encoder": "umt5.modeling:TFUMT5EncoderModel",
        "sequence_classification": "umt5.modeling:TFUMT5ForSequenceClassification",
        "token_classification": "umt5.modeling:TFUMT5ForTokenClassification",
        "question_answering": "umt5.modeling:TFUMT5ForQuestionAnswering",
    },
    "bart": {
        "base": "bart.modeling:TFBartModel",
        "seq2seq_lm": "bart.modeling:TFBartForConditionalGeneration",
        "sequence_classification": "bart.modeling:TFBartForSequenceClassification",
        "question_answering": "bart.modeling:TFBartForQuestionAnswering",
    },
    "mbart": {
        "base": "mbart.modeling:TFMBartModel",
        "seq2seq_lm": "mbart.modeling:TFMBartForConditionalGeneration",
        "sequence_classification": "mbart.modeling:TFMBartForSequenceClassification",
        "question_answering": "mbart.modeling:TFMBartForQuestionAnswering",
    },
    "m2m_100": {
        "base": "m2m_100.modeling:TFM2M100Model",
        "seq2seq_lm": "m2m_100.modeling:TFM2M100ForConditionalGeneration",
    },
    "whisper": {
        "base": "whisper.modeling:TFWhisperModel",
        "speech_seq2seq": "whisper.modeling:TFWhisperForConditionalGeneration",
    },
    "clip": {
        "base": "clip.modeling:TFCLIPModel",
        "zero_shot_image_classification": "clip.modeling:TFCLIPModel",
    },
    "clip_text_model": {"base": "clip.modeling:TFCLIPTextModel"},
    "blip": {"vision2seq": "blip.modeling:TFBlipForConditionalGeneration"},
    "clipseg": {
        "base": "clipseg.modeling:TFCLIPSegModel",
        "image_segmentation": "clipseg.modeling:TFCLIPSegForImageSegmentation",
    },
    "vilt": {
        "base": "vilt.modeling:TFViltModel",
        "visual_question_answering": "vilt.modeling:TFViltForQuestionAnswering",
    },
    "clip_vision_model": {"base": "clip.modeling:TFCLIPVisionModel"},
    "donut-swin": {"base": "donut.modeling:TFDonutSwinModel"},
    "vision-encoder-decoder": {
        "base": "vision_encoder_decoder.modeling:TFVisionEncoderDecoderModel",
        "vision2seq": "vision_encoder_decoder.modeling:TFVisionEncoderDecoderModel",
    },
    "speecht5": {
        "text_to_spectrogram": "speecht5.modeling:TFSpeechT5ForTextToSpeech",
    },
    "speecht5_hifigan": {
        "base": "speecht5.hifigan:TFSpeechT5HifiGan",
    },
}

GGUF = {
    "llama": "llama.gguf",
    "qwen2": "qwen2.gguf",
    "gemma3": "gemma3.gguf",
}

FOLDER_FORMATS = (
    "whisper.ct2",  # CTranslate2 (faster-whisper) Whisper folders
)


def supported_model_types():
    return sorted(MODELS)


def load_class(ref: str):
    module, name = ref.split(":")
    return getattr(_module(module), name)


def model_class_for(model_type: str, task: str):
    family = MODELS.get(model_type)
    if family is None:
        raise UnsupportedModelError(
            f"model_type '{model_type}' is not supported by tfhf; supported model types: "
            f"{', '.join(supported_model_types())}.")
    ref = family.get(task)
    if ref is None:
        have = ", ".join(t for t in TASKS if t in family)
        raise UnsupportedModelError(
            f"model_type '{model_type}' has no '{task}' head in tfhf (available: {have}).")
    return load_class(ref)


def all_class_refs():
    """Public class name -> reference, for ``tfhf.<ClassName>`` lazy imports."""
    out = {}
    for family in MODELS.values():
        for ref in family.values():
            out[ref.split(":")[1]] = ref
    return out


def _module(ref: str):
    return importlib.import_module(f"tfhf.models.{ref}")


def gguf_family(architecture: str, path=None):
    """The module mapping GGUF files of ``architecture`` (``config_kwargs``, ``BLOCK_NAMES``,
    ``MODEL_TYPE``, optional ``transform``)."""
    ref = GGUF.get(architecture)
    if ref is None:
        where = f"'{path}' holds" if path is not None else "This is"
        raise UnsupportedModelError(
            f"{where} a GGUF model of architecture '{architecture}'; tfhf reads GGUF files of "
            f"architecture {', '.join(GGUF)}.")
    return _module(ref)


def folder_config(path: str):
    """The config of a local folder in a format one of ``FOLDER_FORMATS`` reads, else None."""
    for ref in FOLDER_FORMATS:
        config = _module(ref).folder_config(path)
        if config is not None:
            return config
    return None
