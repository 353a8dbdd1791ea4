"""Loading ``.keras`` files of tfhf models, refusing files that name arbitrary code.

``model.save("m.keras")`` works on every tfhf model (their classes are registered Keras
serializables, ``get_config`` is pure data). :func:`load_keras_model` is
``keras.models.load_model`` plus two things:

* it imports tfhf's model classes first, so their registrations exist in a fresh process;
* with ``safe_mode=True`` (the default) it reads the file's ``config.json`` *before* Keras
  deserializes anything and refuses, with :class:`tfhf.errors.CheckpointError`, any object
  whose module is not Keras or tfhf, any Python ``lambda`` and any function reference outside
  Keras. Keras 3's own safe mode refuses lambdas but only reports other unknown names as
  "Could not locate class"; tf_keras imports the named module before failing. The check
  here fails first, says why, and imports nothing.
"""

from __future__ import annotations

import json
import os
import zipfile

from ..errors import CheckpointError, InvalidInputError

# A tfhf model's config.json is a few KB; a large functional model's is well under 1 MB.
# The caps bound what a hostile file can cost the checker (json.loads of MAX_CONFIG_BYTES
# builds at most ~100 MB of Python objects; the walk visits at most MAX_CONFIG_NODES values).
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_CONFIG_NODES = 500_000
MAX_CONFIG_DEPTH = 200
_ALLOWED_MODULE_PREFIXES = ("keras", "tf_keras", "tfhf")
_CODE_CLASSES = ("__lambda__", "__bytecode__")
# Lambda layers Keras itself saves around one of its activation functions
# (``Lambda(keras.activations.relu)``) are allowed: the file holds only the function's name,
# Keras resolves it in its own ``keras.activations`` module, and no code is stored or imported.
# Every other Lambda (a Python lambda, bytecode, a function of any other module) is refused.
KERAS_ACTIVATIONS = frozenset((
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh",
    "tanh_shrink", "threshold"))


def _module_ok(module):
    if module is None:
        return True
    if not isinstance(module, str):
        return False
    return any(module == p or module.startswith(p + ".") for p in _ALLOWED_MODULE_PREFIXES)


def _registered_ok(name):
    if name is None or not isinstance(name, str):
        return name is None
    if ">" not in name:  # Keras' own objects are registered under their plain names
        return True
    return name.split(">", 1)[0] == "tfhf"


