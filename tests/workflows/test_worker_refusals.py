"""A refusal inside an activity is an ordinary answer: the worker logs it as one line (code,
activity, reason) and marks it BENIGN, so the Temporal SDK does not log a traceback for it."""

from __future__ import annotations

import logging

from temporalio.exceptions import ApplicationErrorCategory

from activities.common import refusal
from core.errors import Conflict


def test_a_refusal_is_one_line_and_benign(caplog) -> None:
    caplog.set_level(logging.INFO, logger="appraisal.worker")
    err = refusal(Conflict("locked", "Phiếu đã khóa.", "The sheet is locked."))
    assert err.type == "locked" and err.non_retryable
    assert err.category is ApplicationErrorCategory.BENIGN
    assert err.details == ("Phiếu đã khóa.", "The sheet is locked.")
    (record,) = caplog.records
    assert record.getMessage() == "refused locked in -: The sheet is locked."
    assert record.exc_info is None and "\n" not in record.getMessage()


def test_a_core_refusal_keeps_its_code() -> None:
    err = refusal(Conflict("agencies_unfinished", "Còn cơ quan.", "Agencies missing."))
    assert err.type == "agencies_unfinished"
