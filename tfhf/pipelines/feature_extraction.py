"""``feature-extraction``: the model's first output (the last hidden state of a bare backbone).

Per input: a nested list ``[1][tokens][hidden]`` of floats, or with ``return_tensors=True`` a
``tf.Tensor`` of shape ``(1, tokens, hidden)`` -- transformers' format (its batch axis of 1
included). ``truncation`` and ``tokenize_kwargs`` go to the tokenizer.
"""

from __future__ import annotations

from ..errors import InvalidInputError
from .base import Pipeline


class FeatureExtractionPipeline(Pipeline):
    task = "feature-extraction"
    model_task = "base"

    def _sanitize_parameters(self, truncation=None, tokenize_kwargs=None, return_tensors=None):
        tokenize_kwargs = dict(tokenize_kwargs or {})
        if truncation is not None:
            if "truncation" in tokenize_kwargs:
                raise InvalidInputError("truncation is given twice (as an argument and in "
                                        "tokenize_kwargs); give it once.")
            tokenize_kwargs["truncation"] = truncation
        post = {} if return_tensors is None else {"return_tensors": return_tensors}
        return tokenize_kwargs, {}, post

    def preprocess(self, item, **tokenize_kwargs):
        if not isinstance(item, str):
            raise InvalidInputError(f"feature-extraction takes strings (or lists of them); got "
                                    f"{type(item).__name__}.")
        return dict(self.tokenize(item, **tokenize_kwargs))

    def _forward(self, model_inputs):
        out = self.run_model(model_inputs)
        return {"features": out[0].numpy()}  # the first output, as transformers

    def postprocess(self, outputs, return_tensors=False):
        if return_tensors:
            import tensorflow as tf

            return tf.convert_to_tensor(outputs["features"])
        return outputs["features"].tolist()
