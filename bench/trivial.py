"""The baseline workflow of the start benchmark: starts, sets one long timer, sits there.

Like a unit workflow before its cycle opens (one workflow task, one timer, open for months),
minus everything the project adds. Kept in its own module: the worker's sandbox re-imports
workflow modules, so this one imports nothing but temporalio.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

__all__ = [
    "NOOP_ACTIVITY",
    "RAW_LOCK_ACTIVITY",
    "RAW_LOCK_WORKFLOW",
    "RAW_UPDATE_WORKFLOW",
    "TRIVIAL_WORKFLOW",
    "RawLockWorkflow",
    "RawUpdateWorkflow",
    "TrivialWorkflow",
    "noop",
]

TRIVIAL_WORKFLOW = "BenchTrivialWorkflow"


@workflow.defn(name=TRIVIAL_WORKFLOW)
class TrivialWorkflow:
    """Sleeps a year (the benchmark never waits for it)."""

    @workflow.run
    async def run(self, n: int) -> int:
        """Returns its argument a year later."""
        await workflow.sleep(timedelta(days=365))
        return n


RAW_UPDATE_WORKFLOW = "BenchRawUpdateWorkflow"
NOOP_ACTIVITY = "bench.noop"


@activity.defn(name=NOOP_ACTIVITY)
async def noop(n: int) -> int:
    """Does nothing: the baseline's one activity per update."""
    return n


@workflow.defn(name=RAW_UPDATE_WORKFLOW)
class RawUpdateWorkflow:
    """The transition baseline: an update whose handler runs one no-op activity."""

    def __init__(self) -> None:
        self.done = False
        self.count = 0

    @workflow.run
    async def run(self) -> int:
        """Waits for ``finish``; returns how many updates it took."""
        await workflow.wait_condition(lambda: self.done)
        return self.count

    @workflow.update
    async def act(self, n: int) -> int:
        """One no-op activity, then the count."""
        await workflow.execute_activity(
            NOOP_ACTIVITY, n, start_to_close_timeout=timedelta(seconds=30)
        )
        self.count += 1
        return self.count

    @workflow.signal
    def finish(self) -> None:
        """Lets the workflow end."""
        self.done = True


RAW_LOCK_WORKFLOW = "BenchRawLockWorkflow"
RAW_LOCK_ACTIVITY = "bench.raw_lock"


@workflow.defn(name=RAW_LOCK_WORKFLOW)
class RawLockWorkflow:
    """The lock baseline: sleeps until one instant shared by every run, then one activity (the
    benchmark's raw ``UPDATE`` of its row), then ends. A unit workflow at its hard lock, minus
    everything the project adds."""

    @workflow.run
    async def run(self, row: int, lock_ms: int) -> int:
        """``lock_ms``: the lock instant in milliseconds since the epoch; returns ``row``."""
        wait_ms = lock_ms - int(workflow.now().timestamp() * 1000)
        if wait_ms > 0:
            await workflow.sleep(timedelta(milliseconds=wait_ms))
        await workflow.execute_activity(
            RAW_LOCK_ACTIVITY, row, start_to_close_timeout=timedelta(seconds=60)
        )
        return row
