"""The ``translator`` tool: NLLB-200 (default facebook/nllb-200-distilled-600M) with languages
given in plain English.

``translator(text, src_lang="English", tgt_lang="French")``: the names become NLLB codes
(:func:`tfhf.agents.languages.language_code`; codes such as ``"fra_Latn"`` work too), the
tokenizer puts the source code in front of the text and ``generate`` is forced to start with the
target code (``forced_bos_token_id``), as transformers' original tool and translation pipeline
did. Unknown names, and codes the checkpoint's tokenizer lacks, raise InvalidInputError.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from .agent_types import AgentText
from .languages import LANGUAGE_CODES, language_code
from .textgen import generate_ids, generation_kwargs_of, input_limit
from .tools import PipelineTool, RemoteTool, text_arg

__all__ = ["TranslationTool", "RemoteTranslationTool", "LANGUAGE_CODES"]


class TranslationTool(PipelineTool):
    name = "translator"
    description = ("This is a tool that translates text from a language to another. It takes "
                   "three inputs: `text`, the text to translate, `src_lang`, the language of "
                   "the text, and `tgt_lang`, the language to translate into. Both languages "
                   "are written in plain English, such as 'Romanian' or 'Albanian'. It returns "
                   "the text translated into `tgt_lang`.")
    example = 'dutch = translator(text=summary, src_lang="English", tgt_lang="Dutch")'
    inputs = {"text": {"type": "text", "description": "the text to translate"},
              "src_lang": {"type": "text",
                           "description": "the language of the text, in plain English"},
              "tgt_lang": {"type": "text",
                           "description": "the language to translate into, in plain English"}}
    output_type = "text"
    model_class = "TFAutoModelForSeq2SeqLM"
    default_checkpoint = "facebook/nllb-200-distilled-600M"
    lang_to_code = LANGUAGE_CODES

    def __init__(self, model=None, *args, max_new_tokens=None, generation_kwargs=None,
                 **kwargs):
        super().__init__(model, *args, **kwargs)
        self.max_new_tokens = None if max_new_tokens is None else int(max_new_tokens)
        self.generation_kwargs = dict(generation_kwargs or {})

    def _tokenizer(self):
        from ..pipelines.base import unwrap_tokenizer

        tok = unwrap_tokenizer(self.pre_processor)
        if not getattr(tok, "_build_translation_inputs", None):
            raise InvalidInputError(
                f"The translator needs a tokenizer with language codes (NLLB, M2M100); "
                f"{type(tok).__name__} has none. Use an NLLB checkpoint such as "
                "facebook/nllb-200-distilled-600M.")
        return tok

    def encode(self, text, src_lang, tgt_lang):
        from ..pipelines.text2text_generation import check_language_code

        text = text_arg(text, "text")
        names = None if self.lang_to_code is LANGUAGE_CODES else self.lang_to_code
        src = language_code(src_lang, "src_lang", names)
        tgt = language_code(tgt_lang, "tgt_lang", names)
        tok = self._tokenizer()
        check_language_code(tok, src, "src_lang")
        check_language_code(tok, tgt, "tgt_lang")
        limit = input_limit(self.model, tok)
        extra = {"truncation": True, "max_length": limit} if limit else {}
        enc = dict(tok._build_translation_inputs(text, return_tensors="np", src_lang=src,
                                                 tgt_lang=tgt, **extra))
        return enc

    def forward(self, inputs):
        kwargs = generation_kwargs_of(self)
        kwargs.setdefault("forced_bos_token_id", int(inputs["forced_bos_token_id"]))
        return generate_ids(self, np.asarray(inputs["input_ids"]), inputs.get("attention_mask"),
                            kwargs)

    def decode(self, outputs):
        return AgentText(self._tokenizer().decode([int(i) for i in outputs[0]],
                                                  skip_special_tokens=True).strip())


class RemoteTranslationTool(RemoteTool):
    serves = TranslationTool
    default_checkpoint = TranslationTool.default_checkpoint

    def prepare_inputs(self, text, src_lang, tgt_lang):
        return {"inputs": text_arg(text, "text"),
                "parameters": {"src_lang": language_code(src_lang, "src_lang"),
                               "tgt_lang": language_code(tgt_lang, "tgt_lang")}}

    def extract_outputs(self, outputs):
        if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict) and \
                isinstance(outputs[0].get("translation_text"), str):
            return outputs[0]["translation_text"]
        raise self.unexpected_answer("translation", outputs, "[{'translation_text': ...}]")
