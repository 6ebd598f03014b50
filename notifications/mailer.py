"""Sending e-mail over SMTP with aiosmtplib (the only place that talks to a mail server).

``build_message`` makes a multipart (plain text + HTML) UTF-8 message whose ``Message-ID`` is
derived from the outbox idempotency key, so a receiving server can also recognise a duplicate.
``SmtpMailer.send_many`` sends a batch over one (reused) connection and reports each outcome;
retries are the mail activity's job (its retry policy backs off), never the workflow's.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import Protocol

import aiosmtplib

from core.settings import Settings

__all__ = [
    "Before",
    "Mailer",
    "OnResult",
    "Skipped",
    "SmtpMailer",
    "build_message",
    "is_permanent",
    "mailbox",
    "message_id",
]


def mailbox(name: str, email: str) -> str:
    """ "Tên <a@b>" with the name quoted as needed (commas); encoded when the mail is sent."""
    return str(Address(display_name=name, addr_spec=email))


def is_permanent(error: Exception) -> bool:
    """True when retrying cannot help: a refused recipient, a 5xx answer, a malformed address."""
    if isinstance(error, ValueError | aiosmtplib.SMTPRecipientsRefused):
        return True
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return 500 <= error.code < 600
    return False


def message_id(key: str) -> str:
    """A stable Message-ID for an idempotency key."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}@appraisal.local>"


def build_message(
    *,
    from_addr: str,
    to_addr: str,
    subject: str,
    text: str,
    html: str,
    key: str,
    date: datetime,
) -> Message:
    """A multipart/alternative UTF-8 message with the key in ``X-Appraisal-Key``.

    Headers are encoded with ``email.header.Header`` (RFC 2047): the folding of the modern
    ``EmailMessage`` policy loses the space between two encoded words ("hạn chế" → "hạnchế").
    """
    msg = MIMEMultipart("alternative")
    msg["From"] = _encoded_mailbox(from_addr)
    msg["To"] = _encoded_mailbox(to_addr)
    msg["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]  # typeshed: str only
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id(key)
    msg["X-Appraisal-Key"] = key
    msg.attach(MIMEText(text, "plain", "utf-8"))
    msg.attach(MIMEText(html, "html", "utf-8"))
    return msg


@functools.lru_cache(maxsize=4096)  # the sender on every message, a recipient on each reminder
def _encoded_mailbox(value: str) -> str:
    name, addr = parseaddr(value)
    return formataddr((name, addr), charset="utf-8")


# A connection idle longer than this is checked with NOOP before a message: a server's close
# (FIN) marks it disconnected at once, but a peer that vanished silently (a NAT or firewall
# dropping an idle flow, minutes later) is found only by talking to it. One reminder time's
# fan-out reuses its connections within milliseconds and skips that round trip.
NOOP_AFTER_S = 10.0

OnResult = Callable[[int, Exception | None], Awaitable[None]]
Before = Callable[[int], Awaitable[bool]]


class Skipped(Exception):
    """The outcome of a message the ``before`` hook declined: not sent, nothing to report."""


class Mailer(Protocol):
    """Sends messages; one outcome per message (None: sent, else the error)."""

    async def send_many(
        self,
        messages: Sequence[Message],
        on_result: OnResult | None = None,
        *,
        before: Before | None = None,
    ) -> list[Exception | None]:
        """Sends every message it can: ``before(i)`` right before message i (False: skip it,
        outcome ``Skipped``), ``on_result`` right after each one sent or failed."""
        ...


class SmtpMailer:
    """aiosmtplib, configured by the settings; connections are reused across batches.

    A batch borrows an idle connection (one the server closed is never used for a message; one
    idle for ``NOOP_AFTER_S`` is checked with NOOP first) or opens one, and gives it back after;
    at most ``max_idle`` are kept. One reminder time fans out into one batch per unit: reusing
    connections saves a TCP and SMTP handshake (and TLS, if any) per unit.
    """

    def __init__(self, settings: Settings, *, timeout: float = 30.0, max_idle: int = 4) -> None:
        self.settings = settings
        self.timeout = timeout
        self.max_idle = max_idle
        # (event loop, connection, when it was given back on that loop's clock)
        self._idle: list[tuple[asyncio.AbstractEventLoop, aiosmtplib.SMTP, float]] = []
        self.connections_opened = 0

    def _new(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_use_tls,
            start_tls=s.smtp_starttls if s.smtp_starttls else False,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            timeout=self.timeout,
        )

    async def _borrow(self) -> aiosmtplib.SMTP:
        loop = asyncio.get_running_loop()
        while self._idle:
            owner, smtp, since = self._idle.pop()
            if owner is not loop:
                continue  # made on another event loop (a test's): unusable here
            if not smtp.is_connected:
                smtp.close()  # the server closed it while it was idle
                continue
            if loop.time() - since < NOOP_AFTER_S:
                return smtp  # just used: a close by the server would have been seen
            try:
                await smtp.noop()
                return smtp
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
        smtp = self._new()
        await smtp.connect()
        self.connections_opened += 1
        return smtp

    def _give_back(self, smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected and len(self._idle) < self.max_idle:
            loop = asyncio.get_running_loop()
            self._idle.append((loop, smtp, loop.time()))
        else:
            smtp.close()

    async def close(self) -> None:
        """Closes the idle connections (QUIT)."""
        idle, self._idle = self._idle, []
        for _loop, smtp, _since in idle:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()

    async def send_many(
        self,
        messages: Sequence[Message],
        on_result: OnResult | None = None,
        *,
        before: Before | None = None,
    ) -> list[Exception | None]:
        """Sends the batch; a connection failure is the failure of every message not sent.

        ``before(i)`` runs right before message i (the outbox claims it; False skips it) and
        ``on_result`` right after the server's answer (the outbox marks it sent at once, so a
        crash later in the batch never sends it again).
        """
        if not messages:
            return []
        outcomes: list[Exception | None] = []
        smtp: aiosmtplib.SMTP | None = None
        try:
            smtp = await self._borrow()
            for i, msg in enumerate(messages):
                if before is not None and not await before(i):
                    outcomes.append(Skipped())
                    continue
                error: Exception | None = None
                try:
                    # One bound for the whole message (each SMTP command also has its own): the
                    # outbox's claim lease counts on a send never lasting longer.
                    async with asyncio.timeout(self.timeout):
                        await smtp.send_message(msg)
                except TimeoutError as exc:
                    raise aiosmtplib.SMTPTimeoutError(
                        f"message not sent in {self.timeout} s"
                    ) from exc
                except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
                    raise  # the connection is gone: every message left fails (transient)
                except (aiosmtplib.SMTPException, ValueError) as exc:
                    error = exc
                outcomes.append(error)
                if on_result is not None:
                    await on_result(i, error)
        except (aiosmtplib.SMTPException, OSError) as exc:
            if smtp is not None:
                smtp.close()
                smtp = None
            for i in range(len(outcomes), len(messages)):
                outcomes.append(exc)
                if on_result is not None:
                    await on_result(i, exc)
        if smtp is not None:
            self._give_back(smtp)
        return outcomes
