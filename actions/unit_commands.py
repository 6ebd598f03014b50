"""Commands a person sends to a unit's workflow: assign, start review, return criteria, submit,
reopen, start the appraisal, request explanations, close a round, finalise, report a follow-up.

Each builds the command message with the caller as actor and sends it through
``actions.bridge`` (the workflow's validator decides, with ``models.states.allowed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlmodel import Session
from temporalio.client import Client

from actions import bridge
from actions.common import UnitRef, editor_for
from actions.readiness import SubmitCheck, finalise_check, submit_check
from actions.sheet import explanation_request
from contracts.messages import (
    AssignCommand,
    AssignmentSpec,
    CloseRoundCommand,
    ExplanationItemSpec,
    FinaliseCommand,
    FollowupDoneCommand,
    ReopenCommand,
    RequestExplanationCommand,
    ReturnCommand,
    StartAppraisalCommand,
    StartReviewCommand,
    SubmitCommand,
    UnitCommand,
    UnitStatus,
)
from core.db import release, write_apart
from core.errors import Conflict, Invalid
from services import audit
from services.accounts import Principal
from services.sheet import check_council_codes

__all__ = [
    "SubmitAnswer",
    "assign",
    "close_round",
    "finalise",
    "followup_done",
    "reopen",
    "request_explanation",
    "return_criteria",
    "send",
    "start_appraisal",
    "start_review",
    "submit",
]


async def send(
    *, client: Client, unit: UnitRef, command: UnitCommand, key: str | None = None
) -> UnitStatus:
    """Sends ``command`` to the unit's workflow (``key``: the idempotency key)."""
    return await bridge.unit_command(
        client=client, cycle_id=unit.cycle_id, unit_code=unit.unit_code, command=command, key=key
    )


async def assign(
    *,
    client: Client,
    principal: Principal,
    unit: UnitRef,
    assignments: Sequence[AssignmentSpec],
    key: str | None = None,
) -> UnitStatus:
    """Replaces the unit's assignments (the first one moves it from assigning to drafting)."""
    command = AssignCommand(actor=principal.username, assignments=tuple(assignments))
    return await send(client=client, unit=unit, command=command, key=key)


async def start_review(
    *, client: Client, principal: Principal, unit: UnitRef, key: str | None = None
) -> UnitStatus:
    """The unit office starts its review (drafting → unit_review)."""
    command = StartReviewCommand(actor=principal.username)
    return await send(client=client, unit=unit, command=command, key=key)


async def return_criteria(
    *,
    client: Client,
    principal: Principal,
    unit: UnitRef,
    codes: Sequence[str],
    comment: str,
    key: str | None = None,
) -> UnitStatus:
    """Returns criteria to their staff with a comment."""
    command = ReturnCommand(actor=principal.username, codes=tuple(codes), comment=comment)
    return await send(client=client, unit=unit, command=command, key=key)


class SubmitAnswer(UnitStatus):
    """The submit's answer: the unit's state, and what the office confirmed it had seen."""

    check: SubmitCheck


async def submit(
    session: Session,
    *,
    client: Client,
    principal: Principal,
    unit: UnitRef,
    proposed_class: str | None = None,
    key: str | None = None,
) -> SubmitAnswer:
    """Submits the sheet (an immutable, hashed snapshot), with a proposed classification.

    The submit runs whatever the check finds (the office decides); its answer carries the
    check as it stood just before the sheet was frozen.
    """
    check = submit_check(session, unit=unit)
    release(session)  # the check's read ends here: nothing held while the workflow works
    command = SubmitCommand(actor=principal.username, proposed_class=proposed_class)
    status = await send(client=client, unit=unit, command=command, key=key)
    return SubmitAnswer(**status.model_dump(), check=check)


