"""What a person should see before a decision they cannot take back: submitting a unit's sheet,
finalising its appraisal.

``submit_check`` lists the unfinished criteria, the criteria scored without any evidence, the
evidence warnings, the self-assessed total and the class that total would earn; the office
decides (the submit still runs, and its answer carries the same list). ``finalise_check`` lists
the appraising agencies that have not appraised all their criteria; finalising while some are
missing needs an explicit override, recorded in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from actions.common import UnitRef
from models.framework import DerivedRule
from models.tables import Cycle, CycleUnit, Unit
from services.evidence import check_evidence
from services.sheet import LoadedSheet, load_sheet, score_entries, sheet_progress
from services.sheet.progress import finished

__all__ = [
    "AgencyWaiting",
    "CriterionWarning",
    "FinaliseCheck",
    "SubmitCheck",
    "finalise_check",
    "finalise_check_of",
    "load_unit_sheet",
    "submit_check",
    "submit_check_of",
]


class CriterionWarning(BaseModel):
    """One criterion the office should look at before submitting, and why."""

    code: str
    title: str
    message: str = Field(description="Cảnh báo (tiếng Việt)")


class SubmitCheck(BaseModel):
    """What the office confirms when it submits: what is missing, the total, the class."""

    unfinished: list[CriterionWarning] = Field(
        default_factory=list, description="Tiêu chí chưa chấm điểm hoặc chưa giải trình"
    )
    without_evidence: list[CriterionWarning] = Field(
        default_factory=list, description="Tiêu chí đã chấm nhưng chưa có tài liệu kiểm chứng"
    )
    evidence_warnings: list[CriterionWarning] = Field(
        default_factory=list, description="Cảnh báo về tài liệu kiểm chứng"
    )
    finished: int = 0
    total_criteria: int = 0
    self_total: Decimal = Decimal(0)
    max_total: Decimal = Decimal(0)
    proposed_class: str | None = Field(default=None, description="Xếp loại theo tổng điểm")
    proposed_class_label: str = ""

    @property
    def warnings(self) -> int:
        """How many lines the office is asked to look at."""
        return len(self.unfinished) + len(self.without_evidence) + len(self.evidence_warnings)


@dataclass(frozen=True)
class AgencyWaiting:
    """An appraising agency and its criteria of this unit not appraised yet."""

    agency: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class FinaliseCheck:
    """The agencies that have not finished appraising the unit (empty: ready)."""

    waiting: tuple[AgencyWaiting, ...] = field(default_factory=tuple)

    @property
    def ready(self) -> bool:
        """Every agency has appraised all its criteria."""
        return not self.waiting

    @property
    def agencies(self) -> list[str]:
        """The names of the agencies still waiting."""
        return [w.agency for w in self.waiting]


def load_unit_sheet(session: Session, unit: UnitRef, *, staff: bool = True) -> LoadedSheet:
    """The unit's whole sheet (one reader, a fixed number of queries); ``staff=False``: without
    assignments and rounds (``load_sheet``)."""
    cycle = session.get(Cycle, unit.cycle_id)
    found = session.get(Unit, unit.unit_id)
    assert cycle is not None and found is not None  # the caller's access rule found both
    cu = session.exec(
        select(CycleUnit).where(
            CycleUnit.cycle_id == unit.cycle_id, CycleUnit.unit_id == unit.unit_id
        )
    ).one()
    return load_sheet(session, cycle=cycle, unit=found, cu=cu, staff=staff)


def submit_check_of(session: Session, sheet: LoadedSheet) -> SubmitCheck:
    """The submit check of a loaded sheet (evidence checks read the database); it uses only the
    framework, entries and evidence, so a sheet loaded without staff gives the same check."""
    framework = sheet.framework
    progress = sheet_progress(sheet)
    scored = score_entries(framework, sheet.entries.values(), appraised=False)
    out = SubmitCheck(
        finished=progress.finished,
        total_criteria=progress.total,
        self_total=scored.total,
        max_total=scored.max_total,
    )
    for node in framework.leaves():
        if isinstance(node.rule, DerivedRule):
            continue  # supplied by the system or the council, nothing for the unit to do
        entry = sheet.entries.get(node.code)
        if not finished(node, entry):
            why = (
                "Chưa chấm điểm."
                if entry is None or entry.self_score is None
                else ("Chưa giải trình.")
            )
            out.unfinished.append(_warn(node.code, node.title, why))
            continue
        documents = sheet.evidence.get(node.code, ())
        if not documents and not scored.node(node.code).excluded:
            out.without_evidence.append(
                _warn(node.code, node.title, "Chưa có tài liệu kiểm chứng.")
            )
        for doc in documents:
            for check in check_evidence(session, doc, data_cutoff_at=sheet.cycle.data_cutoff_at):
                out.evidence_warnings.append(
                    _warn(node.code, node.title, f"“{doc.filename}”: {check.message}")
                )
    if framework.classification is not None and framework.classification.bands:
        bands = sorted(framework.classification.bands, key=lambda b: b.min_total, reverse=True)
        band = next((b for b in bands if scored.total >= b.min_total), bands[-1])
        out.proposed_class, out.proposed_class_label = band.key, band.label
    return out


def _warn(code: str, title: str, message: str) -> CriterionWarning:
    return CriterionWarning(code=code, title=title, message=message)


def submit_check(session: Session, *, unit: UnitRef) -> SubmitCheck:
    """What the office should look at before submitting the unit's sheet (it reads neither the
    assignments nor the rounds: a submit runs it before freezing the sheet)."""
    return submit_check_of(session, load_unit_sheet(session, unit, staff=False))


def finalise_check_of(sheet: LoadedSheet) -> FinaliseCheck:
    """The agencies of a loaded sheet with criteria not appraised yet."""
    waiting: dict[str, list[str]] = {}
    for node in sheet.framework.leaves():
        if not node.agency:
            continue
        entry = sheet.entries.get(node.code)
        if entry is None or (not entry.appraised_inputs and entry.appraised_score is None):
            waiting.setdefault(node.agency, []).append(node.code)
    return FinaliseCheck(
        waiting=tuple(AgencyWaiting(agency=a, codes=tuple(c)) for a, c in waiting.items())
    )


def finalise_check(session: Session, *, unit: UnitRef) -> FinaliseCheck:
    """The agencies that have not appraised all their criteria of the unit."""
    return finalise_check_of(load_unit_sheet(session, unit))
