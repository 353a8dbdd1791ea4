"""``document-question-answering`` with Donut (a VisionEncoderDecoder with a DonutSwin encoder),
as transformers' pipeline runs it: the question goes into the task prompt
``<s_docvqa><s_question>{question}</s_question><s_answer>`` (tokenized without special
tokens), ``generate`` continues it from the image, and the text between ``<s_answer>`` and
``</s_answer>`` is the answer.

Calls: ``pipe(image, question)``, ``pipe(image=..., question=...)``, ``pipe({"image": ...,
"question": ...})`` or a list of such dicts. The image is a path, bytes, a URL, a PIL image or
an array (:func:`tfhf.images.load_image`). Result: ``[{"answer": str or None}]`` per input (a
list of one, as transformers' ``top_k=1``). Generation options go in ``generate_kwargs={...}``
or as keywords (``max_new_tokens``, ``num_beams``...); ``max_new_tokens`` defaults to 256 as in
transformers. Extractive (LayoutLM-style) models with OCR are not supported.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import InvalidInputError, UnsupportedModelError
from .base import with_generation_defaults
from .vision_base import ImagePipeline

PROMPT = "<s_docvqa><s_question>{question}</s_question><s_answer>"


class DocumentQuestionAnsweringPipeline(ImagePipeline):
    task = "document-question-answering"
    model_task = "vision2seq"
    model_input_keys = ("pixel_values", "decoder_input_ids")

    def __init__(self, model, *args, **kwargs):
        encoder = getattr(getattr(getattr(model, "config", None), "encoder", None), "model_type",
                          None)
        if encoder != "donut-swin":
            raise UnsupportedModelError(
                "tfhf's document-question-answering pipeline runs Donut (a VisionEncoderDecoder "
                f"with a DonutSwin encoder); this model's encoder is {encoder!r}.")
        super().__init__(model, *args, **kwargs)

    def __call__(self, image=None, question=None, word_boxes=None, **kwargs):
        if word_boxes is not None:
            raise InvalidInputError("word_boxes (OCR words) are for extractive models; Donut "
                                    "reads the image itself.")
        if "images" in kwargs:
            image = kwargs.pop("images")
        if question is not None:
            inputs = {"image": image, "question": question}
        elif isinstance(image, (dict, list)):
            inputs = image
        else:
            raise InvalidInputError("document-question-answering needs a question: pipe(image, "
                                    "question) or pipe({'image': ..., 'question': ...}).")
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(self, generate_kwargs=None, top_k=None, timeout=None, **kwargs):
        gen = {**(generate_kwargs or {}), **kwargs}  # generate names any option it lacks
        if top_k not in (None, 1):
            raise InvalidInputError("Donut gives one answer: top_k must be 1.")
        # one forward option per generate option: the call's merge into the pipeline's
        return {}, gen, {}

    def preprocess(self, item):
        if not isinstance(item, dict) or "question" not in item or "image" not in item:
            raise InvalidInputError("Each input must be a dict with 'image' and 'question' keys, "
                                    f"got {type(item).__name__}.")
        if not isinstance(item["question"], str):
            raise InvalidInputError(f"question must be a string, got "
                                    f"{type(item['question']).__name__}.")
        features = self.pixels(self.load(item["image"]))
        prompt = PROMPT.format(question=item["question"])
        ids = self.tokenize(prompt, add_special_tokens=False)["input_ids"]
        return {"pixel_values": features["pixel_values"],
                "decoder_input_ids": np.asarray(ids, np.int64)}

    def _forward(self, model_inputs, **generate_kwargs):
        gen = with_generation_defaults(self.model, generate_kwargs, {"max_new_tokens": 256})
        sequences = self.model.generate(model_inputs["pixel_values"],
                                        decoder_input_ids=model_inputs["decoder_input_ids"],
                                        **gen)
        return {"sequences": np.asarray(sequences)}

    def postprocess(self, outputs):
        tok = self.hf_tokenizer
        sequence = tok.batch_decode(outputs["sequences"].tolist())[0]
        sequence = sequence.replace(tok.eos_token, "").replace(tok.pad_token, "")
        sequence = re.sub(r"<.*?>", "", sequence, count=1).strip()  # the task start token
        answer = re.search(r"<s_answer>(.*)</s_answer>", sequence)
        return [{"answer": None if answer is None else answer.group(1).strip()}]
