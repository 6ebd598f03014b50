"""Post/Redirect/Get for the forms' addresses: a GET of a form's POST path goes to its page.

A refused form is drawn again in place (with what was typed), so the address bar shows the
form's POST path; reloading or following that address later is a GET, which lands here and is
sent to the page the form belongs to (the criterion's page for a criterion's form, else the
unit's page) instead of a raw 405. The page itself checks who may see it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from api.routing import TransactionRoute
from web.common import criterion_url, unit_url

__all__ = ["FORM_PATHS", "router"]

router = APIRouter(route_class=TransactionRoute, include_in_schema=False)

_PU = "/cycles/{cycle_id}/units/{unit_code}"
# The POST-only paths of the unit's forms (web.unit_forms, web.unit_commands).
FORM_PATHS: tuple[str, ...] = (
    "start-review",
    "return",
    "submit",
    "reopen",
    "start-appraisal",
    "explanation-requests",
    "close-round",
    "finalise",
)
CRITERION_FORMS: tuple[str, ...] = ("draft", "evidence", "appraisal", "answer")


def _to_unit(cycle_id: str, unit_code: str) -> RedirectResponse:
    """The unit's page."""
    return RedirectResponse(unit_url(cycle_id, unit_code), status_code=303)


def _to_criterion(cycle_id: str, unit_code: str, code: str) -> RedirectResponse:
    """The criterion's page."""
    return RedirectResponse(criterion_url(cycle_id, unit_code, code), status_code=303)


def _to_criterion_of_evidence(
    cycle_id: str, unit_code: str, code: str, evidence_id: str
) -> RedirectResponse:
    """The criterion's page (after a detach form)."""
    return _to_criterion(cycle_id, unit_code, code)


for _path in FORM_PATHS:
    router.add_api_route(f"{_PU}/{_path}", _to_unit, methods=["GET"], name=f"reload_{_path}")
for _path in CRITERION_FORMS:
    router.add_api_route(
        f"{_PU}/criteria/{{code}}/{_path}", _to_criterion, methods=["GET"], name=f"reload_{_path}"
    )
router.add_api_route(
    f"{_PU}/criteria/{{code}}/evidence/{{evidence_id}}/delete",
    _to_criterion_of_evidence,
    methods=["GET"],
    name="reload_detach",
)
