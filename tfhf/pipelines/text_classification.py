"""``text-classification`` / ``sentiment-analysis``: [{"label", "score"}] per input.

Output rules are transformers' TextClassificationPipeline:

* without ``top_k``: one ``{"label", "score"}`` per input (the best label), and a single
  string input gives a one-element list;
* ``top_k=k``: the k best labels sorted by score (a list per input); ``top_k=None``: all;
* ``function_to_apply`` ("sigmoid", "softmax", "none") defaults to none for regression,
  sigmoid for multi-label or ``num_labels == 1``, softmax otherwise.

Inputs are strings or ``{"text": ..., "text_pair": ...}`` dicts; other keywords
(``truncation=True``, ``max_length``, ``padding``) go to the tokenizer.
"""

from __future__ import annotations

from ..errors import InvalidInputError
from .base import Pipeline, sigmoid, softmax

FUNCTIONS = ("sigmoid", "softmax", "none")


class TextClassificationPipeline(Pipeline):
    task = "text-classification"
    model_task = "sequence_classification"

    def _sanitize_parameters(self, function_to_apply=None, top_k="", **tokenizer_kwargs):
        # "" marks "top_k not given", because top_k=None means "all labels"
        post = {}
        if top_k is None or (isinstance(top_k, int) and not isinstance(top_k, bool)):
            if top_k is not None and top_k < 1:
                raise InvalidInputError(f"top_k must be >= 1 or None, got {top_k}.")
            post["top_k"] = top_k
            post["_legacy"] = False
        elif top_k != "":
            raise InvalidInputError(f"top_k must be an int or None, got {top_k!r}.")
        if function_to_apply is not None:
            name = getattr(function_to_apply, "value", function_to_apply)
            if str(name).lower() not in FUNCTIONS:
                raise InvalidInputError(f"function_to_apply={function_to_apply!r}; use one of "
                                        f"{', '.join(FUNCTIONS)}.")
            post["function_to_apply"] = str(name).lower()
        return tokenizer_kwargs, {}, post

    def __call__(self, inputs, *args, **kwargs):
        result = super().__call__(inputs, *args, **kwargs)
        # transformers: a lone string without a top_k argument to this call gives a list
        if isinstance(inputs, str) and "top_k" not in kwargs:
            return [result]
        return result

    def preprocess(self, item, **tokenizer_kwargs):
        if isinstance(item, dict):
            unknown = set(item) - {"text", "text_pair"}
            if "text" not in item or unknown:
                raise InvalidInputError(
                    "A text-pair input is a dict {'text': ..., 'text_pair': ...}; got keys "
                    f"{sorted(item)}.")
            return dict(self.tokenize(**item, **tokenizer_kwargs))
        if isinstance(item, list) and len(item) == 1 and isinstance(item[0], list) \
                and len(item[0]) == 2:  # transformers' old [[text, pair]] form
            return dict(self.tokenize(text=item[0][0], text_pair=item[0][1], **tokenizer_kwargs))
        if not isinstance(item, str):
            raise InvalidInputError(
                f"text-classification takes strings (or lists of them); got {type(item).__name__}. "
                "For text pairs pass {'text': 'My text', 'text_pair': 'My pair'}.")
        return dict(self.tokenize(item, **tokenizer_kwargs))

    def _forward(self, model_inputs):
        return {"logits": self.run_model(model_inputs)["logits"].numpy()}

    def _default_function(self):
        config = self.model.config
        problem = getattr(config, "problem_type", None)
        if problem == "regression":
            return "none"
        if problem == "multi_label_classification" or config.num_labels == 1:
            return "sigmoid"
        if problem == "single_label_classification" or config.num_labels > 1:
            return "softmax"
        return str(getattr(config, "function_to_apply", "none") or "none").lower()

    def postprocess(self, outputs, function_to_apply=None, top_k=1, _legacy=True):
        function_to_apply = function_to_apply or self._default_function()
        logits = outputs["logits"][0].astype("float32")
        if function_to_apply == "sigmoid":
            scores = sigmoid(logits)
        elif function_to_apply == "softmax":
            scores = softmax(logits)
        else:
            scores = logits
        id2label = self.model.config.id2label
        if top_k == 1 and _legacy:
            return {"label": id2label[int(scores.argmax())], "score": scores.max().item()}
        ranked = [{"label": id2label[i], "score": s.item()} for i, s in enumerate(scores)]
        if not _legacy:
            ranked.sort(key=lambda d: d["score"], reverse=True)
            if top_k is not None:
                ranked = ranked[:top_k]
        return ranked
