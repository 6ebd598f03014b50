"""Helpers shared by the activity classes: the activity's clock, heartbeats and refusals."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from core.errors import Refusal

__all__ = ["activity_now", "attempt_token", "heartbeat", "heartbeating", "refusal"]

log = logging.getLogger("appraisal.worker")

# Well within the 20 s heartbeat timeouts of the workflows (the SDK throttles what it sends).
HEARTBEAT_EVERY_S = 5.0


def activity_now() -> datetime:
    """Now, as the Temporal server sees it (the skipped clock in the time-skipping tests)."""
    try:
        return activity.info().current_attempt_scheduled_time.astimezone(UTC)
    except RuntimeError:  # called outside an activity (tests of the helpers)
        return datetime.now(UTC)


def refusal(err: Refusal) -> ApplicationError:
    """A service's refusal as a non-retryable error: type = its code, details = [vi, en].

    The one place an activity turns a ``Refusal`` into what the workflow sees; the client
    façade turns it back (``workflows.commands.refusal_of``). A refusal is an ordinary answer,
    not a fault: it is logged here as one line, and marked BENIGN so the SDK does not log it
    again with a traceback (it logs those at DEBUG).
    """
    try:
        where = activity.info().activity_type
    except RuntimeError:  # outside an activity (tests of the helper)
        where = "-"
    log.info("refused %s in %s: %s", err.code, where, err.message_en)
    return ApplicationError(
        err.message_en,
        err.message_vi,
        err.message_en,
        type=err.code,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )


def attempt_token() -> str:
    """This activity attempt's identity (its claims in the outbox carry it): workflow, activity
    and attempt, plus a random part (unique also outside an activity, in tests)."""
    tail = uuid.uuid4().hex[:8]
    if not activity.in_activity():
        return f"direct/{tail}"
    info = activity.info()
    return f"{info.workflow_id}/{info.activity_id}#{info.attempt}/{tail}"[-200:]


def heartbeat(*details: Any) -> None:
    """``activity.heartbeat`` (nothing outside an activity: the helpers' tests call them)."""
    if activity.in_activity():
        activity.heartbeat(*details)


@asynccontextmanager
async def heartbeating(
    details: Callable[[], Any], every: float = HEARTBEAT_EVERY_S
) -> AsyncIterator[None]:
    """Heartbeats ``details()`` every ``every`` seconds while the block runs (a long step — a
    batch of starts, rendering a large notice — stays within the heartbeat timeout; a crashed
    worker stops heartbeating and its attempt is retried elsewhere)."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            heartbeat(*details())

    ticker = asyncio.create_task(tick()) if activity.in_activity() else None
    try:
        yield
    finally:
        if ticker is not None:
            ticker.cancel()
            with suppress(asyncio.CancelledError):
                await ticker
