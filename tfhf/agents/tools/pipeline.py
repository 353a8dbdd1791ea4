""":class:`PipelineTool`: a tool running a tfhf model, loaded lazily on the first call."""

from __future__ import annotations

import os

from ...errors import ConfigError
from ..agent_types import unwrap_input, wrap_output
from .base import Tool
from .spec import check_input_kinds


def resolve_model_spec(spec):
    """``(name_or_folder, extra_from_pretrained_kwargs)`` for a model spec.

    A spec is a folder, a Hub repo id, a path to a ``.gguf`` file, or ``"asset:NAME"`` (an
    installed offline asset, see ``tfhf assets``).
    """
    spec = os.fspath(spec)
    if spec.startswith("asset:"):
        from ... import assets

        spec = assets.path(spec[len("asset:"):])
    if os.path.isfile(spec) and spec.lower().endswith(".gguf"):
        folder, name = os.path.split(os.path.abspath(spec))
        return folder, {"gguf_file": name}
    return spec, {}


def tfhf_attr(value):
    if isinstance(value, str):
        import tfhf

        return getattr(tfhf, value)
    return value


class PipelineTool(Tool):
    """A tool running a tfhf model: ``encode`` (pre_processor) -> ``forward`` (model) ->
    ``decode`` (post_processor).

    Class attributes: ``model_class`` / ``pre_processor_class`` / ``post_processor_class``
    (a class, or the name of a ``tfhf`` attribute such as ``"TFAutoModelForCausalLM"``;
    the processors default to ``tfhf.AutoTokenizer``) and ``default_checkpoint``. Nothing
    loads before the first call (``setup``).
    """

    pre_processor_class = "AutoTokenizer"
    model_class = None
    post_processor_class = "AutoTokenizer"
    default_checkpoint = None
    loads_model = True
    # set for a tool that runs a ready-made tfhf pipeline: ``setup`` builds ``self.pipeline``
    pipeline_task = None

    def __init__(self, model=None, pre_processor=None, post_processor=None, device=None,
                 model_kwargs=None, token=None, **hub_kwargs):
        super().__init__()
        if model is None:
            if self.default_checkpoint is None:
                raise ConfigError(f"{type(self).__name__} has no default checkpoint; pass "
                                  "model=... (a folder or Hub repo id).")
            model = self.default_checkpoint
        self.model = model
        self.pre_processor = model if pre_processor is None else pre_processor
        self.post_processor = post_processor
        self.device = device
        self.model_kwargs = dict(model_kwargs or {})
        self.hub_kwargs = dict(hub_kwargs)
        if token is not None:
            self.hub_kwargs["token"] = token

    def saved_model_repo_id(self):
        model = getattr(self, "model", None)
        if isinstance(model, str) and model != self.default_checkpoint:
            return model
        return None

    def setup_pipeline(self, task):
        """Build ``self.pipeline``, a tfhf ``pipeline(task)`` on this tool's model (a folder,
        repo id, ``.gguf`` file or ``asset:NAME``) and tokenizer, with its token, model
        kwargs and device. For tools that run a ready-made pipeline."""
        from ...pipelines import pipeline

        model = self.model
        if isinstance(model, (str, os.PathLike)):
            model, _ = resolve_model_spec(model)
        tokenizer = self.pre_processor if not isinstance(self.pre_processor,
                                                         (str, os.PathLike)) else None
        self.pipeline = pipeline(task, model=model, tokenizer=tokenizer,
                                 token=self.hub_kwargs.get("token"),
                                 model_kwargs=dict(self.model_kwargs) or None,
                                 device=self.device)
        self.is_initialized = True

    def _load(self, cls, spec, extra=None):
        name, spec_kwargs = resolve_model_spec(spec)
        kwargs = {**self.hub_kwargs, **spec_kwargs, **(extra or {})}
        return tfhf_attr(cls).from_pretrained(name, **kwargs)

    def run_pipeline(self, *args, **kwargs):
        """``self.pipeline(*args, **kwargs)``, set up on the first call."""
        if not self.is_initialized:
            self.setup()
        return self.pipeline(*args, **kwargs)

    def setup(self):
        if self.pipeline_task is not None:
            self.setup_pipeline(self.pipeline_task)
            return
        if isinstance(self.pre_processor, (str, os.PathLike)):
            self.pre_processor = self._load(self.pre_processor_class, self.pre_processor)
        if isinstance(self.model, (str, os.PathLike)):
            if self.model_class is None:
                raise ConfigError(f"{type(self).__name__}.model_class is not set.")
            self.model = self._load(self.model_class, self.model, self.model_kwargs)
        if self.post_processor is None:
            self.post_processor = self.pre_processor
        elif isinstance(self.post_processor, (str, os.PathLike)):
            self.post_processor = self._load(self.post_processor_class, self.post_processor)
        self.is_initialized = True

    def encode(self, raw_inputs):
        return self.pre_processor(raw_inputs, return_tensors="tf")

    def forward(self, inputs):
        if self.device is not None:
            import tensorflow as tf

            with tf.device(self.device):
                return self.model(inputs)
        return self.model(inputs)

    def decode(self, outputs):
        return self.post_processor(outputs)

    def __call__(self, *args, **kwargs):
        if not self.is_initialized:
            self.setup()
        check_input_kinds(self, args, kwargs)
        args = [unwrap_input(a) for a in args]
        kwargs = {k: unwrap_input(v) for k, v in kwargs.items()}
        encoded = self.encode(*args, **kwargs)
        outputs = self.forward(encoded)
        return wrap_output(self.decode(outputs), self.output_type)
