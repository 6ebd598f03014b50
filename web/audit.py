"""The audit trail page ("Nhật ký thay đổi"), linked from the console: per cycle and per unit,
filtered by person, action and criterion, with the before → after of every score."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from actions.audit import PAGE_SIZE, AuditFilters, action_vi, entity_vi, trail
from api.deps import SessionDep
from api.views import visible_units
from core.errors import Forbidden
from models.tables import Role
from web.auth import Caller
from web.common import base, load_cycle
from web.errors import RefusalPageRoute
from web.render import render

__all__ = ["router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)

FIELD_VI = {
    "self_score": "Điểm tự chấm",
    "appraised_score": "Điểm thẩm định",
    "state": "Trạng thái",
    "submission_deadline": "Hạn gửi kết quả",
    "hard_lock_at": "Khóa",
    "classification": "Xếp loại",
    "rank": "Hạng",
    "total": "Tổng điểm",
    "explanation": "Giải trình",
    "appraisal_comment": "Ý kiến thẩm định",
    "reason": "Lý do",
    "before_deadlines": "Thời hạn trước khi đổi",
}


@router.get("/cycles/{cycle_id}/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    cycle_id: str,
    caller: Caller,
    session: SessionDep,
    unit: str = Query("", max_length=64),
    actor: str = Query("", max_length=64),
    action: str = Query("", max_length=64),
    criterion: str = Query("", max_length=32),
    before: int | None = Query(None, ge=0),
    after: int | None = Query(None, ge=0),
) -> HTMLResponse:
    """Every change of the cycle, newest first, filtered, ``PAGE_SIZE`` rows a page; the page
    links keep the filters."""
    if not (caller.principal.has(Role.coordinator) or caller.principal.has(Role.viewer)):
        raise Forbidden(
            "forbidden", "Chỉ cơ quan thường trực xem nhật ký của cả kỳ.", "Coordinators only."
        )
    cycle = load_cycle(session, cycle_id)
    filters = AuditFilters(unit=unit, actor=actor, action=action, criterion=criterion)
    page = trail(session, cycle_id=cycle.id, filters=filters, before=before, after=after)
    units = [(u.code, u.name) for _, u in visible_units(session, caller.principal, cycle.id)]
    return render(
        request,
        "cycle_audit.html",
        {
            **base(caller),
            "cycle": cycle,
            "page": page,
            "people": page.people,
            "actions": page.actions,
            "newest_url": _page_url(cycle.id, filters, {}),
            "newer_url": _page_url(cycle.id, filters, {"after": page.newer}),
            "older_url": _page_url(cycle.id, filters, {"before": page.older}),
            "units": units,
            "f": filters,
            "field_vi": FIELD_VI,
            "action_vi": action_vi,
            "entity_vi": entity_vi,
            "page_size": PAGE_SIZE,
        },
    )


def _page_url(cycle_id: str, filters: AuditFilters, cursor: dict[str, int | None]) -> str:
    """The trail's URL with the filters that are set and a page cursor ("" if there is none)."""
    if cursor and all(v is None for v in cursor.values()):
        return ""
    params = [(k, v) for k, v in vars(filters).items() if v]
    params += [(k, str(v)) for k, v in cursor.items() if v is not None]
    query = urlencode(params)
    return f"/cycles/{quote(cycle_id)}/audit" + (f"?{query}" if query else "")
