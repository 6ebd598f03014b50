"""Shared set-up of the API tests: an app on the module's database and a small world of people.

The world: three units (two in a cycle, one outside it), the built-in Định Hóa framework
published, one person per role, and a cycle whose projection states the tests set directly
(the workflows are exercised by the end-to-end test only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.app import create_app
from core.db import session_scope
from core.settings import Settings
from frameworks.yaml_io import load_framework_yaml
from models.tables import Assignment, CycleUnit, Role, RoleGrant, Unit, UnitState, User
from services.accounts import hash_password
from services.cycles import CycleSpec, create_cycle
from services.frameworks import publish_framework, store_framework
from services.sessions import start_session

ROOT = Path(__file__).resolve().parent.parent
DINH_HOA_YAML = ROOT / "frameworks" / "builtin" / "dinh-hoa-commune-2024.yaml"
PASSWORD = "mat-khau-thu-nghiem"
SECRET = "test-secret-key-of-at-least-32-characters"
# The appraising agency of criterion 2.1.1 … 2.3.x of the Định Hóa framework.
AGENCY = "Thanh tra huyện"


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings for a test app: its own data dir, a fixed secret."""
    return Settings(_env_file=None, data_dir=tmp, secret_key=SECRET, **overrides)


def make_app(engine: Engine, tmp: Path, temporal: Any = None, **overrides: Any) -> FastAPI:
    """The real app on the test database (no lifespan: Temporal is what the test passes)."""
    return create_app(make_settings(tmp, **overrides), engine=engine, temporal=temporal)


def client(app: FastAPI) -> TestClient:
    """A client that does not raise server errors (a 500 is asserted as a status)."""
    return TestClient(app, raise_server_exceptions=False)


@dataclass
class World:
    """Ids and bearer tokens of the test world."""

    cycle_id: str
    framework_id: int
    unit_a: int
    unit_b: int
    unit_c: int
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        """The Authorization header of one persona."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}


# persona → (role, unit key or None, agency or None)
PERSONAS: dict[str, tuple[Role, str | None, str | None]] = {
    "coordinator": (Role.coordinator, None, None),
    "viewer": (Role.viewer, None, None),
    "office_a": (Role.unit_office, "a", None),
    "staff_a": (Role.staff, "a", None),
    "office_b": (Role.unit_office, "b", None),
    "staff_b": (Role.staff, "b", None),
    "office_c": (Role.unit_office, "c", None),
    "council": (Role.council, None, AGENCY),
}

_HASH: dict[str, str] = {}


def password_hash() -> str:
    """One argon2 hash of PASSWORD shared by every persona (hashing is deliberately slow)."""
    if "h" not in _HASH:
        _HASH["h"] = hash_password(PASSWORD)
    return _HASH["h"]


def build_world(engine: Engine, *, prefix: str = "t", cycle_id: str = "2024-test") -> World:
    """Creates units, the framework, the personas and a draft cycle; returns their ids/tokens."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        units = {}
        for key, group in (("a", "commune"), ("b", "commune"), ("c", "commune")):
            unit = Unit(code=f"{prefix}-unit-{key}", name=f"UBND xã {key.upper()}", group=group)
            session.add(unit)
            session.flush()
            units[key] = unit
        framework = load_framework_yaml(DINH_HOA_YAML.read_text(encoding="utf-8"))
        record, _ = store_framework(session, framework=framework, actor="test")
        assert record.id is not None
        publish_framework(session, framework_id=record.id, actor="test")
        users: dict[str, int] = {}
        for name, (role, unit_key, agency) in PERSONAS.items():
            user = User(
                username=f"{prefix}-{name}".replace("_", "-"),
                full_name=name,
                email=f"{prefix}-{name}@example.vn".replace("_", "-"),
                password_hash=password_hash(),
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            unit_id = units[unit_key].id if unit_key else None
            session.add(RoleGrant(user_id=user.id, role=role, unit_id=unit_id, agency=agency))
            users[name] = user.id
        create_cycle(
            session,
            spec=CycleSpec(
                cycle_id=cycle_id,
                year=2024,
                title="Kỳ thử nghiệm",
                framework_id=record.id,
                units=[units["a"].code, units["b"].code],
                opens_at=now - timedelta(days=10),
                data_cutoff_at=now - timedelta(days=1),
                submission_deadline=now + timedelta(days=5),
                hard_lock_at=now + timedelta(days=8),
                appraisal_deadline=now + timedelta(days=20),
                results_target=now + timedelta(days=30),
            ),
            actor="test",
        )
        world = World(
            cycle_id=cycle_id,
            framework_id=record.id,
            unit_a=units["a"].id or 0,
            unit_b=units["b"].id or 0,
            unit_c=units["c"].id or 0,
            users=users,
        )
    with session_scope(engine) as session:
        for name, uid in users.items():
            found = session.get(User, uid)
            assert found is not None
            world.tokens[name] = start_session(
                session, found, secret_key=SECRET, minutes=60, kind="api"
            )[0]
    return world


def assign_staff_a(session: Session, world: World, codes: Iterable[str]) -> None:
    """Assigns these criteria of unit A to staff_a, responsible for each (in ``session``)."""
    for code in codes:
        session.add(
            Assignment(
                cycle_id=world.cycle_id,
                unit_id=world.unit_a,
                criterion_code=code,
                user_id=world.users["staff_a"],
                responsible=True,
            )
        )


def set_unit_state(
    engine: Engine, cycle_id: str, unit_id: int, state: UnitState, **kw: Any
) -> None:
    """Sets a unit's projected state (what the workflow's activities would write)."""
    with session_scope(engine) as session:
        cu = session.exec(
            select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == unit_id)
        ).one()
        cu.state = state
        for k, v in kw.items():
            setattr(cu, k, v)
        session.add(cu)


def assert_problem(resp: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; its body."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert body["title"]
    assert "type" in body
    return body
