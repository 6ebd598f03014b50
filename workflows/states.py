"""The unit state machine: which command is allowed in which state, and the refusals.

Pure data and functions, used by the unit workflow's update validators (and documented in
docs/workflows.md). A refusal is an ``ApplicationError`` with a stable ``type`` and the reason
in Vietnamese and English as its details; ``workflows.commands`` turns it into
``CommandRefused`` and the API into a 409.
"""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError

from models.states import ALLOWED, BEFORE_SUBMISSION, LOCK_BOUND, UnitState
from services.labels import COMMAND_LABELS, UNIT_STATE_VI

__all__ = [
    "ALLOWED",
    "BEFORE_SUBMISSION",
    "LOCK_BOUND",
    "as_refusal",
    "refuse",
    "refuse_state",
]


def refuse(type_: str, message_vi: str, message_en: str) -> ApplicationError:
    """A business refusal (non-retryable) carrying both messages as details."""
    return ApplicationError(message_en, message_vi, message_en, type=type_, non_retryable=True)


def refuse_state(command: str, state: UnitState) -> ApplicationError:
    """ "Không thể gửi kết quả khi đơn vị ở trạng thái “Đã gửi kết quả”."."""
    vi, en = COMMAND_LABELS.get(command, (command, command))
    return refuse(
        "invalid_state",
        f"Không thể {vi} khi đơn vị ở trạng thái “{UNIT_STATE_VI[state]}”.",
        f"Cannot {en} while the unit is {state.value}.",
    )


def as_refusal(exc: ActivityError) -> ApplicationError:
    """An activity's failure as the update's answer: its business refusal, or "unavailable"."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True)
    return refuse(
        "unavailable",
        "Hệ thống tạm thời không ghi được thay đổi, vui lòng thử lại.",
        "The change could not be recorded right now; please retry.",
    )
