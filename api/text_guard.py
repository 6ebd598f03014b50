"""Control characters in submitted text are refused the same way on every database.

PostgreSQL rejects a NUL byte in text and SQLite stores it; other C0 controls (and DEL) would
be stored by both and end up in pages, exports and e-mails. This middleware reads JSON and
form bodies before any route does and answers 422 naming the field (JSON path like
``inputs.checked.0``, or the form field) when a string holds one; tab, line feed and carriage
return are ordinary text. Multipart uploads are left to the evidence checks (their text fields
are short metadata checked by the route's own model).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import Problem, field_problem, problem_response

__all__ = ["CONTROL", "TextGuard", "first_control"]

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
REASON = "Văn bản chứa ký tự điều khiển không hợp lệ (ví dụ NUL)."


def first_control(value: Any, path: str = "") -> str | None:
    """The path of the first string (or object key) in ``value`` holding a control character."""
    if isinstance(value, str):
        return path or "body" if CONTROL.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if CONTROL.search(str(key)):
                return here
            found = first_control(item, here)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = first_control(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


# (request, status, Vietnamese message) → the HTML error page of the web pages.
PageError = Callable[[Request, int, str], Response]


class TextGuard:
    """ASGI middleware refusing JSON and form bodies whose text holds a control character."""

    def __init__(self, app: ASGIApp, *, page_error: PageError) -> None:
        self.app = app
        self.page_error = page_error  # the pages' error page (web.render), given by api.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        ctype = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip()
        if ctype not in (b"application/json", b"application/x-www-form-urlencoded"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        field = _field_of(ctype, body)
        if field is not None:
            request = Request(scope)
            response: Response
            if scope["path"].startswith("/api"):
                response = problem_response(request, _problem(field))
            else:
                response = self.page_error(request, 422, f"{REASON} Trường: {field}.")
            await response(scope, _replay([]), send)
            return
        await self.app(scope, _replay(messages), send)


def _problem(field: str) -> Problem:
    return field_problem(422, field, REASON)


def _field_of(ctype: bytes, body: bytes) -> str | None:
    text = body.decode("utf-8", errors="replace")
    if ctype == b"application/json":
        if CONTROL.search(text) is None and "\\u00" not in text:
            return None  # fast path: neither a raw control byte nor an escaped one
        try:
            return first_control(json.loads(text))
        except ValueError:
            return None  # malformed JSON: the route's own validation answers
    for key, value in parse_qsl(text, keep_blank_values=True):
        if CONTROL.search(key) or CONTROL.search(value):
            return key
    return None


def _replay(messages: list[Message]) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return {"type": "http.disconnect"}

    return receive
