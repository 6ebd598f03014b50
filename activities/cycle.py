"""Activities of the cycle workflow: start the unit workflows, fan commands out, cycle-wide steps.

Unit workflows stay open for months, so the cycle does not hold them as children (a parent may
have at most 2,000 unfinished children): ``start_units`` starts them as independent workflows
with business-key ids, in batches, heartbeating every few seconds and resuming from its last
heartbeat after a crash; a unit that is already started is fine (no twins:
``REJECT_DUPLICATE``). ``fan_out`` sends one command to many units as updates whose ids are
derived from the cycle's own update, so a retried fan-out is deduplicated by Temporal and no
unit sees a command twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.common import heartbeating, refusal
from contracts import search_attributes as sa
from contracts.activities import (
    CYCLE_FAN_OUT,
    CYCLE_START_UNITS,
    CYCLE_STEP,
    CycleActivitiesInterface,
)
from contracts.ids import UNIT_WORKFLOW, unit_workflow_id
from contracts.messages import (
    ClassifyCommand,
    CloseAppraisalCommand,
    CycleStepArgs,
    CycleStepResult,
    ExtendCommand,
    FanOutArgs,
    FanOutResult,
    StartUnitsArgs,
    UnitInput,
    UnitStatus,
)
from core.db import session_scope
from core.errors import Conflict, Refusal
from models.tables import CycleUnit, Unit, UnitState
from services.cycles import (
    classify_cycle,
    extend_cycle,
    pending_units,
    set_cycle_state,
    unit_inputs,
)

__all__ = ["CycleActivities"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


async def _bounded(
    items: Sequence[_T], limit: int, fn: Callable[[_T], Awaitable[str | None]]
) -> list[str | None]:
    sem = asyncio.Semaphore(limit)

    async def one(item: _T) -> str | None:
        async with sem:
            return await fn(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


class CycleActivities(CycleActivitiesInterface):
    """Cycle-wide work (injected engine and Temporal client)."""

    def __init__(self, engine: Engine, client: Client, *, concurrency: int = 20) -> None:
        self.engine = engine
        self.client = client
        self.concurrency = concurrency

    # --- starting ----------------------------------------------------------------------------

    async def _start_one(self, unit: UnitInput, task_queue: str) -> str | None:
        attrs = None
        if unit.search_attributes:
            attrs = TypedSearchAttributes(
                [
                    SearchAttributePair(sa.YEAR, unit.year),
                    SearchAttributePair(sa.CYCLE, unit.cycle_id),
                    SearchAttributePair(sa.UNIT, unit.unit_code),
                    SearchAttributePair(sa.STATE, UnitState.assigning.value),
                ]
            )
        try:
            await self.client.start_workflow(
                UNIT_WORKFLOW,
                unit,
                id=unit_workflow_id(unit.cycle_id, unit.unit_code),
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=attrs,
                static_summary=f"{unit.unit_name or unit.unit_code} — kỳ đánh giá {unit.cycle_id}",
            )
        except WorkflowAlreadyStartedError:
            return None  # started by an earlier attempt: exactly what we want
        return unit.unit_code

    @activity.defn(name=CYCLE_START_UNITS)
    async def start_units(self, args: StartUnitsArgs) -> int:
        """Starts every unit workflow of the cycle in batches; returns how many units it has."""

        def load() -> list[UnitInput]:
            with session_scope(self.engine) as session:
                return unit_inputs(session, args.cycle_id, search_attributes=args.search_attributes)

        units = await asyncio.to_thread(load)
        details = activity.info().heartbeat_details
        start = int(details[0]) if details else 0
        done = start  # every unit before this one is started: where a retry resumes
        async with heartbeating(lambda: (done,)):
            for i in range(start, len(units), args.batch_size):
                batch = units[i : i + args.batch_size]
                await _bounded(
                    batch, self.concurrency, lambda u: self._start_one(u, args.task_queue)
                )
                done = i + len(batch)
                activity.heartbeat(done)
        return len(units)

    # --- fan-out -----------------------------------------------------------------------------

    async def _send(self, args: FanOutArgs, code: str) -> str | None:
        handle = self.client.get_workflow_handle(unit_workflow_id(args.cycle_id, code))
        try:
            await handle.execute_update(
                args.command.kind,
                args.command,
                id=f"{args.update_id}/{code}",
                result_type=UnitStatus,
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
            return f"{code}: {reason}"
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                return f"{code}: {exc.message}"
            raise
        return None

    @activity.defn(name=CYCLE_FAN_OUT)
    async def fan_out(self, args: FanOutArgs) -> FanOutResult:
        """Sends the command to the units (all, or those listed, in the given states)."""

        def load() -> list[str]:
            with session_scope(self.engine) as session:
                query = (
                    select(Unit.code, CycleUnit.state)
                    .join(CycleUnit, col(CycleUnit.unit_id) == Unit.id)
                    .where(CycleUnit.cycle_id == args.cycle_id)
                    .order_by(col(Unit.code))
                )
                rows = session.exec(query).all()
            wanted = set(args.units) if args.units is not None else None
            states = set(args.only_states)
            return [
                code
                for code, state in rows
                if (wanted is None or code in wanted) and (not states or UnitState(state) in states)
            ]

        codes = await asyncio.to_thread(load)
        details = activity.info().heartbeat_details
        start = int(details[0]) if details else 0
        skipped: list[str] = list(details[1]) if len(details) > 1 else []
        done = start  # every unit before this one has the command: where a retry resumes
        async with heartbeating(lambda: (done, skipped)):
            for i in range(start, len(codes), args.batch_size):
                batch = codes[i : i + args.batch_size]
                results = await _bounded(batch, self.concurrency, lambda c: self._send(args, c))
                skipped.extend(r for r in results if r is not None)
                done = i + len(batch)
                activity.heartbeat(done, skipped)
        if skipped:
            log.info("fan-out %s skipped %d unit(s): %s", args.update_id, len(skipped), skipped)
        return FanOutResult(reached=len(codes) - len(skipped), skipped=tuple(skipped))

    # --- cycle-wide steps in the database ----------------------------------------------------

    def _step(self, args: CycleStepArgs) -> CycleStepResult:
        cmd = args.command
        with session_scope(self.engine, write=True) as session:
            if isinstance(cmd, ExtendCommand):
                units = extend_cycle(
                    session,
                    cycle_id=args.cycle_id,
                    command=cmd,
                    at=args.at,
                    request_key=args.request_key,
                )
                return CycleStepResult(units=tuple(units))
            if isinstance(cmd, CloseAppraisalCommand):
                pending = pending_units(session, cycle_id=args.cycle_id, at=args.at)
                if pending:
                    raise Conflict(
                        "units_pending",
                        "Chưa thể kết thúc thẩm định: đơn vị chưa gửi kết quả và chưa đến thời "
                        f"điểm khóa: {', '.join(pending)}.",
                        "Appraisal cannot close: units have not submitted and their hard lock "
                        f"is still ahead: {', '.join(pending)}.",
                    )
                return CycleStepResult()
            if isinstance(cmd, ClassifyCommand):
                out = classify_cycle(
                    session,
                    cycle_id=args.cycle_id,
                    actor=args.actor,
                    at=args.at,
                    request_key=args.request_key,
                )
                return CycleStepResult(
                    units=tuple(out), classification={c: r["band"] for c, r in out.items()}
                )
            if args.to_state is not None:
                set_cycle_state(
                    session,
                    cycle_id=args.cycle_id,
                    state=args.to_state,
                    actor=args.actor,
                    at=args.at,
                    request_key=args.request_key,
                    reason=args.reason,
                )
                return CycleStepResult()
        raise ValueError(f"cycle step without a command or state: {args}")

    @activity.defn(name=CYCLE_STEP)
    async def step(self, args: CycleStepArgs) -> CycleStepResult:
        """Commits one cycle-wide change (idempotent by request key)."""
        try:
            return await asyncio.to_thread(self._step, args)
        except Refusal as err:
            raise refusal(err) from err
