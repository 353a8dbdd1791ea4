"""The curated text tools (see :mod:`tfhf.agents.registry` for tasks and default checkpoints).

=========================  =======================  ==============================================
task                       tool name                how
=========================  =======================  ==============================================
text-classification        ``text_classifier``      ``tfhf.pipeline("text-classification")``
                                                    (sentiment; default checkpoint
                                                    distilbert-base-uncased-finetuned-sst-2)
zero-shot-classification   ``zero_shot_classifier`` an NLI sequence classifier: the label whose
                                                    hypothesis ("This example is {label}.") gets
                                                    the highest entailment logit (default
                                                    facebook/bart-large-mnli; any NLI checkpoint
                                                    with an "entailment" label)
text-question-answering    ``text_qa``              an encoder-decoder model answering transformers'
                                                    original prompt (default google/flan-t5-base),
                                                    or an instruction prompt on a causal LM
summarization              ``summarizer``           an encoder-decoder summarizer (default
                                                    philschmid/bart-large-cnn-samsum), or a
                                                    summarization prompt on a causal LM
translation                ``translator``           NLLB with language names mapped to codes
                                                    (:mod:`tfhf.agents.translation`)
text-download              ``text_downloader``      HTTP GET with size and time limits, text
                                                    extracted from HTML with html.parser
=========================  =======================  ==============================================

The model-backed tools load from a folder or Hub repo id (``model_repo_id``); ``text_qa`` and
``summarizer`` pick TFAutoModelForSeq2SeqLM or TFAutoModelForCausalLM from the checkpoint's
config, and also load a causal LM from a ``.gguf`` file or an offline asset
(``"asset:smollm2"``).
"""

from __future__ import annotations

import html.parser
import os
import re

from ..errors import ConfigError, InvalidInputError
from .agent_types import AgentText
from .textgen import (generate_ids, generation_kwargs_of, input_limit,
                      truncate_at_stops)
from .tools import PipelineTool, RemoteTool, Tool, resolve_model_spec, text_arg

__all__ = ["TextClassificationTool", "ZeroShotClassificationTool", "TextQuestionAnsweringTool",
           "TextSummarizationTool", "TextDownloadTool", "RemoteTextClassificationTool",
           "RemoteZeroShotClassificationTool", "RemoteTextQuestionAnsweringTool",
           "RemoteTextSummarizationTool", "QA_PROMPT", "entailment_id", "generate_text"]


# ---------------------------------------------------------------- text classification


class TextClassificationTool(PipelineTool):
    name = "text_classifier"
    description = ("This is a tool that classifies the sentiment of an English text. It takes "
                   "the text and returns its label, e.g. 'POSITIVE' or 'NEGATIVE'. Use it for "
                   "positive / negative, sentiment or mood. It takes no labels: for topics, "
                   "categories or a list of labels use zero_shot_classifier.")
    example = "mood = text_classifier(text=review)"
    inputs = {"text": {"type": "text", "description": "the text to classify"}}
    output_type = "text"
    model_class = "TFAutoModelForSequenceClassification"
    default_checkpoint = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    pipeline_task = "text-classification"

    def __call__(self, text):
        result = self.run_pipeline(text_arg(text, "text"), truncation=True)
        if isinstance(result, list):
            result = result[0]
        return AgentText(result["label"])


class RemoteTextClassificationTool(RemoteTool):
    serves = TextClassificationTool
    default_checkpoint = TextClassificationTool.default_checkpoint

    def prepare_inputs(self, text):
        return {"inputs": text_arg(text, "text")}

    def extract_outputs(self, outputs):
        if isinstance(outputs, list) and outputs and all(isinstance(o, dict) for o in outputs):
            best = max(outputs, key=lambda o: o.get("score", 0))
            if "label" in best:
                return best["label"]
        raise self.unexpected_answer("text-classification", outputs, "[{'label', 'score'}, ...]")


# ------------------------------------------------------------ zero-shot classification


