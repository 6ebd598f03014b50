"""The values that cross Temporal boundaries: workflow inputs, commands, results, activity args.

Plain Pydantic models (no tables, no I/O) so that the workflow sandbox, the activities, the API
and the CLI share one vocabulary, serialised by ``core.temporal.DATA_CONVERTER``. Every datetime
is aware UTC. They live in the contract package, which imports only pydantic, temporalio, the
stdlib and ``models.states``, so workflows can read them without pulling in the database layer
(docs/architecture.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.states import CycleState, UnitState

__all__ = [
    "ActivityResult",
    "AssignCommand",
    "AssignmentSpec",
    "CancelCommand",
    "ClassifiedCommand",
    "ClassifyCommand",
    "CloseAppraisalCommand",
    "CloseRoundCommand",
    "CycleCommand",
    "CycleInput",
    "CycleState",
    "CycleStatus",
    "CycleStepArgs",
    "CycleStepResult",
    "DeadlineKind",
    "ExplanationItemSpec",
    "ExtendCommand",
    "FanOutArgs",
    "FanOutResult",
    "FinaliseCommand",
    "FollowupDoneCommand",
    "NoticeKind",
    "NoticeRequest",
    "NotifyResult",
    "PublishCommand",
    "PublishUnitCommand",
    "ReminderLabel",
    "ReopenCommand",
    "RequestExplanationCommand",
    "ReturnCommand",
    "SetDeadlinesCommand",
    "StartAppraisalCommand",
    "StartReviewCommand",
    "StartUnitsArgs",
    "SubmitCommand",
    "TransitionArgs",
    "UnitCommand",
    "UnitDeadlines",
    "UnitInput",
    "UnitState",
    "UnitStatus",
]


class Msg(BaseModel):
    """Base of every message: unknown fields refused, values frozen."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- workflow inputs -------------------------------------------------------------------------


class UnitInput(Msg):
    """Everything a unit workflow needs to run its year without reading the database."""

    cycle_id: str
    year: int
    unit_code: str
    unit_id: int
    unit_name: str = ""
    opens_at: datetime
    submission_deadline: datetime
    hard_lock_at: datetime
    appraisal_deadline: datetime
    reminder_offsets_hours: tuple[int, ...] = (168, 72, 24, 0)
    explanation_round_days: int = 5
    max_explanation_rounds: int = 2
    followup_analysis_days: int = 10
    followup_plan_days: int = 20
    # Custom search attributes do not work on the time-skipping test server.
    search_attributes: bool = True


class CycleInput(Msg):
    """The cycle workflow's input: the cycle and how to start its unit workflows."""

    cycle_id: str
    year: int
    submission_deadline: datetime
    hard_lock_at: datetime
    followup_analysis_days: int = 10
    followup_plan_days: int = 20
    unit_task_queue: str
    search_attributes: bool = True
    batch_size: int = 200
    # Optional so that cycles started before the council's reminders existed replay unchanged:
    # without it the workflow plans no appraisal reminder.
    appraisal_deadline: datetime | None = None
    reminder_offsets_hours: tuple[int, ...] = (168, 72, 24, 0)


# --- commands (one Temporal update each) ------------------------------------------------------


class AssignmentSpec(Msg):
    """One staff member on some criteria or whole groups (a parent code covers its leaves)."""

    codes: tuple[str, ...] = Field(min_length=1, description="Mã tiêu chí hoặc nhóm tiêu chí")
    username: str = Field(min_length=1, description="Cán bộ, công chức")
    responsible: bool = Field(default=True, description="Chịu trách nhiệm chính")


class ExplanationItemSpec(Msg):
    """One flagged criterion of an explanation round and the council's question."""

    code: str = Field(min_length=1)
    question: str = Field(min_length=1, description="Nội dung yêu cầu giải trình")


class _Command(Msg):
    actor: str = Field(min_length=1, description="Tên đăng nhập của người thực hiện")


class AssignCommand(_Command):
    """Replaces the unit's assignments (phân công); assigning → drafting."""

    kind: Literal["assign"] = "assign"
    assignments: tuple[AssignmentSpec, ...] = Field(min_length=1)


class StartReviewCommand(_Command):
    """The unit office starts its review (rà soát): drafting → unit_review."""

    kind: Literal["start_review"] = "start_review"


class ReturnCommand(_Command):
    """The office returns criteria to their staff with a comment (trả lại)."""

    kind: Literal["return"] = "return"
    codes: tuple[str, ...] = Field(min_length=1)
    comment: str = Field(min_length=1, description="Ý kiến trả lại")


class SubmitCommand(_Command):
    """The office submits (gửi kết quả): the sheet is frozen in a hashed snapshot."""

    kind: Literal["submit"] = "submit"
    proposed_class: str | None = Field(default=None, description="Đề xuất xếp loại")


