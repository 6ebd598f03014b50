"""The activity interfaces the workflows call, by method reference (as in Temporal's samples).

Workflows must not import ``activities`` (the database side), so each activity is declared
here as a method stub carrying its recorded name; ``workflow.execute_activity_method`` reads the
name and the argument and result types from the stub. The classes in ``activities/`` subclass
these interfaces and register their implementations under the very same names (the committed
histories in tests/histories replay against these names: never rename one).
"""

from __future__ import annotations

from temporalio import activity

from contracts.messages import (
    ActivityResult,
    CycleStepArgs,
    CycleStepResult,
    FanOutArgs,
    FanOutResult,
    NoticeRequest,
    NotifyResult,
    StartUnitsArgs,
    TransitionArgs,
)

__all__ = [
    "CYCLE_FAN_OUT",
    "CYCLE_START_UNITS",
    "CYCLE_STEP",
    "MAIL_NOTIFY",
    "UNIT_TRANSITION",
    "CycleActivitiesInterface",
    "MailActivitiesInterface",
    "UnitActivitiesInterface",
    "mail_task_queue",
]

# The recorded activity type names (the histories hold them).
UNIT_TRANSITION = "unit.transition"
CYCLE_START_UNITS = "cycle.start_units"
CYCLE_FAN_OUT = "cycle.fan_out"
CYCLE_STEP = "cycle.step"
MAIL_NOTIFY = "mail.notify"


def mail_task_queue(task_queue: str) -> str:
    """The mail activity's task queue beside a workflow task queue (its own worker slots).

    The same rule as ``core.settings.Settings.mail_task_queue``; workflows derive it from their
    own queue, so a worker on queue ``q`` must also poll ``q-mail`` (``workflows.worker``).
    """
    return f"{task_queue}-mail"


class UnitActivitiesInterface:
    """The unit workflow's database side."""

    @activity.defn(name=UNIT_TRANSITION)
    async def transition(self, args: TransitionArgs) -> ActivityResult:
        """Commits a transition (projection, audit, snapshot…); idempotent by request key."""
        raise NotImplementedError


class CycleActivitiesInterface:
    """The cycle workflow's work outside the workflow: starting units, fan-outs, cycle steps."""

    @activity.defn(name=CYCLE_START_UNITS)
    async def start_units(self, args: StartUnitsArgs) -> int:
        """Starts every unit workflow of the cycle in batches; returns how many units it has."""
        raise NotImplementedError

    @activity.defn(name=CYCLE_FAN_OUT)
    async def fan_out(self, args: FanOutArgs) -> FanOutResult:
        """Sends one command to many unit workflows as updates with stable update ids."""
        raise NotImplementedError

    @activity.defn(name=CYCLE_STEP)
    async def step(self, args: CycleStepArgs) -> CycleStepResult:
        """Commits a cycle-wide change (extension, checks, classification…)."""
        raise NotImplementedError


class MailActivitiesInterface:
    """Notices: render, store and send the e-mails a workflow's decision calls for."""

    @activity.defn(name=MAIL_NOTIFY)
    async def notify(self, req: NoticeRequest) -> NotifyResult:
        """Renders and stores the notice's messages (once) and sends the pending ones."""
        raise NotImplementedError
