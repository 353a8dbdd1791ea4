"""``image-segmentation`` with CLIPSeg: one mask per text prompt ("a cat", "the total").

transformers' image-segmentation pipeline never ran CLIPSeg (it needs a prompt); tfhf's does
what transformers' CLIPSeg example and its original ``image_segmenter`` tool did: the prompts
are tokenized with padding, the image is repeated once per prompt, and the model's logits
(the processor's size, 352 x 352 for CIDAS/clipseg-rd64-refined) are resized bilinearly to
the image's size (as transformers' segmentation post-processing does); a pixel belongs to the
mask where the sigmoid of its logit is at least ``threshold`` (default 0.5, i.e. logit >= 0).

Calls: ``pipe(image, prompts)`` (a string or a list of strings; also ``prompts=`` /
``labels=``), or a list of images with the same prompts. Images: paths, bytes, URLs, PIL
images, arrays (:func:`tfhf.images.load_image`). Result per image: ``[{"label": prompt,
"score": None, "mask": PIL image (mode "L", 0 or 255, the image's size), "array": the same
mask as a boolean numpy array (height, width)}, ...]`` in the order of the prompts.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from .vision_base import ImagePipeline


def _prompts(prompts):
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)) or not prompts or \
            not all(isinstance(p, str) and p.strip() for p in prompts):
        raise InvalidInputError("image-segmentation with CLIPSeg needs prompts: a non-empty "
                                "string or a list of non-empty strings naming what to segment.")
    return list(prompts)


class ImageSegmentationPipeline(ImagePipeline):
    task = "image-segmentation"
    model_task = "image_segmentation"
    model_input_keys = ("input_ids", "attention_mask", "pixel_values")

    def __call__(self, image=None, prompts=None, **kwargs):
        if "images" in kwargs:
            image = kwargs.pop("images")
        if "labels" in kwargs and prompts is None:
            prompts = kwargs.pop("labels")
        if image is None:
            raise InvalidInputError("Cannot call the image-segmentation pipeline without an "
                                    "image.")
        if prompts is not None:
            kwargs["prompts"] = prompts
        return super().__call__(image, **kwargs)

    def _sanitize_parameters(self, prompts=None, threshold=None, timeout=None):
        pre, post = {}, {}
        if prompts is not None:
            pre["prompts"] = _prompts(prompts)
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
                    or not 0 <= threshold <= 1:
                raise InvalidInputError(f"threshold is a probability in [0, 1], got "
                                        f"{threshold!r}.")
            post["threshold"] = float(threshold)
        return pre, {}, post

    def preprocess(self, image, prompts=None):
        if prompts is None:
            raise InvalidInputError("image-segmentation with CLIPSeg needs prompts: "
                                    "pipe(image, 'a cat') or pipe(image, ['a cat', 'a dog']).")
        image = self.load(image)
        pixels = self.pixels(image)["pixel_values"]
        enc = self.tokenize(prompts, padding=True)
        return {"pixel_values": np.repeat(pixels, len(prompts), axis=0)[None],
                "input_ids": np.asarray(enc["input_ids"])[None],
                "attention_mask": np.asarray(enc["attention_mask"])[None],
                "prompts": prompts, "size": (image.height, image.width)}

    def _forward(self, model_inputs):
        out = self.run_model({k: np.asarray(model_inputs[k])[0] for k in self.model_input_keys})
        logits = np.asarray(out["logits"], np.float32)
        n = np.asarray(model_inputs["input_ids"]).shape[1]
        return {"logits": logits.reshape((1, n) + logits.shape[-2:])}

    def postprocess(self, outputs, threshold=0.5):
        import tensorflow as tf
        from PIL import Image

        logits = np.asarray(outputs["logits"])[0]  # (prompts, h, w)
        resized = tf.image.resize(logits[..., None], outputs["size"], method="bilinear")
        probs = tf.sigmoid(resized[..., 0]).numpy()
        results = []
        for prompt, p in zip(outputs["prompts"], probs):
            mask = p >= threshold
            results.append({"label": prompt, "score": None,
                            "mask": Image.fromarray(mask.astype(np.uint8) * 255),
                            "array": mask})
        return results
