"""The four measurements, each with its raw baseline timed in the same run on the same services.

Every case returns ``Result``s: a project timing, a baseline timing and correctness checks
(the numbers mean nothing if the work was not done). Timings are wall-clock
``time.perf_counter`` around the measured loop only; setup, warm-up and checks are outside.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

import aiosmtplib
from sqlalchemy import func, text
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.cycle import CycleActivities
from activities.mail import MailActivities
from bench.stack import Seeded, Stack, dinh_hoa, draft_cycle, staff_editors
from bench.trivial import TRIVIAL_WORKFLOW, TrivialWorkflow
from contracts.ids import unit_workflow_id
from contracts.messages import DeadlineKind, NoticeKind, NoticeRequest
from core.db import session_scope, utcnow
from models.framework import (
    DerivedRule,
    Framework,
    Node,
)
from models.inputs import CriterionInput
from models.tables import AuditLog, Cycle, Entry, OutboxMessage, Unit
from notifications.mailer import SmtpMailer, build_message
from scoring.aggregate import score_sheet
from scoring.rules import RuleResult, evaluate, full_marks_inputs
from services import outbox
from services.sheet import framework_for, save_draft
from workflows.commands import start_cycle
from workflows.worker import build_worker

__all__ = [
    "Check",
    "Result",
    "Timing",
    "bench_edit_gate",
    "bench_mail",
    "bench_score",
    "bench_start",
]

ZERO = Decimal(0)
EXPLANATION = "Đã thực hiện đầy đủ theo Kế hoạch số 12/KH-UBND ngày 15/01/2024."
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Timing:
    """``count`` operations in ``seconds`` of wall-clock time."""

    count: int
    seconds: float

    @property
    def rate(self) -> float:
        """Operations per second."""
        return self.count / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class Check:
    """A correctness property of the run: what was expected and what was found."""

    what: str
    expected: object
    actual: object

    @property
    def ok(self) -> bool:
        """True when the run did exactly the expected work."""
        return self.expected == self.actual


@dataclass
class Result:
    """One row of the table: the project path against its raw baseline."""

    key: str
    title: str
    per: str  # what one operation is ("unit", "message", "save", "sheet")
    project: Timing
    baseline: Timing
    project_label: str
    baseline_label: str
    checks: list[Check] = field(default_factory=list)
    detail: str = ""  # where the project's time goes, when the case measures it

    @property
    def factor(self) -> float:
        """How many times faster the baseline is (baseline rate ÷ project rate)."""
        return self.baseline.rate / self.project.rate if self.project.rate > 0 else float("inf")

    @property
    def ok(self) -> bool:
        """Every check of this row passed."""
        return all(c.ok for c in self.checks)


async def _timed(fn: Callable[[], Awaitable[_T]]) -> tuple[_T, float]:
    start = time.perf_counter()
    out = await fn()
    return out, time.perf_counter() - start


async def _bounded(items: Sequence[_T], limit: int, fn: Callable[[_T], Awaitable[_R]]) -> list[_R]:
    sem = asyncio.Semaphore(limit)

    async def one(item: _T) -> _R:
        async with sem:
            return await fn(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


# --- 1. starting a cycle ---------------------------------------------------------------------


async def _raw_starts(client: Client, ids: Sequence[str], queue: str, concurrency: int) -> None:
    async def one(wf_id: str) -> None:
        await client.start_workflow(TRIVIAL_WORKFLOW, 0, id=wf_id, task_queue=queue)

    await _bounded(ids, concurrency, one)


async def _first_task_done(client: Client, wf_id: str) -> bool | None:
    """None: no such workflow; else whether the worker has completed its first task."""
    try:
        desc = await client.get_workflow_handle(wf_id).describe()
    except RPCError:
        return None
    # started, task scheduled, task started, task completed (and RUNNING: it sleeps on)
    return desc.status is WorkflowExecutionStatus.RUNNING and desc.history_length >= 4


async def _running(client: Client, ids: Sequence[str], concurrency: int) -> int:
    """How many of these workflows exist, run, and have had their first task run."""
    found = await _bounded(ids, concurrency, lambda i: _first_task_done(client, i))
    return sum(1 for f in found if f is True)


async def _settle(client: Client, ids: Sequence[str], concurrency: int) -> None:
    """Waits (untimed) until the worker has run the first task of every one of these workflows,
    so neither side's backlog spills into the other's timing (or into the worker's shutdown)."""
    pending = list(ids)
    deadline = time.monotonic() + 120
    while pending and time.monotonic() < deadline:
        done = await _bounded(pending, concurrency, lambda i: _first_task_done(client, i))
        pending = [wf_id for wf_id, ok in zip(pending, done, strict=True) if not ok]
        if pending:
            await asyncio.sleep(0.2)


async def bench_start(stack: Stack, seeded: Seeded, n: int) -> Result:
    """``start_cycle`` of an n-unit cycle until every unit workflow exists, vs. n raw starts."""
    engine, client, run = stack.engine, stack.client, stack.run_id
    units = seeded.units[:n]
    now = utcnow()
    cycle_id, warm_id = f"bench-start-{run}", f"bench-warm-{run}"
    fw_id = seeded.framework_id
    draft_cycle(engine, cycle_id=cycle_id, framework_id=fw_id, units=units, now=now)
    draft_cycle(engine, cycle_id=warm_id, framework_id=fw_id, units=units[:2], now=now)
    # The baseline uses the concurrency the start activity uses.
    concurrency = CycleActivities(engine, client).concurrency
    raw_ids = [f"bench-raw-{run}/{i:05d}" for i in range(n)]
    raw_after_ids = [f"bench-raw-after-{run}/{i:05d}" for i in range(n)]
    project_worker = build_worker(
        client, engine=engine, settings=stack.settings, task_queue=stack.task_queue
    )
    raw_worker = Worker(client, task_queue=stack.raw_task_queue, workflows=[TrivialWorkflow])
    async with project_worker, raw_worker:
        # Warm-up: connections, worker caches, sandbox imports of both workflow types.
        await start_cycle(client, engine, warm_id, task_queue=stack.task_queue)
        warm_raw = [f"bench-raw-warm-{run}/{i}" for i in range(2)]
        await _raw_starts(client, warm_raw, stack.raw_task_queue, concurrency)

        await _settle(
            client, [*warm_raw, *(unit_workflow_id(warm_id, u) for u in units[:2])], concurrency
        )

        _, raw_s = await _timed(
            lambda: _raw_starts(client, raw_ids, stack.raw_task_queue, concurrency)
        )
        _, raw_settle_s = await _timed(lambda: _settle(client, raw_ids, concurrency))
        started, project_s = await _timed(
            lambda: start_cycle(client, engine, cycle_id, task_queue=stack.task_queue)
        )
        unit_ids = [unit_workflow_id(cycle_id, u) for u in units]
        _, settle_s = await _timed(lambda: _settle(client, unit_ids, concurrency))
        # The baseline again after the project's run: the mean of both cancels the drift of a
        # server whose database grows and of a machine whose load changes.
        _, raw_after_s = await _timed(
            lambda: _raw_starts(client, raw_after_ids, stack.raw_task_queue, concurrency)
        )
        await _settle(client, raw_after_ids, concurrency)
        running_units = await _running(client, unit_ids, concurrency)
        running_raw = await _running(client, [*raw_ids, *raw_after_ids], concurrency)
    with session_scope(engine) as s:
        state = s.exec(select(Cycle.state).where(Cycle.id == cycle_id)).one()
    return Result(
        key="start",
        title="Start a cycle: every unit workflow exists",
        per="unit",
        project=Timing(n, project_s),
        baseline=Timing(2 * n, raw_s + raw_after_s),
        project_label=f"`start_cycle`: cycle workflow, `cycle.start_units` ({concurrency} at once)",
        baseline_label=f"`client.start_workflow` of a trivial workflow, {concurrency} at once",
        checks=[
            Check("units started (start_cycle's answer)", n, started),
            Check("unit workflows running", n, running_units),
            Check("baseline workflows running (run before and after)", 2 * n, running_raw),
            Check("cycle state in the database", "running", str(state)),
        ],
        detail=(
            f"raw starts before the project's run {n / raw_s:.1f}/s, after it "
            f"{n / raw_after_s:.1f}/s (the table shows both together); the worker had run the "
            f"first task of every unit workflow {settle_s:.1f} s after `start_cycle` answered "
            f"(trivial workflows: {raw_settle_s:.1f} s after their last start; both include "
            "polling `describe` every 0.2 s)"
        ),
    )


# --- 2. reminder mail ------------------------------------------------------------------------


def _reminders(cycle_id: str, units: Sequence[str], deadline: datetime) -> list[NoticeRequest]:
    """The 72-hour submission reminder of each unit, as its workflow would ask for it."""
    key = f"submission|{deadline.astimezone(UTC).isoformat()}|72h"
    return [
        NoticeRequest(
            kind=NoticeKind.reminder,
            cycle_id=cycle_id,
            unit_code=code,
            key=key,
            at=utcnow(),
            expires_at=deadline,
            deadline_kind=DeadlineKind.submission,
            deadline=deadline,
            offset="72h",
        )
        for code in units
    ]


def _keys(stack: Stack, since: int) -> list[str]:
    return [str(m["X-Appraisal-Key"]).strip() for m in stack.sink.messages[since:]]


async def bench_mail(stack: Stack, seeded: Seeded, n: int) -> list[Result]:
    """n reminder digests through the mail activity (render, outbox, send) vs. raw SMTP sends;
    then the same n notices again (a replay: nothing may be sent)."""
    engine, settings, run = stack.engine, stack.settings, stack.run_id
    units = seeded.units[:n]
    now = utcnow()
    cycle_id, warm_id = f"bench-mail-{run}", f"bench-mail-warm-{run}"
    fw_id = seeded.framework_id
    spec = draft_cycle(engine, cycle_id=cycle_id, framework_id=fw_id, units=units, now=now)
    draft_cycle(engine, cycle_id=warm_id, framework_id=fw_id, units=units[:1], now=now)
    mailer = SmtpMailer(settings)
    acts = MailActivities(engine, settings, mailer)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, current_attempt_scheduled_time=now)
    requests = _reminders(cycle_id, units, spec.submission_deadline)

    async def notify_all(reqs: Sequence[NoticeRequest]) -> int:
        sent = 0
        for req in reqs:  # one activity per unit's reminder, as the unit workflows run them
            res = await env.run(acts.notify, req)
            sent += res.sent
        return sent

    await notify_all(_reminders(warm_id, units[:1], spec.submission_deadline))  # warm-up

    before = len(stack.sink.messages)
    sent, project_s = await _timed(lambda: notify_all(requests))
    await stack.sink.wait_for(before + n, timeout=10)
    received = _keys(stack, before)

    before = len(stack.sink.messages)
    resent, replay_s = await _timed(lambda: notify_all(requests))
    replayed = len(stack.sink.messages) - before

    with session_scope(engine) as s:
        rows = s.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.idempotency_key).startswith(f"{cycle_id}|"))
            .order_by(col(OutboxMessage.id))
        ).all()
    keys = [r.idempotency_key for r in rows]
    status = outbox.statuses(engine, keys)
    messages = [
        build_message(
            from_addr=settings.mail_from,
            to_addr=r.to_addr,
            subject=r.subject,
            text=r.body_text,
            html=r.body_html,
            key=r.idempotency_key,
            date=now,
        )
        for r in rows
    ]

    async def raw_sends() -> None:
        # The same connection policy as the mailer: one connection, reused for every message.
        smtp = aiosmtplib.SMTP(hostname=settings.smtp_host, port=settings.smtp_port, timeout=30)
        async with smtp:
            for msg in messages:
                await smtp.send_message(msg)

    before = len(stack.sink.messages)
    _, raw_s = await _timed(raw_sends)
    await stack.sink.wait_for(before + len(messages), timeout=10)
    raw_received = len(stack.sink.messages) - before

    # What exactly-once costs on its own: the outbox's two short transactions per message (store
    # and claim, then mark sent), with nothing else (no notice, no rendering, no SMTP, no
    # thread hop), on copies of the same rows under keys of their own.
    def outbox_only() -> int:
        marked = 0
        for r in rows:
            item = outbox.OutboxItem(
                key=f"floor|{r.idempotency_key}",
                to_addr=r.to_addr,
                subject=r.subject,
                text=r.body_text,
                html=r.body_html,
                notice=f"floor|{r.notice_key}",
            )
            [row] = outbox.store_and_claim(engine, [item], at=now, token="floor", now=utcnow())
            assert row.id is not None
            marked += outbox.mark_sent(engine, row.id, now)
        return marked

    start = time.perf_counter()
    floor_marked = outbox_only()
    floor_s = time.perf_counter() - start
    per_raw = raw_s / max(len(messages), 1)
    per_floor = floor_s / max(len(rows), 1)

    raw_label = "`aiosmtplib` loop over the same messages on one reused connection"
    first = Result(
        key="mail",
        title="Reminder digests: render + outbox + SMTP",
        per="message",
        project=Timing(n, project_s),
        baseline=Timing(len(messages), raw_s),
        project_label=(
            "`MailActivities.notify` per reminder: build, render, outbox, send (reused "
            f"connection: {mailer.connections_opened} opened), mark"
        ),
        baseline_label=raw_label,
        checks=[
            Check("messages the sink received", n, len(received)),
            Check("distinct idempotency keys received", n, len(set(received))),
            Check("messages the activity reported sent", n, sent),
            Check("outbox rows marked sent", n, sum(1 for v in status.values() if v == "sent")),
            Check("raw sends the sink received", n, raw_received),
            Check("outbox alone: rows stored and marked sent", n, floor_marked),
        ],
        detail=(
            f"the outbox's own two transactions per message alone (store and claim, mark sent; "
            f"no notice, rendering or SMTP): {per_floor * 1000:.2f} ms, against "
            f"{per_raw * 1000:.2f} ms per raw send: a raw send plus them is "
            f"{(per_raw + per_floor) / per_raw:.2f}× the raw send"
        ),
    )
    replay = Result(
        key="mail-replay",
        title="The same reminders replayed (same keys)",
        per="notice",
        project=Timing(n, replay_s),
        baseline=Timing(len(messages), raw_s),
        project_label="`MailActivities.notify` again: finds the outbox rows, sends nothing",
        baseline_label=raw_label,
        checks=[
            Check("messages the sink received on replay", 0, replayed),
            Check("messages the activity reported sent on replay", 0, resent),
        ],
    )
    return [first, replay]


