"""A yearly cycle as a small workflow (id ``cycle-{cycle_id}``) above its unit workflows.

It starts the unit workflows from an activity in batches (never as thousands of children),
takes the coordinator's cycle-wide commands as updates (extend, close appraisal, classify,
publish, cancel) and fans each out to the units as updates with stable ids, and after every
deadline instant sends the coordinator one digest of the units that missed it (one minute
after the instant, so a submission accepted in the last second is committed before the list
is read).

Before the appraisal deadline (``CycleInput.appraisal_deadline``), at the cycle's reminder
offsets and while the cycle is running, it reminds the council: one ``appraisal_reminder``
notice per reminder time, which the mail activity turns into one digest per council member
whose agency still has unappraised criteria in submitted units. Cycles started without that
field (before these reminders existed) plan none: their histories replay unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.activities import CycleActivitiesInterface
    from contracts.ids import CYCLE_WORKFLOW, request_key
    from contracts.messages import (
        CancelCommand,
        ClassifiedCommand,
        ClassifyCommand,
        CloseAppraisalCommand,
        CycleCommand,
        CycleInput,
        CycleState,
        CycleStatus,
        CycleStepArgs,
        CycleStepResult,
        DeadlineKind,
        ExtendCommand,
        FanOutArgs,
        FanOutResult,
        NoticeKind,
        NoticeRequest,
        PublishCommand,
        PublishUnitCommand,
        SetDeadlinesCommand,
        StartUnitsArgs,
        UnitCommand,
        UnitDeadlines,
        UnitState,
    )
    from models.labels import COMMAND_LABELS, CYCLE_STATE_VI
    from models.states import ALLOWED, BEFORE_SUBMISSION, UNDER_APPRAISAL
    from models.states import UnitCommand as Command  # contracts' UnitCommand is the union
    from workflows.states import as_refusal, refuse
    from workflows.timeline import Reminder, at_local, local_text, plan_reminders
    from workflows.unit import send_notice

__all__ = ["DIGEST_GRACE", "CycleWorkflow", "due_reminder"]

DIGEST_GRACE = timedelta(minutes=1)
# start_units and fan_out heartbeat every few seconds: a crashed worker's batch is retried by
# another worker this long after its last heartbeat (it resumes from the heartbeat details).
FAN_OUT_HEARTBEAT = timedelta(seconds=20)
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)
LONG_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,
)
S = CycleState


def in_order(states: frozenset[UnitState]) -> tuple[UnitState, ...]:
    """A set of unit states as a tuple in the enum's order (a stable fan-out argument)."""
    return tuple(s for s in UnitState if s in states)


def due_reminder(pending: list[Reminder], now: datetime) -> tuple[list[Reminder], Reminder | None]:
    """Of the pending reminders (earliest first), those due at ``now`` and the one to send.

    After an outage several may be due at once: only the latest is worth sending, and none
    once its deadline has passed (the others are handled all the same: never sent late).
    """
    due = [r for r in pending if r.at <= now]
    if not due or now >= due[-1].deadline:
        return due, None
    return due, due[-1]


