"""The curated tools: loaded from tiny local checkpoints built here (offline), and their logic
on fake models; the text downloader against a local server."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tfhf.agents import AgentText, LLMBackendError, LLMResponseError, load_tool
from tfhf.agents.text_tools import (TextDownloadTool, TextQuestionAnsweringTool,
                                    TextSummarizationTool, ZeroShotClassificationTool,
                                    entailment_id, html_to_text)
from tfhf.errors import ConfigError, InvalidInputError

sys.path.insert(0, str(Path(__file__).parent))
from test_backends import CharTokenizer, FakeLM  # noqa: E402

WORDS = ["the", "a", "film", "movie", "was", "is", "great", "bad", "good", "awful", "this",
         "example", "about", "sport", "politics", "match", "vote", "team", "won", "text",
         "question", "answer", "what", "who", "summarize", "read", "and", "in", "one", "short",
         "sentence", "of", "it", "paris", "capital", "france"]


def _wordpiece_tokenizer(folder):
    from transformers import BertTokenizerFast

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?"] + WORDS
    # transformers 5's BertTokenizerFast(vocab_file=...) maps every word to [UNK]: pass the dict
    tok = BertTokenizerFast(vocab={t: i for i, t in enumerate(tokens)}, do_lower_case=True)
    assert tok.unk_token_id not in tok(" ".join(WORDS[:5]))["input_ids"]
    tok.save_pretrained(folder)
    return tok


@pytest.fixture(scope="module")
def sentiment_folder(tmp_path_factory):
    import transformers

    import tfhf

    folder = tmp_path_factory.mktemp("tiny-sentiment")
    tok = _wordpiece_tokenizer(folder)
    config = transformers.BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=24,
                                     max_position_embeddings=64, initializer_range=0.5,
                                     id2label={0: "NEGATIVE", 1: "POSITIVE"},
                                     label2id={"NEGATIVE": 0, "POSITIVE": 1})
    tfhf.TFBertForSequenceClassification(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def nli_folder(tmp_path_factory):
    import transformers

    import tfhf

    folder = tmp_path_factory.mktemp("tiny-nli")
    tok = _wordpiece_tokenizer(folder)
    labels = ["contradiction", "entailment", "neutral"]
    config = transformers.BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=24,
                                     max_position_embeddings=64, initializer_range=0.5,
                                     id2label=dict(enumerate(labels)),
                                     label2id={v: k for k, v in enumerate(labels)})
    tfhf.TFBertForSequenceClassification(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def causal_lm_folder(tmp_path_factory):
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    import tfhf

    folder = tmp_path_factory.mktemp("tiny-llama")
    vocab = {w: i for i, w in enumerate(["<pad>", "<s>", "</s>", "<unk>", ".", ":", "?", ","]
                                        + WORDS + [w.capitalize() for w in WORDS])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>",
                                               bos_token="<s>", eos_token="</s>",
                                               pad_token="<pad>")
    tok.save_pretrained(folder)
    config = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=16,
                                      intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=1,
                                      max_position_embeddings=256, bos_token_id=1,
                                      eos_token_id=2, pad_token_id=0)
    tfhf.TFLlamaForCausalLM(config).save_pretrained(folder)
    return str(folder)


# ------------------------------------------------------------------ classification


def test_text_classifier_from_a_local_checkpoint(sentiment_folder):
    import tfhf

    clf = load_tool("text-classification", model_repo_id=sentiment_folder)
    label = clf("this film was great")
    assert isinstance(label, AgentText) and label in ("NEGATIVE", "POSITIVE")
    expected = tfhf.pipeline("text-classification", model=sentiment_folder)(
        "this film was great")[0]["label"]
    assert label == expected
    with pytest.raises(InvalidInputError):
        clf(3)


def test_zero_shot_picks_the_highest_entailment_logit(nli_folder):
    import tfhf

    zs = load_tool("zero-shot-classification", model_repo_id=nli_folder)
    text, labels = "the team won the match", ["sport", "politics", "film"]
    choice = zs(text, labels)
    tok = tfhf.AutoTokenizer.from_pretrained(nli_folder)
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(nli_folder)
    enc = tok([text] * 3, [f"This example is {x}." for x in labels], padding=True,
              return_tensors="tf")
    entail = np.asarray(model(dict(enc)).logits)[:, 1]
    assert choice == labels[int(np.argmax(entail))]
    assert zs(text, "sport, politics") in ("sport", "politics")   # a comma-separated text works


class _Config:
    def __init__(self, id2label):
        self.id2label = id2label


class _NLIModel:
    """Logits that favour label 0 in every column but entailment, which favours label 1."""

    config = _Config({0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"})

    def __call__(self, inputs):
        n = len(inputs["texts"])
        logits = np.zeros((n, 3), np.float32)
        logits[0, :2] = 10
        logits[1, 2] = 5
        return type("Out", (), {"logits": logits})()


class _PairTokenizer:
    def __call__(self, texts, pairs, **kwargs):
        self.pairs = pairs
        return {"texts": texts}


def test_zero_shot_uses_the_entailment_column_of_any_nli_checkpoint():
    tok = _PairTokenizer()
    zs = ZeroShotClassificationTool(model=_NLIModel(), pre_processor=tok)
    assert zs("x", ["first", "second"]) == "second"
    assert tok.pairs == ["This example is first.", "This example is second."]
    assert entailment_id(_Config({"0": "entailment", "1": "x"})) == 0
    with pytest.raises(ConfigError, match="'entailment' label"):
        entailment_id(_Config({0: "NEGATIVE", 1: "POSITIVE"}))
    with pytest.raises(InvalidInputError, match="labels"):
        zs("x", [])


# ------------------------------------------------------------------- causal LM tools


def test_text_qa_and_summarizer_prompt_the_llm():
    tok = CharTokenizer()
    qa = TextQuestionAnsweringTool(model=FakeLM(" Paris.\n"), pre_processor=tok)
    assert qa(text="Paris is the capital of France.", question="What is the capital?") == "Paris."
    prompt = tok.calls[-1]["text"]
    assert "Text:\nParis is the capital of France." in prompt
    assert "Question: What is the capital?" in prompt
    summ = TextSummarizationTool(model=FakeLM(" A short summary. "), pre_processor=tok)
    assert summ("Some long text.") == "A short summary."
    assert tok.calls[-1]["text"].startswith("Summarize the following text")


def test_llm_tools_use_the_chat_template_when_there_is_one():
    tok = CharTokenizer(chat_template="x")
    qa = TextQuestionAnsweringTool(model=FakeLM("Yes"), pre_processor=tok)
    assert qa(text="t", question="q?") == "Yes"
    assert tok.calls[-1]["text"].startswith("<user>Read the text")
    assert tok.calls[-1]["text"].endswith("</user><assistant>")


def test_llm_tools_cut_long_texts_to_the_context():
    class Model(FakeLM):
        config = type("C", (), {"max_position_embeddings": 300})()

    tok = CharTokenizer()
    summ = TextSummarizationTool(model=Model("ok"), pre_processor=tok, max_new_tokens=10)
    summ("z" * 5000)
    assert len(tok.calls[-1]["text"]) < 300


def test_text_qa_and_summarizer_from_a_local_checkpoint(causal_lm_folder):
    qa = load_tool("text-question-answering", model_repo_id=causal_lm_folder, max_new_tokens=4)
    answer = qa(text="Paris is the capital of France.", question="What is the capital?")
    assert isinstance(answer, AgentText)
    summ = load_tool("summarization", model_repo_id=causal_lm_folder, max_new_tokens=3)
    assert isinstance(summ("the film was great and the team won"), str)
    assert qa.model is not None and type(qa.model).__name__ == "TFLlamaForCausalLM"


# ---------------------------------------------------------------------- downloader


PAGE = b"""<!doctype html><html><head><title>Test page</title>
<style>body { color: red }</style><script>var secret = 1;</script></head>
<body><h1>Heading</h1><p>First &amp; best paragraph.</p>
<ul><li>one</li><li>two</li></ul><noscript>enable js</noscript><p>Caf\xc3\xa9</p></body></html>"""


def downloader(**kwargs):
    kwargs.setdefault("allow_private_networks", True)
    return TextDownloadTool(**kwargs)


def test_downloader_extracts_the_text_of_html(server):
    server.script = [{"body": PAGE, "headers": {"Content-Type": "text/html; charset=utf-8"}}]
    text = downloader()(server.url + "/page")
    assert text == "Test page\nHeading\nFirst & best paragraph.\none\ntwo\nCafé"
    assert server.requests[0]["method"] == "GET"


def test_downloader_returns_plain_text_as_is(server):
    server.script = [{"body": "just text\nline 2", "headers": {"Content-Type": "text/plain"}}]
    assert downloader()(server.url) == "just text\nline 2"


def test_downloader_limits_size_and_time(server):
    server.script = [{"body": b"x" * 50_000, "headers": {"Content-Type": "text/plain"}}]
    with pytest.raises(LLMResponseError, match="larger than 1000 bytes"):
        downloader(max_bytes=1000)(server.url)
    server.script = [{"body": b"slow", "delay": 2}]
    with pytest.raises(LLMBackendError, match="no answer within 0.3 s"):
        downloader(timeout=0.3)(server.url)
    server.script = [{"body": b"y" * 2000, "drip": (20, 0.1),
                      "headers": {"Content-Type": "text/plain"}}]
    with pytest.raises(LLMBackendError, match="time limit"):
        downloader(timeout=0.5)(server.url)


def test_downloader_http_errors(server):
    server.script = [{"status": 404, "body": "not here"}]
    with pytest.raises(LLMBackendError, match="HTTP 404"):
        downloader()(server.url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "javascript:1",
                                 "/relative/path", "http://"])
def test_downloader_only_fetches_http(url):
    with pytest.raises(InvalidInputError, match="http"):
        downloader()(url)


def test_downloader_refuses_private_networks_by_default(server):
    with pytest.raises(InvalidInputError, match="private or loopback"):
        TextDownloadTool()(server.url)
    assert server.requests == []


def test_downloader_checks_redirects(server):
    server.script = [{"status": 302, "headers": {"Location": "file:///etc/passwd"}},
                     {"status": 302, "headers": {"Location": "ftp://127.0.0.1/x"}},
                     {"status": 302, "headers": {"Location": "/final"}},
                     {"body": "arrived", "headers": {"Content-Type": "text/plain"}}]
    with pytest.raises(LLMBackendError, match="302"):  # urllib itself refuses file://
        downloader()(server.url + "/start")
    with pytest.raises(InvalidInputError, match="only fetches http"):
        downloader()(server.url + "/ftp")
    assert downloader()(server.url + "/again") == "arrived"
    assert [r["path"] for r in server.requests] == ["/start", "/ftp", "/again", "/final"]


def test_html_to_text_handles_broken_markup():
    assert html_to_text("<p>unclosed <b>bold<p>next") == "unclosed bold\nnext"


def test_images_from_urls_follow_the_downloader_rules(server):
    import io

    import numpy as np
    from PIL import Image

    from tfhf.agents.downloads import download_bytes
    from tfhf.images import load_image

    buf = io.BytesIO()
    Image.fromarray(np.full((3, 5, 3), 7, np.uint8)).save(buf, format="PNG")
    server.script = [{"body": buf.getvalue(), "headers": {"Content-Type": "image/png"}},
                     {"body": b"<html>gone</html>", "headers": {"Content-Type": "text/html"}}]
    local = lambda url: download_bytes(url, allow_private_networks=True)  # noqa: E731
    assert load_image(server.url + "/cat.png", download=local).size == (5, 3)
    with pytest.raises(InvalidInputError, match="not an image file"):
        load_image(server.url + "/page", download=local)
    with pytest.raises(InvalidInputError, match="private or loopback"):
        load_image(server.url + "/cat.png")  # the default rules refuse the loopback server
    assert [r["path"] for r in server.requests] == ["/cat.png", "/page"]
