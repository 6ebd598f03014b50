"""The one sheet loader (services/sheet/loader.py) against a real database: a fixed number of
SQL statements however many explanation rounds there are, the snapshot's content and hash
unchanged by the move to the loader, and the API view reading the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.views import sheet_view
from core.db import session_scope
from models.tables import (
    Cycle,
    CycleUnit,
    Entry,
    Evidence,
    ExplanationItem,
    ExplanationRequest,
    Unit,
    UnitState,
)
from services.sheet import (
    build_snapshot,
    canonical_hash,
    load_sheet,
    progress,
    replace_assignments,
    sheet_progress,
)
from tests.histories.scenario import Seeded, draft_everything, local, seed_cycle

YEAR = 2024
CYCLE = "2024-loader"
TAKEN = local(YEAR, 11, 22, 17, 0)
# The canonical hash of ``_snapshot(...)`` below, computed by the reader this loader replaced
# (a query per explanation round). Committed snapshots are compared by hash, so the loader
# must give the same bytes for the same data; change this only with a migration of old hashes.
# (Recomputed once when the built-in framework's text of criterion 1.3 was corrected: the data
# changed, not the reader; the old value was c36e7fb3…044d8.)
GOLDEN_HASH = "6a80a4c7f3bfe42c402c8821c8b2c991bc1565fd18f66efe607e24f905dd7fb7"


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Seeded:
    s = seed_cycle(engine, year=YEAR, opens_at=local(YEAR, 11, 14, 8), cycle_id=CYCLE)
    for code in s.units:
        with session_scope(engine) as session:
            cycle, unit, cu = _rows(session, code)
            specs = [(sp.codes, sp.username, sp.responsible) for sp in s.specs[code]]
            replace_assignments(session, cycle=cycle, unit=unit, specs=specs, actor="test")
            cu.state = UnitState.drafting
            session.add(cu)
    draft_everything(engine, CYCLE, "binh-thanh", local(YEAR, 11, 18, 9))
    with session_scope(engine) as session:
        _cycle, unit, cu = _rows(session, "binh-thanh")
        assert unit.id is not None
        _attach_evidence(session, unit.id)
        entry = session.exec(
            select(Entry).where(Entry.unit_id == unit.id, Entry.criterion_code == "2.1.1")
        ).one()
        entry.appraised_inputs = None  # a score the council gave without corrected inputs
        entry.appraised_score = Decimal("0.500")
        entry.appraisal_comment = "Hội đồng chấm lại: thiếu kế hoạch năm."
        session.add(entry)
        cu.state = UnitState.explanation
        cu.submitted_at = local(YEAR, 11, 22, 16, 30)
        cu.proposed_class = "good"
        session.add(cu)
    _add_round(engine, "binh-thanh", 1, ["2.1.1", "1.2"])
    _add_round(engine, "binh-thanh", 2, ["1.2"])
    return s


def _rows(session: Session, code: str) -> tuple[Cycle, Unit, CycleUnit]:
    unit = session.exec(select(Unit).where(Unit.code == code)).one()
    cycle = session.exec(select(Cycle).where(Cycle.id == CYCLE)).one()
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == CYCLE, CycleUnit.unit_id == unit.id)
    ).one()
    return cycle, unit, cu


def _attach_evidence(session: Session, unit_id: int) -> None:
    # Upload order differs from hash order on 1.2; one deleted file must not show.
    files = [
        ("1.2", "f" * 64, "ke-hoach.pdf", None),
        ("1.2", "0a" * 32, "bao-cao.pdf", None),
        ("2.1.1", "5" * 64, "quyet-dinh.docx", None),
        ("2.1.1", "9" * 64, "da-xoa.pdf", local(YEAR, 11, 19, 10)),
    ]
    for code, sha, name, deleted_at in files:
        session.add(
            Evidence(
                cycle_id=CYCLE,
                unit_id=unit_id,
                criterion_code=code,
                sha256=sha,
                filename=name,
                content_type="application/pdf",
                size=1234,
                doc_number="15/KH-UBND",
                doc_date=local(YEAR, 1, 10, 0),
                issuer="UBND xã Bình Thành",
                signed=True,
                uploaded_by="vp-binh-thanh",
                uploaded_at=local(YEAR, 11, 18, 10),
                deleted_at=deleted_at,
            )
        )


def _add_round(engine: Engine, unit_code: str, round_no: int, codes: list[str]) -> None:
    with session_scope(engine) as session:
        _cycle, unit, _cu = _rows(session, unit_code)
        assert unit.id is not None
        for earlier in session.exec(
            select(ExplanationRequest).where(ExplanationRequest.unit_id == unit.id)
        ).all():
            earlier.state = "closed"
            session.add(earlier)
        request = ExplanationRequest(
            cycle_id=CYCLE,
            unit_id=unit.id,
            round_no=round_no,
            deadline=local(YEAR, 12, 1 + 5 * round_no),
            created_by="council-noi-vu",
        )
        session.add(request)
        session.flush()
        assert request.id is not None
        # Added in reverse: the loader must return them by criterion code.
        for code in reversed(codes):
            answered = round_no == 1
            session.add(
                ExplanationItem(
                    request_id=request.id,
                    criterion_code=code,
                    question=f"Đề nghị giải trình tiêu chí {code} (vòng {round_no}).",
                    answer="Đã bổ sung Kế hoạch số 15/KH-UBND." if answered else "",
                    answered_at=local(YEAR, 12, 3, 9) if answered else None,
                    answered_by="vp-binh-thanh" if answered else "",
                )
            )


@contextmanager
def _counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _load_count(engine: Engine, unit_code: str) -> tuple[int, int]:
    """(statements, rounds) of loading the sheet in a fresh session."""
    with session_scope(engine) as session:
        cycle, unit, cu = _rows(session, unit_code)
        load_sheet(session, cycle=cycle, unit=unit, cu=cu)  # the framework cache is warm now
    with session_scope(engine) as session:
        cycle, unit, cu = _rows(session, unit_code)
        with _counting(engine) as statements:
            sheet = load_sheet(session, cycle=cycle, unit=unit, cu=cu)
        return len(statements), len(sheet.rounds)


def _snapshot(engine: Engine) -> tuple[dict[str, Any], str]:
    with session_scope(engine) as session:
        cycle, unit, cu = _rows(session, "binh-thanh")
        return build_snapshot(session, cycle=cycle, unit=unit, cu=cu, kind="submission", at=TAKEN)


def test_loading_a_sheet_takes_the_same_statements_for_one_round_or_three(
    engine: Engine, seeded: Seeded
) -> None:
    codes = ["1.2", "2.1.1", "3.2.1"]
    _add_round(engine, "phuong-tien", 1, codes)
    one, rounds = _load_count(engine, "phuong-tien")
    assert rounds == 1
    _add_round(engine, "phuong-tien", 2, codes)
    _add_round(engine, "phuong-tien", 3, codes[:2])
    three, rounds = _load_count(engine, "phuong-tien")
    assert rounds == 3
    assert three == one
    # Framework hash, entries, evidence, assignments, rounds, the rounds' items.
    assert one == 6


def test_loader_returns_rounds_items_evidence_and_assignments_in_their_orders(
    engine: Engine, seeded: Seeded
) -> None:
    _add_round(engine, "dinh-bien", 1, ["2.1.1", "1.2"])
    _add_round(engine, "dinh-bien", 2, ["3.2.1"])
    with session_scope(engine) as session:
        cycle, unit, _cu = _rows(session, "dinh-bien")
        sheet = load_sheet(session, cycle=cycle, unit=unit)  # the projection row read too
        assert sheet.cu.unit_id == unit.id
        assert [r.request.round_no for r in sheet.rounds] == [1, 2]
        assert [[it.criterion_code for it in r.items] for r in sheet.rounds] == [
            ["1.2", "2.1.1"],
            ["3.2.1"],
        ]
        names = [u.username for _a, u in sheet.assignments]
        assert names == sorted(names) and names
        # The progress from the loaded rows is the one ``progress`` reads itself.
        assert sheet_progress(sheet) == progress(session, cycle=cycle, unit=unit)
    with session_scope(engine) as session:
        cycle, unit, _cu = _rows(session, "binh-thanh")
        sheet = load_sheet(session, cycle=cycle, unit=unit)
        assert [ev.filename for ev in sheet.evidence["1.2"]] == ["ke-hoach.pdf", "bao-cao.pdf"]
        assert [ev.filename for ev in sheet.evidence["2.1.1"]] == ["quyet-dinh.docx"]


def test_snapshot_content_and_hash_are_those_of_the_reader_it_replaced(
    engine: Engine, seeded: Seeded
) -> None:
    content, digest = _snapshot(engine)
    assert digest == canonical_hash(content)
    rows = {r["code"]: r for r in content["entries"]}
    # Evidence by file hash, deleted files left out; assignees by username.
    assert [e["filename"] for e in rows["1.2"]["evidence"]] == ["bao-cao.pdf", "ke-hoach.pdf"]
    assert [e["filename"] for e in rows["2.1.1"]["evidence"]] == ["quyet-dinh.docx"]
    assert rows["2.1.1"]["appraised_score"] == "0.500"
    assert [[it["code"] for it in r["items"]] for r in content["explanation_rounds"]] == [
        ["1.2", "2.1.1"],
        ["1.2"],
    ]
    assert digest == GOLDEN_HASH
    # The same data gives the same bytes again (nothing taken from the clock or the session).
    assert _snapshot(engine)[1] == digest


def test_api_view_reads_the_loaded_sheet(engine: Engine, seeded: Seeded) -> None:
    with session_scope(engine) as session:
        cycle, unit, cu = _rows(session, "binh-thanh")
        view = sheet_view(session, cycle, cu, unit)
        with _counting(engine) as more:
            sheet_view(session, cycle, cu, unit)
    nodes = {n.code: n for n in view.nodes}
    assert [e.filename for e in nodes["1.2"].evidence] == ["ke-hoach.pdf", "bao-cao.pdf"]
    assert nodes["2.1.1"].appraised_score == Decimal("0.500")
    assert nodes["2.1.1"].assignees
    assert [r.round_no for r in view.explanation_rounds] == [1, 2]
    assert view.progress.total > 0 and view.progress.finished == view.progress.total
    # The loader's 5 (the cycle's framework hash is read once per session, by the first view),
    # the snapshots, and one evidence check (reuse) per attached file.
    assert len(more) == 5 + 1 + 3
