"""What a coordinator does to a whole cycle: start it, extend deadlines, close the appraisal,
classify, publish, cancel — and which cycles a person takes part in.

Commands go to the cycle's workflow as updates through ``actions.bridge``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
from models.tables import Cycle, CycleUnit
from services.accounts import Principal

__all__ = [
    "cancel",
    "classify",
    "close_appraisal",
    "extend",
    "publish",
    "send",
    "start",
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


async def extend(
    *,
    client: Client,
    principal: Principal,
    cycle_id: str,
    units: Sequence[str] | None,
    submission_deadline: datetime | None,
    hard_lock_at: datetime | None,
    reason: str = "",
    key: str | None = None,
) -> CycleStatus:
    """Extends the submission deadline and/or the hard lock, for every unit or some."""
    command = ExtendCommand(
        actor=principal.username,
        units=tuple(units) if units is not None else None,
        submission_deadline=submission_deadline,
        hard_lock_at=hard_lock_at,
        reason=reason,
    )
    return await send(client=client, cycle_id=cycle_id, command=command, key=key)


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
