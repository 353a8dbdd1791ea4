"""tfhf.pipeline(): tasks and aliases, default checkpoints offline, model objects, tokenizers,
options, errors."""

from __future__ import annotations

import logging
import types

import pytest

pytest.importorskip("torch")
from _pipeline_helpers import assert_same

import tfhf
from tfhf.errors import InvalidInputError, ModelNotFoundError

TASKS = ["automatic-speech-recognition", "document-question-answering", "feature-extraction",
         "fill-mask", "image-segmentation", "image-to-text", "ner", "question-answering",
         "sentiment-analysis", "summarization", "text-classification", "text-generation",
         "text-to-audio", "text-to-speech", "text2text-generation", "token-classification",
         "translation", "visual-question-answering", "vqa", "zero-shot-classification",
         "zero-shot-image-classification"]


def test_public_name():
    from tfhf.pipelines import pipeline, supported_tasks

    assert tfhf.pipeline is pipeline
    assert supported_tasks() == TASKS


@pytest.mark.parametrize("task", ["image-classification", "translation_en", "Text-Classification",
                                  "", None])
def test_unknown_task_lists_the_supported_ones(task):
    with pytest.raises(InvalidInputError) as info:
        tfhf.pipeline(task, model="unused")
    assert repr(task) in str(info.value)
    for name in TASKS:
        assert name in str(info.value)


@pytest.mark.parametrize("task,default", [
    ("sentiment-analysis", "distilbert/distilbert-base-uncased-finetuned-sst-2-english"),
    ("ner", "dbmdz/bert-large-cased-finetuned-conll03-english"),
    ("question-answering", "distilbert/distilbert-base-cased-distilled-squad"),
    ("fill-mask", "distilbert/distilroberta-base"),
    ("feature-extraction", "distilbert/distilbert-base-cased"),
    ("text-generation", "openai-community/gpt2"),
    ("zero-shot-classification", "facebook/bart-large-mnli"),
    ("summarization", "sshleifer/distilbart-cnn-12-6"),
    ("text2text-generation", "google-t5/t5-base"),
    ("translation_en_to_de", "google-t5/t5-base"),
    ("zero-shot-image-classification", "openai/clip-vit-base-patch32"),
    ("document-question-answering", "naver-clova-ix/donut-base-finetuned-docvqa"),
    ("text-to-speech", "microsoft/speecht5_tts"),
])
def test_default_model_offline_is_not_cached(task, default, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="tfhf"), \
            pytest.raises(ModelNotFoundError) as info:
        tfhf.pipeline(task, model_kwargs={"cache_dir": str(tmp_path)})
    message = str(info.value)
    assert default in message and "not in the cache" in message and "model=" in message
    assert isinstance(info.value, OSError)
    assert any(default in r.getMessage() for r in caplog.records)  # "No model was supplied"


def test_model_object_and_tokenizers(checkpoint):
    import transformers

    folder = checkpoint("bert", "text-classification")
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(folder)
    reference = tfhf.pipeline("text-classification", model=folder)("a fine day", top_k=None)
    # tokenizer from model.name_or_path, a transformers tokenizer, a tfhf tokenizer, a folder
    for tok in (None, transformers.AutoTokenizer.from_pretrained(folder),
                tfhf.AutoTokenizer.from_pretrained(folder), folder, (folder, {})):
        pipe = tfhf.pipeline("text-classification", model=model, tokenizer=tok)
        assert pipe.model is model
        assert_same(pipe("a fine day", top_k=None), reference, atol=0)
    # config given as a folder
    pipe = tfhf.pipeline("text-classification", model=folder, config=folder)
    assert pipe.model.config.id2label == model.config.id2label


def test_model_object_needs_the_right_head(checkpoint):
    folder = checkpoint("bert", "text-classification")
    base = tfhf.TFAutoModel.from_pretrained(folder)
    with pytest.raises(InvalidInputError, match="sequence_classification head"):
        tfhf.pipeline("text-classification", model=base, tokenizer=folder)
    with pytest.raises(InvalidInputError, match="PyTorch models are not supported"):
        tfhf.pipeline("text-classification", model=object(), tokenizer=folder)
    with pytest.raises(InvalidInputError, match="tokenizer was given without a model"):
        tfhf.pipeline("text-classification", tokenizer=folder)
    base.name_or_path = base.config._name_or_path = None
    with pytest.raises(InvalidInputError, match="tokenizer"):
        tfhf.pipeline("feature-extraction", model=base)
    # from a path feature-extraction loads the bare backbone; a model object with a head is
    # accepted and gives its first output (here the logits), as in transformers
    assert tfhf.pipeline("feature-extraction", model=folder).model.task is None
    head = tfhf.TFAutoModelForSequenceClassification.from_pretrained(folder)
    logits = tfhf.pipeline("feature-extraction", model=head, tokenizer=folder)("a fine day")
    assert len(logits) == 1 and len(logits[0]) == 3


def test_options_generators_devices(checkpoint, tmp_path):
    folder = checkpoint("bert", "token-classification")
    pipe = tfhf.pipeline("ner", model=folder, aggregation_strategy="simple", batch_size=2,
                         device="cpu")
    texts = ["John lives in Berlin.", "Mary works in Paris.", "ok"]
    expected = pipe(texts, ignore_labels=[])
    assert all("entity_group" in e for r in expected for e in r)  # construction default used
    stream = pipe((t for t in texts), ignore_labels=[])
    assert isinstance(stream, types.GeneratorType)
    assert_same(list(stream), expected, atol=0)
    with pytest.raises(InvalidInputError, match="unknown option.*aggregation_strategy"):
        pipe(texts, aggregation="simple")
    with pytest.raises(InvalidInputError, match="device"):
        tfhf.pipeline("ner", model=folder, device="tpu-ish")
    with pytest.raises(InvalidInputError, match="framework"):
        tfhf.pipeline("ner", model=folder, framework="pt")
    pipe.save_pretrained(tmp_path / "saved")
    again = tfhf.pipeline("ner", model=str(tmp_path / "saved"), aggregation_strategy="simple")
    assert_same(again(texts, ignore_labels=[]), expected)
