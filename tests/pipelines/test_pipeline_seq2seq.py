"""text2text-generation, summarization and translation on tiny random T5, BART and M2M100 (NLLB
tokenizer) checkpoints, against PyTorch transformers on the same folders.

transformers 5 dropped these pipelines, so the reference is what transformers 4.x's pipelines
did, computed here with the PyTorch model: the input is ``prefix + text`` (the prefix from the
config's ``task_specific_params``), tokenized alone; the task-specific parameters and the call's
options go to ``generate`` with ``max_new_tokens=256, num_beams=4`` for what neither they nor
the model's generation config set; NLLB inputs come from the tokenizer's
``_build_translation_inputs`` (source code in the input, ``forced_bos_token_id`` = the target
code); texts are decoded with ``skip_special_tokens=True``. tfhf must give the same texts.

Most calls pass ``use_xla=False`` (the same decode loop, run eagerly: no compile per strategy;
tests/generation checks XLA against eager); the default XLA path runs in a few tests.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from _pipeline_helpers import assert_same
from _seq2seq_helpers import make_seq2seq

import tfhf
from tfhf.errors import InvalidInputError

TEXTS = ["hello world, the film was great", "a team won", "what is the capital of france?"]
EAGER = {"use_xla": False}
DEFAULTS = {"max_new_tokens": 256, "num_beams": 4}
T5_PARAMS = {"summarization": {"prefix": "summarize: ", "max_length": 9, "min_length": 4,
                               "num_beams": 2},
             "translation_en_to_de": {"prefix": "translate english to german: ",
                                      "max_length": 8, "num_beams": 1}}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    made = {}

    def get(family, **overrides):
        key = (family, repr(sorted(overrides.items())))
        if key not in made:
            made[key] = make_seq2seq(tmp_path_factory.mktemp(family), family, **overrides)
        return made[key]

    return get


@pytest.fixture(scope="module")
def pipes(folders):
    """``pipes(task, family, **config)``: one pipeline per checkpoint and task, reused (its
    compiled generate functions too)."""
    made = {}

    def get(task, family, **overrides):
        key = (task, family, repr(sorted(overrides.items())))
        if key not in made:
            made[key] = tfhf.pipeline(task, model=folders(family, **overrides))
        return made[key]

    return get


def _pt(folder):
    import transformers

    return (transformers.AutoTokenizer.from_pretrained(folder),
            transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).eval())


def reference(folder, texts, key, prefix="", task_params=None, src_lang=None, tgt_lang=None,
              return_tensors=False, **call):
    """transformers 4.x's text2text pipelines on the PyTorch model (see the module docstring)."""
    tok, model = _pt(folder)
    call.pop("use_xla", None)
    params = {**(task_params or {}), **call}
    params.pop("prefix", None)
    set_params = {**model.generation_config.to_diff_dict(), **params}
    for k, v in DEFAULTS.items():
        if k not in set_params and not (k == "max_new_tokens" and "max_length" in set_params):
            params[k] = v
    results = []
    for text in [texts] if isinstance(texts, str) else texts:
        if src_lang is not None:
            enc = dict(tok._build_translation_inputs(prefix + text, return_tensors="pt",
                                                     src_lang=src_lang, tgt_lang=tgt_lang))
        else:
            enc = dict(tok(prefix + text, return_tensors="pt"))
        enc.pop("token_type_ids", None)
        with torch.no_grad():
            out = model.generate(**enc, **params)
        if return_tensors:
            results.append([{f"{key}_token_ids": row.tolist()} for row in out])
        else:
            results.append([{f"{key}_text": tok.decode(row, skip_special_tokens=True,
                                                       clean_up_tokenization_spaces=False)}
                            for row in out])
    if isinstance(texts, str):
        return results[0]
    if all(len(r) == 1 for r in results):
        return [r[0] for r in results]
    return results


@pytest.mark.parametrize("family", ["t5", "bart"])
@pytest.mark.parametrize("call", [
    dict(inputs=TEXTS[0], max_new_tokens=6, num_beams=1),  # XLA
    dict(inputs=TEXTS, max_new_tokens=5, num_beams=1, batch_size=2, **EAGER),  # right-padded
    dict(inputs=TEXTS[:2], max_new_tokens=5, num_beams=3, batch_size=2, **EAGER),
    dict(inputs=TEXTS[2], max_new_tokens=4, num_beams=3, num_return_sequences=2, **EAGER),
    dict(inputs=TEXTS[:2], max_new_tokens=4, num_beams=1, return_tensors=True, **EAGER),
], ids=lambda c: ",".join(f"{k}={str(v)[:8]}" for k, v in c.items()))
def test_text2text_generation(folders, pipes, family, call):
    folder = folders(family)
    call = dict(call)
    inputs, batch_size = call.pop("inputs"), call.pop("batch_size", None)
    pipe = pipes("text2text-generation", family)
    assert_same(pipe(inputs, batch_size=batch_size, **call),
                reference(folder, inputs, "generated", **call))


