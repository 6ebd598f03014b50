"""A burst of reminders cannot starve user commands (issue 15): the workflows send their mail
activity to the mail task queue (``<queue>-mail``), which has its own worker slots.

On the real dev server, with a worker pair of two main activity slots and two mail slots and a
mailer that holds every batch until the test releases it: the cycle's opening notices (one per
unit) fill both mail slots and queue behind them; a unit command's transition activity still
runs on the main queue and completes while every mail is held and none is sent. Had the mail
shared the main queue, the two held mails would occupy both main slots and the command could
not run before they were released.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import Message

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from contracts.activities import MAIL_NOTIFY, mail_task_queue
from core.db import session_scope
from core.settings import Settings
from models.tables import OutboxMessage
from models.tables import UnitState as State
from notifications.mailer import Before, OnResult, Skipped
from tests.histories.scenario import seed_open_cycle
from workflows import commands as C
from workflows.worker import build_worker

UNITS = 6
MAIN_SLOTS = 2
MAIL_SLOTS = 2


class HeldMailer:
    """A mailer that holds every batch until ``release`` is set; records what it sent."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.held = 0
        self.log: list[str] = []  # "mail <key>" / "command done", in order

    async def send_many(
        self,
        messages: Sequence[Message],
        on_result: OnResult | None = None,
        *,
        before: Before | None = None,
    ) -> list[Exception | None]:
        self.held += 1
        try:
            await self.release.wait()
        finally:
            self.held -= 1
        outcomes: list[Exception | None] = []
        for i, msg in enumerate(messages):
            if before is not None and not await before(i):
                outcomes.append(Skipped())
                continue
            self.log.append(f"mail {msg['X-Appraisal-Key']}")
            outcomes.append(None)
            if on_result is not None:
                await on_result(i, None)
        return outcomes


async def _until(predicate: object, what: str, limit: float = 60.0) -> None:
    """Polls ``predicate()`` (a hang guard, not a timing assertion)."""
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        assert loop.time() < end, f"never: {what}"
        await asyncio.sleep(0.05)


async def test_a_reminder_burst_on_the_mail_queue_does_not_delay_a_unit_command(
    temporal_dev: WorkflowEnvironment, engine: Engine
) -> None:
    client = temporal_dev.client
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    units = [(f"mq{tag}-{i}", f"UBND xã Thử {i}") for i in range(UNITS)]
    seeded = seed_open_cycle(engine, year=now.year + 2, units=units)
    cid = seeded.cycle_id
    queue = f"mailq-{tag}"
    mailer = HeldMailer()
    settings = Settings(base_url="https://danhgia.dinhhoa.test")
    workers = build_worker(
        client,
        engine=engine,
        settings=settings,
        task_queue=queue,
        mailer=mailer,
        max_concurrent_activities=MAIN_SLOTS,
        max_concurrent_mail_activities=MAIL_SLOTS,
    )
    async with workers:
        try:
            await C.start_cycle(client, engine, cid, task_queue=queue, search_attributes=False)
            # The burst: every unit's opening notice; the mail slots fill with held batches.
            await _until(lambda: mailer.held == MAIL_SLOTS, "both mail slots held")
            unit = units[0][0]
            status = await asyncio.wait_for(
                C.unit_command(
                    client,
                    cid,
                    unit,
                    C.AssignCommand(actor=seeded.office[unit], assignments=seeded.specs[unit]),
                ),
                timeout=60,  # a hang guard: without the mail queue this would wait for mail
            )
            mailer.log.append("command done")
            assert status.state is State.drafting
            # The command ran while at least as many mails as there are main slots were held,
            # and before any message went out.
            assert mailer.held == MAIL_SLOTS >= MAIN_SLOTS
            assert mailer.log == ["command done"]
        finally:
            mailer.release.set()
        # Then the burst drains: every opening notice and the assignment mails, once each.
        await _until(
            lambda: sum("|cycle_opened|" in e for e in mailer.log) == UNITS, "every notice"
        )
        history = await client.get_workflow_handle(C.unit_workflow_id(cid, unit)).fetch_history()
    assert mailer.log[0] == "command done"
    mails = mailer.log[1:]
    assert len(mails) == len(set(mails))
    queues = {
        e.activity_task_scheduled_event_attributes.task_queue.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == MAIL_NOTIFY
    }
    assert queues == {mail_task_queue(queue)}
    with session_scope(engine) as s:
        statuses = s.exec(
            select(OutboxMessage.status).where(
                col(OutboxMessage.idempotency_key).contains("|cycle_opened|"),
                col(OutboxMessage.idempotency_key).startswith(f"{cid}|"),
            )
        ).all()
    assert sorted(statuses) == ["sent"] * UNITS
