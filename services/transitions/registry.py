"""The table of transition handlers: one function per unit command, registered next to it.

A handler takes the ``Step`` (the request and the locked unit) and the command, changes the
projection and what goes with it, and returns the activity's result and the audit row's extra
fields. ``handles`` registers it for its command type (``None``: a move with no command, e.g. a
timer's lock); ``handler_for`` fails loudly on a command nobody registered. ``apply_transition``
is the one dispatcher: idempotency, the row lock, the handler, the audit row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import Session, select

from contracts.messages import ActivityResult, TransitionArgs
from models.labels import UNIT_STATE_VI
from models.tables import AuditLog, UnitState
from services import audit
from services.sheet import lock_unit
from services.transitions.shared import Step

__all__ = ["HANDLERS", "Handler", "Outcome", "apply_transition", "handler_for", "handles"]

# What a handler returns: the activity's result, and the extra fields of the audit row.
Outcome = tuple[ActivityResult, dict[str, Any]]
Handler = Callable[[Step, Any], Outcome]
H = TypeVar("H", bound=Handler)

# Keyed by the command's type; None keys the moves that come without a command (timers).
HANDLERS: dict[type[BaseModel] | None, Handler] = {}


def handles(*keys: type[BaseModel] | None) -> Callable[[H], H]:
    """Registers a handler for these command types (``None``: a move without a command)."""

    def register(handler: H) -> H:
        for key in keys:
            if key in HANDLERS:
                raise RuntimeError(f"two transition handlers for {key!r}")
            HANDLERS[key] = handler
        return handler

    return register


def handler_for(command: BaseModel | None) -> Handler:
    """The handler registered for this command's type; none registered is a programming error."""
    key = None if command is None else type(command)
    try:
        return HANDLERS[key]
    except KeyError:
        raise LookupError(f"no transition handler registered for {key!r}") from None


def _done(session: Session, key: str) -> ActivityResult | None:
    row = session.exec(select(AuditLog).where(AuditLog.request_key == key)).first()
    if row is None or row.after is None or "result" not in row.after:
        return None
    return ActivityResult.model_validate(row.after["result"])


def _finish(step: Step, result: ActivityResult, extra: dict[str, Any]) -> ActivityResult:
    session, args, cu = step.session, step.args, step.cu
    cu.updated_at = args.at
    session.add(cu)
    session.flush()
    action = args.command.kind if args.command is not None else (args.to_state or "state")
    audit.record(
        session,
        actor=args.actor,
        entity="state",
        action=str(action),
        entity_key=step.unit.code,
        cycle_id=args.cycle_id,
        unit_id=step.unit_id,
        before={"state": step.before.value},
        after={"state": cu.state, **extra, "result": result.model_dump(mode="json")},
        request_key=args.request_key,
    )
    return result


def apply_transition(session: Session, args: TransitionArgs) -> ActivityResult:
    """Commits one unit transition (idempotent by ``args.request_key``)."""
    handle = handler_for(args.command)  # before any query: an unknown command fails loudly
    previous = _done(session, args.request_key)
    if previous is not None:
        return previous
    cycle, unit, cu = lock_unit(session, args.cycle_id, args.unit_code)
    assert unit.id is not None
    previous = _done(session, args.request_key)  # another attempt may have won the lock
    if previous is not None:
        return previous
    step = Step(
        session=session,
        args=args,
        cycle=cycle,
        unit=unit,
        unit_id=unit.id,
        cu=cu,
        before=UnitState(cu.state),
    )
    result, extra = handle(step, args.command)
    extra.setdefault("state_vi", UNIT_STATE_VI[UnitState(cu.state)])
    return _finish(step, result, extra)
