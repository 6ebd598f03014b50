"""The builders of the notices about a whole cycle (not one unit).

The council's appraisal reminder goes to each council member (``RoleGrant.agency``) whose
agencies still have leaf criteria (``Node.agency``) without an appraised score in units under
appraisal (``models.states.UNDER_APPRAISAL``): one digest listing them per unit. Nobody with
nothing pending, and nobody at all once the cycle is no longer running.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from contracts.messages import NoticeKind
from models.framework import Node
from models.labels import UNIT_STATE_VI
from models.states import UNDER_APPRAISAL
from models.tables import CycleState, CycleUnit, Entry, Role, Unit, UnitState
from services.cycles import missed_units
from services.notices.recipients import council_agencies, dedupe, person, role_recipients
from services.notices.registry import CycleScope, Notice, band_labels, cycle_notice, link
from services.sheet import framework_for

__all__ = ["appraisal_reminder", "missed", "results_published"]


def _pending(
    s: CycleScope,
    units: list[tuple[CycleUnit, Unit]],
    mine: list[Node],
    appraised: set[tuple[int, str]],
) -> list[dict[str, Any]]:
    """Per unit, the criteria among ``mine`` that still have no appraised score."""
    pending = []
    for cu, unit in units:
        criteria = [
            {"code": n.code, "title": n.title}
            for n in mine
            if (cu.unit_id, n.code) not in appraised
        ]
        if criteria:
            pending.append(
                {
                    "code": unit.code,
                    "name": unit.name,
                    "state": UNIT_STATE_VI[UnitState(cu.state)],
                    "link": link(s.base_url, s.cycle.id, unit.code),
                    "criteria": criteria,
                }
            )
    return pending


@cycle_notice(NoticeKind.appraisal_reminder)
def appraisal_reminder(s: CycleScope) -> list[Notice]:
    """One digest per council member: their agencies' unappraised criteria, per unit."""
    session, cycle = s.session, s.cycle
    if CycleState(cycle.state) is not CycleState.running:
        return []  # the appraisal is closed (or the cycle cancelled): nothing to remind
    units = list(
        session.exec(
            select(CycleUnit, Unit)
            .join(Unit, col(Unit.id) == CycleUnit.unit_id)
            .where(CycleUnit.cycle_id == cycle.id, col(CycleUnit.state).in_(UNDER_APPRAISAL))
            .order_by(col(Unit.code))
        ).all()
    )
    if not units:
        return []
    appraised = set(
        session.exec(
            select(Entry.unit_id, Entry.criterion_code).where(
                Entry.cycle_id == cycle.id,
                col(Entry.unit_id).in_([cu.unit_id for cu, _ in units]),
                col(Entry.appraised_score).is_not(None),
            )
        ).all()
    )
    leaves = [n for n in framework_for(session, cycle).leaves() if n.agency]
    notices = []
    for user, agencies in council_agencies(session).values():
        recipient = person(user, "council")
        if recipient is None:
            continue
        pending = _pending(s, units, [n for n in leaves if n.agency in agencies], appraised)
        if pending:
            notices += s.to(
                [recipient],
                deadline_label="hạn thẩm định",
                agencies=sorted(agencies),
                units=pending,
            )
    return notices


@cycle_notice(NoticeKind.missed)
def missed(s: CycleScope) -> list[Notice]:
    """The coordinators: the units that missed a deadline (none missed: no digest)."""
    req = s.req
    assert req.deadline_kind is not None and req.deadline is not None
    units = missed_units(
        s.session, cycle_id=s.cycle.id, kind=req.deadline_kind, deadline=req.deadline
    )
    if not units:
        return []
    return s.to(
        role_recipients(s.session, Role.coordinator),
        units=[{"code": m.code, "name": m.name, "state": UNIT_STATE_VI[m.state]} for m in units],
        link=link(s.base_url, s.cycle.id),
    )


@cycle_notice(NoticeKind.results_published)
def results_published(s: CycleScope) -> list[Notice]:
    """The coordinators and the council: every unit's total, band and rank (not the cancelled)."""
    session, cycle = s.session, s.cycle
    rows = session.exec(
        select(CycleUnit, Unit)
        .join(Unit, col(Unit.id) == CycleUnit.unit_id)
        .where(CycleUnit.cycle_id == cycle.id)
        .order_by(col(CycleUnit.group), col(CycleUnit.rank), col(Unit.code))
    ).all()
    labels = band_labels(framework_for(session, cycle))
    units = [
        {
            "code": u.code,
            "name": u.name,
            "group": cu.group,
            "total": cu.final_total,
            "band": labels.get(cu.classification or "", cu.classification or ""),
            "rank": cu.rank,
        }
        for cu, u in rows
        if UnitState(cu.state) is not UnitState.cancelled
    ]
    recipients = dedupe(
        [*role_recipients(session, Role.coordinator), *role_recipients(session, Role.council)]
    )
    return s.to(recipients, units=units, link=link(s.base_url, cycle.id) + "/results")
