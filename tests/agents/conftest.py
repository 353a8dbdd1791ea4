"""Shared helpers for the agent tests: a scripted HTTP server on 127.0.0.1 and a scripted LLM."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class ScriptedServer:
    """An HTTP server on 127.0.0.1 answering from a script.

    ``script`` entries (used in order; the last one repeats) are dicts with ``status``
    (default 200), ``body`` (bytes, str, or JSON-able), ``headers``, ``delay`` (seconds
    before answering) and ``drip`` (``(pieces, pause)``: send the body slowly), or a callable
    ``(request) -> entry``. Every request is recorded in
    ``requests`` as a dict with ``method``, ``path``, ``headers`` and ``json``/``body``.
    """

    def __init__(self):
        self.script = []
        self.requests = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                req = {"method": self.command, "path": self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()}, "body": raw}
                try:
                    req["json"] = json.loads(raw) if raw else None
                except ValueError:
                    req["json"] = None
                with server._lock:
                    server.requests.append(req)
                    entry = server.script[min(len(server.requests) - 1, len(server.script) - 1)] \
                        if server.script else {"status": 404, "body": "no script"}
                if callable(entry):
                    entry = entry(req)
                time.sleep(entry.get("delay", 0))
                body = entry.get("body", b"")
                if not isinstance(body, (bytes, str)):
                    body = json.dumps(body)
                if isinstance(body, str):
                    body = body.encode()
                try:
                    self.send_response(entry.get("status", 200))
                    headers = {"Content-Type": "application/json"}
                    headers.update(entry.get("headers", {}))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    drip = entry.get("drip")  # (pieces, seconds between them)
                    if drip:
                        pieces, pause = drip
                        step = max(1, len(body) // pieces)
                        for i in range(0, len(body), step):
                            self.wfile.write(body[i:i + step])
                            self.wfile.flush()
                            time.sleep(pause)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = ScriptedServer()
    yield s
    s.close()


class ScriptedLLM:
    """``callable(prompt, stop) -> str`` returning fixed replies in order; records prompts."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.prompts = []
        self.stops = []

    def __call__(self, prompt, stop):
        self.prompts.append(prompt)
        self.stops.append(list(stop))
        if not self.replies:
            raise AssertionError("the scripted LLM ran out of replies")
        return self.replies.pop(0)


def code_reply(code, explanation="tool: `x` because it fits."):
    """A reply in the run format: explanation, 'Answer:', then a ```py block."""
    return f"{explanation}\n\nAnswer:\n```py\n{code.strip()}\n```\n"
