"""`tfhf chat` and `tfhf generate`, used as a new user would: subprocesses reading stdin, the
printed completion checked against PyTorch transformers' greedy generate on the same tiny
random Llama checkpoint (written by PyTorch, with a small word-level tokenizer that has a
ChatML chat template), bad input giving clear messages, and one smoke run on the real
SmolLM2 asset."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from tfhf import assets, chat, cli

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from chat_fixtures import NEW, SPECIAL, TEMPLATE, WORDS, save_tokenizer, tiny  # noqa: E402,F401

ENV = dict(os.environ, HF_HUB_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2",
           TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")


def torch_reply(tiny, messages=None, prompt=None, max_new_tokens=NEW, stop_ids=(2, 0)):
    """PyTorch greedy continuation of a chat (rendered with the template) or a plain prompt:
    the new text as TextStreamer prints it (special tokens skipped)."""
    _, pt, tok = tiny
    if messages is not None:
        ids = tok.apply_chat_template(messages, add_generation_prompt=True)["input_ids"]
    else:
        ids = tok(prompt)["input_ids"]
    with torch.no_grad():
        out = pt.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                                                                         dtype=torch.long),
                          max_new_tokens=max_new_tokens, do_sample=False,
                          eos_token_id=list(stop_ids), pad_token_id=0)
    return tok.decode(out[0, len(ids):], skip_special_tokens=True)


def run_tfhf(*argv, stdin="", timeout=600):
    return subprocess.run([sys.executable, "-m", "tfhf.cli", *argv], input=stdin, text=True,
                          capture_output=True, env=ENV, timeout=timeout)


_LOADED = {}


@pytest.fixture
def cached_load(monkeypatch):
    """In-process CLI runs share one loaded model per argument set (one XLA compile per
    shape instead of one per call); the resolution and loading code still runs once."""
    real = chat.load

    def load(model=None, gguf_file=None, dtype=None, chat_template=None, verbose=True,
             quantization=None):
        key = (model, gguf_file, dtype, chat_template, quantization)
        if key not in _LOADED:
            _LOADED[key] = real(model, gguf_file, dtype, chat_template, verbose,
                                quantization=quantization)
        return _LOADED[key]

    monkeypatch.setattr(chat, "load", load)


def run_cli(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------ chat, as a subprocess
def test_chat_subprocess_keeps_history_resets_and_exits(tiny):
    path = tiny[0]
    r = run_tfhf("chat", "--model", path, "--max-new-tokens", str(NEW), "--greedy",
                 stdin="Hello\nhow are you?\n/reset\nHello\n/exit\nnever read\n")
    assert r.returncode == 0, r.stderr
    first = torch_reply(tiny, [{"role": "user", "content": "Hello"}])
    second = torch_reply(tiny, [{"role": "user", "content": "Hello"},
                                {"role": "assistant", "content": first.strip()},
                                {"role": "user", "content": "how are you?"}])
    assert first and second and first != second  # the history changes the second reply
    # after /reset the conversation starts over: the third reply equals the first
    assert r.stdout == f"{first}\n{second}\n{first}\n"
    assert "(history cleared)" in r.stderr
    assert "/reset" in r.stderr and "/exit" in r.stderr  # the banner says how to use it
    assert "Traceback" not in r.stderr


def test_chat_ends_at_end_of_input(tiny, cached_load, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello\n"))
    rc, out, err = run_cli(capsys, "chat", "--model", tiny[0], "--max-new-tokens", str(NEW),
                           "--greedy")
    assert rc == 0, err
    assert out == torch_reply(tiny, [{"role": "user", "content": "Hello"}]) + "\n"


def test_chat_commands_system_prompt_and_escaped_slash(tiny, cached_load, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n/help\n/nonsense\n//what is this\n/quit\n"))
    rc, out, err = run_cli(capsys, "chat", "--model", tiny[0], "--max-new-tokens", str(NEW),
                           "--system", "you are a helpful model", "--no-stream", "--greedy")
    assert rc == 0
    assert "Unknown command /nonsense" in err
    assert "/reset" in err and "forget the conversation" in err
    expected = torch_reply(tiny, [{"role": "system", "content": "you are a helpful model"},
                                  {"role": "user", "content": "/what is this"}])
    assert out == expected.strip() + "\n"


def test_chat_session_history_and_context_trimming(tiny, cached_load):
    model, tok = chat.load(tiny[0])
    err = io.StringIO()
    session = chat.ChatSession(model, tok, system="be short", out=io.StringIO(), err=err,
                               max_new_tokens=NEW)
    first = session.send("hello")
    assert [m["role"] for m in session.messages] == ["system", "user", "assistant"]
    assert session.messages[2]["content"] == first
    session.reset()
    assert session.messages == [{"role": "system", "content": "be short"}]
    # a context that only holds about one exchange: the oldest turns go, the system stays
    session.context = 30
    for text in ("hello", "tell me about the river", "and the stone"):
        session.send(text)
    assert "dropped the" in err.getvalue()
    assert session.messages[0] == {"role": "system", "content": "be short"}
    assert session.messages[-2] == {"role": "user", "content": "and the stone"}
    assert {"role": "user", "content": "hello"} not in session.messages
    assert len(chat.render(tok, session.messages[:-1])) <= 30 - NEW
    session.context = 10
    with pytest.raises(chat.InvalidInputError, match="too long"):
        session.send("hello")
    assert session.messages[-1]["role"] == "assistant"  # the failed turn left no trace


# ------------------------------------------------------------------ generate
def test_generate_subprocess_prints_the_streamed_completion(tiny):
    r = run_tfhf("generate", "--model", tiny[0], "--prompt", "tell me about the river",
                 "--max-new-tokens", str(NEW))
    assert r.returncode == 0, r.stderr
    assert r.stdout == torch_reply(tiny, prompt="tell me about the river",
                                   stop_ids=(2,)) + "\n"


def test_generate_chat_and_stdin_prompt(tiny, cached_load, capsys, monkeypatch):
    rc, out, _ = run_cli(capsys, "generate", "--model", tiny[0], "--prompt", "hello again",
                         "--chat", "--max-new-tokens", str(NEW))
    assert rc == 0
    assert out == torch_reply(tiny, [{"role": "user", "content": "hello again"}]) + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO("tell me about the river\n"))
    rc, out, _ = run_cli(capsys, "generate", "--model", tiny[0], "--prompt", "-",
                         "--max-new-tokens", str(NEW), "--no-stream")
    assert rc == 0
    assert out == torch_reply(tiny, prompt="tell me about the river\n", stop_ids=(2,)) + "\n"


def test_generate_sampling_is_reproducible_with_a_seed(tiny, cached_load, capsys):
    def sample(seed):
        rc, out, err = run_cli(capsys, "generate", "--model", tiny[0], "--prompt", "hello",
                               "--max-new-tokens", "12", "--do-sample", "--temperature", "1.5",
                               "--top-p", "0.95", "--seed", str(seed))
        assert rc == 0, err
        return out

    a, b, c = sample(7), sample(7), sample(8)
    assert a == b
    assert a != c
    greedy = run_cli(capsys, "generate", "--model", tiny[0], "--prompt", "hello",
                     "--max-new-tokens", "12")[1]
    assert a != greedy  # at temperature 1.5 twelve sampled tokens are not the greedy ones


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("argv, code, message", [
    (["generate", "--model", "/no/such/model", "--prompt", "hi"], 1,
     "No model folder or file at '/no/such/model'"),
    (["chat", "--model", "./missing-folder"], 1, "No model folder or file at"),
    (["generate", "--prompt", "", "--model", "x"], 1, "--prompt is empty"),
    (["generate", "--prompt", "   \n", "--model", "x"], 1, "--prompt is empty"),
    (["generate", "--model", "x"], 2, "the following arguments are required: --prompt"),
    (["generate", "--prompt", "hi", "--max-new-tokens", "0"], 2,
     "--max-new-tokens: must be a positive integer, got 0"),
    (["chat", "--max-new-tokens", "-3"], 2, "must be a positive integer, got -3"),
    (["chat", "--max-new-tokens", "many"], 2, "expected a positive integer, got 'many'"),
    (["generate", "--prompt", "hi", "--temperature", "0.7"], 1,
     "--temperature: used only when sampling; add --do-sample"),
    (["generate", "--prompt", "hi", "--do-sample", "--top-p", "1.5"], 1,
     "--top-p must be in (0, 1]"),
    (["generate", "--prompt", "hi", "--do-sample", "--temperature", "0"], 1,
     "--temperature must be > 0"),
    (["generate", "--prompt", "hi", "--system", "be nice"], 1, "--system needs --chat"),
])
def test_bad_input_gives_a_clear_message(capsys, argv, code, message):
    rc, out, err = run_cli(capsys, *argv)
    assert rc == code
    assert message in err and not out
    assert "Traceback" not in err


def test_model_arguments_that_cannot_work(tmp_path, capsys, monkeypatch):
    (tmp_path / "notes.txt").write_text("not a model")
    rc, _, err = run_cli(capsys, "generate", "--model", str(tmp_path / "notes.txt"),
                         "--prompt", "hi")
    assert rc == 1 and "is a file but not a GGUF file" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = run_cli(capsys, "chat", "--model", str(empty))
    assert rc == 1 and "holds no model" in err
    for name in ("a.gguf", "b.gguf"):
        (empty / name).write_bytes(b"GGUF")
    rc, _, err = run_cli(capsys, "chat", "--model", str(empty))
    assert rc == 1 and "several GGUF files (a.gguf, b.gguf)" in err and "--gguf-file" in err
    monkeypatch.setattr(assets, "is_installed", lambda name: False)
    rc, _, err = run_cli(capsys, "chat")
    assert rc == 1 and "tfhf assets install smollm2" in err and "--model" in err


def test_a_model_that_cannot_generate_is_named(tmp_path, capsys):
    save_tokenizer(tmp_path)
    transformers.BertConfig(vocab_size=len(SPECIAL + WORDS), hidden_size=32,
                            num_hidden_layers=1, num_attention_heads=4,
                            intermediate_size=37).save_pretrained(tmp_path)
    rc, _, err = run_cli(capsys, "generate", "--model", str(tmp_path), "--prompt", "hi")
    assert rc == 1 and "bert" in err and "Traceback" not in err


def test_a_gguf_file_or_asset_name_resolves_to_folder_and_file(tmp_path, monkeypatch):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert chat.resolve_model(str(f)) == (str(tmp_path), "m.gguf")
    assert chat.resolve_model(str(tmp_path)) == (str(tmp_path), "m.gguf")
    assert chat.resolve_model(str(tmp_path), "m.gguf") == (str(tmp_path), "m.gguf")
    with monkeypatch.context() as m:  # a Hub repo id passes through when the Hub is usable
        m.setattr(chat, "check_hub_reachable", lambda *a, **k: None)
        assert chat.resolve_model("org/some-model") == ("org/some-model", None)
    with pytest.raises(chat.InvalidInputError, match="--gguf-file names a file"):
        chat.resolve_model(str(f), "m.gguf")
    if assets.is_installed("smollm2"):
        folder, name = chat.resolve_model("smollm2")
        assert os.path.join(folder, name) == assets.path("smollm2")


def test_chat_without_a_chat_template_says_what_to_do(tiny, tmp_path, capsys, monkeypatch):
    import shutil

    path = tmp_path / "no_template"
    shutil.copytree(tiny[0], path)
    for name in ("chat_template.jinja",):
        if (path / name).exists():
            (path / name).unlink()
    save_tokenizer(path, chat_template=None)
    monkeypatch.setattr(sys, "stdin", io.StringIO("hello\n"))
    rc, _, err = run_cli(capsys, "chat", "--model", str(path))
    assert rc == 1
    assert "has no chat template" in err and "--chat-template" in err
    # the template can be supplied on the command line
    (tmp_path / "t.jinja").write_text(TEMPLATE)
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello\n"))
    rc, out, err = run_cli(capsys, "chat", "--model", str(path), "--chat-template",
                           str(tmp_path / "t.jinja"), "--max-new-tokens", str(NEW), "--greedy")
    assert rc == 0, err
    assert out == torch_reply(tiny, [{"role": "user", "content": "Hello"}]) + "\n"


# ------------------------------------------------------------------ the real SmolLM2 asset
@pytest.mark.skipif(not assets.is_installed("smollm2"),
                    reason="offline asset 'smollm2' is not installed: run "
                           "`tfhf assets install smollm2`")
def test_chat_smoke_on_real_smollm2():
    r = run_tfhf("chat", "--max-new-tokens", "8", stdin="Hello\n/exit\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), r.stderr  # SmolLM2 answers something
    assert "Traceback" not in r.stderr and "tfhf: error" not in r.stderr


# ------------------------------------------------------------------ quiet by default (12.8)
NOISE = ("oneDNN", "cuda", "cuInit", "absl::InitializeLog", "PyTorch was not found",
         "Setting `pad_token_id`", "TF_ENABLE_ONEDNN_OPTS", "cpu_feature_guard")


def test_generate_prints_only_the_completion_and_no_library_noise(tiny):
    """Without TF_CPP_MIN_LOG_LEVEL set by the caller: stderr holds tfhf's one "Loading"
    line and generate's one-time compile notice, nothing from TensorFlow, transformers or
    tfhf's logger; stdout the completion."""
    env = {k: v for k, v in ENV.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",
                                                      "TFHF_COMPILE_NOTICE")}
    r = subprocess.run([sys.executable, "-m", "tfhf.cli", "generate", "--model", tiny[0],
                        "--prompt", "hello", "--max-new-tokens", str(NEW)], text=True,
                       capture_output=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[0] == f"Loading {tiny[0]} ..." and len(lines) == 2, r.stderr
    assert lines[1].startswith("tfhf: compiling the "), r.stderr  # 12.10, see below
    assert r.stdout == torch_reply(tiny, prompt="hello", stop_ids=(2,)) + "\n"
    for needle in NOISE:
        assert needle not in r.stdout + r.stderr, needle
    verbose = subprocess.run([sys.executable, "-m", "tfhf.cli", "generate", "--verbose",
                              "--model", tiny[0], "--prompt", "hello", "--max-new-tokens",
                              str(NEW)], text=True, capture_output=True, env=env, timeout=600)
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout == r.stdout


def test_generate_shows_its_one_time_compilation_on_stderr(tiny):
    """Issue 12.10: the first call says, in one stderr line naming the shapes, that a
    one-time compilation runs; the completion on stdout stays clean."""
    env = {k: v for k, v in ENV.items() if k != "TFHF_COMPILE_NOTICE"}
    r = subprocess.run([sys.executable, "-m", "tfhf.cli", "generate", "--model", tiny[0],
                        "--prompt", "tell me about the river", "--max-new-tokens", str(NEW)],
                       text=True, capture_output=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    notices = [line for line in r.stderr.splitlines() if line.startswith("tfhf: compiling")]
    assert len(notices) == 1, r.stderr
    assert "decode loop" in notices[0] and "batch 1" in notices[0], notices
    assert "prompt bucket" in notices[0] and "once for these shapes" in notices[0], notices
    assert "compiling" not in r.stdout
    assert r.stdout == torch_reply(tiny, prompt="tell me about the river", stop_ids=(2,)) + "\n"


def test_the_chat_prompt_goes_to_standard_output():
    """`tfhf chat 2>/dev/null` on a terminal still shows the >>> prompt."""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    class Session:
        stream = False

        def send(self, text):
            return "reply to " + text

    out, err = io.StringIO(), io.StringIO()
    assert chat.run_chat(Session(), stdin=Terminal("hi\n"), out=out, err=err) == 0
    assert out.getvalue().startswith(">>> reply to hi\n>>> ")
    assert ">>>" not in err.getvalue()


# ------------------------------------------------------------------ fast, clear failures (12.9)
def test_a_mistyped_asset_name_fails_at_once_with_a_suggestion(capsys, monkeypatch):
    import socket

    def no_network(*a, **k):
        raise AssertionError("no network call for a mistyped asset name")

    monkeypatch.setattr(socket, "create_connection", no_network)
    rc, out, err = run_cli(capsys, "generate", "--model", "smolm2", "--prompt", "hi")
    assert rc == 1 and out == ""
    assert "Unknown asset 'smolm2', did you mean 'smollm2'?" in err
    with pytest.raises(chat.ModelNotFoundError, match="did you mean 'qwen2.5-coder-0.5b'"):
        chat.resolve_model("qwen2.5-coder-0.5")
    from tfhf.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="Did you mean 'smollm2'"):
        assets.get("smolm2")


def test_a_hub_id_without_the_hub_fails_at_once(monkeypatch):
    import socket

    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(chat.ModelNotFoundError, match="HF_HUB_OFFLINE=1") as e:
        chat.resolve_model("someone/not-cached-model")
    assert "not in the local cache" in str(e.value)

    def unreachable(*a, **k):
        raise OSError("Network is unreachable")

    from tfhf.hub import resolve

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    resolve.forget_hub_probe()  # the one probe per process: made here, with no network
    with pytest.raises(chat.ModelNotFoundError, match="cannot be reached") as e:
        chat.resolve_model("someone/not-cached-model")
    resolve.forget_hub_probe()
    assert "Network is unreachable" in str(e.value) and "check your network" in \
        str(e.value).lower()


# ------------------------------------------------------------------ chat sampling defaults (12.11)
def chat_args(*argv):
    return chat.chat_parser().parse_args(list(argv))


def test_chat_samples_with_tfhf_defaults_when_the_model_sets_none(tiny):
    kw, said = chat.chat_generation_kwargs(chat_args(), tiny[0])
    assert kw == {"max_new_tokens": chat.CHAT_MAX_NEW_TOKENS, **chat.CHAT_SAMPLING}
    assert kw["do_sample"] and kw["repetition_penalty"] > 1
    assert "tfhf chat's defaults" in said and "--greedy" in said
    kw, _ = chat.chat_generation_kwargs(chat_args("--temperature", "0.3", "--top-k", "5"),
                                        tiny[0])
    assert (kw["temperature"], kw["top_k"], kw["top_p"]) == (0.3, 5, 0.9)  # flags win
    kw, said = chat.chat_generation_kwargs(chat_args("--greedy"), tiny[0])
    assert kw == {"max_new_tokens": chat.CHAT_MAX_NEW_TOKENS, "do_sample": False}
    assert "greedy" in said


def test_chat_uses_the_model_generation_config(tmp_path):
    import json

    (tmp_path / "generation_config.json").write_text(json.dumps(
        {"do_sample": True, "temperature": 0.6, "top_p": 0.8, "top_k": 20,
         "repetition_penalty": 1.05}))
    kw, said = chat.chat_generation_kwargs(chat_args(), str(tmp_path))
    assert (kw["do_sample"], kw["temperature"], kw["top_p"], kw["top_k"],
            kw["repetition_penalty"]) == (True, 0.6, 0.8, 20, 1.05)
    assert "generation_config.json" in said
    kw, _ = chat.chat_generation_kwargs(chat_args("--top-p", "0.5"), str(tmp_path))
    assert kw["top_p"] == 0.5 and kw["temperature"] == 0.6
    # a generation config without do_sample (greedy by transformers' default) sets nothing
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": 2}))
    kw, _ = chat.chat_generation_kwargs(chat_args(), str(tmp_path))
    assert kw["temperature"] == chat.CHAT_SAMPLING["temperature"]


def test_chat_uses_gguf_sampling_metadata(tmp_path):
    gguf = pytest.importorskip("gguf")
    w = gguf.GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    w.add_float32("general.sampling.temp", 0.25)
    w.add_float32("general.sampling.top_p", 0.95)
    w.add_int32("general.sampling.top_k", 40)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    kw, said = chat.chat_generation_kwargs(chat_args(), str(tmp_path), "m.gguf")
    assert (kw["temperature"], kw["top_p"], kw["top_k"]) == pytest.approx((0.25, 0.95, 40))
    assert kw["repetition_penalty"] == chat.CHAT_SAMPLING["repetition_penalty"]
    assert "GGUF metadata of m.gguf" in said


def test_chat_sampling_runs_and_is_reproducible_with_a_seed(tiny, cached_load, capsys,
                                                            monkeypatch):
    outs = []
    for _ in range(2):
        monkeypatch.setattr(sys, "stdin", io.StringIO("Hello\n"))
        rc, out, err = run_cli(capsys, "chat", "--model", tiny[0], "--max-new-tokens", str(NEW),
                               "--seed", "3")
        assert rc == 0, err
        assert "sampling with temperature 0.7" in err
        outs.append(out)
    assert outs[0] == outs[1] and outs[0].strip()
