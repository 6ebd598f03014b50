"""The council's queue in a cycle: for each of the person's agencies, the units under appraisal
and the agency's criteria of each, the unit's own result beside the appraisal, the explanation
and the evidence; which are still waiting for the agency.

The coordinator appraises on every agency's behalf, so sees every agency's queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session

from models.labels import UNIT_STATE_VI
from models.states import UNDER_APPRAISAL, UnitState
from models.tables import Cycle, Role
from scoring.rules import RuleResult
from services.accounts import Principal
from services.cycles import cycle_units
from services.sheet import leaf_results, load_sheet

__all__ = ["QueueItem", "QueueUnit", "council_queue"]


@dataclass(frozen=True)
class QueueItem:
    """One criterion of an agency for one unit: the self result beside the appraisal."""

    code: str
    title: str
    max_points: Decimal
    self_score: Decimal | None
    self_reason: str
    explanation: str
    evidence: tuple[str, ...]
    appraised_score: Decimal | None
    appraised_reason: str
    comment: str
    waiting: bool
    question: str
    answer: str


@dataclass(frozen=True)
class QueueUnit:
    """A unit under appraisal and one agency's criteria of it."""

    agency: str
    unit_code: str
    unit_name: str
    state: str
    state_label: str
    items: tuple[QueueItem, ...]

    @property
    def waiting(self) -> int:
        """Criteria of the agency not appraised yet."""
        return sum(1 for i in self.items if i.waiting)


def _score(result: RuleResult | Decimal | None) -> tuple[Decimal | None, str]:
    if result is None:
        return None, ""
    if isinstance(result, RuleResult):
        return result.score, result.explanation
    return result, ""


def council_queue(session: Session, *, principal: Principal, cycle: Cycle) -> list[QueueUnit]:
    """Units under appraisal × the person's agencies' criteria, waiting ones first per unit."""
    everyone = principal.has(Role.coordinator)
    agencies = set(principal.agencies)
    out: list[QueueUnit] = []
    for cu, unit in cycle_units(session, cycle.id):
        if UnitState(cu.state) not in UNDER_APPRAISAL:
            continue
        sheet = load_sheet(session, cycle=cycle, unit=unit, cu=cu)
        entries = sheet.entries.values()
        own = leaf_results(sheet.framework, entries, appraised=False)
        council = leaf_results(sheet.framework, entries, appraised=True)
        latest = sheet.rounds[-1].items if sheet.rounds else ()
        asked = {it.criterion_code: it for it in latest}
        by_agency: dict[str, list[QueueItem]] = {}
        for node in sheet.framework.leaves():
            if not node.agency or not (everyone or node.agency in agencies):
                continue
            e = sheet.entries.get(node.code)
            appraised = e is not None and (
                bool(e.appraised_inputs) or e.appraised_score is not None
            )
            self_score, self_reason = _score(own.get(node.code))
            ap_score: Decimal | None = None
            ap_reason = ""
            if appraised:
                ap_score, ap_reason = _score(council.get(node.code))
            item = asked.get(node.code)
            by_agency.setdefault(node.agency, []).append(
                QueueItem(
                    code=node.code,
                    title=node.title,
                    max_points=node.max_points,
                    self_score=self_score,
                    self_reason=self_reason,
                    explanation=e.explanation if e else "",
                    evidence=tuple(ev.filename for ev in sheet.evidence.get(node.code, ())),
                    appraised_score=ap_score,
                    appraised_reason=ap_reason,
                    comment=e.appraisal_comment if e else "",
                    waiting=not appraised,
                    question=item.question if item else "",
                    answer=item.answer if item else "",
                )
            )
        for agency, items in sorted(by_agency.items()):
            out.append(
                QueueUnit(
                    agency=agency,
                    unit_code=unit.code,
                    unit_name=unit.name,
                    state=cu.state,
                    state_label=UNIT_STATE_VI[UnitState(cu.state)],
                    items=tuple(items),
                )
            )
    out.sort(key=lambda q: (q.agency, q.unit_name))
    return out
