"""The append-only audit trail: every change of a score, input, state or deadline writes a row.

Tamper-evident: the database refuses UPDATE and DELETE on the table (triggers, migration
0005; the one UPDATE allowed fills in the chain fields of a row not yet sealed), and each row
carries its position in its chain (its cycle; rows of no cycle form one chain of their own), the
hash of the row before it and its own hash over its content and that link. ``verify``
recomputes a chain and names the first row that does not fit: a row changed, removed or
slipped in by someone who got past the triggers shows there.

Rows are sealed into their chain just before their transaction commits (``_seal``, a
``before_commit`` listener), under a per-chain lock taken last (an advisory lock on
PostgreSQL; SQLite's single write lock is already held): writers of one cycle never wait on
each other while still holding other locks, so the chain cannot deadlock a request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import event, func, text
from sqlalchemy import inspect as sa_inspect
from sqlmodel import Session, col, select

from contracts.ids import bounded_key
from models.tables import AuditLog

__all__ = ["GENESIS", "ChainReport", "chains", "record", "row_digest", "verify"]

GENESIS = "0" * 64  # prev_hash of a chain's first row
UNSEALED = "audit_unsealed"  # Session.info key: rows of this transaction still to seal


def row_digest(row: AuditLog, prev_hash: str) -> str:
    """The SHA-256 of a row's content, its chain position and the hash of the row before it."""
    content = {
        "seq": row.chain_seq,
        "prev": prev_hash,
        "at": row.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row.actor,
        "cycle_id": row.cycle_id,
        "unit_id": row.unit_id,
        "entity": row.entity,
        "entity_key": row.entity_key,
        "action": row.action,
        "before": row.before,
        "after": row.after,
        "request_key": row.request_key,
    }
    data = json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _chain(cycle_id: str | None) -> Any:
    return col(AuditLog.cycle_id) == cycle_id if cycle_id else col(AuditLog.cycle_id).is_(None)


def _hold_chain(session: Session, cycle_id: str | None) -> None:
    """Serialises the sealing of one chain until commit (PostgreSQL; SQLite holds its lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"audit:{cycle_id or ''}"}
        )


@event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    """Links the transaction's new rows to the end of their chains, just before commit."""
    rows: list[AuditLog] = session.info.pop(UNSEALED, [])
    if not rows:
        return
    session.flush()
    by_chain: dict[str, list[AuditLog]] = {}
    for row in rows:
        if sa_inspect(row).persistent:  # a row whose insert was rolled back is not sealed
            by_chain.setdefault(row.cycle_id or "", []).append(row)
    for chain in sorted(by_chain):  # one lock order for every writer
        cycle_id = chain or None
        _hold_chain(session, cycle_id)
        last = session.exec(
            select(AuditLog.chain_seq, AuditLog.row_hash)
            .where(_chain(cycle_id), col(AuditLog.chain_seq).is_not(None))
            .order_by(col(AuditLog.chain_seq).desc())
            .limit(1)
        ).first()
        seq, prev = (last[0], last[1]) if last else (0, GENESIS)
        for row in sorted(by_chain[chain], key=lambda r: r.id or 0):
            seq = (seq or 0) + 1
            row.chain_seq = seq
            row.prev_hash = prev or GENESIS
            row.row_hash = row_digest(row, row.prev_hash)
            prev = row.row_hash
            session.add(row)
    session.flush()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(UNSEALED, None)


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
    # JSON as the database gives it back (e.g. tuples become lists), so the hash recomputes.
    row.before = json.loads(json.dumps(before, default=str)) if before is not None else None
    row.after = json.loads(json.dumps(after, default=str)) if after is not None else None
    session.add(row)
    session.flush()
    session.info.setdefault(UNSEALED, []).append(row)
    return row


@dataclass(frozen=True)
class ChainReport:
    """The result of checking one chain: its rows and the first row that breaks it, if any."""

    cycle_id: str | None
    rows: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def verified(self) -> bool:
        """No row breaks the chain."""
        return self.broken_id is None


def verify(session: Session, cycle_id: str | None) -> ChainReport:
    """Recomputes the chain of ``cycle_id`` (None: rows of no cycle) row by row, in order."""
    prev = GENESIS
    count = 0
    query = (
        select(AuditLog)
        .where(_chain(cycle_id))
        .order_by(col(AuditLog.chain_seq).is_(None), col(AuditLog.chain_seq), col(AuditLog.id))
    )
    for row in session.exec(query.execution_options(yield_per=500)):
        count += 1
        assert row.id is not None
        if row.chain_seq != count:
            return ChainReport(cycle_id, count, row.id, "out of place in the chain")
        if row.prev_hash != prev:
            why = "missing hash" if row.prev_hash is None else "does not follow the row before"
            return ChainReport(cycle_id, count, row.id, why)
        if row.row_hash != row_digest(row, prev):
            return ChainReport(cycle_id, count, row.id, "content changed")
        prev = row.row_hash
    return ChainReport(cycle_id, count)


def chains(session: Session) -> list[str | None]:
    """Every chain that has rows: each cycle id, and None for rows of no cycle."""
    rows = session.exec(
        select(AuditLog.cycle_id).group_by(col(AuditLog.cycle_id)).order_by(func.min(AuditLog.id))
    ).all()
    return list(rows)
