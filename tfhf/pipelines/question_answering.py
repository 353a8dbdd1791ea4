"""``question-answering``: an answer span of the context, ``{"score", "start", "end", "answer"}``.

This is transformers 4.x's QuestionAnsweringPipeline (transformers 5 removed it), fast-tokenizer
path, ported:

* the question and context are tokenized together (question first when the tokenizer pads on
  the right); a context longer than ``max_seq_len`` (default ``min(model_max_length, 384)``)
  becomes overlapping windows that share ``doc_stride`` tokens (default
  ``min(max_seq_len // 2, 128)``);
* in each window, tokens outside the context (question, special tokens, padding) are masked
  (the CLS token stays, it stands for "no answer"), start and end logits are softmaxed, and a
  span's score is ``p_start * p_end`` over spans of at most ``max_answer_len`` tokens;
* spans are widened to whole words (``align_to_words=True``) and mapped to characters of the
  context; windows that find the same answer add their scores;
* ``handle_impossible_answer=True`` adds ``{"score": p_start[CLS] * p_end[CLS] (lowest over
  windows), "start": 0, "end": 0, "answer": ""}``;
* the ``top_k`` best are returned: a dict when there is one, else a list.

Call it as ``qa(question=..., context=...)`` (strings or equal-length lists, or a list of
questions for one context), ``qa({"question": ..., "context": ...})``, a list of such dicts, or
``qa(question, context)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from .base import Pipeline


def decode_spans(start, end, topk, max_answer_len, undesired_tokens):
    """The ``topk`` best (start, end) token spans by ``start[s] * end[e]``, with
    ``s <= e < s + max_answer_len``, both inside the allowed tokens."""
    if start.ndim == 1:
        start = start[None]
    if end.ndim == 1:
        end = end[None]
    outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    scores_flat = candidates.flatten()
    if topk == 1:
        order = [np.argmax(scores_flat)]
    elif len(scores_flat) < topk:
        order = np.argsort(-scores_flat)
    else:
        idx = np.argpartition(-scores_flat, topk)[0:topk]
        order = idx[np.argsort(-scores_flat[idx])]
    starts, ends = np.unravel_index(order, candidates.shape)[1:]
    allowed = np.asarray(undesired_tokens).reshape(-1).nonzero()[0]
    keep = np.isin(starts, allowed) & np.isin(ends, allowed)
    starts, ends = starts[keep], ends[keep]
    return starts, ends, candidates[0, starts, ends]


def select_starts_ends(start, end, p_mask, attention_mask, min_null_score=1000000, top_k=1,
                       handle_impossible_answer=False, max_answer_len=15):
    """Mask non-context tokens, softmax the logits, track the null score, decode spans."""
    allowed = np.abs(np.asarray(p_mask, dtype=np.int64) - 1)
    if attention_mask is not None:
        allowed = allowed & np.asarray(attention_mask, dtype=np.int64)
    blocked = allowed == 0
    start = np.where(blocked, -10000.0, start)
    end = np.where(blocked, -10000.0, end)
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, (start[0, 0] * end[0, 0]).item())
    start[0, 0] = end[0, 0] = 0.0  # the CLS token is never part of an answer span
    starts, ends, scores = decode_spans(start, end, top_k, max_answer_len, allowed)
    return starts, ends, scores, min_null_score


def _example(question, context):
    for name, value in (("question", question), ("context", context)):
        if value is None:
            raise InvalidInputError(f"`{name}` cannot be None.")
        if not isinstance(value, str):
            raise InvalidInputError(f"`{name}` must be a string, got {type(value).__name__}.")
        if not value:
            raise InvalidInputError(f"`{name}` cannot be empty.")
    return {"question": question, "context": context}


def _normalize(item):
    if isinstance(item, dict):
        missing = [k for k in ("question", "context") if k not in item]
        if missing:
            raise InvalidInputError("A question-answering input is a dict with keys "
                                    f"'question' and 'context' (missing {missing}).")
        return _example(item["question"], item["context"])
    raise InvalidInputError(f"{item!r} is not a question-answering input; pass "
                            "question=..., context=... or {'question': ..., 'context': ...}.")


class QuestionAnsweringPipeline(Pipeline):
    task = "question-answering"
    model_task = "question_answering"
    chunked = True

    def _sanitize_parameters(self, padding=None, top_k=None, topk=None, doc_stride=None,
                             max_answer_len=None, max_seq_len=None, max_question_len=None,
                             handle_impossible_answer=None, align_to_words=None):
        pre = {}
        for name, value in (("padding", padding), ("doc_stride", doc_stride),
                            ("max_question_len", max_question_len),
                            ("max_seq_len", max_seq_len)):
            if value is not None:
                pre[name] = value
        post = {}
        if topk is not None and top_k is None:
            top_k = topk
        if top_k is not None:
            if top_k < 1:
                raise InvalidInputError(f"top_k must be >= 1 (got {top_k}).")
            post["top_k"] = top_k
        if max_answer_len is not None:
            if max_answer_len < 1:
                raise InvalidInputError(f"max_answer_len must be >= 1 (got {max_answer_len}).")
            post["max_answer_len"] = max_answer_len
        if handle_impossible_answer is not None:
            post["handle_impossible_answer"] = handle_impossible_answer
        if align_to_words is not None:
            post["align_to_words"] = align_to_words
        return pre, {}, post

    def __call__(self, *args, **kwargs):
        question = kwargs.pop("question", None)
        context = kwargs.pop("context", None)
        if args:
            if len(args) == 2 and all(isinstance(a, str) for a in args):
                examples = [_example(*args)]
            elif len(args) == 1:
                examples = args[0]
            else:
                examples = list(args)
        elif question is not None or context is not None:
            if isinstance(question, list) and isinstance(context, str):
                examples = [_example(q, context) for q in question]
            elif isinstance(question, list) and isinstance(context, list):
                if len(question) != len(context):
                    raise InvalidInputError(f"{len(question)} questions but {len(context)} "
                                            "contexts: give one context per question.")
                examples = [_example(q, c) for q, c in zip(question, context)]
            elif isinstance(question, str) and isinstance(context, str):
                examples = [_example(question, context)]
            else:
                raise InvalidInputError("question and context must be strings or lists of "
                                        "strings (or one context for a list of questions).")
        else:
            raise InvalidInputError("Pass question=... and context=... (or a dict with those "
                                    "keys).")
        if hasattr(examples, "__next__"):
            return super().__call__((_normalize(e) for e in examples), **kwargs)
        if isinstance(examples, dict):
            examples = [examples]
        examples = [_normalize(e) for e in list(examples)]
        if len(examples) == 1:
            return super().__call__(examples[0], **kwargs)
        return super().__call__(examples, **kwargs)

    def preprocess(self, example, padding="do_not_pad", doc_stride=None, max_question_len=64,
                   max_seq_len=None):
        tok = self.hf_tokenizer
        if not tok.is_fast:
            raise InvalidInputError("question-answering needs a fast tokenizer (one with a "
                                    "tokenizer.json).")
        if max_seq_len is None:
            max_seq_len = min(tok.model_max_length, 384)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        if doc_stride > max_seq_len:
            raise InvalidInputError(f"doc_stride ({doc_stride}) is larger than max_seq_len "
                                    f"({max_seq_len}).")
        question_first = tok.padding_side == "right"
        question, context = example["question"], example["context"]
        enc = tok(text=question if question_first else context,
                  text_pair=context if question_first else question,
                  padding=padding, truncation="only_second" if question_first else "only_first",
                  max_length=max_seq_len, stride=doc_stride, return_token_type_ids=True,
                  return_overflowing_tokens=True, return_offsets_mapping=True,
                  return_special_tokens_mask=True)
        features = []
        for i in range(len(enc["input_ids"])):
            ids = np.asarray(enc["input_ids"][i])
            # 1 for tokens that cannot be in the answer: all but the context (and CLS)
            p_mask = np.array([(s != 1) if question_first else 0 for s in enc.sequence_ids(i)],
                              dtype=np.int64)
            if tok.cls_token_id is not None:
                p_mask[ids == tok.cls_token_id] = 0
            feature = {"input_ids": ids[None], "p_mask": p_mask[None]}
            for key in ("attention_mask", "token_type_ids"):
                if key in enc:
                    feature[key] = np.asarray(enc[key][i])[None]
            feature["encoding"] = enc[i]
            feature["example"] = example
            features.append(feature)
        return features

    def _forward(self, model_inputs):
        out = self.run_model(model_inputs)
        return {"start": out["start_logits"].numpy(), "end": out["end_logits"].numpy()}

    def postprocess(self, outputs, top_k=1, handle_impossible_answer=False, max_answer_len=15,
                    align_to_words=True):
        tok = self.hf_tokenizer
        min_null_score = 1000000  # large and positive
        answers = []
        question_first = tok.padding_side == "right"
        sequence_index = 1 if question_first else 0
        for out in outputs:
            mask = out.get("attention_mask")
            # some candidates may be dropped when aligning to words: decode more
            pre_topk = top_k * 2 + 10 if align_to_words else top_k
            starts, ends, scores, min_null_score = select_starts_ends(
                out["start"].astype(np.float32), out["end"].astype(np.float32), out["p_mask"],
                mask, min_null_score, pre_topk, handle_impossible_answer, max_answer_len)
            enc = out["encoding"]
            context = out["example"]["context"]
            # the encoding is unpadded; with left padding the batch row is shifted
            shift = int((out["input_ids"] == tok.pad_token_id).sum()) \
                if tok.padding_side == "left" else 0
            for s, e, score in zip(starts, ends, scores):
                first, last = self.get_indices(enc, int(s) - shift, int(e) - shift,
                                               sequence_index, align_to_words)
                text = context[first:last]
                same = next((a for a in answers if a["answer"].lower() == text.lower()), None)
                if same is not None:
                    same["score"] += score.item()
                else:
                    answers.append({"score": score.item(), "start": first, "end": last,
                                    "answer": text})
        if handle_impossible_answer:
            answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]
        if len(answers) == 1:
            return answers[0]
        return answers

    @staticmethod
    def get_indices(enc, s, e, sequence_index, align_to_words):
        """Character span of tokens s..e, widened to whole words when possible."""
        if align_to_words:
            try:
                start_word, end_word = enc.token_to_word(s), enc.token_to_word(e)
                return (enc.word_to_chars(start_word, sequence_index=sequence_index)[0],
                        enc.word_to_chars(end_word, sequence_index=sequence_index)[1])
            except Exception:  # noqa: BLE001, S110 - no words (e.g. CLS): keep token offsets
                pass
        return enc.offsets[s][0], enc.offsets[e][1]
