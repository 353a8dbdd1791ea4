"""transformers image processors and processors with ``return_tensors="tf"`` put back.

transformers v5 has no TensorFlow tensors and, without torchvision, falls back to its
Pillow/numpy image processors (``BlipImageProcessorPil``, ``ViltImageProcessorPil``,
``CLIPImageProcessorPil``, ``DonutImageProcessorPil``...), which need no torch.
:class:`TFImageProcessor` wraps one of those (or a processor that pairs one with a tokenizer:
``BlipProcessor``, ``ViltProcessor``, ``CLIPProcessor``, ``CLIPSegProcessor``,
``DonutProcessor``) and changes only this:

* ``return_tensors="tf"`` is computed as numpy, then converted (integer arrays to int32, as
  transformers 4.x returned them);
* images given as paths, bytes or URLs are read with :func:`tfhf.images.load_image` first
  (its checks: not an image, empty or truncated, too many pixels, unsupported mode), and
  arrays and PIL images are checked the same way;
* token-id methods (``decode``, ``batch_decode``) accept tensors, as :class:`TFTokenizer`.

Every other attribute is the wrapped object's.
"""

from __future__ import annotations

import os

from ..data.tokenizer import TFTokenizer, ids_to_python, to_tf
from ..errors import InvalidInputError, ModelNotFoundError
from ..hub.resolve import ModelSource, hub_cache_only
from .io import MAX_PIXELS, load_image

__all__ = ["TFImageProcessor", "AutoImageProcessor", "AutoProcessor", "load_processor_images"]

_IMAGE_KEYS = ("images",)
_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


def load_processor_images(images, max_pixels=MAX_PIXELS):
    """One image or a list of images (any form :func:`load_image` reads) -> RGB PIL images,
    keeping the list / single shape."""
    if images is None:
        return None
    if isinstance(images, (list, tuple)):
        if not images:
            raise InvalidInputError("images is an empty list: pass at least one image.")
        if isinstance(images[0], (int, float)):  # a nested-list array, not a batch
            return load_image(images, max_pixels=max_pixels)
        return [load_processor_images(x, max_pixels) for x in images]
    return load_image(images, max_pixels=max_pixels)


class TFImageProcessor:
    """A transformers image processor or processor whose calls accept ``return_tensors="tf"``
    and read images through :func:`tfhf.images.load_image`."""

    def __init__(self, processor, max_pixels=MAX_PIXELS):
        object.__setattr__(self, "processor", processor)
        object.__setattr__(self, "max_pixels", max_pixels)

    def __call__(self, *args, **kwargs):
        # transformers' processors and image processors take the images first
        if "images" in kwargs:
            kwargs["images"] = load_processor_images(kwargs["images"], self.max_pixels)
        elif args:
            args = (load_processor_images(args[0], self.max_pixels),) + args[1:]
        if kwargs.get("return_tensors") == "tf":
            kwargs["return_tensors"] = "np"
            return to_tf(self.processor(*args, **kwargs))
        return self.processor(*args, **kwargs)

    def __getattr__(self, name):
        if name in ("processor", "max_pixels"):
            raise AttributeError(name)
        attr = getattr(self.processor, name)
        if name in ("decode", "batch_decode", "post_process_image_text_to_text") and \
                callable(attr):
            return lambda ids, *a, **k: attr(ids_to_python(ids), *a, **k)
        if name == "tokenizer" and attr is not None and not isinstance(attr, TFTokenizer):
            return TFTokenizer(attr)
        if name == "image_processor" and attr is not None:
            return TFImageProcessor(attr, self.max_pixels)
        return attr

    def __setattr__(self, name, value):
        setattr(self.processor, name, value)

    def __repr__(self):
        return f"TFImageProcessor({self.processor!r})"

    def __reduce__(self):
        return (TFImageProcessor, (self.processor, self.max_pixels))

    def __dir__(self):
        return sorted(set(dir(type(self))) | set(dir(self.processor)))


def _from_pretrained(kind, path, args, kwargs):
    import transformers

    max_pixels = kwargs.pop("max_pixels", MAX_PIXELS)
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    if isinstance(path, str) and os.path.isfile(path):
        raise ModelNotFoundError(f"'{path}' is a file; pass the folder holding "
                                 "preprocessor_config.json.")
    if isinstance(path, str) and os.path.isdir(path):
        folder = os.path.join(path, kwargs.get("subfolder", "") or "")
        if not any(os.path.isfile(os.path.join(folder, f)) for f in _PROCESSOR_FILES):
            raise ModelNotFoundError(f"Folder '{folder}' holds no image processor "
                                     f"({' or '.join(_PROCESSOR_FILES)}). Pass the folder the "
                                     "processor was saved to.")
    asked_local = kwargs.get("local_files_only", False)
    if isinstance(path, str) and not os.path.isdir(path) and hub_cache_only(
            path, kwargs.get("cache_dir"), asked_local):
        kwargs["local_files_only"] = True
    try:
        obj = getattr(transformers, kind).from_pretrained(path, *args, **kwargs)
    except OSError as e:
        source = ModelSource(path, local_files_only=asked_local)
        raise ModelNotFoundError(f"Cannot load an image processor from {source.describe()}: "
                                 f"{str(e).splitlines()[0]}{source.offline_hint()}") from None
    if hasattr(obj, "image_processor") or hasattr(obj, "preprocess"):
        return TFImageProcessor(obj, max_pixels)
    return TFTokenizer(obj)  # a text-only "processor" is its tokenizer


class AutoImageProcessor:
    """``AutoImageProcessor.from_pretrained`` returning a :class:`TFImageProcessor`."""

    def __init__(self):
        raise EnvironmentError("Use AutoImageProcessor.from_pretrained(...).")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        return _from_pretrained("AutoImageProcessor", pretrained_model_name_or_path, args, kwargs)


class AutoProcessor:
    """``AutoProcessor.from_pretrained``: a processor (image processor + tokenizer) wrapped
    as :class:`TFImageProcessor`."""

    def __init__(self):
        raise EnvironmentError("Use AutoProcessor.from_pretrained(...).")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        return _from_pretrained("AutoProcessor", pretrained_model_name_or_path, args, kwargs)
