"""The downloader's rules, in one place: what the agent's ``text_downloader`` and image inputs
given as URLs may fetch.

* only ``http``/``https`` URLs, also after redirects (at most 5);
* addresses on private, loopback, link-local, reserved and multicast networks are refused
  unless ``allow_private_networks=True`` (an agent's program is untrusted: this keeps it away
  from services on your network);
* at most ``max_bytes`` are read and the whole download must finish within ``timeout``
  seconds; one retry on a transient failure.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
import urllib.request

from ..errors import InvalidInputError

__all__ = ["check_url", "download", "download_bytes", "is_private_host"]


def is_private_host(host: str) -> bool:
    """True when ``host`` resolves to a private, loopback, link-local, reserved, multicast or
    unspecified address (a name that does not resolve is left to the request to report)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False  # the request itself will fail with a clear message
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or \
                ip.is_multicast or ip.is_unspecified:
            return True
    return False


def check_url(url, *, allow_private_networks=False, who="the downloader"):
    """Raise :class:`InvalidInputError` unless ``url`` may be fetched under the rules."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInputError(f"{who} only fetches http(s) URLs, got {url!r}.")
    if not allow_private_networks and is_private_host(parsed.hostname):
        raise InvalidInputError(f"{who} refuses {parsed.hostname}: it is on a private or "
                                "loopback network (allow_private_networks=True allows it).")


def _opener(allow_private_networks, who):
    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = 5

        def redirect_request(self, req, fp, code, msg, headers, newurl):
            check_url(newurl, allow_private_networks=allow_private_networks, who=who)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(Redirects)


def download(url, *, max_bytes=2_000_000, timeout=15.0, allow_private_networks=False,
             who="the downloader", accept="*/*"):
    """GET ``url`` under the rules -> ``(headers, body bytes)``."""
    from ._http import request

    url = url.strip()
    check_url(url, allow_private_networks=allow_private_networks, who=who)
    _, headers, body = request(
        url, None, method="GET", timeout=timeout, max_retries=1, backoff=0.5,
        max_bytes=int(max_bytes), what="the web server",
        opener=_opener(allow_private_networks, who), total_timeout=timeout,
        headers={"Accept": accept})
    return headers, body


def download_bytes(url, *, max_bytes=20_000_000, timeout=30.0, allow_private_networks=False):
    """An image (or other file) at ``url`` as bytes, under the rules (20 MB, 30 s)."""
    return download(url, max_bytes=max_bytes, timeout=timeout,
                    allow_private_networks=allow_private_networks, who="the image downloader",
                    accept="image/*, */*")[1]
