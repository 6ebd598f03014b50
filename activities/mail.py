"""The mail activity: render the digests of a notice, store them in the outbox, send them.

Exactly once from the reader's view: the messages of one notice are rendered and stored in
one transaction under their idempotency keys the first time; every later attempt (a retry, a
replay, a restarted worker) finds them and only sends what is still unsettled. Each message is
claimed right before it is sent (two attempts never send one row at once) and marked sent in
its own short transaction right after the SMTP server accepted it (``services.outbox``); the
activity heartbeats after each message, so a crashed worker's notice is retried within the
heartbeat timeout. An SMTP failure fails the activity, whose retry policy backs off; a message
whose deadline passed meanwhile is dropped, not sent late.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import activity_now, attempt_token, heartbeat, heartbeating
from contracts.activities import MAIL_NOTIFY, MailActivitiesInterface
from contracts.messages import NoticeRequest, NotifyResult
from core.db import session_scope
from core.errors import Unavailable
from core.settings import Settings
from models.tables import OutboxMessage
from notifications.mailer import Mailer, build_message, is_permanent, mailbox
from notifications.render import render
from services import outbox
from services.notices import build_notices, message_key

__all__ = ["MailActivities", "notice_prefix"]

log = logging.getLogger(__name__)

# How long "sent" is retried against a busy database (beside SQLite's own 5 s per try); below
# outbox.CLAIM_LEASE (45 s), so no other attempt may take the row over meanwhile.
SENT_WRITE_S = 20.0

_T = TypeVar("_T")


def notice_prefix(req: NoticeRequest) -> str:
    """The idempotency keys of one notice's messages all start with this; it is also their
    ``notice_key``, by which a later attempt of the notice finds them."""
    return "|".join([req.cycle_id, req.unit_code or "-", req.kind.value, req.key]) + "|"


class MailActivities(MailActivitiesInterface):
    """Renders, stores and sends notifications (injected engine, settings and mailer)."""

    def __init__(self, engine: Engine, settings: Settings, mailer: Mailer) -> None:
        self.engine = engine
        self.settings = settings
        self.mailer = mailer
        # One thread per mail slot (and one for the main queue's older workflows): a message's
        # claim and "sent" never wait for a thread.
        self._writes = ThreadPoolExecutor(
            max_workers=settings.worker_max_mail_activities + 1, thread_name_prefix="outbox"
        )

    def _prepare(self, req: NoticeRequest, token: str) -> list[OutboxMessage]:
        """The notice's unsettled rows: rendered and stored on the first attempt (its first
        message already claimed by ``token``), found in the outbox on every later one."""
        prefix = notice_prefix(req)
        with session_scope(self.engine) as session:
            # An equality on an indexed column: a prefix LIKE would scan every message ever
            # stored (no index serves it on SQLite, nor on PostgreSQL outside the C collation).
            stored = session.exec(
                select(OutboxMessage.id).where(OutboxMessage.notice_key == prefix).limit(1)
            ).first()
            notices = (
                []
                if stored is not None
                else build_notices(session, req, base_url=self.settings.base_url)
            )
            if not notices:
                return outbox.unsettled(session, col(OutboxMessage.notice_key) == prefix)
        items = []
        for n in notices:
            mail = render(n.template, n.context)
            items.append(
                outbox.OutboxItem(
                    key=message_key(req, n.recipient),
                    to_addr=mailbox(n.recipient.name, n.recipient.email),
                    subject=mail.subject,
                    text=mail.text,
                    html=mail.html,
                    expires_at=req.expires_at,
                    notice=prefix,
                )
            )
        return outbox.store_and_claim(
            self.engine, items, at=req.at, token=token, now=datetime.now(UTC)
        )

    async def _db(self, fn: Callable[..., _T], *args: Any, **kw: Any) -> _T:
        """An outbox write on the activity's own threads: never queued behind rendering or
        other activities' database work, so "sent" is committed right after the "250"."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writes, functools.partial(fn, *args, **kw))

    @activity.defn(name=MAIL_NOTIFY)
    async def notify(self, req: NoticeRequest) -> NotifyResult:
        """Renders and stores the notice's digests (first attempt only) and sends the unsettled
        ones, each claimed right before it is sent and marked right after the server's answer;
        heartbeats each message (a retry resumes from the outbox: only unsettled rows)."""
        send = _Send(self, req)
        # Also while rendering or waiting on a slow SMTP answer: the heartbeat says the worker
        # is alive (a crash stops it); a hung server is bounded by the mailer's timeouts.
        async with heartbeating(send.progress):
            rows = await asyncio.to_thread(self._prepare, req, send.token)
            return await send.run(rows)


