"""The role × endpoint matrix, generated from the app's route table and ``api.access.POLICY``.

Every /api route is called by every persona (and anonymously). Expected: anonymous → 401;
a resource outside the caller's scope → 404 (never 403: no enumeration); in scope but a role
that may not act → 403; allowed → anything but 401/403/404 (422 for the empty bodies sent
here, 409 from the edit gate, 503 for workflow commands: Temporal is absent in this test).
A route without a rule fails here (and the app refuses to start).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from api.access import POLICY, Rule, Scope, api_routes, missing_rules, route_keys
from core.db import session_scope
from models.tables import ExplanationItem, ExplanationRequest, Role, UnitState, User
from services.evidence import EvidenceMeta, add_evidence, store_file
from services.sessions import start_session
from tests.api_support import PERSONAS, SECRET, build_world, client, make_app, set_unit_state

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CODE = "2.1.1"  # a leaf of the Định Hóa framework appraised by Thanh tra huyện


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory):
    world = build_world(engine, prefix="mx")
    data = tmp_path_factory.mktemp("data")
    app = make_app(engine, data)
    # Unit A has been submitted and is under appraisal (so the council may see it).
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.appraising)
    with session_scope(engine) as session:
        stored = store_file(
            io.BytesIO(PDF),
            filename="ke-hoach.pdf",
            evidence_dir=app.state.settings.evidence_dir,
            max_bytes=10**6,
        )
        ev = add_evidence(
            session,
            cycle_id=world.cycle_id,
            unit_id=world.unit_a,
            criterion_code=CODE,
            stored=stored,
            meta=EvidenceMeta(doc_number="12/KH-UBND"),
            actor="test",
        )
        req = ExplanationRequest(
            cycle_id=world.cycle_id,
            unit_id=world.unit_a,
            round_no=1,
            deadline=datetime.now(UTC) + timedelta(days=3),
        )
        session.add(req)
        session.flush()
        session.add(ExplanationItem(request_id=req.id or 0, criterion_code=CODE, question="?"))
        # Sessions are listed and ended on an account that is no persona of the matrix.
        extra = User(username="mx-extra", password_hash="!", full_name="")
        session.add(extra)
        session.flush()
        ids = {"evidence_id": ev.id, "request_id": req.id, "user_id": extra.id}
    params = {
        "cycle_id": world.cycle_id,
        "unit_id": world.unit_a,
        "code": CODE,
        "framework_id": world.framework_id,
        "followup": "analysis",
        **ids,
    }
    return world, app, params


def _routes(app) -> list[tuple[str, str]]:
    return api_routes(app)


def expected(rule: Rule, persona: str | None) -> str:
    """What the persona must get: "401" | "403" | "404" | "allowed"."""
    if rule.public:
        return "allowed"
    if persona is None:
        return "401"
    role, unit_key, _agency = PERSONAS[persona]
    allowed = role in rule.roles
    if rule.scope is Scope.cycle and unit_key == "c":  # unit C is not in the cycle
        return "404"
    if rule.scope is Scope.unit:  # the path names unit A, which is under appraisal
        visible = role in (Role.coordinator, Role.viewer, Role.council) or unit_key == "a"
        if not visible:
            return "404"
    return "allowed" if allowed else "403"


def test_every_route_has_a_rule_and_every_rule_a_route(setup) -> None:
    _world, app, _params = setup
    assert missing_rules(app) == []
    assert sorted(set(POLICY) - set(route_keys(app))) == []


def test_a_new_route_without_a_rule_is_caught() -> None:
    from fastapi import APIRouter, FastAPI

    from api.routes import ROUTERS

    probe = FastAPI()
    for router in ROUTERS:
        probe.include_router(router)
    extra = APIRouter(prefix="/api/new")

    @extra.get("/thing")
    def _new() -> dict[str, str]:
        return {}

    probe.include_router(extra)
    assert missing_rules(probe) == ["GET /api/new/thing"]


def _new_token(app, world, persona: str) -> str:
    """A fresh bearer session of the persona, after a route ended the caller's sessions."""
    with session_scope(app.state.engine) as session:
        user = session.get(User, world.users[persona])
        assert user is not None
        return start_session(session, user, secret_key=SECRET, minutes=60, kind="api")[0]


def test_matrix(setup) -> None:
    world, app, params = setup
    http = client(app)
    failures = []
    cases = 0
    for method, path in _routes(app):
        rule = POLICY[f"{method} {path}"]
        url = path.format(**params)
        for persona in [None, *PERSONAS]:
            want = expected(rule, persona)
            headers = world.auth(persona) if persona else {}
            resp = http.request(method, url, headers=headers)
            if persona and path.startswith("/api/auth/logout"):
                # Logging out ended the persona's session(s): give it a new one.
                world.tokens[persona] = _new_token(app, world, persona)
            cases += 1
            got = resp.status_code
            ok = got not in (401, 403, 404) if want == "allowed" else str(got) == want
            if ok and want != "allowed":
                ok = resp.headers["content-type"].startswith("application/problem+json")
            if not ok or (got >= 500 and got != 503):
                failures.append(f"{method} {path} as {persona}: want {want}, got {got}")
    assert cases == len(POLICY) * (len(PERSONAS) + 1)
    assert failures == []


def test_council_cannot_see_a_unit_before_submission(setup) -> None:
    world, app, params = setup
    http = client(app)
    # unit B is still drafting: to the council it does not exist
    paths = [p for m, p in _routes(app) if m == "GET" and "{unit_id}" in p]
    for path in paths:
        url = path.format(**{**params, "unit_id": world.unit_b})
        assert http.get(url, headers=world.auth("council")).status_code == 404, path
        assert http.get(url, headers=world.auth("viewer")).status_code in (200, 404), path
    sheet = f"/api/cycles/{world.cycle_id}/units/{world.unit_b}"
    assert http.get(sheet, headers=world.auth("viewer")).status_code == 200
    listed = http.get(f"/api/cycles/{world.cycle_id}", headers=world.auth("council")).json()
    assert [u["unit_id"] for u in listed["units"]] == [world.unit_a]


def test_a_unknown_unit_and_another_units_resource_look_the_same(setup) -> None:
    world, app, _params = setup
    http = client(app)
    base = f"/api/cycles/{world.cycle_id}/units"
    other = http.get(f"{base}/{world.unit_b}", headers=world.auth("staff_a"))
    missing = http.get(f"{base}/999999", headers=world.auth("staff_a"))
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"] == missing.json()["detail"]
    # a cycle the caller has no unit in, and one that does not exist: the same 404
    outside = http.get(f"/api/cycles/{world.cycle_id}", headers=world.auth("office_c"))
    nowhere = http.get("/api/cycles/no-such-cycle", headers=world.auth("office_c"))
    assert outside.status_code == nowhere.status_code == 404
    assert outside.json()["detail"] == nowhere.json()["detail"]
