"""The outbox of e-mails: each message once per idempotency key, with its send status.

A notification is first rendered and written here (``enqueue``: an existing key is left as it
is, so a retried or replayed activity renders nothing twice), then sent by whoever finds it
``pending`` (``notifications.mailer`` via the mail activity); an address the server refuses
for good is marked ``failed`` instead of being retried forever. ``expires_at`` is the deadline a
reminder is about: a message still unsent then is ``dropped``, never sent late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.db import session_scope
from models.tables import OutboxMessage

__all__ = [
    "OutboxItem",
    "enqueue_all",
    "mark_dropped",
    "mark_failed",
    "mark_sent",
    "pending",
    "statuses",
]


@dataclass(frozen=True)
class OutboxItem:
    """A rendered message to store under its key."""

    key: str
    to_addr: str
    subject: str
    text: str
    html: str
    expires_at: datetime | None = None


def _insert_missing(session: Session, items: Sequence[OutboxItem], at: datetime) -> list[str]:
    keys = [i.key for i in items]
    known = set(
        session.exec(
            select(OutboxMessage.idempotency_key).where(
                col(OutboxMessage.idempotency_key).in_(keys)
            )
        ).all()
    )
    for item in items:
        if item.key in known:
            continue
        session.add(
            OutboxMessage(
                idempotency_key=item.key,
                to_addr=item.to_addr,
                subject=item.subject,
                body_text=item.text,
                body_html=item.html,
                created_at=at,
                expires_at=item.expires_at,
            )
        )
        known.add(item.key)
    session.flush()
    return keys


def enqueue_all(engine: Engine, items: Sequence[OutboxItem], *, at: datetime) -> list[str]:
    """Stores the messages whose key is new (one transaction); returns every key given."""
    try:
        with session_scope(engine, write=True) as session:
            return _insert_missing(session, items, at)
    except IntegrityError:  # a concurrent attempt inserted some keys first: keep theirs
        with session_scope(engine, write=True) as session:
            return _insert_missing(session, items, at)


def pending(engine: Engine, keys: Sequence[str]) -> list[OutboxMessage]:
    """The messages among ``keys`` not sent or dropped yet, oldest first."""
    if not keys:
        return []
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(
                    col(OutboxMessage.idempotency_key).in_(list(keys)),
                    OutboxMessage.status == "pending",
                )
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def statuses(engine: Engine, keys: Sequence[str]) -> dict[str, str]:
    """Key → status for the given keys."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(OutboxMessage.idempotency_key, OutboxMessage.status).where(
                col(OutboxMessage.idempotency_key).in_(list(keys))
            )
        ).all()
        return {k: s for k, s in rows}


def mark_sent(engine: Engine, message_id: int, at: datetime) -> None:
    """Records a successful send, committed at once (a crash after it sends nothing again)."""
    with session_scope(engine, write=True) as session:
        row = session.get(OutboxMessage, message_id)
        if row is not None:
            row.status = "sent"
            row.sent_at = at
            row.attempts += 1
            row.last_error = ""
            session.add(row)


def mark_failed(engine: Engine, message_id: int, error: str, permanent: bool = False) -> None:
    """Records a failed attempt: pending for the next retry, or ``failed`` for good."""
    with session_scope(engine, write=True) as session:
        row = session.get(OutboxMessage, message_id)
        if row is not None:
            row.attempts += 1
            if permanent:
                row.status = "failed"
            row.last_error = error[:2000]
            session.add(row)


def mark_dropped(engine: Engine, message_id: int, reason: str) -> None:
    """A message whose deadline passed before it could be sent: never sent late."""
    with session_scope(engine, write=True) as session:
        row = session.get(OutboxMessage, message_id)
        if row is not None and row.status == "pending":
            row.status = "dropped"
            row.last_error = reason[:2000]
            session.add(row)
