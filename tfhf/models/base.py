"""TFPreTrainedModel: the Keras model every tfhf architecture derives from.

It knows how to build itself from a transformers config (weights created in ``build``),
load HF checkpoints (safetensors, sharded safetensors, legacy ``tf_model.h5``,
``pytorch_model.bin`` through torch's safe loader) and save ``config.json`` +
``model.safetensors`` that PyTorch transformers loads.
"""

from __future__ import annotations

import copy
import json
import os

from .. import _keras
from .._keras import keras
from ..errors import ConfigError, InvalidInputError, ModelNotFoundError, UnsupportedModelError
from ..hardware import BF16_POLICIES, policy_for_request
from ..hub.resolve import ModelSource, split_gguf_path
from ..quantization import quantize_model, quantized_table
from ..quantization.loading import QuantizedLoad
from ..training.keras_fit import KerasTrainingMixin
from . import weights
from .lora import LoraMixin


def load_config(source: ModelSource, config=None, gguf_file=None, **config_kwargs):
    """A transformers config from ``config`` (object, path, repo id), the GGUF file's
    metadata (with ``gguf_file``) or the model's files."""
    from transformers import AutoConfig, PretrainedConfig

    if config is None and gguf_file is not None:
        from .gguf import load_gguf

        config, state = load_gguf(gguf_path(source, gguf_file))
        state.close()
    if isinstance(config, PretrainedConfig):
        config = copy.deepcopy(config)
        unused = {}
        for k, v in config_kwargs.items():
            if hasattr(config, k) or k in ("num_labels", "id2label", "label2id"):
                setattr(config, k, v)
            else:
                unused[k] = v
        return config, unused
    if isinstance(config, str):
        source = ModelSource(config, revision=source.revision, cache_dir=source.cache_dir,
                             local_files_only=source.local_files_only, token=source.token)
    path = source.require_config()
    try:
        return AutoConfig.from_pretrained(os.path.dirname(path), return_unused_kwargs=True,
                                          **config_kwargs)
    except ValueError as e:
        from .registry import supported_model_types

        msg = str(e)
        declared = _declared_model_type(path)
        if declared is not None and declared not in _transformers_model_types():
            raise UnsupportedModelError(
                f"{path}: model_type '{declared}' is not a model type transformers or tfhf "
                f"knows. tfhf supports model_type {', '.join(supported_model_types())}."
            ) from None
        if "model_type" in msg or "Unrecognized model" in msg:
            raise UnsupportedModelError(
                f"{path}: {msg.splitlines()[0]} tfhf supports model_type "
                f"{', '.join(supported_model_types())}.") from None
        raise ConfigError(f"Invalid config '{path}': {msg}") from None
    except (json.JSONDecodeError, OSError) as e:
        raise ConfigError(f"Cannot read config '{path}': {e}") from None


