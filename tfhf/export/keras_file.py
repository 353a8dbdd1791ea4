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

MAX_CONFIG_BYTES = 64 * 1024 * 1024
_ALLOWED_MODULE_PREFIXES = ("keras", "tf_keras", "tfhf")
_CODE_CLASSES = ("__lambda__", "__bytecode__")


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
    Keras and tfhf (see the module docstring). Returns the parsed config."""
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
                raise CheckpointError(f"'{path}': config.json is {info.file_size} bytes, over "
                                      f"the {MAX_CONFIG_BYTES} byte limit.")
            raw = archive.read(info)
    except zipfile.BadZipFile:
        raise CheckpointError(f"'{path}' is not a .keras file (not a zip archive).") from None
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"'{path}': config.json is not valid JSON ({e}).") from None
    _walk(config, "config", path)
    return config


def _refuse(path, where, what):
    raise CheckpointError(
        f"Refusing to load '{path}': {where} {what}. A .keras file of a tfhf model only refers "
        "to Keras and tfhf classes; this one would make Keras import or run other Python code. "
        "Load it with safe_mode=False only if you trust where it came from.")


def _walk(value, where, path, depth=0):
    if depth > 200:
        raise CheckpointError(f"'{path}': config.json nests deeper than 200 levels.")
    if isinstance(value, dict):
        cls = value.get("class_name")
        module = value.get("module")
        if cls in _CODE_CLASSES or cls == "function" and not _module_ok(module):
            _refuse(path, where, f"holds Python code ({cls} from module {module!r})")
        if cls == "Lambda":
            fn = (value.get("config") or {}).get("function")
            if not isinstance(fn, dict) or fn.get("class_name") in _CODE_CLASSES or \
                    not _module_ok(fn.get("module")):
                _refuse(path, where, "is a Lambda layer wrapping a Python function")
        if "module" in value and ("class_name" in value or "fn" in value or
                                  "function" in value) and not _module_ok(module):
            _refuse(path, where, f"names module {module!r} "
                    f"(class_name={cls!r}, fn={value.get('fn')!r})")
        if "registered_name" in value and not _registered_ok(value["registered_name"]):
            _refuse(path, where, f"names registered object {value['registered_name']!r}")
        for k, v in value.items():
            _walk(v, f"{where}[{k!r}]", path, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{where}[{i}]", path, depth + 1)


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
