"""Who may call what: one rule per route, checked by one dependency on every API route.

A rule names the roles that may call the route and its scope:
- ``none``: the role is enough (a coordinator-only list, …);
- ``cycle``: the cycle must be visible to the caller (coordinator, viewer, council: every cycle;
  unit office and staff: cycles where one of their units takes part), else 404;
- ``unit``: the unit of the path must be visible to the caller in that cycle (coordinator and
  viewer: all; unit office and staff: their own units; council: units whose sheet has been
  submitted), else 404 — a resource of another unit is never "forbidden", it does not exist.
  The unit roles in ``roles`` count only when held for that unit.
Only then does a visible resource answer 403 for a role that may not act on it. Finer rules
(staff edit only the criteria assigned to them, the council only criteria routed to its agency)
are checked by the edit gate of the sheet service.

``create_app`` refuses to start when an /api route has no rule here, and the role × endpoint
matrix test (tests/api/test_api_matrix.py) is generated from the app's route table and this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlmodel import Session, col, select

from api.errors import forbidden, not_found
from models.tables import Cycle, CycleUnit, Role, Unit, UnitState
from services.accounts import Principal

__all__ = ["POLICY", "Rule", "Scope", "check", "missing_rules"]

ALL = frozenset(Role)
C = Role.coordinator
V = Role.viewer
O = Role.unit_office  # noqa: E741
S = Role.staff
K = Role.council

# States in which the council may read a unit's sheet: a snapshot has been submitted.
COUNCIL_VISIBLE = frozenset(
    {
        UnitState.submitted,
        UnitState.appraising,
        UnitState.explanation,
        UnitState.finalised,
        UnitState.classified,
        UnitState.published,
    }
)


class Scope(StrEnum):
    """What must be visible to the caller before the role is considered."""

    none = "none"
    cycle = "cycle"
    unit = "unit"


@dataclass(frozen=True)
class Rule:
    """Who may call one route."""

    roles: frozenset[Role]
    scope: Scope = Scope.none
    public: bool = False


def _r(*roles: Role, scope: Scope = Scope.none) -> Rule:
    return Rule(frozenset(roles), scope)


CYCLE = "/api/cycles/{cycle_id}"
UNIT = CYCLE + "/units/{unit_id}"
CRIT = UNIT + "/criteria/{code}"

POLICY: dict[str, Rule] = {
    "POST /api/auth/token": Rule(frozenset(), public=True),
    "GET /api/auth/me": _r(*ALL),
    "POST /api/auth/logout": _r(*ALL),
    "POST /api/auth/logout-all": _r(*ALL),
    "GET /api/auth/sessions": _r(*ALL),
    "POST /api/auth/password": _r(*ALL),
    "POST /api/auth/password-reset": Rule(frozenset(), public=True),
    "POST /api/auth/password-reset/confirm": Rule(frozenset(), public=True),
    "GET /api/units": _r(*ALL),
    "POST /api/units": _r(C),
    "GET /api/users": _r(C, O),
    "POST /api/users": _r(C, O),
    "GET /api/users/{user_id}/sessions": _r(C),
    "GET /api/audit/verify": _r(C),
    "DELETE /api/users/{user_id}/sessions": _r(C),
    "GET /api/frameworks": _r(*ALL),
    "POST /api/frameworks/import": _r(C),
    "GET /api/frameworks/{framework_id}": _r(*ALL),
    "GET /api/frameworks/{framework_id}/export": _r(*ALL),
    "POST /api/frameworks/{framework_id}/publish": _r(C),
    "GET /api/cycles": _r(*ALL),
    "POST /api/cycles": _r(C),
    f"GET {CYCLE}": _r(*ALL, scope=Scope.cycle),
    f"POST {CYCLE}/start": _r(C, scope=Scope.cycle),
    f"POST {CYCLE}/deadlines": _r(C, scope=Scope.cycle),
    f"POST {CYCLE}/close-appraisal": _r(C, scope=Scope.cycle),
    f"POST {CYCLE}/classify": _r(C, scope=Scope.cycle),
    f"POST {CYCLE}/publish": _r(C, scope=Scope.cycle),
    f"POST {CYCLE}/cancel": _r(C, scope=Scope.cycle),
    f"GET {CYCLE}/results": _r(*ALL, scope=Scope.cycle),
    f"GET {CYCLE}/classification-preview": _r(C, scope=Scope.cycle),
    f"PUT {UNIT}/classification-decision": _r(C, scope=Scope.unit),
    f"GET {UNIT}": _r(*ALL, scope=Scope.unit),
    f"PUT {UNIT}/assignments": _r(C, O, scope=Scope.unit),  # the coordinator on a unit's behalf
    f"PUT {CRIT}/draft": _r(S, O, scope=Scope.unit),
    f"POST {CRIT}/evidence": _r(S, O, scope=Scope.unit),
    f"GET {CRIT}/evidence/{{evidence_id}}": _r(*ALL, scope=Scope.unit),
    f"DELETE {CRIT}/evidence/{{evidence_id}}": _r(S, O, scope=Scope.unit),
    f"POST {UNIT}/start-review": _r(O, scope=Scope.unit),
    f"POST {UNIT}/return": _r(O, scope=Scope.unit),
    f"POST {UNIT}/submit": _r(O, scope=Scope.unit),
    f"POST {UNIT}/reopen": _r(C, scope=Scope.unit),
    f"POST {UNIT}/start-appraisal": _r(K, scope=Scope.unit),
    f"PUT {CRIT}/appraisal": _r(K, C, scope=Scope.unit),
    f"POST {UNIT}/explanation-requests": _r(K, scope=Scope.unit),
    f"PUT {UNIT}/explanation-requests/{{request_id}}/criteria/{{code}}": _r(S, O, scope=Scope.unit),
    f"POST {UNIT}/explanation-requests/{{request_id}}/close": _r(K, scope=Scope.unit),
    f"POST {UNIT}/finalise": _r(K, scope=Scope.unit),
    f"POST {UNIT}/followups/{{followup}}/done": _r(O, scope=Scope.unit),
    f"GET {UNIT}/audit": _r(C, V, O, K, scope=Scope.unit),
    # Documents (issue 11, helper "reports"): the same visibility as the sheet they print.
    f"GET {UNIT}/reports/self": _r(*ALL, scope=Scope.unit),
    f"GET {UNIT}/reports/appraisal": _r(*ALL, scope=Scope.unit),
    f"GET {UNIT}/reports/analysis": _r(*ALL, scope=Scope.unit),
    f"GET {CYCLE}/reports/results": _r(*ALL, scope=Scope.cycle),
    f"GET {UNIT}/sheet.xlsx": _r(*ALL, scope=Scope.unit),
    f"POST {UNIT}/sheet.xlsx": _r(S, O, K, C, scope=Scope.unit),
}


def app_routes(app: FastAPI) -> list[tuple[APIRoute, str, list[str]]]:
    """(route, full path, sorted methods) of every ``APIRoute`` of the app, pages and routers
    included (whatever their nesting)."""
    try:  # FastAPI ≥ 0.16x keeps included routers nested
        from fastapi.routing import iter_route_contexts

        contexts: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI: a flat route list
        contexts = list(app.routes)
    out: list[tuple[APIRoute, str, list[str]]] = []
    for ctx in contexts:
        original = getattr(ctx, "original_route", ctx)
        path = getattr(ctx, "path", None)
        if isinstance(original, APIRoute) and path:
            out.append((original, path, sorted(getattr(ctx, "methods", None) or ())))
    return out


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(METHOD, path) of every API route, routers included (whatever their nesting)."""
    return [
        (method, path)
        for _route, path, methods in app_routes(app)
        if path.startswith("/api/")
        for method in methods
    ]


