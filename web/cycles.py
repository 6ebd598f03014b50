"""The cycle pages the e-mails link to: the cycles a person takes part in, a cycle's console
(timeline, each visible unit's state, progress and deadlines) and its results.

Reads go through the API's view builders (``api.views``) and ``actions.cycles``, after the same
access rule as the API (``web.auth.PAGE_RULES``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from actions.cycles import visible_cycles
from api.deps import SessionDep
from api.views import cycle_summary, cycle_view, results_view
from core.db import utcnow
from models.labels import UNIT_STATE_VI
from web.auth import Caller
from web.common import base, load_cycle
from web.errors import RefusalPageRoute
from web.render import render

__all__ = ["router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)


@router.get("/cycles", response_class=HTMLResponse)
def cycles_page(request: Request, caller: Caller, session: SessionDep) -> HTMLResponse:
    """The cycles the person takes part in."""
    cycles = [cycle_summary(c) for c in visible_cycles(session, caller.principal)]
    return render(request, "cycles.html", {**base(caller), "cycles": cycles})


@router.get("/cycles/{cycle_id}", response_class=HTMLResponse)
def cycle_page(
    request: Request, cycle_id: str, caller: Caller, session: SessionDep
) -> HTMLResponse:
    """Timeline, and each visible unit's state, progress and deadlines, with its link."""
    view = cycle_view(session, load_cycle(session, cycle_id), caller.principal)
    return render(request, "cycle.html", {**base(caller), "cycle": view, "now": utcnow()})


@router.get("/cycles/{cycle_id}/results", response_class=HTMLResponse)
def results_page(
    request: Request, cycle_id: str, caller: Caller, session: SessionDep
) -> HTMLResponse:
    """Totals, classification and rank per group."""
    cycle = load_cycle(session, cycle_id)
    view = results_view(session, cycle, caller.principal)
    groups: dict[str, list[Any]] = {}
    for row in view.units:
        groups.setdefault(row.group, []).append(row)
    return render(
        request,
        "results.html",
        {
            **base(caller),
            "cycle": cycle,
            "results": view,
            "groups": groups,
            "state_labels": UNIT_STATE_VI,
        },
    )
