"""A hard lock that is due is not undone by an extension arriving in the same workflow task.

On the real dev server: the worker is away across the lock instant, an extension is sent, then
a worker comes back; its first workflow task carries both the lock timer and the update. The
update's validator must refuse (reopen_required) and the unit must end up locked."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core.errors import Refusal
from models.tables import UnitState
from notifications.sink import MailSink
from tests.histories.scenario import COMMUNES, seed_cycle, settings_for
from workflows import commands as C
from workflows.worker import build_worker


async def test_an_extension_does_not_undo_a_due_lock(
    temporal_dev: WorkflowEnvironment, engine: Engine, smtp: tuple[int, MailSink]
) -> None:
    port, _sink = smtp
    client = temporal_dev.client
    now = datetime.now(UTC)
    unit = COMMUNES[2][0]
    lock = now + timedelta(seconds=12)  # the set-up below must end before it (checked)
    seeded = seed_cycle(
        engine,
        year=now.year,
        opens_at=now - timedelta(days=1),
        units=COMMUNES[2:],
        real_table_for=(),
        cutoff=now - timedelta(hours=1),
        submission=now + timedelta(seconds=3),
        hard_lock=lock,
        appraisal=now + timedelta(days=10),
        results=now + timedelta(days=20),
        offsets=(),
    )
    cid = seeded.cycle_id
    queue = f"race-{uuid.uuid4().hex[:8]}"
    settings = settings_for(port)

    async with build_worker(
        client, engine=engine, settings=settings, task_queue=queue, max_cached_workflows=0
    ):
        await C.start_cycle(client, engine, cid, task_queue=queue, search_attributes=False)
        office = seeded.office[unit]
        await C.unit_command(
            client, cid, unit, C.AssignCommand(actor=office, assignments=tuple(seeded.specs[unit]))
        )
        assert (await C.unit_status(client, cid, unit)).state is UnitState.drafting
        # A slow set-up (a loaded machine) would let this worker process the lock itself, and
        # the test would pass without any race: fail loudly instead of testing nothing.
        left = (lock - datetime.now(UTC)).total_seconds()
        assert left > 1.0, f"set-up ended {-left:.1f} s past the lock: the race was not tested"

    # No worker while the lock falls due; the extension waits for the next one.
    await asyncio.sleep(max(0.0, (lock - datetime.now(UTC)).total_seconds()) + 1.5)
    extension = asyncio.create_task(
        C.unit_command(
            client,
            cid,
            unit,
            C.SetDeadlinesCommand(
                actor="coordinator",
                submission_deadline=datetime.now(UTC) + timedelta(days=1),
                hard_lock_at=datetime.now(UTC) + timedelta(days=2),
            ),
        )
    )
    await asyncio.sleep(1.0)
    assert not extension.done()
    async with build_worker(
        client, engine=engine, settings=settings, task_queue=queue, max_cached_workflows=0
    ):
        try:
            await asyncio.wait_for(extension, timeout=60)
            raise AssertionError("the extension of a due lock must be refused")
        except Refusal as refused:
            assert refused.code == "reopen_required", refused
        for _ in range(100):
            if (await C.unit_status(client, cid, unit)).state is UnitState.not_submitted:
                break
            await asyncio.sleep(0.1)
        status = await C.unit_status(client, cid, unit)
        assert status.state is UnitState.not_submitted
        assert status.hard_lock_at == lock
