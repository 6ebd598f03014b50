"""The database side of each unit transition, run by the unit workflow's activities.

Each transition commits one change of the process in one transaction: the projection
(``CycleUnit``), what goes with it (a snapshot, an explanation round, assignments…) and an audit
row whose ``request_key`` is the workflow's idempotency key. A retried activity finds that row
and returns the same result without changing anything again.

The package is a table, not a switchboard: ``registry`` holds the dispatcher
(``apply_transition``) and the map from command type to handler; ``handlers`` has one small
function per command, registered next to its type; ``shared`` has the chores several share.

Business refusals raise ``core.errors.Conflict`` (the activity turns it into a non-retryable
ApplicationError whose type and messages reach the API as a 409).
"""

from __future__ import annotations

from services.transitions import handlers
from services.transitions.registry import apply_transition, handler_for
from services.transitions.shared import days_late

__all__ = ["apply_transition", "days_late", "handler_for"]

# Importing the handlers fills the registry; named here so that nothing prunes the import.
HANDLER_MODULES = (handlers,)
