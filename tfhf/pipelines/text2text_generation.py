"""``text2text-generation``, ``summarization`` and ``translation``: encoder-decoder models (T5,
BART, M2M100 / NLLB...) with tfhf's ``generate``.

transformers 4.x's pipelines (removed from transformers 5): per input
``[{"generated_text"}]`` / ``[{"summary_text"}]`` / ``[{"translation_text"}]`` (one dict per
returned sequence), and a list of strings whose inputs each give one sequence gets a flat list
of dicts. ``return_tensors=True`` gives ``*_token_ids`` (lists of ints) instead of the text.

* The input is ``prefix + text``: ``prefix`` is the model config's, or the one in
  ``config.task_specific_params[task]`` (T5's ``"summarize: "``, ``"translate English to
  German: "``...), whose other entries are generation options for that task.
* Generation options: the call's keywords, then the task-specific parameters, then the model's
  generation config; what none of them sets defaults to transformers' pipeline defaults
  ``max_new_tokens=256, num_beams=4`` (``max_new_tokens`` only when no ``max_length`` is set).
  ``stop_sequence`` ends generation at the first token of that text (as transformers).
* ``truncation=True`` cuts inputs longer than the tokenizer's ``model_max_length``.
* translation: ``src_lang`` / ``tgt_lang`` (per call or per pipeline), or the ``xx`` / ``yy`` of
  a ``"translation_xx_to_yy"`` task. Tokenizers with language codes (NLLB, M2M100, mBART) put
  the source code into the input and force the target code as the first generated token
  (``forced_bos_token_id``); an unknown code is an error naming close valid ones. With plain
  ``task="translation"`` and a config whose ``task_specific_params`` has
  ``translation_xx_to_yy`` entries, the first of them is used, as transformers did.
"""

from __future__ import annotations

import difflib
import enum
import logging
import warnings

import numpy as np

from ..errors import InvalidInputError
from .base import Pipeline, with_generation_defaults

logger = logging.getLogger("tfhf")


class ReturnType(enum.Enum):
    TENSORS = 0
    TEXT = 1


