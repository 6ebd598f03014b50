"""The one way an action reaches the workflows: commands as Temporal updates, starts as starts.

An idempotency key becomes the update id (``api:<actor>:<key>``), so a retried request (or a
double click on a page) returns the first outcome instead of acting twice. A refusal of the
workflow's validator is a ``core.errors.Refusal`` (``workflows.commands.refusal_of``); Temporal
being unreachable is ``Unavailable`` (503).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.service import RPCError

from contracts.messages import CycleCommand, CycleStatus, UnitCommand, UnitStatus
from core.db import place_lent_async
from core.errors import Unavailable
from workflows import commands

__all__ = ["cycle_command", "start_cycle", "unavailable", "unit_command"]


def unavailable(exc: Exception | None = None) -> Unavailable:
    """Temporal cannot be reached (503)."""
    name = f": {type(exc).__name__}" if exc is not None else ""
    return Unavailable(
        "unavailable",
        f"Không kết nối được máy chủ quy trình (Temporal){name}.",
        f"The workflow server (Temporal) cannot be reached{name}.",
    )


def _update_id(actor: str, key: str | None) -> str | None:
    return f"api:{actor}:{key}" if key else None


async def start_cycle(*, client: Client, engine: Engine, task_queue: str, cycle_id: str) -> int:
    """Starts the cycle's workflows (idempotent: a retried start creates no twins)."""
    try:
        return await commands.start_cycle(client, engine, cycle_id, task_queue=task_queue)
    except RPCError as exc:
        raise unavailable(exc) from exc


async def unit_command(
    *, client: Client, cycle_id: str, unit_code: str, command: UnitCommand, key: str | None
) -> UnitStatus:
    """Sends one command to a unit's workflow as an update; its status afterwards."""
    try:
        async with place_lent_async():  # the caller released its session: no connection held
            return await commands.unit_command(
                client, cycle_id, unit_code, command, update_id=_update_id(command.actor, key)
            )
    except RPCError as exc:
        raise unavailable(exc) from exc


async def cycle_command(
    *, client: Client, cycle_id: str, command: CycleCommand, key: str | None
) -> CycleStatus:
    """Sends one command to the cycle's workflow as an update; its status afterwards."""
    try:
        async with place_lent_async():  # the caller released its session: no connection held
            return await commands.cycle_command(
                client, cycle_id, command, update_id=_update_id(command.actor, key)
            )
    except RPCError as exc:
        raise unavailable(exc) from exc
