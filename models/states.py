"""The one owner of the process's states: the enums, every named set of states, and the answer
to "may this command run now?".

Pure data and functions (no I/O, no Temporal, no database), so the unit workflow's update
validators, the edit gate, the access rules, the notices and the pages' choice of buttons all
ask the same question of the same table (docs/architecture.md, "The state module"). A new
state or command is added here first; ``tests`` walk every (state × command) pair against the
workflow and the pages.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

__all__ = [
    "AFTER_LOCK",
    "ALLOWED",
    "APPRAISAL_DONE",
    "APPRAISAL_STATES",
    "APPRAISED_SHOWN",
    "BEFORE_SUBMISSION",
    "CLASSIFIABLE",
    "DRAFT_STATES",
    "EXPLANATION_STATES",
    "LOCKED_OUT",
    "LOCK_BOUND",
    "LOCK_BOUND_IN",
    "REOPENABLE",
    "REVIEW_STATES",
    "TERMINAL",
    "UNDER_APPRAISAL",
    "CycleState",
    "UnitCommand",
    "UnitState",
    "allowed",
    "drafting_open",
    "locked",
]


class UnitState(StrEnum):
    """The states of one unit's yearly cycle (owned by its workflow, projected in the database)."""

    assigning = "assigning"
    drafting = "drafting"
    unit_review = "unit_review"
    submitted = "submitted"
    appraising = "appraising"
    explanation = "explanation"
    finalised = "finalised"
    classified = "classified"
    published = "published"
    not_submitted = "not_submitted"
    cancelled = "cancelled"


class CycleState(StrEnum):
    """The states of a yearly cycle as a whole."""

    draft = "draft"
    running = "running"
    appraisal_closed = "appraisal_closed"
    classified = "classified"
    published = "published"
    cancelled = "cancelled"


class UnitCommand(StrEnum):
    """The commands of a unit's workflow (their values are the recorded update names' stems)."""

    assign = "assign"
    start_review = "start_review"
    return_ = "return"
    submit = "submit"
    start_appraisal = "start_appraisal"
    request_explanation = "request_explanation"
    close_round = "close_round"
    finalise = "finalise"
    reopen = "reopen"
    set_deadlines = "set_deadlines"
    close_appraisal = "close_appraisal"
    classified = "classified"
    publish_unit = "publish_unit"
    followup_done = "followup_done"
    cancel = "cancel"


S = UnitState
C = UnitCommand

# Before the unit has handed in its sheet: the hard lock still applies.
BEFORE_SUBMISSION = frozenset({S.assigning, S.drafting, S.unit_review})
# The edit gate takes self-assessment inputs in these states (explanation: flagged criteria).
DRAFT_STATES = frozenset({S.drafting, S.unit_review, S.explanation})
# The council is at work on the sheet (appraisal digests, the appraisal queue).
UNDER_APPRAISAL = frozenset({S.submitted, S.appraising, S.explanation})
# Units that take part in classification (finalised, or locked without a submission).
CLASSIFIABLE = frozenset({S.finalised, S.not_submitted, S.classified})
# Nothing happens to a unit any more.
TERMINAL = frozenset({S.published, S.cancelled})
# The edit gate's finer rules: in review staff edit only returned criteria; in explanation only
# the flagged ones; the council scores criteria while appraising.
REVIEW_STATES = frozenset({S.unit_review})
EXPLANATION_STATES = frozenset({S.explanation})
APPRAISAL_STATES = frozenset({S.appraising})
# What a sheet shows: the appraised total once the council works on it; appraisal done.
APPRAISED_SHOWN = frozenset({S.appraising, S.explanation, S.finalised, S.classified, S.published})
APPRAISAL_DONE = frozenset({S.finalised, S.classified, S.published})
# Locked out: the hard lock passed without a submission.
LOCKED_OUT = frozenset({S.not_submitted})

# Keyed by command (a str enum, so the recorded string names index it too).
ALLOWED: dict[str, frozenset[UnitState]] = {
    C.assign: BEFORE_SUBMISSION,
    C.start_review: frozenset({S.drafting}),
    C.return_: frozenset({S.unit_review}),
    C.submit: frozenset({S.drafting, S.unit_review}),
    C.start_appraisal: frozenset({S.submitted}),
    C.request_explanation: frozenset({S.appraising}),
    C.close_round: frozenset({S.explanation}),
    C.finalise: frozenset({S.appraising}),
    C.reopen: frozenset({S.submitted, S.appraising, S.explanation, S.not_submitted}),
    C.set_deadlines: BEFORE_SUBMISSION | UNDER_APPRAISAL,
    C.close_appraisal: BEFORE_SUBMISSION | UNDER_APPRAISAL | {S.finalised, S.not_submitted},
    C.classified: CLASSIFIABLE,
    C.publish_unit: frozenset({S.classified}),
    C.followup_done: frozenset({S.published}),
    C.cancel: frozenset(set(S) - TERMINAL),
}

REOPENABLE = ALLOWED[C.reopen]

# Commands refused from the hard-lock instant on (checked against the caller's clock: the
# workflow's ``workflow.now()``, the page's ``utcnow()``).
LOCK_BOUND = frozenset({C.assign, C.start_review, C.return_, C.submit})
# Refused from the hard-lock instant on in these states only: a lock that is due is not moved by
# an extension (the coordinator reopens the unit instead); after submission the lock is past.
LOCK_BOUND_IN: dict[str, frozenset[UnitState]] = {C.set_deadlines: BEFORE_SUBMISSION}
# Refused before the hard-lock instant in these states: the appraisal of a unit that has not
# handed in its sheet closes only once the unit is locked.
AFTER_LOCK: dict[str, frozenset[UnitState]] = {C.close_appraisal: BEFORE_SUBMISSION}


def locked(now: datetime, hard_lock_at: datetime) -> bool:
    """True from the hard-lock instant on (the lock is exact to the second: ``now >= lock``)."""
    return now >= hard_lock_at


def allowed(
    command: UnitCommand | str, state: UnitState | str, now: datetime, hard_lock_at: datetime
) -> bool:
    """May ``command`` run on a unit in ``state`` at ``now``, given its hard lock?"""
    cmd, st = UnitCommand(command), UnitState(state)
    if st not in ALLOWED[cmd]:
        return False
    if locked(now, hard_lock_at):
        return cmd not in LOCK_BOUND and st not in LOCK_BOUND_IN.get(cmd, ())
    return st not in AFTER_LOCK.get(cmd, ())


def drafting_open(state: UnitState | str, now: datetime, hard_lock_at: datetime) -> bool:
    """Does the edit gate take self-assessment inputs now (before submission: until the lock)?"""
    st = UnitState(state)
    return st in DRAFT_STATES and not (st in BEFORE_SUBMISSION and locked(now, hard_lock_at))