class Text2TextGenerationPipeline(Pipeline):
    task = "text2text-generation"
    model_task = "seq2seq_lm"
    return_name = "generated"
    # transformers' defaults for options that neither the call nor the model's config sets
    default_generation = {"max_new_tokens": 256, "num_beams": 4}

    def __init__(self, model, tokenizer=None, batch_size=None, task="", device=None, **kwargs):
        self.task = task or self.task
        self._select_task(model)
        config = model.config
        self.prefix = getattr(config, "prefix", None)
        self._task_params = {}
        specific = getattr(config, "task_specific_params", None) or {}
        if self.task in specific:
            params = dict(specific[self.task])
            if "prefix" in params:
                self.prefix = params.pop("prefix")
            self._task_params = params
        super().__init__(model, tokenizer=tokenizer, batch_size=batch_size, task=self.task,
                         device=device, **kwargs)
        if self.tokenizer is None:
            raise InvalidInputError(f"The {self.task} pipeline needs a tokenizer.")

    def _select_task(self, model):
        pass

    # ------------------------------------------------------------------ options
    def _sanitize_parameters(self, return_tensors=None, return_text=None, return_type=None,
                             clean_up_tokenization_spaces=None, truncation=None,
                             stop_sequence=None, **generate_kwargs):
        pre, post = {}, {}
        if truncation is not None:
            pre["truncation"] = truncation
        if return_tensors is not None and return_type is None:
            return_type = ReturnType.TENSORS if return_tensors else ReturnType.TEXT
        if return_type is not None:
            post["return_type"] = return_type
        if clean_up_tokenization_spaces is not None:
            post["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        if stop_sequence is not None:
            ids = self.hf_tokenizer.encode(stop_sequence, add_special_tokens=False)
            if not ids:
                raise InvalidInputError(f"stop_sequence={stop_sequence!r} encodes to no token.")
            if len(ids) > 1:
                warnings.warn("Stopping on a multiple token sequence is not supported: the first "
                              "token of the stop sequence is used.", stacklevel=3)
            generate_kwargs["eos_token_id"] = ids[0]
        return pre, generate_kwargs, post

    def _generate_kwargs(self, call_kwargs):
        """Call options over task-specific ones; the pipeline's defaults for what neither they
        nor the model's generation config set."""
        return with_generation_defaults(self.model, {**self._task_params, **call_kwargs},
                                        self.default_generation)

    # ------------------------------------------------------------------ inputs
    def __call__(self, inputs, *args, **kwargs):
        """Generate from ``inputs`` (a string or a list of strings); see the module docstring."""
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        result = super().__call__(inputs, *args, **kwargs)
        if isinstance(inputs, list) and all(isinstance(x, str) for x in inputs) \
                and all(len(r) == 1 for r in result):
            return [r[0] for r in result]
        return result

    def _text(self, text):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"The {self.task} pipeline takes a string or a list of strings; got "
                f"{type(text).__name__}.")
        return (self.prefix or "") + text

    def preprocess(self, text, truncation=False):
        enc = self.tokenize(self._text(text), padding=False, truncation=truncation)
        return {k: np.asarray(v) for k, v in dict(enc).items() if k != "token_type_ids"}

    # ------------------------------------------------------------------ model
    def check_inputs(self, input_length, min_length, max_length):
        """Warnings about lengths (summarization / translation override)."""

    def _forward(self, model_inputs, **generate_kwargs):
        input_ids = np.asarray(model_inputs["input_ids"])
        kwargs = self._generate_kwargs(generate_kwargs)
        self._check_lengths(input_ids.shape[1], kwargs)
        out = self.model.generate(input_ids, attention_mask=model_inputs.get("attention_mask"),
                                  **kwargs)
        seqs = np.asarray(getattr(out, "sequences", out))
        in_b = input_ids.shape[0]
        return {"output_ids": seqs.reshape(in_b, seqs.shape[0] // in_b, *seqs.shape[1:])}

    def _check_lengths(self, input_length, kwargs):
        from ..generation import model_generation_config

        gen_config = model_generation_config(self.model)
        max_length = kwargs.get("max_length", gen_config.max_length)
        if kwargs.get("max_new_tokens", gen_config.max_new_tokens) is not None:
            max_length = None  # max_new_tokens decides the length: no max_length warnings
        min_length = kwargs.get("min_length", gen_config.min_length)
        self.check_inputs(input_length, min_length, max_length)

    # ------------------------------------------------------------------ outputs
    def postprocess(self, outputs, return_type=ReturnType.TEXT,
                    clean_up_tokenization_spaces=False):
        records = []
        for ids in outputs["output_ids"][0]:
            ids = [int(i) for i in ids]
            if return_type == ReturnType.TENSORS:
                records.append({f"{self.return_name}_token_ids": ids})
            else:
                records.append({f"{self.return_name}_text": self.hf_tokenizer.decode(
                    ids, skip_special_tokens=True,
                    clean_up_tokenization_spaces=clean_up_tokenization_spaces)})
        return records


class SummarizationPipeline(Text2TextGenerationPipeline):
    task = "summarization"
    return_name = "summary"

    def check_inputs(self, input_length, min_length, max_length):
        if max_length is not None and min_length is not None and max_length < min_length:
            logger.warning("Your min_length=%s must be inferior than your max_length=%s.",
                           min_length, max_length)
        if max_length is not None and input_length < max_length:
            logger.warning(
                "Your max_length is set to %s, but your input_length is only %s. Since this is a "
                "summarization task, where outputs shorter than the input are typically wanted, "
                "you might consider decreasing max_length manually, e.g. "
                "summarizer('...', max_length=%s)", max_length, input_length, input_length // 2)


class TranslationPipeline(Text2TextGenerationPipeline):
    task = "translation"
    return_name = "translation"

    def _select_task(self, model):
        if self.task != "translation":
            return
        specific = getattr(model.config, "task_specific_params", None) or {}
        for key in specific:
            if key.startswith("translation"):
                logger.warning('"translation" task was used, instead of "translation_XX_to_YY", '
                               'defaulting to "%s"', key)
                self.task = key
                return

    def _sanitize_parameters(self, src_lang=None, tgt_lang=None, **kwargs):
        pre, fwd, post = super()._sanitize_parameters(**kwargs)
        if src_lang is not None:
            pre["src_lang"] = src_lang
        if tgt_lang is not None:
            pre["tgt_lang"] = tgt_lang
        if src_lang is None and tgt_lang is None:
            parts = (self.task or "").split("_")
            if len(parts) == 4:  # translation, xx, to, yy
                pre["src_lang"], pre["tgt_lang"] = parts[1], parts[3]
        return pre, fwd, post

    def check_inputs(self, input_length, min_length, max_length):
        if max_length is not None and input_length > 0.9 * max_length:
            logger.warning(
                "Your input_length: %s is bigger than 0.9 * max_length: %s. You might consider "
                "increasing your max_length manually, e.g. translator('...', max_length=400)",
                input_length, max_length)

    def preprocess(self, text, truncation=False, src_lang=None, tgt_lang=None):
        tokenizer = self.hf_tokenizer
        if not getattr(tokenizer, "_build_translation_inputs", None):
            return super().preprocess(text, truncation=truncation)
        if src_lang is None or tgt_lang is None:
            raise InvalidInputError(
                "This translation model needs the source and target languages: pass "
                "src_lang=... and tgt_lang=... (language codes such as "
                f"{', '.join(repr(c) for c in language_codes(tokenizer)[:3])}).")
        for name, code in (("src_lang", src_lang), ("tgt_lang", tgt_lang)):
            check_language_code(tokenizer, code, name)
        enc = tokenizer._build_translation_inputs(self._text(text), return_tensors="np",
                                                  truncation=truncation, src_lang=src_lang,
                                                  tgt_lang=tgt_lang)
        enc = dict(enc)
        forced = enc.pop("forced_bos_token_id", None)
        features = {k: np.asarray(v) for k, v in enc.items() if k != "token_type_ids"}
        if forced is not None:
            features["forced_bos_token_id"] = int(forced)
        return features

    def model_inputs_of(self, batch):
        inputs = super().model_inputs_of(batch)
        forced = batch.get("forced_bos_token_id")
        if forced is not None:
            inputs["forced_bos_token_id"] = forced[0]  # one language pair per call
        return inputs

    def _forward(self, model_inputs, **generate_kwargs):
        model_inputs = dict(model_inputs)
        forced = model_inputs.pop("forced_bos_token_id", None)
        if forced is not None:
            generate_kwargs.setdefault("forced_bos_token_id", forced)
        return super()._forward(model_inputs, **generate_kwargs)


# ---------------------------------------------------------------- language codes


def language_codes(tokenizer):
    """The language codes a translation tokenizer knows (NLLB ``"fra_Latn"``, M2M100 ``"fr"``,
    mBART ``"fr_XX"``); empty for tokenizers without them."""
    for attr in ("lang_code_to_token", "lang_code_to_id"):
        mapping = getattr(tokenizer, attr, None)
        if mapping:
            return [str(code) for code in mapping]
    extra = getattr(tokenizer, "extra_special_tokens", None) \
        or getattr(tokenizer, "additional_special_tokens", None) or []
    if isinstance(extra, dict):
        extra = list(extra.values())
    return [str(t) for t in extra]


def check_language_code(tokenizer, code, what="tgt_lang"):
    """Raise InvalidInputError when ``code`` is not a language code of ``tokenizer``."""
    codes = language_codes(tokenizer)
    if codes:
        known = code in codes
    else:  # no list: a code is a token of the vocabulary
        known = isinstance(code, str) and \
            tokenizer.convert_tokens_to_ids(code) != tokenizer.unk_token_id
    if known:
        return
    close = difflib.get_close_matches(str(code), codes, n=5, cutoff=0.5) if codes else []
    hint = (f"close ones: {', '.join(close)}" if close else
            f"e.g. {', '.join(codes[:5])}" if codes else "")
    raise InvalidInputError(
        f"{what}={code!r} is not a language code of this tokenizer ({len(codes)} codes"
        + (f"; {hint}" if hint else "") + "). The codes are listed in the tokenizer's "
        "special tokens (tokenizer.extra_special_tokens / lang_code_to_token); NLLB writes "
        "them as 'eng_Latn', 'fra_Latn', 'deu_Latn'.")
