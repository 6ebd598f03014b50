"""Helpers shared by the activity classes: the activity's clock and refusals."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

__all__ = ["activity_now", "refusal"]

log = logging.getLogger("appraisal.worker")


class _Refused(Protocol):
    """A refusal as the services raise it (``services.sheet.SheetError``, ``core.errors``)."""

    message_vi: str
    message_en: str


def activity_now() -> datetime:
    """Now, as the Temporal server sees it (the skipped clock in the time-skipping tests)."""
    try:
        return activity.info().current_attempt_scheduled_time.astimezone(UTC)
    except RuntimeError:  # called outside an activity (tests of the helpers)
        return datetime.now(UTC)


def _code(err: _Refused) -> str:
    return str(getattr(err, "code", "") or getattr(err, "type", "") or type(err).__name__)


def refusal(err: _Refused) -> ApplicationError:
    """A business refusal as a non-retryable error: type + (Vietnamese, English) messages.

    A refusal is an ordinary answer, not a fault: it is logged here as one line, and marked
    BENIGN so the SDK does not log it again with a traceback (it logs those at DEBUG).
    """
    code = _code(err)
    try:
        where = activity.info().activity_type
    except RuntimeError:  # outside an activity (tests of the helper)
        where = "-"
    log.info("refused %s in %s: %s", code, where, err.message_en)
    return ApplicationError(
        err.message_en,
        err.message_vi,
        err.message_en,
        type=code,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )
