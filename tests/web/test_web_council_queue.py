"""The council's queue: units under appraisal × the agency's criteria, the unit's result beside
the appraisal, waiting ones marked, each linking to the criterion's page with the appraisal form;
a unit still drafting is not in it, another agency's criteria are not in it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi import FastAPI

from core.db import session_scope
from models.tables import Cycle, CycleState, Entry, UnitState
from tests.api_support import World, build_world, make_app, set_unit_state
from tests.web.test_web_pages import login, text_of


@pytest.fixture(scope="module")
def world(engine) -> World:
    w = build_world(engine, prefix="cq")
    with session_scope(engine) as session:
        cycle = session.get(Cycle, w.cycle_id)
        assert cycle is not None
        cycle.state = CycleState.running
        session.add(cycle)
        session.add(
            Entry(
                cycle_id=w.cycle_id,
                unit_id=w.unit_a,
                criterion_code="2.1.1",
                inputs={"level": "full"},
                self_score=Decimal("1"),
                self_reason="Đạt mức đầy đủ.",
                explanation="Kế hoạch số 15/KH-UBND.",
            )
        )
        session.add(
            Entry(
                cycle_id=w.cycle_id,
                unit_id=w.unit_a,
                criterion_code="2.1.2",
                inputs={"level": "full"},
                self_score=Decimal("1"),
                appraised_inputs={"level": "not_full"},
                appraised_score=Decimal("0"),
                appraisal_comment="Thiếu văn bản.",
            )
        )
    set_unit_state(engine, w.cycle_id, w.unit_a, UnitState.appraising)
    set_unit_state(engine, w.cycle_id, w.unit_b, UnitState.drafting)
    return w


@pytest.fixture(scope="module")
def app(engine, world, tmp_path_factory) -> FastAPI:
    return make_app(engine, tmp_path_factory.mktemp("data"))


def test_the_queue_shows_my_agency_s_criteria_side_by_side(app, world) -> None:
    http, _ = login(app, "cq-council", next_url="/")
    home = http.get("/").text
    assert f'href="/cycles/{world.cycle_id}/council"' in home
    page = http.get(f"/cycles/{world.cycle_id}/council")
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "Hàng chờ thẩm định" in text and "Thanh tra huyện" in text
    assert "UBND xã A" in text and "UBND xã B" not in text  # B is still drafting
    assert "Phòng Tài chính - Kế hoạch" not in text  # another agency's criteria
    row = page.text.split('criteria/2.1.1">2.1.1</a>', 1)[1].split("</tr>", 1)[0]
    assert "Kế hoạch số 15/KH-UBND." in row and ">Thẩm định</a>" in row
    done = text_of(page.text.split('criteria/2.1.2">2.1.2</a>', 1)[1].split("</tr>", 1)[0])
    assert "Ý kiến: Thiếu văn bản." in done
    # the criterion's page has the appraisal form, next within the agency's criteria
    crit = http.get(f"/cycles/{world.cycle_id}/units/cq-unit-a/criteria/2.1.1")
    assert 'id="appraisal-2.1.1"' in crit.text
    assert 'criteria/2.1.2" rel="next"' in crit.text


def test_staff_have_no_queue(app, world) -> None:
    http, _ = login(app, "cq-staff-a", next_url="/")
    assert "/council" not in http.get("/").text
