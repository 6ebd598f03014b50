"""Schemathesis against /openapi.json on the real Temporal dev server with the project's worker:
explicit and generated requests for every operation, and no answer is a 5xx.

The world (``tests.api_support.build_world``) has a started cycle of two units whose workflows
run on the real worker (``workflows.worker.build_worker``, in a thread with its own event loop,
as `appraisal worker` runs it), and a second started cycle of the third unit for the cycle-wide
commands (close appraisal, classify, publish, cancel), so that those do not end the first. The
app connects to the dev server in its lifespan, as in production; mail goes to a real SMTP sink.

First a journey of explicit cases walks the commands' success paths through the workflows
(assign, draft, review, return, submit, appraise, an explanation round, finalise, the cycle-wide
commands) and the clashes (an existing unit code or username answers 409), each checked for
its status. Then each persona's run sends the schema's examples and generated requests to
every operation (half with the world's own path parameters, half with generated ones).

schemathesis' own pytest plugin does not run under pytest 9, so the operations are driven with
Hypothesis directly: the same strategies, the same check.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.db import session_scope
from core.settings import Settings
from core.temporal import DATA_CONVERTER
from models.tables import User
from notifications.sink import free_port, start_sink
from services.cycles import CycleSpec, create_cycle
from services.sessions import start_session
from tests.api_support import SECRET, World, build_world, make_app, make_settings
from workflows import commands as C
from workflows.worker import build_worker

CYCLE = "2024-st"
OTHER = "2024-st-khac"  # the cycle the cycle-wide commands act on
# Operations that end the caller's sessions: a fresh token follows each of their cases.
SESSION_ENDING = frozenset(
    {
        "POST /api/auth/logout",
        "POST /api/auth/logout-all",
        "POST /api/auth/password",
        "DELETE /api/users/{user_id}/sessions",
    }
)
# The cycle-wide commands act on the other cycle (its only unit is the world's third).
CYCLE_WIDE = frozenset(
    {
        "POST /api/cycles/{cycle_id}/close-appraisal",
        "POST /api/cycles/{cycle_id}/classify",
        "GET /api/cycles/{cycle_id}/classification-preview",
        "PUT /api/cycles/{cycle_id}/units/{unit_id}/classification-decision",
        "POST /api/cycles/{cycle_id}/publish",
        "POST /api/cycles/{cycle_id}/cancel",
    }
)
EXAMPLES = 8  # generated cases per operation and persona (plus the schema's own examples)


class WorkerThread:
    """The project's worker on the dev server, in a thread with its own event loop."""

    def __init__(self, address: str, namespace: str, engine: Engine, settings: Settings) -> None:
        self.address, self.namespace = address, namespace
        self.engine, self.settings = engine, settings
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: Client | None = None
        self.error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="schemathesis-worker", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() / the fixture
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.client = await Client.connect(
            self.address, namespace=self.namespace, data_converter=DATA_CONVERTER
        )
        worker = build_worker(self.client, engine=self.engine, settings=self.settings)
        async with worker:
            self.ready.set()
            await self._stop.wait()

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(60), "the worker did not start"
        if self.error is not None:
            raise self.error

    def start_cycle(self, cycle_id: str) -> int:
        """Starts a cycle's workflows from the worker's loop (as `appraisal cycle start`)."""
        assert self.loop is not None and self.client is not None
        client, queue = self.client, self.settings.temporal_task_queue
        run = C.start_cycle(client, self.engine, cycle_id, task_queue=queue)
        return asyncio.run_coroutine_threadsafe(run, self.loop).result(timeout=120)

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=60)


@dataclass
class Live:
    """The fuzzed app and its world."""

    world: World
    schema: Any
    engine: Engine

    def headers(self, persona: str) -> dict[str, str]:
        """A fresh session of ``persona`` (a case may have ended the last one)."""
        with session_scope(self.engine, write=True) as session:
            user = session.get(User, self.world.users[persona])
            assert user is not None
            token = start_session(session, user, secret_key=SECRET, minutes=60, kind="api")[0]
        return {"Authorization": f"Bearer {token}"}


