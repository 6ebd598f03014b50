"""A transition through the API (issue 13): ``POST …/submit`` (authentication, access rule,
the unit workflow's update, its ``unit.transition`` activity: snapshot, audit, projection)
one after another, against a raw Temporal update whose handler runs one no-op activity, on
the same server, same client, one after another.

Each timed submit starts once the previous one's e-mail activity has finished (untimed), as
each raw update starts with nothing else running. A second series, back to back, gives what a
submit costs while the previous submit's e-mail is still being sent. Measured on one 2-core
machine (50 submits each way): isolated, p95 0.91× the raw p95; back to back, most submits
matched the isolated ones and about one in six took ~45 ms more, all of it between the workflow
task that follows the transition activity being scheduled and being started (their histories
show the gap), i.e. waiting in the server and the worker behind the other unit's e-mail, not
in the project's code.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import select
from temporalio.client import WorkflowHandle
from temporalio.worker import Worker
from temporalio.workflow import UpdateMethodMultiParam

from bench.cases import Check
from bench.load import LoadRow, percentile
from bench.stack import Seeded, Stack, dinh_hoa
from bench.trivial import RawUpdateWorkflow, noop
from contracts.ids import unit_workflow_id
from contracts.messages import AssignCommand, AssignmentSpec
from core.db import session_scope, utcnow
from models.tables import CycleUnit, Role, RoleGrant, Unit, UnitState, User
from services.cycles import CycleSpec, create_cycle
from services.sessions import start_session
from workflows import commands
from workflows.worker import build_worker

__all__ = ["SECRET", "assign_all", "bench_transition", "open_cycle"]

SECRET = "bench-transition-secret-of-32-characters!"


def open_cycle(
    stack: Stack,
    seeded: Seeded,
    n: int,
    *,
    name: str = "submit",
    hard_lock_at: datetime | None = None,
) -> tuple[str, dict[str, tuple[int, str]]]:
    """A cycle of n units that opened a minute ago; per unit its id and an office token."""
    now = utcnow()
    cycle_id = f"bench-{name}-{stack.run_id}"
    lock = hard_lock_at or now + timedelta(days=33)
    units = list(seeded.units[:n])
    spec = CycleSpec(
        cycle_id=cycle_id,
        year=now.year + 1,
        title=f"Đánh giá thử nghiệm chuyển trạng thái {cycle_id}",
        framework_id=seeded.framework_id,
        units=units,
        opens_at=now - timedelta(minutes=1),
        data_cutoff_at=now + timedelta(days=20),
        submission_deadline=min(now + timedelta(days=30), lock),
        hard_lock_at=lock,
        appraisal_deadline=now + timedelta(days=50),
        results_target=now + timedelta(days=60),
    )
    offices: dict[str, tuple[int, str]] = {}
    with session_scope(stack.engine) as s:
        create_cycle(s, spec=spec, actor="bench")
        for code in units:
            unit = s.exec(select(Unit).where(Unit.code == code)).one()
            assert unit.id is not None
            for who, role in (("vp", Role.unit_office), ("cb", Role.staff)):
                user = User(
                    username=f"{who}-{name}-{code}-{stack.run_id}", full_name=who, password_hash="!"
                )
                s.add(user)
                s.flush()
                assert user.id is not None
                s.add(RoleGrant(user_id=user.id, role=role, unit_id=unit.id))
                if role is Role.unit_office:
                    token, _, _ = start_session(s, user, secret_key=SECRET, minutes=120, kind="api")
                    offices[code] = (unit.id, token)
    return cycle_id, offices


async def assign_all(stack: Stack, cycle_id: str, units: list[str], name: str) -> None:
    """Every unit's criteria to its staff member: assigning → drafting (setup, untimed)."""
    tops = tuple(node.code for node in dinh_hoa().nodes)
    sem = asyncio.Semaphore(20)

    async def one(code: str) -> None:
        async with sem:
            await commands.unit_command(
                stack.client,
                cycle_id,
                code,
                AssignCommand(
                    actor=f"vp-{name}-{code}-{stack.run_id}",
                    assignments=(
                        AssignmentSpec(codes=tops, username=f"cb-{name}-{code}-{stack.run_id}"),
                    ),
                ),
            )

    await asyncio.gather(*(one(code) for code in units))


async def _settled(stack: Stack, cycle_id: str, units: list[str], timeout: float = 300) -> None:
    """Waits until no unit workflow of the cycle has an activity pending (its mail sent)."""
    deadline = time.monotonic() + timeout
    for code in units:
        handle = stack.client.get_workflow_handle(unit_workflow_id(cycle_id, code))
        while (await handle.describe()).raw_description.pending_activities:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{cycle_id}: activities still pending after {timeout:.0f} s")
            await asyncio.sleep(0.1)


async def _timed_updates(
    handles: list[WorkflowHandle[Any, Any]],
    update: UpdateMethodMultiParam[[RawUpdateWorkflow, int], int],
) -> list[float]:
    """One update per handle, one after another; the seconds of each but the first (the
    warm-up)."""
    out: list[float] = []
    for i, handle in enumerate(handles):
        start = time.perf_counter()
        await handle.execute_update(update, i)
        if i:
            out.append(time.perf_counter() - start)
    return out