def entailment_id(config) -> int:
    """The class index of the "entailment" label of an NLI checkpoint's config."""
    id2label = getattr(config, "id2label", None) or {}
    for i, label in id2label.items():
        if str(label).lower().startswith("entail"):
            return int(i)
    raise ConfigError("zero-shot classification needs an NLI checkpoint whose config has an "
                      f"'entailment' label; this one has {sorted(map(str, id2label.values()))}.")


class ZeroShotClassificationTool(PipelineTool):
    name = "zero_shot_classifier"
    description = ("This is a tool that classifies an English text into one of the given "
                   "labels (any labels: topics, intents...). It takes the text and the list of "
                   "candidate labels, and returns the most likely label. Use it when the task "
                   "names the labels or gives a list variable of labels (pass that variable "
                   "as labels). Not for positive / negative sentiment: use text_classifier.")
    example = 'topic = zero_shot_classifier(text=email, labels=["urgent", "not urgent"])'
    inputs = {"text": {"type": "text", "description": "the text to classify"},
              "labels": {"type": "list", "description": "the candidate labels (list of str)"}}
    output_type = "text"
    model_class = "TFAutoModelForSequenceClassification"
    default_checkpoint = "facebook/bart-large-mnli"
    hypothesis_template = "This example is {}."

    def setup(self):
        super().setup()
        self.entailment_id = entailment_id(self.model.config)

    def encode(self, text, labels):
        text = text_arg(text, "text")
        if isinstance(labels, str):
            labels = [x.strip() for x in labels.split(",") if x.strip()]
        if not isinstance(labels, (list, tuple)) or not labels or \
                not all(isinstance(x, str) for x in labels):
            raise InvalidInputError("'labels' must be a non-empty list of texts.")
        labels = [str(x) for x in labels]
        hypotheses = [self.hypothesis_template.format(x) for x in labels]
        enc = self.pre_processor([text] * len(labels), hypotheses, padding=True, truncation=True,
                                 return_tensors="tf")
        return enc, labels

    def forward(self, inputs):
        enc, labels = inputs
        return super().forward(dict(enc)).logits, labels

    def decode(self, outputs):
        import numpy as np

        logits, labels = outputs
        scores = np.asarray(logits)[:, self.entailment_id]
        return AgentText(labels[int(np.argmax(scores))])


class RemoteZeroShotClassificationTool(RemoteTool):
    serves = ZeroShotClassificationTool
    default_checkpoint = "facebook/bart-large-mnli"

    def prepare_inputs(self, text, labels):
        return {"inputs": text_arg(text, "text"),
                "parameters": {"candidate_labels": list(labels)}}

    def extract_outputs(self, outputs):
        if isinstance(outputs, dict) and outputs.get("labels") and outputs.get("scores"):
            pairs = list(zip(outputs["scores"], outputs["labels"]))
            return max(pairs)[1]
        raise self.unexpected_answer("zero-shot", outputs, "{'labels': [...], 'scores': [...]}")


# --------------------------------------------------------------- LLM-based text tools


