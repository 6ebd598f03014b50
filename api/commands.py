"""The bridge from routes to the workflows: commands as Temporal updates, refusals as problems.

A refusal by a workflow's validator or by the database (``CommandRefused``: type, Vietnamese and
English reasons) answers 409 with both reasons (404 when no workflow runs for it); Temporal
being unreachable answers 503. An ``Idempotency-Key`` header becomes the update id, so a retried
request returns the first outcome instead of acting twice.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.service import RPCError

from api.errors import Problem
from contracts.messages import CycleCommand, CycleStatus, UnitCommand, UnitStatus
from core.settings import Settings
from workflows import commands

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="A retried request with the same key acts once",
    ),
]


def refused(exc: commands.CommandRefused) -> Problem:
    """The problem of a refused command: 409 (or 404 when no workflow runs)."""
    status = exc.status if exc.status in (404, 409) else 409
    return Problem(
        status,
        exc.message_vi,
        slug="not-found" if status == 404 else "command-refused",
        code=exc.type,
        detail_en=exc.message_en,
    )


def _unavailable(exc: Exception) -> Problem:
    return Problem(
        503,
        f"Không kết nối được máy chủ quy trình (Temporal): {type(exc).__name__}.",
        slug="unavailable",
    )


def _update_id(actor: str, key: str | None) -> str | None:
    return f"api:{actor}:{key}" if key else None


async def start_cycle(client: Client, settings: Settings, engine: Engine, cycle_id: str) -> int:
    """Starts the cycle's workflows (idempotent: a retried start creates no twins)."""
    try:
        return await commands.start_cycle(
            client, engine, cycle_id, task_queue=settings.temporal_task_queue
        )
    except commands.CommandRefused as exc:
        raise refused(exc) from exc
    except RPCError as exc:
        raise _unavailable(exc) from exc


async def unit_command(
    client: Client, cycle_id: str, unit_code: str, command: UnitCommand, key: str | None = None
) -> UnitStatus:
    """Sends one command to a unit's workflow as an update; its status afterwards."""
    try:
        return await commands.unit_command(
            client, cycle_id, unit_code, command, update_id=_update_id(command.actor, key)
        )
    except commands.CommandRefused as exc:
        raise refused(exc) from exc
    except RPCError as exc:
        raise _unavailable(exc) from exc


async def cycle_command(
    client: Client, cycle_id: str, command: CycleCommand, key: str | None = None
) -> CycleStatus:
    """Sends one command to the cycle's workflow as an update; its status afterwards."""
    try:
        return await commands.cycle_command(
            client, cycle_id, command, update_id=_update_id(command.actor, key)
        )
    except commands.CommandRefused as exc:
        raise refused(exc) from exc
    except RPCError as exc:
        raise _unavailable(exc) from exc