def _declared_model_type(config_path):
    """``model_type`` as written in a config.json, or None when it cannot be read."""
    try:
        with open(config_path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return None
    mt = data.get("model_type") if isinstance(data, dict) else None
    return mt if isinstance(mt, str) else None


def _transformers_model_types():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return CONFIG_MAPPING_NAMES


class TFPreTrainedModel(LoraMixin, KerasTrainingMixin, keras.Model):
    """Base class of tfhf models. Subclasses set:

    * ``config_class``: the transformers config class;
    * ``base_model_prefix``: the HF prefix of the backbone (``"bert"``) and the attribute
      that holds it;
    * ``converter``: the family's convert module (``base_weights(config)``,
      ``head_weights(task, config)``);
    * ``hf_architecture``: the PyTorch class name written to ``config.architectures``;
    * ``task``: the head (``None`` for the bare backbone).
    """

    config_class = None
    base_model_prefix = ""
    converter = None
    hf_architecture = None
    task = None
    main_input_name = "input_ids"
    # names of inputs ``call`` accepts besides labels; used to filter dataset columns
    model_input_names = ("input_ids", "attention_mask")
    tied_keys: tuple = ()

    def __init_subclass__(cls, **kwargs):
        # every model class is a registered Keras serializable ("tfhf>ClassName"), so
        # model.save("m.keras") / keras.models.load_model round-trip under safe_mode
        super().__init_subclass__(**kwargs)
        _keras.register_serializable(if_free=True)(cls)

    def __init__(self, config, *args, **kwargs):
        name = kwargs.pop("name", None) or _snake(type(self).__name__)
        super().__init__(name=name, **kwargs)
        self.config = config
        # Keras 3 wraps ``quantize`` per instance to accept its own modes only; tfhf's
        # quantize (int8 / int4 with group_size, tfhf.errors) is the class method
        self.__dict__.pop("quantize", None)

    def __call__(self, *args, **kwargs):
        # ``model(tokenizer(..., return_tensors="tf"))``: a BatchEncoding is a mapping but
        # not a dict, which Keras 3 refuses as a positional input.
        if args and not isinstance(args[0], dict) and _is_mapping(args[0]):
            args = (dict(args[0].items()),) + args[1:]
        elif args and isinstance(args[0], list) and args[0] and isinstance(args[0][0], list):
            import tensorflow as tf

            args = (tf.constant(args[0]),) + args[1:]  # model([[1, 2, 3]]) as in tf_keras
        return super().__call__(*args, **kwargs)

    # ------------------------------------------------------------------ building
    def build(self, input_shape=None):
        for layer in self._direct_sublayers():
            if not layer.built:
                layer.build(None)
        self.built = True

    def _direct_sublayers(self):
        seen = []
        for v in vars(self).values():
            if isinstance(v, keras.layers.Layer) and v is not self and v not in seen:
                seen.append(v)
        return seen

    def build_weights(self):
        """Create every variable from the config (no data needed)."""
        if not self.built:
            self.build(None)
        return self

    # ------------------------------------------------------------------ weights
    def weight_table(self) -> dict:
        """HF name (full, as this architecture saves it) -> attribute path."""
        conv = self.converter
        p = self.base_model_prefix
        base = conv.base_weights(self.config, with_pooler=self._uses_pooler())
        if self.task is None:
            table = {k: f"{p}.{v}" for k, v in base.items()}
        else:
            table = {f"{p}.{k}": f"{p}.{v}" for k, v in base.items()}
            table.update(conv.head_weights(self.task, self.config))
        return quantized_table(self, table)

    @property
    def quantization_config(self):
        """What :meth:`quantize` did (``None`` for a float model); see tfhf.quantization."""
        text = getattr(self, "_quantization_json", None)
        return json.loads(text) if text else None

    @quantization_config.setter
    def quantization_config(self, value):
        # kept as JSON text: Keras would track a dict attribute as model state
        self._quantization_json = json.dumps(dict(value), default=dict) if value else None

    def quantize(self, mode, group_size=None, **kwargs):
        """Keep the weights as ``"int8"`` (per output channel) or ``"int4"`` (per group of
        ``group_size`` inputs, default 64), in place; activations stay in the compute dtype.
        Decoder-only LMs only (docs/quantization.md). Returns the model."""
        kwargs.pop("type_check", None)  # Keras 3's Model.quantize keywords
        kwargs.pop("config", None)
        if kwargs:
            raise InvalidInputError(f"quantize got unexpected arguments {sorted(kwargs)}.")
        return quantize_model(self, mode, group_size)

    def _uses_pooler(self):
        return getattr(self, "uses_pooler", self.task is None)

    def hf_state_dict(self):
        """Weights under HF names in PyTorch layout (numpy)."""
        self.build_weights()
        return {name: weights.to_hf_layout(path, weights.resolve(self, path).numpy())
                for name, path in self.weight_table().items()}

    def load_hf_state(self, state, ignore_mismatched_sizes=False, source="checkpoint"):
        self.build_weights()
        info = weights.load_state_into(
            self, self.weight_table(), state, prefix=self.base_model_prefix,
            ignore_mismatched_sizes=ignore_mismatched_sizes, source=source,
            tied_keys=self.tied_keys)
        return info

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, config=None,
                        cache_dir=None, revision=None, local_files_only=False, token=None,
                        ignore_mismatched_sizes=False, dtype=None, use_safetensors=None,
                        subfolder="", output_loading_info=False, from_pt=None, gguf_file=None,
                        quantization=None, **kwargs):
        """Load a model from a local folder or a Hub repo id.

        ``dtype`` ("float32", "bfloat16", "float16", or a Keras policy name like
        "mixed_bfloat16") sets the dtype policy of the model's layers; by default the global
        Keras policy applies. ``gguf_file`` (a file in the folder or repo, or an absolute
        path) loads a GGUF checkpoint: config from its metadata, weights dequantized.
        ``quantization`` ("int8", "int4", "gguf" for a GGUF file's own blocks, or a dict with
        "mode", "group_size", "strict") keeps the weights quantized (docs/quantization.md); a
        model saved quantized reloads quantized without it.
        """
        if model_args:
            raise InvalidInputError("from_pretrained takes the model path and keyword arguments "
                                    f"only; got extra positional arguments {model_args!r}.")
        kwargs.pop("trust_remote_code", None)
        kwargs.pop("from_tf", None)
        # a .gguf file path loads like (its folder, gguf_file=its name)
        path, gguf_file = split_gguf_path(pretrained_model_name_or_path, gguf_file)
        source = ModelSource(path, revision=revision, cache_dir=cache_dir,
                             local_files_only=local_files_only, token=token, subfolder=subfolder)
        check_path_like(path)
        config, unused = load_config(source, config, gguf_file=gguf_file, **kwargs)
        if unused:
            raise InvalidInputError(
                f"from_pretrained got unexpected keyword arguments {sorted(unused)}: they are "
                "neither loading options nor attributes of the model's config.")
        model_cls = cls._resolve_class(config)
        qload = QuantizedLoad(quantization, config, gguf_file, path)
        policy = policy_for_request(_policy_for(dtype) or _bf16_global_policy())
        with _keras.policy_scope(policy), _keras.deferred_init() as pending:
            model = model_cls(config)
            model.build_weights()
            qload.before_loading(model)
        with cls._open_checkpoint(source, use_safetensors, gguf_file) as state:
            state = qload.wrap_state(model, state)
            info = model.load_hf_state(state, ignore_mismatched_sizes, source=path)
        # variables the checkpoint did not provide get their real (random) initial values
        table = model.weight_table()
        missing = set(info["missing_keys"]) | {k for k, _, _ in info["mismatched_keys"]}
        loaded = {id(weights.resolve(model, p)) for k, p in table.items() if k not in missing}
        live = {id(v) for v in model.weights}  # float weights replaced by quantized ones left
        _keras.initialize_pending(pending, [v for v, _ in pending.values()
                                            if id(v) not in loaded and id(v) in live])
        qload.after_loading(model)
        weights.report(info, type(model).__name__, path)
        model._load_generation_config(source)
        model.name_or_path = path
        if output_loading_info:
            return model, info
        return model

    @classmethod
    def _open_checkpoint(cls, source, use_safetensors=None, gguf_file=None):
        """The weights as a lazy HF-name -> numpy state (``keys``/``get``/``close``)."""
        if gguf_file is not None:
            from .gguf import load_gguf

            return load_gguf(gguf_path(source, gguf_file))[1]
        from ..hub.state import open_state

        kind, files = source.find_weights(use_safetensors)
        return open_state(kind, files)

    @classmethod
    def from_config(cls, config, dtype=None, **kwargs):
        """A freshly initialized model (transformers' ``from_config``) or, given a Keras
        ``get_config()`` dict, the Keras deserialization."""
        from transformers import PretrainedConfig

        name = kwargs.pop("name", None)
        if isinstance(config, dict) and "hf_config" in config:
            keras_config = config
            config = _hf_config_from_keras(keras_config)
            name = keras_config.get("name", name)
            dtype = keras_config.get("dtype", dtype)
        if kwargs:
            raise InvalidInputError(f"from_config got unexpected arguments {sorted(kwargs)}.")
        if not isinstance(config, PretrainedConfig):
            raise ConfigError("from_config needs a transformers PretrainedConfig.")
        model_cls = cls._resolve_class(config)
        with _keras.policy_scope(_policy_for(dtype)):
            model = model_cls(config, **({"name": name} if name else {}))
            model.build_weights()
        return model

    @classmethod
    def auto_class(cls, config):
        """The class a TFAutoModel class gives for ``config`` (transformers maps a few model
        types to several classes and picks one by ``config.architectures``: Funnel)."""
        return cls

    @classmethod
    def _resolve_class(cls, config):
        if cls.config_class is not None and isinstance(config, cls.config_class):
            return cls
        if cls.config_class is not None:
            raise UnsupportedModelError(
                f"{cls.__name__} cannot load a checkpoint of model_type "
                f"'{getattr(config, 'model_type', None)}'; use the matching class or a "
                "TFAutoModel class.")
        raise UnsupportedModelError(f"{cls.__name__} is abstract; use a TFAutoModel class.")

    def _load_generation_config(self, source):
        pass

    def get_config(self):
        """Keras config: pure JSON data (``hf_config`` is the transformers config as a dict);
        :meth:`from_config` accepts it."""
        config = {"hf_config": _json_data(self.config.to_dict()), "name": self.name}
        policy = _keras.global_policy_name() if not hasattr(self, "dtype_policy") else \
            getattr(self.dtype_policy, "name", None)
        if policy and policy != "float32":
            config["dtype"] = policy
        return config

    @property
    def _default_save_signature(self):
        """``tf.saved_model.save(model, path)`` without signatures exports this one:
        int32 ``input_ids`` / ``attention_mask`` -> the model's outputs (Keras 3 would
        otherwise trace ``call`` with float inputs)."""
        import tensorflow as tf

        spec = {"input_ids": tf.TensorSpec([None, None], tf.int32, name="input_ids"),
                "attention_mask": tf.TensorSpec([None, None], tf.int32, name="attention_mask")}

        @tf.function(input_signature=[spec])
        def serving_default(inputs):
            out = self(inputs, training=False)
            return {k: v for k, v in dict(out).items() if isinstance(v, tf.Tensor)}

        return serving_default

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, save_directory, max_shard_size="5GB", safe_serialization=True,
                        **kwargs):
        """Write ``config.json`` and ``model.safetensors`` (sharded over ``max_shard_size``);
        with LoRA enabled, the adapters in PEFT's format (:mod:`tfhf.models.lora`)."""
        from ..hub.safetensors_io import parse_size, save_sharded

        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise InvalidInputError(f"save_pretrained: '{save_directory}' is a file; pass a "
                                    "folder path.")
        if not safe_serialization:
            raise InvalidInputError("tfhf saves safetensors only (safe_serialization=False is "
                                    "not supported).")
        parse_size(max_shard_size)
        os.makedirs(save_directory, exist_ok=True)
        if self.lora_enabled:  # PEFT's adapter files only (merge_lora() for a full model)
            return self.save_adapter(save_directory)
        tensors = self.hf_state_dict()
        config = copy.deepcopy(self.config)
        if self.hf_architecture:
            config.architectures = [self.hf_architecture]
        if getattr(self, "quantization_config", None):
            config.quantization_config = copy.deepcopy(self.quantization_config)
        var_dtypes = {a.dtype.name for a in tensors.values()}
        if len(var_dtypes) == 1:
            config.dtype = var_dtypes.pop()
        # weights and config.json land together or not at all
        save_sharded(tensors, save_directory, max_shard_size, metadata={"format": "pt"},
                     extra_files={"config.json": config.to_json_string(use_diff=True)})
        gen = getattr(self, "generation_config", None)
        if gen is not None and hasattr(gen, "save_pretrained"):
            gen.save_pretrained(save_directory)

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _unpack(input_ids, kwargs):
        """Accept ``model(dict)``, ``model([ids, mask])`` and keyword inputs alike."""
        if isinstance(input_ids, dict) or (hasattr(input_ids, "keys")
                                           and hasattr(input_ids, "__getitem__")
                                           and not hasattr(input_ids, "shape")):
            d = dict(input_ids)
            input_ids = d.pop("input_ids", None)
            for k, v in d.items():
                if kwargs.get(k) is None:
                    kwargs[k] = v
        elif isinstance(input_ids, (list, tuple)) and input_ids and not isinstance(
                input_ids[0], (int, list)):
            seq = list(input_ids)
            input_ids = seq[0]
            for k, v in zip(("attention_mask", "token_type_ids"), seq[1:]):
                kwargs.setdefault(k, v)
        return input_ids, kwargs

    @staticmethod
    def _finish(out, return_dict):
        """``return_dict=False`` gives the output's tuple, as transformers' models do."""
        return out if return_dict is None or return_dict else out.to_tuple()

    @property
    def dummy_inputs(self):
        import tensorflow as tf

        return {"input_ids": tf.constant([[0, 1, 2, 3]], tf.int32)}


