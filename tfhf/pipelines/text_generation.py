"""``text-generation``: continue prompts, or answer chats, with a causal LM (tfhf's XLA
``generate``).

Inputs, as in transformers: a string, a list of strings, a chat (a list of ``{"role",
"content"}`` messages, rendered with the tokenizer's chat template) or a list of chats.
Per input: ``[{"generated_text": ...}]``, one dict per returned sequence. With
``return_full_text=True`` (the default) a string prompt is followed by its continuation and a
chat gets the reply appended as ``{"role": "assistant", "content": ...}`` (or, when the chat
ends with an assistant message, that message is continued); ``return_full_text=False`` gives
the new text only; ``return_tensors=True`` gives ``{"generated_token_ids": [...]}``.

Generation options (``max_new_tokens``, ``do_sample``, ``temperature``, ``top_p``,
``num_return_sequences``...) go to ``model.generate``. As in transformers, options that neither
the call nor the model's generation config set default to ``max_new_tokens=256``,
``do_sample=True``, ``temperature=0.7`` and the tokenizer's pad token. ``stop_sequence`` stops
at a string (kept in the output); ``prefix`` is prepended to string prompts;
``handle_long_generation="hole"`` cuts the prompt from the left to leave room for the new
tokens. Batches (``batch_size``) are left-padded.
"""

from __future__ import annotations

import enum

import numpy as np

from ..errors import InvalidInputError
from .base import Pipeline

_SAMPLING_PARAMS = {"temperature", "top_k", "top_p", "min_p", "top_h", "typical_p",
                    "epsilon_cutoff", "eta_cutoff"}


class ReturnType(enum.Enum):
    TENSORS = 0
    NEW_TEXT = 1
    FULL_TEXT = 2


class Chat:
    """A conversation given as input (so that a list of messages is not taken for a batch)."""

    def __init__(self, messages):
        for message in messages:
            if not _is_message(message):
                raise InvalidInputError("When passing chat dicts as input, each dict must have "
                                        "a 'role' and 'content' key.")
        self.messages = list(messages)

    def __repr__(self):
        return f"Chat({self.messages!r})"


def _is_message(x):
    return isinstance(x, dict) and "role" in x and "content" in x