def generate_text(model, tokenizer, prompt, *, max_new_tokens=128, stop=None, prefill="",
                  use_chat_template=None, generation_kwargs=None):
    """Greedy continuation of ``prompt`` (a str, or chat messages) with a causal LM.

    With a tokenizer that has a chat template (and ``use_chat_template`` not False) the prompt
    becomes a user message (or the messages are used as they are); ``prefill`` is appended
    after the generation prompt. ``stop`` strings end the text: passed to ``generate`` as
    ``stop_strings`` and cut afterwards too. Returns the new text only.
    """
    import numpy as np

    messages = prompt if isinstance(prompt, list) else None
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if use_chat_template is None:
        use_chat_template = has_template
    if use_chat_template and has_template:
        if messages is None:
            messages = [{"role": "user", "content": str(prompt)}]
        try:
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                 tokenize=False)
        except Exception:  # noqa: BLE001 - templates without a system role: merge it in
            merged = _merge_system(messages)
            text = tokenizer.apply_chat_template(merged, add_generation_prompt=True,
                                                 tokenize=False)
        text += prefill
        special = False
    else:
        if messages is not None:
            text = "\n\n".join(m["content"] for m in messages) + "\n\n" + prefill
        else:
            text = str(prompt) + prefill
        special = True
    enc = tokenizer(text, return_tensors="np", add_special_tokens=special)
    input_ids = np.asarray(enc["input_ids"])
    if input_ids.ndim == 1:
        input_ids = input_ids[None]
    mask = enc.get("attention_mask") if hasattr(enc, "get") else None
    mask = np.ones_like(input_ids) if mask is None else np.asarray(mask).reshape(input_ids.shape)
    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=False)
    kwargs.update(generation_kwargs or {})
    stop = [s for s in (stop or []) if s]
    try:
        out = model.generate(input_ids, attention_mask=mask, stop_strings=stop or None,
                             tokenizer=tokenizer, **kwargs)
    except TypeError:  # a generate() without stop strings: cut afterwards
        out = model.generate(input_ids, attention_mask=mask, **kwargs)
    seq = getattr(out, "sequences", out)
    seq = np.asarray(seq)
    new = seq[0, input_ids.shape[1]:]
    text = tokenizer.decode([int(t) for t in new], skip_special_tokens=True)
    return truncate_at_stops(text, stop)


def _merge_system(messages):
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = "\n\n".join(system) + "\n\n" + rest[0]["content"]
    elif system:
        rest.insert(0, {"role": "user", "content": "\n\n".join(system)})
    return rest


class _TextGenerationTool(PipelineTool):
    """A tool that writes text with an encoder-decoder model (the default, as transformers'
    toolbox: the input goes to the encoder, ``generate`` writes the answer) or with a causal
    LM (an instruction prompt, greedy continuation).

    Which one is read from the model: a folder or repo id whose config says
    ``is_encoder_decoder`` loads with ``TFAutoModelForSeq2SeqLM``, anything else (also a
    ``.gguf`` file or ``asset:NAME``) with ``TFAutoModelForCausalLM``. ``max_new_tokens``:
    None keeps the model's generation config for encoder-decoder models (the original tools'
    behaviour) and means 96 for causal LMs; ``generation_kwargs`` go to ``generate``.
    """

    model_class = "TFAutoModelForSeq2SeqLM"
    causal_max_new_tokens = 96

    def __init__(self, model=None, *args, max_new_tokens=None, generation_kwargs=None,
                 **kwargs):
        super().__init__(model, *args, **kwargs)
        self.max_new_tokens = None if max_new_tokens is None else int(max_new_tokens)
        self.generation_kwargs = dict(generation_kwargs or {})

    def setup(self):
        if isinstance(self.model, (str, os.PathLike)):
            self.model_class = _model_class_for(self.model, self.hub_kwargs)
        super().setup()

    @property
    def is_seq2seq(self):
        return bool(getattr(getattr(self.model, "config", None), "is_encoder_decoder", False))

    # ---------------------------------------------------------------- causal LMs
    def _fit(self, text, reserve=96):
        """Cut ``text`` so that the prompt (``reserve`` tokens besides it) fits the model."""
        import numpy as np

        limit = input_limit(self.model, self.pre_processor)
        if not limit:
            return text
        new = self.max_new_tokens or self.causal_max_new_tokens
        budget = max(32, limit - reserve - (0 if self.is_seq2seq else new))
        ids = np.asarray(self.pre_processor(text, add_special_tokens=False)["input_ids"])
        ids = ids.reshape(-1)
        if len(ids) <= budget:
            return text
        return self.pre_processor.decode([int(i) for i in ids[:budget]],
                                         skip_special_tokens=True)

    def forward(self, prompt):
        if self.is_seq2seq:
            return self._generate_seq2seq(prompt)
        return generate_text(self.model, self.pre_processor, prompt,
                             max_new_tokens=self.max_new_tokens or self.causal_max_new_tokens,
                             generation_kwargs=self.generation_kwargs or None)

    # ---------------------------------------------------------------- encoder-decoder
    def _generate_seq2seq(self, prompt):
        import numpy as np

        limit = input_limit(self.model, self.pre_processor)
        enc = self.pre_processor(prompt, return_tensors="np", truncation=bool(limit),
                                 **({"max_length": limit} if limit else {}))
        out = generate_ids(self, np.asarray(enc["input_ids"]), enc.get("attention_mask"),
                           generation_kwargs_of(self))
        return self.pre_processor.decode([int(i) for i in out[0]], skip_special_tokens=True,
                                         clean_up_tokenization_spaces=True)

    def decode(self, outputs):
        return AgentText(outputs.strip())


