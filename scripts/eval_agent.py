"""Evaluate an LLM as a tfhf agent: 35 tasks over the curated tools, a dev and a test set.

    python scripts/eval_agent.py                                   # default: Qwen2.5-Coder-0.5B
    python scripts/eval_agent.py --split test --json out.json
    python scripts/eval_agent.py --model asset:smollm2 --split dev --tasks 1,2,3 --show-code

The tasks are in ``scripts/_agent_tasks.py``: a development set (tune prompts and tool
descriptions on it) and a held-out test set (report it; never tune on it). They cover single
tools, chains of 2-3 tools, loops over lists, text / list / audio variables, tasks that need
no tool and tasks whose tool is missing (the program must call none and say so).

The agent is a :class:`tfhf.agents.LocalAgent` on a tfhf causal LM (an offline asset, a GGUF
file or a folder), prompted with the curated tools' names, descriptions and inputs. The tools
the program calls are stand-ins with exactly those names, descriptions and inputs that record
their calls and return fixed outputs (what transformers' ``evaluate_agent`` did) and refuse the
arguments the real tools refuse: a task is solved when the program runs without failure, calls
the expected tools with the expected inputs, and feeds one tool's output into the next where
the task says so. The toolbox is the seven curated text and audio tools every reported figure
used (``--all-tools``: every curated tool of this checkout). ``--real-tools`` runs the real
downloader (against a local page) and the LLM-based ``text_qa``/``summarizer`` on the agent's
own model instead.

Prints one line per task, a summary per split (solved, seconds per task, retries) and the
per-tool confusion (which tool was called instead of the expected one); ``--json`` writes it all.
"""

from __future__ import annotations

import argparse
import collections
import http.server
import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _agent_tasks import (ARTICLE, OUTPUTS, SPLITS, each, has, labels,  # noqa: E402
                          out, var)

URL = "http://127.0.0.1:{port}/news.html"
CURATED = ("text_classifier", "zero_shot_classifier", "text_qa", "summarizer", "translator",
           "text_downloader", "transcriber")  # the toolbox every reported figure used
REFUSAL_WORDS = ("no tool", "not able", "unable", "cannot", "can't", "can not", "not possible",
                 "don't have", "do not have", "no way", "not available", "isn't available")


def _recording_tool(name, description, inputs, output_type, calls, run, example=None):
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
            out = run(*args, **kwargs)
            calls.append((name, values, out))
            return out

    t = Recording()
    t.name, t.description, t.inputs, t.output_type = name, description, inputs, output_type
    t.example = example
    return t


def stand_in_tools(calls, all_tools=False):
    """Tools with the curated tools' names, descriptions and inputs that record their calls
    and return fixed outputs."""
    from tfhf.agents.registry import default_toolbox

    tools = []
    for name, real in default_toolbox().items():
        if not all_tools and name not in CURATED:
            continue
        params = list(real.inputs)

        def run(*args, _name=name, _params=params, **kwargs):
            values = dict(zip(_params, args))
            values.update(kwargs)
            if _name not in OUTPUTS:  # a tool none of the tasks needs
                return f"(output of {_name})"
            return OUTPUTS[_name](**{p: values.get(p) for p in _params})

        tools.append(_recording_tool(name, real.description, real.inputs, real.output_type,
                                     calls, run, getattr(real, "example", None)))
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


# ------------------------------------------------------------------------ judging
def _matches(matcher, value, variables, outputs, item=None):
    if isinstance(matcher, var):
        expected = variables[matcher.name]
        if value is expected or (isinstance(value, (str, list)) and value == expected):
            return True
        if hasattr(expected, "to_raw"):  # agent types reach the tool as their raw value
            import numpy as np

            raw = expected.to_raw()
            return value is raw or (isinstance(value, np.ndarray) and
                                    np.array_equal(value, np.asarray(raw)))
        return False
    if isinstance(matcher, out):
        return matcher.tool in outputs and str(value) == outputs[matcher.tool]
    if isinstance(matcher, has):
        return isinstance(value, str) and all(w in value.lower() for w in matcher.words)
    if isinstance(matcher, labels):
        return isinstance(value, (list, tuple)) and \
            {n.lower() for n in matcher.names} <= {str(x).lower().strip() for x in value}
    if isinstance(matcher, each):
        return value == item
    return value == matcher