def check_keras_file(path):
    """Read ``path``'s ``config.json`` and raise ``CheckpointError`` if it names code outside
    Keras and tfhf (see the module docstring), or if it is larger or deeper than a model
    config can be (``MAX_CONFIG_BYTES``, ``MAX_CONFIG_NODES``, ``MAX_CONFIG_DEPTH``).
    Returns the parsed config."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InvalidInputError(f"No .keras file at '{path}'.")
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                raise CheckpointError(f"'{path}' is not a .keras file: it has no config.json.")
            if info.file_size > MAX_CONFIG_BYTES:
                raise CheckpointError(
                    f"'{path}': config.json is {info.file_size} bytes, over the "
                    f"{MAX_CONFIG_BYTES} byte limit (tfhf.export.keras_file.MAX_CONFIG_BYTES; "
                    "a model config is a few KB).")
            with archive.open(info) as f:  # the size in the directory may lie: read one more
                raw = f.read(MAX_CONFIG_BYTES + 1)
    except zipfile.BadZipFile:
        raise CheckpointError(f"'{path}' is not a .keras file (not a zip archive).") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise CheckpointError(f"'{path}': config.json is over the {MAX_CONFIG_BYTES} byte "
                              "limit (tfhf.export.keras_file.MAX_CONFIG_BYTES).")
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"'{path}': config.json is not valid JSON ({_short(e, 200)}).") \
            from None
    _walk(config, path)
    return config


def _short(value, limit=60):
    text = value if isinstance(value, (str, Exception)) else repr(value)
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"...({len(text)} chars)"


class _Node:
    """A value of the config and how it was reached; the path is only spelled out for an
    error message (building it eagerly costs depth x key length per value)."""

    __slots__ = ("value", "parent", "key", "depth")

    def __init__(self, value, parent, key, depth):
        self.value, self.parent, self.key, self.depth = value, parent, key, depth

    def path(self):
        keys, node = [], self
        while node is not None and node.parent is not None:
            keys.append(node.key)
            node = node.parent
        keys.reverse()
        if len(keys) > 12:
            keys = keys[:4] + ["..."] + keys[-6:]
        return "config" + "".join("..." if k == "..." else f"[{_short(k, 40)!r}]"
                                  if isinstance(k, str) else f"[{k}]" for k in keys)


def _walk(config, path):
    """Visit every value of the config (iteratively, at most MAX_CONFIG_NODES of them, at most
    MAX_CONFIG_DEPTH deep) and refuse the ones that name code."""
    stack, seen, allowed = [_Node(config, None, None, 0)], 0, set()
    while stack:
        node = stack.pop()
        seen += 1 + (len(node.value) if isinstance(node.value, (dict, list)) else 0)
        if seen > MAX_CONFIG_NODES:
            raise CheckpointError(
                f"'{path}': config.json holds more than {MAX_CONFIG_NODES} values "
                "(tfhf.export.keras_file.MAX_CONFIG_NODES); not a model config.")
        if node.depth > MAX_CONFIG_DEPTH:
            raise CheckpointError(f"'{path}': config.json nests deeper than {MAX_CONFIG_DEPTH} "
                                  f"levels (at {node.path()}).")
        value = node.value
        if isinstance(value, dict):
            if id(value) in allowed:  # the function of a Lambda that _check_lambda allowed
                continue
            fn = _check_object(value, node, path)
            if fn is not None:
                allowed.add(id(fn))
            stack.extend(_Node(v, node, k, node.depth + 1) for k, v in value.items()
                         if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend(_Node(v, node, i, node.depth + 1) for i, v in enumerate(value)
                         if isinstance(v, (dict, list)))


def _check_object(value, node, path):
    cls = value.get("class_name")
    module = value.get("module")
    if cls is not None and not isinstance(cls, str):
        _refuse(path, node, f"has a class_name that is not a string ({type(cls).__name__})")
    if cls in _CODE_CLASSES or cls == "function" and not _module_ok(module):
        _refuse(path, node, f"holds Python code ({cls} from module {_short(module)!r})")
    allowed = _check_lambda(value, node, path) if cls == "Lambda" else None
    if "module" in value and ("class_name" in value or "fn" in value or
                              "function" in value) and not _module_ok(module):
        _refuse(path, node, f"names module {_short(module)!r} "
                f"(class_name={_short(cls)!r}, fn={_short(value.get('fn'))!r})")
    if "registered_name" in value and not _registered_ok(value["registered_name"]):
        _refuse(path, node, f"names registered object {_short(value['registered_name'])!r}")
    return allowed


def _check_lambda(value, node, path):
    """A Lambda layer passes only as Keras saves ``Lambda(keras.activations.<name>)``:
    ``{"class_name": "function", "module": "builtins" or a Keras module, "config": <name>}``
    with <name> one of :data:`KERAS_ACTIVATIONS`."""
    config = value.get("config")
    if not isinstance(config, dict):
        _refuse(path, node, f"is a Lambda layer whose config is a {type(config).__name__}, "
                "not an object")
    fn = config.get("function")
    if isinstance(fn, dict) and fn.get("class_name") == "function" and \
            (fn.get("module") == "builtins" or _module_ok(fn.get("module"))) and \
            fn.get("registered_name") in (None, "function") and \
            isinstance(fn.get("config"), str) and fn["config"] in KERAS_ACTIVATIONS and \
            set(fn) <= {"class_name", "module", "config", "registered_name"}:
        return fn
    _refuse(path, node, "is a Lambda layer wrapping a Python function (only Keras' own "
            "activations, as Keras saves Lambda(keras.activations.relu), are allowed)")


def _refuse(path, node, what):
    raise CheckpointError(
        f"Refusing to load '{path}': {node.path()} {what}. A .keras file of a tfhf model only "
        "refers to Keras and tfhf classes; this one would make Keras import or run other "
        "Python code. Load it with safe_mode=False only if you trust where it came from.")


def register_model_classes():
    """Import every tfhf model class (their import registers them with Keras)."""
    from ..models.registry import MODELS, load_class

    for family in MODELS.values():
        for ref in family.values():
            load_class(ref)


def load_keras_model(path, safe_mode=True, compile=True, custom_objects=None):
    """``keras.models.load_model`` for ``.keras`` files holding tfhf models (see module doc)."""
    from .._keras import keras

    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise InvalidInputError(f"load_keras_model reads .keras files; got '{path}'. For a "
                                "checkpoint folder use from_pretrained, for a SavedModel "
                                "tf.saved_model.load.")
    if safe_mode:
        check_keras_file(path)
    register_model_classes()
    return keras.models.load_model(path, custom_objects=custom_objects, compile=compile,
                                   safe_mode=safe_mode)
