"""``tfhf agent "TASK" [--model M] [--return-code] [--chat]``.

The LLM is a tfhf causal LM: ``--model`` takes a folder, a Hub repo id, a ``.gguf`` file or
``asset:NAME``; the default is the best installed offline asset for the job: the
Qwen2.5-Coder-0.5B-Instruct GGUF of ``qwen2.5-coder-0.5b`` (``tfhf assets install
qwen2.5-coder-0.5b``), the smallest model that solves most of docs/agent-eval.md's tasks, else
SmolLM2-135M (``smollm2``), which solves few. The model in use is named on standard error
unless ``-q``, with how to get a better one. ``--llm-tools`` runs the summarizer and text_qa tools on that
same LLM (their default checkpoints are Hub repos, unavailable offline). ``--chat`` keeps the conversation going: after the first task
it reads one follow-up task per line from standard input (an empty line or EOF ends it).
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_ASSET = "qwen2.5-coder-0.5b"
DEFAULT_MODEL = f"asset:{DEFAULT_ASSET}"
#: installed assets that can drive the agent, best first (docs/agent-eval.md)
AGENT_ASSETS = (DEFAULT_ASSET, "smollm2")
BETTER = {
    DEFAULT_ASSET: "a larger code model writes better programs: --model with e.g. a "
                   "Qwen2.5-Coder-1.5B/7B-Instruct GGUF file",
    "smollm2": f"SmolLM2-135M solves few tasks; `tfhf assets install {DEFAULT_ASSET}` gets "
               "Qwen2.5-Coder-0.5B, which solves most",
}


def _parser():
    p = argparse.ArgumentParser(prog="tfhf agent",
                                description="An LLM writes a short program that calls tools; "
                                            "tfhf runs it in its restricted interpreter.")
    p.add_argument("task", help="the task, in words")
    p.add_argument("--model", default=None,
                   help="folder, Hub repo id, .gguf file or asset:NAME (default: the "
                        f"{DEFAULT_ASSET} asset, Qwen2.5-Coder-0.5B-Instruct; install it with "
                        f"`tfhf assets install {DEFAULT_ASSET}`)")
    p.add_argument("--gguf-file", default=None, help="GGUF file inside --model's folder/repo")
    p.add_argument("--return-code", action="store_true",
                   help="print the program (runnable on its own) instead of running it")
    p.add_argument("--chat", action="store_true",
                   help="chat: read follow-up tasks from stdin, one per line")
    p.add_argument("--llm-tools", action="store_true",
                   help="run the summarizer and text_qa tools on the agent's own LLM instead "
                        "of their default Hub checkpoints (works offline)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--max-retries", type=int, default=1,
                   help="how many times a failed program is shown to the LLM for a corrected "
                        "one (default 1; 0: never)")
    p.add_argument("--constrained", action="store_true",
                   help="ban the statements the interpreter refuses (def, class, import...) "
                        "while decoding and correct near-miss tool and argument names "
                        "(LocalAgent(constrained=True))")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the result")
    return p


def _default_model():
    from .. import assets
    from ..errors import ModelNotFoundError

    for name in AGENT_ASSETS:
        if assets.is_installed(name):
            return f"asset:{name}"
    raise ModelNotFoundError(
        f"tfhf agent's default LLM, the {DEFAULT_ASSET} asset (Qwen2.5-Coder-0.5B-Instruct), "
        f"is not installed: install it with `tfhf assets install {DEFAULT_ASSET}`, or pass "
        "--model (a folder, a Hub repo id, a .gguf file or asset:NAME).")


LLM_TOOL_TASKS = ("summarization", "text-question-answering")


def _use_llm_tools(agent, spec):
    """Replace the curated tools that can run on a causal LM by ones on the agent's own (already
    loaded) model and tokenizer; ``--return-code`` programs load them from ``spec``."""
    from .tools import load_tool

    for task in LLM_TOOL_TASKS:
        t = load_tool(task, model_repo_id=agent.model, pre_processor=agent.tokenizer)
        t._tfhf_origin = {"task": task, "model_repo_id": spec, "remote": False}
        agent.toolbox[t.name] = t


def _describe(model):
    """How the LLM in use is named to the user: the asset and what it holds, or the path."""
    if model.startswith("asset:"):
        from .. import assets

        asset = assets.get(model[len("asset:"):])
        return f"{model} ({asset.holds.split(',')[0]})"
    return model


def _show(result, quiet):
    from .agents import AgentFailure

    if isinstance(result, AgentFailure):
        if quiet:  # otherwise the agent's log has just printed it
            print(str(result), file=sys.stderr)
        return 1
    if result is not None:
        to_string = getattr(result, "to_string", None)
        print(to_string() if callable(to_string) else result)
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .backends import LocalAgent

    model = args.model or _default_model()
    log = (lambda *a, **k: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    note = "" if args.model else \
        f" (the best installed asset; --model to change; {BETTER[model[len('asset:'):]]})"
    log(f"LLM: {_describe(model)}{note}")
    agent = LocalAgent.from_pretrained(model, gguf_file=args.gguf_file,
                                       max_new_tokens=args.max_new_tokens, log=log,
                                       correction_retries=args.max_retries,
                                       constrained=args.constrained)
    if args.llm_tools:
        _use_llm_tools(agent, model)
    if not args.chat:
        result = agent.run(args.task, return_code=args.return_code)
        return _show(result, args.quiet)
    rc = _show(agent.chat(args.task, return_code=args.return_code), args.quiet)
    for line in sys.stdin:
        task = line.strip()
        if not task:
            break
        rc = _show(agent.chat(task, return_code=args.return_code), args.quiet)
    return rc
