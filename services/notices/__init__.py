"""Who is told what: recipients and the content of each notification, read from the database.

``build_notices`` turns a workflow's ``NoticeRequest`` into one ``Notice`` per person (a digest:
never one message per criterion) with the context its template needs. Rendering is
``notifications.render``; storing and sending is ``services.outbox`` and the mail activity.

The package is a table, not a switchboard: ``registry`` maps each ``NoticeKind`` (the template's
name) to one small builder, registered next to it in ``cycle_wide`` (missed deadlines, results,
the council's appraisal reminder) or ``per_unit`` (everything about one unit); ``recipients``
says who the unit office, the staff, the coordinators and the council are. A new notice is a
template, a ``NoticeKind`` and one decorated function.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from contracts.messages import NoticeRequest
from models.labels import DEADLINE_VI, offset_vi
from models.tables import Cycle
from services.notices import cycle_wide, per_unit
from services.notices.recipients import Recipient, office_recipients
from services.notices.registry import CycleScope, Notice, builder_for, link, message_key

__all__ = ["Notice", "Recipient", "build_notices", "message_key", "office_recipients"]

# Importing the builder modules fills the registry; named here so that nothing prunes them.
BUILDER_MODULES = (cycle_wide, per_unit)


def build_notices(session: Session, req: NoticeRequest, *, base_url: str) -> list[Notice]:
    """The digests to send for this request, one per person (possibly none)."""
    build = builder_for(req.kind)  # before any query: an unregistered kind fails loudly
    cycle = session.get(Cycle, req.cycle_id)
    if cycle is None:
        return []
    base: dict[str, Any] = {
        "cycle": {"id": cycle.id, "title": cycle.title, "year": cycle.year},
        "deadline": req.deadline,
        "deadline_label": DEADLINE_VI.get(req.deadline_kind.value, "") if req.deadline_kind else "",
        "offset_text": offset_vi(req.offset) if req.offset else "",
        "reason": req.reason,
        "round_no": req.round_no,
        "cycle_link": link(base_url, cycle.id),
    }
    return build(CycleScope(session=session, req=req, cycle=cycle, base=base, base_url=base_url))