async def reopen(
    *,
    client: Client,
    principal: Principal,
    unit: UnitRef,
    reason: str,
    submission_deadline: datetime | None = None,
    hard_lock_at: datetime | None = None,
    key: str | None = None,
) -> UnitStatus:
    """The coordinator reopens a submitted (or locked out) unit with a reason."""
    command = ReopenCommand(
        actor=principal.username,
        reason=reason,
        submission_deadline=submission_deadline,
        hard_lock_at=hard_lock_at,
    )
    return await send(client=client, unit=unit, command=command, key=key)


async def start_appraisal(
    *, client: Client, principal: Principal, unit: UnitRef, key: str | None = None
) -> UnitStatus:
    """The council starts appraising a submitted unit."""
    command = StartAppraisalCommand(actor=principal.username)
    return await send(client=client, unit=unit, command=command, key=key)


async def request_explanation(
    session: Session,
    *,
    client: Client,
    principal: Principal,
    unit: UnitRef,
    items: Sequence[ExplanationItemSpec],
    deadline: datetime | None = None,
    key: str | None = None,
) -> UnitStatus:
    """Opens an explanation round on criteria of the caller's agencies, a question each."""
    check_council_codes(
        session,
        cycle_id=unit.cycle_id,
        codes=[item.code for item in items],
        editor=editor_for(principal, unit.unit_id),
    )
    command = RequestExplanationCommand(
        actor=principal.username, items=tuple(items), deadline=deadline
    )
    return await send(client=client, unit=unit, command=command, key=key)


async def close_round(
    session: Session,
    *,
    client: Client,
    principal: Principal,
    unit: UnitRef,
    request_id: int,
    key: str | None = None,
) -> UnitStatus:
    """Closes the open explanation round before its deadline (→ appraising)."""
    explanation_request(session, unit=unit, request_id=request_id)
    command = CloseRoundCommand(actor=principal.username)
    return await send(client=client, unit=unit, command=command, key=key)


async def finalise(
    session: Session,
    *,
    client: Client,
    principal: Principal,
    unit: UnitRef,
    override: bool = False,
    reason: str = "",
    key: str | None = None,
) -> UnitStatus:
    """The council finalises the unit: the appraised total is frozen.

    Refused while an appraising agency has criteria not appraised, unless ``override`` (with a
    reason): then the agencies still waiting are written to the audit trail.
    """
    check = finalise_check(session, unit=unit)
    if not check.ready and not override:
        names = ", ".join(check.agencies)
        raise Conflict(
            "agencies_unfinished",
            f"Còn cơ quan chưa thẩm định xong các tiêu chí của đơn vị: {names}. "
            "Muốn kết thúc thẩm định vẫn phải xác nhận và ghi lý do.",
            f"Agencies have not finished appraising this unit: {names}.",
            field="override",
        )
    if not check.ready and not reason.strip():
        raise Invalid(
            "override_reason",
            "Cần ghi lý do kết thúc thẩm định khi còn cơ quan chưa thẩm định xong.",
            "A reason is required to finalise while agencies have not finished.",
            field="reason",
        )
    command = FinaliseCommand(actor=principal.username)
    release(session)  # the check's read ends here: nothing held while the workflow works
    status = await send(client=client, unit=unit, command=command, key=key)
    if not check.ready:
        after = {
            "reason": reason.strip(),
            "agencies_waiting": {w.agency: list(w.codes) for w in check.waiting},
        }
        await write_apart(  # never a write on the event loop
            session,
            lambda own: audit.record(
                own,
                actor=principal.username,
                entity="unit",
                action="finalise_override",
                entity_key=unit.unit_code,
                cycle_id=unit.cycle_id,
                unit_id=unit.unit_id,
                after=after,
                request_key=f"finalise-override:{key}" if key else None,
            ),
        )
    return status


async def followup_done(
    *,
    client: Client,
    principal: Principal,
    unit: UnitRef,
    followup: Literal["analysis", "plan"],
    key: str | None = None,
) -> UnitStatus:
    """After publication: the analysis report or the remediation plan is done."""
    command = FollowupDoneCommand(actor=principal.username, followup=followup)
    return await send(client=client, unit=unit, command=command, key=key)