class TextGenerationPipeline(Pipeline):
    task = "text-generation"
    model_task = "causal_lm"

    # transformers' defaults for options neither the call nor the model's config sets
    default_generation = {"max_new_tokens": 256, "do_sample": True, "temperature": 0.7}

    def __init__(self, model, tokenizer=None, batch_size=None, task="", device=None, **kwargs):
        super().__init__(model, tokenizer=tokenizer, batch_size=batch_size, task=task,
                         device=device, **kwargs)
        if self.tokenizer is None:
            raise InvalidInputError("The text-generation pipeline needs a tokenizer.")
        # decoder-only models generate from left-padded batches
        if getattr(self.hf_tokenizer, "padding_side", "right") == "right":
            self.hf_tokenizer.padding_side = "left"
        self._generate_defaults = dict(self.default_generation)
        if self.hf_tokenizer.pad_token_id is not None:
            self._generate_defaults["pad_token_id"] = self.hf_tokenizer.pad_token_id

    # ------------------------------------------------------------------ options
    def _sanitize_parameters(self, return_full_text=None, return_tensors=None, return_text=None,
                             return_type=None, clean_up_tokenization_spaces=None, prefix=None,
                             handle_long_generation=None, stop_sequence=None, truncation=None,
                             max_length=None, continue_final_message=None,
                             skip_special_tokens=None, tokenizer_encode_kwargs=None, tools=None,
                             documents=None, **generate_kwargs):
        pre, post = {}, {}
        add_special_tokens = False
        if "add_special_tokens" in generate_kwargs:
            add_special_tokens = pre["add_special_tokens"] = \
                generate_kwargs.pop("add_special_tokens")
        if "padding" in generate_kwargs:
            pre["padding"] = generate_kwargs.pop("padding")
        if truncation is not None:
            pre["truncation"] = truncation
        if max_length is not None:
            pre["max_length"] = max_length
            generate_kwargs["max_length"] = max_length
        if tools is not None:
            pre["tools"] = post["tools"] = tools
        if documents is not None:
            pre["documents"] = documents
        if prefix is not None:
            if not isinstance(prefix, str):
                raise InvalidInputError(f"prefix must be a string, got {type(prefix).__name__}.")
            pre["prefix"] = prefix
            if prefix:
                generate_kwargs["prefix_length"] = len(self.hf_tokenizer(
                    prefix, padding=False, add_special_tokens=add_special_tokens)["input_ids"])
        if handle_long_generation is not None:
            if handle_long_generation != "hole":
                raise InvalidInputError(
                    f"{handle_long_generation!r} is not a valid value for "
                    "handle_long_generation: use None or 'hole'.")
            pre["handle_long_generation"] = handle_long_generation
        if continue_final_message is not None:
            pre["continue_final_message"] = post["continue_final_message"] = \
                continue_final_message
        if tokenizer_encode_kwargs is not None:
            pre["tokenizer_encode_kwargs"] = tokenizer_encode_kwargs
        if stop_sequence is not None:
            generate_kwargs["stop_strings"] = ([stop_sequence] if isinstance(stop_sequence, str)
                                               else list(stop_sequence))
            generate_kwargs["tokenizer"] = self.hf_tokenizer
        pre["generate_kwargs"] = dict(generate_kwargs)  # "hole" needs max_new_tokens

        if return_full_text is not None and return_type is None:
            if return_text is not None:
                raise InvalidInputError("`return_text` is mutually exclusive with "
                                        "`return_full_text`.")
            if return_tensors is not None:
                raise InvalidInputError("`return_full_text` is mutually exclusive with "
                                        "`return_tensors`.")
            return_type = ReturnType.FULL_TEXT if return_full_text else ReturnType.NEW_TEXT
        if return_tensors is not None and return_type is None:
            if return_text is not None:
                raise InvalidInputError("`return_text` is mutually exclusive with "
                                        "`return_tensors`.")
            return_type = ReturnType.TENSORS
        if return_type is not None:
            post["return_type"] = return_type
        if clean_up_tokenization_spaces is not None:
            post["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        if skip_special_tokens is not None:
            post["skip_special_tokens"] = skip_special_tokens
        return pre, generate_kwargs, post

    def _generate_kwargs(self, kwargs):
        """The call's generate options on top of the model's config, plus the pipeline's
        defaults for what neither sets (sampling defaults only when sampling)."""
        kwargs = dict(kwargs)
        set_params = {**self._model_generation_params(), **kwargs}
        added = {k: v for k, v in self._generate_defaults.items()
                 if k not in set_params and not (k == "max_new_tokens" and "max_length"
                                                 in set_params)}
        if not {**set_params, **added}.get("do_sample"):
            added = {k: v for k, v in added.items() if k not in _SAMPLING_PARAMS}
        return {**kwargs, **added}

    def _model_generation_params(self):
        from ..generation import model_generation_config

        return dict(model_generation_config(self.model).to_diff_dict())

    # ------------------------------------------------------------------ inputs
    def __call__(self, text_inputs, *args, **kwargs):
        """Complete ``text_inputs`` (see the module docstring)."""
        if isinstance(text_inputs, (list, tuple)) and text_inputs:
            if _is_message(text_inputs[0]):
                text_inputs = Chat(text_inputs)
            elif isinstance(text_inputs[0], (list, tuple)) and all(
                    chat and _is_message(chat[0]) for chat in text_inputs):
                text_inputs = [Chat(chat) for chat in text_inputs]
            elif isinstance(text_inputs, tuple):
                text_inputs = list(text_inputs)
        return super().__call__(text_inputs, *args, **kwargs)

    def preprocess(self, prompt_text, prefix="", handle_long_generation=None,
                   add_special_tokens=None, truncation=None, padding=None, max_length=None,
                   continue_final_message=None, tokenizer_encode_kwargs=None, tools=None,
                   documents=None, generate_kwargs=None):
        tok_kwargs = {k: v for k, v in (("add_special_tokens", add_special_tokens),
                                        ("truncation", truncation), ("padding", padding),
                                        ("max_length", max_length)) if v is not None}
        tok_kwargs.update(tokenizer_encode_kwargs or {})
        if isinstance(prompt_text, Chat):
            tok_kwargs.pop("add_special_tokens", None)
            if continue_final_message is None:
                continue_final_message = prompt_text.messages[-1]["role"] == "assistant"
            enc = self.tokenizer.apply_chat_template(
                prompt_text.messages, add_generation_prompt=not continue_final_message,
                continue_final_message=continue_final_message, return_dict=True,
                return_tensors="np", tools=tools, documents=documents, **tok_kwargs)
        elif isinstance(prompt_text, str):
            enc = self.tokenize(prefix + prompt_text, **tok_kwargs)
        else:
            raise InvalidInputError(
                "text-generation takes a string, a chat (a list of {'role', 'content'} dicts), "
                f"or a list of those; got {type(prompt_text).__name__}.")
        features = {k: np.asarray(v) for k, v in dict(enc).items()}
        if handle_long_generation == "hole":
            features = self._hole(features, generate_kwargs or {})
        features["prompt_text"] = prompt_text
        return features

    def _hole(self, features, generate_kwargs):
        cur = features["input_ids"].shape[-1]
        params = {**self._model_generation_params(), **self._generate_kwargs(generate_kwargs)}
        new = params.get("max_new_tokens")
        if new is None:
            new = params.get("max_length", 0) - cur
            if new < 0:
                raise InvalidInputError("We cannot infer how many new tokens are expected.")
        limit = self.hf_tokenizer.model_max_length
        if cur + new > limit:
            keep = limit - new
            if keep <= 0:
                raise InvalidInputError(
                    "We cannot use `hole` to handle this generation: the number of desired "
                    "tokens exceeds the model's max length.")
            features = {k: (v[:, -keep:] if k in ("input_ids", "attention_mask") else v)
                        for k, v in features.items()}
        return features

    # ------------------------------------------------------------------ model
    def _forward(self, model_inputs, **generate_kwargs):
        input_ids = np.asarray(model_inputs["input_ids"])
        mask = model_inputs.get("attention_mask")
        if input_ids.shape[1] == 0:  # an empty prompt: start from BOS
            input_ids, mask, in_b = None, None, 1
        else:
            in_b = input_ids.shape[0]
        prefix_length = generate_kwargs.pop("prefix_length", 0)
        kwargs = self._generate_kwargs(generate_kwargs)
        if prefix_length:  # a total length includes the prefix
            for length, new in (("max_length", "max_new_tokens"),
                                ("min_length", "min_new_tokens")):
                params = {**self._model_generation_params(), **kwargs}
                if length in params and new not in params:
                    kwargs[length] = params[length] + prefix_length
        out = self.model.generate(input_ids, attention_mask=mask, **kwargs)
        seqs = (out.sequences if hasattr(out, "sequences") else out).numpy()
        seqs = seqs.reshape(in_b, seqs.shape[0] // in_b, *seqs.shape[1:])
        return {"generated_sequence": seqs}

    # ------------------------------------------------------------------ outputs
    def postprocess(self, model_outputs, return_type=ReturnType.FULL_TEXT,
                    clean_up_tokenization_spaces=None, continue_final_message=None,
                    skip_special_tokens=None, tools=None):
        sequences = model_outputs["generated_sequence"][0].tolist()
        input_ids = model_outputs.get("input_ids")
        prompt_text = model_outputs["prompt_text"]
        prompt_len = 0 if input_ids is None else np.asarray(input_ids).shape[-1]
        skip = True if skip_special_tokens is None else skip_special_tokens
        records = []
        for sequence in sequences:
            if return_type == ReturnType.TENSORS:
                records.append({"generated_token_ids": sequence})
                continue
            text = self.hf_tokenizer.decode(
                sequence[prompt_len:], skip_special_tokens=skip,
                clean_up_tokenization_spaces=clean_up_tokenization_spaces)
            if return_type == ReturnType.FULL_TEXT:
                if isinstance(prompt_text, str):
                    text = prompt_text + text
                elif isinstance(prompt_text, Chat):
                    messages = prompt_text.messages
                    cont = continue_final_message
                    if cont is None:
                        cont = messages[-1]["role"] == "assistant"
                    if cont:
                        text = list(messages[:-1]) + [{
                            "role": messages[-1]["role"],
                            "content": messages[-1]["content"] + text}]
                    else:
                        text = list(messages) + [{"role": "assistant", "content": text}]
            records.append({"generated_text": text})
        return records
