"""The append-only audit trail: every change of a score, input, state or deadline writes a row."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from contracts.ids import bounded_key
from models.tables import AuditLog


def record(
    session: Session,
    *,
    actor: str,
    entity: str,
    action: str,
    entity_key: str = "",
    cycle_id: str | None = None,
    unit_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request_key: str | None = None,
) -> AuditLog:
    """Adds an audit row in the caller's transaction; with a request_key, only once per key."""
    if request_key is not None:
        request_key = bounded_key(request_key)
        existing = session.exec(select(AuditLog).where(AuditLog.request_key == request_key)).first()
        if existing is not None:
            return existing
    row = AuditLog(
        actor=actor,
        entity=entity,
        action=action,
        entity_key=entity_key,
        cycle_id=cycle_id,
        unit_id=unit_id,
        before=before,
        after=after,
        request_key=request_key,
    )
    session.add(row)
    session.flush()
    return row
