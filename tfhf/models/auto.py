"""TFAutoModel classes: pick the family class from ``config.model_type`` via the registry."""

from __future__ import annotations

from ..errors import InvalidInputError
from ..hub.resolve import ModelSource, split_gguf_path
from .base import check_path_like, load_config
from .registry import folder_config, model_class_for


class _TFAutoClass:
    task: str = "base"

    def __init__(self, *args, **kwargs):
        raise EnvironmentError(f"{type(self).__name__} is designed to be instantiated with "
                               f"{type(self).__name__}.from_pretrained(...) or .from_config(...).")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, config=None, **kwargs):
        import os

        if args:
            raise InvalidInputError(f"{cls.__name__}.from_pretrained takes keyword arguments "
                                    f"only after the path; got {args!r}.")
        # a .gguf file path loads like (its folder, gguf_file=its name)
        path, gguf_file = split_gguf_path(pretrained_model_name_or_path,
                                          kwargs.pop("gguf_file", None))
        if gguf_file is not None:
            kwargs["gguf_file"] = gguf_file
        check_path_like(path)
        load_keys = ("revision", "cache_dir", "local_files_only", "token", "subfolder")
        source = ModelSource(path, **{k: kwargs[k] for k in load_keys if k in kwargs})
        if config is None and not kwargs.get("gguf_file") and os.path.isdir(path):
            config = folder_config(path)  # a folder in another library's format, or None
        if config is None:
            config, _ = load_config(source, gguf_file=kwargs.get("gguf_file"))
        elif isinstance(config, str):
            config, _ = load_config(source, config)
        model_cls = model_class_for(config.model_type, cls.task).auto_class(config)
        return model_cls.from_pretrained(path, config=config, **kwargs)

    @classmethod
    def from_config(cls, config, **kwargs):
        model_cls = model_class_for(config.model_type, cls.task).auto_class(config)
        return model_cls.from_config(config, **kwargs)


def _auto(name, task):
    return type(name, (_TFAutoClass,), {"task": task, "__module__": __name__})


TFAutoModel = _auto("TFAutoModel", "base")
TFAutoModelForSequenceClassification = _auto("TFAutoModelForSequenceClassification",
                                             "sequence_classification")
TFAutoModelForTokenClassification = _auto("TFAutoModelForTokenClassification",
                                          "token_classification")
TFAutoModelForQuestionAnswering = _auto("TFAutoModelForQuestionAnswering", "question_answering")
TFAutoModelForMultipleChoice = _auto("TFAutoModelForMultipleChoice", "multiple_choice")
TFAutoModelForMaskedLM = _auto("TFAutoModelForMaskedLM", "masked_lm")
TFAutoModelForPreTraining = _auto("TFAutoModelForPreTraining", "pretraining")
TFAutoModelForCausalLM = _auto("TFAutoModelForCausalLM", "causal_lm")
TFAutoModelForSeq2SeqLM = _auto("TFAutoModelForSeq2SeqLM", "seq2seq_lm")
TFAutoModelForSpeechSeq2Seq = _auto("TFAutoModelForSpeechSeq2Seq", "speech_seq2seq")
TFAutoModelForVision2Seq = _auto("TFAutoModelForVision2Seq", "vision2seq")
TFAutoModelForZeroShotImageClassification = _auto("TFAutoModelForZeroShotImageClassification",
                                                  "zero_shot_image_classification")
TFAutoModelForVisualQuestionAnswering = _auto("TFAutoModelForVisualQuestionAnswering",
                                              "visual_question_answering")
TFAutoModelForImageSegmentation = _auto("TFAutoModelForImageSegmentation", "image_segmentation")
TFAutoModelForTextToSpectrogram = _auto("TFAutoModelForTextToSpectrogram", "text_to_spectrogram")
