"""Malformed annex files give a clear error (with the line) and store nothing — CLI and API."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from cli.main import main
from core.settings import get_settings
from models.tables import AuditLog, FrameworkRecord
from tests.api_support import assert_problem, build_world, client, make_app

HEADER = "TT\tNội dung\tĐiểm tối đa\tĐiểm tự chấm\n"
MALFORMED: list[tuple[str, bytes, str]] = [
    ("wrong-header.tsv", "Mã\tTên\n1\tKế hoạch\n".encode(), "không tìm thấy dòng tiêu đề"),
    ("letters.tsv", (HEADER + "1\tA\thai điểm\t\n").encode(), "dòng 2"),
    ("empty.tsv", b"", "tệp rỗng"),
]


def _counts(session: Session) -> tuple[int, int]:
    frameworks = session.exec(select(func.count()).select_from(FrameworkRecord)).one()
    audits = session.exec(select(func.count()).select_from(AuditLog)).one()
    return int(frameworks), int(audits)


@pytest.fixture
def cli(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("APPRAISAL_DATABASE_URL", db_url)
    monkeypatch.setenv("APPRAISAL_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()

    def run(*argv: str) -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        return main(list(argv))

    yield run
    get_settings.cache_clear()


@pytest.mark.parametrize(("name", "content", "fragment"), MALFORMED)
def test_cli_import_refuses_and_stores_nothing(
    cli, engine, capsys, tmp_path: Path, name: str, content: bytes, fragment: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with Session(engine) as session:
        before = _counts(session)
    code = cli("framework", "import", str(path), "--name", "Thử", "--year", "2024")
    assert code != 0
    err = capsys.readouterr().err
    assert fragment.lower() in err.lower(), err
    with Session(engine) as session:
        assert _counts(session) == before


def test_cli_refuses_a_50_mb_file_and_stores_nothing(cli, engine, capsys, tmp_path) -> None:
    path = tmp_path / "huge.tsv"
    with path.open("wb") as f:
        f.write(HEADER.encode())
        f.write(b"1\tA\t1\t\n" * (50 * 1024 * 1024 // 7 + 1))
    assert path.stat().st_size > 50 * 1024 * 1024
    with Session(engine) as session:
        before = _counts(session)
    assert cli("framework", "import", str(path), "--name", "Thử", "--year", "2024") != 0
    assert "MB" in capsys.readouterr().err
    with Session(engine) as session:
        assert _counts(session) == before


@pytest.mark.parametrize(("name", "content", "fragment"), MALFORMED)
def test_api_import_refuses_and_stores_nothing(
    engine, tmp_path: Path, name: str, content: bytes, fragment: str
) -> None:
    world = build_world(engine, prefix=f"ie{MALFORMED.index((name, content, fragment))}",
                        cycle_id=f"ie-{name.split('.')[0]}")  # fmt: skip
    http = client(make_app(engine, tmp_path))
    with Session(engine) as session:
        before = _counts(session)
    body = assert_problem(
        http.post(
            "/api/frameworks/import",
            files={"file": (name, content)},
            data={"name": "Thử", "year": "2024"},
            headers=world.auth("coordinator"),
        ),
        422,
    )
    assert body["errors"][0]["field"] == "file"
    assert fragment.lower() in body["errors"][0]["reason"].lower(), body
    with Session(engine) as session:
        assert _counts(session) == before


def test_cli_import_places_every_row_it_can_and_reports_the_rest(
    cli, engine, capsys, tmp_path: Path
) -> None:
    """Issue 12 item 1: one unreadable row is reported with its line and left out; the rest of
    the table is imported."""
    path = tmp_path / "broken-code.tsv"
    path.write_bytes((HEADER + "1\tA\t1\t\n1.2.1\tB\t1\t\n2\tC\t2\t\n").encode())
    with Session(engine) as session:
        frameworks_before, _ = _counts(session)
    assert cli("framework", "import", str(path), "--name", "Thử", "--year", "2024") == 0
    captured = capsys.readouterr()
    assert "Số dòng: 2 đã đặt vào cây (0 theo phỏng đoán), 1 bỏ qua (xem cảnh báo)." in captured.out
    err = captured.err
    assert "dòng 3: Bỏ qua dòng 3: mã “1.2.1” không có mục cha “1.2” ở trên" in err
    with Session(engine) as session:
        assert _counts(session)[0] == frameworks_before + 1