def _other_cycle(engine: Engine, world: World) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        create_cycle(
            session,
            spec=CycleSpec(
                cycle_id=OTHER,
                year=2024,
                title="Kỳ thử các lệnh toàn kỳ",
                framework_id=world.framework_id,
                units=["st-unit-c"],
                opens_at=now - timedelta(days=10),
                data_cutoff_at=now - timedelta(days=1),
                submission_deadline=now + timedelta(days=5),
                hard_lock_at=now + timedelta(days=8),
                appraisal_deadline=now + timedelta(days=20),
                results_target=now + timedelta(days=30),
            ),
            actor="test",
        )


@pytest.fixture(scope="module")
def live(
    temporal_dev: WorkflowEnvironment, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    port = free_port()
    controller, _sink = start_sink("127.0.0.1", port)
    target = temporal_dev.client.service_client.config.target_host
    app_settings = make_settings(
        tmp_path_factory.mktemp("data"),
        temporal_address=target,
        temporal_namespace=temporal_dev.client.namespace,
        temporal_task_queue=f"st-{uuid.uuid4().hex[:8]}",
        smtp_host="127.0.0.1",
        smtp_port=port,
    )
    world = build_world(engine, prefix="st", cycle_id=CYCLE)
    _other_cycle(engine, world)
    worker = WorkerThread(target, temporal_dev.client.namespace, engine, app_settings)
    worker.start()
    try:
        assert worker.start_cycle(CYCLE) == 2
        assert worker.start_cycle(OTHER) == 1
        # No client passed: the lifespan connects to the dev server, as in production.
        app = make_app(engine, app_settings.data_dir, temporal=None, **_overrides(app_settings))
        yield Live(world, schemathesis.openapi.from_asgi("/openapi.json", app), engine)
    finally:
        worker.stop()
        controller.stop()


def _overrides(s: Settings) -> dict[str, Any]:
    keys = ("temporal_address", "temporal_namespace", "temporal_task_queue")
    return {k: getattr(s, k) for k in (*keys, "smtp_host", "smtp_port")}


def _operation(live: Live, label: str) -> Any:
    for result in live.schema.get_all_operations():
        if result.ok().label == label:
            return result.ok()
    raise AssertionError(f"no operation {label}")


def _operations(live: Live) -> list[Any]:
    ops = [r.ok() for r in live.schema.get_all_operations()]
    assert len(ops) >= 50
    # The cycle-wide commands last: they end a cycle (the other one, but still).
    return sorted(ops, key=lambda op: op.label in CYCLE_WIDE)


def real_params(world: World, label: str) -> dict[str, Any]:
    """Path parameters of things that exist, so that generated bodies reach the handlers."""
    other = label in CYCLE_WIDE
    return {
        "cycle_id": OTHER if other else world.cycle_id,
        "unit_id": world.unit_c if other else world.unit_a,
        "code": "2.1.1",
        "framework_id": world.framework_id,
        "followup": "analysis",
        "user_id": world.users["staff_a"],
    }


# --- the journey: explicit cases along the success paths, and the clashes --------------------

UNIT = "/api/cycles/{cycle_id}/units/{unit_id}"
NEW_USER = {
    "username": "st-nguoi-moi",
    "full_name": "Người mới",
    "email": "st-nguoi-moi@example.vn",
    "roles": [{"role": "viewer"}],
}


def _journey(world: World) -> list[tuple[str, str, dict[str, Any], Any, int | str]]:
    """(persona, operation, path parameters, body, expected status or "409 <problem code>")."""
    a = {"cycle_id": CYCLE, "unit_id": world.unit_a}
    b = {"cycle_id": CYCLE, "unit_id": world.unit_b}
    c = {"cycle_id": OTHER, "unit_id": world.unit_c}
    other = {"cycle_id": OTHER}
    unit = {"code": "st-xa-trung", "name": "UBND xã Trùng", "group": "commune"}
    return [
        ("coordinator", "POST /api/units", {}, unit, 201),
        ("coordinator", "POST /api/units", {}, unit, "409 conflict"),  # the same code again
        ("coordinator", "POST /api/units", {}, {**unit, "code": "st-unit-a"}, "409 conflict"),
        ("coordinator", "POST /api/users", {}, NEW_USER, 201),
        ("coordinator", "POST /api/users", {}, NEW_USER, "409 conflict"),
        (
            "coordinator",
            "POST /api/users",
            {},
            {**NEW_USER, "username": "st-council"},
            "409 conflict",
        ),
        ("coordinator", "POST /api/cycles/{cycle_id}/start", {"cycle_id": CYCLE}, None, 202),
        # unit A: assigned, drafted, under review, one criterion returned to its staff
        ("office_a", f"PUT {UNIT}/assignments", a, _assign("st-staff-a"), 200),
        ("staff_a", f"PUT {UNIT}/criteria/{{code}}/draft", {**a, "code": "2.1.1"}, _DRAFT, 200),
        ("office_a", f"POST {UNIT}/start-review", a, None, 200),
        (
            "staff_a",
            f"PUT {UNIT}/criteria/{{code}}/draft",
            {**a, "code": "2.1.1"},
            _DRAFT,
            "409 under_review",
        ),
        ("office_a", f"POST {UNIT}/return", a, {"codes": ["2.1.1"], "comment": "Ghi rõ số."}, 200),
        ("staff_a", f"PUT {UNIT}/criteria/{{code}}/draft", {**a, "code": "2.1.1"}, _DRAFT, 200),
        # unit B: assigned, submitted, appraised with one explanation round, finalised
        ("office_b", f"PUT {UNIT}/assignments", b, _assign("st-staff-b"), 200),
        ("staff_b", f"PUT {UNIT}/criteria/{{code}}/draft", {**b, "code": "2.1.1"}, _DRAFT, 200),
        ("office_b", f"POST {UNIT}/submit", b, {"proposed_class": "good"}, 200),
        (
            "staff_b",
            f"PUT {UNIT}/criteria/{{code}}/draft",
            {**b, "code": "2.1.1"},
            _DRAFT,
            "409 invalid_state",
        ),
        ("council", f"POST {UNIT}/start-appraisal", b, None, 200),
        ("council", f"PUT {UNIT}/criteria/{{code}}/appraisal", {**b, "code": "2.1.1"}, _LOW, 200),
        ("council", f"POST {UNIT}/explanation-requests", b, _QUESTION, 201),
        ("council", f"POST {UNIT}/finalise", b, _OVERRIDE, "409 invalid_state"),  # a round is open
        ("council", f"POST {UNIT}/explanation-requests/{{request_id}}/close", b, None, 200),
        ("council", f"POST {UNIT}/finalise", b, None, "409 agencies_unfinished"),
        ("council", f"POST {UNIT}/finalise", b, _OVERRIDE, 200),
        ("coordinator", f"POST {UNIT}/reopen", b, {"reason": "Bổ sung"}, "409 invalid_state"),
        # the other cycle: its unit submitted and finalised, the cycle closed, classified,
        # published; closing before the unit was done and cancelling after are refused
        (
            "coordinator",
            "POST /api/cycles/{cycle_id}/close-appraisal",
            other,
            None,
            "409 units_pending",
        ),
        ("office_c", f"PUT {UNIT}/assignments", c, _assign("st-office-c"), 200),
        ("office_c", f"POST {UNIT}/submit", c, None, 200),
        ("council", f"POST {UNIT}/start-appraisal", c, None, 200),
        ("council", f"POST {UNIT}/finalise", c, _OVERRIDE, 200),
        ("coordinator", "POST /api/cycles/{cycle_id}/close-appraisal", other, None, 200),
        ("coordinator", "POST /api/cycles/{cycle_id}/classify", other, None, 200),
        ("coordinator", "POST /api/cycles/{cycle_id}/publish", other, None, 200),
        (
            "coordinator",
            "POST /api/cycles/{cycle_id}/cancel",
            other,
            _REASON,
            "409 invalid_cycle_state",
        ),
    ]


def _assign(username: str) -> dict[str, Any]:
    return {"assignments": [{"codes": ["II"], "username": username}]}


_DRAFT = {"inputs": {"level": "full"}, "explanation": "Kế hoạch số 15/KH-UBND."}
_LOW = {"inputs": {"level": "not_full"}, "comment": "Thiếu văn bản chỉ đạo."}
_OVERRIDE = {"override": True, "reason": "Đủ hồ sơ."}
_REASON = {"reason": "Thử hủy"}
_QUESTION = {"items": [{"code": "2.1.1", "question": "Bổ sung văn bản chỉ đạo."}]}


def _round_id(live: Live, unit_id: int) -> int:
    op = _operation(live, f"GET {UNIT}")
    case = op.Case(path_parameters={"cycle_id": CYCLE, "unit_id": unit_id})
    resp = case.call(headers=live.headers("council"))
    assert resp.status_code == 200, resp.text
    return int(resp.json()["explanation_rounds"][-1]["id"])


def test_success_paths_and_clashes(live: Live) -> None:
    """Every command of the journey answers what it must: the workflows really ran it."""
    for persona, label, params, body, expected in _journey(live.world):
        if "{request_id}" in label:
            params = {**params, "request_id": _round_id(live, live.world.unit_b)}
        op = _operation(live, label)
        kwargs: dict[str, Any] = {"path_parameters": params}
        if body is not None:
            kwargs.update(body=body, media_type="application/json")
        case = op.Case(**kwargs)
        resp = case.call_and_validate(headers=live.headers(persona), checks=[not_a_server_error])
        status, _, code = str(expected).partition(" ")
        assert resp.status_code == int(status), (persona, label, resp.status_code, resp.text)
        if code == "conflict":  # a clash of names: the field at fault is named
            assert resp.json()["errors"][0]["field"] in ("code", "username"), resp.text
        elif code:
            assert resp.json()["code"] == code, (persona, label, resp.text)
        if label == f"POST {UNIT}/submit":
            assert resp.json()["state"] == "submitted" and resp.json()["snapshot_hash"]
    states = {u: _state(live, u) for u in (live.world.unit_a, live.world.unit_b, live.world.unit_c)}
    assert states == {
        live.world.unit_a: "unit_review",
        live.world.unit_b: "finalised",
        live.world.unit_c: "published",
    }


def _state(live: Live, unit_id: int) -> str:
    cycle = OTHER if unit_id == live.world.unit_c else CYCLE
    op = _operation(live, f"GET {UNIT}")
    resp = op.Case(path_parameters={"cycle_id": cycle, "unit_id": unit_id}).call(
        headers=live.headers("coordinator")
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["state"])


# --- generated requests, per persona ---------------------------------------------------------


def _strategy(op: Any, mode: GenerationMode) -> Any:
    generated = op.as_strategy(generation_mode=mode)
    if mode is not GenerationMode.POSITIVE:
        return generated
    # The schema's own examples too: sent again and again, a create meets its own name.
    return st.one_of(generated, *op.get_strategies_from_examples())


def _fuzz(live: Live, persona: str, mode: GenerationMode, op: Any, seen: Counter[Any]) -> bool:
    """Sends ``op`` the cases Hypothesis draws; False when there is nothing to draw."""
    known = real_params(live.world, op.label)
    auth = {"headers": live.headers(persona)}

    @given(case=_strategy(op, mode), real=st.booleans())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any, real: bool) -> None:
        if real and case.path_parameters:
            for name in case.path_parameters:
                if name in known:
                    case.path_parameters[name] = known[name]
        resp = case.call_and_validate(headers=auth["headers"], checks=[not_a_server_error])
        seen[(op.label, resp.status_code)] += 1
        if op.label in SESSION_ENDING:
            auth["headers"] = live.headers(persona)

    try:
        run()
    except Unsatisfiable:
        # negative mode: an operation without inputs has nothing to make invalid
        assert mode is GenerationMode.NEGATIVE
        return False
    return True


