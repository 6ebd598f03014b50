"""The Temporal dev server killed and started again mid-cycle (issue 13): the unit workflows'
timers still fire — here the opening of the cycle, set a few seconds after the restart, sends
every unit its opening notice once.

Short here (5 units); ``make chaos`` sets CHAOS_FULL=1 for 100 units.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from contracts import search_attributes as sa
from core.temporal import DATA_CONVERTER, dev_server_pragma_flags
from notifications.sink import MailSink
from tests.histories.scenario import seed_cycle, settings_for, worker_for
from workflows import commands as C

FULL = os.environ.get("CHAOS_FULL") == "1"
UNITS = 100 if FULL else 5
OPENS_IN = timedelta(seconds=90 if FULL else 30)

pytestmark = pytest.mark.temporal


def _opened(sink: MailSink, cycle_id: str) -> list[str]:
    return [
        str(m["X-Appraisal-Key"]).strip()
        for m in sink.messages
        if str(m["X-Appraisal-Key"]).strip().startswith(f"{cycle_id}|")
        and "|cycle_opened|" in str(m["X-Appraisal-Key"])
    ]


async def test_timers_fire_after_the_dev_server_restarts(
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

    tag = uuid.uuid4().hex[:6]
    units = [(f"t{tag}-{i:03d}", f"UBND xã Hẹn giờ {i}") for i in range(UNITS)]
    opens_at = datetime.now(UTC) + OPENS_IN
    seeded = seed_cycle(
        engine, year=opens_at.year + 1, opens_at=opens_at, units=units, real_table_for=()
    )
    cid = seeded.cycle_id
    queue = f"timers-{tag}"
    env = await start()
    try:
        async with worker_for(env.client, engine, settings_for(port), queue):
            assert await C.start_cycle(env.client, engine, cid, task_queue=queue) == UNITS
    finally:
        await env.shutdown()  # the server goes away with every opening timer pending
    assert _opened(sink, cid) == []
    down_for = 2.0
    await asyncio.sleep(down_for)
    env = await start()  # the same database file
    restarted = datetime.now(UTC)
    try:
        assert restarted < opens_at, "the restart must come before the timers are due"
        async with worker_for(env.client, engine, settings_for(port), queue):
            deadline = time.monotonic() + OPENS_IN.total_seconds() + 120
            while len(_opened(sink, cid)) < UNITS and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            fired = datetime.now(UTC)
            await asyncio.sleep(1)  # a twin would arrive within this
    finally:
        await env.shutdown()
    keys = _opened(sink, cid)
    print(
        f"\n{UNITS} units: dev server down {down_for:.0f} s, restarted "
        f"{(opens_at - restarted).total_seconds():.0f} s before the opening; "
        f"{len(keys)} opening notices, the last {(fired - opens_at).total_seconds():.1f} s "
        "after the opening time"
    )
    assert sorted(keys) == sorted(set(keys))
    assert len(keys) == UNITS
