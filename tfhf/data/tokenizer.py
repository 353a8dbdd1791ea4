"""transformers tokenizers with ``return_tensors="tf"`` put back.

transformers v5 dropped TensorFlow tensors. :class:`TFTokenizer` wraps a transformers
tokenizer and changes nothing but that: calls that take ``return_tensors`` accept ``"tf"``
(computed as numpy, then converted), and methods that take token ids (``decode``,
``batch_decode``, ``convert_ids_to_tokens``) accept ``tf.Tensor``, ``tf.RaggedTensor`` and
numpy arrays as well as lists, as transformers 4.x did; every other attribute is the wrapped
tokenizer's.
"""

from __future__ import annotations

import os

from ..errors import InvalidInputError, ModelNotFoundError
from ..hub.resolve import ModelSource, hub_cache_only, split_gguf_path

_TENSOR_METHODS = ("__call__", "pad", "encode_plus", "batch_encode_plus", "encode",
                   "apply_chat_template")
# Methods whose first argument is token ids (one sequence or a batch).
_IDS_METHODS = ("decode", "batch_decode", "convert_ids_to_tokens")
# Files any transformers tokenizer folder holds at least one of.
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                    "tokenizer.model", "spiece.model", "sentencepiece.bpe.model")


def to_tf(obj):
    """numpy arrays (possibly inside a BatchEncoding / dict / list) -> tf.Tensor.

    Integer arrays become int32, as transformers 4.x returned them for ``"tf"``.
    """
    import numpy as np
    import tensorflow as tf

    if isinstance(obj, np.ndarray):
        if obj.dtype == np.int64 and (obj.size == 0 or (obj.max() < 2**31 and obj.min() >= -2**31)):
            obj = obj.astype(np.int32)
        return tf.convert_to_tensor(obj)
    if hasattr(obj, "data") and isinstance(getattr(obj, "data"), dict):  # BatchEncoding
        for k, v in list(obj.data.items()):
            obj.data[k] = to_tf(v)
        return obj
    if isinstance(obj, dict):
        return type(obj)({k: to_tf(v) for k, v in obj.items()})
    return obj


def ids_to_python(ids):
    """Token ids as Python ints / (nested) lists: ``tf.Tensor``, ``tf.RaggedTensor``, numpy
    arrays and scalars, and lists holding any of them. Anything else is returned unchanged
    (the wrapped tokenizer then reports what it cannot use)."""
    import numpy as np

    if isinstance(ids, (list, tuple)):
        return [ids_to_python(x) for x in ids]
    if isinstance(ids, (np.ndarray, np.generic)):
        return ids.tolist()
    module = type(ids).__module__ or ""
    if module.startswith(("tensorflow", "tf_keras", "keras")):
        if hasattr(ids, "to_list"):  # tf.RaggedTensor
            return ids.to_list()
        if hasattr(ids, "numpy"):  # eager tf.Tensor / tf.Variable
            return ids.numpy().tolist()
    return ids