def judge(task, variables, calls, result, printed, reply):
    """None when ``task`` is solved, else what went wrong. ``calls``: (tool, args, output)."""
    called = [c[0] for c in calls]
    if task.refuse or task.answer:
        if called:
            return f"called {', '.join(called)} but the task needs no tool"
        said = f"{result}\n{printed}" if not task.refuse else f"{result}\n{printed}\n{reply}"
        if task.refuse:
            return None if any(w in said.lower() for w in REFUSAL_WORDS) else \
                "did not say that no tool can do it"
        missing = [a for a in task.answer if a not in said]
        return None if not missing else f"the answer {missing[0]!r} is not in the output"
    outputs = {}
    position = 0
    for tool, expected in task.expect:
        loop = next((m.name for m in expected.values() if isinstance(m, each)), None)
        items = variables[loop] if loop else [None]
        for item in items:
            while position < len(calls) and calls[position][0] != tool:
                outputs[calls[position][0]] = str(calls[position][2])
                position += 1
            if position == len(calls):
                return f"{tool} was not called" + (f" for every item of `{loop}`" if loop
                                                   else "")
            args = calls[position][1]
            for key, matcher in expected.items():
                if key not in args or not _matches(matcher, args[key], variables, outputs, item):
                    return f"{tool}: wrong {key} {str(args.get(key))[:60]!r}"
            outputs[tool] = str(calls[position][2])
            position += 1
    return None


def confusion(task, calls):
    """(expected tool, tool called instead) pairs: each expected tool that was not called,
    against the first called tool that the task does not expect (or "no tool")."""
    called = [c[0] for c in calls]
    wanted = [t for t, _ in task.expect]
    extra = [c for c in called if c not in wanted]
    pairs = [(t, extra[0] if extra else "no tool") for t in wanted if t not in called]
    if not task.expect and called:
        pairs.append(("no tool", called[0]))
    return pairs


# ------------------------------------------------------------------------ running
def run_task(agent, task, url, calls, retries):
    variables = {k: (url if v == "URL" else _audio() if v == "AUDIO" else v)
                 for k, v in task.variables.items()}
    printed, attempt_start = [], [0]

    def log(*a, **k):
        message = " ".join(map(str, a))
        if message.startswith("==Retry"):
            attempt_start[0] = len(calls)  # judge the last attempt's program only
            printed.clear()
        printed.append(message)

    agent.log = log
    calls.clear()
    t0 = time.monotonic()
    kwargs = {"max_retries": retries} if retries is not None else {}
    try:
        result = agent.run(task.text, **kwargs, **variables)
        error = None
    except Exception as e:  # noqa: BLE001 - a backend crash counts as a failed task
        result, error = None, f"{type(e).__name__}: {e}"
    seconds = time.monotonic() - t0
    from tfhf.agents import AgentFailure

    output = "\n".join(p for p in printed if not p.lstrip().startswith("=="))
    if error is None and isinstance(result, AgentFailure) and not task.refuse:
        error = f"{result.kind}: {result}"
    retried = any(p.startswith("==Retry") for p in printed)
    all_calls, calls = list(calls), list(calls)[attempt_start[0]:]
    if error is None:
        error = judge(task, variables, calls, result, output,
                      getattr(agent, "last_reply", "") or "")
    return {"text": task.text, "solved": error is None, "seconds": seconds, "problem": error,
            "retried": retried, "calls": [c[0] for c in all_calls],
            "confusion": confusion(task, calls), "code": agent.last_code,
            "reply": getattr(agent, "last_reply", None), "result": repr(result)[:300]}


def _audio():
    from _agent_tasks import _audio as make

    return make()