def _model_class_for(spec, hub_kwargs):
    """TFAutoModelForSeq2SeqLM for encoder-decoder checkpoints, else TFAutoModelForCausalLM."""
    name, extra = resolve_model_spec(spec)
    if extra.get("gguf_file"):
        return "TFAutoModelForCausalLM"
    from transformers import AutoConfig

    from ..hub.resolve import hub_cache_only

    kwargs = {k: v for k, v in hub_kwargs.items() if k in ("token", "revision", "cache_dir",
                                                           "local_files_only")}
    if not os.path.isdir(name) and hub_cache_only(name, kwargs.get("cache_dir"),
                                                  kwargs.get("local_files_only", False)):
        kwargs["local_files_only"] = True  # the Hub cannot be asked: the cache, at once
    try:
        config = AutoConfig.from_pretrained(name, **kwargs)
    except (OSError, ValueError):
        return "TFAutoModelForSeq2SeqLM"  # from_pretrained gives the clear error
    return ("TFAutoModelForSeq2SeqLM" if getattr(config, "is_encoder_decoder", False)
            else "TFAutoModelForCausalLM")


QA_PROMPT = ("Here is a text containing a lot of information: '''{text}'''.\n\n"
             "Can you answer this question about the text: '{question}'")


class TextQuestionAnsweringTool(_TextGenerationTool):
    name = "text_qa"
    description = ("This is a tool that answers a question about a text. It takes the text and "
                   "the question, and returns the answer. Use it when the task asks a question "
                   "about a text. Not for summaries: use summarizer.")
    example = 'answer = text_qa(text=page, question="Who wrote it?")'
    inputs = {"text": {"type": "text", "description": "the text the question is about"},
              "question": {"type": "text", "description": "the question"}}
    output_type = "text"
    default_checkpoint = "google/flan-t5-base"
    # encoder-decoder models (Flan-T5) get transformers' original prompt, causal LMs this one
    seq2seq_prompt_template = QA_PROMPT
    prompt_template = ("Read the text and answer the question about it in one short sentence."
                       "\n\nText:\n{text}\n\nQuestion: {question}")

    def encode(self, text, question):
        text, question = text_arg(text, "text"), text_arg(question, "question")
        template = self.seq2seq_prompt_template if self.is_seq2seq else self.prompt_template
        reserve = 96 + len(question)  # room for the template and the question
        return template.format(text=self._fit(text, reserve), question=question)


class TextSummarizationTool(_TextGenerationTool):
    name = "summarizer"
    description = ("This is a tool that summarizes an English text. It takes the text and "
                   "returns a short summary of it. Use it whenever the task says summarize, "
                   "summary, shorten or short version. Not for answering a question: use "
                   "text_qa.")
    example = "summary = summarizer(text=letter)"
    inputs = {"text": {"type": "text", "description": "the text to summarize"}}
    output_type = "text"
    default_checkpoint = "philschmid/bart-large-cnn-samsum"
    # causal LMs get an instruction; an encoder-decoder summarizer reads the text as it is
    prompt_template = "Summarize the following text in two or three sentences.\n\n{text}"

    def encode(self, text):
        text = text_arg(text, "text")
        if self.is_seq2seq:
            return text  # cut to the model's input length when tokenized
        return self.prompt_template.format(text=self._fit(text))


