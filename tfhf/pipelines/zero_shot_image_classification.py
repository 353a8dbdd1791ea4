"""``zero-shot-image-classification`` with CLIP, as transformers' pipeline: each candidate label
is put into ``hypothesis_template`` (default ``"This is a photo of {}."``), the texts are
tokenized with padding, and the softmax of ``logits_per_image`` over the labels gives the
scores. Result: ``[{"score": float, "label": str}, ...]`` sorted by score (a list of such lists
for a list of images). Images: paths, bytes, URLs, PIL images, arrays."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from .base import softmax
from .vision_base import ImagePipeline


class ZeroShotImageClassificationPipeline(ImagePipeline):
    task = "zero-shot-image-classification"
    model_task = "zero_shot_image_classification"
    model_input_keys = ("pixel_values", "input_ids", "attention_mask")

    def __call__(self, image=None, candidate_labels=None, **kwargs):
        if "images" in kwargs:
            image = kwargs.pop("images")
        if image is None:
            raise InvalidInputError("Cannot call the zero-shot-image-classification pipeline "
                                    "without an image.")
        if candidate_labels is not None:
            kwargs["candidate_labels"] = candidate_labels
        return super().__call__(image, **kwargs)

    def _sanitize_parameters(self, candidate_labels=None, hypothesis_template=None, timeout=None,
                             tokenizer_kwargs=None):
        pre = {}
        if candidate_labels is not None:
            if isinstance(candidate_labels, str):
                candidate_labels = [candidate_labels]
            if not candidate_labels or not all(isinstance(c, str) for c in candidate_labels):
                raise InvalidInputError("candidate_labels must be a non-empty list of strings.")
            pre["candidate_labels"] = list(candidate_labels)
        if hypothesis_template is not None:
            if "{}" not in hypothesis_template:
                raise InvalidInputError(f"hypothesis_template {hypothesis_template!r} has no {{}} "
                                        "for the label.")
            pre["hypothesis_template"] = hypothesis_template
        if tokenizer_kwargs is not None:
            pre["tokenizer_kwargs"] = dict(tokenizer_kwargs)
        return pre, {}, {}

    def preprocess(self, image, candidate_labels=None, hypothesis_template="This is a photo of {}.",
                   tokenizer_kwargs=None):
        if not candidate_labels:
            raise InvalidInputError("zero-shot-image-classification needs candidate_labels=[...].")
        features = self.pixels(self.load(image))
        texts = [hypothesis_template.format(label) for label in candidate_labels]
        enc = self.tokenize(texts, **{"padding": True, **(tokenizer_kwargs or {})})
        return {"pixel_values": features["pixel_values"],
                "input_ids": np.asarray(enc["input_ids"])[None],
                "attention_mask": np.asarray(enc["attention_mask"])[None],
                "candidate_labels": list(candidate_labels)}

    def _forward(self, model_inputs):
        out = self.run_model({"pixel_values": model_inputs["pixel_values"],
                              "input_ids": model_inputs["input_ids"][0],
                              "attention_mask": model_inputs["attention_mask"][0]})
        return {"logits": np.asarray(out["logits_per_image"])}

    def postprocess(self, outputs):
        labels = outputs["candidate_labels"]
        scores = softmax(np.asarray(outputs["logits"], np.float64)[0]).tolist()
        return [{"score": s, "label": label}
                for s, label in sorted(zip(scores, labels), key=lambda x: -x[0])]
