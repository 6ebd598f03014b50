"""The outbox of e-mails: each message once per idempotency key, with its send status.

A notification is first rendered and written here (``enqueue``: an existing key is left as it
is, so a retried or replayed activity renders nothing twice), then sent by whoever finds it
``pending`` (``notifications.mailer`` via the mail activity); an address the server refuses
for good is marked ``failed`` instead of being retried forever. ``expires_at`` is the deadline a
reminder is about: a message still unsent then is ``dropped``, never sent late.

A sender first **claims** a row (``pending`` → ``sending``, with its attempt's token and the
wall clock), sends it, then settles it in one short transaction right after the server's
answer (``sent``; back to ``pending`` after a transient error; ``failed``), claiming the next
row in the same transaction; the first row of a new notice is stored already claimed
(``store_and_claim``). Two attempts never send one row at the same time: a row another
attempt is sending can be taken over only once its claim is older than ``CLAIM_LEASE`` (longer
than any single send may take). A row still ``sending`` after a crash is the only one whose
fate is unknown (the crash fell between the claim and the commit of ``sent``): it is sent again
once the lease passed — at most one such row per SMTP connection open at the crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from core.db import session_scope
from models.tables import OutboxMessage

__all__ = [
    "CLAIM_LEASE",
    "UNSETTLED",
    "Claim",
    "OutboxItem",
    "claim",
    "enqueue_all",
    "mark_dropped",
    "mark_failed",
    "mark_sent",
    "pending",
    "release",
    "statuses",
    "store_and_claim",
    "unsettled",
]


# A claim older than this may be taken over: longer than one message's send may last
# (``SmtpMailer`` bounds each message by its 30 s timeout), so the attempt that claimed the row
# has finished or died by then.
CLAIM_LEASE = timedelta(seconds=45)
# Rows still to send: pending, or claimed by an attempt that may have died.
UNSETTLED = ("pending", "sending")


@dataclass(frozen=True)
class Claim:
    """A send attempt's claim on one row: its token, the wall clock now, the lease."""

    message_id: int
    token: str
    now: datetime
    lease: timedelta = CLAIM_LEASE


@dataclass(frozen=True)
class OutboxItem:
    """A rendered message to store under its key (and its notice's key, which a retry of the
    notice looks its rows up by)."""

    key: str
    to_addr: str
    subject: str
    text: str
    html: str
    expires_at: datetime | None = None
    notice: str = ""


def _insert_missing(
    session: Session,
    items: Sequence[OutboxItem],
    at: datetime,
    first: tuple[str, datetime] | None = None,
) -> list[str]:
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
        row = OutboxMessage(
            idempotency_key=item.key,
            notice_key=item.notice,
            to_addr=item.to_addr,
            subject=item.subject,
            body_text=item.text,
            body_html=item.html,
            created_at=at,
            expires_at=item.expires_at,
        )
        if first is not None:  # the first new row is stored claimed: about to be sent
            row.status, (row.claimed_by, row.claimed_at) = "sending", first
            first = None
        session.add(row)
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


def store_and_claim(
    engine: Engine, items: Sequence[OutboxItem], *, at: datetime, token: str, now: datetime
) -> list[OutboxMessage]:
    """A sender's first attempt at a notice: stores the messages whose key is new, the first
    of them already claimed by ``token`` (the claim ``claim`` would take right before sending
    it, saved a transaction), and returns the given keys' unsettled rows, oldest first — one
    transaction. Rows a concurrent attempt inserted first are kept as theirs, unclaimed."""
    keys = [i.key for i in items]

    def run(first: tuple[str, datetime] | None) -> list[OutboxMessage]:
        with session_scope(engine, write=True) as session:
            _insert_missing(session, items, at, first)
            return unsettled(session, col(OutboxMessage.idempotency_key).in_(keys))

    try:
        return run((token, now))
    except IntegrityError:
        return run(None)


