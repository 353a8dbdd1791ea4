"""Run attack programs against tfhf.agents.evaluate, each in its own forked process.

Input (stdin, JSON): {"attacks": [{"id", "code"}], "workers": N, "timeout": seconds,
"workdir": folder}. Output (stdout, JSON): {id: result}. Every attack runs in a fresh child
forked from this process (so no attack sees another's state), with:

* a canary path in the variable ``CANARY`` (the attack tries to create it),
* a secret file ``SECRET_FILE`` and a secret environment variable ``TFHF_ATTACK_SECRET`` (the
  attack tries to read them: the secrets must not show up in anything it produces),
* tools: ``echo(x)`` (returns x), ``shout`` (an @tool), ``leak()`` (returns an object holding
  ``os``, ``open`` and the secret's path: it must arrive wrapped), ``picture()`` (an
  AgentImage), ``boom()`` (raises), ``gen()`` (a generator that would read the secret),
  ``frame()`` (a live frame).

A child that outlives ``timeout`` is killed ("hang"); one that dies of a signal is a "crash".
The result records the outcome, the error kind/message, the child's wall and CPU time of the
evaluation, its peak memory and how much the evaluation grew it (``rss_growth_mb``),
whether the canary exists, and whether a secret leaked into the output.
"""

from __future__ import annotations

import json
import os
import resource
import select
import sys
import time
import types


def _tools():
    from tfhf.agents import tool
    from tfhf.agents.agent_types import AgentImage

    @tool
    def shout(text: str) -> str:
        """Makes a text loud.

        Args:
            text: the text
        """
        return text.upper()

    def echo(x=None):
        return x

    def leak():
        return types.SimpleNamespace(os=os, open=open, path=os.environ["TFHF_ATTACK_SECRET_FILE"],
                                     system=os.system)

    def picture():
        return AgentImage(__import__("numpy").zeros((2, 2, 3), "uint8"))

    def boom():
        raise RuntimeError("tool failure")

    def gen():
        yield open(os.environ["TFHF_ATTACK_SECRET_FILE"]).read()

    def frame():
        return sys._getframe()

    return {"echo": echo, "shout": shout, "leak": leak, "picture": picture, "boom": boom,
            "gen": gen, "frame": frame}


def _child(code, canary, secret_file, wfd):
    from tfhf.agents import InterpreterError, evaluate

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a backstop, never the defense
    state = {"CANARY": canary, "SECRET_FILE": secret_file, "text": "hello world"}
    tools = _tools()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    started = time.monotonic()
    out = {}
    try:
        value = evaluate(code, tools, state)
        out.update(outcome="returned", value=repr(value)[:2000])
    except InterpreterError as e:
        out.update(outcome="InterpreterError", kind=e.kind, message=str(e)[:2000],
                   construct=str(e.construct))
    except BaseException as e:  # noqa: BLE001 - anything else is what the test looks for
        out.update(outcome=f"other:{type(e).__name__}", message=str(e)[:2000])
    out["elapsed"] = time.monotonic() - started
    out["cpu"] = time.process_time() - cpu_before  # robust to a loaded machine
    out["rss_growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    printed = state.get("_print_outputs", "")
    out["printed"] = printed[:2000] if isinstance(printed, str) else repr(printed)[:2000]
    data = json.dumps(out).encode()
    os.write(wfd, data)
    os.close(wfd)
    os._exit(0)


def main():
    spec = json.load(sys.stdin)
    workdir = spec["workdir"]
    timeout = float(spec.get("timeout", 20))
    workers = int(spec.get("workers", 2))
    secret = os.environ["TFHF_ATTACK_SECRET"]
    import tfhf.agents.agent_types  # noqa: F401 - imported once, before forking
    import tfhf.agents.interpreter  # noqa: F401
    import tfhf.agents.tools  # noqa: F401

    pending = list(spec["attacks"])
    running = {}  # pid -> (attack, rfd, started, chunks, canary)
    results = {}
    while pending or running:
        while pending and len(running) < workers:
            attack = pending.pop(0)
            folder = os.path.join(workdir, attack["id"])
            os.makedirs(folder, exist_ok=True)
            canary = os.path.join(folder, "canary")
            secret_file = os.environ["TFHF_ATTACK_SECRET_FILE"]
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(rfd)
                try:
                    _child(attack["code"], canary, secret_file, wfd)
                finally:
                    os._exit(3)
            os.close(wfd)
            running[pid] = (attack, rfd, time.monotonic(), [], canary)
        fds = {v[1]: pid for pid, v in running.items()}
        ready, _, _ = select.select(list(fds), [], [], 0.05)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                running[fds[fd]][3].append(chunk)
        for pid in list(running):
            attack, rfd, started, chunks, canary = running[pid]
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done == 0 and time.monotonic() - started > timeout:
                os.kill(pid, 9)
                done, status, usage = os.wait4(pid, 0)
                result = {"outcome": "hang"}
            elif done == 0:
                continue
            else:
                while True:
                    chunk = os.read(rfd, 65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                if os.WIFSIGNALED(status):
                    result = {"outcome": f"crash:signal {os.WTERMSIG(status)}"}
                elif chunks:
                    result = json.loads(b"".join(chunks).decode())
                else:
                    result = {"outcome": f"crash:exit {os.WEXITSTATUS(status)}"}
            os.close(rfd)
            result["wall"] = time.monotonic() - started
            result["max_rss_mb"] = usage.ru_maxrss / 1024
            result["canary_written"] = os.path.exists(canary)
            text = json.dumps(result)
            result["secret_leaked"] = secret in text or \
                os.environ["TFHF_ATTACK_FILE_SECRET"] in text
            results[attack["id"]] = result
            del running[pid]
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
