"""A unit transition is an activity (``ACTIVITY_TRANSITION_PATCH``; a local one for histories
recorded under ``LOCAL_TRANSITION_PATCH`` alone), re-run whole when an attempt is lost. Its
transaction is idempotent by request key, so an attempt that committed and then never reported
back (a worker that died right after the commit, a lost answer) is answered by the next attempt
from the audit row: the change is committed once.

On the real dev server and a real database: the first attempt of a unit's assignment commits
and then fails; the retry finds the audit row and the update answers as if nothing happened.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.unit import UnitActivities
from contracts.activities import UNIT_TRANSITION
from contracts.ids import unit_workflow_id
from contracts.messages import ActivityResult, AssignCommand, TransitionArgs
from core.db import session_scope
from core.settings import Settings
from models.tables import AuditLog, CycleUnit
from models.tables import UnitState as State
from tests.histories.scenario import seed_open_cycle
from workflows import commands as C
from workflows.unit import ACTIVITY_TRANSITION_PATCH
from workflows.worker import build_worker


async def test_a_transition_that_committed_but_never_answered_is_committed_once(
    temporal_dev: WorkflowEnvironment, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = temporal_dev.client
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    unit = f"lt{tag}"
    seeded = seed_open_cycle(engine, year=now.year + 3, units=[(unit, "UBND xã Thử")])
    cid = seeded.cycle_id
    attempts: list[str] = []
    real_apply = UnitActivities._apply

    def commit_then_lose_the_answer(self: UnitActivities, args: TransitionArgs) -> ActivityResult:
        result = real_apply(self, args)  # committed
        attempts.append(args.request_key)
        if isinstance(args.command, AssignCommand) and len(attempts) == 1:
            raise RuntimeError("the answer is lost after the commit")
        return result

    monkeypatch.setattr(UnitActivities, "_apply", commit_then_lose_the_answer)
    queue = f"retry-{tag}"
    settings = Settings(base_url="https://danhgia.dinhhoa.test")
    async with build_worker(client, engine=engine, settings=settings, task_queue=queue):
        await C.start_cycle(client, engine, cid, task_queue=queue, search_attributes=False)
        status = await C.unit_command(
            client,
            cid,
            unit,
            AssignCommand(actor=seeded.office[unit], assignments=seeded.specs[unit]),
        )
        history = await client.get_workflow_handle(unit_workflow_id(cid, unit)).fetch_history()

    assert status.state is State.drafting
    # Two attempts of the same transition (one request key), one committed change.
    assert len(attempts) == 2 and len(set(attempts)) == 1
    with session_scope(engine) as s:
        rows = s.exec(select(AuditLog).where(AuditLog.request_key == attempts[0])).all()
        cu = s.exec(select(CycleUnit).where(CycleUnit.cycle_id == cid)).one()
    assert len(rows) == 1 and rows[0].after is not None
    assert rows[0].after["state"] == State.drafting
    assert cu.state == State.drafting
    # In the history: the new workflows' marker, one activity task for the transition whose
    # second attempt answered, and no local activity.
    events = history.events
    started = [
        e.activity_task_started_event_attributes.attempt
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and any(
            s.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and s.event_id == e.activity_task_started_event_attributes.scheduled_event_id
            and s.activity_task_scheduled_event_attributes.activity_type.name == UNIT_TRANSITION
            for s in events
        )
    ]
    assert started == [2]
    markers = [
        e.marker_recorded_event_attributes.marker_name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert "core_local_activity" not in markers
    assert any(
        ACTIVITY_TRANSITION_PATCH.encode() in p.data
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        for payloads in e.marker_recorded_event_attributes.details.values()
        for p in payloads.payloads
    )
