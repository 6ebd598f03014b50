"""Looking at the SQL a test's code sends: the statements it runs, and how the database plans
one (which index serves it), on SQLite and on PostgreSQL; and how a SQLite file journals."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def captured(engine: Engine, containing: str = "") -> Iterator[list[tuple[str, Any]]]:
    """The (statement, parameters) ``engine`` runs inside the block, those containing the text."""
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if containing in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def query_plan(engine: Engine, statement: str, params: Any) -> str:
    """The database's plan of one captured statement, as one line of text."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            return " | ".join(str(r[-1]) for r in rows)
        # A tiny test table would be scanned anyway: ask whether the index can serve it.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # this transaction only
        return " | ".join(str(r[0]) for r in conn.exec_driver_sql(f"EXPLAIN {statement}", params))


def journal_mode(db_file: Path) -> str:
    """The journal mode a SQLite file is in ('wal' stays with the file), read without writing."""
    with closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
