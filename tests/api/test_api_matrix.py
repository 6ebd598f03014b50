"""The role × endpoint matrix against a hand-written table of who may call what.

``EXPECTED`` below is written and reviewed by hand from the domain (DOMAIN.md: the coordinator
runs cycles and accounts, unit offices and staff fill their own unit's sheet, the council
appraises submitted units, viewers read) — it is NOT derived from ``api.access.POLICY``, so a
rule loosened in the code (say, staff allowed to publish a cycle) fails here twice: the tables
differ, and the call answers something other than 403. Every /api route must be in the table.

Every /api route is called by every persona (and anonymously). Expected: anonymous → 401;
a resource outside the caller's scope → 404 (never 403: no enumeration); in scope but a role
that may not act → 403; allowed → anything but 401/403/404 (422 for the empty bodies sent
here, 409 from the edit gate, 503 for workflow commands: Temporal is absent in this test).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from api.access import POLICY, Scope, api_routes, missing_rules, route_keys
from core.db import session_scope
from models.tables import ExplanationItem, ExplanationRequest, Role, UnitState, User
from services.evidence import EvidenceMeta, add_evidence, store_file
from services.sessions import start_session
from tests.api_support import PERSONAS, SECRET, build_world, client, make_app, set_unit_state

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CODE = "2.1.1"  # a leaf of the Định Hóa framework appraised by Thanh tra huyện

_CY = "/api/cycles/{cycle_id}"
_UN = _CY + "/units/{unit_id}"
_CR = _UN + "/criteria/{code}"
ANY = "C V O S K"
PUBLIC = "public"

# route → (roles that may act, scope): C coordinator, V viewer, O unit office, S staff,
# K council. Scope: "none" (the role is enough), "cycle" (the cycle must be visible), "unit"
# (the unit must be visible: own units for O/S, submitted units for K).
EXPECTED: dict[str, tuple[str, str]] = {
    # sign-in and one's own account: everyone signed in; reset links need no session
    "POST /api/auth/token": (PUBLIC, "none"),
    "GET /api/auth/me": (ANY, "none"),
    "POST /api/auth/logout": (ANY, "none"),
    "POST /api/auth/logout-all": (ANY, "none"),
    "GET /api/auth/sessions": (ANY, "none"),
    "POST /api/auth/password": (ANY, "none"),
    "POST /api/auth/password-reset": (PUBLIC, "none"),
    "POST /api/auth/password-reset/confirm": (PUBLIC, "none"),
    # units and accounts: the coordinator; a unit office lists and adds its own staff
    "GET /api/units": (ANY, "none"),
    "POST /api/units": ("C", "none"),
    "GET /api/users": ("C O", "none"),
    "POST /api/users": ("C O", "none"),
    "GET /api/users/{user_id}/sessions": ("C", "none"),
    "DELETE /api/users/{user_id}/sessions": ("C", "none"),
    "GET /api/audit/verify": ("C", "none"),
    # frameworks: everyone reads; only the coordinator imports and publishes
    "GET /api/frameworks": (ANY, "none"),
    "POST /api/frameworks/import": ("C", "none"),
    "GET /api/frameworks/{framework_id}": (ANY, "none"),
    "GET /api/frameworks/{framework_id}/export": (ANY, "none"),
    "POST /api/frameworks/{framework_id}/publish": ("C", "none"),
    # cycles: the coordinator runs them; everyone who takes part reads them and the results
    "GET /api/cycles": (ANY, "none"),
    "POST /api/cycles": ("C", "none"),
    f"GET {_CY}": (ANY, "cycle"),
    f"POST {_CY}/start": ("C", "cycle"),
    f"POST {_CY}/deadlines": ("C", "cycle"),
    f"POST {_CY}/close-appraisal": ("C", "cycle"),
    f"GET {_CY}/classification-preview": ("C", "cycle"),
    f"POST {_CY}/classify": ("C", "cycle"),
    f"POST {_CY}/publish": ("C", "cycle"),
    f"POST {_CY}/cancel": ("C", "cycle"),
    f"GET {_CY}/results": (ANY, "cycle"),
    # a unit's sheet: its office and staff fill it, the office submits, the council appraises
    f"GET {_UN}": (ANY, "unit"),
    f"PUT {_UN}/assignments": ("C O", "unit"),
    f"PUT {_CR}/draft": ("O S", "unit"),
    f"POST {_CR}/evidence": ("O S", "unit"),
    f"GET {_CR}/evidence/{{evidence_id}}": (ANY, "unit"),
    f"DELETE {_CR}/evidence/{{evidence_id}}": ("O S", "unit"),
    f"POST {_UN}/start-review": ("O", "unit"),
    f"POST {_UN}/return": ("O", "unit"),
    f"POST {_UN}/submit": ("O", "unit"),
    f"POST {_UN}/reopen": ("C", "unit"),
    f"PUT {_UN}/classification-decision": ("C", "unit"),
    f"POST {_UN}/start-appraisal": ("K", "unit"),
    f"PUT {_CR}/appraisal": ("C K", "unit"),
    f"POST {_UN}/explanation-requests": ("K", "unit"),
    f"PUT {_UN}/explanation-requests/{{request_id}}/criteria/{{code}}": ("O S", "unit"),
    f"POST {_UN}/explanation-requests/{{request_id}}/close": ("K", "unit"),
    f"POST {_UN}/finalise": ("K", "unit"),
    f"POST {_UN}/followups/{{followup}}/done": ("O", "unit"),
    f"GET {_UN}/audit": ("C V O K", "unit"),
    # documents (issue 11): whoever may read the sheet (or the results) downloads them; the
    # sheet through Excel is uploaded by those who edit it (the edit gate decides per criterion)
    f"GET {_UN}/reports/self": (ANY, "unit"),
    f"GET {_UN}/reports/appraisal": (ANY, "unit"),
    f"GET {_UN}/reports/analysis": (ANY, "unit"),
    f"GET {_CY}/reports/results": (ANY, "cycle"),
    f"GET {_UN}/sheet.xlsx": (ANY, "unit"),
    f"POST {_UN}/sheet.xlsx": ("C O S K", "unit"),
}
LETTERS = {"C": Role.coordinator, "V": Role.viewer, "O": Role.unit_office, "S": Role.staff}
LETTERS["K"] = Role.council


def _roles(letters: str) -> frozenset[Role]:
    return frozenset() if letters == PUBLIC else frozenset(LETTERS[x] for x in letters.split())


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


def expected(key: str, persona: str | None) -> str:
    """What the persona must get by the hand-written table: "401" | "403" | "404" | "allowed"."""
    letters, scope = EXPECTED[key]
    if letters == PUBLIC:
        return "allowed"
    if persona is None:
        return "401"
    role, unit_key, _agency = PERSONAS[persona]
    allowed = role in _roles(letters)
    if scope == "cycle" and unit_key == "c":  # unit C is not in the cycle
        return "404"
    if scope == "unit":  # the path names unit A, which is under appraisal
        visible = role in (Role.coordinator, Role.viewer, Role.council) or unit_key == "a"
        if not visible:
            return "404"
    return "allowed" if allowed else "403"


def test_the_policy_is_the_hand_written_table(setup) -> None:
    _world, app, _params = setup
    assert sorted(route_keys(app)) == sorted(EXPECTED), "a route is missing from EXPECTED"
    differ = []
    for key, (letters, scope) in EXPECTED.items():
        rule = POLICY[key]
        if (
            rule.public != (letters == PUBLIC)
            or rule.roles != _roles(letters)
            or rule.scope is not Scope(scope)
        ):
            differ.append(f"{key}: code {sorted(rule.roles)} {rule.scope}, table {letters} {scope}")
    assert differ == []


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
        key = f"{method} {path}"
        url = path.format(**params)
        for persona in [None, *PERSONAS]:
            want = expected(key, persona)
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
    assert cases == len(EXPECTED) * (len(PERSONAS) + 1)
    assert failures == []


def test_council_cannot_see_a_unit_before_submission(setup) -> None:
    world, app, params = setup
    http = client(app)
    # unit B is still drafting: to the council it does not exist
    paths = [p for m, p in _routes(app) if m == "GET" and "{unit_id}" in p]
    for path in paths:
        url = path.format(**{**params, "unit_id": world.unit_b})
        assert http.get(url, headers=world.auth("council")).status_code == 404, path
        # the viewer sees unit B; only the evidence (unit A's) does not exist there
        want = 404 if "{evidence_id}" in path else 200
        assert http.get(url, headers=world.auth("viewer")).status_code == want, path
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
