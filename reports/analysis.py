"""The draft "analysis of criteria that lost points" of a unit, after publication: every
criterion below its maximum, self against appraised score, the council's comment and the change
against the unit's previous cycle of the same framework lineage (the document the next cycle
asks units to attach, Định Hóa criterion 8.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, select

from models.tables import Cycle, CycleUnit, Entry, Unit
from reports.data import UnitReport, num
from services.sheet import framework_for, load_sheet, score_entries
from services.transitions.shared import previous_result

__all__ = ["AnalysisRow", "analysis_rows"]


@dataclass(frozen=True)
class AnalysisRow:
    """One criterion that lost points."""

    code: str
    title: str
    max: str
    self_score: str
    appraised: str
    lost: str
    comment: str
    last_year: str


def _versus(now: Decimal, before: Decimal) -> str:
    if now > before:
        return "cao hơn năm trước"
    if now < before:
        return "thấp hơn năm trước"
    return "bằng năm trước"


def analysis_rows(
    session: Session, *, cycle: Cycle, unit: Unit, cu: CycleUnit, report: UnitReport
) -> list[AnalysisRow]:
    """Every leaf scored below its maximum after appraisal, with last year's score of it."""
    sheet = load_sheet(session, cycle=cycle, unit=unit, cu=cu)
    fw = sheet.framework
    appraised = score_entries(fw, sheet.entries.values(), appraised=True).by_code
    assert unit.id is not None
    found = previous_result(session, cycle, unit.id)
    earlier: dict[str, Decimal] = {}
    before_id = ""
    if found is not None:
        before, _cu = found
        before_id = before.id
        rows = session.exec(
            select(Entry).where(Entry.cycle_id == before.id, Entry.unit_id == unit.id)
        ).all()
        scored = score_entries(framework_for(session, before), rows, appraised=True)
        earlier = {n.code: n.score for n in scored.nodes}
    by_code = {r.code: r for r in report.rows}
    out: list[AnalysisRow] = []
    for node in fw.leaves():
        score = appraised[node.code]
        if score.excluded or score.score >= score.max_points:
            continue
        row = by_code[node.code]
        if before_id and node.code in earlier:
            last = earlier[node.code]
            versus = f"Kỳ {before_id}: {num(last)} điểm — {_versus(score.score, last)}"
        elif before_id:
            versus = f"Kỳ {before_id}: không có tiêu chí này"
        else:
            versus = "Chưa có kỳ đánh giá trước"
        out.append(
            AnalysisRow(
                code=node.code,
                title=node.title,
                max=num(node.max_points),
                self_score=row.self_score,
                appraised=row.appraised,
                lost=num(score.max_points - score.score),
                comment=row.comment,
                last_year=versus,
            )
        )
    return out
