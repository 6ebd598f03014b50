"""The council's queue of a cycle (hàng chờ thẩm định): per agency of the person, the units under
appraisal × the agency's criteria, the unit's result beside the appraisal, with the explanation
and the evidence; each criterion links to its own page, where the appraisal form is.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from actions.council_queue import council_queue
from api.deps import SessionDep
from web.auth import Caller
from web.common import base, load_cycle
from web.errors import RefusalPageRoute
from web.render import render

__all__ = ["router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)


@router.get("/cycles/{cycle_id}/council", response_class=HTMLResponse)
def queue_page(
    request: Request, cycle_id: str, caller: Caller, session: SessionDep
) -> HTMLResponse:
    """Units × my agencies' criteria waiting, self beside appraised."""
    cycle = load_cycle(session, cycle_id)
    queue = council_queue(session, principal=caller.principal, cycle=cycle)
    agencies: dict[str, list[object]] = {}
    for q in queue:
        agencies.setdefault(q.agency, []).append(q)
    return render(
        request,
        "council_queue.html",
        {
            **base(caller),
            "cycle": cycle,
            "agencies": agencies,
            "waiting": sum(q.waiting for q in queue),
        },
    )
