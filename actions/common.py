"""What every action needs: the unit an action is about, and the caller as the edit gate sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

from core.vn import VN_TZ
from models.tables import Role
from services.accounts import Principal
from services.sheet import Editor

__all__ = ["LocalTime", "UnitRef", "editor_for", "to_utc"]


@dataclass(frozen=True)
class UnitRef:
    """A unit of a cycle, after the caller's access rule let them see it."""

    cycle_id: str
    unit_id: int
    unit_code: str


def editor_for(principal: Principal, unit_id: int) -> Editor:
    """The caller as the edit gate sees them for this unit."""
    return Editor(
        username=principal.username,
        user_id=principal.user_id,
        office=principal.has_for_unit(Role.unit_office, unit_id),
        agencies=principal.agencies,
        coordinator=principal.has(Role.coordinator),
    )


def to_utc(value: datetime) -> datetime:
    """A time without a zone is Vietnamese local time (Asia/Ho_Chi_Minh); stored as UTC."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=VN_TZ)
    return value.astimezone(UTC)


# A datetime input: ISO 8601, local Vietnamese time unless a zone is given; UTC once parsed.
LocalTime = Annotated[datetime, AfterValidator(to_utc)]
