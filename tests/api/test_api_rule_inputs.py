"""The draft API refuses inputs that do not fit the rule with a 422 naming the field (issue 12,
item 4): a number too long to compute with, and an input of the wrong kind for the leaf."""

from __future__ import annotations

import pytest

from core.db import session_scope
from models.tables import UnitState
from tests.api_support import (
    assert_problem,
    assign_staff_a,
    build_world,
    client,
    make_app,
    set_unit_state,
)


@pytest.fixture(scope="module")
def world(engine):
    w = build_world(engine, prefix="ri")
    with session_scope(engine) as session:
        assign_staff_a(session, w, ("2.1.1", "6.2"))
    set_unit_state(engine, w.cycle_id, w.unit_a, UnitState.drafting)
    return w


@pytest.fixture(scope="module")
def http(engine, world, tmp_path_factory):
    return client(make_app(engine, tmp_path_factory.mktemp("data")))


def draft(http, world, code: str, body: dict[str, object]):
    return http.put(
        f"/api/cycles/{world.cycle_id}/units/{world.unit_a}/criteria/{code}/draft",
        json=body,
        headers=world.auth("staff_a"),
    )


@pytest.mark.parametrize("rate", ["1E+3000000000", "1e3000000000", "-1E+3000000000"])
def test_huge_number_is_a_422_naming_the_field_not_a_memory_error(http, world, rate) -> None:
    body = assert_problem(draft(http, world, "6.2", {"inputs": {"rate": rate}}), 422)
    assert body["errors"][0]["field"] == "inputs.rate"


def test_huge_json_number_is_a_422(http, world) -> None:
    resp = http.put(
        f"/api/cycles/{world.cycle_id}/units/{world.unit_a}/criteria/6.2/draft",
        content=b'{"inputs": {"rate": 1E+3000000000}}',
        headers={**world.auth("staff_a"), "content-type": "application/json"},
    )
    body = assert_problem(resp, 422)
    assert body["errors"][0]["field"] == "inputs.rate"


def test_wrong_input_kind_is_a_422_naming_the_field(http, world) -> None:
    # 2.1.1 is a pick-a-level criterion: a rate is not one of its inputs.
    body = assert_problem(draft(http, world, "2.1.1", {"inputs": {"rate": "90"}}), 422)
    assert body["errors"][0]["field"] == "rate"
    assert body["detail"].startswith("Tiêu chí 2.1.1, trường 'rate'")
    assert "không nhận trường 'rate'" in body["detail"]
    # a typed score for a proportional criterion (the top-level "score" shortcut) likewise
    body = assert_problem(draft(http, world, "6.2", {"score": "3"}), 422)
    assert body["errors"][0]["field"] == "score"


def test_nothing_is_saved_by_a_refused_draft(http, world) -> None:
    draft(http, world, "6.2", {"inputs": {"rate": "1E+3000000000"}})
    draft(http, world, "6.2", {"score": "3"})
    sheet = http.get(
        f"/api/cycles/{world.cycle_id}/units/{world.unit_a}", headers=world.auth("staff_a")
    )
    assert sheet.status_code == 200, sheet.text
    node = next(n for n in sheet.json()["nodes"] if n["code"] == "6.2")
    assert not node.get("inputs") and node["self_score"] is None


def test_huge_top_level_score_is_a_422_too(http, world) -> None:
    # the "score" shortcut beside "inputs" reaches the same bounded input model
    resp = draft(http, world, "2.1.1", {"score": "1E+3000000000"})
    body = assert_problem(resp, 422)
    assert "score" in body["errors"][0]["field"]
