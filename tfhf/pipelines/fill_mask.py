"""``fill-mask``: the ``top_k`` (default 5) most likely tokens for the mask token.

Per input: ``[{"score", "token", "token_str", "sequence"}]`` sorted by score. With several
mask tokens in one input, one such list per mask (and special tokens stay in ``sequence``).
``targets`` restricts the candidates to given words (a word that is not one token is replaced,
with a warning, by its first token). A list of exactly one input gives that input's result,
as in transformers. ``tokenizer_kwargs`` go to the tokenizer (e.g. ``{"truncation": True}``).
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import InvalidInputError
from .base import Pipeline, softmax

logger = logging.getLogger("tfhf")


class FillMaskPipeline(Pipeline):
    task = "fill-mask"
    model_task = "masked_lm"

    def _sanitize_parameters(self, top_k=None, targets=None, tokenizer_kwargs=None):
        if self.hf_tokenizer.mask_token_id is None:
            raise InvalidInputError("fill-mask needs a tokenizer with a mask token; this one "
                                    "defines none.")
        pre = {} if tokenizer_kwargs is None else {"tokenizer_kwargs": tokenizer_kwargs}
        post = {}
        if targets is not None:
            post["target_ids"] = self.get_target_ids(targets)
        if top_k is not None:
            if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
                raise InvalidInputError(f"top_k must be a positive integer, got {top_k!r}.")
            post["top_k"] = int(top_k)
        return pre, {}, post

    def __call__(self, inputs, *args, **kwargs):
        outputs = super().__call__(inputs, *args, **kwargs)
        if isinstance(inputs, list) and len(inputs) == 1:
            return outputs[0]
        return outputs

    def get_target_ids(self, targets):
        tok = self.hf_tokenizer
        if isinstance(targets, str):
            targets = [targets]
        try:
            vocab = tok.get_vocab()
        except Exception:  # noqa: BLE001
            vocab = {}
        ids = []
        for target in targets:
            id_ = vocab.get(target)
            if id_ is None:
                pieces = tok(target, add_special_tokens=False, return_attention_mask=False,
                             return_token_type_ids=False, max_length=1,
                             truncation=True)["input_ids"]
                if not pieces:
                    logger.warning("The target `%s` does not exist in the model vocabulary and "
                                   "tokenizes to nothing; ignoring it.", target)
                    continue
                id_ = pieces[0]
                logger.warning("The target `%s` does not exist in the model vocabulary. "
                               "Replacing it with `%s`.", target,
                               tok.convert_ids_to_tokens(id_))
            ids.append(id_)
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise InvalidInputError("At least one target must be provided when targets is "
                                    "passed.")
        return np.array(ids)

    def preprocess(self, item, tokenizer_kwargs=None):
        if not isinstance(item, str):
            raise InvalidInputError(f"fill-mask takes strings (or lists of them); got "
                                    f"{type(item).__name__}.")
        features = dict(self.tokenize(item, **(tokenizer_kwargs or {})))
        if not (features["input_ids"] == self.hf_tokenizer.mask_token_id).any():
            raise InvalidInputError(f"No mask_token ({self.hf_tokenizer.mask_token}) found in "
                                    f"the input {item!r}.")
        return features

    def _forward(self, model_inputs):
        return {"logits": self.run_model(model_inputs)["logits"].numpy()}

    def postprocess(self, outputs, top_k=5, target_ids=None):
        tok = self.hf_tokenizer
        if target_ids is not None and target_ids.shape[0] < top_k:
            top_k = target_ids.shape[0]
        input_ids = outputs["input_ids"][0]
        masked = np.nonzero(input_ids == tok.mask_token_id)[0]
        probs = softmax(outputs["logits"][0, masked, :].astype(np.float32))
        if target_ids is not None:
            probs = probs[..., target_ids]
        order = np.argsort(-probs, axis=-1, kind="stable")[:, :top_k]
        single_mask = len(masked) == 1
        result = []
        for i, row in enumerate(order):
            proposals = []
            for p in row:
                score = probs[i, p].item()
                token = int(target_ids[p]) if target_ids is not None else int(p)
                tokens = input_ids.copy()
                tokens[masked[i]] = token
                tokens = tokens[tokens != tok.pad_token_id]
                # special tokens are dropped for readability, except with several masks
                sequence = tok.decode(tokens, skip_special_tokens=single_mask)
                proposals.append({"score": score, "token": token,
                                  "token_str": tok.decode([token]), "sequence": sequence})
            result.append(proposals)
        return result[0] if single_mask else result
