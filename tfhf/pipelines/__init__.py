"""``tfhf.pipeline(task, model=...)``: transformers' pipelines on tfhf models.

Tasks: text-classification (alias sentiment-analysis), feature-extraction,
token-classification (alias ner), question-answering, fill-mask, text-generation,
zero-shot-classification, and on encoder-decoder models text2text-generation, summarization and
translation (also as transformers' ``"translation_xx_to_yy"`` names), and on Whisper
automatic-speech-recognition, on SpeechT5 text-to-speech (alias text-to-audio), and on image
models image-to-text (BLIP), visual-question-answering (alias vqa; ViLT), image-segmentation
(CLIPSeg, with text prompts), document-question-answering (Donut) and
zero-shot-image-classification (CLIP), with transformers' output formats. ``model`` is a folder / Hub
repo id (loaded with the task's TFAutoModelFor* class and :class:`tfhf.AutoTokenizer`) or a
tfhf model object; without it the task's default checkpoint (the one transformers used) is
loaded from the Hub or its cache.
"""

from __future__ import annotations

import logging
import os
import re

from ..errors import InvalidInputError, ModelNotFoundError
from .base import Pipeline

logger = logging.getLogger("tfhf")

# task -> (module, class, TFAutoModel class, (default checkpoint, revision)); the defaults are
# transformers' (question-answering from transformers 4.x, which was the last to have it)
SUPPORTED_TASKS = {
    "text-classification": ("text_classification", "TextClassificationPipeline",
                            "TFAutoModelForSequenceClassification",
                            ("distilbert/distilbert-base-uncased-finetuned-sst-2-english",
                             "714eb0f")),
    "feature-extraction": ("feature_extraction", "FeatureExtractionPipeline", "TFAutoModel",
                           ("distilbert/distilbert-base-cased", "6ea8117")),
    "token-classification": ("token_classification", "TokenClassificationPipeline",
                             "TFAutoModelForTokenClassification",
                             ("dbmdz/bert-large-cased-finetuned-conll03-english", "4c53496")),
    "question-answering": ("question_answering", "QuestionAnsweringPipeline",
                           "TFAutoModelForQuestionAnswering",
                           ("distilbert/distilbert-base-cased-distilled-squad", "564e9b5")),
    "fill-mask": ("fill_mask", "FillMaskPipeline", "TFAutoModelForMaskedLM",
                  ("distilbert/distilroberta-base", "fb53ab8")),
    "text-generation": ("text_generation", "TextGenerationPipeline", "TFAutoModelForCausalLM",
                        ("openai-community/gpt2", "607a30d")),
    "zero-shot-classification": ("zero_shot_classification", "ZeroShotClassificationPipeline",
                                 "TFAutoModelForSequenceClassification",
                                 ("facebook/bart-large-mnli", "d7645e1")),
    "text2text-generation": ("text2text_generation", "Text2TextGenerationPipeline",
                             "TFAutoModelForSeq2SeqLM", ("google-t5/t5-base", "a9723ea")),
    "summarization": ("text2text_generation", "SummarizationPipeline", "TFAutoModelForSeq2SeqLM",
                      ("sshleifer/distilbart-cnn-12-6", "a4f8f3e")),
    # transformers' own default (facebook/wav2vec2-base-960h) is a CTC model tfhf lacks; the
    # agents' speech-to-text default instead
    "automatic-speech-recognition": ("automatic_speech_recognition",
                                     "AutomaticSpeechRecognitionPipeline",
                                     "TFAutoModelForSpeechSeq2Seq", ("openai/whisper-base", None)),
    # transformers' default (impira/layoutlm-document-qa) needs OCR; tfhf runs Donut
    "document-question-answering": ("document_question_answering",
                                    "DocumentQuestionAnsweringPipeline", "TFAutoModelForVision2Seq",
                                    ("naver-clova-ix/donut-base-finetuned-docvqa", None)),
    "zero-shot-image-classification": ("zero_shot_image_classification",
                                       "ZeroShotImageClassificationPipeline",
                                       "TFAutoModelForZeroShotImageClassification",
                                       ("openai/clip-vit-base-patch32", "3d74acf")),
    # transformers 4.x's defaults were models tfhf lacks (ViT-GPT2, DETR); the agent tools' ones
    "image-to-text": ("image_to_text", "ImageToTextPipeline", "TFAutoModelForVision2Seq",
                      ("Salesforce/blip-image-captioning-base", None)),
    "visual-question-answering": ("visual_question_answering",
                                  "VisualQuestionAnsweringPipeline",
                                  "TFAutoModelForVisualQuestionAnswering",
                                  ("dandelin/vilt-b32-finetuned-vqa", None)),
    "image-segmentation": ("image_segmentation", "ImageSegmentationPipeline",
                           "TFAutoModelForImageSegmentation",
                           ("CIDAS/clipseg-rd64-refined", None)),
    # SpeechT5 + its HiFi-GAN vocoder (the pipeline's vocoder= default), as transformers
    "text-to-speech": ("text_to_audio", "TextToAudioPipeline", "TFAutoModelForTextToSpectrogram",
                       ("microsoft/speecht5_tts", None)),
    # the default depends on the language pair: TRANSLATION_DEFAULTS
    "translation": ("text2text_generation", "TranslationPipeline", "TFAutoModelForSeq2SeqLM",
                    (None, None)),
}
TASK_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification",
                "vqa": "visual-question-answering", "text-to-audio": "text-to-speech"}
