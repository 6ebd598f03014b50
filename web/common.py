"""What the cycle and unit pages share: the base context, the cycle of a path, the unit's URLs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlmodel import Session
from starlette.datastructures import FormData

from actions.common import UnitRef
from core.errors import NotFound
from models.tables import Cycle
from web.auth import PageCaller
from web.forms import text_field
from web.nav import nav_links

__all__ = [
    "back",
    "base",
    "criterion_url",
    "form_of",
    "from_criterion_page",
    "idem_key",
    "load_cycle",
    "mine_only",
    "unit_ref",
    "unit_url",
]


def base(caller: PageCaller) -> dict[str, Any]:
    """What every page's template needs: the person and the CSRF token of their forms."""
    return {
        "user": caller.user,
        "csrf_token": caller.csrf_token,
        "nav": nav_links(caller.principal.roles),
    }


def load_cycle(session: Session, cycle_id: str) -> Cycle:
    """The cycle of the path (its visibility was checked by the page's rule)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:  # a race with a delete
        raise NotFound("not_found", "Không tìm thấy kỳ đánh giá.", "No such cycle.")
    return cycle


def unit_ref(caller: PageCaller, cycle_id: str) -> UnitRef:
    """The unit of the page's path, as the actions take it."""
    unit = caller.unit
    assert unit is not None and unit.id is not None  # resolved by page_caller for unit pages
    return UnitRef(cycle_id=cycle_id, unit_id=unit.id, unit_code=unit.code)


def form_of(caller: PageCaller) -> FormData:
    """The posted form (read by ``page_caller`` for the CSRF check)."""
    assert caller.form is not None
    return caller.form


def idem_key(form: FormData) -> str | None:
    """The form's idempotency key: a double click acts once."""
    key = text_field(form, "idem").strip()
    return key[:200] or None


def unit_url(cycle_id: str, unit_code: str) -> str:
    """The unit's page."""
    return f"/cycles/{quote(cycle_id)}/units/{quote(unit_code)}"


def criterion_url(cycle_id: str, unit_code: str, code: str) -> str:
    """A criterion's own page."""
    return f"{unit_url(cycle_id, unit_code)}/criteria/{quote(code)}"


def from_criterion_page(form: FormData | None) -> bool:
    """The form was sent from a criterion's own page."""
    return form is not None and text_field(form, "view") == "criterion"


def mine_only(form: FormData | None) -> bool:
    """The form was sent from the page filtered to the person's own criteria."""
    return form is not None and text_field(form, "view") == "mine"


def back(cycle_id: str, unit_code: str, form: FormData, code: str = "") -> str:
    """The page the form was sent from: the criterion's own page, or the unit's page at the
    criterion's row (where the person was looking)."""
    if code and from_criterion_page(form):
        return criterion_url(cycle_id, unit_code, code) + "#result"
    url = unit_url(cycle_id, unit_code) + ("?mine=1" if mine_only(form) else "")
    return url + (f"#c-{code}" if code else "")
