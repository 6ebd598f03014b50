"""Helpers shared by the activity classes: the activity's clock and refusals."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from core.errors import Refusal

__all__ = ["activity_now", "refusal"]

log = logging.getLogger("appraisal.worker")


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