# transformers' "translation_xx_to_yy" task names -> (xx, yy); the pairs with a default model
TRANSLATION_TASK = re.compile(r"translation_([^_]+)_to_([^_]+)")
TRANSLATION_DEFAULTS = {pair: ("google-t5/t5-base", "a9723ea")
                        for pair in (("en", "fr"), ("en", "de"), ("en", "ro"))}

_LOAD_KEYS = ("cache_dir", "local_files_only", "subfolder")


def supported_tasks():
    return sorted(set(SUPPORTED_TASKS) | set(TASK_ALIASES))


def check_task(task):
    """``task`` (or an alias) -> its canonical name; unknown tasks raise InvalidInputError."""
    name = TASK_ALIASES.get(task, task) if isinstance(task, str) else None
    if isinstance(name, str) and TRANSLATION_TASK.fullmatch(name):
        return "translation"
    if name not in SUPPORTED_TASKS:
        raise InvalidInputError(
            f"Unknown task {task!r}. tfhf pipelines support: {', '.join(supported_tasks())} "
            "(and translation_xx_to_yy).")
    return name


def _default_model(name, task):
    """(checkpoint, revision) used when no model is given; translation picks by language pair."""
    if name != "translation":
        return SUPPORTED_TASKS[name][3]
    match = TRANSLATION_TASK.fullmatch(task)
    pair = match.groups() if match else None
    if pair not in TRANSLATION_DEFAULTS:
        raise InvalidInputError(
            f"The '{task}' pipeline has no default model"
            + ("" if pair else " (the task names no language pair)")
            + ": pass model=<folder or repo id> (e.g. facebook/nllb-200-distilled-600M with "
            "src_lang/tgt_lang), or use one of "
            + ", ".join(f"translation_{a}_to_{b}" for a, b in TRANSLATION_DEFAULTS) + ".")
    return TRANSLATION_DEFAULTS[pair]


def task_class(task):
    """The pipeline class of ``task`` (or an alias)."""
    import importlib

    module, cls, _, _ = SUPPORTED_TASKS[check_task(task)]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def pipeline(task, model=None, tokenizer=None, batch_size=None, config=None, *, revision=None,
             token=None, use_fast=True, device=None, dtype=None, model_kwargs=None,
             framework=None, trust_remote_code=None, pipeline_class=None, image_processor=None,
             **kwargs):
    """Build the pipeline for ``task`` (transformers' ``pipeline`` on tfhf models).

    ``model``: a folder or Hub repo id, or a tfhf model. ``tokenizer``: a folder / repo id
    (default: the model's), a transformers or tfhf tokenizer, or ``(name, kwargs)``.
    ``config``: a config (object, folder or repo id) for the model. ``batch_size``: how many
    inputs (or QA windows) run through the model at once. ``revision``, ``token``,
    ``model_kwargs`` (e.g. ``{"local_files_only": True}``) and ``dtype`` go to
    ``from_pretrained``; ``device`` (-1, 0, "cpu", "cuda:0", "/GPU:0") places the model calls.
    Other keywords are task options (``top_k``, ``aggregation_strategy``,
    ``function_to_apply``, ``handle_impossible_answer``...) that every call then uses.
    """
    import importlib

    from ..models import auto

    if framework not in (None, "tf"):
        raise InvalidInputError(f"framework={framework!r}: tfhf pipelines run TensorFlow models "
                                "only (framework='tf' or None).")
    name = check_task(task)
    module, cls_name, auto_name, _ = SUPPORTED_TASKS[name]
    cls = pipeline_class or getattr(importlib.import_module(f"{__name__}.{module}"), cls_name)
    model_kwargs = dict(model_kwargs or {})
    hub = {k: v for k, v in (("revision", revision), ("token", token)) if v is not None}
    hub.update({k: model_kwargs.pop(k) for k in _LOAD_KEYS if k in model_kwargs})

    if model is None and tokenizer is not None:
        raise InvalidInputError("A tokenizer was given without a model: pass the model too "
                                "(a tokenizer alone cannot choose the weights).")
    if model is None and config is not None:
        raise InvalidInputError("A config was given without a model: pass the model too.")
    using_default = model is None
    if using_default:
        default_model, default_revision = _default_model(name, task)
        model = default_model
        hub.setdefault("revision", default_revision)
        logger.warning("No model was supplied, defaulted to %s and revision %s. Using a "
                       "pipeline without specifying a model name and revision in production "
                       "is not recommended.", default_model, default_revision)
    if isinstance(model, os.PathLike):
        model = os.fspath(model)

    model_name = model if isinstance(model, str) else None
    if isinstance(model, str):
        auto_cls = getattr(auto, auto_name)
        load = dict(hub, **model_kwargs)
        if dtype is not None:
            load["dtype"] = dtype
        if config is not None:
            load["config"] = os.fspath(config) if isinstance(config, os.PathLike) else config
        try:
            model = auto_cls.from_pretrained(model, **load)
        except ModelNotFoundError as e:
            if not using_default:
                raise
            raise ModelNotFoundError(
                f"No model was given for the '{task}' pipeline and its default "
                f"'{default_model}' (revision {default_revision}) could not be loaded: {e} "
                "Pass model=<folder or repo id> to use another model.") from None
    else:
        _check_model(model, cls, name)

    tokenizer = _load_tokenizer(tokenizer, model_name, model, config, hub, use_fast)
    if getattr(cls, "uses_images", False):  # image pipelines: the model's image processor
        from .vision_base import load_image_processor

        kwargs["image_processor"] = load_image_processor(image_processor, model_name, model, hub)
    elif image_processor is not None:
        raise InvalidInputError(f"The '{task}' pipeline takes no image_processor.")
    return cls(model=model, tokenizer=tokenizer, batch_size=batch_size, task=task,
               device=device, **kwargs)


def _load_tokenizer(tokenizer, model_name, model, config, hub, use_fast):
    """The pipeline's TFTokenizer: ``tokenizer`` as given (name, ``(name, kwargs)`` or object),
    by default the model's."""
    from ..data.tokenizer import AutoTokenizer, TFTokenizer

    if tokenizer is None:
        tokenizer = model_name or (config if isinstance(config, str) else None) \
            or getattr(model, "name_or_path", None) \
            or getattr(getattr(model, "config", None), "_name_or_path", None) or None
        if not tokenizer:
            raise InvalidInputError(
                "Cannot tell which tokenizer to use: the model object has no name_or_path. "
                "Pass tokenizer=<folder, repo id or tokenizer object>.")
    if isinstance(tokenizer, (str, os.PathLike, tuple)):
        if isinstance(tokenizer, tuple):
            tok_name, tok_kwargs = tokenizer[0], dict(tokenizer[1])
        else:
            tok_name, tok_kwargs = os.fspath(tokenizer), {}
        tok_kwargs = {**{k: v for k, v in hub.items() if k != "subfolder"},
                      "use_fast": use_fast, **tok_kwargs}
        tokenizer = AutoTokenizer.from_pretrained(tok_name, **tok_kwargs)
    elif not isinstance(tokenizer, TFTokenizer):
        tokenizer = TFTokenizer(tokenizer)
    return tokenizer


def _check_model(model, cls, task):
    from ..models.base import TFPreTrainedModel

    if not isinstance(model, TFPreTrainedModel):
        raise InvalidInputError(
            f"model must be a folder, a Hub repo id or a tfhf model, got "
            f"{type(model).__module__}.{type(model).__name__}. (PyTorch models are not "
            "supported: load the checkpoint with tfhf.)")
    wanted = cls.model_task
    have = getattr(model, "task", None) or "base"
    if wanted != "base" and have != wanted:
        raise InvalidInputError(
            f"The '{task}' pipeline needs a model with a {wanted} head (a "
            f"{SUPPORTED_TASKS[task][2]} model); {type(model).__name__} has "
            f"{'no head' if have == 'base' else 'a ' + have + ' head'}.")


__all__ = ["SUPPORTED_TASKS", "TASK_ALIASES", "TRANSLATION_DEFAULTS", "Pipeline", "check_task",
           "pipeline", "supported_tasks", "task_class"]
