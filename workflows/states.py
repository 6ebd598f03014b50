"""The unit workflow's refusals: the state machine's answer (``models.states.allowed``) in words.

Pure functions, used by the unit workflow's update validators (and documented in
docs/workflows.md); the table itself lives in ``models.states`` (the one owner). A refusal is
an ``ApplicationError`` with a stable ``type`` and the reason in Vietnamese and English as its
details; ``workflows.commands.refusal_of`` turns it into a ``core.errors.Refusal`` (the API: a 409).
"""

from __future__ import annotations

from datetime import datetime

from temporalio.exceptions import ActivityError, ApplicationError

from models.labels import COMMAND_LABELS, UNIT_STATE_VI
from models.states import (
    ALLOWED,
    BEFORE_SUBMISSION,
    LOCK_BOUND,
    LOCK_BOUND_IN,
    UnitCommand,
    UnitState,
    allowed,
    locked,
)
from workflows.timeline import local_text

__all__ = [
    "ALLOWED",
    "BEFORE_SUBMISSION",
    "LOCK_BOUND",
    "as_refusal",
    "check_command",
    "refuse",
    "refuse_state",
    "reopen_required",
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


def check_command(command: str, state: UnitState, now: datetime, hard_lock_at: datetime) -> None:
    """Raises the refusal of ``command`` in ``state`` at ``now`` iff ``allowed()`` says no."""
    if allowed(command, state, now, hard_lock_at):
        return
    # ``allowed()`` has decided; what follows only chooses the words of the refusal.
    if command == UnitCommand.set_deadlines and (
        state is UnitState.not_submitted or state in LOCK_BOUND_IN[command]
    ):
        raise reopen_required()
    if state not in ALLOWED[command]:
        raise refuse_state(command, state)
    if not locked(now, hard_lock_at):
        raise refuse(
            "units_pending",
            "Đơn vị chưa gửi kết quả và chưa đến thời điểm khóa.",
            "The unit has not submitted and its hard lock is still ahead.",
        )
    raise refuse(
        "locked",
        f"Phần mềm đã khóa từ {local_text(hard_lock_at)}.",
        f"The sheet has been locked since {hard_lock_at.isoformat()}.",
    )


def reopen_required() -> ApplicationError:
    """A locked unit's deadlines are not moved by an extension: the coordinator reopens it."""
    return refuse(
        "reopen_required",
        "Đơn vị đã bị khóa: cần mở lại thay vì gia hạn.",
        "The unit is locked: reopen it instead of extending.",
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
