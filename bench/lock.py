"""Lock precision (issue 13): n units share one hard lock; clients keep saving drafts through
the API across the lock instant. The API must refuse from that instant (0 saves accepted at or
after it, whether or not a workflow has applied the lock yet), and every unit workflow must
reach ``not_submitted`` (or ``appraising``) soon after: the report gives how soon (N s).

Its baseline, in the same run on the same server and database: n raw workflows that sleep until
one shared instant and then run one activity, a raw ``UPDATE`` of their row through the same
engine (``bench.trivial.RawLockWorkflow``), with the worker's same slots and cache; N raw is
the time from that instant until every row is updated, polled the same way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio import activity
from temporalio.worker import Worker

from bench.cases import EXPLANATION, Check
from bench.load import LoadRow, percentile
from bench.stack import Seeded, Stack, dinh_hoa
from bench.transition import SECRET, assign_all, open_cycle
from bench.trivial import RAW_LOCK_ACTIVITY, RAW_LOCK_WORKFLOW, RawLockWorkflow
from core.db import session_scope, utcnow, writer
from models.framework import DerivedRule
from models.tables import CycleUnit, UnitState
from scoring.rules import full_marks_inputs
from workflows import commands
from workflows.worker import build_worker

__all__ = ["bench_lock"]

LOCKED = (UnitState.not_submitted, UnitState.appraising)
WINDOW_S = 5.0  # editing starts this long before the lock
RAW_TABLE = "bench_raw_lock"


async def _editor(
    http: httpx.AsyncClient,
    cycle_id: str,
    offices: list[tuple[int, str]],
    who: int,
    until: float,
    out: list[tuple[float, int, datetime | None]],
) -> None:
    leaves = [
        (leaf.code, full_marks_inputs(leaf).model_dump(mode="json", exclude_none=True))
        for leaf in dinh_hoa().leaves()
        if not isinstance(leaf.rule, DerivedRule)
    ]
    k = 0
    while time.monotonic() < until:
        unit_id, token = offices[(who + k) % len(offices)]
        code, inputs = leaves[k % len(leaves)]
        k += 1
        start = time.perf_counter()
        resp = await http.put(
            f"/api/cycles/{cycle_id}/units/{unit_id}/criteria/{code}/draft",
            json={"inputs": inputs, "explanation": EXPLANATION},
            headers={"Authorization": f"Bearer {token}"},
        )
        saved_at = None
        if resp.status_code == 200:
            saved_at = datetime.fromisoformat(resp.json()["updated_at"])
        out.append((time.perf_counter() - start, resp.status_code, saved_at))


def _locked_count(stack: Stack, cycle_id: str) -> int:
    with session_scope(stack.engine) as s:
        return len(
            s.exec(
                select(CycleUnit.unit_id).where(
                    CycleUnit.cycle_id == cycle_id, col(CycleUnit.state).in_(LOCKED)
                )
            ).all()
        )


async def _all_locked(count: Callable[[], int], n: int) -> tuple[int, datetime]:
    """Polls ``count`` every 0.1 s (the project's projection while the editors edit, or the
    baseline's rows): how many are locked, and when all n of them were first seen locked."""
    deadline = time.monotonic() + 180 + n * 0.2
    locked = 0
    while time.monotonic() < deadline:
        locked = await asyncio.to_thread(count)
        if locked == n:
            break
        await asyncio.sleep(0.1)
    return locked, utcnow()


class RawLock:
    """The baseline's activity: one raw ``UPDATE`` of its row, one write transaction, in a
    thread (as ``unit.transition`` runs its transaction)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _update(self, row: int) -> None:
        with writer(self.engine).begin() as conn:
            conn.execute(text(f"UPDATE {RAW_TABLE} SET locked = 1 WHERE id = :id"), {"id": row})

    @activity.defn(name=RAW_LOCK_ACTIVITY)
    async def lock(self, row: int) -> int:
        """Marks ``row`` locked."""
        await asyncio.to_thread(self._update, row)
        return row


def _raw_rows(engine: Engine, n: int) -> None:
    with writer(engine).begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {RAW_TABLE}"))
        conn.execute(text(f"CREATE TABLE {RAW_TABLE} (id INTEGER PRIMARY KEY, locked INTEGER)"))
        conn.execute(
            text(f"INSERT INTO {RAW_TABLE} (id, locked) VALUES (:id, 0)"),
            [{"id": i} for i in range(n)],
        )


def _raw_locked(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text(f"SELECT count(*) FROM {RAW_TABLE} WHERE locked = 1")).one()[0]
        )


async def _raw_lock(stack: Stack, n: int, *, concurrency: int = 20) -> tuple[float, int]:
    """N raw workflows share one lock instant: (seconds from it until every row is updated,
    rows updated)."""
    engine, client = stack.engine, stack.client
    await asyncio.to_thread(_raw_rows, engine, n)
    # A queue of its own: the transition row's raw workflows live on stack.raw_task_queue.
    queue = f"{stack.raw_task_queue}-lock"
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[RawLockWorkflow],
        activities=[RawLock(engine).lock],
        # The project worker's defaults (workflows.worker.build_worker).
        max_concurrent_activities=50,
        max_cached_workflows=1000,
    )
    lock_at = utcnow() + timedelta(seconds=10 + n / 25)  # starts run at ~70/s here
    lock_ms = int(lock_at.timestamp() * 1000)
    gate = asyncio.Semaphore(concurrency)

    async def start(i: int) -> None:
        async with gate:
            await client.start_workflow(
                RAW_LOCK_WORKFLOW,
                args=[i, lock_ms],
                id=f"bench-raw-lock-{stack.run_id}/{i}",
                task_queue=queue,
            )

    async with worker:
        await asyncio.gather(*(start(i) for i in range(n)))
        wait = (lock_at - utcnow()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
        locked, last_locked = await _all_locked(partial(_raw_locked, engine), n)
    return (last_locked - lock_at).total_seconds(), locked


async def bench_lock(
    stack: Stack, seeded: Seeded, n: int, *, clients: int = 10, setup_s: float | None = None
) -> LoadRow:
    """n units, one hard lock; ``clients`` editors across it; N = last unit locked − lock."""
    from api.app import create_app
    from core.settings import Settings

    engine, client = stack.engine, stack.client
    # The baseline first, on a server with nothing pending (the project's run leaves its mail
    # behind it, which would slow the baseline down).
    raw_took, raw_locked = await _raw_lock(stack, n)
    budget = setup_s if setup_s is not None else 30 + 0.15 * n  # start + assign, untimed
    lock_at = utcnow() + timedelta(seconds=budget)
    cycle_id, offices = open_cycle(stack, seeded, n, name="lock", hard_lock_at=lock_at)
    settings = Settings(_env_file=None, data_dir=stack.workdir, secret_key=SECRET)
    app = create_app(settings, engine=engine, temporal=client)
    worker = build_worker(
        client, engine=engine, settings=stack.settings, task_queue=stack.task_queue
    )
    out: list[tuple[float, int, datetime | None]] = []
    async with worker:
        await commands.start_cycle(client, engine, cycle_id, task_queue=stack.task_queue)
        await assign_all(stack, cycle_id, list(offices), "lock")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            unit_id, token = next(iter(offices.values()))
            warm = await http.get(  # caches (framework, app) warm before the window
                f"/api/cycles/{cycle_id}/units/{unit_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert warm.status_code == 200, warm.text
            ready_before_lock = utcnow() < lock_at - timedelta(seconds=WINDOW_S)
            before = (lock_at - utcnow()).total_seconds() - WINDOW_S
            if before > 0:
                await asyncio.sleep(before)
            until = time.monotonic() + (lock_at - utcnow()).total_seconds() + 3
            pairs = list(offices.values())
            poller = asyncio.create_task(_all_locked(partial(_locked_count, stack, cycle_id), n))
            started = time.perf_counter()
            await asyncio.gather(
                *(_editor(http, cycle_id, pairs, i, until, out) for i in range(clients))
            )
            wall = time.perf_counter() - started
        locked, last_locked = await poller
    accepted_after = sum(
        1 for _lat, st, at in out if st == 200 and at is not None and at >= lock_at
    )
    accepted_before = sum(
        1 for _lat, st, at in out if st == 200 and at is not None and at < lock_at
    )
    refused = sum(1 for _lat, st, _at in out if st == 409)
    errors = sum(1 for _lat, st, _at in out if st >= 500)
    took = (last_locked - lock_at).total_seconds()
    ok = [lat for lat, st, _at in out if st in (200, 409)]
    return LoadRow(
        measurement=(
            f"lock precision: {n} units, one hard lock (N = {took:.1f} s; raw {raw_took:.1f} s:"
            f" {took / raw_took:.2f}×)"
        ),
        database=engine.dialect.name,
        clients=clients,
        project_rate=len(ok) / wall,
        raw_rate=float("nan"),
        p50=percentile(ok, 0.50),
        p95=percentile(ok, 0.95),
        p99=percentile(ok, 0.99),
        errors=errors,
        checks=[
            Check("lock: set-up finished before the lock", True, ready_before_lock),
            Check("lock: saves accepted at or after the lock instant", 0, accepted_after),
            Check(
                "lock: saves accepted before it (the clients did edit)", True, accepted_before > 0
            ),
            Check("lock: unit workflows locked (not_submitted or appraising)", n, locked),
            Check("lock: raw workflows' rows updated", n, raw_locked),
        ],
        detail=(
            f"{accepted_before} saves accepted before the lock, {refused} refused (409) from it, "
            f"{accepted_after} accepted after it; every unit workflow had applied the lock "
            f"{took:.1f} s after the lock instant (projection polled every 0.1 s); raw: {n} "
            "workflows sleeping until one instant, then one activity with a raw UPDATE of their "
            f"row, had all updated it {raw_took:.1f} s after that instant (run just before, with "
            "no editors; "
            f"N ÷ raw N = {took / raw_took:.2f}×); the rate is requests answered per second, "
            "with no raw rate"
        ),
    )
