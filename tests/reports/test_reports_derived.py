"""Derived criteria and the year after, across two cycles of one framework lineage on a real
database: the submission fills days late and the change of the score against the previous
published cycle, each with its sentence; a criterion about an outside index (Chỉ số CCHC) is
left to the council with its source named; after publication the draft "analysis of criteria
that lost points" lists every criterion below its maximum against last year."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

import pytest
from docx import Document
from sqlalchemy.engine import Engine
from sqlmodel import select

from actions.common import UnitRef
from actions.reports import unit_file
from contracts.messages import AssignCommand, AssignmentSpec, SubmitCommand, TransitionArgs
from core.db import session_scope
from models.framework import (
    Band,
    ClassBand,
    ClassificationScheme,
    DerivedRule,
    DerivedSource,
    Framework,
    LevelsRule,
    Node,
    NodeKind,
    Option,
)
from models.inputs import CriterionInput
from models.states import CycleState
from models.tables import Cycle, CycleUnit, Entry, Role, RoleGrant, Unit, UnitState, User
from reports.sheet_xlsx import _hint
from services.cycles import CycleSpec, create_cycle
from services.frameworks import publish_framework, store_framework
from services.sheet import Editor, save_appraisal, save_draft
from services.transitions import apply_transition
from tests.histories.scenario import local

UNIT = "xa-ke-thua"
OFFICE = "vp-xa-ke-thua"
CHANGE = (
    Band(min=Decimal("0.001"), points=Decimal(1), label="Cao hơn năm trước"),
    Band(min=Decimal(0), max=Decimal(0), max_inclusive=True, points=Decimal("0.5"), label="Bằng"),
    Band(max=Decimal(0), points=Decimal(0), label="Thấp hơn năm trước"),
)
FRAMEWORK = Framework(
    name="Bộ tiêu chí thử nghiệm kế thừa",
    issuer="UBND huyện Thử Nghiệm",
    year=2024,
    classification=ClassificationScheme(
        bands=(
            ClassBand(key="good", label="Hoàn thành tốt nhiệm vụ", min_total=Decimal(8)),
            ClassBand(key="pass", label="Hoàn thành nhiệm vụ", min_total=Decimal(0)),
        )
    ),
    nodes=(
        Node(
            code="I",
            title="Công tác chỉ đạo, điều hành",
            kind=NodeKind.area,
            max_points=Decimal(10),
            children=(
                Node(
                    code="1.1",
                    title="Kế hoạch năm",
                    max_points=Decimal(6),
                    rule=LevelsRule(
                        options=(
                            Option(key="du", label="Đầy đủ", points=Decimal(6)),
                            Option(key="thieu", label="Thiếu nội dung", points=Decimal(2)),
                        )
                    ),
                ),
                Node(
                    code="1.2",
                    title="Gửi báo cáo tự chấm đúng hạn",
                    max_points=Decimal(2),
                    rule=DerivedRule(
                        source=DerivedSource.submission_days_late,
                        bands=(
                            Band(max=Decimal(0), max_inclusive=True, points=Decimal(2)),
                            Band(min=Decimal(0), min_inclusive=False, points=Decimal(0)),
                        ),
                    ),
                ),
                Node(
                    code="1.3",
                    title="Điểm số năm sau cao hơn năm trước",
                    max_points=Decimal(1),
                    rule=DerivedRule(source=DerivedSource.score_change, bands=CHANGE),
                ),
                Node(
                    code="1.4",
                    title="Chỉ số CCHC của xã cao hơn năm trước",
                    max_points=Decimal(1),
                    guidance="Theo Chỉ số CCHC do UBND tỉnh công bố.",
                    rule=DerivedRule(source=DerivedSource.score_change, bands=CHANGE),
                ),
            ),
        ),
    ),
)


def _cycle(engine: Engine, framework_id: int, year: int) -> str:
    cycle_id = f"{year}-ke-thua"
    with session_scope(engine) as s:
        create_cycle(
            s,
            spec=CycleSpec(
                cycle_id=cycle_id,
                year=year,
                title=f"Đánh giá năm {year}",
                framework_id=framework_id,
                units=[UNIT],
                opens_at=local(year, 11, 1, 8),
                data_cutoff_at=local(year, 11, 20, 23, 59),
                submission_deadline=local(year, 11, 22),
                hard_lock_at=local(year, 11, 25),
                appraisal_deadline=local(year, 12, 10),
                results_target=local(year, 12, 20),
            ),
            actor="coordinator",
        )
    return cycle_id


def _run(engine: Engine, cycle_id: str, year: int, level: str, submitted_at) -> None:
    """Assign, draft 1.1, submit at ``submitted_at``."""
    with session_scope(engine) as s:
        apply_transition(
            s,
            TransitionArgs(
                cycle_id=cycle_id,
                unit_code=UNIT,
                request_key=f"{cycle_id}-assign",
                at=local(year, 11, 2, 9),
                actor=OFFICE,
                command=AssignCommand(
                    actor=OFFICE,
                    assignments=(AssignmentSpec(codes=("I",), username=OFFICE, responsible=True),),
                ),
            ),
        )
    with session_scope(engine) as s:
        save_draft(
            s,
            cycle_id=cycle_id,
            unit_code=UNIT,
            criterion_code="1.1",
            editor=Editor(username=OFFICE, office=True),
            now=local(year, 11, 20, 9),
            inputs=CriterionInput(level=level),
            explanation="Kế hoạch số 01/KH-UBND.",
        )
    with session_scope(engine) as s:
        apply_transition(
            s,
            TransitionArgs(
                cycle_id=cycle_id,
                unit_code=UNIT,
                request_key=f"{cycle_id}-submit",
                at=submitted_at,
                actor=OFFICE,
                command=SubmitCommand(actor=OFFICE),
            ),
        )


def _entries(engine: Engine, cycle_id: str) -> dict[str, Entry]:
    with session_scope(engine) as s:
        unit_id = s.exec(select(Unit.id).where(Unit.code == UNIT)).one()
        rows = s.exec(
            select(Entry).where(Entry.cycle_id == cycle_id, Entry.unit_id == unit_id)
        ).all()
        return {e.criterion_code: e for e in rows}


def _publish(engine: Engine, cycle_id: str, year: int, total: Decimal) -> None:
    with session_scope(engine) as s:
        cycle = s.get(Cycle, cycle_id)
        assert cycle is not None
        cycle.state = CycleState.published
        cycle.published_at = local(year, 12, 20, 9)
        s.add(cycle)
        unit_id = s.exec(select(Unit.id).where(Unit.code == UNIT)).one()
        cu = s.exec(
            select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == unit_id)
        ).one()
        cu.state, cu.final_total, cu.classification, cu.rank = (
            UnitState.published,
            total,
            "pass",
            1,
        )
        s.add(cu)


@pytest.fixture(scope="module")
def cycles(engine: Engine) -> tuple[str, str]:
    with session_scope(engine) as s:
        record, _ = store_framework(s, framework=FRAMEWORK, actor="test")
        assert record.id is not None
        publish_framework(s, framework_id=record.id, actor="test")
        framework_id = record.id
        unit = Unit(code=UNIT, name="UBND xã Kế Thừa", group="commune")
        office = User(username=OFFICE, full_name="Văn phòng xã", password_hash="!")
        s.add(unit)
        s.add(office)
        s.flush()
        assert unit.id is not None and office.id is not None
        s.add(RoleGrant(user_id=office.id, role=Role.unit_office, unit_id=unit.id))
    first = _cycle(engine, framework_id, 2023)
    _run(engine, first, 2023, "thieu", local(2023, 11, 21, 9))  # on time, 2 points
    _publish(engine, first, 2023, Decimal(4))
    second = _cycle(engine, framework_id, 2024)
    _run(engine, second, 2024, "du", local(2024, 11, 23, 9))  # one day late, 6 points
    return first, second


def test_first_cycle_has_no_comparison_and_an_on_time_submission(engine, cycles) -> None:
    first, _second = cycles
    entries = _entries(engine, first)
    assert entries["1.2"].self_score == Decimal(2)
    assert entries["1.2"].self_reason.startswith("Gửi báo cáo đúng hạn")
    assert "1.3" not in entries and "1.4" not in entries  # nothing earlier to compare with


def test_second_cycle_fills_days_late_and_the_change_against_last_year(engine, cycles) -> None:
    first, second = cycles
    entries = _entries(engine, second)
    late = entries["1.2"]
    assert late.self_score == Decimal(0) and late.inputs == {"value": "1"}
    assert late.self_reason.startswith("Gửi báo cáo chậm 1 ngày")
    change = entries["1.3"]
    assert Decimal(change.inputs["value"]) == 4 and change.self_score == Decimal(1)  # 6 − 2
    assert change.self_reason.startswith("Điểm số cao hơn năm trước 4 điểm")
    assert f"kỳ {first}: 2 điểm" in change.self_reason
    assert change.updated_by == "system"
    assert "1.4" not in entries  # the province's index: the council's input
    hint = _hint(FRAMEWORK.node("1.4"))
    assert hint.startswith("Hội đồng thẩm định nhập; nguồn: Chỉ số CCHC")
    assert _hint(FRAMEWORK.node("1.3")) == "Do hệ thống tính"


def test_analysis_of_lost_points_after_publication(engine, cycles) -> None:
    first, second = cycles
    with session_scope(engine) as s:
        unit_id = s.exec(select(Unit.id).where(Unit.code == UNIT)).one()
        cu = s.exec(
            select(CycleUnit).where(CycleUnit.cycle_id == second, CycleUnit.unit_id == unit_id)
        ).one()
        cu.state = UnitState.appraising
        s.add(cu)
    with session_scope(engine) as s:
        save_appraisal(
            s,
            cycle_id=second,
            unit_code=UNIT,
            criterion_code="1.1",
            editor=Editor(username="hoi-dong", coordinator=True),
            now=local(2024, 12, 1, 9),
            inputs=CriterionInput(level="thieu"),
            comment="Kế hoạch thiếu nội dung kiểm tra.",
        )
    _publish(engine, second, 2024, Decimal(3))
    assert unit_id is not None
    ref = UnitRef(cycle_id=second, unit_id=unit_id, unit_code=UNIT)
    with session_scope(engine) as s:
        file = unit_file(s, unit=ref, kind="analysis", fmt="docx")
    doc = Document(BytesIO(file.content))
    assert doc.sections[0].header.paragraphs[0].text == "DỰ THẢO"
    texts = [p.text for p in doc.paragraphs]
    assert any("Phân tích tồn tại, hạn chế, tiêu chí bị trừ điểm" in t for t in texts)
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "Mã")
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in table.rows[1:]}
    assert set(rows) == {"1.1", "1.2", "1.4"}  # every criterion below its max
    assert rows["1.1"][2:6] == ["6", "6", "2", "4"]  # max, self, appraised, lost
    assert rows["1.1"][6] == "Kế hoạch thiếu nội dung kiểm tra."
    assert rows["1.1"][7] == f"Kỳ {first}: 2 điểm — bằng năm trước"
    assert rows["1.2"][5] == "2" and rows["1.4"][4] == ""  # not scored by the council yet
