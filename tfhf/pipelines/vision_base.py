"""What the image pipelines share: an image processor beside the tokenizer, images read with
:func:`tfhf.images.load_image` (paths, bytes, URLs under the downloader's rules, PIL images,
arrays; its errors for bad files), and the model called one input at a time (images and
prompts of different shapes do not pad into one batch)."""

from __future__ import annotations

import os

import numpy as np

from ..errors import InvalidInputError
from .base import Pipeline


def load_image_processor(image_processor, model_name, model, hub):
    """The pipeline's image processor: as given (an object or a folder / repo id), else the
    model's (its folder's ``preprocessor_config.json``)."""
    from ..images.processing import AutoImageProcessor, TFImageProcessor

    if image_processor is None:
        image_processor = model_name or getattr(model, "name_or_path", None)
        if not image_processor:
            raise InvalidInputError("Cannot tell which image processor to use: the model object "
                                    "has no name_or_path. Pass image_processor=<folder or "
                                    "object>.")
    if isinstance(image_processor, (str, os.PathLike)):
        kwargs = {k: v for k, v in hub.items() if k in ("revision", "token", "cache_dir",
                                                          "local_files_only")}
        return AutoImageProcessor.from_pretrained(os.fspath(image_processor), **kwargs)
    if not isinstance(image_processor, TFImageProcessor):
        image_processor = TFImageProcessor(image_processor)
    return image_processor


class ImagePipeline(Pipeline):
    """A pipeline whose inputs are images (plus text); see the module docstring."""

    uses_images = True

    def __init__(self, model, tokenizer=None, image_processor=None, batch_size=None, task="",
                 device=None, max_pixels=None, **kwargs):
        from ..images.io import MAX_PIXELS

        self.image_processor = image_processor
        # images above this many pixels are refused before decoding (load_image's check)
        self.max_pixels = MAX_PIXELS if max_pixels is None else int(max_pixels)
        super().__init__(model, tokenizer=tokenizer, batch_size=batch_size, task=task,
                         device=device, **kwargs)

    def load(self, image):
        from ..images.io import load_image

        if image is None:
            raise InvalidInputError(f"The {self.task} pipeline needs an image.")
        return load_image(image, max_pixels=self.max_pixels)

    def pixels(self, image, **kwargs):
        """``image_processor(images=[image])`` as numpy arrays (pixel_values first)."""
        out = self.image_processor.processor(images=[image], return_tensors="np", **kwargs)
        return {k: np.asarray(v) for k, v in out.items()}

    def __call__(self, inputs, *args, batch_size=None, **kwargs):
        # one input per model call (see the module docstring); batch_size is accepted
        return super().__call__(inputs, *args, batch_size=1, **kwargs)

    def model_inputs_of(self, batch):
        return {k: v for k, v in batch.items() if k in self.model_input_keys}

    model_input_keys = ("pixel_values",)

    def save_pretrained(self, save_directory, **kwargs):
        super().save_pretrained(save_directory, **kwargs)
        if self.image_processor is not None:
            self.image_processor.save_pretrained(save_directory)
