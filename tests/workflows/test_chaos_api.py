"""Users editing while the API process is killed and started again (issue 13): no 5xx outside
the restart window, and every write answered 2xx is in the database afterwards.

Short here (20 users, a few seconds); ``make chaos`` sets CHAOS_FULL=1 for the issue's size
(200 users for 2 minutes). On PostgreSQL too when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bench.load import ApiProcess, World, database, http_client, seed
from core.db import make_engine, session_scope
from models.tables import AuditLog

FULL = os.environ.get("CHAOS_FULL") == "1"
USERS = 200 if FULL else 20
SECONDS = 120.0 if FULL else 8.0

pytestmark = pytest.mark.temporal  # a fault test: out of the fast inner loop


async def _user(
    base: str,
    world: World,
    who: int,
    done: asyncio.Event,
    log: list[tuple[float, float, int, str]],
) -> None:
    _name, token, unit_id = world.users[who]
    headers = {"Authorization": f"Bearer {token}"}
    k = 0
    async with http_client(base, headers, timeout=30) as http:
        while not done.is_set():
            code, inputs = world.leaves[(who * 7 + k) % len(world.leaves)]
            marker = f"chaos {who}/{k}"
            k += 1
            path = f"/api/cycles/{world.cycle_id}/units/{unit_id}/criteria/{code}/draft"
            sent = time.monotonic()
            try:
                resp = await http.put(path, json={"inputs": inputs, "explanation": marker})
                status = resp.status_code
            except httpx.HTTPError:
                status = 0  # no answer: the process was down
                await asyncio.sleep(0.2)
            log.append((sent, time.monotonic(), status, marker))


def _database_kinds() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


@pytest.mark.parametrize("kind", _database_kinds())
async def test_api_restart_loses_no_acknowledged_write(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kind == "postgresql":
        monkeypatch.setenv("BENCH_POSTGRES_URL", os.environ["TEST_DATABASE_URL"])
    with database(kind, tmp_path) as url:
        engine = make_engine(url)
        world = seed(engine, units=20, users=USERS)
        api = ApiProcess(url, tmp_path)
        await asyncio.to_thread(api.start)
        log: list[tuple[float, float, int, str]] = []
        done = asyncio.Event()
        users = asyncio.gather(*(_user(api.base, world, i, done, log) for i in range(USERS)))
        await asyncio.sleep(SECONDS / 2)
        down_at = time.monotonic()
        await asyncio.to_thread(api.stop, kill=True)
        await asyncio.to_thread(api.start)
        up_at = time.monotonic()
        await asyncio.sleep(SECONDS / 2)  # as long again after the restart
        done.set()
        await users
        await asyncio.to_thread(api.stop)

        with session_scope(engine) as s:
            saved = {
                str((row.after or {}).get("explanation"))
                for row in s.exec(select(AuditLog).where(AuditLog.action == "draft")).all()
            }
        engine.dispose()

    # The window: requests sent before the kill and answered after it, or sent while down.
    def in_window(sent: float, answered: float) -> bool:
        return answered >= down_at and sent <= up_at

    ok = [m for _s, _a, status, m in log if 200 <= status < 300]
    fivexx_outside = [
        (status, m) for s, a, status, m in log if status >= 500 and not in_window(s, a)
    ]
    unanswered_outside = [m for s, a, status, m in log if status == 0 and not in_window(s, a)]
    other = [(status, m) for _s, _a, status, m in log if 0 < status < 500 and status >= 300]
    lost = [m for m in ok if m not in saved]
    print(
        f"\n{kind}: {USERS} users, {SECONDS:.0f} s, restart window {up_at - down_at:.1f} s; "
        f"{len(log)} requests, {len(ok)} answered 2xx, "
        f"{sum(1 for *_x, st, _m in log if st == 0)} unanswered in the window, "
        f"{len(fivexx_outside)} 5xx outside it, {len(lost)} acknowledged writes missing"
    )
    assert len(ok) > USERS  # the users did work before and after the restart
    assert any(a > up_at and 200 <= st < 300 for _s, a, st, _m in log)
    assert fivexx_outside == []
    assert unanswered_outside == []
    assert other == []
    assert lost == []