class _Send:
    """One attempt of ``notify``: claims, sends and settles the notice's unsettled rows."""

    def __init__(self, acts: MailActivities, req: NoticeRequest) -> None:
        self.acts = acts
        self.req = req
        self.token = attempt_token()
        self.sent = 0
        self.dropped = 0
        self.failures: list[str] = []
        self.busy: list[str] = []
        self.holding: set[int] = set()  # rows this attempt has claimed and not settled
        self.claimed: dict[int, bool] = {}  # index → the claim taken with the last settle
        self.rows: list[OutboxMessage] = []

    def progress(self) -> tuple[int, int]:
        """The heartbeat details: messages sent and dropped by this attempt so far."""
        return self.sent, self.dropped

    def _claim(self, row: OutboxMessage) -> outbox.Claim:
        assert row.id is not None
        return outbox.Claim(row.id, self.token, datetime.now(UTC))

    async def run(self, rows: list[OutboxMessage]) -> NotifyResult:
        """Drops the expired rows, sends the others over one connection, then reports."""
        # The attempt's scheduled time can be long past (a worker down across the deadline):
        # the wall clock decides whether a reminder is still worth sending.
        now = max(activity_now(), datetime.now(UTC))
        for row in rows:
            if row.expires_at is not None and now >= row.expires_at:
                reason = "deadline passed before sending"
                engine = self.acts.engine
                if await self.acts._db(outbox.mark_dropped, engine, self._claim(row), reason):
                    self.dropped += 1
                else:
                    self.busy.append(row.idempotency_key)
            else:
                self.rows.append(row)
                if row.status == "sending" and row.claimed_by == self.token:
                    assert row.id is not None
                    self.holding.add(row.id)  # stored claimed: given back if we stop early
        s = self.acts.settings
        messages = [
            build_message(
                from_addr=s.mail_from,
                to_addr=row.to_addr,
                subject=row.subject,
                text=row.body_text,
                html=row.body_html,
                key=row.idempotency_key,
                date=now,
            )
            for row in self.rows
        ]
        try:
            await self.acts.mailer.send_many(
                messages, lambda i, e: self._settle(i, e, now), before=self._before
            )
        finally:
            if self.holding:  # an exception left claims: give them back at once
                await self.acts._db(outbox.release, self.acts.engine, self.token, self.holding)
        self._raise_unsettled()
        return NotifyResult(messages=len(rows), sent=self.sent, dropped=self.dropped)

    async def _before(self, i: int) -> bool:
        row = self.rows[i]
        ok = self.claimed.pop(i, None)
        if ok is None and row.id in self.holding:
            ok = True  # stored claimed by this attempt (``outbox.store_and_claim``)
        if ok is None:
            ok = await self.acts._db(outbox.claim, self.acts.engine, self._claim(row))
        if ok:
            assert row.id is not None
            self.holding.add(row.id)
        else:
            self.busy.append(row.idempotency_key)
        return ok

    async def _settle(self, i: int, error: Exception | None, at: datetime) -> None:
        row = self.rows[i]
        assert row.id is not None
        engine = self.acts.engine
        # The next row is claimed in the same transaction, unless this connection is in doubt.
        nxt = None
        if i + 1 < len(self.rows) and (error is None or is_permanent(error)):
            nxt = self._claim(self.rows[i + 1])
        if error is None:
            got = await self._mark_sent(row.id, at, nxt)
            self.sent += 1
        else:
            permanent = is_permanent(error)
            if permanent:
                log.warning("message %s refused for good: %s", row.idempotency_key, error)
            else:
                self.failures.append(f"{row.idempotency_key}: {error}")
            got = await self.acts._db(
                outbox.mark_failed,
                engine,
                row.id,
                str(error),
                permanent,
                token=self.token,
                claim_next=nxt,
            )
        self.holding.discard(row.id)
        if nxt is not None:
            self.claimed[i + 1] = got
        heartbeat(*self.progress())

    async def _mark_sent(self, row_id: int, at: datetime, nxt: outbox.Claim | None) -> bool:
        """The server took the message: that fact must reach the outbox, or the row would go
        back to pending and be sent twice. A busy database (SQLite's writer queue, a lock) is
        waited out within SENT_WRITE_S, well inside the claim's lease."""
        deadline = asyncio.get_running_loop().time() + SENT_WRITE_S
        pause = 0.05
        while True:
            try:
                return await self.acts._db(
                    outbox.mark_sent, self.acts.engine, row_id, at, claim_next=nxt
                )
            except (OperationalError, Unavailable):
                if asyncio.get_running_loop().time() + pause > deadline:
                    raise
                log.warning("outbox busy recording a sent message; retrying in %.2f s", pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    def _raise_unsettled(self) -> None:
        if self.failures:
            log.warning("SMTP failed for %d message(s): %s", len(self.failures), self.failures[0])
            raise ApplicationError(
                f"SMTP failed for {len(self.failures)} message(s): {self.failures[0]}",
                type="smtp_failed",
            )
        if self.busy:
            # Claimed by an attempt that may still be sending them: retried after its lease.
            raise ApplicationError(
                f"{len(self.busy)} message(s) being sent by another attempt: {self.busy[0]}",
                type="outbox_claimed",
            )
