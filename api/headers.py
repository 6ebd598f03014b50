"""Security headers on every response: CSP, no framing, nosniff, referrer policy, HSTS.

The pages run no inline script (``script-src 'self'``; the only inline content allowed is
``style`` attributes). The interactive API docs (FastAPI's Swagger UI and ReDoc pages) load
their scripts from a CDN and start them with one inline script: for those pages only, the CSP
names the CDN and the SHA-256 of each inline script found in the page, never 'unsafe-inline'.
``Referrer-Policy: no-referrer`` keeps a password link's secret out of other sites' logs.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BASE_CSP", "SecurityHeaders", "docs_csp"]

BASE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
CDN = "https://cdn.jsdelivr.net"
HSTS = "max-age=31536000; includeSubDomains"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def docs_csp(body: bytes) -> str:
    """The CSP of a docs page: its CDN and the hash of each of its inline scripts."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.finditer(body)
    )
    return (
        f"default-src 'self'; script-src 'self' {CDN} {hashes}; "
        f"style-src 'self' {CDN} 'unsafe-inline'; img-src 'self' data: https:; "
        "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def _add(headers: MutableHeaders, *, csp: str, hsts: bool) -> None:
    headers["Content-Security-Policy"] = csp
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if hsts:
        headers["Strict-Transport-Security"] = HSTS


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP response (HSTS when ``hsts``)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") in DOCS_PATHS:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add(MutableHeaders(scope=message), csp=BASE_CSP, hsts=self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffers a docs page (a few kB) to hash its inline scripts into the CSP."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                assert start is not None
                body = b"".join(chunks)
                headers = MutableHeaders(scope=start)
                _add(headers, csp=docs_csp(body), hsts=self.hsts)
                headers["Content-Length"] = str(len(body))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, buffer)
