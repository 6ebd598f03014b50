"""Helpers shared by the activity classes: the activity's clock and refusals."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.errors import Refusal

__all__ = ["activity_now", "refusal"]


def activity_now() -> datetime:
    """Now, as the Temporal server sees it (the skipped clock in the time-skipping tests)."""
    try:
        return activity.info().current_attempt_scheduled_time.astimezone(UTC)
    except RuntimeError:  # called outside an activity (tests of the helpers)
        return datetime.now(UTC)


def refusal(err: Refusal) -> ApplicationError:
    """A service's refusal as a non-retryable error: type = its code, details = [vi, en].

    The one place an activity turns a ``Refusal`` into what the workflow sees; the client
    façade turns it back (``workflows.commands.refusal_of``).
    """
    return ApplicationError(
        err.message_en, err.message_vi, err.message_en, type=err.code, non_retryable=True
    )
