"""Tools: @tool, Tool, PipelineTool, RemoteTool, load_tool, the Hub tool format (folders and a
hand-built Hub cache, no network), trust_remote_code, and the agent types."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import typing
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest

from tfhf.agents import (AgentAudio, AgentImage, AgentText, LLMAuthenticationError,
                         PipelineTool, RemoteCodeError, RemoteTool, Tool, ToolError, evaluate,
                         load_tool, tool)
from tfhf.agents.registry import TOOL_REGISTRY, default_toolbox
from tfhf.errors import MissingDependencyError, ModelNotFoundError, UnsupportedModelError

sys.path.insert(0, str(Path(__file__).parent))
import sample_tools  # noqa: E402

# ---------------------------------------------------------------------------- @tool


def test_tool_decorator_reads_types_and_the_args_section():
    t = sample_tools.shorten
    assert isinstance(t, Tool) and t.name == "shorten"
    assert t.description == "Shortens a text to a given width, with an ellipsis."
    assert t.inputs == {
        "text": {"type": "text", "description": "the text to shorten"},
        "width": {"type": "integer", "description": "the largest number of characters to keep"}}
    assert t.output_type == "text"
    assert t("a fairly long sentence to cut", width=12) == "a fairly..."
    assert isinstance(t("x"), AgentText)


def test_tool_decorator_options_and_types():
    @tool(name="adder", output_type="number")
    def add(a: float, b: typing.Optional[int] = None, items: list = (), flag: bool = False,
            anything: typing.Any = None):
        """Adds numbers.

        Args:
            a: the first number, which may be described
                over two lines
            b (int): the second number
            items: more
            flag: a flag
            anything: whatever

        Returns:
            the sum
        """
        return a + (b or 0)

    assert add.name == "adder" and add.output_type == "number"
    assert add.description == "Adds numbers. Returns: the sum"
    assert add.inputs["a"] == {"type": "number", "description":
                               "the first number, which may be described over two lines"}
    assert [add.inputs[k]["type"] for k in ("b", "items", "flag", "anything")] == \
        ["integer", "list", "boolean", "any"]
    assert add(1.5, 2) == 3.5


@pytest.mark.parametrize("source, message", [
    ("def f(x: int):\n    return x", "needs a docstring"),
    ('def f(x: int, y: int):\n    """Does.\n\n    Args:\n        x: a\n    """', "'y' is not "
     "documented"),
    ('def f(x):\n    """Does.\n\n    Args:\n        x: a\n    """', "needs a type hint"),
    ('def f(*xs: int):\n    """Does.\n\n    Args:\n        xs: a\n    """', "\\*args"),
])
def test_tool_decorator_rejects_undescribable_functions(source, message):
    ns = {}
    exec(source, ns)
    with pytest.raises(ToolError, match=message):
        tool(ns["f"])


def test_tool_validation():
    class Bad(Tool):
        name = "not an identifier"
        description = "x"

    with pytest.raises(ToolError, match="identifier"):
        Bad().validate()

    class NoDesc(Tool):
        name = "ok"
        description = " "

    with pytest.raises(ToolError, match="description"):
        NoDesc().validate()

    class BadType(Tool):
        name = "ok"
        inputs = {"x": {"type": "tensor", "description": ""}}

    with pytest.raises(ToolError, match="type"):
        BadType().validate()

    class Legacy(Tool):  # transformers 4.29 style: inputs as a list of types
        name = "legacy"
        inputs = ["text"]

    assert Legacy().validate() == {"input": {"type": "text", "description": ""}}


def test_setup_runs_once_before_the_first_call():
    class Counter(Tool):
        name = "counter"
        description = "counts setups"
        setups = 0

        def setup(self):
            Counter.setups += 1
            self.is_initialized = True

        def forward(self):
            return Counter.setups

    c = Counter()
    assert Counter.setups == 0
    assert c() == 1 and c() == 1


# ------------------------------------------------------------------------ save/load


def test_save_writes_the_hub_tool_format_with_a_standalone_file(tmp_path):
    sample_tools.word_count.save(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["requirements.txt", "tool.py", "tool_config.json"]
    config = json.loads((tmp_path / "tool_config.json").read_text())
    assert config == {"tool_class": "tool.WordCountTool", "name": "word_count",
                      "description": "Counts the words of a text.",
                      "inputs": {"text": {"type": "text",
                                          "description": "the text whose words are counted"}},
                      "output_type": "integer"}
    source = (tmp_path / "tool.py").read_text()
    assert "SEPARATOR = \" \"" in source and "def word_count(text: str) -> int:" in source
    assert "@tool" not in source and "import json" not in source and "_reverse" not in source
    assert "class WordCountTool(_TfhfTool):" in source
    assert (tmp_path / "requirements.txt").read_text() == "tfhf\n"


def test_saved_class_tool_keeps_the_helpers_it_uses(tmp_path):
    sample_tools.ReverseTool().save(tmp_path / "rev")
    source = (tmp_path / "rev" / "tool.py").read_text()
    assert "def _reverse(text):" in source and "from tfhf.agents import Tool, tool" in source
    assert "word_count" not in source
    sample_tools.JsonTool().save(tmp_path / "json")
    assert "import json" in (tmp_path / "json" / "tool.py").read_text()


def test_requirements_list_third_party_imports(tmp_path):
    module = tmp_path / "np_tool_module.py"
    module.write_text(textwrap.dedent('''
        import os
        import numpy as np
        from tfhf.agents import tool

        @tool
        def mean(values: list) -> float:
            """Mean of numbers.

            Args:
                values: the numbers
            """
            return float(np.mean(values)) + 0 * len(os.sep)
        '''))
    sys.path.insert(0, str(tmp_path))
    try:
        import np_tool_module
    finally:
        sys.path.remove(str(tmp_path))
    np_tool_module.mean.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "requirements.txt").read_text() == "numpy\ntfhf\n"


def test_loading_code_needs_trust_remote_code(tmp_path):
    sample_tools.word_count.save(tmp_path)
    with pytest.raises(RemoteCodeError) as ei:
        load_tool(str(tmp_path))
    assert "tool.py" in str(ei.value) and "trust_remote_code=True" in str(ei.value)
    with pytest.raises(RemoteCodeError):
        Tool.from_hub(str(tmp_path))


def test_save_then_load_round_trip(tmp_path):
    sample_tools.shorten.save(tmp_path)
    t = load_tool(str(tmp_path), trust_remote_code=True)
    assert t.name == "shorten" and t.inputs == sample_tools.shorten.inputs
    assert t("a fairly long sentence to cut", width=12) == "a fairly..."
    assert t._tfhf_origin["repo_id"] == str(tmp_path)
    assert evaluate("shorten(text='one two three four five six', width=10)",
                    {"shorten": t}) == "one two..."


def test_a_saved_tool_loads_in_a_fresh_process(tmp_path):
    sample_tools.ReverseTool().save(tmp_path / "rev")
    code = ("from tfhf import load_tool\n"
            f"t = load_tool({str(tmp_path / 'rev')!r}, trust_remote_code=True)\n"
            "print(t('abc'), t.name)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "cba reverser"


def _hub_cache(root, repo_type, repo_id, files, commit="b" * 40):
    folder = Path(root) / f"{repo_type}s--{repo_id.replace('/', '--')}"
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    for name, path in files.items():
        (snap / name).write_bytes(Path(path).read_bytes())
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    return str(root)


@pytest.mark.parametrize("repo_type", ["space", "model"])
def test_from_hub_reads_the_hub_cache_offline(tmp_path, repo_type):
    saved = tmp_path / "saved"
    sample_tools.ReverseTool().save(saved)
    cache = _hub_cache(tmp_path / "cache", repo_type, "someone/reverser",
                       {f: saved / f for f in os.listdir(saved)})
    t = Tool.from_hub("someone/reverser", trust_remote_code=True, cache_dir=cache)
    assert t("hub") == "buh" and t.name == "reverser"
    assert t._tfhf_origin["repo_id"] == "someone/reverser"


def test_from_hub_uses_the_default_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    saved = tmp_path / "saved"
    sample_tools.word_count.save(saved)
    cache = _hub_cache(tmp_path / "cache", "space", "someone/wc",
                       {f: saved / f for f in os.listdir(saved)})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", cache)
    assert load_tool("someone/wc", trust_remote_code=True)("a b") == 2


def test_uncached_hub_tool_offline_is_a_clear_error(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError) as ei:
        load_tool("someone/absent", trust_remote_code=True, cache_dir=str(tmp_path))
    msg = str(ei.value)
    assert "someone/absent" in msg and "HF_HUB_OFFLINE=1" in msg and "tool_config.json" in msg


def test_missing_folder_and_non_tool_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="No tool folder"):
        load_tool(str(tmp_path / "nope"), trust_remote_code=True)
    with pytest.raises(ModelNotFoundError, match="not a saved tool"):
        load_tool(str(tmp_path), trust_remote_code=True)


def test_missing_requirements_are_named(tmp_path):
    sample_tools.word_count.save(tmp_path)
    (tmp_path / "requirements.txt").write_text("tfhf\nsurely-not-installed-pkg>=1.0\n")
    with pytest.raises(MissingDependencyError, match="surely-not-installed-pkg>=1.0"):
        load_tool(str(tmp_path), trust_remote_code=True)


def test_transformers_first_tool_config_format(tmp_path):
    sample_tools.word_count.save(tmp_path)
    config = json.loads((tmp_path / "tool_config.json").read_text())
    (tmp_path / "tool_config.json").write_text(json.dumps({"word-count": {
        "tool_class": config["tool_class"], "name": "word_count",
        "description": config["description"]}}))
    assert load_tool(str(tmp_path), trust_remote_code=True)("a b c") == 3


def test_bad_tool_configs(tmp_path):
    sample_tools.word_count.save(tmp_path)
    (tmp_path / "tool_config.json").write_text(json.dumps({"tool_class": "tool.Missing"}))
    with pytest.raises(ToolError, match="no Tool subclass 'Missing'"):
        load_tool(str(tmp_path), trust_remote_code=True)
    (tmp_path / "tool_config.json").write_text(json.dumps({"tool_class": "../evil.X"}))
    with pytest.raises(ToolError, match="bad tool_class"):
        load_tool(str(tmp_path), trust_remote_code=True)
    (tmp_path / "tool_config.json").write_text("[1, 2]")
    with pytest.raises(ToolError, match="not a JSON object"):
        load_tool(str(tmp_path), trust_remote_code=True)


def test_push_to_hub_uploads_the_saved_files(monkeypatch):
    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, **kwargs):
            calls["create"] = (repo_id, kwargs)
            return type("Url", (), {"repo_id": repo_id})()

        def upload_folder(self, repo_id, folder_path, **kwargs):
            calls["upload"] = (repo_id, sorted(os.listdir(folder_path)), kwargs)
            config = json.loads(Path(folder_path, "tool_config.json").read_text())
            calls["config"] = config
            return "commit-info"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert sample_tools.word_count.push_to_hub("me/wc", token="hf_x") == "commit-info"
    assert calls["token"] == "hf_x"
    assert calls["create"] == ("me/wc", {"private": None, "exist_ok": True, "repo_type": "space",
                                         "space_sdk": "gradio"})
    assert calls["upload"][1] == ["app.py", "requirements.txt", "tool.py", "tool_config.json"]
    assert calls["upload"][2]["repo_type"] == "space"
    assert calls["config"]["name"] == "word_count"
    sample_tools.word_count.push_to_hub("me/wc", repo_type="model")
    assert calls["create"][1] == {"private": None, "exist_ok": True, "repo_type": "model"}
    assert "app.py" not in calls["upload"][1]


# --------------------------------------------------------------------------- registry


def test_registry_tasks_and_their_tools():
    available = {t for t, s in TOOL_REGISTRY.items() if s.available}
    assert available == {"text-classification", "zero-shot-classification",
                         "text-question-answering", "summarization", "translation",
                         "text-download", "speech-to-text", "text-to-speech",
                         "image-captioning", "image-question-answering", "image-segmentation",
                         "document-question-answering"}
    assert {"speech-to-text", "text-to-speech"} <= set(TOOL_REGISTRY)
    box = default_toolbox()
    assert set(box) == {"text_classifier", "zero_shot_classifier", "text_qa", "summarizer",
                        "translator", "text_downloader", "transcriber", "text_reader",
                        "image_captioner", "image_qa", "image_segmenter", "document_qa"}
    for t in box.values():
        t.validate()
        assert not getattr(t, "pipeline", None)  # nothing loaded


def test_planned_tasks_say_they_are_not_available(monkeypatch):
    """Every curated task has a tool now; a planned row (the mechanism) still says so."""
    from tfhf.agents.registry import planned

    assert all(s.available for s in TOOL_REGISTRY.values())
    monkeypatch.setitem(TOOL_REGISTRY, "video-captioning",
                        planned("video-captioning", None, "tfhf has no video family yet."))
    with pytest.raises(UnsupportedModelError, match="not available in tfhf yet"):
        load_tool("video-captioning")
    assert "video-captioning" not in {t._tfhf_origin["task"] for t in default_toolbox().values()}


def test_load_tool_by_task_and_alias():
    t = load_tool("sentiment-analysis", model_repo_id="/some/folder")
    assert t.name == "text_classifier" and t.model == "/some/folder"
    assert t._tfhf_origin == {"task": "text-classification", "model_repo_id": "/some/folder",
                              "remote": False}
    assert load_tool("text-download", max_bytes=10).max_bytes == 10
    with pytest.raises(UnsupportedModelError, match="no remote"):
        load_tool("text-download", remote=True)


# ---------------------------------------------------------------------- PipelineTool


class FakeTokenizer:
    loaded = []

    @classmethod
    def from_pretrained(cls, name, **kwargs):
        cls.loaded.append(("tok", name, kwargs))
        return cls()

    def __call__(self, text, return_tensors=None):
        return {"ids": [len(w) for w in text.split()]}


class FakeModel:
    @classmethod
    def from_pretrained(cls, name, **kwargs):
        FakeTokenizer.loaded.append(("model", name, kwargs))
        return cls()

    def __call__(self, inputs):
        return sum(inputs["ids"])


class LengthTool(PipelineTool):
    name = "length"
    description = "Sums word lengths."
    inputs = {"text": {"type": "text", "description": "a text"}}
    output_type = "integer"
    pre_processor_class = FakeTokenizer
    model_class = FakeModel
    default_checkpoint = "org/default"

    def decode(self, outputs):
        return outputs * 10


def test_pipeline_tool_loads_lazily_then_encodes_forwards_decodes():
    FakeTokenizer.loaded = []
    t = LengthTool(token="tk", model_kwargs={"dtype": "float32"})
    assert FakeTokenizer.loaded == []
    assert t("ab cde") == 50
    assert FakeTokenizer.loaded == [("tok", "org/default", {"token": "tk"}),
                                    ("model", "org/default", {"token": "tk",
                                                              "dtype": "float32"})]
    assert t("a") == 10 and len(FakeTokenizer.loaded) == 2


def test_pipeline_tool_needs_a_checkpoint():
    from tfhf.errors import ConfigError

    class NoDefault(LengthTool):
        default_checkpoint = None

    with pytest.raises(ConfigError, match="default checkpoint"):
        NoDefault()


# ------------------------------------------------------------------------ RemoteTool


def test_remote_tool_posts_json_and_retries(server):
    server.script = [{"status": 503, "body": "{}"}, {"body": [[{"answer": 42}]]}]

    class Answer(RemoteTool):
        name = "answerer"
        description = "answers"

        def extract_outputs(self, outputs):
            return outputs[0]["answer"]

    t = Answer(server.url + "/models/x", token="tok", backoff=0.01)
    assert t("question?") == 42
    assert [r["json"] for r in server.requests] == [{"inputs": "question?"}] * 2
    assert server.requests[1]["headers"]["authorization"] == "Bearer tok"
    server.script = [{"status": 401, "body": {"error": "bad token"}}]
    with pytest.raises(LLMAuthenticationError, match="bad token"):
        t("again")


def test_curated_remote_tools_speak_the_inference_api(server):
    server.script = [
        {"body": {"labels": ["sport", "politics"], "scores": [0.8, 0.2]}},
        {"body": {"answer": "Paris", "score": 0.9}},
        {"body": [{"summary_text": "Short."}]},
    ]
    zs = load_tool("zero-shot-classification", server.url + "/zs", remote=True)
    assert zs("The match ended 2-1.", ["politics", "sport"]) == "sport"
    qa = load_tool("text-question-answering", server.url + "/qa", remote=True)
    assert qa(text="Paris is the capital.", question="What is the capital?") == "Paris"
    summ = load_tool("summarization", server.url + "/sum", remote=True)
    assert summ("A long text.") == "Short."
    assert server.requests[0]["json"] == {"inputs": "The match ended 2-1.",
                                          "parameters": {"candidate_labels": ["politics",
                                                                              "sport"]}}
    assert server.requests[1]["json"] == {"inputs": {"question": "What is the capital?",
                                                     "context": "Paris is the capital."}}


# ------------------------------------------------------------------------ agent types


def _read_png(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag = data[pos + 4:pos + 8]
        chunks.setdefault(tag, b"")
        chunks[tag] += data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert crc == zlib.crc32(tag + data[pos + 8:pos + 8 + length]) & 0xFFFFFFFF
        pos += 12 + length
    w, h, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    raw = zlib.decompress(chunks[b"IDAT"])
    channels = {0: 1, 2: 3, 6: 4}[color]
    rows = [raw[i * (1 + w * channels) + 1:(i + 1) * (1 + w * channels)] for i in range(h)]
    return np.frombuffer(b"".join(rows), np.uint8).reshape(h, w, channels)


def test_agent_image_to_string_writes_a_png():
    pixels = (np.arange(2 * 3 * 3) * 9).astype(np.uint8).reshape(2, 3, 3)
    img = AgentImage(pixels)
    path = img.to_string()
    assert path.endswith(".png") and img.to_string() == path
    np.testing.assert_array_equal(_read_png(path), pixels)
    assert AgentImage(path).to_string() == path


def test_agent_image_to_raw_needs_pillow():
    try:
        import PIL  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="Pillow"):
            AgentImage(np.zeros((2, 2, 3), np.uint8)).to_raw()
    else:
        raw = AgentImage(np.zeros((2, 2, 3), np.uint8)).to_raw()
        assert raw.size == (2, 2)


def test_agent_audio_round_trips_through_wav():
    samples = np.sin(np.linspace(0, 20, 800)).astype(np.float32) * 0.5
    audio = AgentAudio(samples, samplerate=8000)
    path = audio.to_string()
    with wave.open(path, "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == \
            (8000, 1, 2, 800)
    back = AgentAudio(path).to_raw()
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, samples, atol=1e-4)
    ints = AgentAudio(np.array([0, 16384, -32768], np.int16)).to_raw()
    np.testing.assert_allclose(ints, [0, 0.5, -1.0])


def test_tool_outputs_become_agent_types_in_programs():
    class MakeImage(Tool):
        name = "make_image"
        description = "draws"
        output_type = "image"

        def forward(self):
            return np.zeros((4, 4), np.uint8)

    state = {}
    result = evaluate("img = make_image()\nprint(f'saved to {img}')\nimg", {"make_image":
                                                                         MakeImage()}, state)
    assert isinstance(result, AgentImage)
    assert state["_print_outputs"] == f"saved to {result.to_string()}\n"
    _read_png(result.to_string())
