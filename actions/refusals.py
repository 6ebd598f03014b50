"""Every refusal an action may raise, as the one shape both handlers (API and pages) show.

New refusals are ``core.errors.Refusal`` classes. The older classes (``SheetError`` and its
subclasses ``CycleError`` and ``TransitionRefused``, ``EvidenceError``, ``CommandRefused``) are
read through ``LEGACY``: one row per class, deleted when that class becomes a ``Refusal``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import Refusal
from services.evidence import EvidenceError
from services.sheet import SheetError
from workflows.commands import CommandRefused

__all__ = ["FORBIDDEN_REFUSALS", "LEGACY", "Refused", "refused"]

# Refusals of the edit gate that are about who the caller is, not about the state: 403.
FORBIDDEN_REFUSALS = frozenset({"not_assigned", "wrong_agency"})

# The status of an evidence check that fails (the rest: 422).
_EVIDENCE_STATUS = {"too_large": 413, "wrong_type": 415, "empty": 422, "invalid": 422}


@dataclass(frozen=True)
class Refused:
    """A refusal as shown: status, stable code ("" for none), both reasons, the field at fault."""

    status: int
    code: str
    message_vi: str
    message_en: str = ""
    field: str = ""
    location: str = "body"  # where the field was sent: body | form | query | path


def _sheet(exc: SheetError) -> Refused:
    status = 403 if exc.type in FORBIDDEN_REFUSALS else int(getattr(exc, "status", 409))
    return Refused(status, exc.type, exc.message_vi, exc.message_en, exc.field)


def _evidence(exc: EvidenceError) -> Refused:
    status = _EVIDENCE_STATUS.get(exc.kind, 422)
    return Refused(status, "", exc.reason_vi, "", exc.field, "form")


def _command(exc: CommandRefused) -> Refused:
    status = exc.status if exc.status in (404, 409) else 409
    return Refused(status, exc.type, exc.message_vi, exc.message_en)


# Error classes not yet converted to ``core.errors``: class → its refusal (one row each).
LEGACY: dict[type[Exception], Callable[[Any], Refused]] = {
    SheetError: _sheet,  # CycleError, TransitionRefused, EditRefused, … are subclasses
    EvidenceError: _evidence,
    CommandRefused: _command,
}


def refused(exc: BaseException) -> Refused | None:
    """The refusal ``exc`` stands for, or None when it is no refusal (a bug: a 500)."""
    if isinstance(exc, Refusal):
        location = str(getattr(exc, "location", "body"))
        return Refused(exc.status, exc.code, exc.message_vi, exc.message_en, exc.field, location)
    for cls, convert in LEGACY.items():
        if isinstance(exc, cls):
            return convert(exc)
    return None
