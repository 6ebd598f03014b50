"""Snapshots: the sheet frozen as canonical JSON (scores, inputs, explanations, evidence hashes).

The content and its hash must stay byte-identical for the same data: committed histories and
stored snapshots compare hashes, so a field, a key or an ordering here never changes lightly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from models.framework import Node
from models.tables import Cycle, CycleUnit, Entry, Evidence, Unit
from services.sheet.loader import LoadedRound, LoadedSheet, load_sheet
from services.sheet.scores import score_entries

__all__ = ["build_snapshot", "canonical_hash", "snapshot_content"]


def canonical_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dec(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _ts(d: datetime | None) -> str | None:
    return None if d is None else d.isoformat()


def _evidence(rows: tuple[Evidence, ...]) -> list[dict[str, Any]]:
    # By file hash (hex digits: the same order in Python as in any database collation).
    return [
        {
            "sha256": ev.sha256,
            "filename": ev.filename,
            "size": ev.size,
            "doc_number": ev.doc_number,
            "doc_date": _ts(ev.doc_date),
            "issuer": ev.issuer,
            "signed": ev.signed,
        }
        for ev in sorted(rows, key=lambda ev: ev.sha256)
    ]


def _entry_row(
    node: Node, e: Entry | None, assigned: list[str], evidence: list[dict[str, Any]]
) -> dict[str, Any]:
    if e is None:
        return {
            "code": node.code,
            "assigned": assigned,
            "inputs": {},
            "self_score": None,
            "self_reason": "",
            "explanation": "",
            "appraised_inputs": None,
            "appraised_score": None,
            "appraisal_comment": "",
            "evidence": evidence,
        }
    return {
        "code": node.code,
        "assigned": assigned,
        "inputs": e.inputs,
        "self_score": _dec(e.self_score),
        "self_reason": e.self_reason,
        "explanation": e.explanation,
        "appraised_inputs": e.appraised_inputs,
        "appraised_score": _dec(e.appraised_score),
        "appraisal_comment": e.appraisal_comment,
        "evidence": evidence,
    }


def _round(r: LoadedRound) -> dict[str, Any]:
    return {
        "round_no": r.request.round_no,
        "deadline": _ts(r.request.deadline),
        "items": [
            {
                "code": it.criterion_code,
                "question": it.question,
                "answer": it.answer,
                "answered_at": _ts(it.answered_at),
                "answered_by": it.answered_by,
            }
            for it in r.items
        ],
    }


def snapshot_content(sheet: LoadedSheet, *, kind: str, at: datetime) -> dict[str, Any]:
    """The snapshot of a loaded sheet (no query)."""
    assigned: dict[str, list[str]] = {}
    for a, u in sheet.assignments:  # by username, so each criterion's list is too
        assigned.setdefault(a.criterion_code, []).append(
            u.username + (" (chính)" if a.responsible else "")
        )
    rows = [
        _entry_row(
            node,
            sheet.entries.get(node.code),
            assigned.get(node.code, []),
            _evidence(sheet.evidence.get(node.code, ())),
        )
        for node in sheet.framework.leaves()
    ]
    entries = list(sheet.entries.values())
    self_sheet = score_entries(sheet.framework, entries, appraised=False)
    appraised_sheet = score_entries(sheet.framework, entries, appraised=True)
    cycle, unit, cu = sheet.cycle, sheet.unit, sheet.cu
    return {
        "cycle_id": cycle.id,
        "unit_code": unit.code,
        "unit_name": unit.name,
        "kind": kind,
        "taken_at": at.isoformat(),
        "framework": {"id": cycle.framework_id, "spec_hash": sheet.spec_hash},
        "submitted_at": _ts(cu.submitted_at),
        "days_late": cu.days_late,
        "proposed_class": cu.proposed_class,
        "entries": rows,
        "explanation_rounds": [_round(r) for r in sheet.rounds],
        "totals": {
            "self_total": str(self_sheet.total),
            "appraised_total": str(appraised_sheet.total),
            "max_total": str(self_sheet.max_total),
        },
    }


def build_snapshot(
    session: Session,
    *,
    cycle: Cycle,
    unit: Unit,
    cu: CycleUnit,
    kind: str,
    at: datetime,
) -> tuple[dict[str, Any], str]:
    """The sheet as it is now (scores, inputs, explanations, evidence hashes) and its hash."""
    content = snapshot_content(load_sheet(session, cycle=cycle, unit=unit, cu=cu), kind=kind, at=at)
    return content, canonical_hash(content)