@pytest.mark.parametrize(
    ("persona", "mode"),
    [
        ("coordinator", GenerationMode.POSITIVE),
        ("coordinator", GenerationMode.NEGATIVE),
        ("office_a", GenerationMode.POSITIVE),
        ("staff_a", GenerationMode.POSITIVE),
        ("council", GenerationMode.POSITIVE),
    ],
)
def test_no_server_errors(live: Live, persona: str, mode: GenerationMode) -> None:
    seen: Counter[tuple[str, int]] = Counter()
    done = [op.label for op in _operations(live) if _fuzz(live, persona, mode, op, seen)]
    assert f"POST {UNIT}/criteria/{{code}}/evidence" in done
    assert sum(seen.values()) > 100
    # The requests got past authentication: a 401 is only the sign-in's own answer.
    unauthorised = {label for (label, status) in seen if status == 401}
    assert unauthorised <= {"POST /api/auth/token"}, unauthorised
    if persona == "coordinator" and mode is GenerationMode.POSITIVE:
        # the schema's example of a unit, drawn more than once, clashes with itself
        assert seen[("POST /api/units", 201)] and seen[("POST /api/units", 409)], seen
        assert seen[("GET /readyz", 200)]  # the app reaches the dev server
        assert seen[("POST /api/cycles/{cycle_id}/start", 202)]  # a command ran on Temporal
