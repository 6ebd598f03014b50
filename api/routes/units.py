"""Units: everyone signed in lists the units they may see; the coordinator creates them."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CurrentUser, SessionDep
from api.errors import COMMON_RESPONSES, field_problem
from api.routing import TransactionRoute
from core.errors import Refusal
from services.units import UnitCreate, UnitPublic, create_unit, list_units

router = APIRouter(
    route_class=TransactionRoute, prefix="/api/units", tags=["units"], responses=COMMON_RESPONSES
)


@router.get("", response_model=list[UnitPublic], summary="Danh sách đơn vị")
def get_units(principal: CurrentUser, session: SessionDep) -> list[UnitPublic]:
    """All units for coordinators, viewers and the council; one's own units otherwise."""
    visible = None if principal.is_global or principal.agencies else principal.units()
    return [UnitPublic.model_validate(u) for u in list_units(session, unit_ids=visible)]


@router.post(
    "",
    response_model=UnitPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Tạo đơn vị",
)
def post_unit(unit_in: UnitCreate, principal: CurrentUser, session: SessionDep) -> UnitPublic:
    """Creates a unit (coordinator). 422 when the code is taken."""
    try:
        unit = create_unit(session, unit_in=unit_in, actor=principal.username)
    except Refusal as exc:  # the unit's own problem shape: a field problem, no code
        raise field_problem(exc.status, exc.field, exc.message_vi) from exc
    return UnitPublic.model_validate(unit)
