"""The unit workflow's own hard-lock check refuses submit, return and assign that arrive after
the lock instant, before the lock timer has run (issue 14: deleting that check, or making it
``>``, passed every test — only the API's edit gate was exercised).

On the real dev server: the worker is away across the lock instant; the three commands are
sent; a worker comes back and its first workflow task carries the commands together with the
lock timer. The commands are validated while the unit is still in unit_review, so only the
workflow's ``now >= hard_lock_at`` check (models.states.locked) can refuse them: "locked".
The instant itself (``now == hard_lock_at``) is pinned on ``models.states.locked``, which the
workflow calls."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core.errors import Refusal
from models.states import locked
from models.tables import UnitState
from notifications.sink import MailSink
from tests.histories.scenario import COMMUNES, seed_cycle, settings_for
from workflows import commands as C
from workflows.worker import build_worker


def test_the_lock_holds_from_its_exact_instant() -> None:
    lock = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)  # 17:00 in Hà Nội
    assert locked(lock, lock)  # at the instant: locked (a ">" would let this through)
    assert locked(lock + timedelta(microseconds=1), lock)
    assert not locked(lock - timedelta(microseconds=1), lock)


async def test_submit_return_and_assign_after_the_lock_are_refused_by_the_workflow(
    temporal_dev: WorkflowEnvironment, engine: Engine, smtp: tuple[int, MailSink]
) -> None:
    port, _sink = smtp
    client = temporal_dev.client
    now = datetime.now(UTC)
    unit = COMMUNES[1][0]
    lock = now + timedelta(seconds=12)
    seeded = seed_cycle(
        engine,
        year=now.year,
        opens_at=now - timedelta(days=1),
        units=COMMUNES[1:2],
        real_table_for=(),
        cutoff=now - timedelta(hours=1),
        submission=now + timedelta(seconds=3),
        hard_lock=lock,
        appraisal=now + timedelta(days=10),
        results=now + timedelta(days=20),
        offsets=(),
    )
    cid = seeded.cycle_id
    queue = f"lockcmd-{uuid.uuid4().hex[:8]}"
    settings = settings_for(port)
    office = seeded.office[unit]
    specs = tuple(seeded.specs[unit])

    async with build_worker(
        client, engine=engine, settings=settings, task_queue=queue, max_cached_workflows=0
    ):
        await C.start_cycle(client, engine, cid, task_queue=queue, search_attributes=False)
        await C.unit_command(client, cid, unit, C.AssignCommand(actor=office, assignments=specs))
        await C.unit_command(client, cid, unit, C.StartReviewCommand(actor=office))
        assert (await C.unit_status(client, cid, unit)).state is UnitState.unit_review
        left = (lock - datetime.now(UTC)).total_seconds()
        assert left > 1.0, f"set-up ended {-left:.1f} s past the lock: nothing was tested"

    await asyncio.sleep(max(0.0, (lock - datetime.now(UTC)).total_seconds()) + 1.5)
    codes = tuple(specs[0].codes[:1])
    commands: list[C.UnitCommand] = [
        C.SubmitCommand(actor=office),
        C.ReturnCommand(actor=office, codes=codes, comment="Bổ sung tài liệu kiểm chứng"),
        C.AssignCommand(actor=office, assignments=specs),
    ]
    sent = [asyncio.create_task(C.unit_command(client, cid, unit, cmd)) for cmd in commands]
    await asyncio.sleep(1.0)
    assert not any(task.done() for task in sent)
    async with build_worker(
        client, engine=engine, settings=settings, task_queue=queue, max_cached_workflows=0
    ):
        outcomes = await asyncio.wait_for(asyncio.gather(*sent, return_exceptions=True), timeout=60)
        for command, outcome in zip(commands, outcomes, strict=True):
            assert isinstance(outcome, Refusal), (command.kind, outcome)
            assert outcome.code == "locked", (command.kind, outcome)
        for _ in range(100):
            if (await C.unit_status(client, cid, unit)).state is UnitState.not_submitted:
                break
            await asyncio.sleep(0.1)
        assert (await C.unit_status(client, cid, unit)).state is UnitState.not_submitted