def report(split, rows, model_name):
    solved = sum(r["solved"] for r in rows)
    per_task = sum(r["seconds"] for r in rows) / max(len(rows), 1)
    retried = sum(r["retried"] for r in rows)
    print(f"{model_name} [{split}]: solved {solved}/{len(rows)} tasks "
          f"({100.0 * solved / max(len(rows), 1):.0f}%), {per_task:.1f} s per task, "
          f"{retried} tasks retried")
    pairs = collections.Counter(p for r in rows for p in map(tuple, r["confusion"]))
    if pairs:
        print("  confusion (expected -> called instead):")
        for (want, got), n in pairs.most_common():
            print(f"    {want} -> {got}: {n}")
    return {"split": split, "solved": solved, "tasks": len(rows),
            "seconds_per_task": per_task, "retried": retried,
            "confusion": [[w, g, n] for (w, g), n in pairs.most_common()], "rows": rows}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="asset:NAME, .gguf file, folder or repo id")
    p.add_argument("--split", default="all", choices=["dev", "test", "all"])
    p.add_argument("--tasks", default=None, help="comma-separated task numbers of the split")
    p.add_argument("--max-new-tokens", type=int, default=200)
    p.add_argument("--max-retries", type=int, default=None,
                   help="the agent's self-correction retries (default: the agent's default)")
    p.add_argument("--real-tools", action="store_true")
    p.add_argument("--all-tools", action="store_true")
    p.add_argument("--no-chat-template", action="store_true")
    p.add_argument("--show-code", action="store_true", help="print each generated program")
    p.add_argument("--show-reply", action="store_true", help="print each full LLM reply")
    p.add_argument("--constrained", action="store_true",
                   help="LocalAgent(constrained=True): refused statements banned while "
                        "decoding, near-miss tool/argument names corrected")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    from tfhf.agents import LocalAgent
    from tfhf.agents.text_tools import (TextDownloadTool, TextQuestionAnsweringTool,
                                        TextSummarizationTool)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = URL.format(port=httpd.server_address[1])

    model_name = args.model or default_model()
    started = time.monotonic()
    calls = []
    agent = LocalAgent.from_pretrained(model_name, default_tools=False,
                                       additional_tools=stand_in_tools(calls, args.all_tools),
                                       max_new_tokens=args.max_new_tokens, log=None,
                                       use_chat_template=False if args.no_chat_template
                                       else None, constrained=args.constrained)
    load_seconds = time.monotonic() - started
    if args.real_tools:
        real = [TextDownloadTool(allow_private_networks=True),
                TextQuestionAnsweringTool(model=agent.model, pre_processor=agent.tokenizer),
                TextSummarizationTool(model=agent.model, pre_processor=agent.tokenizer)]
        for t in real:
            agent.toolbox[t.name] = _recording_tool(t.name, t.description, t.inputs,
                                                    t.output_type, calls, t,
                                                    getattr(t, "example", None))
    results = []
    for split in (["dev", "test"] if args.split == "all" else [args.split]):
        tasks = SPLITS[split]()
        selected = set(range(1, len(tasks) + 1)) if not args.tasks else \
            {int(x) for x in args.tasks.split(",")}
        rows = []
        for i, task in enumerate(tasks, 1):
            if i not in selected:
                continue
            row = dict(run_task(agent, task, url, calls, args.max_retries), task=i)
            rows.append(row)
            mark = "ok  " if row["solved"] else "FAIL"
            print(f"{mark} {split} {i:2d} {row['seconds']:6.1f}s  {task.text}" +
                  ("" if row["solved"] else f"\n          {row['problem'][:300]}"))
            shown = row["reply"] if args.show_reply else row["code"] if args.show_code else None
            if shown:
                print("          " + shown.strip().replace("\n", "\n          "))
        results.append(report(split, rows, model_name))
    print(f"(model load {load_seconds:.1f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": model_name, "load_seconds": load_seconds,
                       "max_retries": args.max_retries, "constrained": args.constrained,
                       "splits": results}, f, indent=2)
    httpd.shutdown()
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
