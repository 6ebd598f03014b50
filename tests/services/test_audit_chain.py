"""A tamper-evident audit trail: the database refuses UPDATE and DELETE, each row is chained to
the previous row of its cycle, `appraisal audit verify` and the API name the first broken row
(issue 14: the trail was append-only only through the API)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from core.db import session_scope
from models.tables import AuditLog
from services import audit
from tests.api_support import PASSWORD, build_world, client, make_app
from tests.db_support import captured, query_plan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(engine):
    return build_world(engine, prefix="aud")


def _write(engine, cycle_id: str, n: int, actor: str = "test") -> list[int]:
    ids = []
    for i in range(n):
        with session_scope(engine) as session:
            row = audit.record(
                session,
                actor=actor,
                entity="entry",
                action="save",
                entity_key=f"1.{i}",
                cycle_id=cycle_id,
                unit_id=1,
                before={"score": None},
                after={"score": f"{i},5", "note": "Điểm đạt"},
            )
            ids.append(row.id or 0)
    return ids


def test_the_database_refuses_update_and_delete_of_audit_rows(engine) -> None:
    (row_id,) = _write(engine, "aud-refuse", 1)
    for statement in (
        "UPDATE audit_log SET actor = 'ke-gian' WHERE id = :id",
        "UPDATE audit_log SET row_hash = NULL WHERE id = :id",
        "DELETE FROM audit_log WHERE id = :id",
    ):
        with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement), {"id": row_id})
            conn.commit()
    with Session(engine) as session:
        kept = session.get(AuditLog, row_id)
        assert kept is not None and kept.actor == "test"
    assert audit.verify(Session(engine), "aud-refuse").verified


def test_rows_chain_to_the_previous_row_of_their_cycle(engine) -> None:
    ids = _write(engine, "aud-chain", 3)
    with Session(engine) as session:
        rows = [session.get(AuditLog, i) for i in ids]
        assert [r.chain_seq for r in rows if r] == [1, 2, 3]
        assert rows[0] is not None and rows[0].prev_hash == audit.GENESIS
        assert rows[1] is not None and rows[1].prev_hash == rows[0].row_hash
        report = audit.verify(session, "aud-chain")
    assert report.verified and report.rows == 3


def test_parallel_writers_of_one_cycle_keep_one_chain(engine) -> None:
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda i: _write(engine, "aud-parallel", 2, f"w{i}"), range(10)))
    with Session(engine) as session:
        report = audit.verify(session, "aud-parallel")
    assert report.verified and report.rows == 20


def _bypass_triggers(engine, statement: str, params: dict[str, object]) -> None:
    """What someone with the database's owner rights could do: triggers off, change, on."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text(statement), params)
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            saved = (
                conn.execute(
                    text(
                        "SELECT sql FROM sqlite_master"
                        " WHERE type = 'trigger' AND tbl_name = 'audit_log'"
                    )
                )
                .scalars()
                .all()
            )
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text(statement), params)
            for sql in saved:
                conn.execute(text(sql))


def test_a_changed_row_is_named_by_verify(engine) -> None:
    ids = _write(engine, "aud-changed", 4)
    _bypass_triggers(
        engine,
        "UPDATE audit_log SET after = :after WHERE id = :id",
        {"after": '{"score": "9,9"}', "id": ids[2]},
    )
    with Session(engine) as session:
        report = audit.verify(session, "aud-changed")
    assert not report.verified and report.broken_id == ids[2]
    assert report.reason == "content changed"


def test_a_deleted_row_is_noticed_at_the_next_one(engine) -> None:
    ids = _write(engine, "aud-deleted", 4)
    _bypass_triggers(engine, "DELETE FROM audit_log WHERE id = :id", {"id": ids[1]})
    with Session(engine) as session:
        report = audit.verify(session, "aud-deleted")
    assert not report.verified and report.broken_id == ids[2]


