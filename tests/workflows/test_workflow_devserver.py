"""On the real Temporal dev server: search attributes answer operators' questions; a worker
killed mid-cycle and a restarted dev server lose no unit, start no twin and send no mail twice.
Deadlines lie a year ahead here: nothing waits on a timer."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contracts import search_attributes as sa
from core.db import session_scope
from core.temporal import DATA_CONVERTER, dev_server_pragma_flags
from models.tables import CycleUnit, OutboxMessage, UnitState
from notifications.sink import MailSink
from tests.db_support import journal_mode
from tests.histories.scenario import (
    COMMUNES,
    Seeded,
    draft_everything,
    seed_cycle,
    settings_for,
    worker_for,
)
from workflows import commands as C

ROOT = Path(__file__).resolve().parents[2]
COORD, COUNCIL = "coordinator", "council-noi-vu"


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    """Visibility is eventually consistent: poll until ``check`` holds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


async def count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


def now() -> datetime:
    return datetime.now(UTC)


def seed_now(engine: Engine, units: tuple[tuple[str, str], ...] = COMMUNES) -> Seeded:
    """A cycle that opened a minute ago, with its deadlines next year."""
    t = now()
    return seed_cycle(
        engine, year=t.year + 1, opens_at=t - timedelta(minutes=1), units=units, real_table_for=()
    )


async def run_to_publication(
    client: Client, engine: Engine, seeded: Seeded, units: list[str]
) -> None:
    """Submits what is left, appraises, classifies and publishes."""
    for u in units:
        status = await C.unit_status(client, seeded.cycle_id, u)
        if status.state is UnitState.submitted:
            await C.unit_command(client, seeded.cycle_id, u, C.StartAppraisalCommand(actor=COUNCIL))
        await C.unit_command(client, seeded.cycle_id, u, C.FinaliseCommand(actor=COUNCIL))
    await C.cycle_command(client, seeded.cycle_id, C.CloseAppraisalCommand(actor=COORD))
    await C.cycle_command(client, seeded.cycle_id, C.ClassifyCommand(actor=COORD))
    await C.cycle_command(client, seeded.cycle_id, C.PublishCommand(actor=COORD))


def mails_of(sink: MailSink, cycle_id: str) -> list[str]:
    return [
        str(m["X-Appraisal-Key"]).strip()
        for m in sink.messages
        if str(m["X-Appraisal-Key"]).strip().startswith(f"{cycle_id}|")
    ]


def expected_mails(seeded: Seeded, units: list[str]) -> set[str]:
    cid = seeded.cycle_id
    keys = {f"{cid}|-|results_published|published|{who}" for who in (COORD, COUNCIL)}
    for u in units:
        office, staff = f"vp-{u}", [f"{u}-lan", f"{u}-dung"]
        keys.add(f"{cid}|{u}|cycle_opened|open|{office}")
        keys.add(f"{cid}|{u}|submitted|s1|{office}")
        keys.update(f"{cid}|{u}|assigned|v1|{who}" for who in staff)
        keys.update(f"{cid}|{u}|unit_published|published|{who}" for who in [office, *staff])
    return keys


async def check_outbox(engine: Engine, sink: MailSink, seeded: Seeded, units: list[str]) -> None:
    """Each expected mail received once, its outbox row marked sent; every unit published."""
    got = mails_of(sink, seeded.cycle_id)
    assert len(got) == len(set(got)), "a message was sent twice"
    assert set(got) == expected_mails(seeded, units)

    async def all_sent() -> bool:  # the row is marked right after the server accepted it
        with session_scope(engine) as s:
            rows = s.exec(
                select(OutboxMessage).where(
                    col(OutboxMessage.idempotency_key).startswith(f"{seeded.cycle_id}|")
                )
            ).all()
            assert sorted(r.idempotency_key for r in rows) == sorted(got)
            return {r.status for r in rows} == {"sent"}

    await eventually(all_sent)
    with session_scope(engine) as s:
        states = s.exec(select(CycleUnit.state).where(CycleUnit.cycle_id == seeded.cycle_id)).all()
        assert sorted(states) == [UnitState.published] * len(units)


