"""The classification preview and the classification decisions over HTTP (issue 12, item 5).

The preview shows who the "xuất sắc" quota moves down and why (Nghị định 90/2020/NĐ-CP Điều 20
as amended by Nghị định 48/2023/NĐ-CP; Nghị định 335/2025/NĐ-CP: at most 20% of the units rated
"Hoàn thành tốt" of the group); an approved exception is recorded with its decision's number and
audited; a recorded veto forces "Không hoàn thành nhiệm vụ".
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlmodel import select

from core.db import session_scope
from models.framework import Framework
from models.tables import AuditLog, Entry, FrameworkRecord, UnitState
from tests.api_support import assert_problem, build_world, client, make_app, set_unit_state


@pytest.fixture(scope="module")
def world(engine):
    w = build_world(engine, prefix="cl", cycle_id="2024-cl")
    with session_scope(engine) as session:
        record = session.get(FrameworkRecord, w.framework_id)
        assert record is not None
        framework = Framework.model_validate(record.spec)
        assert framework.classification is not None
        scheme = framework.classification.model_copy(
            update={"top_quota_percent": 20, "source": "Nghị định 335/2025/NĐ-CP"}
        )
        spec = framework.model_copy(update={"classification": scheme}).model_dump(mode="json")
        record.spec = spec
        record.spec_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
        session.add(record)
        for unit in (w.unit_a, w.unit_b):
            for leaf in framework.leaves():
                session.add(
                    Entry(
                        cycle_id=w.cycle_id,
                        unit_id=unit,
                        criterion_code=leaf.code,
                        appraised_score=leaf.max_points,
                    )
                )
    for unit in (w.unit_a, w.unit_b):
        set_unit_state(engine, w.cycle_id, unit, UnitState.finalised)
    return w


@pytest.fixture(scope="module")
def http(engine, world, tmp_path_factory):
    return client(make_app(engine, tmp_path_factory.mktemp("data")))


def preview(http, world) -> dict[str, dict[str, Any]]:
    resp = http.get(
        f"/api/cycles/{world.cycle_id}/classification-preview",
        headers=world.auth("coordinator"),
    )
    assert resp.status_code == 200, resp.text
    return {row["unit"]: row for row in resp.json()}


def decide(http, world, unit: int, body: dict[str, object], who: str = "coordinator"):
    return http.put(
        f"/api/cycles/{world.cycle_id}/units/{unit}/classification-decision",
        json=body,
        headers=world.auth(who),
    )


def test_preview_shows_who_the_quota_moves_down_and_why(http, world) -> None:
    rows = preview(http, world)
    a, b = rows["cl-unit-a"], rows["cl-unit-b"]
    # two units at 100 and none "tốt": keeping one would be 1 > 20% × 1, so neither stays
    for row in (a, b):
        assert row["total"] == "100.000" and row["natural_band"] == "excellent"
        assert row["band"] == "good" and row["quota_demoted"] is True
        assert "không vượt quá 20% số đơn vị “Hoàn thành tốt nhiệm vụ”" in row["reasons"][-1]
        assert "(Nghị định 335/2025/NĐ-CP)" in row["reasons"][-1]


def test_exception_is_recorded_with_its_decision_number_and_audited(engine, http, world) -> None:
    resp = decide(http, world, world.unit_a, {"quota_exception": "125/QĐ-UBND"})
    assert resp.status_code == 200, resp.text
    rows = preview(http, world)
    assert rows["cl-unit-a"]["band"] == "excellent"
    assert rows["cl-unit-a"]["quota_exception"] == "125/QĐ-UBND"
    assert "quyết định số 125/QĐ-UBND" in rows["cl-unit-a"]["reasons"][-1]
    assert rows["cl-unit-b"]["band"] == "good"  # the exception takes no place in the quota
    with session_scope(engine) as session:
        row = session.exec(
            select(AuditLog).where(
                AuditLog.entity == "classification", AuditLog.action == "decision"
            )
        ).first()
        assert row is not None and row.after == {"quota_exception": "125/QĐ-UBND", "veto": None}


def test_veto_forces_fail(http, world) -> None:
    veto = "Người đứng đầu bị kỷ luật khiển trách (Quyết định số 12/QĐ-UBND)"
    assert decide(http, world, world.unit_b, {"veto": veto}).status_code == 200
    row = preview(http, world)["cl-unit-b"]
    assert row["band"] == "fail" and row["vetoed"] is True
    assert row["reasons"][-1].startswith(veto)
    assert decide(http, world, world.unit_b, {"veto": None}).status_code == 200
    assert preview(http, world)["cl-unit-b"]["band"] == "good"


def test_bad_decision_number_is_a_422_and_only_the_coordinator_decides(http, world) -> None:
    body = assert_problem(decide(http, world, world.unit_a, {"quota_exception": "abc"}), 422)
    assert body["errors"][0]["field"] == "quota_exception"
    assert preview(http, world)["cl-unit-a"]["quota_exception"] == "125/QĐ-UBND"  # unchanged
    resp = decide(http, world, world.unit_a, {"quota_exception": "1/QĐ"}, who="office_a")
    assert resp.status_code in (403, 404)
    resp = http.get(
        f"/api/cycles/{world.cycle_id}/classification-preview", headers=world.auth("viewer")
    )
    assert resp.status_code in (403, 404)
