"""``token-classification`` / ``ner``: entities found in each input, as transformers returns them.

``aggregation_strategy``:

* ``"none"`` (default): one ``{"entity", "score", "index", "word", "start", "end"}`` per token
  whose best label is not ignored (``ignore_labels``, default ``["O"]``);
* ``"simple"``: adjacent tokens with the same tag (B-/I- prefixes understood, a B- starts a new
  entity) become one ``{"entity_group", "score" (mean), "word", "start", "end"}``;
* ``"first"`` / ``"average"`` / ``"max"``: first make every word agree on one label (from its
  first token, its averaged scores, or its most confident token), then group as "simple".

Character offsets come from the fast tokenizer's offset mapping; a token is a sub-word when its
text is shorter than the token (WordPiece ``##``) or, for tokenizers without a
continuing-subword prefix, when no space precedes it. ``stride=k`` runs texts longer than
``model_max_length`` as overlapping windows and keeps the longest (then most confident) of
overlapping entities. ``is_split_into_words=True`` takes lists of words (joined by
``delimiter``, default a space, for the offsets). This is transformers'
TokenClassificationPipeline (gather_pre_entities / aggregate / group_entities), ported.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InvalidInputError
from .base import Pipeline, softmax

STRATEGIES = ("none", "simple", "first", "average", "max")
_WORD_STRATEGIES = ("first", "average", "max")


def _strategy(value):
    name = str(getattr(value, "value", value)).lower()
    if name not in STRATEGIES:
        raise InvalidInputError(f"aggregation_strategy={value!r}; use one of "
                                f"{', '.join(STRATEGIES)}.")
    return name


class _WithOffsets(tuple):
    """An input sentence paired with the offset mapping the caller gave for it."""


class TokenClassificationPipeline(Pipeline):
    task = "token-classification"
    model_task = "token_classification"
    chunked = True

    # ------------------------------------------------------------------ options
    def _sanitize_parameters(self, ignore_labels=None, aggregation_strategy=None,
                             offset_mapping=None, is_split_into_words=False, stride=None,
                             delimiter=None):
        pre = {"is_split_into_words": is_split_into_words}
        if is_split_into_words:
            pre["delimiter"] = " " if delimiter is None else delimiter
        post = {}
        strategy = None
        if aggregation_strategy is not None:
            strategy = _strategy(aggregation_strategy)
            if strategy in _WORD_STRATEGIES and not self.hf_tokenizer.is_fast:
                raise InvalidInputError(
                    "Slow tokenizers cannot handle subwords. Please set the "
                    '`aggregation_strategy` option to "simple" or use a fast tokenizer.')
            post["aggregation_strategy"] = strategy
        if ignore_labels is not None:
            post["ignore_labels"] = list(ignore_labels)
        if stride is not None:
            if stride >= self.hf_tokenizer.model_max_length:
                raise InvalidInputError(
                    f"stride={stride} must be less than the tokenizer's model_max_length "
                    f"({self.hf_tokenizer.model_max_length}), and lower still to leave room for "
                    "special tokens.")
            if strategy == "none":
                raise InvalidInputError(
                    'stride processes long texts in windows, which needs aggregation_strategy '
                    '"simple", "first", "average" or "max", not "none".')
            if not self.hf_tokenizer.is_fast:
                raise InvalidInputError("stride needs a fast tokenizer.")
            pre["tokenizer_params"] = {"return_overflowing_tokens": True, "padding": True,
                                       "stride": stride}
        if offset_mapping is not None:
            pre["offset_mapping"] = offset_mapping
        return pre, {}, post

    # ------------------------------------------------------------------ calling
    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(inputs, list) and not inputs:
            raise InvalidInputError("At least one input is required.")
        if not isinstance(inputs, (str, list)) and not hasattr(inputs, "__next__"):
            raise InvalidInputError(f"token-classification takes a string or a list of strings "
                                    f"(or of word lists), got {type(inputs).__name__}.")
        if kwargs.get("is_split_into_words") and isinstance(inputs, list) and \
                not all(isinstance(x, list) for x in inputs):
            inputs = [inputs]  # one pre-split sentence; transformers returns a list for it
        offsets = kwargs.pop("offset_mapping", None)
        if offsets:
            if isinstance(offsets, list) and isinstance(offsets[0], tuple):
                offsets = [offsets]
            many = isinstance(inputs, list)
            if len(offsets) != (len(inputs) if many else 1):
                raise InvalidInputError("offset_mapping must hold one list of (start, end) "
                                        "pairs per input.")
            inputs = ([_WithOffsets((s, o)) for s, o in zip(inputs, offsets)] if many
                      else _WithOffsets((inputs, offsets[0])))
        return super().__call__(inputs, *args, **kwargs)

    # ------------------------------------------------------------------ steps
    def preprocess(self, sentence, is_split_into_words=False, delimiter=None,
                   tokenizer_params=None, offset_mapping=None):
        tokenizer_params = dict(tokenizer_params or {})
        tok = self.hf_tokenizer
        if isinstance(sentence, _WithOffsets):
            sentence, offset_mapping = sentence
        word_to_chars = None
        if is_split_into_words:
            if not isinstance(sentence, list):
                raise InvalidInputError("With is_split_into_words=True each input must be a list "
                                        "of words.")
            if not tok.is_fast:
                raise InvalidInputError("is_split_into_words=True needs a fast tokenizer.")
            words = sentence
            sentence = delimiter.join(words)
            word_to_chars, start = [], 0
            for word in words:
                word_to_chars.append((start, start + len(word)))
                start += len(word) + len(delimiter)
            text = words
            tokenizer_params["is_split_into_words"] = True
        else:
            if not isinstance(sentence, str):
                raise InvalidInputError("With is_split_into_words=False each input must be a "
                                        f"string, got {type(sentence).__name__}.")
            text = sentence
        truncation = bool(tok.model_max_length and tok.model_max_length > 0)
        enc = self.tokenize(text, truncation=truncation, return_special_tokens_mask=True,
                            return_offsets_mapping=tok.is_fast, **tokenizer_params)
        arrays = {k: np.asarray(v) for k, v in enc.items() if k != "overflow_to_sample_mapping"}
        features = []
        n = len(arrays["input_ids"])
        for i in range(n):
            feature = {k: v[i:i + 1] for k, v in arrays.items()}
            if offset_mapping is not None:
                feature["offset_mapping"] = np.asarray(offset_mapping, dtype=np.int64)[None]
            feature["sentence"] = sentence if i == 0 else None
            if word_to_chars is not None:
                feature["word_ids"] = enc.word_ids(i)
                feature["word_to_chars_map"] = word_to_chars
            features.append(feature)
        return features

    def _forward(self, model_inputs):
        return {"logits": self.run_model(model_inputs)["logits"].numpy()}

    def postprocess(self, all_outputs, aggregation_strategy="none", ignore_labels=None):
        ignore_labels = ["O"] if ignore_labels is None else ignore_labels
        sentence = all_outputs[0]["sentence"]
        word_to_chars = all_outputs[0].get("word_to_chars_map")
        entities = []
        for out in all_outputs:
            scores = softmax(out["logits"][0].astype(np.float32))
            offsets = out.get("offset_mapping")
            pre = self.gather_pre_entities(
                sentence, out["input_ids"][0], scores,
                None if offsets is None else offsets[0], out["special_tokens_mask"][0],
                aggregation_strategy, out.get("word_ids"), word_to_chars)
            entities += [e for e in self.aggregate(pre, aggregation_strategy)
                         if e.get("entity") not in ignore_labels
                         and e.get("entity_group") not in ignore_labels]
        if len(all_outputs) > 1:
            entities = self.aggregate_overlapping_entities(entities)
        return entities

    # ------------------------------------------------------------------ transformers' logic
    def gather_pre_entities(self, sentence, input_ids, scores, offset_mapping,
                            special_tokens_mask, aggregation_strategy, word_ids=None,
                            word_to_chars_map=None):
        """One dict per non-special token: word, scores, start, end, index, is_subword."""
        tok = self.hf_tokenizer
        backend = getattr(tok, "_tokenizer", None)
        word_aware = bool(backend is not None and
                          getattr(backend.model, "continuing_subword_prefix", None))
        pre_entities = []
        for idx, token_scores in enumerate(scores):
            if special_tokens_mask[idx]:
                continue
            word = tok.convert_ids_to_tokens(int(input_ids[idx]))
            if offset_mapping is not None:
                start, end = (int(x) for x in offset_mapping[idx])
                if word_ids is not None and word_to_chars_map is not None \
                        and word_ids[idx] is not None:
                    shift = word_to_chars_map[word_ids[idx]][0]
                    start, end = start + shift, end + shift
                word_ref = sentence[start:end]
                if word_aware:
                    is_subword = len(word) != len(word_ref)
                else:
                    if aggregation_strategy in _WORD_STRATEGIES:
                        warnings.warn("Tokenizer does not support real words, using fallback "
                                      "heuristic", UserWarning)
                    is_subword = start > 0 and " " not in sentence[start - 1:start + 1]
                if int(input_ids[idx]) == tok.unk_token_id:
                    word, is_subword = word_ref, False
            else:
                start = end = None
                is_subword = False
            pre_entities.append({"word": word, "scores": token_scores, "start": start,
                                 "end": end, "index": idx, "is_subword": is_subword})
        return pre_entities

    def _label(self, index):
        return self.model.config.id2label[int(index)]

    def aggregate(self, pre_entities, aggregation_strategy):
        if aggregation_strategy in ("none", "simple"):
            entities = []
            for pre in pre_entities:
                best = pre["scores"].argmax()
                entities.append({"entity": self._label(best), "score": pre["scores"][best],
                                 "index": pre["index"], "word": pre["word"],
                                 "start": pre["start"], "end": pre["end"]})
        else:
            entities = self.aggregate_words(pre_entities, aggregation_strategy)
        if aggregation_strategy == "none":
            return entities
        return self.group_entities(entities)

    def aggregate_word(self, entities, aggregation_strategy):
        word = self.hf_tokenizer.convert_tokens_to_string([e["word"] for e in entities])
        if aggregation_strategy == "first":
            scores = entities[0]["scores"]
        elif aggregation_strategy == "max":
            scores = max(entities, key=lambda e: e["scores"].max())["scores"]
        elif aggregation_strategy == "average":
            scores = np.nanmean(np.stack([e["scores"] for e in entities]), axis=0)
        else:
            raise InvalidInputError(f"Invalid aggregation_strategy {aggregation_strategy!r}.")
        best = scores.argmax()
        return {"entity": self._label(best), "score": scores[best], "word": word,
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    def aggregate_words(self, entities, aggregation_strategy):
        """Make the tokens of one word agree (micro|soft B-ENT I-NAME -> one word, one label)."""
        words, group = [], None
        for entity in entities:
            if group is None:
                group = [entity]
            elif entity["is_subword"]:
                group.append(entity)
            else:
                words.append(self.aggregate_word(group, aggregation_strategy))
                group = [entity]
        if group is not None:
            words.append(self.aggregate_word(group, aggregation_strategy))
        return words

    def group_sub_entities(self, entities):
        scores = np.nanmean([e["score"] for e in entities])
        return {"entity_group": entities[0]["entity"].split("-", 1)[-1],
                "score": np.mean(scores),
                "word": self.hf_tokenizer.convert_tokens_to_string([e["word"] for e in entities]),
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    @staticmethod
    def get_tag(entity_name):
        if entity_name.startswith("B-"):
            return "B", entity_name[2:]
        if entity_name.startswith("I-"):
            return "I", entity_name[2:]
        return "I", entity_name  # not B-/I- tagged: a continuation

    def group_entities(self, entities):
        """Group adjacent tokens with the same tag; a B- tag starts a new group."""
        groups, current = [], []
        for entity in entities:
            if not current:
                current.append(entity)
                continue
            bi, tag = self.get_tag(entity["entity"])
            _, last_tag = self.get_tag(current[-1]["entity"])
            if tag == last_tag and bi != "B":
                current.append(entity)
            else:
                groups.append(self.group_sub_entities(current))
                current = [entity]
        if current:
            groups.append(self.group_sub_entities(current))
        return groups

    @staticmethod
    def aggregate_overlapping_entities(entities):
        """Of entities that overlap (from overlapping windows) keep the longest, then the most
        confident."""
        if not entities:
            return entities
        entities = sorted(entities, key=lambda e: e["start"])
        kept, previous = [], entities[0]
        for entity in entities:
            if previous["start"] <= entity["start"] < previous["end"]:
                length = entity["end"] - entity["start"]
                previous_length = previous["end"] - previous["start"]
                if length > previous_length or (length == previous_length
                                                 and entity["score"] > previous["score"]):
                    previous = entity
            else:
                kept.append(previous)
                previous = entity
        kept.append(previous)
        return kept


NerPipeline = TokenClassificationPipeline
