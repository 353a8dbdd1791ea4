"""``zero-shot-classification``: classify texts into labels chosen at call time, with any NLI
sequence classifier (facebook/bart-large-mnli, roberta-large-mnli, cross-encoder/nli-*...).

transformers' algorithm: every candidate label becomes a hypothesis
(``hypothesis_template.format(label)``, default ``"This example is {}."``) paired with the text
as premise (tokenized with ``truncation="only_first"`` so the hypothesis is never cut); the
logit of the *entailment* class (the ``config.label2id`` entry whose name starts with
"entail") scores the label. Scores are a softmax of the entailment logits over the labels, or,
with ``multi_label=True`` (or a single label), for each label on its own a softmax of
entailment against contradiction. Per text: ``{"sequence", "labels", "scores"}`` sorted by
score. ``candidate_labels`` is a list of strings or one comma-separated string, and may be given
as the second positional argument. Each (text, label) pair is one model input, so
``batch_size`` batches pairs.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import InvalidInputError
from .base import Pipeline

logger = logging.getLogger("tfhf")

DEFAULT_TEMPLATE = "This example is {}."


def parse_labels(labels):
    """``candidate_labels`` as a list of label strings (a comma-separated string is split)."""
    if isinstance(labels, str):
        labels = [label.strip() for label in labels.split(",") if label.strip()]
    if isinstance(labels, tuple):
        labels = list(labels)
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise InvalidInputError(
            "candidate_labels must be a list of strings or one comma-separated string, got "
            f"{labels!r:.200}.")
    return labels


def check_template(template, labels):
    if not isinstance(template, str):
        raise InvalidInputError(f"hypothesis_template must be a string, got "
                                f"{type(template).__name__}.")
    try:
        formatted = template.format(labels[0])
    except (IndexError, KeyError, ValueError) as e:
        raise InvalidInputError(
            f"hypothesis_template {template!r} cannot be formatted with a label ({e}); write "
            "one {} where the label goes, e.g. 'This example is {}.'") from None
    if formatted == template:
        raise InvalidInputError(
            f"hypothesis_template {template!r} has no place for the label: include {{}} where "
            "the label goes, e.g. 'This example is {}.'")


def nli_entailment_id(config):
    """The entailment class of an NLI config (from ``label2id``, as transformers), else -1."""
    for label, index in (getattr(config, "label2id", None) or {}).items():
        if str(label).lower().startswith("entail"):
            return int(index)
    return -1


class ZeroShotClassificationPipeline(Pipeline):
    task = "zero-shot-classification"
    model_task = "sequence_classification"
    chunked = True  # one feature per candidate label

    def __init__(self, model, tokenizer=None, batch_size=None, task="", device=None, **kwargs):
        super().__init__(model, tokenizer=tokenizer, batch_size=batch_size, task=task,
                         device=device, **kwargs)
        if self.entailment_id == -1:
            labels = sorted(map(str, (getattr(model.config, "label2id", None) or {})))
            logger.warning(
                "Failed to determine the 'entailment' label id from the label2id mapping of "
                "the model config (labels: %s); using the last class. Give the config a "
                "label2id with an 'entailment' label to get correct scores.", labels)

    @property
    def entailment_id(self):
        return nli_entailment_id(self.model.config)

    def _sanitize_parameters(self, candidate_labels=None, hypothesis_template=None,
                             multi_label=None):
        pre, post = {}, {}
        if candidate_labels is not None:
            pre["candidate_labels"] = parse_labels(candidate_labels)
        if hypothesis_template is not None:
            pre["hypothesis_template"] = hypothesis_template
        if multi_label is not None:
            post["multi_label"] = bool(multi_label)
        return pre, {}, post

    def __call__(self, sequences, *args, **kwargs):
        """Classify ``sequences`` (a string or a list of strings) into ``candidate_labels``."""
        if len(args) == 1 and "candidate_labels" not in kwargs:
            kwargs["candidate_labels"] = args[0]
        elif args:
            raise InvalidInputError(f"Unable to understand extra arguments {args!r:.200}: pass "
                                    "candidate_labels=[...] (and hypothesis_template=..., "
                                    "multi_label=...) as keywords.")
        if isinstance(sequences, tuple):
            sequences = list(sequences)
        return super().__call__(sequences, **kwargs)

    def preprocess(self, sequence, candidate_labels=None, hypothesis_template=DEFAULT_TEMPLATE):
        if not isinstance(sequence, str):
            raise InvalidInputError("zero-shot-classification takes a string or a list of "
                                    f"strings; got {type(sequence).__name__}.")
        if not candidate_labels or not sequence:
            raise InvalidInputError(
                "zero-shot-classification needs at least one candidate label and a non-empty "
                "text: pass candidate_labels=['label 1', 'label 2', ...].")
        check_template(hypothesis_template, candidate_labels)
        tokenizer = self.hf_tokenizer
        if tokenizer.pad_token is None:  # as transformers: pad with the eos token
            tokenizer.pad_token = tokenizer.eos_token
        features = []
        for label in candidate_labels:
            pair = [[sequence, hypothesis_template.format(label)]]
            try:
                enc = self.tokenize(pair, padding=True, truncation="only_first")
            except Exception as e:  # noqa: BLE001 - the tokenizer's "too short to truncate"
                if "too short" not in str(e):
                    raise
                enc = self.tokenize(pair, padding=True, truncation=False)
            features.append({**{k: np.asarray(v) for k, v in dict(enc).items()},
                             "candidate_label": label, "sequence": sequence})
        return features

    def _forward(self, model_inputs):
        return {"logits": self.run_model(model_inputs)["logits"].numpy()}

    def postprocess(self, outputs, multi_label=False):
        labels = [o["candidate_label"] for o in outputs]
        logits = np.concatenate([o["logits"] for o in outputs]).astype(np.float32)
        entail = self.entailment_id
        if multi_label or len(labels) == 1:
            contradiction = -1 if entail == 0 else 0
            pair = logits[:, [contradiction, entail]]
            scores = np.exp(pair) / np.exp(pair).sum(-1, keepdims=True)
            scores = scores[:, 1]
        else:
            column = logits[:, entail]
            scores = np.exp(column) / np.exp(column).sum()
        order = list(reversed(scores.argsort()))
        return {"sequence": outputs[0]["sequence"], "labels": [labels[i] for i in order],
                "scores": scores[order].tolist()}