class StartAppraisalCommand(_Command):
    """The council starts appraising before the hard lock: submitted → appraising."""

    kind: Literal["start_appraisal"] = "start_appraisal"


class RequestExplanationCommand(_Command):
    """The council flags criteria (yêu cầu giải trình): appraising → explanation."""

    kind: Literal["request_explanation"] = "request_explanation"
    items: tuple[ExplanationItemSpec, ...] = Field(min_length=1)
    deadline: datetime | None = Field(
        default=None, description="Hạn giải trình; mặc định: số ngày của vòng theo kỳ đánh giá"
    )


class CloseRoundCommand(_Command):
    """Closes the open explanation round before its deadline: explanation → appraising."""

    kind: Literal["close_round"] = "close_round"


class FinaliseCommand(_Command):
    """The council finalises the unit's appraisal: appraising → finalised."""

    kind: Literal["finalise"] = "finalise"


class ReopenCommand(_Command):
    """The coordinator reopens a submitted (or not submitted) unit: → drafting."""

    kind: Literal["reopen"] = "reopen"
    reason: str = Field(min_length=1, description="Lý do mở lại")
    submission_deadline: datetime | None = None
    hard_lock_at: datetime | None = Field(
        default=None, description="Required when the unit's hard lock has passed"
    )


class SetDeadlinesCommand(_Command):
    """Moves this unit's deadlines (from the cycle's extension, or an explanation round)."""

    kind: Literal["set_deadlines"] = "set_deadlines"
    submission_deadline: datetime | None = None
    hard_lock_at: datetime | None = None
    explanation_deadline: datetime | None = None
    reason: str = ""


class CloseAppraisalCommand(_Command):
    """Cycle: appraisal closes; every unit still under appraisal is finalised."""

    kind: Literal["close_appraisal"] = "close_appraisal"


class ClassifiedCommand(_Command):
    """Cycle → unit: the classification has been written; finalised → classified."""

    kind: Literal["classified"] = "classified"


class PublishUnitCommand(_Command):
    """Cycle → unit: results are published; the follow-up deadlines start."""

    kind: Literal["publish_unit"] = "publish_unit"
    analysis_due: datetime
    plan_due: datetime


class FollowupDoneCommand(_Command):
    """The unit office reports a follow-up document done (báo cáo phân tích / kế hoạch)."""

    kind: Literal["followup_done"] = "followup_done"
    followup: Literal["analysis", "plan"]


class CancelCommand(_Command):
    """Cancels a unit's cycle, or the whole cycle."""

    kind: Literal["cancel"] = "cancel"
    reason: str = Field(min_length=1, description="Lý do hủy")


UnitCommand = Annotated[
    AssignCommand
    | StartReviewCommand
    | ReturnCommand
    | SubmitCommand
    | StartAppraisalCommand
    | RequestExplanationCommand
    | CloseRoundCommand
    | FinaliseCommand
    | ReopenCommand
    | SetDeadlinesCommand
    | CloseAppraisalCommand
    | ClassifiedCommand
    | PublishUnitCommand
    | FollowupDoneCommand
    | CancelCommand,
    Field(discriminator="kind"),
]


class ExtendCommand(_Command):
    """Cycle: extends the submission deadline and/or hard lock, for all or some units."""

    kind: Literal["extend"] = "extend"
    units: tuple[str, ...] | None = Field(default=None, description="None: every unit")
    submission_deadline: datetime | None = None
    hard_lock_at: datetime | None = None
    reason: str = ""


class ClassifyCommand(_Command):
    """Cycle: computes totals, bands, quotas and ranks per group."""

    kind: Literal["classify"] = "classify"


class PublishCommand(_Command):
    """Cycle: publishes the results; everyone is told; follow-up deadlines start."""

    kind: Literal["publish"] = "publish"


CycleCommand = Annotated[
    ExtendCommand | CloseAppraisalCommand | ClassifyCommand | PublishCommand | CancelCommand,
    Field(discriminator="kind"),
]


# --- results ---------------------------------------------------------------------------------


class UnitStatus(Msg):
    """The state of one unit's workflow (query result and the result of every unit command)."""

    cycle_id: str
    unit_code: str
    workflow_id: str
    state: UnitState
    submission_deadline: datetime
    hard_lock_at: datetime
    explanation_deadline: datetime | None = None
    round_no: int = 0
    max_rounds: int = 2
    submissions: int = 0
    days_late: int = 0
    snapshot_hash: str | None = None
    analysis_due: datetime | None = None
    plan_due: datetime | None = None
    followups_done: tuple[str, ...] = ()
    reminders_sent: int = 0


