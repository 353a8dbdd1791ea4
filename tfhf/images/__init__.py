"""Images for vision models: loading with safety checks (:func:`load_image`: paths, bytes,
URLs, PIL images, arrays) and transformers' image processors with ``return_tensors="tf"``
(:class:`TFImageProcessor`, :class:`AutoImageProcessor`, :class:`AutoProcessor`). Names load
lazily: ``load_image`` does not import TensorFlow."""

import importlib

_LAZY = {
    "load_image": "io", "load_images": "io", "MAX_PIXELS": "io", "is_image_like": "io",
    "TFImageProcessor": "processing", "AutoImageProcessor": "processing",
    "AutoProcessor": "processing", "load_processor_images": "processing",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'tfhf.images' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
