"""Time inside workflows: local (UTC+7) instants and the reminder plan. Pure and deterministic.

``ZoneInfo`` is not available in the workflow sandbox; Viet Nam keeps UTC+7 without daylight
saving, so a fixed offset is exact. Deadlines arrive as aware UTC instants.

Reminders: for a deadline D and offsets in hours (0 meaning "the morning of D's day, 07:00
local"), a reminder falls at D − offset. Only reminders strictly after the moment the deadline
was set (``after``: the cycle opening, an extension, the start of a round) and strictly before
D are planned, so an extension never sends the reminders of a deadline that was not yet known,
and nothing is sent at or after its deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["UTC7", "Reminder", "at_local", "local_text", "morning_of", "plan_reminders"]

UTC7 = timezone(timedelta(hours=7))
MORNING_HOUR = 7


def at_local(instant: datetime, *, days: int, hour: int = 17, minute: int = 0) -> datetime:
    """``hour:minute`` local time on the ``days``-th local day after ``instant`` (as UTC)."""
    day = instant.astimezone(UTC7).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC7).astimezone(UTC)


def morning_of(deadline: datetime) -> datetime:
    """07:00 local time on the deadline's local day (as UTC)."""
    return at_local(deadline, days=0, hour=MORNING_HOUR)


def local_text(instant: datetime) -> str:
    """ "17:00 ngày 25/11/2024" without the tz database (UTC+7)."""
    local = instant.astimezone(UTC7)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


@dataclass(frozen=True)
class Reminder:
    """One planned reminder: about ``kind`` due at ``deadline``, falling at ``at``."""

    kind: str
    deadline: datetime
    offset: str  # "168h", "72h", "24h", "morning"
    at: datetime

    @property
    def key(self) -> str:
        """Stable identity: the same deadline and offset is one reminder, ever."""
        return f"{self.kind}|{self.deadline.astimezone(UTC).isoformat()}|{self.offset}"


def plan_reminders(
    kind: str, deadline: datetime, offsets_hours: tuple[int, ...], *, after: datetime
) -> list[Reminder]:
    """The reminders of one deadline falling in (after, deadline), earliest first."""
    out: dict[datetime, Reminder] = {}
    for hours in sorted(set(offsets_hours), reverse=True):
        if hours == 0:
            at, offset = morning_of(deadline), "morning"
        else:
            at, offset = deadline - timedelta(hours=hours), f"{hours}h"
        if after < at < deadline and at not in out:
            out[at] = Reminder(kind=kind, deadline=deadline, offset=offset, at=at)
    return [out[at] for at in sorted(out)]
