"""LoRA (Hu et al., 2021) on tfhf models, in the format of the ``peft`` library.

``model.enable_lora(rank, target_modules=..., alpha=..., dropout=...)`` gives every matching
dense layer a low-rank update ``y = x W + b + dropout(x) A B * alpha / rank`` (``A`` of shape
(in, rank) initialized as PEFT does, ``B`` (rank, out) zeros, so the model starts unchanged)
and freezes everything else: only the adapters and ``modules_to_save`` (by default the head
of a sequence or token classifier or a QA model, as PEFT's ``SEQ_CLS``, ``TOKEN_CLS`` and
``QUESTION_ANS`` tasks) are trainable, so
Keras ``fit`` trains just them. Modules are matched by their Hugging Face names as PEFT does
(``"q_proj"`` matches ``model.layers.0.self_attn.q_proj``; a string is a full-match regex).

With adapters on, ``save_pretrained(folder)`` writes PEFT's ``adapter_config.json`` and
``adapter_model.safetensors`` (``base_model.model.<name>.lora_A.weight`` (rank, in),
``lora_B.weight`` (out, rank), and the ``modules_to_save`` weights), which
``peft.PeftModel.from_pretrained`` loads on the PyTorch side; ``model.load_adapter(folder)``
reads such a folder (from tfhf or from PEFT). ``merge_lora()`` folds the updates into the
kernels and removes the adapters.
"""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import tensorflow as tf

from .._keras import IS_KERAS_3, add_weight, keras, register_serializable
from ..errors import CheckpointError, InvalidInputError, ModelNotFoundError
from ..layers.core import Dense
from . import weights

ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
PREFIX = "base_model.model."
# PEFT's modules_to_save for SEQ_CLS (and the encoder-decoders' head (BART, T5), a new
# random head that a PEFT user lists in modules_to_save themselves), TOKEN_CLS, QUESTION_ANS
HEAD_MODULES = {"sequence_classification": ("classifier", "score", "classification_head"),
                "token_classification": ("classifier", "score"),
                "question_answering": ("qa_outputs",)}
# PEFT's default target modules (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING); the
# families PEFT has none for (camembert, albert, mpnet, distilbert, funnel, longformer,
# mobilebert, roformer, umt5, mbart) get their attention's query and value projections, as
# PEFT's entries for their parent families do
DEFAULT_TARGETS = {
    "llama": ["q_proj", "v_proj"], "mistral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"], "gemma3_text": ["q_proj", "v_proj"],
    "bert": ["query", "value"], "roberta": ["query", "value"],
    "xlm-roberta": ["query", "value"], "camembert": ["query", "value"],
    "electra": ["query", "value"], "albert": ["query", "value"], "mpnet": ["q", "v"],
    "distilbert": ["q_lin", "v_lin"], "gpt2": ["c_attn"],
    "deberta": ["in_proj"], "deberta-v2": ["query_proj", "value_proj"],
    "funnel": ["q_head", "v_head"], "longformer": ["query", "value"],
    "mobilebert": ["query", "value"], "roformer": ["query", "value"],
    "t5": ["q", "v"], "mt5": ["q", "v"], "umt5": ["q", "v"],
    "bart": ["q_proj", "v_proj"], "mbart": ["q_proj", "v_proj"],
}
TASK_TYPES = {"sequence_classification": "SEQ_CLS", "causal_lm": "CAUSAL_LM",
              "token_classification": "TOKEN_CLS", "question_answering": "QUESTION_ANS",
              "seq2seq_lm": "SEQ_2_SEQ_LM"}


