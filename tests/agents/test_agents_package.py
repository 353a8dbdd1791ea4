"""tfhf.agents' public names, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import tfhf
import tfhf.agents


def test_every_public_name_resolves():
    for name in tfhf.agents.__all__:
        assert getattr(tfhf.agents, name) is not None, name
    for name in ("load_tool", "Tool", "tool", "PipelineTool", "RemoteTool", "Agent", "LocalAgent",
                 "OpenAiAgent", "HfAgent", "AgentText", "AgentImage", "AgentAudio"):
        assert getattr(tfhf, name) is getattr(tfhf.agents, name), name
    assert issubclass(tfhf.agents.InterpreterError, ValueError)
    assert issubclass(tfhf.agents.InterpreterError, tfhf.errors.TfhfError)


def test_agents_and_the_interpreter_load_without_tensorflow():
    code = ("import sys\nfrom tfhf.agents import Agent, evaluate, load_tool\n"
            "from tfhf import load_tool as lt\n"
            "assert evaluate('1 + 1', {}) == 2\n"
            "Agent(llm=lambda p, s: '```py\\nx = 1\\n```', log=None).run('t')\n"
            "heavy = [m for m in ('tensorflow', 'transformers', 'keras') if m in sys.modules]\n"
            "print(heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
