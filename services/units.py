"""Units of local government (cơ quan, đơn vị, địa phương): create, list, look up."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from core.errors import Conflict
from models.tables import Unit
from services import audit

__all__ = ["UnitCreate", "UnitPublic", "create_unit", "get_unit_by_code", "list_units"]

UNIT_CODE_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class UnitCreate(BaseModel):
    """A new unit."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "binh-thanh",
                    "name": "UBND xã Bình Thành",
                    "group": "commune",
                    "email": "vanphong@binhthanh.dinhhoa.gov.vn",
                }
            ]
        },
    )

    code: str = Field(pattern=UNIT_CODE_RE, description="Mã đơn vị")
    name: str = Field(min_length=1, max_length=255, description="Tên đơn vị")
    group: str = Field(
        default="commune", min_length=1, max_length=64, description="Nhóm xếp hạng (xã, phòng…)"
    )
    email: str = Field(default="", max_length=255, description="Thư điện tử văn phòng")


class UnitPublic(BaseModel):
    """A unit as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    group: str
    email: str
    created_at: datetime


def get_unit_by_code(session: Session, *, code: str) -> Unit | None:
    """The unit with this code, or None."""
    return session.exec(select(Unit).where(Unit.code == code)).first()


def create_unit(session: Session, *, unit_in: UnitCreate, actor: str) -> Unit:
    """Creates a unit (audited); ``Conflict`` when the code is taken."""
    if get_unit_by_code(session, code=unit_in.code) is not None:
        raise Conflict(
            "unit_exists",
            f"Mã đơn vị '{unit_in.code}' đã tồn tại.",
            f"The unit code '{unit_in.code}' is taken.",
            field="code",
        )
    unit = Unit(**unit_in.model_dump())
    session.add(unit)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="unit",
        action="create",
        entity_key=unit.code,
        unit_id=unit.id,
        after=unit_in.model_dump(),
    )
    return unit


def list_units(session: Session, *, unit_ids: Iterable[int] | None = None) -> list[Unit]:
    """All units by code, or only ``unit_ids``."""
    query = select(Unit).order_by(col(Unit.code))
    if unit_ids is not None:
        query = query.where(col(Unit.id).in_(list(unit_ids)))
    return list(session.exec(query).all())