# --- 3. the edit gate ------------------------------------------------------------------------


_RAW_UPDATE = text(
    "UPDATE entry SET inputs = :inputs, self_score = :self_score, self_reason = :self_reason, "
    "explanation = :explanation, updated_at = :updated_at, updated_by = :updated_by "
    "WHERE id = :id"
)
_RAW_READ = text(
    "SELECT id, inputs, self_score, self_reason, explanation, updated_at, updated_by "
    "FROM entry WHERE cycle_id = :cycle_id ORDER BY id"
)


def bench_edit_gate(stack: Stack, seeded: Seeded, n: int) -> Result:
    """n draft saves through ``save_draft`` (one transaction each, as n API requests) vs. n raw
    ``UPDATE``s of the same rows with the same values (one transaction each)."""
    engine, run = stack.engine, stack.run_id
    framework = dinh_hoa()
    # what a unit scores itself (derived criteria are supplied by the system or the council)
    leaves = [leaf for leaf in framework.leaves() if not isinstance(leaf.rule, DerivedRule)]
    units = seeded.units[: -(-n // len(leaves))]
    cycle_id = f"bench-edit-{run}"
    fw_id = seeded.framework_id
    draft_cycle(engine, cycle_id=cycle_id, framework_id=fw_id, units=units, now=utcnow())
    editors = staff_editors(engine, cycle_id=cycle_id, units=units, framework=framework)
    pairs = [(units[i // len(leaves)], leaves[i % len(leaves)]) for i in range(n)]
    inputs = {leaf.code: full_marks_inputs(leaf) for leaf in leaves}
    with session_scope(engine) as s:
        ids = {u.code: u.id for u in s.exec(select(Unit).where(col(Unit.code).in_(units))).all()}
        for code, leaf in pairs:  # the rows exist: both sides update them
            unit_id = ids[code]
            assert unit_id is not None
            s.add(Entry(cycle_id=cycle_id, unit_id=unit_id, criterion_code=leaf.code))
        framework_for(s, s.exec(select(Cycle).where(Cycle.id == cycle_id)).one())  # warm cache
    now = utcnow()

    def audits() -> int:
        with session_scope(engine) as s:
            return s.exec(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.cycle_id == cycle_id, AuditLog.action == "draft")
            ).one()

    audit_before = audits()
    start = time.perf_counter()
    for code, leaf in pairs:
        with session_scope(engine) as s:
            save_draft(
                s,
                cycle_id=cycle_id,
                unit_code=code,
                criterion_code=leaf.code,
                editor=editors[code],
                now=now,
                inputs=inputs[leaf.code],
                explanation=EXPLANATION,
            )
    project_s = time.perf_counter() - start
    audit_rows = audits() - audit_before

    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(_RAW_READ, {"cycle_id": cycle_id})]
    saved = sum(
        1
        for r in rows
        if r["self_score"] is not None
        and r["explanation"] == EXPLANATION
        and str(r["updated_by"]).endswith("-canbo")
    )
    start = time.perf_counter()
    updated = 0
    for row in rows:
        with engine.begin() as conn:
            updated += conn.execute(_RAW_UPDATE, row).rowcount
    raw_s = time.perf_counter() - start
    with engine.connect() as conn:
        after = [dict(r._mapping) for r in conn.execute(_RAW_READ, {"cycle_id": cycle_id})]
    return Result(
        key="edit",
        title="Edit gate: draft saves",
        per="save",
        project=Timing(n, project_s),
        baseline=Timing(len(rows), raw_s),
        project_label="`save_draft` (unit lock, state/assignment/hard-lock checks, rule, audit)",
        baseline_label="raw SQL `UPDATE entry … WHERE id = ?`, one transaction each",
        checks=[
            Check("rows saved through the gate", n, saved),
            Check("audit rows written", n, audit_rows),
            Check("rows the raw UPDATE touched", n, updated),
            Check("raw UPDATE wrote the same values", True, after == rows),
        ],
    )


# --- 4. scoring a whole sheet ----------------------------------------------------------------


def _evaluate_all(
    framework: Framework, leaves: Sequence[Node], inputs: dict[str, CriterionInput]
) -> dict[str, RuleResult]:
    places, rounding = framework.decimal_places, framework.rounding
    return {
        leaf.code: evaluate(leaf, inputs[leaf.code], decimal_places=places, rounding=rounding)
        for leaf in leaves
    }


def bench_score(n: int, *, baseline_repeat: int = 20) -> Result:
    """n whole Định Hóa sheets (every leaf evaluated, then aggregated) vs. a Decimal sum of
    the same leaf scores (repeated ``baseline_repeat`` times as often: it is that quick)."""
    framework = dinh_hoa()
    leaves = framework.leaves()
    inputs = {leaf.code: full_marks_inputs(leaf) for leaf in leaves}
    results = _evaluate_all(framework, leaves, inputs)  # warm-up and reference
    sheet = score_sheet(framework, results)
    numbers = [r.score for r in results.values()]
    start = time.perf_counter()
    for _ in range(n):
        sheet = score_sheet(framework, _evaluate_all(framework, leaves, inputs))
    project_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(n):
        results = _evaluate_all(framework, leaves, inputs)
    evaluate_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(n):
        score_sheet(framework, results)
    aggregate_s = time.perf_counter() - start
    reps = n * baseline_repeat
    total = ZERO
    start = time.perf_counter()
    for _ in range(reps):
        total = sum(numbers, ZERO)
    raw_s = time.perf_counter() - start
    return Result(
        key="score",
        title="Score a whole Định Hóa sheet (80 leaves)",
        per="sheet",
        project=Timing(n, project_s),
        baseline=Timing(reps, raw_s),
        project_label="`evaluate` on every leaf, then `score_sheet` (caps, exclusions, rounding)",
        baseline_label="`sum()` of the same 80 Decimal leaf scores",
        checks=[
            Check("leaves in the sheet", 80, len(leaves)),
            Check("score_sheet total equals the raw sum", total, sheet.total),
            Check("a diligent commune's total is the maximum", sheet.max_total, sheet.total),
        ],
        detail=(
            f"per sheet: the 80 `evaluate` calls {evaluate_s / n * 1000:.2f} ms, "
            f"`score_sheet` {aggregate_s / n * 1000:.2f} ms (timed separately, same run)"
        ),
    )
