"""The audit trail page ("Nhật ký thay đổi"), linked from the console: per cycle and per unit,
filtered by person, action and criterion, with the before → after of every score."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from actions.audit import LIMIT, AuditFilters, action_vi, entity_vi, trail
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
) -> HTMLResponse:
    """Every change of the cycle, newest first, filtered."""
    if not (caller.principal.has(Role.coordinator) or caller.principal.has(Role.viewer)):
        raise Forbidden(
            "forbidden", "Chỉ cơ quan thường trực xem nhật ký của cả kỳ.", "Coordinators only."
        )
    cycle = load_cycle(session, cycle_id)
    filters = AuditFilters(unit=unit, actor=actor, action=action, criterion=criterion)
    lines, people, actions = trail(session, cycle_id=cycle.id, filters=filters)
    units = [(u.code, u.name) for _, u in visible_units(session, caller.principal, cycle.id)]
    return render(
        request,
        "cycle_audit.html",
        {
            **base(caller),
            "cycle": cycle,
            "lines": lines,
            "people": people,
            "actions": actions,
            "units": units,
            "f": filters,
            "field_vi": FIELD_VI,
            "action_vi": action_vi,
            "entity_vi": entity_vi,
            "limit": LIMIT,
        },
    )
