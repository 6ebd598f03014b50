"""The mail activity: render the digests of a notice, store them in the outbox, send them.

Exactly once from the reader's view: the messages of one notice are rendered and stored in
one transaction under their idempotency keys the first time; every later attempt (a retry, a
replay, a restarted worker) finds them and only sends what is still ``pending``. Each message is
marked sent right after the SMTP server accepted it. An SMTP failure fails the activity, whose
retry policy backs off; a message whose deadline passed meanwhile is dropped, not sent late.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import activity_now
from contracts.activities import MAIL_NOTIFY, MailActivitiesInterface
from contracts.messages import NoticeRequest, NotifyResult
from core.db import session_scope
from core.settings import Settings
from models.tables import OutboxMessage
from notifications.mailer import Mailer, build_message, is_permanent, mailbox
from notifications.render import render
from services import outbox
from services.notices import build_notices, message_key

__all__ = ["MailActivities", "notice_prefix"]

log = logging.getLogger(__name__)


def notice_prefix(req: NoticeRequest) -> str:
    """The idempotency keys of one notice's messages all start with this."""
    return "|".join([req.cycle_id, req.unit_code or "-", req.kind.value, req.key]) + "|"


class MailActivities(MailActivitiesInterface):
    """Renders, stores and sends notifications (injected engine, settings and mailer)."""

    def __init__(self, engine: Engine, settings: Settings, mailer: Mailer) -> None:
        self.engine = engine
        self.settings = settings
        self.mailer = mailer

    def _prepare(self, req: NoticeRequest) -> list[OutboxMessage]:
        prefix = notice_prefix(req)
        with session_scope(self.engine) as session:
            stored = session.exec(
                select(OutboxMessage.id)
                .where(col(OutboxMessage.idempotency_key).startswith(prefix, autoescape=True))
                .limit(1)
            ).first()
            notices = (
                []
                if stored is not None
                else build_notices(session, req, base_url=self.settings.base_url)
            )
        if notices:
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
                    )
                )
            outbox.enqueue_all(self.engine, items, at=req.at)
        with session_scope(self.engine) as session:
            return list(
                session.exec(
                    select(OutboxMessage)
                    .where(
                        col(OutboxMessage.idempotency_key).startswith(prefix, autoescape=True),
                        OutboxMessage.status == "pending",
                    )
                    .order_by(col(OutboxMessage.id))
                ).all()
            )

    @activity.defn(name=MAIL_NOTIFY)
    async def notify(self, req: NoticeRequest) -> NotifyResult:
        """Renders and stores the notice's digests (first attempt only) and sends the pending."""
        rows = await asyncio.to_thread(self._prepare, req)
        # The attempt's scheduled time can be long past (a worker down across the deadline):
        # the wall clock decides whether a reminder is still worth sending.
        now = max(activity_now(), datetime.now(UTC))
        dropped = 0
        to_send: list[OutboxMessage] = []
        for row in rows:
            assert row.id is not None
            if row.expires_at is not None and now >= row.expires_at:
                await asyncio.to_thread(
                    outbox.mark_dropped, self.engine, row.id, "deadline passed before sending"
                )
                dropped += 1
            else:
                to_send.append(row)
        messages = [
            build_message(
                from_addr=self.settings.mail_from,
                to_addr=row.to_addr,
                subject=row.subject,
                text=row.body_text,
                html=row.body_html,
                key=row.idempotency_key,
                date=now,
            )
            for row in to_send
        ]
        failures: list[str] = []

        async def on_result(i: int, error: Exception | None) -> None:
            row_id = to_send[i].id
            assert row_id is not None
            if error is None:
                await asyncio.to_thread(outbox.mark_sent, self.engine, row_id, now)
            elif is_permanent(error):
                log.warning("message %s refused for good: %s", to_send[i].idempotency_key, error)
                await asyncio.to_thread(outbox.mark_failed, self.engine, row_id, str(error), True)
            else:
                failures.append(f"{to_send[i].idempotency_key}: {error}")
                await asyncio.to_thread(outbox.mark_failed, self.engine, row_id, str(error))

        await self.mailer.send_many(messages, on_result)
        if failures:
            log.warning("SMTP failed for %d message(s): %s", len(failures), failures[0])
            raise ApplicationError(
                f"SMTP failed for {len(failures)} message(s): {failures[0]}", type="smtp_failed"
            )
        return NotifyResult(messages=len(rows), sent=len(to_send), dropped=dropped)
