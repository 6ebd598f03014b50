"""Replays the committed histories of the main paths against the current workflow code.

A change to the workflows that would break the determinism of running workflows fails here
(guard such changes with ``workflow.patched``). Regenerate the histories after an intended,
compatible change with ``APPRAISAL_WRITE_HISTORIES=1 pytest tests/workflows/test_workflow_cycle.py
tests/workflows/test_workflow_deadlines.py tests/workflows/test_workflow_council_reminders.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.temporal import DATA_CONVERTER
from workflows.worker import WORKFLOWS, sandbox_runner

HISTORIES = Path(__file__).parent.parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))
EXPECTED = {
    "cycle-published",
    "cycle-extended-cancelled",
    "cycle-appraisal-reminders",
    "unit-two-rounds-published",
    "unit-late-published",
    "unit-not-submitted-published",
    "unit-extended-locked",
    "unit-reopened-resubmitted",
    "unit-locked-reopened-late",
}


def test_every_main_path_has_a_committed_history() -> None:
    assert {f.stem for f in FILES} == EXPECTED


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=sandbox_runner()
    )
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
    assert len(history.events) > 10
