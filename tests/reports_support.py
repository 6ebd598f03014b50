"""A cycle of three Định Hóa communes in the states the reports tests need, on a real database.

binh-thanh: drafted in full, one evidence document, submitted one day late, appraised with two
changes, one explanation round answered, finalised, classified and published; phuong-tien:
a few criteria drafted and submitted on time, finalised untouched; dinh-bien: still drafting.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from contracts.messages import (
    ExplanationItemSpec,
    RequestExplanationCommand,
    SubmitCommand,
    TransitionArgs,
    UnitCommand,
)
from core.db import session_scope
from models.inputs import CriterionInput
from models.states import CycleState
from models.tables import Cycle, CycleUnit, Evidence, Unit, UnitState
from reports.pdf import docx_to_pdf
from services.cycles import classify_cycle
from services.sheet import Editor, answer_explanation, save_appraisal
from services.transitions import apply_transition
from tests.histories.scenario import (
    Seeded,
    appraise_derived,
    draft,
    draft_everything,
    local,
    seed_cycle,
)

YEAR = 2024
ARTEFACTS = Path(__file__).resolve().parent.parent / "test-artefacts" / "reports"


@dataclass
class ReportCycle:
    """The seeded cycle and the ids the tests ask about."""

    seeded: Seeded
    unit_ids: dict[str, int]

    @property
    def cycle_id(self) -> str:
        return self.seeded.cycle_id


def _command(
    engine: Engine, s: Seeded, unit: str, key: str, at, command: UnitCommand, seq: int = 0
) -> None:
    with session_scope(engine) as session:
        apply_transition(
            session,
            TransitionArgs(
                cycle_id=s.cycle_id,
                unit_code=unit,
                request_key=f"{s.cycle_id}-{key}",
                at=at,
                actor=command.actor,
                command=command,
                seq=seq,
            ),
        )


def _state(engine: Engine, s: Seeded, unit: str, state: UnitState) -> None:
    with session_scope(engine) as session:
        unit_id = session.exec(select(Unit.id).where(Unit.code == unit)).one()
        cu = session.exec(
            select(CycleUnit).where(CycleUnit.cycle_id == s.cycle_id, CycleUnit.unit_id == unit_id)
        ).one()
        cu.state = state
        session.add(cu)


def seed_report_cycle(engine: Engine, cycle_id: str, year: int = YEAR) -> ReportCycle:
    """Seeds the three communes as described in the module's docstring."""
    s = seed_cycle(engine, year=year, opens_at=local(year, 11, 14, 8), cycle_id=cycle_id)
    for unit in s.units:
        _state(engine, s, unit, UnitState.drafting)
    now = local(year, 11, 20, 9)
    draft_everything(engine, s.cycle_id, "binh-thanh", now)
    office = Editor(username=s.office["phuong-tien"], office=True)
    draft(engine, s.cycle_id, "phuong-tien", office, ["1.1", "1.2"], now)
    draft(
        engine, s.cycle_id, "dinh-bien", Editor(username="vp-dinh-bien", office=True), ["1.1"], now
    )
    with session_scope(engine) as session:
        bt = session.exec(select(Unit).where(Unit.code == "binh-thanh")).one()
        assert bt.id is not None
        session.add(
            Evidence(
                cycle_id=s.cycle_id,
                unit_id=bt.id,
                criterion_code="1.2",
                sha256="a" * 64,
                filename="ke-hoach-cchc.pdf",
                content_type="application/pdf",
                size=1024,
                doc_number="12/KH-UBND",
                doc_date=local(year, 1, 15, 8),
                issuer="UBND xã Bình Thành",
                uploaded_by="vp-binh-thanh",
            )
        )
    submit = SubmitCommand(actor=s.office["binh-thanh"], proposed_class="excellent")
    _command(engine, s, "binh-thanh", "submit-bt", local(year, 11, 23, 9), submit)
    submit = SubmitCommand(actor=s.office["phuong-tien"])
    _command(engine, s, "phuong-tien", "submit-pt", local(year, 11, 21, 9), submit)
    _state(engine, s, "binh-thanh", UnitState.appraising)
    noi_vu = Editor(username="council-noi-vu", agencies=frozenset({"Phòng Nội vụ"}))
    when = local(year, 11, 27, 9)
    with session_scope(engine) as session:
        save_appraisal(
            session,
            cycle_id=s.cycle_id,
            unit_code="binh-thanh",
            criterion_code="1.1",
            editor=noi_vu,
            now=when,
            inputs=CriterionInput(answers={3: 3}),
            comment="Phiếu đánh giá chỉ đạt mức trung bình.",
        )
    ask = RequestExplanationCommand(
        actor=noi_vu.username,
        items=(ExplanationItemSpec(code="1.2", question="Bổ sung Kế hoạch CCHC năm 2024."),),
        deadline=local(year, 11, 29, 17),
    )
    _command(engine, s, "binh-thanh", "round-1", when, ask, seq=1)
    with session_scope(engine) as session:
        answer_explanation(
            session,
            cycle_id=s.cycle_id,
            unit_code="binh-thanh",
            criterion_code="1.2",
            editor=Editor(username=s.office["binh-thanh"], office=True),
            now=local(year, 11, 28, 9),
            answer="Đã bổ sung Kế hoạch số 12/KH-UBND ngày 15/01/2024.",
        )
    _state(engine, s, "binh-thanh", UnitState.appraising)
    appraise_derived(engine, s.cycle_id, "binh-thanh", local(year, 12, 2, 9))
    for unit in ("binh-thanh", "phuong-tien"):
        _state(engine, s, unit, UnitState.finalised)
    _state(engine, s, "dinh-bien", UnitState.not_submitted)
    with session_scope(engine) as session:
        classify_cycle(
            session,
            cycle_id=s.cycle_id,
            actor="coordinator",
            at=local(year, 12, 15, 9),
            request_key=f"{s.cycle_id}-classify",
        )
    _state(engine, s, "dinh-bien", UnitState.drafting)  # a draft to print "DỰ THẢO" on
    for unit in ("binh-thanh", "phuong-tien"):
        _state(engine, s, unit, UnitState.published)
    with session_scope(engine) as session:
        cycle = session.get(Cycle, s.cycle_id)
        assert cycle is not None
        cycle.state = CycleState.published
        cycle.published_at = local(year, 12, 20, 9)
        session.add(cycle)
        ids = {u.code: u.id for u in session.exec(select(Unit)).all() if u.id is not None}
    return ReportCycle(seeded=s, unit_ids=ids)


def render_first_page(docx: bytes, name: str) -> Path:
    """Converts a DOCX to PDF with LibreOffice and its first page to PNG (a test artefact)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / f"{name}.docx").write_bytes(docx)
    pdf = ARTEFACTS / f"{name}.pdf"
    pdf.write_bytes(docx_to_pdf(docx))  # the application's own conversion (LibreOffice)
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
         str(ARTEFACTS / name)],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    png = ARTEFACTS / f"{name}.png"
    assert png.exists() and png.stat().st_size > 1000
    return png


__all__ = ["ARTEFACTS", "YEAR", "Decimal", "ReportCycle", "render_first_page", "seed_report_cycle"]
