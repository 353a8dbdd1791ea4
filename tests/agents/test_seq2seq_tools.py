"""The curated tools on encoder-decoder and NLI checkpoints, as transformers' original toolbox
ran them: text_qa on T5 (Flan-T5's prompt), summarizer on BART, translator on M2M100 with the
NLLB tokenizer (language names -> codes -> forced_bos_token_id), zero_shot_classifier on a BART
NLI head. Each runs from a tiny local folder (offline), gives what PyTorch transformers gives on
the same folder, and works inside an agent driven by a scripted LLM."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ScriptedLLM, code_reply

torch = pytest.importorskip("torch")

from tfhf.agents import Agent, AgentFailure, AgentText, load_tool  # noqa: E402
from tfhf.agents.languages import LANGUAGE_CODES, language_code  # noqa: E402
from tfhf.agents.text_tools import QA_PROMPT  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent / "pipelines"))
from _seq2seq_helpers import make_nli, make_seq2seq  # noqa: E402

TEXT = "the team won the match, a great film about sport"
QUESTION = "who won the match?"
NEW = 5
EAGER = {"use_xla": False}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tools")
    return {"t5": make_seq2seq(root / "t5", "t5"), "bart": make_seq2seq(root / "bart", "bart"),
            "nllb": make_seq2seq(root / "nllb", "nllb"), "nli": make_nli(root / "nli", "bart")}


@pytest.fixture(scope="module")
def tools(folders):
    return {"text_qa": load_tool("text-question-answering", model_repo_id=folders["t5"],
                                 max_new_tokens=NEW),
            # eager decode loops (no compile per input shape); text_qa runs the XLA default
            "summarizer": load_tool("summarization", model_repo_id=folders["bart"],
                                    max_new_tokens=NEW, generation_kwargs=EAGER),
            "translator": load_tool("translation", model_repo_id=folders["nllb"],
                                    max_new_tokens=NEW, generation_kwargs=EAGER),
            "zero_shot_classifier": load_tool("zero-shot-classification",
                                              model_repo_id=folders["nli"])}


def pt_generate(folder, text, **kwargs):
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    src = kwargs.pop("src_lang", None)
    if src is not None:
        enc = dict(tok._build_translation_inputs(text, return_tensors="pt", src_lang=src,
                                                 tgt_lang=kwargs.pop("tgt_lang")))
    else:
        enc = dict(tok(text, return_tensors="pt", truncation=True))
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=NEW, **kwargs)
    return tok.decode(out[0], skip_special_tokens=True, clean_up_tokenization_spaces=True).strip()


def test_text_qa_on_t5_uses_the_original_prompt(tools, folders):
    qa = tools["text_qa"]
    answer = qa(text=TEXT, question=QUESTION)
    assert isinstance(answer, AgentText)
    assert type(qa.model).__name__ == "TFT5ForConditionalGeneration"
    assert answer == pt_generate(folders["t5"], QA_PROMPT.format(text=TEXT, question=QUESTION))


def test_summarizer_on_bart(tools, folders):
    summ = tools["summarizer"]
    assert summ(TEXT) == pt_generate(folders["bart"], TEXT)
    assert type(summ.model).__name__ == "TFBartForConditionalGeneration"
    assert isinstance(summ("word " * 400), str)  # longer than the model: truncated, no error


def test_translator_maps_language_names_to_nllb_codes(tools, folders):
    tr = tools["translator"]
    got = tr(TEXT, src_lang="English", tgt_lang="French")
    assert got == pt_generate(folders["nllb"], TEXT, src_lang="eng_Latn", tgt_lang="fra_Latn")
    # names are matched without case; codes work too
    assert tr(TEXT, src_lang="english", tgt_lang="fra_Latn") == got
    assert language_code("Chinese") == "zho_Hans" and language_code("Norwegian") == "nob_Latn"
    assert LANGUAGE_CODES["Romanian"] == "ron_Latn"


@pytest.mark.parametrize("src,tgt,match", [
    ("English", "Frnech", r"Unknown tgt_lang 'Frnech' \(did you mean 'French'\?\).*LANGUAGE_CODES"),
    ("Klingon", "French", r"Unknown src_lang 'Klingon'.*plain English"),
    ("English", "", "must be a language name"),
    ("English", 3, "must be a language name"),
])
def test_translator_rejects_unknown_languages(tools, src, tgt, match):
    with pytest.raises(InvalidInputError, match=match):
        tools["translator"](TEXT, src_lang=src, tgt_lang=tgt)


def test_translator_needs_a_tokenizer_with_language_codes(folders):
    tr = load_tool("translation", model_repo_id=folders["t5"])
    with pytest.raises(InvalidInputError, match="language codes"):
        tr(TEXT, src_lang="English", tgt_lang="French")


def test_zero_shot_classifier_on_a_bart_nli_head(tools, folders):
    import tfhf

    labels = ["sport", "politics", "film"]
    choice = tools["zero_shot_classifier"](TEXT, labels)
    expected = tfhf.pipeline("zero-shot-classification", model=folders["nli"])(
        TEXT, candidate_labels=labels)["labels"][0]
    assert choice == expected
    with pytest.raises(InvalidInputError, match="labels"):
        tools["zero_shot_classifier"](TEXT, [])


def test_the_tools_in_an_agent(tools):
    program = """
answer = text_qa(text=text, question=question)
summary = summarizer(text=text)
french = translator(text=summary, src_lang="English", tgt_lang="French")
label = zero_shot_classifier(text=text, labels=["sport", "politics"])
[answer, summary, french, label]
"""
    llm = ScriptedLLM(code_reply(program))
    agent = Agent(llm=llm, additional_tools=list(tools.values()), default_tools=False, log=None)
    result = agent.run("Answer the `question` about the `text`, summarize it, translate the "
                       "summary to French and say whether it is about sport or politics.",
                       text=TEXT, question=QUESTION)
    summary = tools["summarizer"](TEXT)
    assert list(result) == [tools["text_qa"](text=TEXT, question=QUESTION), summary,
                            tools["translator"](summary, "English", "French"),
                            tools["zero_shot_classifier"](TEXT, ["sport", "politics"])]
    prompt = llm.prompts[0]
    assert "translator" in prompt and "src_lang" in prompt and "tgt_lang" in prompt


def test_an_unknown_language_in_an_agent_is_explained(tools):
    llm = ScriptedLLM(code_reply("translator(text=text, src_lang='English', "
                                 "tgt_lang='Elvish')"))
    agent = Agent(llm=llm, additional_tools=[tools["translator"]], default_tools=False,
                  log=None)
    result = agent.run("Translate the `text` to Elvish.", text=TEXT, max_retries=0)
    assert isinstance(result, AgentFailure) and result.kind == "tool_error"
    assert "Unknown tgt_lang 'Elvish'" in result