class CycleStatus(Msg):
    """The state of a cycle's workflow (query result and the result of every cycle command)."""

    cycle_id: str
    state: CycleState
    units_started: int | None = None
    submission_deadline: datetime
    hard_lock_at: datetime
    analysis_due: datetime | None = None
    plan_due: datetime | None = None
    skipped: tuple[str, ...] = Field(
        default=(), description="Units the last fan-out could not reach, with the reason"
    )


# --- activities ------------------------------------------------------------------------------


class TransitionArgs(Msg):
    """A unit transition to commit in the database (projection, audit, snapshot…)."""

    cycle_id: str
    unit_code: str
    request_key: str = Field(description="Idempotency key: a retried activity changes nothing")
    at: datetime = Field(description="Workflow time of the transition")
    actor: str
    command: UnitCommand | None = None
    seq: int = Field(default=0, description="Submission / round number given by the workflow")
    to_state: UnitState | None = None


class ActivityResult(Msg):
    """What a transition activity reports back to the workflow."""

    state: UnitState | None = None
    snapshot_hash: str | None = None
    days_late: int = 0
    usernames: tuple[str, ...] = ()
    deadline: datetime | None = None
    round_no: int = 0


class NoticeKind(StrEnum):
    """The kinds of e-mail the system sends (one template each)."""

    cycle_opened = "cycle_opened"
    assigned = "assigned"
    returned = "returned"
    reminder = "reminder"
    submitted = "submitted"
    locked = "locked"
    reopened = "reopened"
    deadline_changed = "deadline_changed"
    explanation_requested = "explanation_requested"
    explanation_reminder = "explanation_reminder"
    unit_published = "unit_published"
    followup_reminder = "followup_reminder"
    appraisal_reminder = "appraisal_reminder"
    missed = "missed"
    results_published = "results_published"
    cancelled = "cancelled"


class DeadlineKind(StrEnum):
    """The deadlines reminders and missed-deadline digests are about."""

    submission = "submission"
    hard_lock = "hard_lock"
    explanation = "explanation"
    analysis = "analysis"
    plan = "plan"
    appraisal = "appraisal"


class ReminderLabel(StrEnum):
    """How long before a deadline a reminder falls ("168h", …, "morning")."""

    morning = "morning"


class NoticeRequest(Msg):
    """A decision of a workflow that some people must be told something.

    ``key`` makes the message's idempotency key with the recipient: the same request twice (a
    retry, a replay) finds its outbox rows and sends nothing twice.
    """

    kind: NoticeKind
    cycle_id: str
    unit_code: str | None = None
    key: str
    at: datetime = Field(description="Workflow time of the decision")
    expires_at: datetime | None = Field(default=None, description="Dropped if not sent by then")
    deadline_kind: DeadlineKind | None = None
    deadline: datetime | None = None
    offset: str | None = None
    round_no: int = 0
    usernames: tuple[str, ...] = Field(default=(), description="Only these people (if given)")
    codes: tuple[str, ...] = Field(default=(), description="Criteria the notice is about")
    reason: str = Field(default="", description="A reason or comment quoted in the message")


class StartUnitsArgs(Msg):
    """Starts the unit workflows of a cycle, in batches, resumably."""

    cycle_id: str
    task_queue: str
    search_attributes: bool = True
    batch_size: int = 200


class FanOutArgs(Msg):
    """Sends one command to many unit workflows as updates with stable update ids."""

    cycle_id: str
    update_id: str = Field(description="Prefix of each update id: a retry is deduplicated")
    command: UnitCommand
    units: tuple[str, ...] | None = None
    only_states: tuple[UnitState, ...] = ()
    batch_size: int = 100


class FanOutResult(Msg):
    """How a fan-out went: units reached and units skipped (with the reason)."""

    reached: int = 0
    skipped: tuple[str, ...] = ()


class CycleStepArgs(Msg):
    """A cycle-wide change to commit in the database (extension, checks, classification…)."""

    cycle_id: str
    actor: str
    at: datetime
    request_key: str
    command: CycleCommand | None = None
    to_state: CycleState | None = None
    reason: str = ""


class CycleStepResult(Msg):
    """What a cycle step reports back: the units concerned, the classification written."""

    units: tuple[str, ...] = ()
    classification: dict[str, str] = Field(default_factory=dict, description="Unit code → band key")


class UnitDeadlines(Msg):
    """Unit → cycle signal: a unit's deadlines moved (reopen), for the missed-deadline digests."""

    unit_code: str
    submission_deadline: datetime
    hard_lock_at: datetime


class NotifyResult(Msg):
    """What the mail activity did with one notice request."""

    messages: int = 0
    sent: int = 0
    dropped: int = 0
