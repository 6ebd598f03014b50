"""A person's side of the one-time password links: find the link in a mail that reached the
test SMTP server (``smtp`` fixture, ``notifications.sink.MailSink``) and set one's own password
with it — how every new account gets its first password (nobody else ever chooses it)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from email.message import EmailMessage
from typing import Any

LINK_RE = re.compile(r"(https?://[^\s/]+)?/password/reset\?token=([\w-]+)")
CONFIRM = "/api/auth/password-reset/confirm"
WELCOME_SUBJECT = "Tài khoản mới"


def mail_text(message: EmailMessage) -> str:
    """The plain-text part of a received mail."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, message
    return str(part.get_content())


def link_token(message: EmailMessage) -> str:
    """The secret of the one-time link in ``message``."""
    text = mail_text(message)
    found = LINK_RE.search(text)
    assert found is not None, text
    return found.group(2)


def newest_link(messages: Iterable[EmailMessage], email: str, subject: str = "") -> str:
    """The secret of the link in the newest mail to ``email`` (whose subject has ``subject``)."""
    for message in reversed(list(messages)):
        if email in str(message["To"]) and subject in str(message["Subject"]):
            return link_token(message)
    raise AssertionError(f"no mail with a link to {email}")


def welcome_token(sink: Any, email: str) -> str:
    """The secret of the welcome link mailed to ``email`` (a new account)."""
    return newest_link(sink.messages, email, WELCOME_SUBJECT)


def set_password(http: Any, token: str, password: str) -> None:
    """Sets the password through the API with the link's secret (a TestClient or httpx.Client)."""
    resp = http.post(CONFIRM, json={"token": token, "new_password": password})
    assert resp.status_code == 204, resp.text


def _arrived(sink: Any, email: str) -> str | None:
    """The welcome link's secret once its mail is there (it leaves after the response)."""
    try:
        return welcome_token(sink, email)
    except AssertionError:
        return None


def follow_welcome(http: Any, sink: Any, email: str, password: str, timeout: float = 10) -> None:
    """The new account's owner follows the welcome link mailed to ``email`` and sets
    ``password`` (a TestClient or httpx.Client)."""
    deadline = time.monotonic() + timeout
    while (token := _arrived(sink, email)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    set_password(http, token or welcome_token(sink, email), password)


async def follow_welcome_async(
    http: Any, sink: Any, email: str, password: str, timeout: float = 20
) -> None:
    """``follow_welcome`` for an ``httpx.AsyncClient`` against a running server."""
    deadline = time.monotonic() + timeout
    while (token := _arrived(sink, email)) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    token = token or welcome_token(sink, email)  # none came: says so
    resp = await http.post(CONFIRM, json={"token": token, "new_password": password})
    assert resp.status_code == 204, resp.text
