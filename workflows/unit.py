"""One unit's yearly cycle as a durable workflow (id ``cycle-{cycle_id}/unit-{unit_code}``).

States: assigning → drafting → unit_review → submitted → appraising → explanation (rounds) →
finalised → classified → published, plus not_submitted (at the hard lock) and cancelled.

- Transitions are updates. The validator refuses what the state machine forbids
  (``workflows.states``); the handler takes the workflow's lock, checks again, runs the
  ``unit.transition`` activity that commits the change in the database (projection, audit,
  snapshot…), then moves the state and upserts the search attributes. Workflows recorded
  under ``LOCAL_TRANSITION_PATCH`` alone ran it as a local activity (see ``_commit``).
- Time: the main loop sleeps with ``wait_condition(..., timeout=next_event - now)`` and
  recomputes everything after each wake-up, so a deadline moved by an update moves the lock,
  the round's end and the reminders at once. Timer-driven transitions (hard lock, end of an
  explanation round, start of appraisal at the lock) run under the same lock as the updates.
- Mail never blocks a deadline: each notice is a ``mail.notify`` activity started in the
  background (its retries back off on their own); the workflow only waits for them at the end.
- Edits (drafts, appraisal scores, answers) never reach the workflow: the history stays small.
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
    from contracts import search_attributes as sa
    from contracts.activities import (
        MailActivitiesInterface,
        UnitActivitiesInterface,
        mail_task_queue,
    )
    from contracts.ids import UNIT_WORKFLOW, cycle_workflow_id, request_key
    from contracts.messages import (
        ActivityResult,
        AssignCommand,
        CancelCommand,
        ClassifiedCommand,
        CloseAppraisalCommand,
        CloseRoundCommand,
        DeadlineKind,
        FinaliseCommand,
        FollowupDoneCommand,
        NoticeKind,
        NoticeRequest,
        PublishUnitCommand,
        ReopenCommand,
        RequestExplanationCommand,
        ReturnCommand,
        SetDeadlinesCommand,
        StartAppraisalCommand,
        StartReviewCommand,
        SubmitCommand,
        TransitionArgs,
        UnitCommand,
        UnitDeadlines,
        UnitInput,
        UnitState,
        UnitStatus,
    )
    from models.labels import UNIT_STATE_VI
    from models.states import BEFORE_SUBMISSION, UNDER_APPRAISAL
    from workflows.states import (
        as_refusal,
        check_command,
        refuse,
        refuse_state,
        reopen_required,
    )
    from workflows.timeline import Reminder, at_local, local_text, plan_reminders

__all__ = [
    "ACTIVITY_TRANSITION_PATCH",
    "LOCAL_TRANSITION_PATCH",
    "MAIL_QUEUE_PATCH",
    "UnitWorkflow",
    "send_notice",
]

S = UnitState
UPDATE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
)
TIMER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=0,  # a lock or a round's end must eventually happen
)
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=0,
)
REMINDER_KIND = {
    DeadlineKind.submission: NoticeKind.reminder,
    DeadlineKind.hard_lock: NoticeKind.reminder,
    DeadlineKind.explanation: NoticeKind.explanation_reminder,
    DeadlineKind.analysis: NoticeKind.followup_reminder,
    DeadlineKind.plan: NoticeKind.followup_reminder,
}
MAX_SLEEP = timedelta(days=30)
# The mail activity's own task queue and its heartbeat (see ``send_notice``).
MAIL_QUEUE_PATCH = "mail-task-queue"
# The transition as a local activity (issue 13, see ``UnitWorkflow._commit``) ...
LOCAL_TRANSITION_PATCH = "local-transition"
# ... and back to a regular activity for the workflows begun since (same place).
ACTIVITY_TRANSITION_PATCH = "transition-activity"
MAIL_HEARTBEAT = timedelta(seconds=20)


async def send_notice(req: NoticeRequest) -> None:
    """Runs the mail activity for a notice (unit and cycle workflows alike).

    Retries until sent; a notice with a deadline stops an hour after it (the activity drops
    it once the deadline has passed). A failure never fails the workflow.

    Since ``MAIL_QUEUE_PATCH`` the activity runs on the mail task queue (``<queue>-mail``, its
    own worker slots: a burst of reminders never takes the slots user commands need) and
    heartbeats each message (``MAIL_HEARTBEAT``: a crashed worker's mail resumes within
    seconds, not after the start-to-close timeout). A workflow whose history has no marker
    (begun before the patch) keeps the main queue, as the histories it replays recorded.
    """
    horizon = timedelta(days=7)
    if req.expires_at is not None:
        horizon = max(req.expires_at - req.at, timedelta(minutes=1)) + timedelta(hours=1)
    routing: dict[str, Any] = {}
    if workflow.patched(MAIL_QUEUE_PATCH):
        routing = {
            "task_queue": mail_task_queue(workflow.info().task_queue),
            "heartbeat_timeout": MAIL_HEARTBEAT,
        }
    try:
        await workflow.execute_activity_method(
            MailActivitiesInterface.notify,
            req,
            start_to_close_timeout=timedelta(minutes=2),
            schedule_to_close_timeout=horizon,
            retry_policy=MAIL_RETRY,
            **routing,
        )
    except ActivityError as exc:
        workflow.logger.warning("notice %s/%s not delivered: %s", req.kind, req.key, exc)


@workflow.defn(name=UNIT_WORKFLOW)
class UnitWorkflow:
    """The process of one unit in one cycle."""

    @workflow.init
    def __init__(self, inp: UnitInput) -> None:
        self.inp = inp
        self.state = S.assigning
        now = workflow.now()
        self.submission_deadline = inp.submission_deadline
        self.hard_lock_at = inp.hard_lock_at
        self.submission_set_at = now
        self.lock_set_at = now
        self.explanation_deadline: datetime | None = None
        self.round_started: datetime | None = None
        self.round_no = 0
        self.submissions = 0
        self.days_late = 0
        self.snapshot_hash: str | None = None
        self.published_at: datetime | None = None
        self.analysis_due: datetime | None = None
        self.plan_due: datetime | None = None
        self.followups_done: set[str] = set()
        self.opened = False
        self.counters: dict[str, int] = {}
        self.handled: set[str] = set()
        self.reminders_sent = 0
        self._lock = asyncio.Lock()
        self._wake = False
        self._mail: list[asyncio.Task[None]] = []

    # --- main loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: UnitInput) -> UnitStatus:
        """Runs the unit's year until it is published (and its follow-ups are due) or cancelled."""
        self._details()
        while True:
            async with self._lock:
                await self._fire_due()
                if self._finished():
                    break
                wake_at = self._next_event()
            self._wake = False
            timeout = max(wake_at - workflow.now(), timedelta(milliseconds=1))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._wake, timeout=timeout)
        await workflow.wait_condition(workflow.all_handlers_finished)
        for task in list(self._mail):
            await task
        return self._status()

    def _finished(self) -> bool:
        if self.state is S.cancelled:
            return True
        if self.state is not S.published:
            return False
        now = workflow.now()
        return all(
            kind in self.followups_done or due is None or now >= due
            for kind, due in (("analysis", self.analysis_due), ("plan", self.plan_due))
        )

    def _reminders(self) -> list[tuple[DeadlineKind, Reminder]]:
        offsets = self.inp.reminder_offsets_hours
        out: list[tuple[DeadlineKind, Reminder]] = []

        def add(kind: DeadlineKind, deadline: datetime, after: datetime) -> None:
            out.extend(
                (kind, r) for r in plan_reminders(kind.value, deadline, offsets, after=after)
            )

        if self.state in BEFORE_SUBMISSION:
            opened = max(self.inp.opens_at, self.submission_set_at)
            add(DeadlineKind.submission, self.submission_deadline, opened)
            after_lock = max(self.inp.opens_at, self.lock_set_at, self.submission_deadline)
            add(DeadlineKind.hard_lock, self.hard_lock_at, after_lock)
        elif self.state is S.explanation and self.explanation_deadline and self.round_started:
            add(DeadlineKind.explanation, self.explanation_deadline, self.round_started)
        elif self.state is S.published and self.published_at is not None:
            for kind, due in (
                (DeadlineKind.analysis, self.analysis_due),
                (DeadlineKind.plan, self.plan_due),
            ):
                if due is not None and kind.value not in self.followups_done:
                    add(kind, due, self.published_at)
        return out

    def _next_event(self) -> datetime:
        now = workflow.now()
        times = [now + MAX_SLEEP]
        if not self.opened:
            times.append(self.inp.opens_at)
        if self.state in BEFORE_SUBMISSION or self.state is S.submitted:
            times.append(self.hard_lock_at)
        if self.state is S.explanation and self.explanation_deadline is not None:
            times.append(self.explanation_deadline)
        if self.state is S.published:
            times.extend(d for d in (self.analysis_due, self.plan_due) if d is not None and d > now)
        times.extend(r.at for _, r in self._reminders() if r.key not in self.handled)
        return min(times)

    async def _fire_due(self) -> None:
        """Everything whose time has come, in order (under the lock)."""
        now = workflow.now()
        if not self.opened and now >= self.inp.opens_at and self.state is not S.cancelled:
            self.opened = True
            self._notify(NoticeKind.cycle_opened, "open")
        if self.state in BEFORE_SUBMISSION and now >= self.hard_lock_at:
            await self._commit(
                "system",
                ("lock", self._iso(self.hard_lock_at)),
                to_state=S.not_submitted,
                timer=True,
            )
            self._move(S.not_submitted)
            self._notify(NoticeKind.locked, f"lock-{self._iso(self.hard_lock_at)}")
        if self.state is S.submitted and now >= self.hard_lock_at:
            await self._commit(
                "system", ("appraise", str(self.submissions)), to_state=S.appraising, timer=True
            )
            self._move(S.appraising)
        if (
            self.state is S.explanation
            and self.explanation_deadline
            and now >= self.explanation_deadline
        ):
            await self._commit(
                "system", ("round-end", str(self.round_no)), to_state=S.appraising, timer=True
            )
            self.explanation_deadline = None
            self._move(S.appraising)
        due: dict[tuple[DeadlineKind, datetime], list[Reminder]] = {}
        for kind, r in self._reminders():
            if r.at <= now and r.key not in self.handled:
                due.setdefault((kind, r.deadline), []).append(r)
        for (kind, deadline), reminders in due.items():
            # After an outage several reminders of one deadline may be due at once: only the
            # latest is worth sending; the others are dropped.
            for r in reminders:
                self.handled.add(r.key)
            latest = max(reminders, key=lambda r: r.at)
            if now < deadline:
                self.reminders_sent += 1
                self._notify(
                    REMINDER_KIND[kind],
                    latest.key,
                    deadline_kind=kind,
                    deadline=deadline,
                    offset=latest.offset,
                    expires_at=deadline,
                    round_no=self.round_no,
                )

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _iso(t: datetime) -> str:
        return t.isoformat()

    def _next(self, name: str) -> int:
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.counters[name]

    def _status(self) -> UnitStatus:
        return UnitStatus(
            cycle_id=self.inp.cycle_id,
            unit_code=self.inp.unit_code,
            workflow_id=workflow.info().workflow_id,
            state=self.state,
            submission_deadline=self.submission_deadline,
            hard_lock_at=self.hard_lock_at,
            explanation_deadline=self.explanation_deadline,
            round_no=self.round_no,
            max_rounds=self.inp.max_explanation_rounds,
            submissions=self.submissions,
            days_late=self.days_late,
            snapshot_hash=self.snapshot_hash,
            analysis_due=self.analysis_due,
            plan_due=self.plan_due,
            followups_done=tuple(sorted(self.followups_done)),
            reminders_sent=self.reminders_sent,
        )

    def _details(self) -> None:
        parts = [f"**{UNIT_STATE_VI[self.state]}**"]
        if self.state in BEFORE_SUBMISSION:
            parts.append(f"Hạn gửi: {local_text(self.submission_deadline)}")
            parts.append(f"Khóa: {local_text(self.hard_lock_at)}")
        if self.state is S.explanation and self.explanation_deadline:
            parts.append(
                f"Giải trình vòng {self.round_no} đến {local_text(self.explanation_deadline)}"
            )
        if self.days_late:
            parts.append(f"Gửi chậm {self.days_late} ngày")
        workflow.set_current_details(" · ".join(parts))

    def _move(self, state: UnitState) -> None:
        self.state = state
        if self.inp.search_attributes:
            workflow.upsert_search_attributes([sa.STATE.value_set(state.value)])
        self._details()
        self._wake = True

    def _key(self, *parts: str) -> str:
        return request_key(workflow.info().workflow_id, *parts)

    async def _commit(
        self,
        actor: str,
        key_parts: tuple[str, ...],
        *,
        command: UnitCommand | None = None,
        to_state: UnitState | None = None,
        seq: int = 0,
        timer: bool = False,
    ) -> ActivityResult:
        args = TransitionArgs(
            cycle_id=self.inp.cycle_id,
            unit_code=self.inp.unit_code,
            request_key=self._key(*key_parts),
            at=workflow.now(),
            actor=actor,
            command=command,
            seq=seq,
            to_state=to_state,
        )
        timeout = timedelta(seconds=60)
        retry = TIMER_RETRY if timer else UPDATE_RETRY
        # The transaction is a regular activity: an activity task the server dispatches as the
        # worker frees a slot. Histories recorded under ``LOCAL_TRANSITION_PATCH`` (and no
        # ``ACTIVITY_TRANSITION_PATCH``) ran it as a local activity, which the worker running
        # the workflow task runs itself, holding the task open meanwhile. Measured on one 2-core
        # machine with 500 units sharing one hard lock (bench/lock.py, a fresh stack, the dev
        # server's store in WAL mode, core.temporal.DEV_SERVER_PRAGMAS): the last unit locked
        # 9.8 and 16.8 s after the lock as activities, 12.8 and 13.8 s as local activities,
        # i.e. no difference beyond the noise; a submit's p95 ÷ a raw update's was 2.4–2.9× as
        # an activity, 1.6–2.4× as a local one. The larger differences seen before (20–25 s
        # against 10–12 s one way, 23.8 s against 35.6 s the other) came from the dev server's
        # rollback-journal store, which made even raw workflows' timers drain at ~8/s.
        # Those histories replay as they ran (docs/workflows.md).
        # (``workflow.patched`` is memoized for the run: the first call decides both.)
        if workflow.patched(ACTIVITY_TRANSITION_PATCH):
            local = False
        else:
            local = workflow.patched(LOCAL_TRANSITION_PATCH)
        try:
            if local:  # a history recorded between the two patches
                result = await workflow.execute_local_activity_method(
                    UnitActivitiesInterface.transition,
                    args,
                    start_to_close_timeout=timeout,
                    retry_policy=retry,
                )
            else:
                result = await workflow.execute_activity_method(
                    UnitActivitiesInterface.transition,
                    args,
                    start_to_close_timeout=timeout,
                    retry_policy=retry,
                )
        except ActivityError as exc:
            raise as_refusal(exc) from None
        return result

    def _notify(self, kind: NoticeKind, key: str, **fields: Any) -> None:
        req = NoticeRequest(
            kind=kind,
            cycle_id=self.inp.cycle_id,
            unit_code=self.inp.unit_code,
            key=key,
            at=workflow.now(),
            **fields,
        )
        self._mail.append(asyncio.create_task(send_notice(req)))

    def _update_key(self) -> tuple[str, ...]:
        info = workflow.current_update_info()
        return ("u", info.id if info is not None else str(workflow.uuid4()))

    # --- validation --------------------------------------------------------------------------

    def _check(self, command: str) -> None:
        # Every validator (and handler) asks the one state module, through check_command.
        check_command(command, self.state, workflow.now(), self.hard_lock_at)

    def _future(self, *times: datetime | None) -> None:
        now = workflow.now()
        for t in times:
            if t is not None and t <= now:
                raise refuse(
                    "deadline_in_past",
                    f"Thời hạn {local_text(t)} đã qua.",
                    f"The deadline {t.isoformat()} is in the past.",
                )

    def _order(self, submission: datetime, lock: datetime) -> None:
        if lock < submission:
            raise refuse(
                "invalid_deadline",
                "Thời điểm khóa phải sau hạn gửi kết quả.",
                "The hard lock must not fall before the submission deadline.",
            )

    # --- updates: the unit -------------------------------------------------------------------

    @workflow.update(name="assign")
    async def assign(self, cmd: AssignCommand) -> UnitStatus:
        """The unit office (re)assigns criteria to staff; assigning → drafting."""
        async with self._lock:
            self._check("assign")
            res = await self._commit(cmd.actor, self._update_key(), command=cmd)
            version = self._next("assign")
            if res.state is not None and res.state is not self.state:
                self._move(res.state)
            if res.usernames:
                self._notify(NoticeKind.assigned, f"v{version}", usernames=res.usernames)
            return self._status()

    @assign.validator
    def _assign_ok(self, cmd: AssignCommand) -> None:
        self._check("assign")

    @workflow.update(name="start_review")
    async def start_review(self, cmd: StartReviewCommand) -> UnitStatus:
        """The unit office starts its review: drafting → unit_review."""
        async with self._lock:
            self._check("start_review")
            await self._commit(cmd.actor, self._update_key(), command=cmd, to_state=S.unit_review)
            self._move(S.unit_review)
            return self._status()

    @start_review.validator
    def _start_review_ok(self, cmd: StartReviewCommand) -> None:
        self._check("start_review")

    @workflow.update(name="return")
    async def return_criteria(self, cmd: ReturnCommand) -> UnitStatus:
        """The office returns criteria to their staff (only those reopen for them)."""
        async with self._lock:
            self._check("return")
            res = await self._commit(cmd.actor, self._update_key(), command=cmd)
            n = self._next("return")
            self._notify(
                NoticeKind.returned,
                f"r{n}",
                usernames=res.usernames,
                codes=cmd.codes,
                reason=cmd.comment,
            )
            return self._status()

    @return_criteria.validator
    def _return_ok(self, cmd: ReturnCommand) -> None:
        self._check("return")

    @workflow.update(name="submit")
    async def submit(self, cmd: SubmitCommand) -> UnitStatus:
        """Submission: the sheet is frozen in a hashed snapshot; late if past the deadline."""
        async with self._lock:
            self._check("submit")
            seq = self.submissions + 1
            res = await self._commit(cmd.actor, self._update_key(), command=cmd, seq=seq)
            self.submissions = seq
            self.days_late = res.days_late
            self.snapshot_hash = res.snapshot_hash
            self._move(S.submitted)
            self._notify(NoticeKind.submitted, f"s{seq}")
            return self._status()

    @submit.validator
    def _submit_ok(self, cmd: SubmitCommand) -> None:
        self._check("submit")

    @workflow.update(name="start_appraisal")
    async def start_appraisal(self, cmd: StartAppraisalCommand) -> UnitStatus:
        """The council starts appraising a submitted unit before the hard lock."""
        async with self._lock:
            self._check("start_appraisal")
            await self._commit(cmd.actor, self._update_key(), command=cmd, to_state=S.appraising)
            self._move(S.appraising)
            return self._status()

    @start_appraisal.validator
    def _start_appraisal_ok(self, cmd: StartAppraisalCommand) -> None:
        self._check("start_appraisal")

    def _check_round(self, cmd: RequestExplanationCommand) -> None:
        self._check("request_explanation")
        if self.round_no >= self.inp.max_explanation_rounds:
            raise refuse(
                "max_rounds_reached",
                f"Đã đủ {self.inp.max_explanation_rounds} vòng giải trình.",
                f"All {self.inp.max_explanation_rounds} explanation rounds have been used.",
            )
        self._future(cmd.deadline)

    @workflow.update(name="request_explanation")
    async def request_explanation(self, cmd: RequestExplanationCommand) -> UnitStatus:
        """The council flags criteria with questions; only those reopen until the deadline."""
        async with self._lock:
            self._check_round(cmd)
            now = workflow.now()
            deadline = cmd.deadline or at_local(now, days=self.inp.explanation_round_days)
            cmd = cmd.model_copy(update={"deadline": deadline})
            n = self.round_no + 1
            await self._commit(cmd.actor, self._update_key(), command=cmd, seq=n)
            self.round_no = n
            self.round_started = now
            self.explanation_deadline = deadline
            self._move(S.explanation)
            self._notify(
                NoticeKind.explanation_requested,
                f"round-{n}",
                round_no=n,
                deadline_kind=DeadlineKind.explanation,
                deadline=deadline,
                expires_at=deadline,
            )
            return self._status()

    @request_explanation.validator
    def _request_explanation_ok(self, cmd: RequestExplanationCommand) -> None:
        self._check_round(cmd)

    @workflow.update(name="close_round")
    async def close_round(self, cmd: CloseRoundCommand) -> UnitStatus:
        """Closes the open round early with what arrived: explanation → appraising."""
        async with self._lock:
            self._check("close_round")
            await self._commit(cmd.actor, self._update_key(), command=cmd, to_state=S.appraising)
            self.explanation_deadline = None
            self._move(S.appraising)
            return self._status()

    @close_round.validator
    def _close_round_ok(self, cmd: CloseRoundCommand) -> None:
        self._check("close_round")

    @workflow.update(name="finalise")
    async def finalise(self, cmd: FinaliseCommand) -> UnitStatus:
        """The council finalises the appraisal: the final total and a final snapshot."""
        async with self._lock:
            self._check("finalise")
            await self._commit(cmd.actor, self._update_key(), command=cmd, to_state=S.finalised)
            self._move(S.finalised)
            return self._status()

    @finalise.validator
    def _finalise_ok(self, cmd: FinaliseCommand) -> None:
        self._check("finalise")

    @workflow.update(name="followup_done")
    async def followup_done(self, cmd: FollowupDoneCommand) -> UnitStatus:
        """The unit office reports the analysis report or the remediation plan done."""
        async with self._lock:
            self._check("followup_done")
            if cmd.followup not in self.followups_done:
                await self._commit(cmd.actor, self._update_key(), command=cmd)
                self.followups_done.add(cmd.followup)
                self._wake = True
            return self._status()

    @followup_done.validator
    def _followup_done_ok(self, cmd: FollowupDoneCommand) -> None:
        self._check("followup_done")

    # --- updates: the coordinator and the cycle ----------------------------------------------

    def _check_reopen(self, cmd: ReopenCommand) -> None:
        self._check("reopen")
        self._future(cmd.submission_deadline, cmd.hard_lock_at)
        lock = cmd.hard_lock_at or self.hard_lock_at
        if lock <= workflow.now():
            raise refuse(
                "new_lock_required",
                "Đã qua thời điểm khóa: cần đặt thời điểm khóa mới khi mở lại.",
                "The hard lock has passed: reopening needs a new hard lock.",
            )
        self._order(cmd.submission_deadline or self.submission_deadline, lock)

    @workflow.update(name="reopen")
    async def reopen(self, cmd: ReopenCommand) -> UnitStatus:
        """The coordinator reopens a submitted or locked unit, with a reason: → drafting."""
        async with self._lock:
            self._check_reopen(cmd)
            await self._commit(cmd.actor, self._update_key(), command=cmd)
            now = workflow.now()
            self.submission_deadline = cmd.submission_deadline or self.submission_deadline
            self.hard_lock_at = cmd.hard_lock_at or self.hard_lock_at
            # Reminder slots that fell while the unit was not drafting are not sent now.
            self.submission_set_at = self.lock_set_at = now
            self.explanation_deadline = None
            self.days_late = 0
            self._move(S.drafting)
            self._notify(NoticeKind.reopened, f"reopen-{self._next('reopen')}", reason=cmd.reason)
            await self._tell_cycle()
            return self._status()

    @reopen.validator
    def _reopen_ok(self, cmd: ReopenCommand) -> None:
        self._check_reopen(cmd)

    async def _tell_cycle(self) -> None:
        # The cycle workflow sends the coordinator's missed-deadline digests: it must know.
        handle = workflow.get_external_workflow_handle(cycle_workflow_id(self.inp.cycle_id))
        try:
            await handle.signal(
                "unit_deadlines",
                UnitDeadlines(
                    unit_code=self.inp.unit_code,
                    submission_deadline=self.submission_deadline,
                    hard_lock_at=self.hard_lock_at,
                ),
            )
        except Exception as exc:  # no cycle workflow (a unit started alone): nothing to tell
            workflow.logger.info("cycle not told of new deadlines: %s", exc)

    def _check_deadlines(self, cmd: SetDeadlinesCommand) -> None:
        # A lock or a round deadline that is already due (its timer may fire in this very
        # activation, after the update) is not moved by an extension: reopen instead. The lock
        # is the state module's rule (check_command); the round's end is this workflow's.
        if (
            self.state is S.explanation
            and self.explanation_deadline is not None
            and workflow.now() >= self.explanation_deadline
        ):
            raise reopen_required()
        self._check("set_deadlines")
        self._future(cmd.submission_deadline, cmd.hard_lock_at, cmd.explanation_deadline)
        self._order(
            cmd.submission_deadline or self.submission_deadline,
            cmd.hard_lock_at or self.hard_lock_at,
        )
        if cmd.explanation_deadline is not None and self.state is not S.explanation:
            raise refuse_state("set_deadlines", self.state)

    @workflow.update(name="set_deadlines")
    async def set_deadlines(self, cmd: SetDeadlinesCommand) -> UnitStatus:
        """Moves the unit's deadlines: the timers and reminders move with them."""
        async with self._lock:
            self._check_deadlines(cmd)
            await self._commit(cmd.actor, self._update_key(), command=cmd)
            now = workflow.now()
            if cmd.submission_deadline is not None:
                self.submission_deadline = cmd.submission_deadline
                self.submission_set_at = now
            if cmd.hard_lock_at is not None:
                self.hard_lock_at = cmd.hard_lock_at
                self.lock_set_at = now
            if cmd.explanation_deadline is not None:
                self.explanation_deadline = cmd.explanation_deadline
                self.round_started = now
            self._details()
            self._wake = True
            if self.state in BEFORE_SUBMISSION and (cmd.submission_deadline or cmd.hard_lock_at):
                self._notify(
                    NoticeKind.deadline_changed,
                    f"deadline-{self._next('deadline')}",
                    reason=cmd.reason,
                )
            return self._status()

    @set_deadlines.validator
    def _set_deadlines_ok(self, cmd: SetDeadlinesCommand) -> None:
        self._check_deadlines(cmd)

    def _check_close(self) -> None:
        # Before submission, only once the hard lock is due (check_command: AFTER_LOCK).
        self._check("close_appraisal")

    @workflow.update(name="close_appraisal")
    async def close_appraisal(self, cmd: CloseAppraisalCommand) -> UnitStatus:
        """The cycle closes the appraisal: this unit is finalised with what it has."""
        async with self._lock:
            self._check_close()
            await self._fire_due()  # a lock that is due happens first
            if self.state in UNDER_APPRAISAL:
                await self._commit(cmd.actor, self._update_key(), command=cmd, to_state=S.finalised)
                self.explanation_deadline = None
                self._move(S.finalised)
            return self._status()

    @close_appraisal.validator
    def _close_appraisal_ok(self, cmd: CloseAppraisalCommand) -> None:
        self._check_close()

    @workflow.update(name="classified")
    async def classified(self, cmd: ClassifiedCommand) -> UnitStatus:
        """The cycle wrote this unit's classification: → classified."""
        async with self._lock:
            self._check("classified")
            if self.state is not S.classified:
                await self._commit(
                    cmd.actor, self._update_key(), command=cmd, to_state=S.classified
                )
                self._move(S.classified)
            return self._status()

    @classified.validator
    def _classified_ok(self, cmd: ClassifiedCommand) -> None:
        self._check("classified")

    @workflow.update(name="publish_unit")
    async def publish_unit(self, cmd: PublishUnitCommand) -> UnitStatus:
        """Results are published: the unit is told; the follow-up deadlines start."""
        async with self._lock:
            self._check("publish_unit")
            await self._commit(cmd.actor, self._update_key(), command=cmd, to_state=S.published)
            self.published_at = workflow.now()
            self.analysis_due = cmd.analysis_due
            self.plan_due = cmd.plan_due
            self._move(S.published)
            self._notify(NoticeKind.unit_published, "published")
            return self._status()

    @publish_unit.validator
    def _publish_unit_ok(self, cmd: PublishUnitCommand) -> None:
        self._check("publish_unit")

    @workflow.update(name="cancel")
    async def cancel(self, cmd: CancelCommand) -> UnitStatus:
        """Cancels this unit's cycle (the workflow ends)."""
        async with self._lock:
            self._check("cancel")
            await self._commit(cmd.actor, self._update_key(), command=cmd, to_state=S.cancelled)
            self._move(S.cancelled)
            self._notify(NoticeKind.cancelled, "cancelled", reason=cmd.reason)
            return self._status()

    @cancel.validator
    def _cancel_ok(self, cmd: CancelCommand) -> None:
        self._check("cancel")

    @workflow.query(name="status")
    def status(self) -> UnitStatus:
        """The unit's state and deadlines."""
        return self._status()
