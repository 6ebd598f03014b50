"""Activities of the unit workflow: each commits one transition in the database."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.common import refusal
from contracts.activities import UNIT_TRANSITION, UnitActivitiesInterface
from contracts.messages import ActivityResult, TransitionArgs
from core.db import session_scope
from core.errors import Refusal
from services.transitions import apply_transition

__all__ = ["UnitActivities"]


class UnitActivities(UnitActivitiesInterface):
    """Database side of the unit workflow (injected engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _apply(self, args: TransitionArgs) -> ActivityResult:
        with session_scope(self.engine, write=True) as session:
            return apply_transition(session, args)

    @activity.defn(name=UNIT_TRANSITION)
    async def transition(self, args: TransitionArgs) -> ActivityResult:
        """Commits a transition (projection, audit, snapshot…); idempotent by request key."""
        try:
            return await asyncio.to_thread(self._apply, args)
        except Refusal as err:
            raise refusal(err) from err
