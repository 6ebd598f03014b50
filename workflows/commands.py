"""The one module the API and the CLI use to drive the yearly cycle in Temporal.

Interface (all async; ``client`` is a ``temporalio.client.Client`` built by
``core.temporal.connect`` — the pydantic data converter is required):

``await start_cycle(client, engine, cycle_id, *, task_queue=None, search_attributes=True,
wait=True) -> int``
    Starts the cycle workflow ``cycle-{cycle_id}`` (idempotent: a second call finds it), which
    starts one unit workflow per unit from an activity. With ``wait`` it returns once every
    unit workflow exists; returns the number of units. ``task_queue`` defaults to
    ``get_settings().temporal_task_queue``. Refused (``core.errors.Refusal``) for an unknown,
    cancelled or published cycle.

``await unit_command(client, cycle_id, unit_code, command, *, update_id=None) -> UnitStatus``
    Sends one ``UnitCommand`` (``AssignCommand``, ``StartReviewCommand``, ``ReturnCommand``,
    ``SubmitCommand``, ``StartAppraisalCommand``, ``RequestExplanationCommand``,
    ``CloseRoundCommand``, ``FinaliseCommand``, ``ReopenCommand``, ``SetDeadlinesCommand``,
    ``FollowupDoneCommand``, ``CancelCommand``) to the unit's workflow as an update and returns
    the unit's status after it. ``update_id`` (e.g. an HTTP Idempotency-Key) makes a retried
    call return the first outcome instead of acting twice.

``await cycle_command(client, cycle_id, command, *, update_id=None) -> CycleStatus``
    Sends one ``CycleCommand`` (``ExtendCommand``, ``CloseAppraisalCommand``,
    ``ClassifyCommand``, ``PublishCommand``, ``CancelCommand``) to the cycle workflow.

``await unit_status(client, cycle_id, unit_code) -> UnitStatus`` and
``await cycle_status(client, cycle_id) -> CycleStatus``
    Read the workflows' own state (pages should read the ``CycleUnit`` projection instead).

Errors: every refusal raises a ``core.errors.Refusal`` (the API's one handler answers it):
``Conflict`` (409: a validator or the database refused: wrong state, hard lock passed, deadline
in the past, unknown criterion…), ``Unavailable`` (503: the change could not be recorded now)
or ``NotFound`` (404, ``code == "not_running"``: no such cycle/unit workflow, or it has ended;
``unknown_cycle``: no such cycle). ``refusal_of`` is the one mapping of an update's failure.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from contracts import search_attributes as sa
from contracts.ids import CYCLE_WORKFLOW, cycle_workflow_id, unit_workflow_id
from contracts.messages import (
    AssignCommand,
    AssignmentSpec,
    CancelCommand,
    ClassifyCommand,
    CloseAppraisalCommand,
    CloseRoundCommand,
    CycleCommand,
    CycleStatus,
    ExplanationItemSpec,
    ExtendCommand,
    FinaliseCommand,
    FollowupDoneCommand,
    PublishCommand,
    ReopenCommand,
    RequestExplanationCommand,
    ReturnCommand,
    SetDeadlinesCommand,
    StartAppraisalCommand,
    StartReviewCommand,
    SubmitCommand,
    UnitCommand,
    UnitStatus,
)
from core.db import session_scope
from core.errors import Conflict, NotFound, Refusal, Unavailable
from core.settings import get_settings
from models.tables import CycleState, CycleUnit
from services.cycles import cycle_input, get_cycle

__all__ = [
    "AssignCommand",
    "AssignmentSpec",
    "CancelCommand",
    "ClassifyCommand",
    "CloseAppraisalCommand",
    "CloseRoundCommand",
    "CycleCommand",
    "CycleStatus",
    "ExplanationItemSpec",
    "ExtendCommand",
    "FinaliseCommand",
    "FollowupDoneCommand",
    "PublishCommand",
    "ReopenCommand",
    "RequestExplanationCommand",
    "ReturnCommand",
    "SetDeadlinesCommand",
    "StartAppraisalCommand",
    "StartReviewCommand",
    "SubmitCommand",
    "UnitCommand",
    "UnitStatus",
    "cycle_command",
    "cycle_status",
    "cycle_workflow_id",
    "refusal_of",
    "start_cycle",
    "unit_command",
    "unit_status",
    "unit_workflow_id",
]


# The refusal class of an update's refusal code (``workflows.states.refuse``; an activity's
# ``Refusal`` keeps its code through ``activities.common.refusal``); any other code: Conflict.
UPDATE_REFUSALS: dict[str, type[Refusal]] = {"unavailable": Unavailable}


def _not_running(what: str) -> NotFound:
    return NotFound(
        "not_running",
        f"Không tìm thấy quy trình đang chạy của {what} (chưa bắt đầu hoặc đã kết thúc).",
        f"No running workflow for {what} (not started, or ended).",
    )


def refusal_of(exc: WorkflowUpdateFailedError) -> Refusal:
    """The refusal an update failed with: ApplicationError(type=code, details=[vi, en])."""
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        details = list(cause.details)
        vi = str(details[0]) if details else cause.message
        en = str(details[1]) if len(details) > 1 else cause.message
        code = cause.type or "refused"
        return UPDATE_REFUSALS.get(code, Conflict)(code, vi, en)
    return Conflict("refused", str(cause), str(cause))


async def _update(
    handle: WorkflowHandle[object, object],
    name: str,
    arg: object,
    result_type: type,
    what: str,
    update_id: str | None,
) -> object:
    try:
        if arg is None:
            return await handle.execute_update(name, id=update_id, result_type=result_type)
        return await handle.execute_update(name, arg, id=update_id, result_type=result_type)
    except WorkflowUpdateFailedError as exc:
        raise refusal_of(exc) from exc
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise _not_running(what) from exc
        raise


async def start_cycle(
    client: Client,
    engine: Engine,
    cycle_id: str,
    *,
    task_queue: str | None = None,
    search_attributes: bool = True,
    wait: bool = True,
) -> int:
    """Starts the cycle (idempotent); returns the number of units (started, with ``wait``)."""
    queue = task_queue or get_settings().temporal_task_queue
    with session_scope(engine) as session:
        cycle = get_cycle(session, cycle_id)
        if cycle.state in (CycleState.cancelled, CycleState.published):
            raise Conflict(
                "invalid_cycle_state",
                "Kỳ đánh giá đã kết thúc hoặc đã bị hủy.",
                "The cycle has ended or was cancelled.",
            )
        inp = cycle_input(session, cycle_id, task_queue=queue, search_attributes=search_attributes)
        title = cycle.title
        count = len(session.exec(select(CycleUnit.id).where(CycleUnit.cycle_id == cycle_id)).all())
    attrs = None
    if search_attributes:
        attrs = TypedSearchAttributes(
            [SearchAttributePair(sa.YEAR, inp.year), SearchAttributePair(sa.CYCLE, cycle_id)]
        )
    wf_id = cycle_workflow_id(cycle_id)
    try:
        handle: WorkflowHandle[object, object] = await client.start_workflow(
            CYCLE_WORKFLOW,
            inp,
            id=wf_id,
            task_queue=queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=attrs,
            static_summary=title,
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(wf_id)
    if not wait:
        return count
    status = await _update(handle, "units_started", None, CycleStatus, f"kỳ {cycle_id}", None)
    assert isinstance(status, CycleStatus)
    return status.units_started or 0


async def unit_command(
    client: Client,
    cycle_id: str,
    unit_code: str,
    command: UnitCommand,
    *,
    update_id: str | None = None,
) -> UnitStatus:
    """Sends a command to a unit's workflow; a ``Refusal`` if the process refuses it."""
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(
        unit_workflow_id(cycle_id, unit_code)
    )
    status = await _update(
        handle, command.kind, command, UnitStatus, f"đơn vị {unit_code}", update_id
    )
    assert isinstance(status, UnitStatus)
    return status


