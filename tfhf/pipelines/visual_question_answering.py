"""``visual-question-answering`` with ViLT's VQA head, as transformers 4.x's pipeline: the
question is tokenized (``padding`` / ``truncation`` options, default off), the image processor
makes ``pixel_values`` and ``pixel_mask``, and the sigmoid of the answer logits, top ``top_k``
(default 5, at most the number of answers), gives ``[{"score": float, "answer": str}, ...]``.
transformers 5 dropped this task; tfhf keeps the 4.x one.

Calls: ``pipe(image, question)``, ``pipe(image=..., question=...)``, ``pipe({"image": ...,
"question": ...})`` or a list of such dicts; a list of images with one question, one image
with a list of questions, or both lists (every question on every image, questions outermost).
Images: paths, bytes, URLs, PIL images, arrays (:func:`tfhf.images.load_image`).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from .base import sigmoid
from .vision_base import ImagePipeline


def _pairs(image, question):
    """transformers' input forms -> a dict or a list of dicts with 'image' and 'question'."""
    if question is None:
        return image
    if not isinstance(question, (str, list)) or (
            isinstance(question, list) and not all(isinstance(q, str) for q in question)):
        raise InvalidInputError(f"question must be a string or a list of strings, got "
                                f"{type(question).__name__}.")
    images = image if isinstance(image, list) else None
    if isinstance(question, str):
        if images is None:
            return {"image": image, "question": question}
        return [{"image": im, "question": question} for im in images]
    if images is None:
        return [{"image": image, "question": q} for q in question]
    return [{"image": im, "question": q} for q in question for im in images]


class VisualQuestionAnsweringPipeline(ImagePipeline):
    task = "visual-question-answering"
    model_task = "visual_question_answering"
    model_input_keys = ("input_ids", "attention_mask", "token_type_ids", "pixel_values",
                        "pixel_mask")

    def __call__(self, image=None, question=None, **kwargs):
        if "images" in kwargs:
            image = kwargs.pop("images")
        if image is None:
            raise InvalidInputError("Cannot call the visual-question-answering pipeline without "
                                    "an image.")
        return super().__call__(_pairs(image, question), **kwargs)

    def _sanitize_parameters(self, top_k=None, padding=None, truncation=None, timeout=None):
        pre, post = {}, {}
        if padding is not None:
            pre["padding"] = padding
        if truncation is not None:
            pre["truncation"] = truncation
        if top_k is not None:
            if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
                raise InvalidInputError(f"top_k must be a positive integer, got {top_k!r}.")
            post["top_k"] = top_k
        return pre, {}, post

    def preprocess(self, item, padding=False, truncation=False):
        if not isinstance(item, dict) or "image" not in item or "question" not in item:
            raise InvalidInputError("visual-question-answering needs an image and a question: "
                                    "pipe(image, question) or pipe({'image': ..., "
                                    "'question': ...}).")
        if not isinstance(item["question"], str):
            raise InvalidInputError(f"question must be a string, got "
                                    f"{type(item['question']).__name__}.")
        enc = self.tokenize(item["question"], padding=padding, truncation=truncation)
        features = {k: np.asarray(v) for k, v in dict(enc).items()}
        features.update(self.pixels(self.load(item["image"])))
        return features

    def _forward(self, model_inputs):
        out = self.run_model(model_inputs)
        return {"logits": np.asarray(out["logits"])}

    def postprocess(self, outputs, top_k=5):
        labels = self.model.config.id2label
        probs = sigmoid(np.asarray(outputs["logits"], np.float32)[0])
        top_k = min(top_k, len(probs))
        order = np.argsort(-probs, kind="stable")[:top_k]
        return [{"score": float(probs[i]), "answer": labels[int(i)]} for i in order]