def route_keys(app: FastAPI) -> list[str]:
    """``"METHOD /path"`` of every API route of the app."""
    return [f"{method} {path}" for method, path in api_routes(app)]


def missing_rules(app: FastAPI) -> list[str]:
    """API routes without a rule (the app refuses to start with any)."""
    return [key for key in route_keys(app) if key not in POLICY]


MAX_ID = 2**31 - 1  # ids are 32-bit integers in every database we run on


def _int(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and 1 <= number <= MAX_ID else None


def cycle_visible(session: Session, principal: Principal, cycle_id: str) -> Cycle:
    """The cycle if the caller may see it; 404 otherwise."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise not_found("Không tìm thấy kỳ đánh giá.")
    if principal.is_global or principal.has(Role.council):
        return cycle
    mine = principal.units()
    if mine:
        hit = session.exec(
            select(CycleUnit.id).where(
                CycleUnit.cycle_id == cycle_id, col(CycleUnit.unit_id).in_(list(mine))
            )
        ).first()
        if hit is not None:
            return cycle
    raise not_found("Không tìm thấy kỳ đánh giá.")


_VISIBLE = "appraisal_visible_units"  # Session.info: (user, cycle, unit) → (projection, unit)


def visible_unit(
    session: Session, principal: Principal, cycle_id: str, unit_id: int
) -> tuple[CycleUnit, Unit]:
    """The unit's projection in the cycle and the unit, if the caller may see it; 404 otherwise.

    Read once per request (the session), in one query: the route rule's check and the route's
    own lookup share it. A write re-reads the projection under the unit's lock
    (``services.sheet.gate``).
    """
    seen: dict[tuple[int, str, int], tuple[CycleUnit, Unit]] = session.info.setdefault(_VISIBLE, {})
    key = (principal.user_id, cycle_id, unit_id)
    if key in seen:
        return seen[key]
    found = session.exec(
        select(CycleUnit, Unit)
        .join(Unit, col(Unit.id) == col(CycleUnit.unit_id))
        .where(col(CycleUnit.cycle_id) == cycle_id, col(CycleUnit.unit_id) == unit_id)
    ).first()
    if found is not None and _may_see(principal, found[0], unit_id):
        seen[key] = (found[0], found[1])
        return seen[key]
    raise not_found("Không tìm thấy đơn vị trong kỳ đánh giá.")


def unit_visible(session: Session, principal: Principal, cycle_id: str, unit_id: int) -> CycleUnit:
    """The unit's projection in the cycle if the caller may see it; 404 otherwise."""
    return visible_unit(session, principal, cycle_id, unit_id)[0]


def _may_see(principal: Principal, cu: CycleUnit, unit_id: int) -> bool:
    if principal.is_global or unit_id in principal.units():
        return True
    return principal.has(Role.council) and UnitState(cu.state) in COUNCIL_VISIBLE


def check(session: Session, principal: Principal, rule: Rule, path_params: dict[str, str]) -> None:
    """Raises 404 when the scope is not visible, 403 when no allowed role is held."""
    if rule.scope is Scope.none:
        if not rule.roles & principal.roles:
            raise forbidden()
        return
    cycle_id = path_params.get("cycle_id", "")
    if rule.scope is Scope.cycle:
        cycle_visible(session, principal, cycle_id)
        if not rule.roles & principal.roles:
            raise forbidden()
        return
    unit_id = _int(path_params.get("unit_id"))
    if unit_id is None:
        raise not_found("Không tìm thấy đơn vị trong kỳ đánh giá.")
    unit_visible(session, principal, cycle_id, unit_id)
    if not any(principal.has_for_unit(role, unit_id) for role in rule.roles):
        raise forbidden()
