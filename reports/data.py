"""What a report shows, built from the one sheet loader (``services.sheet.load_sheet``).

Plain dataclasses of already formatted Vietnamese text (decimal commas, dd/mm/yyyy, local
time), so the DOCX templates, the XLSX writer and the print pages show the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from core.vn import VN_TZ, vn_date, vn_datetime, vn_decimal
from models.framework import DerivedRule, Framework, Node, NodeKind
from models.states import DRAFT_STATES, UnitState
from models.tables import Cycle, CycleUnit, Evidence, Snapshot, Unit
from scoring.aggregate import SheetScore
from scoring.rules import RuleResult
from services.sheet import LoadedSheet, leaf_results, load_sheet, score_entries
from services.transitions.shared import outside_source

__all__ = [
    "AreaLine",
    "Header",
    "ReportRow",
    "RoundLine",
    "UnitReport",
    "area_nodes",
    "date_line",
    "num",
    "place_of",
    "unit_report",
]

# States before the sheet's submission, or reopened for edits: the report is a draft.
_UNFINISHED = DRAFT_STATES | {UnitState.assigning, UnitState.not_submitted}


def num(value: Decimal | None) -> str:
    """A score with a decimal comma ("2,897"); an empty cell for no score."""
    return "" if value is None else vn_decimal(value)


def place_of(unit_name: str) -> str:
    """The place written before the date: "UBND xã Bình Thành" → "Bình Thành"."""
    stripped = re.sub(
        r"^(UBND|Ủy ban nhân dân|Uỷ ban nhân dân)\s+(xã|phường|thị trấn|huyện|quận|thị xã)\s+",
        "",
        unit_name.strip(),
        flags=re.IGNORECASE,
    )
    return stripped or unit_name


def area_nodes(framework: Framework) -> list[Node]:
    """The areas (lĩnh vực) of the framework; the top-level nodes when it names none."""
    areas = [n for n in framework.walk() if n.kind is NodeKind.area]
    return areas or list(framework.nodes)


@dataclass(frozen=True)
class Header:
    """The administrative header of Nghị định 30/2020/NĐ-CP (Phụ lục I): body, number, date."""

    parent_body: str  # cơ quan chủ quản (may be empty)
    issuing_body: str  # cơ quan ban hành
    number: str  # "Số: /BC-UBND" (the number is given when the paper is registered)
    place_date: str  # "Bình Thành, ngày 22 tháng 11 năm 2024"
    draft: bool  # "DỰ THẢO" in the page header
    stamp: str  # the snapshot's hash and time for a submitted sheet


@dataclass(frozen=True)
class AreaLine:
    """One line of the summary by area: "1. Công tác chỉ đạo, điều hành: 15/17 điểm"."""

    code: str
    title: str
    score: str
    max: str
    level: int  # 0: the area, 1: a criterion under it
    parent: bool = False  # an area with criteria under it ("…: 15/17 điểm, gồm:")


@dataclass(frozen=True)
class ReportRow:
    """One row of the full table (an area or criterion row, or a scored leaf)."""

    code: str
    title: str
    max: str
    self_score: str
    reason: str
    explanation: str
    evidence: str
    leaf: bool
    appraised: str = ""
    changed: bool = False
    comment: str = ""
    agency: str = ""


@dataclass(frozen=True)
class RoundLine:
    """One flagged criterion of an explanation round: question, answer and the decision."""

    round_no: int
    deadline: str
    code: str
    question: str
    answer: str
    decision: str


@dataclass
class UnitReport:
    """Everything the self-assessment and appraisal reports of one unit show."""

    cycle_title: str
    year: int
    unit_name: str
    unit_code: str
    recipient: str
    header: Header
    areas: list[AreaLine]
    rows: list[ReportRow]
    self_total: str
    appraised_total: str
    max_total: str
    proposed_class: str
    final_class: str
    rounds: list[RoundLine] = field(default_factory=list)
    changed_count: int = 0


def date_line(place: str, at: datetime | None) -> str:
    """ "Bình Thành, ngày 23 tháng 11 năm 2024"; the day left blank (None) to date on signing."""
    if at is None:
        return f"{place}, ngày      tháng      năm"
    local = at.astimezone(VN_TZ)
    return f"{place}, ngày {local.day:02d} tháng {local.month:02d} năm {local.year}"


def _evidence_text(rows: tuple[Evidence, ...]) -> str:
    parts = []
    for ev in rows:
        bits = [ev.doc_number or ev.filename]
        if ev.doc_date is not None:
            bits.append(f"ngày {vn_date(ev.doc_date)}")
        if ev.issuer:
            bits.append(f"của {ev.issuer}")
        parts.append(" ".join(bits))
    return "; ".join(parts)


def _reason(node: Node, result: RuleResult | Decimal | None, stored: str) -> str:
    if isinstance(result, RuleResult) and result.explanation:
        return result.explanation
    if not stored and isinstance(node.rule, DerivedRule):
        source = outside_source(node)
        return f"Hội đồng thẩm định nhập; nguồn: {source}." if source else stored
    return stored


def _band_label(framework: Framework, key: str | None) -> str:
    if framework.classification is None or not key:
        return ""
    for band in framework.classification.bands:
        if band.key == key:
            return band.label
    return key


def _natural_band(framework: Framework, total: Decimal) -> str:
    if framework.classification is None:
        return ""
    for band in framework.classification.bands:  # highest first
        if total >= band.min_total:
            return band.label
    return ""


def _submission(session: Session, cycle: Cycle, unit: Unit) -> Snapshot | None:
    return session.exec(
        select(Snapshot)
        .where(
            Snapshot.cycle_id == cycle.id,
            Snapshot.unit_id == unit.id,
            # "submission", or "submission-2", … after a reopen: the latest one counts.
            col(Snapshot.kind).startswith("submission"),
        )
        .order_by(col(Snapshot.id).desc())
    ).first()


def _areas(framework: Framework, scores: SheetScore) -> list[AreaLine]:
    by_code = scores.by_code
    lines: list[AreaLine] = []
    for area in area_nodes(framework):
        s = by_code[area.code]
        lines.append(
            AreaLine(area.code, area.title, num(s.score), num(s.max_points), 0, bool(area.children))
        )
        for child in area.children:
            c = by_code[child.code]
            lines.append(AreaLine(child.code, child.title, num(c.score), num(c.max_points), 1))
    return lines


def _rows(sheet: LoadedSheet, self_scores: SheetScore, appraised: SheetScore) -> list[ReportRow]:
    fw = sheet.framework
    results = leaf_results(fw, sheet.entries.values(), appraised=False)
    own, council = self_scores.by_code, appraised.by_code
    rows: list[ReportRow] = []
    for node in fw.walk():
        e = sheet.entries.get(node.code)
        mine, theirs = own[node.code], council[node.code]
        touched = e is not None and (
            e.appraised_inputs is not None or e.appraised_score is not None
        )
        rows.append(
            ReportRow(
                code=node.code,
                title=node.title,
                max=num(node.max_points),
                self_score=num(None if node.is_leaf and mine.missing else mine.score),
                reason=_reason(node, results.get(node.code), e.self_reason if e else "")
                if node.is_leaf
                else "",
                explanation=e.explanation if e and node.is_leaf else "",
                evidence=_evidence_text(sheet.evidence.get(node.code, ())) if node.is_leaf else "",
                leaf=node.is_leaf,
                appraised=num(None if node.is_leaf and theirs.missing else theirs.score),
                changed=node.is_leaf and touched and theirs.score != mine.score,
                comment=e.appraisal_comment if e and node.is_leaf else "",
                agency=node.agency,
            )
        )
    return rows


def _decision(row: ReportRow | None) -> str:
    if row is None:
        return ""
    if row.changed:
        return f"Điều chỉnh từ {row.self_score} thành {row.appraised} điểm"
    return "Giữ nguyên điểm tự chấm"


def unit_report(
    session: Session, *, cycle: Cycle, unit: Unit, cu: CycleUnit | None = None, now: datetime
) -> UnitReport:
    """The data of a unit's reports, read with the one sheet loader (a fixed number of queries)."""
    sheet = load_sheet(session, cycle=cycle, unit=unit, cu=cu)
    fw, cu = sheet.framework, sheet.cu
    entries = list(sheet.entries.values())
    self_scores = score_entries(fw, entries, appraised=False)
    appraised = score_entries(fw, entries, appraised=True)
    draft = UnitState(cu.state) in _UNFINISHED or cu.submitted_at is None
    snap = None if draft else _submission(session, cycle, unit)
    stamp = ""
    if snap is not None:
        stamp = (
            f"Bản gửi lúc {vn_datetime(snap.created_at)} — "
            f"mã kiểm tra (SHA-256) {snap.content_hash}"
        )
    header = Header(
        parent_body="",
        issuing_body=unit.name.upper(),
        number="Số:       /BC-UBND",
        place_date=date_line(place_of(unit.name), now if draft else cu.submitted_at),
        draft=draft,
        stamp=stamp,
    )
    rows = _rows(sheet, self_scores, appraised)
    by_code = {r.code: r for r in rows}
    rounds = [
        RoundLine(
            round_no=r.request.round_no,
            deadline=vn_datetime(r.request.deadline),
            code=it.criterion_code,
            question=it.question,
            answer=it.answer or "(chưa trả lời)",
            decision=_decision(by_code.get(it.criterion_code)),
        )
        for r in sheet.rounds
        for it in r.items
    ]
    proposed = _band_label(fw, cu.proposed_class) or _natural_band(fw, self_scores.total)
    return UnitReport(
        cycle_title=cycle.title,
        year=cycle.year,
        unit_name=unit.name,
        unit_code=unit.code,
        recipient=fw.issuer or "Hội đồng thẩm định",
        header=header,
        areas=_areas(fw, self_scores),
        rows=rows,
        self_total=num(self_scores.total),
        appraised_total=num(appraised.total),
        max_total=num(self_scores.max_total),
        proposed_class=proposed,
        final_class=_band_label(fw, cu.classification) or _natural_band(fw, appraised.total),
        rounds=rounds,
        changed_count=sum(1 for r in rows if r.changed),
    )
