"""The baseline workflow of the start benchmark: starts, sets one long timer, sits there.

Like a unit workflow before its cycle opens (one workflow task, one timer, open for months),
minus everything the project adds. Kept in its own module: the worker's sandbox re-imports
workflow modules, so this one imports nothing but temporalio.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

__all__ = ["TRIVIAL_WORKFLOW", "TrivialWorkflow"]

TRIVIAL_WORKFLOW = "BenchTrivialWorkflow"


@workflow.defn(name=TRIVIAL_WORKFLOW)
class TrivialWorkflow:
    """Sleeps a year (the benchmark never waits for it)."""

    @workflow.run
    async def run(self, n: int) -> int:
        """Returns its argument a year later."""
        await workflow.sleep(timedelta(days=365))
        return n
