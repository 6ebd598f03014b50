"""The Temporal worker: the cycle and unit workflows and their activities, dependencies injected.

``appraisal worker`` calls ``run_worker(settings)``; tests build their own with
``build_worker(client, engine=…, settings=…, task_queue=…)``. Both give a pair of workers: the
task queue ``q`` and the mail queue ``q-mail`` the workflows send their mail activities to.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress
from datetime import timedelta

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.cycle import CycleActivities
from activities.mail import MailActivities
from activities.unit import UnitActivities
from contracts.activities import mail_task_queue
from core.db import make_engine
from core.settings import Settings
from core.temporal import connect, metrics_runtime
from notifications.mailer import Mailer, SmtpMailer
from workflows.cycle import CycleWorkflow
from workflows.unit import UnitWorkflow

__all__ = ["WORKFLOWS", "AppWorkers", "build_worker", "run_worker", "sandbox_runner"]

log = logging.getLogger(__name__)

WORKFLOWS = [CycleWorkflow, UnitWorkflow]

# Only what workflows truly import, passed through so that their Pydantic classes are the same
# objects inside and outside the sandbox (and are not rebuilt for every workflow run): the
# contract package and the pure state and label modules. Nothing here touches the database.
PASSTHROUGH = (
    "contracts",
    "models.states",
    "models.labels",
    "pydantic",
    "pydantic_core",
)


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox with our modules passed through."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


class AppWorkers:
    """The two workers of one task queue ``q``, run together: ``q`` (the workflows, user
    commands, fan-out, and mail of workflows begun before the mail queue) and ``q-mail`` (the
    mail activity, with its own slots). Used like a ``Worker``: ``async with``, ``run()``,
    ``shutdown()``.
    """

    def __init__(self, main: Worker, mail: Worker) -> None:
        self.main = main
        self.mail = mail

    @property
    def task_queue(self) -> str:
        """The main task queue (the mail one is ``mail_task_queue(task_queue)``)."""
        return self.main.task_queue

    async def run(self) -> None:
        """Runs both until one stops or fails (then stops the other and re-raises)."""
        runs = [asyncio.create_task(w.run()) for w in (self.main, self.mail)]
        try:
            await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self.shutdown()
            for run in runs:
                await run

    async def shutdown(self) -> None:
        """Stops both at once, each draining its in-flight activities (one drain period).
        Only for workers started by ``run``."""
        await asyncio.gather(self.main.shutdown(), self.mail.shutdown())

    async def __aenter__(self) -> AppWorkers:
        await self.main.__aenter__()
        try:
            await self.mail.__aenter__()
        except BaseException:
            await self.main.__aexit__(None)
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *args: object) -> None:
        await asyncio.gather(
            self.main.__aexit__(exc_type, *args), self.mail.__aexit__(exc_type, *args)
        )


def build_worker(
    client: Client,
    *,
    engine: Engine,
    settings: Settings,
    task_queue: str | None = None,
    mailer: Mailer | None = None,
    max_concurrent_activities: int = 50,
    max_concurrent_mail_activities: int | None = None,
    max_cached_workflows: int = 1000,
    graceful_shutdown_timeout: timedelta = timedelta(0),
) -> AppWorkers:
    """The workers of a task queue: every workflow and activity of the cycle on ``task_queue``
    (default ``settings.temporal_task_queue``), and the mail activity on its mail queue with
    ``max_concurrent_mail_activities`` slots (default ``settings.worker_max_mail_activities``).

    ``max_cached_workflows=0`` (tests that stop a worker mid-cycle): no sticky queue, so the
    next worker gets every workflow task at once.
    """
    queue = task_queue or settings.temporal_task_queue
    units = UnitActivities(engine)
    cycles = CycleActivities(engine, client)
    mail = MailActivities(engine, settings, mailer or SmtpMailer(settings))
    main = Worker(
        client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=[
            units.transition,
            cycles.start_units,
            cycles.fan_out,
            cycles.step,
            # Workflows begun before the mail queue (no patch marker) still send from here.
            mail.notify,
        ],
        workflow_runner=sandbox_runner(),
        max_concurrent_activities=max_concurrent_activities,
        max_cached_workflows=max_cached_workflows,
        graceful_shutdown_timeout=graceful_shutdown_timeout,
    )
    mail_worker = Worker(
        client,
        task_queue=mail_task_queue(queue),
        activities=[mail.notify],
        max_concurrent_activities=max_concurrent_mail_activities
        or settings.worker_max_mail_activities,
        graceful_shutdown_timeout=graceful_shutdown_timeout,
    )
    return AppWorkers(main, mail_worker)


async def run_worker(settings: Settings) -> None:
    """Connects to Temporal and the database and runs the worker until SIGINT/SIGTERM.

    Two workers share the process: the main task queue (workflows, user commands, fan-out)
    and the mail queue with its own slots, so a burst of reminders cannot take every activity
    slot from user commands. On SIGTERM both stop polling and give in-flight activities
    ``worker_shutdown_seconds`` to finish (compose's stop_grace_period is above it).
    """
    runtime = (
        metrics_runtime(settings.worker_metrics_port) if settings.worker_metrics_port else None
    )
    client = await connect(settings, runtime=runtime)
    engine = make_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    drain = timedelta(seconds=settings.worker_shutdown_seconds)
    workers = build_worker(
        client,
        engine=engine,
        settings=settings,
        max_concurrent_activities=settings.worker_max_activities,
        max_concurrent_mail_activities=settings.worker_max_mail_activities,
        graceful_shutdown_timeout=drain,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker polling %s and %s on %s (namespace %s)",
        settings.temporal_task_queue,
        mail_task_queue(settings.temporal_task_queue),
        settings.temporal_address,
        settings.temporal_namespace,
    )
    run = asyncio.create_task(workers.run())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([run, stopped], return_when=asyncio.FIRST_COMPLETED)
        log.info("worker stopping: draining in-flight activities for up to %s", drain)
        # Both drain at the same time, so the whole stop stays within one drain period.
        await workers.shutdown()
        await run  # a worker that failed makes the process fail (Docker restarts it)
    finally:
        stopped.cancel()
        engine.dispose()
