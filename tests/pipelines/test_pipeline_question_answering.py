"""question-answering: tfhf.pipeline against a reference computed from the PyTorch model.

transformers 5 removed its question-answering pipeline, so the reference here is transformers
4.x's algorithm written out as plain loops over the PyTorch model's logits: tokenize question +
context into windows of ``max_seq_len`` tokens sharing ``doc_stride``; per window softmax the
start/end logits over the context tokens and CLS; take the ``2 * top_k + 10`` best spans
(``start <= end < start + max_answer_len``) by ``p_start * p_end``; widen them to whole words;
add up the scores of equal answers (case-insensitive); optionally add the null answer scored by
the lowest ``p_start[CLS] * p_end[CLS]``. (The tfhf pipeline was also checked by hand against
transformers 4.57.1's pipeline on these models: identical answers and scores.)
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from _pipeline_helpers import assert_same

import tfhf
from tfhf.errors import InvalidInputError

CONTEXT = ("My name is Wolfgang and I live in Berlin. Hugging Face Inc. is a company based in "
           "New York City; its headquarters are in DUMBO, therefore very close to the Manhattan "
           "Bridge.")
QUESTIONS = ["Where do I live?", "What is my name?", "Where is the company?"]
LONG = " ".join([CONTEXT] * 12)  # several windows at max_seq_len=128


def reference(model, tok, question, context, top_k=1, max_answer_len=15, max_seq_len=384,
              doc_stride=128, handle_impossible_answer=False):
    enc = tok(question, context, truncation="only_second", max_length=max_seq_len,
              stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    answers, null = [], 1e6
    for w in range(len(enc["input_ids"])):
        feed = {k: torch.tensor([enc[k][w]]) for k in tok.model_input_names}
        with torch.no_grad():
            out = model(**feed)
        seq = enc.sequence_ids(w)
        allowed = [i == 0 or s == 1 for i, s in enumerate(seq)]  # CLS and the context

        def probs(logits, allowed=allowed):
            x = np.where(allowed, logits[0].double().numpy(), -np.inf)
            e = np.exp(x - x.max())
            return e / e.sum()

        ps, pe = probs(out.start_logits), probs(out.end_logits)
        null = min(null, ps[0] * pe[0])
        spans = [(ps[s] * pe[e], s, e) for s in range(1, len(seq)) for e in range(s, len(seq))
                 if allowed[s] and allowed[e] and e - s < max_answer_len]
        spans.sort(key=lambda t: -t[0])
        for score, s, e in spans[:2 * top_k + 10]:
            words = enc[w]
            first = words.word_to_chars(words.token_to_word(s), sequence_index=1)[0]
            last = words.word_to_chars(words.token_to_word(e), sequence_index=1)[1]
            same = [a for a in answers if a["answer"].lower() == context[first:last].lower()]
            if same:
                same[0]["score"] += score
            else:
                answers.append({"score": score, "start": first, "end": last,
                                "answer": context[first:last]})
    if handle_impossible_answer:
        answers.append({"score": null, "start": 0, "end": 0, "answer": ""})
    answers = sorted(answers, key=lambda a: -a["score"])[:top_k]
    for a in answers:
        a["score"] = float(a["score"])
    return answers[0] if len(answers) == 1 else answers


@pytest.fixture(scope="module", params=["bert", "distilbert"])
def setup(request, checkpoint):
    import transformers

    folder = checkpoint(request.param, "question-answering")
    pt_model = transformers.AutoModelForQuestionAnswering.from_pretrained(folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    return tfhf.pipeline("question-answering", model=folder), pt_model, tok


def test_one_question(setup):
    qa, pt_model, tok = setup
    got = qa(question=QUESTIONS[0], context=CONTEXT)
    assert_same(got, reference(pt_model, tok, QUESTIONS[0], CONTEXT))
    assert got["answer"] == CONTEXT[got["start"]:got["end"]] and got["answer"]
    assert 0 < got["score"] <= 1
    # the other ways of asking one question give the same dict
    for same in (qa(QUESTIONS[0], CONTEXT), qa({"question": QUESTIONS[0], "context": CONTEXT}),
                 qa(question=[QUESTIONS[0]], context=[CONTEXT])):
        assert_same(same, got)


@pytest.mark.parametrize("options", [
    dict(top_k=3),
    dict(top_k=2, handle_impossible_answer=True),
    dict(max_answer_len=2, top_k=4),
])
def test_options(setup, options):
    qa, pt_model, tok = setup
    got = qa(question=QUESTIONS[2], context=CONTEXT, **options)
    assert_same(got, reference(pt_model, tok, QUESTIONS[2], CONTEXT, **options))
    if "top_k" in options:
        assert len(got) == options["top_k"]
        assert [a["score"] for a in got] == sorted((a["score"] for a in got), reverse=True)
    if options.get("handle_impossible_answer"):
        assert {"score", "start", "end", "answer"} == set(got[0])


@pytest.mark.parametrize("batch_size", [1, 4])
def test_long_context_windows_and_batches(setup, batch_size):
    """A context of several windows (doc_stride overlap), several questions, padded batches
    mixing windows of different inputs."""
    qa, pt_model, tok = setup
    kw = dict(max_seq_len=128, doc_stride=32, top_k=3, handle_impossible_answer=True)
    enc = tok(QUESTIONS[0], LONG, truncation="only_second", max_length=128, stride=32,
              return_overflowing_tokens=True)
    assert len(enc["input_ids"]) >= 4
    got = qa(question=QUESTIONS, context=[LONG, CONTEXT, LONG], batch_size=batch_size, **kw)
    assert isinstance(got, list) and len(got) == 3
    for g, q, c in zip(got, QUESTIONS, [LONG, CONTEXT, LONG]):
        assert_same(g, reference(pt_model, tok, q, c, **kw))
        for a in g:
            assert a["answer"] == c[a["start"]:a["end"]]
    # answers found in several windows add up: scores may exceed a single window's best
    assert any(a["start"] > len(CONTEXT) for a in got[0])  # beyond the first window


def test_list_of_questions_one_context(setup):
    qa, pt_model, tok = setup
    got = qa(question=QUESTIONS, context=CONTEXT, batch_size=2)
    assert_same(got, [reference(pt_model, tok, q, CONTEXT) for q in QUESTIONS])
    assert_same(qa([{"question": q, "context": CONTEXT} for q in QUESTIONS]), got)


def test_errors(setup):
    qa = setup[0]
    with pytest.raises(InvalidInputError, match="context"):
        qa(question="Where?", context="")
    with pytest.raises(InvalidInputError, match="contexts"):
        qa(question=["a", "b"], context=["c"])
    with pytest.raises(InvalidInputError, match="top_k"):
        qa(question="a", context="b", top_k=0)
    with pytest.raises(InvalidInputError, match="doc_stride"):
        qa(question="a", context="b", max_seq_len=16, doc_stride=32)
    with pytest.raises(InvalidInputError, match="question"):
        qa({"context": "b"})
