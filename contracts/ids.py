"""Workflow ids and idempotency keys: the business keys both sides of Temporal compute alike.

A workflow id is the business key of its process (one cycle, one unit in a cycle: never twins);
an idempotency key names one change so a retried activity (or a replayed workflow) changes
nothing twice. Pure functions of their arguments, safe in the workflow sandbox.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "CYCLE_WORKFLOW",
    "KEY_LENGTH",
    "UNIT_WORKFLOW",
    "bounded_key",
    "cycle_workflow_id",
    "request_key",
    "unit_workflow_id",
]

# The recorded workflow type names (the histories hold them).
CYCLE_WORKFLOW = "CycleWorkflow"
UNIT_WORKFLOW = "UnitWorkflow"

KEY_LENGTH = 200  # the audit log's ``request_key`` column (models.tables.AuditLog)


def cycle_workflow_id(cycle_id: str) -> str:
    """The business key of a cycle's workflow."""
    return f"cycle-{cycle_id}"


def unit_workflow_id(cycle_id: str, unit_code: str) -> str:
    """The business key of a unit's workflow: one per unit and cycle, never twins."""
    return f"cycle-{cycle_id}/unit-{unit_code}"


def bounded_key(key: str) -> str:
    """A key that fits the column: a long one keeps its start and ends with a hash of it all."""
    if len(key) <= KEY_LENGTH:
        return key
    return key[:150] + "#" + hashlib.sha256(key.encode()).hexdigest()[:40]


def request_key(*parts: str) -> str:
    """An idempotency key made of its parts, bounded to fit the audit column."""
    return bounded_key("/".join(parts))