async def _all_sent(engine: Engine, cycle_id: str) -> bool:
    with session_scope(engine) as s:
        statuses = s.exec(
            select(OutboxMessage.status).where(
                col(OutboxMessage.idempotency_key).startswith(f"{cycle_id}|")
            )
        ).all()
    return bool(statuses) and set(statuses) == {"sent"}


async def test_search_attributes_answer_operators_questions(
    temporal_dev: WorkflowEnvironment, engine: Engine, smtp: tuple[int, MailSink]
) -> None:
    client = temporal_dev.client
    port, _ = smtp
    seeded = seed_now(engine)
    cid = seeded.cycle_id
    queue = f"sa-{uuid.uuid4().hex[:8]}"
    async with worker_for(client, engine, settings_for(port), queue):
        assert await C.start_cycle(client, engine, cid, task_queue=queue) == 3
        await C.unit_command(
            client,
            cid,
            "binh-thanh",
            C.AssignCommand(actor="vp-binh-thanh", assignments=tuple(seeded.specs["binh-thanh"])),
        )
        in_cycle = f"AppraisalCycle='{cid}'"

        async def visible() -> bool:
            return (
                await count(client, f"{in_cycle} AND AppraisalState='drafting'") == 1
                and await count(client, f"{in_cycle} AND AppraisalState='assigning'") == 2
            )

        await eventually(visible)
        ids = [
            w.id async for w in client.list_workflows(f"{in_cycle} AND AppraisalState='drafting'")
        ]
        assert ids == [f"cycle-{cid}/unit-binh-thanh"]
        assert await count(client, f"{in_cycle} AND AppraisalUnit='dinh-bien'") == 1
        assert (
            await count(client, f"AppraisalYear={seeded.year} AND {in_cycle}") == 4
        )  # + the cycle
        desc = await client.get_workflow_handle(f"cycle-{cid}/unit-binh-thanh").describe()
        assert desc.typed_search_attributes.get(sa.STATE) == "drafting"
        assert desc.typed_search_attributes.get(sa.UNIT) == "binh-thanh"
        await C.cycle_command(client, cid, C.CancelCommand(actor=COORD, reason="Kiểm thử"))
        await eventually(
            lambda: _equals(count(client, f"{in_cycle} AND AppraisalState='cancelled'"), 3)
        )


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


async def test_a_worker_killed_mid_cycle_loses_nothing(
    temporal_dev: WorkflowEnvironment, engine: Engine, db_url: str, smtp: tuple[int, MailSink]
) -> None:
    client = temporal_dev.client
    port, sink = smtp
    seeded = seed_now(engine)
    cid = seeded.cycle_id
    units = [c for c, _ in COMMUNES]
    env = {
        **os.environ,
        "APPRAISAL_DATABASE_URL": db_url,
        "APPRAISAL_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "APPRAISAL_TEMPORAL_NAMESPACE": client.namespace,
        "APPRAISAL_TEMPORAL_TASK_QUEUE": f"kill-{uuid.uuid4().hex[:8]}",
        "APPRAISAL_SMTP_PORT": str(port),
        "APPRAISAL_BASE_URL": "https://danhgia.dinhhoa.test",
    }
    first = _start_worker(env)
    second: subprocess.Popen[bytes] | None = None
    try:
        queue = env["APPRAISAL_TEMPORAL_TASK_QUEUE"]
        assert await C.start_cycle(client, engine, cid, task_queue=queue) == 3
        for u in units:
            await C.unit_command(
                client, cid, u, C.AssignCommand(actor=f"vp-{u}", assignments=tuple(seeded.specs[u]))
            )
        for u in units[:2]:
            draft_everything(engine, cid, u, now())
            await C.unit_command(client, cid, u, C.SubmitCommand(actor=f"vp-{u}"))
        await sink.wait_for(3 + 6 + 2)  # opened, assigned, two receipts
        # Killed between two activities. (Killed between the SMTP server's "250" and the
        # outbox row's "sent", the retry would send that one message again, with the same
        # Message-ID: the window is one message wide, see docs/workflows.md.)
        await eventually(lambda: _all_sent(engine, cid))
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        # A command sent while no worker runs waits for the next one.
        draft_everything(engine, cid, units[2], now())
        pending = asyncio.create_task(
            C.unit_command(client, cid, units[2], C.SubmitCommand(actor=f"vp-{units[2]}"))
        )
        await asyncio.sleep(0.5)
        assert not pending.done()
        second = _start_worker(env)
        status = await asyncio.wait_for(pending, timeout=90)
        assert status.state is UnitState.submitted and status.submissions == 1
        assert await C.start_cycle(client, engine, cid, task_queue=queue) == 3  # no twins
        await run_to_publication(client, engine, seeded, units)
        await sink.wait_for(len(expected_mails(seeded, units)), timeout=60)
        await check_outbox(engine, sink, seeded, units)
        assert await count(client, f"AppraisalCycle='{cid}'") == 4
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=20)


