"""The demo (`make dev`): last year's cycle published with four different results, and this
year's units at four stages — submitted with evidence, half drafted, not started, late — with
Vietnamese people's names; /readyz (demo mode) is ready only once the demo is loaded; a second
load changes nothing. Against a real database, the Temporal dev server, a worker and SMTP.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from cli.demo import CYCLE_ID, load_demo
from core.settings import Settings
from core.vn import VN_TZ
from models.tables import CycleUnit, Evidence, Unit, UnitState, User
from tests.web.test_web_pages import text_of
from workflows.worker import build_worker


async def test_the_demo_has_history_and_stages(
    engine, db_url: str, temporal_dev: WorkflowEnvironment, smtp, tmp_path
) -> None:
    port, _sink = smtp
    client = temporal_dev.client
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        temporal_address=client.service_client.config.target_host,
        temporal_namespace=client.namespace,
        temporal_task_queue=f"demo-{uuid.uuid4().hex[:8]}",
        smtp_port=port,
        demo=True,
        admin_password="quan-tri-thu-nghiem",
    )
    from api.app import create_app

    app = create_app(settings, engine=engine, temporal=client)
    with TestClient(app) as http:
        assert http.get("/readyz").json()["checks"]["demo"] == "loading"
    worker = build_worker(
        client, engine=engine, settings=settings, task_queue=settings.temporal_task_queue
    )
    async with worker:
        summary = await asyncio.to_thread(load_demo, settings)
        assert summary.created
        again = await asyncio.to_thread(load_demo, settings)
        assert again.created == []

    year = datetime.now(UTC).year
    with Session(engine) as s:
        states = {
            u.code: (UnitState(cu.state), cu.submission_deadline)
            for cu, u in s.exec(
                select(CycleUnit, Unit)
                .join(Unit, Unit.id == CycleUnit.unit_id)  # type: ignore[arg-type]
                .where(CycleUnit.cycle_id == CYCLE_ID)
            ).all()
        }
        assert states["binh-thanh"][0] is UnitState.submitted
        assert states["kim-phuong"][1] < datetime.now(UTC) < states["dinh-bien"][1]
        # Every deadline reads as an office's close of day, 17:00 in Việt Nam.
        assert {
            (d if d.tzinfo else d.replace(tzinfo=UTC)).astimezone(VN_TZ).strftime("%H:%M")
            for _, d in states.values()
        } == {"17:00"}
        assert s.exec(select(Evidence).where(Evidence.cycle_id == CYCLE_ID)).first() is not None
        names = {u.full_name for u in s.exec(select(User)).all()}
        assert {"Nguyễn Thị Lan", "Nguyễn Thị Thu Hà", "Trần Thị Mai"} <= names

    with TestClient(app) as http:
        assert http.get("/readyz").json()["checks"]["demo"] == "ok"
        _login_admin(http)
        console = text_of(http.get(f"/cycles/{CYCLE_ID}").text)
        assert "Đã gửi kết quả" in console
        late = text_of(http.get(f"/cycles/{CYCLE_ID}?flag=late").text)
        assert "Đang hiển thị 1/4 đơn vị." in late and "UBND xã Kim Phượng" in late
        idle = text_of(http.get(f"/cycles/{CYCLE_ID}?flag=not_started").text)
        assert "UBND xã Phú Đình" in idle and "UBND xã Định Biên" not in idle
        results = text_of(http.get(f"/cycles/{CYCLE_ID}-{year - 1}/results").text)
        assert "Hoàn thành xuất sắc nhiệm vụ" in results
        assert "Hoàn thành tốt nhiệm vụ" in results
        last = text_of(http.get(f"/cycles/{CYCLE_ID}-{year - 1}").text)
        assert "Xếp hạng theo tổng điểm" in last


def _login_admin(http: TestClient) -> None:
    page = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    resp = http.post(
        "/login",
        data={"username": "admin", "password": "quan-tri-thu-nghiem", "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert resp.status_code == 303
