"""Evaluate an LLM as a tfhf agent: 10 simple tasks over the curated tools.

    python scripts/eval_agent.py                                   # default: Qwen2.5-Coder-0.5B
    python scripts/eval_agent.py --model asset:smollm2 --json out.json
    python scripts/eval_agent.py --tasks 1,2,3 --show-code

The agent is a :class:`tfhf.agents.LocalAgent` on a tfhf causal LM (an offline asset, a GGUF
file or a folder), prompted with the curated tools' names, descriptions and inputs. The tools
the program calls are stand-ins with exactly those names, descriptions and inputs that record
their calls and return fixed outputs (what transformers' ``evaluate_agent`` did): a task is
solved when the program runs without failure, calls the expected tools with the expected
inputs, and (where it matters) feeds one tool's output into the next. ``--real-tools`` runs
the real downloader (against a local page) and the LLM-based ``text_qa``/``summarizer`` on the
agent's own model instead.

Prints one line per task and a summary (solved, seconds per task); ``--json`` writes it all.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

REVIEW = "This movie was wonderful: the actors were great and I loved the ending."
REVIEWS = ["A dull, boring film.", "Brilliant and moving, a masterpiece.", "Not worth the money."]
ARTICLE = ("The city council voted on Tuesday to build a new public library in the old market "
           "hall. The project will cost 12 million euros and should open in 2027. Supporters "
           "say it will bring life back to the center; critics worry about the budget.")
QUESTION = "How much will the project cost?"
URL = "http://127.0.0.1:{port}/news.html"


def task_list():
    """(task, variables, check) — ``check(calls, result)`` returns None or what went wrong."""

    def called(calls, name, n=None):
        got = [c for c in calls if c[0] == name]
        if not got:
            return f"{name} was not called"
        if n is not None and len(got) != n:
            return f"{name} was called {len(got)} times, expected {n}"
        return None

    def arg(calls, name, key):
        return [c[1].get(key) for c in calls if c[0] == name]

    def t1(calls, result):
        return called(calls, "text_classifier") or (
            None if arg(calls, "text_classifier", "text") == [REVIEW] else "wrong text classified")

    def t2(calls, result):
        return called(calls, "summarizer") or (
            None if arg(calls, "summarizer", "text") == [ARTICLE] else "wrong text summarized")

    def t3(calls, result):
        return called(calls, "text_qa") or (
            None if arg(calls, "text_qa", "text") == [ARTICLE] and
            arg(calls, "text_qa", "question") == [QUESTION] else "wrong inputs to text_qa")

    def t4(calls, result):
        return called(calls, "text_downloader") or called(calls, "summarizer") or (
            None if arg(calls, "summarizer", "text") == [LAST.get("text_downloader")]
            else "the downloaded page was not summarized")

    def t5(calls, result):
        bad = called(calls, "zero_shot_classifier")
        if bad:
            return bad
        labels = arg(calls, "zero_shot_classifier", "labels")[0]
        return None if isinstance(labels, (list, tuple)) and \
            {"sport", "politics", "science"} <= {str(x).lower() for x in labels} \
            else f"labels were {labels!r}"

    def t6(calls, result):
        return called(calls, "text_downloader") or called(calls, "text_classifier") or (
            None if arg(calls, "text_classifier", "text") == [LAST.get("text_downloader")]
            else "the downloaded page was not classified")

    def t7(calls, result):
        return called(calls, "text_classifier", n=len(REVIEWS)) or (
            None if arg(calls, "text_classifier", "text") == REVIEWS else "wrong reviews")

    def t8(calls, result):
        return called(calls, "text_downloader") or called(calls, "text_qa") or (
            None if arg(calls, "text_qa", "text") == [LAST.get("text_downloader")] and
            arg(calls, "text_qa", "question") == [QUESTION] else "wrong inputs to text_qa")

    def t9(calls, result):
        bad = called(calls, "summarizer") or called(calls, "text_classifier")
        if bad:
            return bad
        summary = LAST.get("summarizer")
        return None if arg(calls, "text_classifier", "text") == [summary] else \
            "the summary was not classified"

    def t10(calls, result):
        bad = called(calls, "zero_shot_classifier")
        if bad:
            return bad
        return None if arg(calls, "zero_shot_classifier", "labels") == [LABELS] and \
            arg(calls, "zero_shot_classifier", "text") == [ARTICLE] else "wrong inputs"

    return [
        ("Is the following `review` positive or negative?", {"review": REVIEW}, t1),
        ("Summarize the `text`.", {"text": ARTICLE}, t2),
        ("Answer the `question` about the `text`.", {"text": ARTICLE, "question": QUESTION}, t3),
        ("Download the web page at `url` and summarize it.", {"url": None}, t4),
        ("Is the `text` about sport, politics or science?", {"text": ARTICLE}, t5),
        ("Download the web page at `url` and tell me if it is positive or negative.",
         {"url": None}, t6),
        ("For each review in `reviews`, tell me whether it is positive or negative.",
         {"reviews": REVIEWS}, t7),
        ("Answer the `question` about the web page at `url`.",
         {"url": None, "question": QUESTION}, t8),
        ("Summarize the `text`, then tell me whether the summary is positive or negative.",
         {"text": ARTICLE}, t9),
        ("Which of the `labels` fits the `text` best?", {"text": ARTICLE, "labels": None}, t10),
    ]


LABELS = ["city politics", "sport", "cooking"]
LAST = {}  # the last output of each tool (checks follow outputs into the next tool)
OUTPUTS = {
    "text_classifier": lambda text: "POSITIVE",
    "summarizer": lambda text: "A new library will be built.",
    "text_qa": lambda text, question: "12 million euros",
    "text_downloader": lambda url: ARTICLE,
    "zero_shot_classifier": lambda text, labels: list(labels)[0] if labels else "",
    "translator": lambda text, src_lang, tgt_lang: "Une nouvelle bibliothèque sera construite.",
}


def _recording_tool(name, description, inputs, output_type, calls, run):
    from tfhf.agents import Tool

    class Recording(Tool):
        def forward(self, *args, **kwargs):
            # refuse what the real tool's signature refuses (e.g. labels= to text_classifier)
            params = list(inputs)
            unknown = [k for k in kwargs if k not in params]
            if len(args) > len(params) or unknown:
                raise TypeError(f"{name}() takes {', '.join(params)}; got "
                                f"{len(args)} positional and {', '.join(kwargs) or 'no'} "
                                "keyword arguments")
            values = dict(zip(params, args))
            values.update(kwargs)
            missing = [p for p in params if p not in values]
            if missing:
                raise TypeError(f"{name}() missing argument(s): {', '.join(missing)}")
            calls.append((name, values))
            out = run(*args, **kwargs)
            LAST[name] = str(out)
            return out

    t = Recording()
    t.name, t.description, t.inputs, t.output_type = name, description, inputs, output_type
    return t


def stand_in_tools(calls):
    """Tools with the curated tools' names, descriptions and inputs that record their calls
    and return fixed outputs."""
    from tfhf.agents.registry import default_toolbox

    tools = []
    for name, real in default_toolbox().items():
        params = list(real.inputs)

        def run(*args, _name=name, _params=params, **kwargs):
            values = dict(zip(_params, args))
            values.update(kwargs)
            if _name not in OUTPUTS:  # a tool none of the tasks needs
                return f"(output of {_name})"
            return OUTPUTS[_name](**{p: values.get(p) for p in _params})

        tools.append(_recording_tool(name, real.description, real.inputs, real.output_type,
                                     calls, run))
    return tools


class _Page(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = (f"<html><head><title>City news</title></head><body><p>{ARTICLE}</p>"
                "</body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def default_model():
    from tfhf import assets

    for name in ("qwen2.5-coder-0.5b", "smollm2"):
        if assets.is_installed(name):
            return f"asset:{name}"
    raise SystemExit("No LLM: pass --model, or `tfhf assets install qwen2.5-coder-0.5b`.")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="asset:NAME, .gguf file, folder or repo id")
    p.add_argument("--tasks", default=None, help="comma-separated task numbers (1-10)")
    p.add_argument("--max-new-tokens", type=int, default=200)
    p.add_argument("--real-tools", action="store_true")
    p.add_argument("--no-chat-template", action="store_true")
    p.add_argument("--show-code", action="store_true", help="print each generated program")
    p.add_argument("--show-reply", action="store_true", help="print each full LLM reply")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    from tfhf.agents import AgentFailure, LocalAgent
    from tfhf.agents.text_tools import (TextDownloadTool, TextQuestionAnsweringTool,
                                        TextSummarizationTool)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = URL.format(port=httpd.server_address[1])

    model_name = args.model or default_model()
    started = time.monotonic()
    calls = []
    tools = stand_in_tools(calls)
    agent = LocalAgent.from_pretrained(model_name, additional_tools=tools, default_tools=False,
                                       max_new_tokens=args.max_new_tokens, log=None,
                                       use_chat_template=False if args.no_chat_template
                                       else None)
    load_seconds = time.monotonic() - started
    if args.real_tools:
        real = [TextDownloadTool(allow_private_networks=True),
                TextQuestionAnsweringTool(model=agent.model, pre_processor=agent.tokenizer),
                TextSummarizationTool(model=agent.model, pre_processor=agent.tokenizer)]
        for t in real:
            agent.toolbox[t.name] = _recording_tool(t.name, t.description, t.inputs,
                                                    t.output_type, calls, t)
    selected = set(range(1, 11)) if not args.tasks else {int(x) for x in args.tasks.split(",")}
    rows = []
    for i, (task, variables, check) in enumerate(task_list(), 1):
        if i not in selected:
            continue
        variables = {k: (url if k == "url" else LABELS if k == "labels" else v)
                     for k, v in variables.items()}
        calls.clear()
        LAST.clear()
        t0 = time.monotonic()
        try:
            result = agent.run(task, **variables)
            error = None
        except Exception as e:  # noqa: BLE001 - a backend crash counts as a failed task
            result, error = None, f"{type(e).__name__}: {e}"
        seconds = time.monotonic() - t0
        if error is None and isinstance(result, AgentFailure):
            error = f"{result.kind}: {result}"
        if error is None:
            error = check(list(calls), result)
        rows.append({"task": i, "text": task, "solved": error is None, "seconds": seconds,
                     "problem": error, "code": agent.last_code,
                     "reply": getattr(agent, "last_reply", None), "result": repr(result)[:300]})
        mark = "ok  " if error is None else "FAIL"
        print(f"{mark} {i:2d} {seconds:6.1f}s  {task}" + ("" if error is None
                                                           else f"\n          {error[:300]}"))
        shown = getattr(agent, "last_reply", None) if args.show_reply else \
            agent.last_code if args.show_code else None
        if shown:
            print("          " + shown.strip().replace("\n", "\n          "))
    solved = sum(r["solved"] for r in rows)
    per_task = sum(r["seconds"] for r in rows) / max(len(rows), 1)
    print(f"\n{model_name}: solved {solved}/{len(rows)} tasks, {per_task:.1f} s per task "
          f"(model load {load_seconds:.1f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": model_name, "solved": solved, "tasks": len(rows),
                       "seconds_per_task": per_task, "load_seconds": load_seconds,
                       "rows": rows}, f, indent=2)
    httpd.shutdown()
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
