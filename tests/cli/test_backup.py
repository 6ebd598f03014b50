"""`appraisal backup` → wipe → `appraisal restore` on the embedded default: the app database,
the evidence files and Temporal's dev-server database (a real server, a real workflow) come
back together; a damaged set and a running stack are refused with nothing changed."""

from __future__ import annotations

import asyncio
import hashlib
import io
import shutil
from pathlib import Path

import pytest
from sqlmodel import col, select
from temporalio.client import WorkflowExecutionStatus

from cli.backup import BackupError, backup, restore, verify
from cli.dev import Stack
from cli.main import build_parser
from core.db import make_engine, session_scope
from core.migrate import upgrade
from core.settings import Settings
from core.temporal import connect
from models.tables import User
from notifications.sink import free_port
from services.evidence import file_path, store_file

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _settings(data: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data,
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
        temporal_namespace="appraisal",
    )


async def _start_workflow(settings: Settings) -> str:
    client = await connect(settings)
    # No worker: the workflow stays running, which is what a restore must bring back.
    handle = await client.start_workflow(
        "CycleWorkflow", id="backup-roundtrip", task_queue="nobody-polls-this"
    )
    return handle.id


async def _status(settings: Settings, workflow_id: str) -> WorkflowExecutionStatus | None:
    client = await connect(settings)
    return (await client.get_workflow_handle(workflow_id).describe()).status


def _rows(settings: Settings) -> list[str]:
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(engine) as session:
        names = [u.username for u in session.exec(select(User).order_by(col(User.username)))]
    engine.dispose()
    return names


def test_backup_wipe_restore_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = _settings(data)
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(engine) as session:
        session.add(User(username="ke-toan", full_name="Kế toán", password_hash="x"))
    engine.dispose()
    stored = store_file(
        io.BytesIO(PDF), filename="quyết định.pdf", evidence_dir=settings.evidence_dir,
        max_bytes=1 << 20,
    )  # fmt: skip
    stack = Stack(settings)
    try:
        stack.start_temporal()
        workflow_id = asyncio.run(_start_workflow(settings))
        # online: the stack runs, both databases are copied with SQLite's backup API
        manifest = backup(settings, tmp_path / "set")
        assert manifest["online"] is True
        with pytest.raises(BackupError, match="stop `appraisal dev`"):
            restore(settings, tmp_path / "set", force=True)
    finally:
        stack.stop()
    assert {"appraisal.db", "temporal.db"} <= set(manifest["files"])
    assert any(name.endswith(stored.sha256) for name in manifest["files"])
    before = _rows(settings)
    assert "ke-toan" in before

    shutil.rmtree(data)  # the disk is lost
    data.mkdir()
    restore(settings, tmp_path / "set")

    assert _rows(settings) == before
    restored = file_path(settings.evidence_dir, stored.sha256)
    assert hashlib.sha256(restored.read_bytes()).hexdigest() == stored.sha256
    stack = Stack(settings)
    try:
        stack.start_temporal()
        status = asyncio.run(_status(settings, workflow_id))
    finally:
        stack.stop()
    assert status == WorkflowExecutionStatus.RUNNING


def test_commands_are_registered() -> None:
    args = build_parser().parse_args(["restore", "/backups/2026-11-30", "--force"])
    assert args.src == "/backups/2026-11-30" and args.force
    assert build_parser().parse_args(["backup", "/backups/x"]).dest == "/backups/x"


def test_restore_refuses_damaged_sets_and_existing_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = _settings(data)
    upgrade(settings.sqlalchemy_url)
    store_file(
        io.BytesIO(PDF), filename="a.pdf", evidence_dir=settings.evidence_dir, max_bytes=1 << 20
    )
    manifest = backup(settings, tmp_path / "set")
    assert manifest["online"] is False
    with pytest.raises(BackupError, match="already exists"):
        backup(settings, tmp_path / "set")
    # existing data is kept unless --force
    with pytest.raises(BackupError, match="not empty"):
        restore(settings, tmp_path / "set")
    restore(settings, tmp_path / "set", force=True)
    # a damaged file: refused before anything is touched
    evidence = next(p for p in (tmp_path / "set" / "evidence").rglob("*") if p.is_file())
    evidence.write_bytes(b"tampered")
    with pytest.raises(BackupError, match="missing or damaged"):
        verify(tmp_path / "set")
    db_before = (data / "appraisal.db").read_bytes()
    with pytest.raises(BackupError, match="missing or damaged"):
        restore(settings, tmp_path / "set", force=True)
    assert (data / "appraisal.db").read_bytes() == db_before
    with pytest.raises(BackupError, match="not a backup set"):
        verify(tmp_path)
