"""What the office confirms before submitting and what blocks finalising, read from the database:
unfinished criteria, criteria scored without evidence, evidence warnings, the total and the class
it earns; the agencies that have not appraised all their criteria."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session

from actions.common import UnitRef
from actions.readiness import finalise_check, load_unit_sheet, submit_check, submit_check_of
from core.db import session_scope
from models.tables import Entry, Evidence
from tests.api_support import World, assign_staff_a, build_world
from tests.db_support import captured


@pytest.fixture(scope="module")
def world(engine) -> World:
    w = build_world(engine, prefix="rd")
    with session_scope(engine) as session:
        session.add(
            Entry(
                cycle_id=w.cycle_id,
                unit_id=w.unit_a,
                criterion_code="2.1.1",
                inputs={"level": "full"},
                self_score=Decimal(1),
                explanation="Kế hoạch số 15/KH-UBND.",
                appraised_inputs={"level": "full"},
                appraised_score=Decimal(1),
            )
        )
        session.add(
            Entry(
                cycle_id=w.cycle_id,
                unit_id=w.unit_a,
                criterion_code="2.1.2",
                inputs={"level": "full"},
                self_score=Decimal(1),
                explanation="Báo cáo số 3/BC-UBND.",
            )
        )
        assign_staff_a(session, w, ("2.1.1", "2.1.2"))
        session.add(
            Evidence(
                cycle_id=w.cycle_id,
                unit_id=w.unit_a,
                criterion_code="2.1.2",
                sha256="0" * 64,
                filename="bao-cao.pdf",
                content_type="application/pdf",
                size=10,
                doc_number="",
            )
        )
    return w


def test_the_submit_check_lists_what_the_office_confirms(engine, world) -> None:
    unit = UnitRef(cycle_id=world.cycle_id, unit_id=world.unit_a, unit_code="rd-unit-a")
    with Session(engine) as session:
        check = submit_check(session, unit=unit)
    assert check.finished == 2 and check.total_criteria > 60
    assert len(check.unfinished) == check.total_criteria - 2
    assert {w.message for w in check.unfinished} == {"Chưa chấm điểm."}
    assert [w.code for w in check.without_evidence] == ["2.1.1"]
    messages = [w.message for w in check.evidence_warnings if w.code == "2.1.2"]
    assert any("Số văn bản không hợp lệ hoặc để trống" in m for m in messages)
    assert any(m == "“bao-cao.pdf”: Tệp PDF không có chữ ký số." for m in messages)
    assert check.self_total == Decimal(2) and check.max_total == Decimal(100)
    assert check.proposed_class == "fail"
    assert check.proposed_class_label == "Không hoàn thành nhiệm vụ"
    assert check.warnings == len(check.unfinished) + 1 + len(check.evidence_warnings)


def test_the_submit_check_reads_no_staff_and_finds_what_the_whole_sheet_finds(
    engine, world
) -> None:
    """A submit runs the check before freezing the sheet: it skips the assignments (a row per
    criterion and staff member) and the rounds, and answers as the check of the whole sheet
    (the one the unit's page shows) does."""
    unit = UnitRef(cycle_id=world.cycle_id, unit_id=world.unit_a, unit_code="rd-unit-a")
    with Session(engine) as session:
        with captured(engine, " FROM ") as seen:
            light = submit_check(session, unit=unit)
        whole = load_unit_sheet(session, unit)
        assert len(whole.assignments) == 2  # the whole sheet has the staff
        full = submit_check_of(session, whole)
    tables = [sql.split(" FROM ", 1)[1].split()[0] for sql, _params in seen]
    assert "assignment" not in tables and "explanation_request" not in tables, tables
    assert light == full


def test_the_finalise_check_names_each_agency_and_its_criteria(engine, world) -> None:
    unit = UnitRef(cycle_id=world.cycle_id, unit_id=world.unit_a, unit_code="rd-unit-a")
    with Session(engine) as session:
        check = finalise_check(session, unit=unit)
    assert not check.ready
    waiting = {w.agency: w.codes for w in check.waiting}
    assert "2.1.1" not in waiting["Thanh tra huyện"] and "2.1.2" in waiting["Thanh tra huyện"]
    assert "6.2" in waiting["Phòng Tài chính - Kế hoạch"]
    assert check.agencies == [w.agency for w in check.waiting]
