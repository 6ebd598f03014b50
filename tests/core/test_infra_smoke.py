"""The test services themselves: database migrated, SMTP reachable, both Temporal servers up."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from email.message import EmailMessage

import aiosmtplib
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.migrate import alembic_config, current_revision, upgrade
from models.tables import FrameworkRecord
from notifications.sink import MailSink


def test_database_is_migrated_and_keeps_decimals_exact(engine: Engine, db_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert head is not None and head >= "0005"  # sessions, password links, audit chain
    assert current_revision(engine) == head
    upgrade(db_url)  # idempotent
    assert current_revision(engine) == head
    with Session(engine) as s:
        rec = FrameworkRecord(
            name="x",
            year=2024,
            unit_kind="commune",
            spec={},
            spec_hash="0" * 64,
            max_total=Decimal("28.692"),
        )
        s.add(rec)
        s.commit()
        got = s.exec(select(FrameworkRecord)).one()
        assert got.max_total == Decimal("28.692")
        assert got.created_at.tzinfo is not None


async def test_smtp_sink_receives(smtp: tuple[int, MailSink]) -> None:
    port, sink = smtp
    msg = EmailMessage()
    msg["From"] = "a@example.test"
    msg["To"] = "b@example.test"
    msg["Subject"] = "Nhắc hạn gửi kết quả"
    msg.set_content("Hạn: 17:00 ngày 25/11/2024")
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=port)
    got = await sink.wait_for(1)
    assert got[0]["Subject"] == "Nhắc hạn gửi kết quả"
    assert sink.folder is not None and len(list(sink.folder.glob("*.eml"))) == 1


async def test_temporal_servers_start(
    temporal_dev: WorkflowEnvironment, temporal_ts: WorkflowEnvironment
) -> None:
    assert await temporal_dev.client.service_client.check_health() is True
    assert await temporal_ts.client.service_client.check_health() is True
    # Time really skips on the test server (a property saying so would always be true).
    before = await temporal_ts.get_current_time()
    started = time.monotonic()
    await temporal_ts.sleep(timedelta(days=2))
    assert await temporal_ts.get_current_time() - before >= timedelta(days=2)
    assert time.monotonic() - started < 60


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    from core.db import make_engine

    eng = make_engine(f"sqlite:///{tmp_path}/x.db")
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    eng.dispose()


def test_settings_read_a_dotenv_file(tmp_path, monkeypatch) -> None:
    from core.settings import Settings

    (tmp_path / ".env").write_text(
        "APPRAISAL_TEMPORAL_NAMESPACE=so-noi-vu\nAPPRAISAL_SMTP_PORT=2525\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("APPRAISAL_TEMPORAL_NAMESPACE", raising=False)
    monkeypatch.delenv("APPRAISAL_SMTP_PORT", raising=False)
    s = Settings()
    assert s.temporal_namespace == "so-noi-vu"
    assert s.smtp_port == 2525
