"""``image-to-text``: captions from a vision encoder-decoder (BLIP, or a VisionEncoderDecoder
such as Donut), as transformers 4.x's pipeline ran it: the image processor makes
``pixel_values``, ``generate`` writes the caption, and the tokens are decoded without special
tokens. transformers 5 folded this task into ``image-text-to-text``; tfhf keeps the 4.x task.

Calls: ``pipe(image)`` or ``pipe([image, ...])``; the image is a path, bytes, a URL, a PIL
image or an array (:func:`tfhf.images.load_image`). ``prompt="a photo of"`` conditions BLIP
on a start of caption (4.x: ``[CLS]`` + the prompt's tokens; the caption then begins with the
prompt). Generation options go in ``generate_kwargs={...}`` or as keywords
(``max_new_tokens``, ``num_beams``...); the model's generation config gives the rest.
Result: ``[{"generated_text": str}]`` per image (a list of such lists for a list of images).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from .vision_base import ImagePipeline


class ImageToTextPipeline(ImagePipeline):
    task = "image-to-text"
    model_task = "vision2seq"
    model_input_keys = ("pixel_values", "input_ids")

    def __call__(self, inputs=None, **kwargs):
        if "images" in kwargs:
            inputs = kwargs.pop("images")
        if inputs is None:
            raise InvalidInputError("Cannot call the image-to-text pipeline without an image.")
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(self, max_new_tokens=None, generate_kwargs=None, prompt=None,
                             timeout=None, **kwargs):
        pre = {}
        if prompt is not None:
            if not isinstance(prompt, str):
                raise InvalidInputError(f"prompt must be a string, got {type(prompt).__name__}.")
            pre["prompt"] = prompt
        gen = {**(generate_kwargs or {}), **kwargs}  # generate names any option it lacks
        if max_new_tokens is not None:
            if "max_new_tokens" in gen:
                raise InvalidInputError("max_new_tokens was given twice (as an argument and in "
                                        "generate_kwargs): give it once.")
            gen["max_new_tokens"] = max_new_tokens
        # one forward option per generate option: the call's merge into the pipeline's
        return pre, gen, {}

    def preprocess(self, image, prompt=None):
        features = {"pixel_values": self.pixels(self.load(image))["pixel_values"]}
        if prompt is not None:
            model_type = getattr(self.model.config, "model_type", None)
            if model_type != "blip":
                raise InvalidInputError(f"Model type {model_type!r} does not support a prompt "
                                        "(conditional captioning is BLIP's).")
            tok = self.hf_tokenizer
            ids = tok(prompt, add_special_tokens=False)["input_ids"]
            features["input_ids"] = np.asarray([[tok.cls_token_id] + list(ids)], np.int64)
        return features

    def _forward(self, model_inputs, **generate_kwargs):
        extra = {}
        if model_inputs.get("input_ids") is not None:
            extra["input_ids"] = model_inputs["input_ids"]
        out = self.model.generate(model_inputs["pixel_values"], **extra,
                                  **generate_kwargs)
        ids = np.asarray(getattr(out, "sequences", out))
        return {"output_ids": ids[None]}  # one image: (1, num_return_sequences, length)

    def postprocess(self, outputs):
        decode = self.hf_tokenizer.decode
        return [{"generated_text": decode([int(i) for i in row], skip_special_tokens=True)}
                for row in np.asarray(outputs["output_ids"])[0]]