class TFTokenizer:
    """A transformers tokenizer whose methods accept ``return_tensors="tf"``."""

    def __init__(self, tokenizer):
        object.__setattr__(self, "tokenizer", tokenizer)

    def _with_tf(self, method, args, kwargs):
        if kwargs.get("return_tensors") == "tf":
            kwargs["return_tensors"] = "np"
            return to_tf(method(*args, **kwargs))
        return method(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        return self._with_tf(self.tokenizer, args, kwargs)

    def __getattr__(self, name):
        if name == "tokenizer":  # not set yet (e.g. during copy or unpickling): no recursion
            raise AttributeError(name)
        attr = getattr(self.tokenizer, name)
        if name == "apply_chat_template" and callable(attr):
            return lambda *a, **k: _render_chat(self, attr, a, k)
        if name in _TENSOR_METHODS and callable(attr):
            return lambda *a, **k: self._with_tf(attr, a, k)
        if name in _IDS_METHODS and callable(attr):
            return lambda ids, *a, **k: attr(ids_to_python(ids), *a, **k)
        return attr

    def __setattr__(self, name, value):
        setattr(self.tokenizer, name, value)

    def __len__(self):
        return len(self.tokenizer)

    def __repr__(self):
        return f"TFTokenizer({self.tokenizer!r})"

    def __reduce__(self):
        return (TFTokenizer, (self.tokenizer,))

    def __dir__(self):
        return sorted(set(dir(type(self))) | set(dir(self.tokenizer)))


def _render_chat(wrapper, method, args, kwargs):
    """``apply_chat_template`` as transformers 4.x had it, with template failures as
    :class:`InvalidInputError`.

    With ``tokenize=True`` (the default) and no ``return_dict``, the token ids are returned
    (a list, or a ``tf.Tensor`` with ``return_tensors="tf"``), as in 4.x; pass
    ``return_dict=True`` for the ``BatchEncoding`` (ids and attention mask).

    transformers renders chat templates in jinja2's ``ImmutableSandboxedEnvironment``; its
    errors (``SecurityError`` for a template reaching for Python internals, syntax errors,
    ``raise_exception`` in the template) reach the caller as bare jinja2 exceptions that do
    not say a chat template was involved. The original stays attached as ``__cause__``.
    """
    if kwargs.get("tokenize", True) and "return_dict" not in kwargs:
        # transformers 4.x returned the ids (a tf.Tensor with return_tensors="tf") unless
        # return_dict=True was passed; v5 defaults to the BatchEncoding. Keep the 4.x API
        # (its masks need the dict, so asking for them still returns it).
        kwargs["return_dict"] = bool(kwargs.get("return_assistant_tokens_mask"))
    try:
        from jinja2 import exceptions as jx

        from .template_limits import bounded_rendering
    except ImportError:  # pragma: no cover - transformers needs jinja2 for chat templates
        return wrapper._with_tf(method, args, kwargs)
    where = f"The chat template of tokenizer '{getattr(wrapper.tokenizer, 'name_or_path', '')}'"
    if kwargs.get("chat_template") is not None:
        where = "The chat template passed as chat_template="
    try:
        with bounded_rendering(where, kwargs.pop("template_limits", None)):
            return wrapper._with_tf(method, args, kwargs)
    except jx.SecurityError as e:
        raise InvalidInputError(
            f"{where} tried an operation the template sandbox forbids ({e}). Chat templates "
            "run sandboxed and may not reach Python internals: the template is broken or "
            "hostile; use a trusted one (chat_template=...).") from e
    except jx.TemplateSyntaxError as e:
        raise InvalidInputError(f"{where} is not valid Jinja (line {e.lineno}): {e.message}") \
            from e
    except jx.TemplateError as e:
        raise InvalidInputError(f"{where} rejected the conversation: {e}") from e


class AutoTokenizer:
    """``AutoTokenizer.from_pretrained`` resolving files like the models do, wrapped for TF."""

    def __init__(self):
        raise EnvironmentError("Use AutoTokenizer.from_pretrained(...).")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        import transformers

        # a .gguf file path loads like (its folder, gguf_file=its name)
        path, gguf_file = split_gguf_path(pretrained_model_name_or_path,
                                          kwargs.pop("gguf_file", None))
        if os.path.isfile(path):
            raise ModelNotFoundError(
                f"'{path}' is a file but not a GGUF file; pass the folder holding the tokenizer "
                "files (tokenizer.json, tokenizer_config.json, ...) or a .gguf file.")
        if not os.path.isdir(path) and (path.startswith((".", "/", "~")) or path.count("/") > 1):
            raise ModelNotFoundError(f"No tokenizer folder or .gguf file at '{path}'.")
        if gguf_file is not None:  # the vocabulary inside a GGUF file, built without torch
            from ..hub.gguf import resolve_gguf_file
            from ..hub.gguf_tokenizer import tokenizer_from_gguf

            hub = {k: kwargs.pop(k) for k in ("revision", "cache_dir", "local_files_only",
                                              "token", "subfolder") if k in kwargs}
            return TFTokenizer(tokenizer_from_gguf(resolve_gguf_file(path, gguf_file, **hub),
                                                   *args, **kwargs))
        if os.path.isdir(path):
            folder = os.path.join(path, kwargs.get("subfolder", "") or "")
            if not any(os.path.isfile(os.path.join(folder, f)) for f in _TOKENIZER_FILES):
                raise ModelNotFoundError(
                    f"Folder '{folder}' holds no tokenizer files (looked for "
                    f"{', '.join(_TOKENIZER_FILES)}). Pass the folder the tokenizer was saved to.")
        asked_local = kwargs.get("local_files_only", False)
        if not os.path.isdir(path) and hub_cache_only(path, kwargs.get("cache_dir"), asked_local):
            kwargs["local_files_only"] = True  # no Hub: no minute of retries either
        try:
            tok = transformers.AutoTokenizer.from_pretrained(path, *args, **kwargs)
        except OSError as e:
            source = ModelSource(path, local_files_only=asked_local)
            raise ModelNotFoundError(
                f"Cannot load a tokenizer from {source.describe()}: "
                f"{str(e).splitlines()[0]}{source.offline_hint()}") from None
        return TFTokenizer(tok)
