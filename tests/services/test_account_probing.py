"""A unit office cannot probe usernames (issue 14: a taken name answered 409 "đã có người
dùng" for any account, e.g. a council member's)."""

from __future__ import annotations

import pytest

from tests.api_support import assert_problem, build_world, client, make_app


@pytest.fixture(scope="module")
def world(engine):
    return build_world(engine, prefix="prb")


@pytest.fixture(scope="module")
def http(engine, world, tmp_path_factory):
    return client(make_app(engine, tmp_path_factory.mktemp("data")))


def _create(http, world, username: str):
    staff = {"role": "staff", "unit_code": "prb-unit-a"}
    return http.post(
        "/api/users",
        json={"username": username, "email": f"{username}@example.vn", "roles": [staff]},
        headers=world.auth("office_a"),
    )


def test_a_taken_name_elsewhere_answers_like_a_free_one(http, world) -> None:
    taken = assert_problem(_create(http, world, "prb-council"), 422)  # the council's account
    free = assert_problem(_create(http, world, "prb-nobody-at-all"), 422)
    assert (
        taken["errors"]
        == free["errors"]
        == [{"field": "username", "in": "body", "reason": free["errors"][0]["reason"]}]
    )
    assert "prb-unit-a." in free["errors"][0]["reason"]


def test_names_inside_the_own_namespace_work_and_clash_only_there(http, world) -> None:
    assert _create(http, world, "prb-unit-a.lan").status_code == 201
    assert_problem(_create(http, world, "prb-unit-a.lan"), 409)  # its own account: listed anyway
    listed = http.get("/api/users", headers=world.auth("office_a")).json()
    assert "prb-unit-a.lan" in {u["username"] for u in listed}


def test_the_coordinator_still_hears_that_a_name_is_taken(http, world) -> None:
    resp = http.post(
        "/api/users",
        json={"username": "prb-council", "email": "x@example.vn", "roles": [{"role": "viewer"}]},
        headers=world.auth("coordinator"),
    )
    assert_problem(resp, 409)
