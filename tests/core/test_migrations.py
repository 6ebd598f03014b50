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