@register_serializable()
class LoraAdapter(keras.layers.Layer):
    """``dropout(x) @ lora_a @ lora_b * scale`` for one dense layer."""

    def __init__(self, in_features, out_features, rank, alpha, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.rank, self.alpha = int(rank), float(alpha)
        self.scale = self.alpha / self.rank
        self.dropout = keras.layers.Dropout(dropout) if dropout else None

    def build(self, input_shape=None):
        # PEFT: kaiming_uniform_(a=sqrt(5)) on (rank, in) = uniform(+-1/sqrt(in)); B = 0
        bound = 1.0 / math.sqrt(self.in_features)
        self.lora_a = add_weight(self, "lora_a", (self.in_features, self.rank),
                                 keras.initializers.RandomUniform(-bound, bound))
        self.lora_b = add_weight(self, "lora_b", (self.rank, self.out_features), "zeros")
        self.built = True

    def call(self, x, training=None):
        x = tf.cast(x, self.compute_dtype)
        if self.dropout is not None:
            x = self.dropout(x, training=training)
        a, b = tf.cast(self.lora_a, x.dtype), tf.cast(self.lora_b, x.dtype)
        return tf.matmul(tf.matmul(x, a), b) * tf.cast(self.scale, x.dtype)

    def delta(self):
        """The kernel update ``A B * scale`` (in, out), float32."""
        return tf.matmul(tf.cast(self.lora_a, tf.float32),
                         tf.cast(self.lora_b, tf.float32)) * self.scale


class LoraCall:
    """Mixed into a dense layer's class while LoRA is on (``Dense``, GPT-2's ``Conv1D``): the
    output gets its adapter's update. ``merge_lora`` puts the plain class back."""

    has_lora = True  # never fused with its neighbours (tfhf/layers/fused.py)

    def call(self, x):
        y = super().call(x)
        return y + tf.cast(self.__dict__["_tfhf_lora"](x), y.dtype)


_LORA_CLASSES = {}


def lora_class(cls):
    if cls not in _LORA_CLASSES:
        _LORA_CLASSES[cls] = type(f"Lora{cls.__name__}", (LoraCall, cls), {})
    return _LORA_CLASSES[cls]


def _matches(name, targets):
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def _set_attr(obj, name, value):
    if IS_KERAS_3:
        obj._tracker.unlock()
    try:
        setattr(obj, name, value)
    finally:
        if IS_KERAS_3:
            obj._tracker.lock()


class LoraMixin:
    """``enable_lora`` / ``merge_lora`` / ``load_adapter`` and PEFT-format saving."""

    _lora = None  # dict once enabled: settings, {hf module name: (dense, adapter)}, frozen

    @property
    def lora_enabled(self):
        return self._lora is not None

    def _lora_modules(self, targets):
        out = {}
        for hf_name, path in self.weight_table().items():
            if not hf_name.endswith(".weight") or not _matches(hf_name[:-7], targets):
                continue
            layer = weights.resolve(self, path.rsplit(".", 1)[0])
            if not isinstance(layer, Dense) or layer.quantized is not None:
                raise InvalidInputError(
                    f"enable_lora: '{hf_name[:-7]}' matches target_modules but is not a float "
                    f"dense layer tfhf can adapt; choose other target_modules.")
            out[hf_name[:-7]] = layer
        return out

    def enable_lora(self, rank, target_modules=None, alpha=None, dropout=0.0,
                    modules_to_save=None):
        """Add LoRA adapters of ``rank`` to the dense layers named by ``target_modules`` (HF
        module names or suffixes, or a regex string; default: PEFT's for the family) and
        freeze every other weight but ``modules_to_save`` (default: the head of a sequence or
        token classifier or a QA model, as PEFT's task types). ``alpha`` defaults to
        ``2 * rank``. Returns the model."""
        if self._lora is not None:
            raise InvalidInputError("LoRA is already enabled on this model; merge_lora() first "
                                    "or load a fresh model.")
        if not isinstance(rank, int) or rank < 1:
            raise InvalidInputError(f"enable_lora: rank must be a positive integer; got {rank!r}.")
        if target_modules is None:
            target_modules = DEFAULT_TARGETS.get(getattr(self.config, "model_type", None))
            if target_modules is None:
                raise InvalidInputError(
                    f"enable_lora: no default target_modules for model_type "
                    f"'{self.config.model_type}'; pass target_modules=[...] (HF module names "
                    f"such as 'q_proj').")
        self.build_weights()
        modules = self._lora_modules(target_modules)
        if not modules:
            raise InvalidInputError(f"enable_lora: target_modules={target_modules!r} matches no "
                                    f"dense layer of {type(self).__name__}.")
        if modules_to_save is None:
            modules_to_save = self._head_modules()
        alpha = 2 * rank if alpha is None else alpha
        state = {"rank": rank, "alpha": alpha, "dropout": float(dropout),
                 "targets": target_modules, "modules_to_save": list(modules_to_save),
                 "modules": {}, "frozen": []}
        for i, (name, dense) in enumerate(modules.items()):
            adapter = LoraAdapter(dense.in_features, dense.out_features, rank, alpha, dropout,
                                  name=f"lora_{i}")
            adapter.build(None)
            _set_attr(self, f"lora_{i}", adapter)
            dense.__dict__["_tfhf_lora"] = adapter
            dense.__class__ = lora_class(type(dense))
            state["modules"][name] = (dense, adapter)
        # the layers holding the modules_to_save (DeBERTa's ``pooler.dense`` lives in tfhf's
        # ``classifier``): those stay trainable
        keep = set(modules_to_save) | {
            path.split(".", 1)[0] for hf_name, path in self.weight_table().items()
            if hf_name.split(".", 1)[0] in modules_to_save}
        for attr, layer in vars(self).items():
            if (isinstance(layer, keras.layers.Layer) and not isinstance(layer, LoraAdapter)
                    and attr not in keep and layer.trainable):
                layer.trainable = False
                state["frozen"].append(layer)
        object.__setattr__(self, "_lora", state)  # plain state: not tracked by Keras
        return self

    def _head_modules(self):
        """PEFT's ``modules_to_save`` for the model's task: the HF modules (first name part)
        whose weights tfhf's head layer holds (DeBERTa: ``pooler`` and ``classifier``)."""
        layers = {m for m in HEAD_MODULES.get(self.task, ()) if hasattr(self, m)}
        names = [hf.split(".", 1)[0] for hf, path in self.weight_table().items()
                 if path.split(".", 1)[0] in layers]
        return list(dict.fromkeys(names))

    def merge_lora(self):
        """Fold every adapter into its kernel (``W + A B * scale``), remove the adapters and
        unfreeze the model. Returns the model."""
        if self._lora is None:
            raise InvalidInputError("merge_lora: LoRA is not enabled on this model.")
        for i, (dense, adapter) in enumerate(self._lora["modules"].values()):
            dense.kernel.assign(tf.cast(tf.cast(dense.kernel, tf.float32) + adapter.delta(),
                                        dense.kernel.dtype))
            dense.__class__ = type(dense).__mro__[2]  # LoraX -> LoraCall -> X
            del dense.__dict__["_tfhf_lora"]
            adapter.trainable = False
        for layer in self._lora["frozen"]:
            layer.trainable = True
        object.__setattr__(self, "_lora", None)
        return self

    # ------------------------------------------------------------------ PEFT files
    def adapter_state_dict(self):
        """PEFT's names -> numpy arrays (PyTorch layout)."""
        out = {}
        for name, (_, adapter) in self._lora["modules"].items():
            out[f"{PREFIX}{name}.lora_A.weight"] = np.asarray(adapter.lora_a.numpy()).T
            out[f"{PREFIX}{name}.lora_B.weight"] = np.asarray(adapter.lora_b.numpy()).T
        for hf_name, path in self.weight_table().items():
            if hf_name.split(".", 1)[0] in self._lora["modules_to_save"]:
                value = weights.resolve(self, path).numpy()
                out[PREFIX + hf_name] = weights.to_hf_layout(path, value)
        return out

    def save_adapter(self, save_directory):
        """Write ``adapter_config.json`` + ``adapter_model.safetensors`` (PEFT's format)."""
        from ..hub.safetensors_io import save_sharded

        st = self._lora
        config = {
            "peft_type": "LORA", "task_type": TASK_TYPES.get(self.task),
            "r": st["rank"], "lora_alpha": st["alpha"], "lora_dropout": st["dropout"],
            "target_modules": st["targets"] if isinstance(st["targets"], str)
            else sorted(st["targets"]),
            "modules_to_save": st["modules_to_save"] or None, "bias": "none",
            # PEFT's flag for GPT-2's Conv1D (weights stored (in, out)); the adapters' own
            # layout is the same either way
            "fan_in_fan_out": any(type(d).__mro__[2].__name__ == "Conv1D"
                                  for d, _ in st["modules"].values()),
            "inference_mode": True, "init_lora_weights": True,
            "use_rslora": False, "use_dora": False, "rank_pattern": {}, "alpha_pattern": {},
            "base_model_name_or_path": getattr(self.config, "_name_or_path", None) or None,
        }
        save_sharded(self.adapter_state_dict(), os.fspath(save_directory), "100GB",
                     metadata={"format": "pt"}, base="adapter_model",
                     extra_files={ADAPTER_CONFIG: json.dumps(config, indent=2)})

    def load_adapter(self, folder):
        """Load a PEFT LoRA adapter folder (``adapter_config.json`` +
        ``adapter_model.safetensors``): enables LoRA with its settings and sets its weights.
        Returns the model."""
        from ..hub.safetensors_io import load_file

        folder = os.fspath(folder)
        cfg_path, w_path = (os.path.join(folder, n) for n in (ADAPTER_CONFIG, ADAPTER_WEIGHTS))
        if not (os.path.isfile(cfg_path) and os.path.isfile(w_path)):
            raise ModelNotFoundError(f"load_adapter: '{folder}' has no {ADAPTER_CONFIG} and "
                                     f"{ADAPTER_WEIGHTS} (a PEFT LoRA adapter folder).")
        with open(cfg_path) as f:
            cfg = json.load(f)
        if cfg.get("peft_type") != "LORA" or cfg.get("use_dora") or cfg.get("use_rslora") \
                or cfg.get("rank_pattern") or cfg.get("alpha_pattern"):
            raise CheckpointError(f"load_adapter: '{cfg_path}' is not a plain LoRA adapter "
                                  f"(peft_type={cfg.get('peft_type')!r}; DoRA, rsLoRA and per-"
                                  "module ranks are not supported).")
        self.enable_lora(int(cfg["r"]), cfg["target_modules"], cfg["lora_alpha"],
                         cfg.get("lora_dropout") or 0.0, cfg.get("modules_to_save") or [])
        state = {k[len(PREFIX):] if k.startswith(PREFIX) else k: v
                 for k, v in load_file(w_path).items()}
        state = {re.sub(r"\.(lora_[AB])\.default\.", r".\1.", k): v for k, v in state.items()}
        for name, (_, adapter) in self._lora["modules"].items():
            for var, key in ((adapter.lora_a, f"{name}.lora_A.weight"),
                             (adapter.lora_b, f"{name}.lora_B.weight")):
                if key not in state:
                    raise CheckpointError(f"load_adapter: '{w_path}' has no '{PREFIX}{key}'.")
                var.assign(np.asarray(state.pop(key)).T)
        table = self.weight_table()
        for key in list(state):
            if key in table:
                path = table[key]
                weights.resolve(self, path).assign(weights.from_hf_layout(path, state.pop(key)))
        if state:
            raise CheckpointError(f"load_adapter: '{w_path}' holds weights this model has no "
                                  f"place for: {sorted(state)[:5]}.")
        return self