def test_transformers_defaults_for_unset_options(folders, pipes):
    """Options nobody sets: max_new_tokens=256 and num_beams=4 (max_new_tokens not when the
    model's generation config sets a max_length)."""
    folder = folders("bart")
    pipe = pipes("text2text-generation", "bart")
    assert pipe._generate_kwargs({}) == DEFAULTS
    assert_same(pipe(TEXTS[1], max_new_tokens=4, **EAGER),  # num_beams=4 by default
                reference(folder, TEXTS[1], "generated", max_new_tokens=4))
    pipe.model.generation_config.max_length = 7
    try:
        assert pipe._generate_kwargs({}) == {"num_beams": 4}
        assert pipe._generate_kwargs({"num_beams": 1, "max_new_tokens": 3}) == \
            {"num_beams": 1, "max_new_tokens": 3}
    finally:
        pipe.model.generation_config.max_length = 20


def test_summarization_uses_the_task_specific_params(folders, pipes):
    folder = folders("t5", task_specific_params=T5_PARAMS)
    pipe = pipes("summarization", "t5", task_specific_params=T5_PARAMS)
    assert pipe.prefix == "summarize: "
    expected = reference(folder, TEXTS, "summary", prefix="summarize: ",
                         task_params=T5_PARAMS["summarization"])
    assert_same(pipe(TEXTS, batch_size=2, **EAGER), expected)
    # call options win over the task's
    assert_same(pipe(TEXTS[0], max_length=6, num_beams=1, **EAGER),
                reference(folder, TEXTS[0], "summary", prefix="summarize: ",
                          task_params=T5_PARAMS["summarization"], max_length=6, num_beams=1))


def test_summarization_on_bart(folders, pipes):
    folder = folders("bart")
    pipe = pipes("summarization", "bart")
    assert_same(pipe(TEXTS[:2], max_new_tokens=5, num_beams=2, min_new_tokens=3, **EAGER),
                reference(folder, TEXTS[:2], "summary", max_new_tokens=5, num_beams=2,
                          min_new_tokens=3))


@pytest.mark.parametrize("task", ["translation_en_to_de", "translation"])
def test_t5_translation_task_names(folders, pipes, task):
    """translation_xx_to_yy picks its task_specific_params; plain "translation" uses the first
    translation_* entry of the config, as transformers did."""
    folder = folders("t5", task_specific_params=T5_PARAMS)
    pipe = pipes(task, "t5", task_specific_params=T5_PARAMS)
    assert pipe.task == "translation_en_to_de"
    assert_same(pipe(TEXTS[:2], **EAGER),
                reference(folder, TEXTS[:2], "translation",
                          prefix="translate english to german: ",
                          task_params=T5_PARAMS["translation_en_to_de"]))


def test_nllb_translation_forces_the_target_language(folders):
    folder = folders("nllb")  # a pipeline of its own: src_lang / tgt_lang preset
    pipe = tfhf.pipeline("translation", model=folder, src_lang="eng_Latn", tgt_lang="fra_Latn")
    fra = pipe.hf_tokenizer.convert_tokens_to_ids("fra_Latn")
    for num_beams, how in ((1, {}), (3, EAGER)):  # XLA greedy, eager beam search
        got = pipe(TEXTS, max_new_tokens=5, num_beams=num_beams, batch_size=2, **how)
        assert_same(got, reference(folder, TEXTS, "translation", src_lang="eng_Latn",
                                   tgt_lang="fra_Latn", max_new_tokens=5, num_beams=num_beams))
    ids = pipe(TEXTS[0], max_new_tokens=3, num_beams=1, return_tensors=True, **EAGER)
    assert ids[0]["translation_token_ids"][1] == fra  # after decoder_start_token_id
    # the call's languages win over the pipeline's
    assert_same(pipe(TEXTS[1], src_lang="deu_Latn", tgt_lang="spa_Latn", max_new_tokens=4,
                     num_beams=1, **EAGER),
                reference(folder, TEXTS[1], "translation", src_lang="deu_Latn",
                          tgt_lang="spa_Latn", max_new_tokens=4, num_beams=1))


def test_nllb_language_code_errors(pipes):
    pipe = pipes("translation", "nllb")
    with pytest.raises(InvalidInputError, match="src_lang=... and tgt_lang=..."):
        pipe(TEXTS[0])
    with pytest.raises(InvalidInputError, match="tgt_lang='fr_Latn'.*fra_Latn"):
        pipe(TEXTS[0], src_lang="eng_Latn", tgt_lang="fr_Latn")
    with pytest.raises(InvalidInputError, match="src_lang='English'"):
        pipe(TEXTS[0], src_lang="English", tgt_lang="fra_Latn")


def test_bad_input(folders, pipes):
    pipe = pipes("text2text-generation", "t5")
    with pytest.raises(InvalidInputError, match="takes a string"):
        pipe(3)
    with pytest.raises(InvalidInputError, match="takes a string"):
        pipe([TEXTS[0], None])
    with pytest.raises(InvalidInputError, match="no default model"):
        tfhf.pipeline("translation")
    with pytest.raises(InvalidInputError, match="no default model"):
        tfhf.pipeline("translation_en_to_ja")
    with pytest.raises(InvalidInputError, match="seq2seq_lm head"):
        tfhf.pipeline("summarization", model=tfhf.TFAutoModel.from_pretrained(folders("t5")),
                      tokenizer=folders("t5"))