async def test_a_restarted_dev_server_keeps_every_cycle(
    tmp_path: Path, engine: Engine, smtp: tuple[int, MailSink]
) -> None:
    port, sink = smtp
    binary = str(Path(sys.executable).parent / "temporal")
    if not Path(binary).exists():
        binary = shutil.which("temporal") or binary

    async def start() -> WorkflowEnvironment:
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=binary,
            dev_server_database_filename=str(tmp_path / "temporal.db"),
            dev_server_extra_args=dev_server_pragma_flags(),
            data_converter=DATA_CONVERTER,
            search_attributes=sa.ALL,
        )

    seeded = seed_now(engine, units=COMMUNES[1:])
    cid = seeded.cycle_id
    units = [c for c, _ in COMMUNES[1:]]
    queue = f"restart-{uuid.uuid4().hex[:8]}"
    env = await start()
    # its store journals ahead (core.temporal.DEV_SERVER_PRAGMAS), as in `make dev`
    assert journal_mode(tmp_path / "temporal.db") == "wal"
    try:
        async with worker_for(env.client, engine, settings_for(port), queue):
            await C.start_cycle(env.client, engine, cid, task_queue=queue)
            for u in units:
                await C.unit_command(
                    env.client,
                    cid,
                    u,
                    C.AssignCommand(actor=f"vp-{u}", assignments=tuple(seeded.specs[u])),
                )
            draft_everything(engine, cid, units[0], now())
            await C.unit_command(env.client, cid, units[0], C.SubmitCommand(actor=f"vp-{units[0]}"))
            await sink.wait_for(2 + 4 + 1)
            # This worker stops with no drain (cancels at once): stopped between a message's
            # "250" and its "sent", the message would be in doubt and sent again after the
            # lease (the documented one-message window), which is not what this test is about.
            await eventually(lambda: _all_sent(engine, cid))
    finally:
        await env.shutdown()
    env = await start()  # the same database file
    try:
        client = env.client
        async with worker_for(client, engine, settings_for(port), queue):
            assert (await C.unit_status(client, cid, units[0])).state is UnitState.submitted
            assert (await C.unit_status(client, cid, units[1])).state is UnitState.drafting
            draft_everything(engine, cid, units[1], now())
            await C.unit_command(client, cid, units[1], C.SubmitCommand(actor=f"vp-{units[1]}"))
            await run_to_publication(client, engine, seeded, units)
            await sink.wait_for(len(expected_mails(seeded, units)), timeout=60)
            await check_outbox(engine, sink, seeded, units)
            await eventually(
                lambda: _equals(
                    count(client, f"AppraisalCycle='{cid}' AND AppraisalState='published'"), 2
                )
            )
    finally:
        await env.shutdown()
