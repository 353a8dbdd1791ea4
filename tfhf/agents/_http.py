"""Small HTTP client (stdlib ``urllib``) for LLM backends, remote tools and the downloader.

* bounded retries with exponential backoff (and ``Retry-After``) on 429 and 5xx answers,
  timeouts and refused connections;
* 401/403 raise :class:`LLMAuthenticationError` at once;
* bodies are read up to ``max_bytes``; JSON that does not parse raises
  :class:`LLMResponseError`.
"""

from __future__ import annotations

import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from ..errors import TfhfError

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class LLMBackendError(TfhfError, OSError):
    """A server (LLM backend or inference endpoint) could not be used: unreachable, timing out,
    or answering with an error after the retries."""


class LLMAuthenticationError(LLMBackendError, PermissionError):
    """The server refused the credentials (HTTP 401/403)."""


class LLMResponseError(TfhfError, ValueError):
    """The server answered, but not with what its protocol promises (empty or malformed)."""


def _short(body: bytes, limit=300) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            err = data.get("error", data)
            if isinstance(err, dict):
                err = err.get("message", err)
            text = str(err)
    except ValueError:
        pass
    return text[:limit] + ("..." if len(text) > limit else "")


def _read_limited(resp, max_bytes: int, deadline: float | None, url: str) -> bytes:
    chunks = []
    total = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise LLMBackendError(f"{url}: reading the answer took longer than the time limit.")
        want = min(65536, max_bytes + 1 - total)
        # read1: whatever one receive brings, so a server dripping bytes meets the deadline
        chunk = resp.read1(want) if hasattr(resp, "read1") else resp.read(want)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise LLMResponseError(f"{url}: the answer is larger than {max_bytes} bytes.")
    return b"".join(chunks)


def request(url: str, payload=None, *, method: str | None = None, headers: dict | None = None,
            timeout: float = 60.0, max_retries: int = 3, backoff: float = 1.0,
            max_backoff: float = 30.0, max_bytes: int = 20_000_000, what: str = "the server",
            opener=None, total_timeout: float | None = None):
    """Send one HTTP request (JSON body when ``payload`` is not None) with bounded retries.

    Returns ``(status, headers, body_bytes)``. ``max_retries`` is the number of *extra* tries
    after the first; waits grow as ``backoff * 2**attempt`` (capped at ``max_backoff``, with a
    little jitter), or follow the server's ``Retry-After`` (also capped).
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise LLMBackendError(f"{what}: only http:// and https:// URLs are supported, got {url!r}.")
    data = None
    hdrs = {"User-Agent": "tfhf-agents", "Accept": "application/json"}
    if payload is not None:
        data = json.dumps(payload).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    opener = opener or urllib.request.build_opener()
    last = None
    for attempt in range(max_retries + 1):
        deadline = None if total_timeout is None else time.monotonic() + total_timeout
        req = urllib.request.Request(url, data=data, headers=hdrs,
                                     method=method or ("POST" if data is not None else "GET"))
        retry_after = None
        try:
            with opener.open(req, timeout=timeout) as resp:
                body = _read_limited(resp, max_bytes, deadline, url)
                return resp.status, dict(resp.headers), body
        except urllib.error.HTTPError as e:
            try:
                body = e.read(65536)
            except Exception:  # noqa: BLE001 - the error body is only used in the message
                body = b""
            if e.code in (401, 403):
                raise LLMAuthenticationError(
                    f"{what} at {url} refused the credentials (HTTP {e.code}: {_short(body)}). "
                    "Check the token / API key you passed (or HF_TOKEN / OPENAI_API_KEY)."
                ) from None
            if e.code not in RETRY_STATUSES:
                raise LLMBackendError(f"{what} at {url} answered HTTP {e.code}: "
                                      f"{_short(body)}") from None
            last = f"HTTP {e.code}: {_short(body)}"
            ra = e.headers.get("Retry-After") if e.headers else None
            try:
                retry_after = float(ra) if ra is not None else None
            except ValueError:
                retry_after = None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            last = f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
            if isinstance(reason, (socket.timeout, TimeoutError)) or isinstance(e, TimeoutError):
                last = f"no answer within {timeout:g} s"
        if attempt < max_retries:
            wait = min(max_backoff, backoff * (2 ** attempt)) * (1 + 0.1 * random.random())
            if retry_after is not None:
                wait = min(max_backoff, max(0.0, retry_after))
            time.sleep(wait)
    raise LLMBackendError(f"{what} at {url} failed after {max_retries + 1} tries ({last}).")


def request_json(url: str, payload=None, **kwargs):
    """:func:`request`, decoding the answer as JSON (empty or malformed: LLMResponseError)."""
    what = kwargs.get("what", "the server")
    status, _, body = request(url, payload, **kwargs)
    if not body.strip():
        raise LLMResponseError(f"{what} at {url} sent an empty answer (HTTP {status}).")
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise LLMResponseError(f"{what} at {url} sent an answer that is not JSON: "
                               f"{body[:200]!r}") from None
