"""tfhf: the Transformers TensorFlow API, TensorFlow/Keras-native.

``from tfhf import TFAutoModelForSequenceClassification, AutoTokenizer`` works like the
transformers 4.x TF API. Submodules load on first use so ``import tfhf`` stays cheap.
"""

from __future__ import annotations

import importlib

from . import xla_cache, xla_flags

__version__ = "0.1.0"

# before XLA compiles anything: tfhf's XLA:CPU flags when asked for ($TFHF_XLA_FLAGS=1; the
# cache's folder name hashes them), then the opt-in persistent XLA cache ($TFHF_XLA_CACHE)
xla_flags.configure_at_import()
xla_cache.configure()

_LAZY = {
    # models
    "TFPreTrainedModel": "tfhf.models.base",
    "TFAutoModel": "tfhf.models.auto",
    "TFAutoModelForSequenceClassification": "tfhf.models.auto",
    "TFAutoModelForTokenClassification": "tfhf.models.auto",
    "TFAutoModelForQuestionAnswering": "tfhf.models.auto",
    "TFAutoModelForMultipleChoice": "tfhf.models.auto",
    "TFAutoModelForMaskedLM": "tfhf.models.auto",
    "TFAutoModelForPreTraining": "tfhf.models.auto",
    "TFAutoModelForCausalLM": "tfhf.models.auto",
    "TFAutoModelForSeq2SeqLM": "tfhf.models.auto",
    "TFAutoModelForSpeechSeq2Seq": "tfhf.models.auto",
    "TFAutoModelForVision2Seq": "tfhf.models.auto",
    "TFAutoModelForZeroShotImageClassification": "tfhf.models.auto",
    "TFAutoModelForVisualQuestionAnswering": "tfhf.models.auto",
    "TFAutoModelForImageSegmentation": "tfhf.models.auto",
    "TFAutoModelForTextToSpectrogram": "tfhf.models.auto",
    # tokenizers and config
    "AutoTokenizer": "tfhf.data.tokenizer",
    "TFTokenizer": "tfhf.data.tokenizer",
    "AutoImageProcessor": "tfhf.images.processing",
    "AutoProcessor": "tfhf.images.processing",
    "TFImageProcessor": "tfhf.images.processing",
    "AutoConfig": "transformers",
    # data and training
    "DataCollatorWithPadding": "tfhf.data.collators",
    "DataCollatorForTokenClassification": "tfhf.data.collators",
    "DataCollatorForLanguageModeling": "tfhf.data.collators",
    "DefaultDataCollator": "tfhf.data.collators",
    "create_optimizer": "tfhf.training.optimization",
    "AdamWeightDecay": "tfhf.training.optimization",
    "WarmUp": "tfhf.training.optimization",
    # pipelines and Keras callbacks
    "pipeline": "tfhf.pipelines",
    "KerasMetricCallback": "tfhf.keras_callbacks",
    "PushToHubCallback": "tfhf.keras_callbacks",
    "TrainingPlot": "tfhf.training.plots",
    # generation
    "GenerationConfig": "transformers",
    "set_seed": "tfhf.generation",
    "TextStreamer": "tfhf.generation",
    "TextIteratorStreamer": "tfhf.generation",
    # agents and tools
    "load_tool": "tfhf.agents.tools",
    "Tool": "tfhf.agents.tools",
    "tool": "tfhf.agents.tools",
    "PipelineTool": "tfhf.agents.tools",
    "RemoteTool": "tfhf.agents.tools",
    "Agent": "tfhf.agents.agents",
    "LocalAgent": "tfhf.agents.backends",
    "OpenAiAgent": "tfhf.agents.backends",
    "HfAgent": "tfhf.agents.backends",
    "AgentText": "tfhf.agents.agent_types",
    "AgentImage": "tfhf.agents.agent_types",
    "AgentAudio": "tfhf.agents.agent_types",
    # errors
    "errors": "tfhf.errors",
    # audio loading, Whisper features, word error rate (tfhf.audio.load_audio, ...)
    "audio": "tfhf.audio",
    # image loading with safety checks (tfhf.images.load_image)
    "images": "tfhf.images",
}


def _family_classes():
    from .models.registry import all_class_refs

    return all_class_refs()


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__.endswith(name) else getattr(module, name)
    else:
        refs = _family_classes()
        if name not in refs:
            raise AttributeError(f"module 'tfhf' has no attribute '{name}'")
        from .models.registry import load_class

        value = load_class(refs[name])
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_family_classes()))
