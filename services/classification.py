"""Classification of a cycle's units (xếp loại): the preview, the decisions it depends on (a
quota exception's decision number, a veto) and the recorded result.

The rules are scoring.classification's (docs/regulation.md names their articles); this module
reads the units' appraised sheets and the recorded decisions, and writes the projection and the
audit trail.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from core.errors import Conflict, Invalid, NotFound
from models.states import CLASSIFIABLE
from models.tables import CycleState, CycleUnit, Entry, Unit, UnitState
from scoring.classification import UnitClassification, UnitTotal, classify
from services import audit
from services.cycles import cycle_units, get_cycle
from services.sheet import framework_for, score_entries

__all__ = ["classification_preview", "record_classification", "set_classification_decision"]


def _err(code: str, vi: str, en: str, field: str = "") -> Conflict:
    return Conflict(code, vi, en, field=field)


# A decision number as written on Vietnamese decisions: "125/QĐ-UBND", "08/2026/QĐ-UBND".
_DECISION_RE = re.compile(r"^[0-9]{1,6}(/[0-9]{4})?/[^\s/][^\s]{0,56}$")


def _classification(
    session: Session, cycle_id: str
) -> tuple[list[tuple[CycleUnit, Unit]], list[UnitClassification]]:
    """Every classifiable unit and its classification (nothing written)."""
    cycle = get_cycle(session, cycle_id)
    framework = framework_for(session, cycle)
    scheme = framework.classification
    if scheme is None:
        raise _err(
            "no_classification_scheme",
            "Bộ tiêu chí chưa quy định mức xếp loại.",
            "The framework has no classification scheme.",
        )
    rows = cycle_units(session, cycle_id)
    eligible = [(cu, u) for cu, u in rows if UnitState(cu.state) in CLASSIFIABLE]
    totals = []
    for cu, unit in eligible:
        vetoes = (cu.veto,) if cu.veto else ()
        if cu.submitted_at is None and UnitState(cu.state) is UnitState.not_submitted:
            totals.append(
                UnitTotal(
                    unit_id=unit.code,
                    total=Decimal(0),
                    group=cu.group,
                    unit_code=unit.code,
                    vetoes=vetoes,
                )
            )
            continue
        entries = session.exec(
            select(Entry).where(Entry.cycle_id == cycle_id, Entry.unit_id == unit.id)
        ).all()
        sheet = score_entries(framework, entries, appraised=True)
        total = UnitTotal.from_sheet(sheet, unit_id=unit.code, group=cu.group, unit_code=unit.code)
        totals.append(total.model_copy(update={"vetoes": vetoes}))
    exceptions = {u.code: cu.quota_exception for cu, u in eligible if cu.quota_exception}
    return eligible, classify(scheme, totals, exceptions=exceptions)


def classification_preview(session: Session, *, cycle_id: str) -> list[dict[str, Any]]:
    """What classifying now would give, per unit: the band of the score alone, the final band,
    whether the quota moved the unit down or a veto forced it, and every reason (nothing is
    written)."""
    _eligible, results = _classification(session, cycle_id)
    return [
        {
            "unit": r.unit_id,
            "group": r.group,
            "total": str(r.total),
            "measure": str(r.measure),
            "natural_band": r.natural_band_key,
            "band": r.band_key,
            "band_label": r.band_label,
            "rank": r.rank,
            "quota_demoted": r.quota_demoted,
            "quota_exception": r.quota_exception,
            "vetoed": r.vetoed,
            "reasons": list(r.reasons),
        }
        for r in results
    ]


def set_classification_decision(
    session: Session,
    *,
    cycle_id: str,
    unit_id: int,
    quota_exception: str | None,
    veto: str | None,
    actor: str,
    at: datetime,
) -> dict[str, str | None]:
    """Records (audited) the competent level's decision letting a unit keep the top band outside
    the quota (its number), and/or a condition forcing "Không hoàn thành nhiệm vụ"; None clears.
    Refused once the results are published."""
    cycle = get_cycle(session, cycle_id)
    if CycleState(cycle.state) in (CycleState.published, CycleState.cancelled):
        raise _err(
            "cycle_published",
            "Kỳ đánh giá đã công bố kết quả hoặc đã hủy, không thể thay đổi căn cứ xếp loại.",
            "The cycle is published or cancelled; classification decisions are frozen.",
        )
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == unit_id)
    ).first()
    if cu is None:
        raise NotFound(
            "unknown_unit", "Đơn vị không thuộc kỳ đánh giá.", "No such unit in the cycle."
        )
    number = (quota_exception or "").strip() or None
    if number is not None and not _DECISION_RE.match(number):
        raise Invalid(
            "invalid_decision_number",
            f"Số quyết định “{number}” không đúng dạng (ví dụ: 125/QĐ-UBND).",
            "The decision number is not of the form 125/QĐ-UBND.",
            "quota_exception",
        )
    reason = (veto or "").strip() or None
    before = {"quota_exception": cu.quota_exception, "veto": cu.veto}
    cu.quota_exception, cu.veto, cu.updated_at = number, reason, at
    session.add(cu)
    after = {"quota_exception": number, "veto": reason}
    audit.record(
        session,
        actor=actor,
        entity="classification",
        action="decision",
        entity_key=str(unit_id),
        cycle_id=cycle_id,
        unit_id=unit_id,
        before=before,
        after=after,
    )
    session.flush()
    return after


def record_classification(
    session: Session, *, cycle_id: str, actor: str, at: datetime, request_key: str
) -> dict[str, dict[str, Any]]:
    """Totals, bands, quota and ranks per group for every finalised or not-submitted unit.

    A unit that submitted nothing is classified on a total of 0 (it ranks last of its group).
    Returns ``{unit_code: {"total", "band", "band_label", "rank", "group"}}`` and writes the
    projection (final total, classification, rank) with one audit row per unit.
    """
    eligible, results = _classification(session, cycle_id)
    out: dict[str, dict[str, Any]] = {}
    by_code = {u.code: cu for cu, u in eligible}
    for r in results:
        cu = by_code[r.unit_id]
        before = {"classification": cu.classification, "rank": cu.rank}
        cu.final_total = r.total
        cu.classification = r.band_key
        cu.rank = r.rank
        cu.updated_at = at
        session.add(cu)
        out[r.unit_id] = {
            "total": str(r.total),
            "band": r.band_key,
            "band_label": r.band_label,
            "rank": r.rank,
            "group": r.group,
            "reasons": list(r.reasons),
            "quota_demoted": r.quota_demoted,
            "quota_exception": r.quota_exception,
        }
        audit.record(
            session,
            actor=actor,
            entity="classification",
            action="classify",
            entity_key=r.unit_id,
            cycle_id=cycle_id,
            unit_id=cu.unit_id,
            before=before,
            after=out[r.unit_id],
            request_key=f"{request_key}/{r.unit_id}",
        )
    session.flush()
    return out