def test_the_cli_names_the_first_broken_row(engine, db_url) -> None:
    _write(engine, "aud-cli-ok", 2)
    ids = _write(engine, "aud-cli-bad", 3)
    _bypass_triggers(
        engine,
        "UPDATE audit_log SET actor = 'ke-gian' WHERE id = :id",
        {"id": ids[1]},
    )
    env = {**os.environ, "APPRAISAL_DATABASE_URL": db_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", "audit", "verify", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip

    ok = run("aud-cli-ok")
    assert ok.returncode == 0, ok.stderr
    assert "toàn vẹn (2 dòng) — verified" in ok.stdout
    bad = run("aud-cli-bad")
    assert bad.returncode == 1
    assert f"HỎNG tại dòng #{ids[1]}" in bad.stdout
    every = run()
    assert every.returncode == 1 and "kỳ aud-cli-ok" in every.stdout


def test_the_api_says_verified_to_the_coordinator_only(engine, world, tmp_path) -> None:
    http = client(make_app(engine, tmp_path))
    _write(engine, "aud-api", 2)
    resp = http.get("/api/audit/verify?cycle_id=aud-api", headers=world.auth("coordinator"))
    assert resp.status_code == 200
    body = resp.json()
    assert body["verified"] is True and body["rows"] == 2
    assert body["status_vi"].startswith("Đã xác minh")
    ids = _write(engine, "aud-api-bad", 2)
    _bypass_triggers(engine, "DELETE FROM audit_log WHERE id = :id", {"id": ids[0]})
    url = "/api/audit/verify?cycle_id=aud-api-bad"
    broken = http.get(url, headers=world.auth("coordinator")).json()
    assert broken["verified"] is False and broken["broken_row_id"] == ids[1]
    assert f"dòng #{ids[1]}" in broken["status_vi"]
    for who in ("viewer", "office_a", "staff_a", "council"):
        assert http.get("/api/audit/verify", headers=world.auth(who)).status_code == 403


def test_every_row_the_app_writes_is_sealed(engine, world) -> None:
    with Session(engine) as session:
        unsealed = session.exec(select(AuditLog.id).where(col(AuditLog.row_hash).is_(None))).all()
    assert unsealed == []


def _sign_in(http, username: str) -> None:
    form = http.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    resp = http.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert resp.status_code == 303


def test_the_coordinators_page_says_verified_or_names_the_broken_row(engine, world, tmp_path):
    app = make_app(engine, tmp_path)
    _write(engine, "aud-page-ok", 2)
    ids = _write(engine, "aud-page-bad", 3)
    _bypass_triggers(engine, "DELETE FROM audit_log WHERE id = :id", {"id": ids[0]})
    anonymous = client(app)
    assert anonymous.get("/audit", follow_redirects=False).status_code == 303
    office = client(app)
    _sign_in(office, "aud-office-a")
    assert office.get("/audit").status_code == 403
    coordinator = client(app)
    _sign_in(coordinator, "aud-coordinator")
    page = coordinator.get("/audit")
    assert page.status_code == 200
    name = r"<td>(?:<a [^>]*>)?{}(?:</a>)?</td>"
    row_ok = re.search(
        name.format("aud-page-ok") + r"\s*<td>2</td>\s*<td>(.*?)</td>", page.text, re.S
    )
    assert row_ok and "Đã xác minh: chuỗi nguyên vẹn" in row_ok.group(1)
    row_bad = re.search(
        name.format("aud-page-bad") + r"\s*<td>\d+</td>\s*<td>(.*?)</td>", page.text, re.S
    )
    assert row_bad and f"Hỏng tại dòng #{ids[1]}" in row_bad.group(1)


def test_sealing_finds_the_chain_end_by_index_not_by_sorting_the_trail(engine) -> None:
    """The read of a chain's last row (one per sealed write) probes ``ix_audit_chain``
    (migration 0007) instead of sorting every audit row of the cycle."""
    with captured(engine, "FROM audit_log") as seen:
        _write(engine, "aud-plan", 1)
    seen = [(sql, params) for sql, params in seen if "ORDER BY" in sql]
    assert seen, "the seal read no chain end"
    plan = query_plan(engine, *seen[0])
    assert "ix_audit_chain" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
