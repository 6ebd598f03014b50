"""`appraisal cycle create|start|extend|status` against a real database, dev server and worker."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from cli.main import main
from core.db import session_scope
from core.settings import get_settings
from models.tables import Cycle, CycleUnit
from notifications.sink import MailSink
from tests.histories.scenario import COMMUNES, local, seed_cycle, settings_for, worker_for
from workflows import commands as C

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, db_url: str, temporal_dev: WorkflowEnvironment
) -> Iterator[dict[str, str]]:
    client = temporal_dev.client
    values = {
        "APPRAISAL_DATABASE_URL": db_url,
        "APPRAISAL_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "APPRAISAL_TEMPORAL_NAMESPACE": client.namespace,
        "APPRAISAL_TEMPORAL_TASK_QUEUE": f"cli-{uuid.uuid4().hex[:8]}",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cycle_commands(
    cli_env: dict[str, str],
    engine: Engine,
    temporal_dev: WorkflowEnvironment,
    smtp: tuple[int, MailSink],
    capsys: pytest.CaptureFixture[str],
) -> None:
    year = datetime.now(UTC).year + 1
    seeded = seed_cycle(
        engine, year=year, opens_at=local(year - 1, 1, 1, 8), units=COMMUNES[1:], real_table_for=()
    )
    cid = f"{year}-cli-{uuid.uuid4().hex[:4]}"
    code = main(
        [
            "cycle", "create", cid,
            "--year", str(year),
            "--title", f"Đánh giá mức độ hoàn thành nhiệm vụ năm {year}",
            "--framework-id", str(seeded.framework_id),
            "--units", "phuong-tien,dinh-bien",
            "--opens", f"01/11/{year} 08:00",
            "--cutoff", f"20/11/{year} 23:59",
            "--submission", f"22/11/{year} 17:00",
            "--lock", f"17 giờ 00 ngày 25/11/{year}",
            "--appraisal", f"10/12/{year}",
            "--results", f"20/12/{year}",
        ]
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out == f"Đã tạo kỳ đánh giá {cid} (2 đơn vị).\n"
    with session_scope(engine) as s:
        cycle = s.get(Cycle, cid)
        assert cycle is not None and cycle.hard_lock_at == local(year, 11, 25)
        assert cycle.reminder_offsets_hours == [168, 72, 24, 0]

    queue = cli_env["APPRAISAL_TEMPORAL_TASK_QUEUE"]
    async with worker_for(temporal_dev.client, engine, settings_for(smtp[0]), queue):
        code, out, err = await _cli(cli_env, "cycle", "start", cid)
        assert (code, out) == (0, f"Đã bắt đầu kỳ đánh giá {cid}: 2 đơn vị.\n"), err
        code, _, err = await _cli(cli_env, "cycle", "extend", cid, "--lock", "01/01/2000 17:00")
        assert code == 1 and "Lỗi: Thời hạn 17:00 ngày 01/01/2000 đã qua." in err
        code, out, _ = await _cli(
            cli_env, "cycle", "extend", cid, "--units", "dinh-bien", "--lock", f"27/11/{year} 17:00"
        )
        assert (code, out) == (
            0,
            f"Đã gia hạn kỳ đánh giá {cid} cho 1 đơn vị:\n"
            f"  dinh-bien (UBND xã Định Biên): hạn gửi kết quả 17:00 ngày 22/11/{year}, "
            f"khóa 17:00 ngày 27/11/{year}.\n",
        )
        status = await C.unit_status(temporal_dev.client, cid, "dinh-bien")
        assert status.hard_lock_at == local(year, 11, 27)
        await C.cycle_command(
            temporal_dev.client, cid, C.CancelCommand(actor="coordinator", reason="Kiểm thử")
        )
    with session_scope(engine) as s:
        locks = {
            cu.unit_id: cu.hard_lock_at
            for cu in s.exec(select(CycleUnit).where(CycleUnit.cycle_id == cid)).all()
        }
        assert sorted(locks.values()) == [local(year, 11, 25), local(year, 11, 27)]
    assert main(["cycle", "status", cid]) == 0
    out = capsys.readouterr().out
    assert "Trạng thái: Đã hủy" in out
    assert "dinh-bien                Đã hủy" in out and f"khóa 17:00 ngày 27/11/{year}" in out
