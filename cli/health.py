"""`appraisal worker --check`: the container health check of a worker.

Healthy means what the worker needs: the database answers, and a worker on this host polls
both its task queues (the main one and the mail one) — a worker stuck without a Temporal
connection, or one that lost its database, is restarted by Docker.
"""

from __future__ import annotations

import asyncio
import socket

from sqlalchemy import text

from core.db import make_engine
from core.settings import Settings


async def _pollers_on_this_host(settings: Settings) -> dict[str, bool]:
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    from core.temporal import connect

    client = await connect(settings)
    suffix = f"@{socket.gethostname()}"
    found: dict[str, bool] = {}
    for queue in (settings.temporal_task_queue, settings.mail_task_queue):
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            )
        )
        found[queue] = any(p.identity.endswith(suffix) for p in resp.pollers)
    return found


def check_worker(settings: Settings) -> int:
    """0 when the database answers and this host's worker polls both queues, else 1."""
    problems: list[str] = []
    engine = make_engine(settings.sqlalchemy_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    finally:
        engine.dispose()
    try:
        for queue, polling in asyncio.run(_pollers_on_this_host(settings)).items():
            if not polling:
                problems.append(f"no poller of this host on task queue {queue}")
    except Exception as exc:
        problems.append(f"temporal: {type(exc).__name__}")
    for problem in problems:
        print(f"unhealthy: {problem}")
    if not problems:
        print("healthy")
    return 1 if problems else 0