async def _submits(
    http: httpx.AsyncClient,
    cycle_id: str,
    units: list[tuple[str, tuple[int, str]]],
    statuses: dict[int, int],
    settle: Callable[[str], Awaitable[None]] | None,
) -> list[float]:
    """Submits each unit through the API, one after another; the seconds of each but the first
    (the warm-up). ``settle(code)``, untimed after each submit, waits for what it started."""
    out: list[float] = []
    for i, (code, (unit_id, token)) in enumerate(units):
        start = time.perf_counter()
        resp = await http.post(
            f"/api/cycles/{cycle_id}/units/{unit_id}/submit",
            headers={"Authorization": f"Bearer {token}"},
        )
        if i:
            out.append(time.perf_counter() - start)
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        if settle is not None:
            await settle(code)
    return out


def _back_to_back(times: list[float], raw_p95: float) -> str:
    if not times:
        return "back to back: not measured (too few units for a second series)"
    p95 = percentile(times, 0.95)
    return (
        f"back to back, {len(times)} submits, each while the previous one's e-mail is still being "
        f"sent: p50 {percentile(times, 0.5):.0f} ms, p95 {p95:.0f} ms = {p95 / raw_p95:.2f}× "
        "raw p95"
    )


async def bench_transition(stack: Stack, seeded: Seeded, n: int) -> LoadRow:
    """n submits through the API, one after another, each once the previous one's e-mail is
    sent, vs. n raw updates with one activity (each side after one untimed warm-up); then, when
    the seeded units allow, up to n more submits back to back (reported in the detail)."""
    from api.app import create_app
    from core.settings import Settings

    engine, client = stack.engine, stack.client
    size = min(len(seeded.units), 2 * (n + 1))  # n + 1 each series (one warms up)
    cycle_id, offices = open_cycle(stack, seeded, size)
    settings = Settings(_env_file=None, data_dir=stack.workdir, secret_key=SECRET)
    app = create_app(settings, engine=engine, temporal=client)
    project_worker = build_worker(
        client, engine=engine, settings=stack.settings, task_queue=stack.task_queue
    )
    raw_worker = Worker(
        client,
        task_queue=stack.raw_task_queue,
        workflows=[RawUpdateWorkflow],
        activities=[noop],
    )
    units = list(offices.items())
    statuses: dict[int, int] = {}

    async def settled(code: str) -> None:
        await _settled(stack, cycle_id, [code])

    async with project_worker, raw_worker:
        await commands.start_cycle(client, engine, cycle_id, task_queue=stack.task_queue)
        await assign_all(stack, cycle_id, list(offices), "submit")
        # Untimed: the set-up's own work (each assignment's e-mail to the staff) finishes first,
        # so the timed submits do not queue behind it; each timed side begins with one warm-up.
        await _settled(stack, cycle_id, list(offices))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            # The row: like the raw updates, each submit alone on the worker and the server.
            project = await _submits(http, cycle_id, units[: n + 1], statuses, settled)
            # The detail: each submit's e-mail activity still runs while the next one goes.
            overlapped = await _submits(http, cycle_id, units[n + 1 :], statuses, None)
        handles = [
            await client.start_workflow(
                RawUpdateWorkflow.run,
                id=f"bench-raw-update-{stack.run_id}-{uuid.uuid4().hex[:6]}",
                task_queue=stack.raw_task_queue,
            )
            for _ in range(n + 1)
        ]
        raw = await _timed_updates(handles, RawUpdateWorkflow.act)
        for handle in handles:
            await handle.signal(RawUpdateWorkflow.finish)
    with session_scope(engine) as s:
        submitted = len(
            s.exec(
                select(CycleUnit).where(
                    CycleUnit.cycle_id == cycle_id, CycleUnit.state == UnitState.submitted
                )
            ).all()
        )
    raw_p95 = percentile(raw, 0.95)
    return LoadRow(
        # The target is on p95, which the table's columns give for the project only: the raw
        # p95 and the ratio go in the row's name.
        measurement=(
            "a transition through the API (submit), one at a time "
            f"(raw p95 {raw_p95:,.0f} ms; p95 ÷ raw p95 = "
            f"{percentile(project, 0.95) / raw_p95:.2f}×)"
        ),
        database=engine.dialect.name,
        clients=1,
        project_rate=n / sum(project),
        raw_rate=n / sum(raw),
        p50=percentile(project, 0.50),
        p95=percentile(project, 0.95),
        p99=percentile(project, 0.99),
        errors=size - statuses.get(200, 0),
        checks=[
            Check("transition: submits answered 200", size, statuses.get(200, 0)),
            Check("transition: units submitted in the database", size, submitted),
        ],
        detail=(
            f"raw update with one no-op activity: p50 {percentile(raw, 0.5):.0f} ms, p95 "
            f"{raw_p95:.0f} ms; submit p95 ÷ raw p95 = "
            f"{percentile(project, 0.95) / raw_p95:.2f}× (target ≤ 1.5×); "
            f"{_back_to_back(overlapped, raw_p95)}"
        ),
    )
