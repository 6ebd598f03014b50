"""The assignment page of a unit (phân công): the criteria tree with who is on each criterion,
and one form that puts a person on an area or some criteria (lead or support) or takes them off.

The office of the unit uses it (and whoever the API's rule for ``PUT …/assignments`` lets act);
the form is drawn while ``models.states.allowed`` lets the assign command run (before the hard
lock). Each person whose criteria changed gets the assignment e-mail from the workflow.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from actions.assignments import AssignRole, assign_codes, assignment_tree, unit_people
from api.deps import SessionDep, SettingsDep, get_temporal
from core.db import utcnow
from core.errors import Invalid
from models.labels import UNIT_STATE_VI
from models.states import UnitCommand, UnitState, allowed
from models.tables import CycleUnit
from web.auth import Caller, PageCaller
from web.common import base, form_of, idem_key, load_cycle, unit_ref, unit_url
from web.errors import REFUSALS, RefusalPageRoute, page_refusal
from web.flash import flash_shown, redirect_with, take_flash
from web.forms import text_field
from web.render import render
from web.unit_page import new_key

__all__ = ["ASSIGN", "ROLE_VI", "router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)

ASSIGN = "PUT /api/cycles/{cycle_id}/units/{unit_id}/assignments"
_PAGE = "/cycles/{cycle_id}/units/{unit_code}/assignments"
ROLE_VI: dict[AssignRole, str] = {
    AssignRole.lead: "Chịu trách nhiệm chính",
    AssignRole.support: "Phối hợp",
    AssignRole.remove: "Bỏ phân công",
}


def _context(
    session: Session, caller: PageCaller, cycle_id: str, *, form: Any = None
) -> dict[str, Any]:
    ref = unit_ref(caller, cycle_id)
    cycle = load_cycle(session, cycle_id)
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == ref.unit_id)
    ).one()
    state = UnitState(cu.state)
    may = caller.may(ASSIGN, ref.unit_id) and allowed(
        UnitCommand.assign, state, utcnow(), cu.hard_lock_at
    )
    chosen = set(form.getlist("codes")) if form is not None else set()
    tree = assignment_tree(session, unit=ref)
    tops = [n for n in tree if n.depth == 0]
    # a few large parts above the areas ("NỘI DUNG I … III"): the areas are one level down
    area_depth = 1 if 0 < len(tops) <= 3 and not any(n.is_leaf for n in tops) else 0
    return {
        **base(caller),
        "cycle": cycle,
        "unit": caller.unit,
        "state_label": UNIT_STATE_VI[state],
        "hard_lock_at": cu.hard_lock_at,
        "tree": tree,
        "area_depth": area_depth,
        "people": unit_people(session, ref.unit_id),
        "roles": ROLE_VI,
        "may_assign": may,
        "page_url": unit_url(cycle_id, ref.unit_code),
        "chosen": chosen,
        "chosen_user": text_field(form, "username") if form is not None else "",
        "chosen_role": text_field(form, "role") if form is not None else "lead",
        "new_key": new_key,
    }


@router.get(_PAGE, response_class=HTMLResponse)
def assignment_page(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """The criteria tree with the people on each criterion, and the assignment form."""
    flash = take_flash(request, settings)
    response = render(
        request, "assignments.html", {**_context(session, caller, cycle_id), "flash": flash}
    )
    return flash_shown(request, response)


@router.post(_PAGE)
async def post_assignments(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Puts a person on the chosen area or criteria (lead, support) or takes them off."""
    form = form_of(caller)
    try:
        try:
            role = AssignRole(text_field(form, "role"))
        except ValueError as exc:
            raise Invalid("role", "Cần chọn vai trò.", "Choose a role.", field="role") from exc
        codes = [str(c) for c in form.getlist("codes") if isinstance(c, str) and c]
        username = text_field(form, "username")
        _status, count = await assign_codes(
            session,
            client=get_temporal(request),
            principal=caller.principal,
            unit=unit_ref(caller, cycle_id),
            codes=codes,
            username=username,
            role=role,
            key=idem_key(form),
        )
    except REFUSALS as exc:
        shown = page_refusal(exc)
        if shown is None:
            raise
        session.rollback()
        status, message = shown
        context = _context(session, caller, cycle_id, form=form)
        return render(
            request, "assignments.html", {**context, "flash": {"error": message}}, status=status
        )
    url = f"{unit_url(cycle_id, unit_code)}/assignments#result"
    names = {
        p.username: p.full_name for p in unit_people(session, unit_ref(caller, cycle_id).unit_id)
    }
    who = names.get(username, username)
    done = f"Đã cập nhật phân công: {count} tiêu chí ({ROLE_VI[role].lower()}, {who})."
    return redirect_with(settings, url, done)
