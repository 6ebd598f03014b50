"""What the office confirms before submitting and what blocks finalising, read from the database:
unfinished criteria, criteria scored without evidence, evidence warnings, the total and the class
it earns; the agencies that have not appraised all their criteria."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session

from actions.common import UnitRef
from actions.readiness import finalise_check, submit_check
from core.db import session_scope
from models.tables import Entry, Evidence
from tests.api_support import World, build_world


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


def test_the_finalise_check_names_each_agency_and_its_criteria(engine, world) -> None:
    unit = UnitRef(cycle_id=world.cycle_id, unit_id=world.unit_a, unit_code="rd-unit-a")
    with Session(engine) as session:
        check = finalise_check(session, unit=unit)
    assert not check.ready
    waiting = {w.agency: w.codes for w in check.waiting}
    assert "2.1.1" not in waiting["Thanh tra huyện"] and "2.1.2" in waiting["Thanh tra huyện"]
    assert "6.2" in waiting["Phòng Tài chính - Kế hoạch"]
    assert check.agencies == [w.agency for w in check.waiting]