class RemoteTextQuestionAnsweringTool(RemoteTool):
    serves = TextQuestionAnsweringTool
    default_checkpoint = "distilbert/distilbert-base-cased-distilled-squad"

    def prepare_inputs(self, text, question):
        return {"inputs": {"question": text_arg(question, "question"),
                           "context": text_arg(text, "text")}}

    def extract_outputs(self, outputs):
        if isinstance(outputs, dict) and isinstance(outputs.get("answer"), str):
            return outputs["answer"]
        raise self.unexpected_answer("question-answering", outputs, "{'answer': ...}")


class RemoteTextSummarizationTool(RemoteTool):
    serves = TextSummarizationTool
    default_checkpoint = "sshleifer/distilbart-cnn-12-6"

    def prepare_inputs(self, text):
        return {"inputs": text_arg(text, "text")}

    def extract_outputs(self, outputs):
        if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict) and \
                isinstance(outputs[0].get("summary_text"), str):
            return outputs[0]["summary_text"]
        raise self.unexpected_answer("summarization", outputs, "[{'summary_text': ...}]")


# ---------------------------------------------------------------------- downloader

_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
               "table", "section", "article", "header", "footer", "blockquote", "pre", "title",
               "hr", "dd", "dt", "main", "nav", "aside", "figcaption"}
_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head"}


class _TextExtractor(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skip = 0
        self.title = []
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_TAGS:
            self.skip += 1
        if tag == "title":
            self.in_title = True
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS and self.skip:
            self.skip -= 1
        if tag == "title":
            self.in_title = False
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if self.in_title:
            self.title.append(data)
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page (title first), whitespace tidied, one block per line."""
    p = _TextExtractor()
    p.feed(markup)
    p.close()
    text = "".join(p.parts)
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    body = "\n".join(line for line in lines if line)
    title = " ".join("".join(p.title).split())
    if title and not body.startswith(title):
        body = f"{title}\n{body}"
    return body


class TextDownloadTool(Tool):
    """Download a web page and return its text.

    Only ``http``/``https`` URLs (also after redirects); at most ``max_bytes`` are read and
    the whole download must finish within ``timeout`` seconds. Addresses on private, loopback
    and link-local networks are refused unless ``allow_private_networks=True`` (the agent's
    program is untrusted: this keeps it away from services on your network).
    """

    name = "text_downloader"
    description = ("This is a tool that downloads a web page from a URL and returns its text "
                   "content. Only for a URL (http:// or https://): a text passed in is already "
                   "text and needs no download.")
    example = "page = text_downloader(url=link)"
    inputs = {"url": {"type": "text", "description": "the URL of the page (http or https)"}}
    output_type = "text"

    def __init__(self, *, max_bytes=2_000_000, timeout=15.0, allow_private_networks=False,
                 max_chars=200_000, **kwargs):
        super().__init__()
        self.max_bytes = int(max_bytes)
        self.timeout = float(timeout)
        self.allow_private_networks = bool(allow_private_networks)
        self.max_chars = int(max_chars)

    def forward(self, url):
        from .downloads import download

        url = text_arg(url, "url").strip()
        headers, body = download(url, max_bytes=self.max_bytes, timeout=self.timeout,
                                 allow_private_networks=self.allow_private_networks,
                                 who="text_downloader",
                                 accept="text/html, text/plain, */*")
        ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        m = re.search(r"charset=([\w.-]+)", ctype, re.I)
        try:
            text = body.decode(m.group(1) if m else "utf-8", "replace")
        except LookupError:
            text = body.decode("utf-8", "replace")
        if "html" in ctype.lower() or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
            text = html_to_text(text)
        return text[:self.max_chars]