def _json_data(value):
    """``value`` as plain JSON data (tuples -> lists, numpy scalars -> Python numbers)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(obj):
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON data")


_CALLABLE_KEYS = ("module", "fn", "function", "registered_name")


def _hf_config_from_keras(keras_config):
    """The transformers config of a Keras ``get_config()`` dict, checked to be pure data."""
    from transformers import AutoConfig

    hf = keras_config.get("hf_config")
    if not isinstance(hf, dict) or not isinstance(hf.get("model_type"), str):
        raise ConfigError("Keras config of a tfhf model: 'hf_config' must be a dict with a "
                          "string 'model_type'.")

    def walk(value, path):
        if isinstance(value, dict):
            named = [k for k in _CALLABLE_KEYS if k in value]
            if named or value.get("class_name") in ("Lambda", "function", "__lambda__"):
                raise ConfigError(
                    f"Keras config of a tfhf model: hf_config{path} names a Python object "
                    f"({', '.join(f'{k}={value.get(k)!r}' for k in named) or value['class_name']}"
                    "); a tfhf config is plain data and never refers to code. The file was not "
                    "written by tfhf or was tampered with.")
            for k, v in value.items():
                if not isinstance(k, str):
                    raise ConfigError(f"Keras config of a tfhf model: non-string key at "
                                      f"hf_config{path}.")
                walk(v, f"{path}[{k!r}]")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        elif not (value is None or isinstance(value, (str, bool, int, float))):
            raise ConfigError(f"Keras config of a tfhf model: hf_config{path} is a "
                              f"{type(value).__name__}, not JSON data.")

    walk(hf, "")
    hf = dict(hf)
    model_type = hf.pop("model_type")
    from .registry import MODELS

    if model_type not in MODELS:
        raise UnsupportedModelError(f"Keras config of a tfhf model: model_type "
                                    f"{model_type!r} is not one tfhf supports.")
    try:
        return AutoConfig.for_model(model_type, **hf)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"Keras config of a tfhf model: invalid hf_config: {e}") from None


def _is_mapping(x):
    from collections.abc import Mapping

    return isinstance(x, Mapping) or (hasattr(x, "keys") and hasattr(x, "__getitem__")
                                       and not hasattr(x, "shape"))


def _snake(name):
    import re

    # TFBertForSequenceClassification -> tf_bert_for_sequence_classification
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _bf16_global_policy():
    """The global Keras policy's name when it is a bfloat16 one (checked against the CPU by
    :func:`tfhf.hardware.policy_for_request`), else None (the global policy applies as is)."""
    name = _keras.global_policy_name()
    return name if name in BF16_POLICIES else None


def _policy_for(dtype):
    if dtype is None or dtype == "auto":
        return None
    name = getattr(dtype, "name", dtype)
    allowed = ("float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16")
    if name not in allowed:
        raise InvalidInputError(f"dtype={dtype!r} is not supported; use one of {allowed}.")
    return name


def gguf_path(source: ModelSource, gguf_file) -> str:
    """Local path of ``gguf_file``: an absolute path, or a file of the folder / Hub repo."""
    gguf_file = os.fspath(gguf_file)
    if os.path.isabs(gguf_file) and os.path.isfile(gguf_file):
        return gguf_file
    return source.get(gguf_file)


def check_path_like(path):
    looks_local = path.startswith((".", "/", "~")) or path.count("/") > 1
    if looks_local and not os.path.exists(path):
        raise ModelNotFoundError(
            f"No folder at '{path}' (and it is not a Hub repo id of the form 'org/name'). "
            "Check the path.")
    if os.path.isfile(path):
        raise ModelNotFoundError(
            f"'{path}' is a file but not a GGUF file; from_pretrained takes the folder holding "
            "config.json and the weights, or a .gguf file.")


def write_text_atomic(path, text):
    from ..hub.safetensors_io import FolderTransaction

    with FolderTransaction(os.path.dirname(os.path.abspath(path))) as tx:
        tx.write_text(os.path.basename(path), text)
        tx.commit()
