"""Replays the committed histories of the main paths against the current workflow code.

A change to the workflows that would break the determinism of running workflows fails here
(guard such changes with ``workflow.patched``). Regenerate the histories after an intended,
compatible change with ``APPRAISAL_WRITE_HISTORIES=1 pytest tests/workflows/test_workflow_cycle.py
tests/workflows/test_workflow_deadlines.py tests/workflows/test_workflow_council_reminders.py``.

Two generations: the histories without a suffix were recorded before the mail task queue
(``MAIL_QUEUE_PATCH``) and send mail on the workflow's own queue; ``*-mail-queue.json``
(``APPRAISAL_WRITE_HISTORIES=mail-queue pytest tests/workflows/test_workflow_cycle.py``) carry
the patch marker and send it on ``<queue>-mail``; ``*-local-transition.json``
(``APPRAISAL_WRITE_HISTORIES=local-transition pytest tests/workflows/test_workflow_cycle.py``)
carry both markers and run ``unit.transition`` as a local activity (``LOCAL_TRANSITION_PATCH``);
``*-transition-activity.json`` (``APPRAISAL_WRITE_HISTORIES=transition-activity pytest
tests/workflows/test_workflow_cycle.py``) carry ``ACTIVITY_TRANSITION_PATCH`` and run it as a
regular activity again. Every generation must replay; never regenerate an older one (it is
the proof that workflows begun before a patch go on).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from contracts.activities import MAIL_NOTIFY, UNIT_TRANSITION, mail_task_queue
from core.temporal import DATA_CONVERTER
from workflows.unit import (
    ACTIVITY_TRANSITION_PATCH,
    LOCAL_TRANSITION_PATCH,
    MAIL_QUEUE_PATCH,
)
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
MAIL_QUEUE = {
    "cycle-published-mail-queue",
    "unit-two-rounds-published-mail-queue",
    "unit-late-published-mail-queue",
    "unit-not-submitted-published-mail-queue",
}
LOCAL_TRANSITION = {
    "cycle-published-local-transition",
    "unit-two-rounds-published-local-transition",
    "unit-late-published-local-transition",
    "unit-not-submitted-published-local-transition",
}

TRANSITION_ACTIVITY = {
    "cycle-published-transition-activity",
    "unit-two-rounds-published-transition-activity",
    "unit-late-published-transition-activity",
    "unit-not-submitted-published-transition-activity",
}


def test_every_main_path_has_a_committed_history() -> None:
    every = EXPECTED | MAIL_QUEUE | LOCAL_TRANSITION | TRANSITION_ACTIVITY
    assert {f.stem for f in FILES} == every


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=sandbox_runner()
    )
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
    assert len(history.events) > 10


def _patched(history: WorkflowHistory, patch: str) -> bool:
    """Whether the history carries the marker of this ``workflow.patched`` id."""
    return any(
        e.marker_recorded_event_attributes.marker_name == "core_patch"
        and any(
            f'"id":"{patch}"'.encode() in p.data
            for payloads in e.marker_recorded_event_attributes.details.values()
            for p in payloads.payloads
        )
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    )


def _mail_routing(path: Path) -> tuple[bool, set[str], str]:
    """Whether the history has the mail-queue patch marker, the queues its mail activities
    were scheduled on, and the workflow's own queue."""
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    marked = _patched(history, MAIL_QUEUE_PATCH)
    queues: set[str] = set()
    own = history.events[0].workflow_execution_started_event_attributes.task_queue.name
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = e.activity_task_scheduled_event_attributes
            if attrs.activity_type.name == MAIL_NOTIFY:
                queues.add(attrs.task_queue.name)
    return marked, queues, own


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_each_generation_sends_mail_where_it_recorded(path: Path) -> None:
    """Both branches of ``MAIL_QUEUE_PATCH`` are replayed above: the old histories (no
    marker, mail on the workflow's queue) and the new ones (marker, mail on ``<queue>-mail``)."""
    marked, queues, own = _mail_routing(path)
    assert queues, "no mail activity in this history"
    if path.stem in MAIL_QUEUE | LOCAL_TRANSITION | TRANSITION_ACTIVITY:
        assert marked and queues == {mail_task_queue(own)}
    else:
        assert not marked and queues == {own}


def _transitions(path: Path) -> tuple[tuple[bool, bool], int, int]:
    """Whether the history has the local-transition and the transition-activity markers, and
    how many ``unit.transition`` it ran as activities and as local activities."""
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    scheduled = local = 0
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled += e.activity_task_scheduled_event_attributes.activity_type.name == (
                UNIT_TRANSITION
            )
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = e.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                data = json.loads(marker.details["data"].payloads[0].data)
                local += data["activity_type"] == UNIT_TRANSITION
    marks = (
        _patched(history, LOCAL_TRANSITION_PATCH),
        _patched(history, ACTIVITY_TRANSITION_PATCH),
    )
    return marks, scheduled, local


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_each_generation_runs_transitions_as_it_recorded(path: Path) -> None:
    """Every branch of the two patches is replayed above: the histories begun before the first
    ran ``unit.transition`` as activities, those between the two as local activities, the
    newest as activities again (with the second marker, never the first)."""
    marks, scheduled, local = _transitions(path)
    if path.stem.startswith("cycle-"):  # the cycle workflow runs no unit transition
        assert (marks, scheduled, local) == ((False, False), 0, 0)
    elif path.stem in TRANSITION_ACTIVITY:
        assert marks == (False, True) and scheduled > 0 and local == 0
    elif path.stem in LOCAL_TRANSITION:
        assert marks == (True, False) and scheduled == 0 and local > 0
    else:
        assert marks == (False, False) and scheduled > 0 and local == 0
