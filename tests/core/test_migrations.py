"""Migrations: `appraisal db upgrade` is idempotent and the migrations match the tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import models.tables  # noqa: F401
from core.migrate import current_revision

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_match_the_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], f"tables and migrations differ: run `make migration` ({diff})"


def test_db_upgrade_command_is_idempotent(tmp_path: Path) -> None:
    env = {"APPRAISAL_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-m", "cli.main", "db", "upgrade"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert "phiên bản mới nhất" in out.stdout
    from core.db import make_engine

    eng = make_engine(f"sqlite:///{tmp_path}/appraisal.db")
    assert current_revision(eng) is not None
    eng.dispose()


def test_0008_gives_existing_mail_its_notice_key(tmp_path: Path) -> None:
    """Messages stored before migration 0008 get the notice part of their key (up to its last
    ``|``), so a retry of their notice after the upgrade finds them; a key without ``|`` (never
    a notice's) keeps ''."""
    from sqlalchemy import text

    from core.db import make_engine
    from core.migrate import upgrade

    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0007")
    eng = make_engine(url)
    keys = ["2031-ky|xa-a|reminder|s1-hard_lock|nv.a", "2031-ky|-|published|p|office:xa-b", "plain"]
    with eng.begin() as conn:
        for key in keys:
            conn.execute(
                text(
                    "INSERT INTO outbox_message (idempotency_key, to_addr, subject, body_text,"
                    " body_html, status, attempts, last_error, created_at)"
                    " VALUES (:k, 'a@x.test', 's', 't', 'h', 'sent', 1, '', '2031-11-20 03:00:00')"
                ),
                {"k": key},
            )
    upgrade(url)
    with eng.connect() as conn:
        got: dict[str, str] = dict(
            conn.execute(text("SELECT idempotency_key, notice_key FROM outbox_message")).all()
        )
    assert got == {
        keys[0]: "2031-ky|xa-a|reminder|s1-hard_lock|",
        keys[1]: "2031-ky|-|published|p|",
        "plain": "",
    }
    eng.dispose()