def pending(engine: Engine, keys: Sequence[str]) -> list[OutboxMessage]:
    """The messages among ``keys`` not settled yet (pending or sending), oldest first."""
    if not keys:
        return []
    with session_scope(engine) as session:
        return unsettled(session, col(OutboxMessage.idempotency_key).in_(list(keys)))


def unsettled(session: Session, match: ColumnElement[bool]) -> list[OutboxMessage]:
    """The rows ``match`` selects that are not settled yet (pending or sending), oldest first."""
    return list(
        session.exec(
            select(OutboxMessage)
            .where(match, col(OutboxMessage.status).in_(UNSETTLED))
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


def _changed(session: Session, statement: Any) -> bool:
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return bool(result.rowcount)


def _claimable(c: Claim) -> Any:
    return and_(
        col(OutboxMessage.id) == c.message_id,
        or_(
            col(OutboxMessage.status) == "pending",
            and_(
                col(OutboxMessage.status) == "sending",
                or_(
                    col(OutboxMessage.claimed_by) == c.token,
                    col(OutboxMessage.claimed_at) < c.now - c.lease,
                ),
            ),
        ),
    )


def _mine(token: str) -> Any:
    return or_(
        col(OutboxMessage.status) == "pending",
        and_(col(OutboxMessage.status) == "sending", col(OutboxMessage.claimed_by) == token),
    )


def _claim(session: Session, c: Claim | None) -> bool:
    if c is None:
        return True
    return _changed(
        session,
        update(OutboxMessage)
        .where(_claimable(c))
        .values(status="sending", claimed_by=c.token, claimed_at=c.now),
    )


def claim(engine: Engine, c: Claim) -> bool:
    """Claims the row for one send attempt: True when it is now this attempt's to send (it was
    pending, already this attempt's, or its claim expired), False when it was settled or
    another attempt is sending it."""
    with session_scope(engine, write=True) as session:
        return _claim(session, c)


def mark_sent(
    engine: Engine, message_id: int, at: datetime, *, claim_next: Claim | None = None
) -> bool:
    """Records a send the server accepted — one short transaction, committed at once (a crash
    after it sends nothing again) — and claims the next row in it; returns that claim's result
    (True without one)."""
    with session_scope(engine, write=True) as session:
        _changed(
            session,
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.status) != "sent")
            .values(
                status="sent",
                sent_at=at,
                attempts=col(OutboxMessage.attempts) + 1,
                last_error="",
            ),
        )
        return _claim(session, claim_next)


def mark_failed(
    engine: Engine,
    message_id: int,
    error: str,
    permanent: bool = False,
    *,
    token: str,
    claim_next: Claim | None = None,
) -> bool:
    """Records a failed attempt on a row pending or claimed by ``token``: pending again (claim
    released) for the next retry, or ``failed`` for good; claims the next row in the same
    transaction (see ``mark_sent``)."""
    with session_scope(engine, write=True) as session:
        _changed(
            session,
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message_id, _mine(token))
            .values(
                status="failed" if permanent else "pending",
                claimed_by=None,
                claimed_at=None,
                attempts=col(OutboxMessage.attempts) + 1,
                last_error=error[:2000],
            ),
        )
        return _claim(session, claim_next)


def release(engine: Engine, token: str, message_ids: Iterable[int]) -> None:
    """Gives back the claims ``token`` still holds on these rows (pending again): an attempt
    that stops early never makes the next one wait for the lease."""
    ids = list(message_ids)
    if not ids:
        return
    with session_scope(engine, write=True) as session:
        session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(ids),
                col(OutboxMessage.status) == "sending",
                col(OutboxMessage.claimed_by) == token,
            )
            .values(status="pending", claimed_by=None, claimed_at=None)
        )


def mark_dropped(engine: Engine, c: Claim, reason: str) -> bool:
    """A message whose deadline passed before it could be sent: never sent late. Only a row
    this attempt could claim (not one another attempt is sending right now)."""
    with session_scope(engine, write=True) as session:
        return _changed(
            session,
            update(OutboxMessage)
            .where(_claimable(c))
            .values(status="dropped", last_error=reason[:2000]),
        )
