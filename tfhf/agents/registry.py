"""The curated tools: task name -> tool class, remote class and default checkpoint.

One table. A task that is planned but not implemented yet (none at the moment)
is a :func:`planned` row: no module or class, ``available=False`` and a note saying why;
implementing it turns that row into a normal one. This module imports no tool module (each
row's class loads on demand), so tools may import it without a cycle.
The default checkpoints are the Hub repos transformers' original toolbox used; every tool also
loads from a local folder (``load_tool(task, model_repo_id="/path")``), and ``text_qa`` /
``summarizer`` also run on a causal LM (a folder, a GGUF file or an offline asset such as
``model_repo_id="asset:smollm2"``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import MissingDependencyError, UnsupportedModelError


@dataclass(frozen=True)
class ToolSpec:
    task: str
    module: str | None       # inside tfhf.agents (None for a planned task)
    class_name: str | None
    default_checkpoint: str | None
    remote_class: str | None = None
    available: bool = True
    note: str = ""
    # (module, pip package) pairs the tool needs beyond tfhf's requirements; without them it
    # is left out of the default toolbox and load_tool says what to install
    requires: tuple = ()

    def missing(self):
        """The pip packages this tool needs that are not installed."""
        import importlib.util

        return [pip for module, pip in self.requires if importlib.util.find_spec(module) is None]

    def load_class(self, remote: bool = False):
        if not self.available:
            raise UnsupportedModelError(f"The tool for '{self.task}' is not available in tfhf "
                                        f"yet: {self.note}")
        missing = self.missing()
        if missing:
            raise MissingDependencyError(f"The '{self.task}' tool needs "
                                         f"{', '.join(missing)}: pip install "
                                         f"{' '.join(missing)}.")
        module = importlib.import_module(f"tfhf.agents.{self.module}")
        return getattr(module, self.remote_class if remote else self.class_name)


def planned(task, default_checkpoint, note):
    """A task tfhf plans to cover but has no tool for yet."""
    return ToolSpec(task, None, None, default_checkpoint, available=False, note=note)


_PILLOW = (("PIL", "pillow"),)

TOOL_REGISTRY: dict[str, ToolSpec] = {s.task: s for s in [
    ToolSpec("text-classification", "text_tools", "TextClassificationTool",
             "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
             remote_class="RemoteTextClassificationTool"),
    ToolSpec("zero-shot-classification", "text_tools", "ZeroShotClassificationTool",
             "facebook/bart-large-mnli", remote_class="RemoteZeroShotClassificationTool"),
    ToolSpec("text-question-answering", "text_tools", "TextQuestionAnsweringTool",
             "google/flan-t5-base", remote_class="RemoteTextQuestionAnsweringTool"),
    ToolSpec("summarization", "text_tools", "TextSummarizationTool",
             "philschmid/bart-large-cnn-samsum", remote_class="RemoteTextSummarizationTool"),
    ToolSpec("translation", "translation", "TranslationTool", "facebook/nllb-200-distilled-600M",
             remote_class="RemoteTranslationTool"),
    ToolSpec("text-download", "text_tools", "TextDownloadTool", None),
    ToolSpec("speech-to-text", "audio_tools", "SpeechToTextTool", "openai/whisper-base"),
    ToolSpec("text-to-speech", "audio_tools", "TextToSpeechTool", "microsoft/speecht5_tts"),
    ToolSpec("image-captioning", "image_tools", "ImageCaptioningTool",
             "Salesforce/blip-image-captioning-base", requires=_PILLOW),
    ToolSpec("image-question-answering", "image_tools", "ImageQuestionAnsweringTool",
             "dandelin/vilt-b32-finetuned-vqa", requires=_PILLOW),
    ToolSpec("image-segmentation", "image_tools", "ImageSegmentationTool",
             "CIDAS/clipseg-rd64-refined", requires=_PILLOW),
    ToolSpec("document-question-answering", "image_tools", "DocumentQuestionAnsweringTool",
             "naver-clova-ix/donut-base-finetuned-docvqa", requires=_PILLOW),
]}

TASK_ALIASES = {
    "sentiment-analysis": "text-classification",
    "text-qa": "text-question-answering",
    "summarizer": "summarization",
    "text-summarization": "summarization",
    "text-downloader": "text-download",
    "zero-shot": "zero-shot-classification",
    "translator": "translation",
    "transcriber": "speech-to-text",
    "speech_to_text": "speech-to-text",
    "automatic-speech-recognition": "speech-to-text",
    "image_captioner": "image-captioning",
    "image-to-text": "image-captioning",
    "image_qa": "image-question-answering",
    "visual-question-answering": "image-question-answering",
    "vqa": "image-question-answering",
    "image_segmenter": "image-segmentation",
    "document_qa": "document-question-answering",
    "text_reader": "text-to-speech",
    "text-reader": "text-to-speech",
    "text_to_speech": "text-to-speech",
}


def canonical_task(name):
    """The registry task for ``name`` (or an alias); other values are returned unchanged."""
    if isinstance(name, str):
        return TASK_ALIASES.get(name, name)
    return name


def default_toolbox():
    """Fresh instances of every available curated tool (nothing is loaded until a call)."""
    tools = {}
    for task, spec in TOOL_REGISTRY.items():
        if not spec.available or spec.missing():
            continue
        cls = spec.load_class()
        instance = cls()  # a PipelineTool without a model uses its default checkpoint
        instance._tfhf_origin = {"task": task, "model_repo_id": None, "remote": False}
        tools[instance.name] = instance
    return tools
