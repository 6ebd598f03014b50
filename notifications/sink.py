"""A local SMTP sink (aiosmtpd): keeps every message as data/mail/<timestamp>-<id>.eml.

The embedded stack uses it instead of a relay; the tests use it as a real SMTP server.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_counter = itertools.count(1)


class MailSink:
    """An aiosmtpd handler that stores messages in memory and, if given a folder, as files."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        msg = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append((str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos]))
        if self.folder is not None:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            name = f"{stamp}-{next(_counter):06d}.eml"
            (self.folder / name).write_bytes(data)
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Waits until at least ``count`` messages arrived (tests only)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return list(self.messages)


def start_sink(host: str, port: int, folder: Path | None = None) -> tuple[Controller, MailSink]:
    """Starts the sink on host:port in a background thread; stop it with controller.stop()."""
    sink = MailSink(folder)
    controller = Controller(sink, hostname=host, port=port, ready_timeout=10)
    controller.start()
    return controller, sink


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now."""
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        port: Any = s.getsockname()[1]
        return int(port)
