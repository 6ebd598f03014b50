"""What a coordinator does to a whole cycle: start it, extend deadlines, close the appraisal,
classify, publish, cancel — and which cycles a person takes part in.

Commands go to the cycle's workflow as updates through ``actions.bridge``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from actions import bridge
from contracts.messages import (
    CancelCommand,
    ClassifyCommand,
    CloseAppraisalCommand,
    CycleCommand,
    CycleStatus,
    ExtendCommand,
    PublishCommand,
)
from models.labels import UNIT_STATE_VI
from models.tables import Cycle, CycleUnit, UnitState
from services.accounts import Principal
from services.classification import classification_preview
from services.cycles import CycleSpec, create_cycle, cycle_units

__all__ = [
    "ExtendResult",
    "UnitDeadline",
    "cancel",
    "classify",
    "classify_preview",
    "close_appraisal",
    "create",
    "extend",
    "publish",
    "send",
    "start",
    "unit_deadlines",
    "visible_cycles",
]


def visible_cycles(session: Session, principal: Principal) -> list[Cycle]:
    """The cycles the person takes part in (all of them for coordinators, viewers, council)."""
    query = select(Cycle).order_by(col(Cycle.year).desc(), col(Cycle.id))
    if not (principal.is_global or principal.agencies):
        mine = list(principal.units())
        query = query.where(
            col(Cycle.id).in_(select(CycleUnit.cycle_id).where(col(CycleUnit.unit_id).in_(mine)))
        )
    return list(session.exec(query).all())


def create(*, session: Session, principal: Principal, spec: CycleSpec) -> Cycle:
    """Creates a draft cycle with its units and timeline (audited; a published framework)."""
    return create_cycle(session, spec=spec, actor=principal.username)


async def start(*, client: Client, engine: Engine, task_queue: str, cycle_id: str) -> int:
    """Starts one workflow per unit (safe to retry: business-key ids, no twins)."""
    return await bridge.start_cycle(
        client=client, engine=engine, task_queue=task_queue, cycle_id=cycle_id
    )


async def send(
    *, client: Client, cycle_id: str, command: CycleCommand, key: str | None = None
) -> CycleStatus:
    """Sends ``command`` to the cycle's workflow (``key``: the idempotency key)."""
    return await bridge.cycle_command(client=client, cycle_id=cycle_id, command=command, key=key)


class UnitDeadline(BaseModel):
    """One unit's deadlines after an extension (read back from the projection)."""

    code: str
    name: str
    state: UnitState
    state_label: str
    submission_deadline: datetime
    hard_lock_at: datetime


class ExtendResult(CycleStatus):
    """The cycle's status after an extension, and each unit's new deadlines."""

    units: tuple[UnitDeadline, ...] = ()


def unit_deadlines(
    session: Session, cycle_id: str, codes: Sequence[str] | None
) -> tuple[UnitDeadline, ...]:
    """The deadlines of the units named (all of the cycle's for None), by unit code."""
    wanted = None if codes is None else set(codes)
    return tuple(
        UnitDeadline(
            code=unit.code,
            name=unit.name,
            state=UnitState(cu.state),
            state_label=UNIT_STATE_VI[UnitState(cu.state)],
            submission_deadline=cu.submission_deadline,
            hard_lock_at=cu.hard_lock_at,
        )
        for cu, unit in cycle_units(session, cycle_id)
        if wanted is None or unit.code in wanted
    )


async def extend(
    *,
    client: Client,
    engine: Engine,
    principal: Principal,
    cycle_id: str,
    units: Sequence[str] | None,
    submission_deadline: datetime | None,
    hard_lock_at: datetime | None,
    reason: str = "",
    key: str | None = None,
) -> ExtendResult:
    """Extends the submission deadline and/or the hard lock, for every unit or some.

    The answer carries each unit's deadlines as the units' workflows wrote them back, so the
    caller sees what moved (the cycle's own deadlines move only when every unit is extended).
    """
    command = ExtendCommand(
        actor=principal.username,
        units=tuple(units) if units is not None else None,
        submission_deadline=submission_deadline,
        hard_lock_at=hard_lock_at,
        reason=reason,
    )
    status = await send(client=client, cycle_id=cycle_id, command=command, key=key)
    with Session(engine) as session:
        moved = unit_deadlines(session, cycle_id, units)
    return ExtendResult(**status.model_dump(), units=moved)


async def close_appraisal(
    *, client: Client, principal: Principal, cycle_id: str, key: str | None = None
) -> CycleStatus:
    """Closes the appraisal: every unit still under appraisal is finalised."""
    command = CloseAppraisalCommand(actor=principal.username)
    return await send(client=client, cycle_id=cycle_id, command=command, key=key)


async def classify(
    *, client: Client, principal: Principal, cycle_id: str, key: str | None = None
) -> CycleStatus:
    """Computes totals, bands, quotas and ranks per group."""
    command = ClassifyCommand(actor=principal.username)
    return await send(client=client, cycle_id=cycle_id, command=command, key=key)


def classify_preview(*, session: Session, cycle_id: str) -> list[dict[str, Any]]:
    """What "Xếp loại" would give now, per unit — total, band, rank, whether the quota moved it
    down, and why (``services.classification``; nothing is written)."""
    return classification_preview(session, cycle_id=cycle_id)


async def publish(
    *, client: Client, principal: Principal, cycle_id: str, key: str | None = None
) -> CycleStatus:
    """Publishes the results: everyone is told; the follow-up deadlines start."""
    command = PublishCommand(actor=principal.username)
    return await send(client=client, cycle_id=cycle_id, command=command, key=key)


async def cancel(
    *, client: Client, principal: Principal, cycle_id: str, reason: str, key: str | None = None
) -> CycleStatus:
    """Cancels the whole cycle, with a reason."""
    command = CancelCommand(actor=principal.username, reason=reason)
    return await send(client=client, cycle_id=cycle_id, command=command, key=key)
