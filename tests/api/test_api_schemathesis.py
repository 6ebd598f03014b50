"""Schemathesis against /openapi.json: generated requests for every operation, no 5xx.

Bounded (a few examples per operation) to keep the suite fast. Requests are signed in as the
coordinator (who may call most routes) so they get past authentication into validation and
the handlers; a second run goes as a unit's staff. Temporal is a stand-in that knows no
workflow (the API answers 404 "not running"); the workflows are covered end to end elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from tests.api_support import build_world, make_app


class _NoWorkflows:
    """A Temporal client stand-in: nothing is running, a start finds the workflow started."""

    class _Handle:
        async def execute_update(self, *args: Any, **kwargs: Any) -> Any:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

        async def query(self, *args: Any, **kwargs: Any) -> Any:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

    def get_workflow_handle(self, *args: Any, **kwargs: Any) -> _Handle:
        return self._Handle()

    async def start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        raise WorkflowAlreadyStartedError("x", "CycleWorkflow")


@pytest.fixture(scope="module")
def world(engine):
    return build_world(engine, prefix="st")


@pytest.fixture(scope="module")
def api_schema(engine, world, tmp_path_factory):
    app = make_app(engine, tmp_path_factory.mktemp("data"), temporal=_NoWorkflows())
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _operations(api_schema) -> list[Any]:
    # /readyz answers 503 by design when a dependency is down (here: the stand-in Temporal)
    ops = [r.ok() for r in api_schema.get_all_operations() if r.ok().label != "GET /readyz"]
    assert len(ops) >= 35
    return ops


def real_params(world) -> dict[str, Any]:
    """Path parameters of things that exist, so that generated bodies reach the handlers."""
    return {
        "cycle_id": world.cycle_id,
        "unit_id": world.unit_a,
        "code": "6.2",
        "framework_id": world.framework_id,
        "followup": "analysis",
    }


# schemathesis' own pytest plugin does not run under pytest 9, so the operations are
# driven with Hypothesis directly: the same strategies, the same check. Half of the cases keep
# their generated path parameters (unknown resources), half name the world's own.
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
def test_no_server_errors(api_schema, world, persona, mode) -> None:
    headers = world.auth(persona)
    known = real_params(world)
    seen: list[str] = []
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=mode), real=st.booleans())
        @settings(
            max_examples=6,
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
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Unsatisfiable:
            # negative mode: an operation without inputs has nothing to make invalid
            assert mode is GenerationMode.NEGATIVE
            continue
        seen.append(operation.label)
    assert "POST /api/cycles/{cycle_id}/units/{unit_id}/criteria/{code}/evidence" in seen