@workflow.defn(name=CYCLE_WORKFLOW)
class CycleWorkflow:
    """The cycle: starts its units, fans coordinator commands out, sends the missed digests."""

    @workflow.init
    def __init__(self, inp: CycleInput) -> None:
        self.inp = inp
        self.state = S.running
        self.units_started: int | None = None
        self.deadlines: dict[DeadlineKind, set[datetime]] = {
            DeadlineKind.submission: {inp.submission_deadline},
            DeadlineKind.hard_lock: {inp.hard_lock_at},
        }
        self.digested: set[str] = set()
        self.analysis_due: datetime | None = None
        self.plan_due: datetime | None = None
        self.skipped: tuple[str, ...] = ()
        # The appraisal deadline is known from the workflow's start: reminders before it are
        # not planned (they could never be sent on time).
        self.started_at = workflow.now()
        self.appraisal_handled: set[str] = set()
        self._lock = asyncio.Lock()
        self._wake = False
        self._mail: list[asyncio.Task[None]] = []

    @workflow.run
    async def run(self, inp: CycleInput) -> CycleStatus:
        """Starts the units, then waits for commands and deadline instants until the end."""
        self._details()
        await self._step(("running",), to_state=S.running, long=True)
        self.units_started = await workflow.execute_activity_method(
            CycleActivitiesInterface.start_units,
            StartUnitsArgs(
                cycle_id=inp.cycle_id,
                task_queue=inp.unit_task_queue,
                search_attributes=inp.search_attributes,
                batch_size=inp.batch_size,
            ),
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=FAN_OUT_HEARTBEAT,
            retry_policy=LONG_RETRY,
        )
        self._details()
        while True:
            async with self._lock:
                self._digests_due()
                self._appraisal_reminders_due()
                if self._finished():
                    break
                wake_at = self._next_wake()
            self._wake = False
            timeout = max(wake_at - workflow.now(), timedelta(milliseconds=1))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._wake, timeout=timeout)
        await workflow.wait_condition(workflow.all_handlers_finished)
        for task in list(self._mail):
            await task
        return self._status()

    # --- digests -----------------------------------------------------------------------------

    def _pending_digests(self) -> list[tuple[datetime, DeadlineKind, datetime]]:
        out = []
        for kind, instants in self.deadlines.items():
            for deadline in instants:
                key = f"{kind.value}|{deadline.isoformat()}"
                if key not in self.digested:
                    out.append((deadline + DIGEST_GRACE, kind, deadline))
        return sorted(out)

    def _digests_due(self) -> None:
        if self.state is S.cancelled:
            return
        now = workflow.now()
        for at, kind, deadline in self._pending_digests():
            if at > now:
                break
            self.digested.add(f"{kind.value}|{deadline.isoformat()}")
            self._notify(
                NoticeKind.missed,
                f"{kind.value}|{deadline.isoformat()}",
                deadline_kind=kind,
                deadline=deadline,
            )

    def _next_digest(self) -> datetime:
        pending = self._pending_digests()
        later = workflow.now() + timedelta(days=30)
        return min(pending[0][0], later) if pending else later

    def _next_wake(self) -> datetime:
        # Without an appraisal deadline this is exactly ``_next_digest()`` (same timers as
        # before the council's reminders existed).
        wake_at = self._next_digest()
        reminders = self._appraisal_reminders()
        return min(wake_at, reminders[0].at) if reminders else wake_at

    # --- the council's reminders before the appraisal deadline ------------------------------

    def _appraisal_reminders(self) -> list[Reminder]:
        """The council's reminders not yet handled, earliest first (none once closed)."""
        deadline = self.inp.appraisal_deadline
        if deadline is None or self.state is not S.running:
            return []
        planned = plan_reminders(
            DeadlineKind.appraisal.value,
            deadline,
            self.inp.reminder_offsets_hours,
            after=self.started_at,
        )
        return [r for r in planned if r.key not in self.appraisal_handled]

    def _appraisal_reminders_due(self) -> None:
        due, latest = due_reminder(self._appraisal_reminders(), workflow.now())
        self.appraisal_handled.update(r.key for r in due)
        if latest is not None:
            self._notify(
                NoticeKind.appraisal_reminder,
                latest.key,
                deadline_kind=DeadlineKind.appraisal,
                deadline=latest.deadline,
                offset=latest.offset,
                expires_at=latest.deadline,
            )

    def _finished(self) -> bool:
        if self.state is S.cancelled:
            return True
        return self.state is S.published and not self._pending_digests()

    # --- helpers -----------------------------------------------------------------------------

    def _status(self) -> CycleStatus:
        return CycleStatus(
            cycle_id=self.inp.cycle_id,
            state=self.state,
            units_started=self.units_started,
            submission_deadline=self.inp.submission_deadline,
            hard_lock_at=self.inp.hard_lock_at,
            analysis_due=self.analysis_due,
            plan_due=self.plan_due,
            skipped=self.skipped,
        )

    def _details(self) -> None:
        parts = [f"**{CYCLE_STATE_VI[self.state]}**"]
        if self.units_started is not None:
            parts.append(f"{self.units_started} đơn vị")
        workflow.set_current_details(" · ".join(parts))

    def _key(self, *parts: str) -> str:
        return request_key(workflow.info().workflow_id, *parts)

    def _update_id(self) -> str:
        info = workflow.current_update_info()
        return info.id if info is not None else str(workflow.uuid4())

    async def _step(
        self,
        key_parts: tuple[str, ...],
        *,
        actor: str = "system",
        command: CycleCommand | None = None,
        to_state: CycleState | None = None,
        reason: str = "",
        long: bool = False,
    ) -> CycleStepResult:
        args = CycleStepArgs(
            cycle_id=self.inp.cycle_id,
            actor=actor,
            at=workflow.now(),
            request_key=self._key(*key_parts),
            command=command,
            to_state=to_state,
            reason=reason,
        )
        try:
            result = await workflow.execute_activity_method(
                CycleActivitiesInterface.step,
                args,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=LONG_RETRY if long else STEP_RETRY,
            )
        except ActivityError as exc:
            raise as_refusal(exc) from None
        return result

    async def _fan_out(
        self,
        command: UnitCommand,
        *,
        units: tuple[str, ...] | None = None,
        only_states: tuple[UnitState, ...] = (),
    ) -> FanOutResult:
        await workflow.wait_condition(lambda: self.units_started is not None)
        result = await workflow.execute_activity_method(
            CycleActivitiesInterface.fan_out,
            FanOutArgs(
                cycle_id=self.inp.cycle_id,
                update_id=f"{self._update_id()}:{command.kind}",
                command=command,
                units=units,
                only_states=only_states,
            ),
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=FAN_OUT_HEARTBEAT,
            retry_policy=LONG_RETRY,
        )
        self.skipped = result.skipped
        return result

    def _notify(self, kind: NoticeKind, key: str, **fields: Any) -> None:
        req = NoticeRequest(
            kind=kind, cycle_id=self.inp.cycle_id, key=key, at=workflow.now(), **fields
        )
        self._mail.append(asyncio.create_task(send_notice(req)))

    def _require(self, command: str, *states: CycleState) -> None:
        """Refuses ``command`` (a COMMAND_LABELS key) unless the cycle is in one of ``states``."""
        if self.state not in states:
            vi, en = COMMAND_LABELS[command]
            raise refuse(
                "invalid_cycle_state",
                f"Không thể thực hiện “{vi}” khi kỳ đánh giá ở trạng thái "
                f"“{CYCLE_STATE_VI[self.state]}”.",
                f"Cannot {en} while the cycle is {self.state.value}.",
            )

    def _move(self, state: CycleState) -> None:
        self.state = state
        self._details()
        self._wake = True

    # --- updates -----------------------------------------------------------------------------

    @workflow.update(name="units_started")
    async def wait_units_started(self) -> CycleStatus:
        """Returns once every unit workflow has been started."""
        await workflow.wait_condition(lambda: self.units_started is not None)
        return self._status()

    def _check_extend(self, cmd: ExtendCommand) -> None:
        self._require("extend", S.running)
        if cmd.submission_deadline is None and cmd.hard_lock_at is None:
            raise refuse("nothing_to_change", "Chưa nhập thời hạn mới.", "No new deadline given.")
        now = workflow.now()
        for t in (cmd.submission_deadline, cmd.hard_lock_at):
            if t is not None and t <= now:
                raise refuse(
                    "deadline_in_past",
                    f"Thời hạn {local_text(t)} đã qua.",
                    f"The deadline {t.isoformat()} is in the past.",
                )
        if (
            cmd.submission_deadline
            and cmd.hard_lock_at
            and cmd.hard_lock_at < cmd.submission_deadline
        ):
            raise refuse(
                "invalid_deadline",
                "Thời điểm khóa phải sau hạn gửi kết quả.",
                "The hard lock must not fall before the submission deadline.",
            )

    @workflow.update(name="extend")
    async def extend(self, cmd: ExtendCommand) -> CycleStatus:
        """Extends the deadlines of all or some units; their timers and reminders move."""
        async with self._lock:
            self._check_extend(cmd)
            res = await self._step(("u", self._update_id()), actor=cmd.actor, command=cmd)
            await self._fan_out(
                SetDeadlinesCommand(
                    actor=cmd.actor,
                    submission_deadline=cmd.submission_deadline,
                    hard_lock_at=cmd.hard_lock_at,
                    reason=cmd.reason,
                ),
                units=res.units,
            )
            if cmd.submission_deadline is not None:
                self.deadlines[DeadlineKind.submission].add(cmd.submission_deadline)
            if cmd.hard_lock_at is not None:
                self.deadlines[DeadlineKind.hard_lock].add(cmd.hard_lock_at)
            if cmd.units is None:
                self.inp = self.inp.model_copy(
                    update={
                        "submission_deadline": cmd.submission_deadline
                        or self.inp.submission_deadline,
                        "hard_lock_at": cmd.hard_lock_at or self.inp.hard_lock_at,
                    }
                )
            self._wake = True
            return self._status()

    @extend.validator
    def _extend_ok(self, cmd: ExtendCommand) -> None:
        self._check_extend(cmd)

    @workflow.update(name="close_appraisal")
    async def close_appraisal(self, cmd: CloseAppraisalCommand) -> CycleStatus:
        """Closes the appraisal: every unit still under appraisal is finalised."""
        async with self._lock:
            self._require("close_appraisal", S.running)
            await self._step(("u", self._update_id()), actor=cmd.actor, command=cmd)
            await self._fan_out(
                cmd,
                only_states=in_order(BEFORE_SUBMISSION | UNDER_APPRAISAL),
            )
            await self._step(
                ("u", self._update_id(), "state"), actor=cmd.actor, to_state=S.appraisal_closed
            )
            self._move(S.appraisal_closed)
            return self._status()

    @close_appraisal.validator
    def _close_appraisal_ok(self, cmd: CloseAppraisalCommand) -> None:
        self._require("close_appraisal", S.running)

    @workflow.update(name="classify")
    async def classify(self, cmd: ClassifyCommand) -> CycleStatus:
        """Computes totals, bands, quotas and ranks per group; units → classified."""
        async with self._lock:
            self._require("classify", S.appraisal_closed, S.classified)
            res = await self._step(("u", self._update_id()), actor=cmd.actor, command=cmd)
            await self._fan_out(ClassifiedCommand(actor=cmd.actor), units=res.units)
            await self._step(
                ("u", self._update_id(), "state"), actor=cmd.actor, to_state=S.classified
            )
            self._move(S.classified)
            return self._status()

    @classify.validator
    def _classify_ok(self, cmd: ClassifyCommand) -> None:
        self._require("classify", S.appraisal_closed, S.classified)

    @workflow.update(name="publish")
    async def publish(self, cmd: PublishCommand) -> CycleStatus:
        """Publishes the results: everyone is told; the follow-up deadlines start."""
        async with self._lock:
            self._require("publish", S.classified)
            now = workflow.now()
            self.analysis_due = at_local(now, days=self.inp.followup_analysis_days)
            self.plan_due = at_local(now, days=self.inp.followup_plan_days)
            await self._fan_out(
                PublishUnitCommand(
                    actor=cmd.actor, analysis_due=self.analysis_due, plan_due=self.plan_due
                ),
                only_states=in_order(ALLOWED[Command.publish_unit]),
            )
            await self._step(("u", self._update_id()), actor=cmd.actor, to_state=S.published)
            self.deadlines[DeadlineKind.analysis] = {self.analysis_due}
            self.deadlines[DeadlineKind.plan] = {self.plan_due}
            self._notify(NoticeKind.results_published, "published")
            self._move(S.published)
            return self._status()

    @publish.validator
    def _publish_ok(self, cmd: PublishCommand) -> None:
        self._require("publish", S.classified)

    @workflow.update(name="cancel")
    async def cancel(self, cmd: CancelCommand) -> CycleStatus:
        """Cancels the whole cycle: every unit workflow ends."""
        async with self._lock:
            self._require("cancel", S.running, S.appraisal_closed, S.classified)
            await self._fan_out(cmd)
            await self._step(
                ("u", self._update_id()), actor=cmd.actor, to_state=S.cancelled, reason=cmd.reason
            )
            self._move(S.cancelled)
            return self._status()

    @cancel.validator
    def _cancel_ok(self, cmd: CancelCommand) -> None:
        self._require("cancel", S.running, S.appraisal_closed, S.classified)

    @workflow.signal(name="unit_deadlines")
    def unit_deadlines(self, moved: UnitDeadlines) -> None:
        """A unit's deadlines moved (reopen): its new instants get a missed digest too."""
        if self.state in (S.running,):
            self.deadlines[DeadlineKind.submission].add(moved.submission_deadline)
            self.deadlines[DeadlineKind.hard_lock].add(moved.hard_lock_at)
            self._wake = True

    @workflow.query(name="status")
    def status(self) -> CycleStatus:
        """The cycle's state."""
        return self._status()
