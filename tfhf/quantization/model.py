"""Quantizing a whole model, and the checkpoint names of its quantized weights.

What is quantized: every :class:`~tfhf.layers.core.Dense` of a decoder-only model (attention and
MLP projections, fused or not, and an untied LM head) and, when the LM head is tied to the
token embeddings, the embedding table (it is the largest matrix a decode step reads: 49152 x
576 of SmolLM2-135M's 135M weights; its rows are gathered and dequantized for the lookup).
Norms, biases and an untied input embedding (read one row per token) stay float.

A quantized model records what it did in ``model.quantization_config``:
``{"quant_method": "tfhf", "mode", "group_size", "modules": {hf_module: {"bits",
"group_size"}}}``; ``save_pretrained`` writes it to config.json and the weights under
``<module>.weight`` (int8, or uint8 holding two 4-bit values), ``<module>.weight_scale`` and
``<module>.weight_offset``, which ``from_pretrained`` reads back quantized.
"""

from __future__ import annotations

from .. import xla_flags
from ..errors import InvalidInputError, UnsupportedModelError
from .spec import QUANT_METHOD, QuantSpec, parse_mode
from .weight import SUFFIXES, quantize_layer_weight


def _resolve(obj, path):
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def check_supported(model):
    """Only decoder-only LMs (llama, mistral, qwen2, gemma3, gpt2 ...) are quantized."""
    if getattr(model, "decoder_spec", None) is None:
        raise UnsupportedModelError(
            f"{type(model).__name__} cannot be quantized: tfhf quantizes the weights of "
            "decoder-only language models (llama, mistral, qwen2, gemma3, gpt2); encoders and "
            "encoder-decoders stay in float (use dtype='bfloat16' to halve their weights).")


def targets(model):
    """``hf_module -> (layer, float attribute, out, in)`` of every weight to quantize, from the
    model's weight table (so the names are the checkpoint's)."""
    from ..layers.core import Dense, Embedding

    check_supported(model)
    model.build_weights()
    tied = getattr(model, "lm_head", "absent") is None
    found = {}
    for name, path in model.weight_table().items():
        owner_path, _, attr = path.rpartition(".")
        if not name.endswith(".weight") or not owner_path:
            continue
        owner = _resolve(model, owner_path)
        if isinstance(owner, Dense) and attr in ("kernel", "weight"):
            found[name[:-7]] = (owner, "kernel", owner.out_features, owner.in_features)
        elif isinstance(owner, Embedding) and tied and attr == "embeddings" and \
                owner is model.get_input_embeddings():
            found[name[:-7]] = (owner, "embeddings", owner.num_embeddings, owner.dim)
    return found


def float_value(layer, attr):
    """The layer's float weight as (out, in) numpy."""
    v = getattr(layer, attr).numpy()
    return v.T if attr == "kernel" else v


def quantize_model(model, mode, group_size=None, *, values=True, only=None):
    """Quantize ``model`` in place (``model.quantize(mode)``); returns the model.

    ``values=False`` builds the quantized variables only (before loading a quantized
    checkpoint); ``only``: ``{hf_module: QuantSpec}`` to give each module its own spec.
    """
    spec = parse_mode(mode, group_size)
    if is_quantized(model):
        raise InvalidInputError(f"{type(model).__name__} is already quantized "
                                f"({model.quantization_config['mode']}); load the float "
                                "model again to quantize it another way.")
    found = targets(model)
    if only is not None:
        found = {k: v for k, v in found.items() if k in only}
    plan = {}
    for module, (layer, attr, out, n) in found.items():
        s = spec if only is None else only[module]
        plan[module] = (s, s.group_for(n, f" of '{module}' ({n} inputs)"))  # check all first
    xla_flags.configure()  # for the fused 4-bit decode step (see tfhf/xla_flags.py)
    modules = {}
    for module, (s, group) in plan.items():
        layer, attr, out, n = found[module]
        value = float_value(layer, attr) if values else None
        quantize_layer_weight(layer, attr, out, n, s.bits, group, value)
        modules[module] = {"bits": s.bits, "group_size": group}
    model.quantization_config = {**spec.to_config(), "modules": modules}
    return model


def is_quantized(model) -> bool:
    return bool(getattr(model, "quantization_config", None))


def apply_saved_structure(model, qconfig, where="config.json"):
    """Build the quantized variables a saved ``quantization_config`` describes (no values)."""
    from .spec import spec_from_config

    spec = spec_from_config(qconfig, where)
    modules = qconfig.get("modules")
    if not isinstance(modules, dict) or not modules:
        raise InvalidInputError(f"{where}: quantization_config has no 'modules' table.")
    only = {}
    for m, d in modules.items():
        bits = d.get("bits") if isinstance(d, dict) else None
        if bits not in (4, 8):
            raise InvalidInputError(f"{where}: quantization_config module '{m}' has bits "
                                    f"{bits!r}; tfhf writes 4 or 8.")
        only[m] = QuantSpec(bits, d.get("group_size"))
    unknown = set(only) - set(targets(model))
    if unknown:
        raise InvalidInputError(f"{where}: quantization_config names modules the model does "
                                f"not have: {sorted(unknown)[:5]}.")
    quantize_model(model, spec, values=False, only=only)
    model.quantization_config = dict(qconfig)
    return model


def quantized_table(model, table):
    """A weight table with each quantized module's ``.weight`` entry replaced by its
    ``weight`` / ``weight_scale`` / ``weight_offset`` variables."""
    if not is_quantized(model):
        return table
    out = {}
    for name, path in table.items():
        owner_path, _, attr = path.rpartition(".")
        owner = _resolve(model, owner_path) if owner_path else None
        qw = getattr(owner, "quantized", None)
        if qw is None or not name.endswith(".weight") or attr not in (
                "kernel", "weight", "embeddings"):
            out[name] = path
            continue
        base = name[:-7]
        for var_attr, suffix in SUFFIXES.items():
            if getattr(qw, var_attr) is not None:
                out[f"{base}.{suffix}"] = f"{owner_path}.quantized.{var_attr}"
    return out


def quantized_nbytes(model) -> int:
    """Bytes of every variable (what a decode step reads, embeddings aside)."""
    import numpy as np
    import tensorflow as tf

    return sum(int(np.prod(v.shape)) * tf.as_dtype(v.dtype).size for v in model.weights)


__all__ = ["quantize_model", "quantized_table", "apply_saved_structure", "is_quantized",
           "QUANT_METHOD"]
