"""The Temporal worker: the cycle and unit workflows and their activities, dependencies injected.

``appraisal worker`` calls ``run_worker(settings)``; tests build their own with
``build_worker(client, engine=…, settings=…, task_queue=…)``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.cycle import CycleActivities
from activities.mail import MailActivities
from activities.unit import UnitActivities
from core.db import make_engine
from core.settings import Settings
from core.temporal import connect
from notifications.mailer import Mailer, SmtpMailer
from workflows.cycle import CycleWorkflow
from workflows.unit import UnitWorkflow

__all__ = ["WORKFLOWS", "build_worker", "run_worker", "sandbox_runner"]

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


def build_worker(
    client: Client,
    *,
    engine: Engine,
    settings: Settings,
    task_queue: str | None = None,
    mailer: Mailer | None = None,
    max_concurrent_activities: int = 50,
    max_cached_workflows: int = 1000,
) -> Worker:
    """A worker with every workflow and activity of the cycle registered.

    ``max_cached_workflows=0`` (tests that stop a worker mid-cycle): no sticky queue, so the
    next worker gets every workflow task at once.
    """
    units = UnitActivities(engine)
    cycles = CycleActivities(engine, client)
    mail = MailActivities(engine, settings, mailer or SmtpMailer(settings))
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=[
            units.transition,
            cycles.start_units,
            cycles.fan_out,
            cycles.step,
            mail.notify,
        ],
        workflow_runner=sandbox_runner(),
        max_concurrent_activities=max_concurrent_activities,
        max_cached_workflows=max_cached_workflows,
    )


async def run_worker(settings: Settings) -> None:
    """Connects to Temporal and the database and runs the worker until SIGINT/SIGTERM."""
    client = await connect(settings)
    engine = make_engine(settings.sqlalchemy_url)
    worker = build_worker(client, engine=engine, settings=settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker polling %s on %s (namespace %s)",
        settings.temporal_task_queue,
        settings.temporal_address,
        settings.temporal_namespace,
    )
    try:
        async with worker:
            await stop.wait()
    finally:
        engine.dispose()