async def cycle_command(
    client: Client, cycle_id: str, command: CycleCommand, *, update_id: str | None = None
) -> CycleStatus:
    """Sends a command to the cycle's workflow; a ``Refusal`` if the process refuses it."""
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(cycle_workflow_id(cycle_id))
    status = await _update(handle, command.kind, command, CycleStatus, f"kỳ {cycle_id}", update_id)
    assert isinstance(status, CycleStatus)
    return status


async def _query(handle: WorkflowHandle[object, object], result_type: type, what: str) -> object:
    try:
        return await handle.query("status", result_type=result_type)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise _not_running(what) from exc
        raise


async def unit_status(client: Client, cycle_id: str, unit_code: str) -> UnitStatus:
    """The unit workflow's own view of its state and deadlines."""
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(
        unit_workflow_id(cycle_id, unit_code)
    )
    status = await _query(handle, UnitStatus, f"đơn vị {unit_code}")
    assert isinstance(status, UnitStatus)
    return status


async def cycle_status(client: Client, cycle_id: str) -> CycleStatus:
    """The cycle workflow's own view of its state."""
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(cycle_workflow_id(cycle_id))
    status = await _query(handle, CycleStatus, f"kỳ {cycle_id}")
    assert isinstance(status, CycleStatus)
    return status
