"""model_type -> {task -> "module:Class"}: the one table the auto classes read."""

from __future__ import annotations

import importlib

from ..errors import UnsupportedModelError

TASKS = ("base", "sequence_classification", "token_classification", "question_answering",
         "masked_lm", "causal_lm", "seq2seq_lm", "speech_seq2seq")

MODELS = {
    "bert": {
        "base": "bert.modeling:TFBertModel",
        "sequence_classification": "bert.modeling:TFBertForSequenceClassification",
        "token_classification": "bert.modeling:TFBertForTokenClassification",
        "question_answering": "bert.modeling:TFBertForQuestionAnswering",
        "masked_lm": "bert.modeling:TFBertForMaskedLM",
    },
    "roberta": {
        "base": "roberta.modeling:TFRobertaModel",
        "sequence_classification": "roberta.modeling:TFRobertaForSequenceClassification",
        "token_classification": "roberta.modeling:TFRobertaForTokenClassification",
        "question_answering": "roberta.modeling:TFRobertaForQuestionAnswering",
        "masked_lm": "roberta.modeling:TFRobertaForMaskedLM",
    },
    "distilbert": {
        "base": "distilbert.modeling:TFDistilBertModel",
        "sequence_classification": "distilbert.modeling:TFDistilBertForSequenceClassification",
        "token_classification": "distilbert.modeling:TFDistilBertForTokenClassification",
        "question_answering": "distilbert.modeling:TFDistilBertForQuestionAnswering",
        "masked_lm": "distilbert.modeling:TFDistilBertForMaskedLM",
    },
    "llama": {
        "base": "llama.modeling:TFLlamaModel",
        "causal_lm": "llama.modeling:TFLlamaForCausalLM",
    },
    "mistral": {
        "base": "mistral.modeling:TFMistralModel",
        "causal_lm": "mistral.modeling:TFMistralForCausalLM",
    },
    "qwen2": {
        "base": "qwen2.modeling:TFQwen2Model",
        "causal_lm": "qwen2.modeling:TFQwen2ForCausalLM",
    },
    "gemma3_text": {
        "base": "gemma3.modeling:TFGemma3TextModel",
        "causal_lm": "gemma3.modeling:TFGemma3ForCausalLM",
    },
    "gpt2": {
        "base": "gpt2.modeling:TFGPT2Model",
        "causal_lm": "gpt2.modeling:TFGPT2LMHeadModel",
    },
    "t5": {
        "base": "t5.modeling:TFT5Model",
        "seq2seq_lm": "t5.modeling:TFT5ForConditionalGeneration",
        "encoder": "t5.modeling:TFT5EncoderModel",
    },
    "bart": {
        "base": "bart.modeling:TFBartModel",
        "seq2seq_lm": "bart.modeling:TFBartForConditionalGeneration",
        "sequence_classification": "bart.modeling:TFBartForSequenceClassification",
    },
    "m2m_100": {
        "base": "m2m_100.modeling:TFM2M100Model",
        "seq2seq_lm": "m2m_100.modeling:TFM2M100ForConditionalGeneration",
    },
    "whisper": {
        "base": "whisper.modeling:TFWhisperModel",
        "speech_seq2seq": "whisper.modeling:TFWhisperForConditionalGeneration",
    },
}


def supported_model_types():
    return sorted(MODELS)


def load_class(ref: str):
    module, name = ref.split(":")
    return getattr(importlib.import_module(f"tfhf.models.{module}"), name)


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
