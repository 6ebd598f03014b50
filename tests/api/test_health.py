"""/healthz and /readyz against the real database and the real Temporal dev server."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.db import make_engine
from core.settings import Settings


async def _get(app, path: str) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)


async def test_ready_when_database_and_temporal_reachable(
    engine: Engine, temporal_dev: WorkflowEnvironment
) -> None:
    app = create_app(Settings(_env_file=None), engine=engine, temporal=temporal_dev.client)
    assert (await _get(app, "/healthz")).json() == {"status": "ok"}
    resp = await _get(app, "/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ready", "checks": {"database": "ok", "temporal": "ok"}}


async def test_not_ready_without_temporal(engine: Engine, tmp_path) -> None:
    # nothing listens on port 1: Temporal is unreachable, the database is fine
    settings = Settings(_env_file=None, temporal_address="127.0.0.1:1", data_dir=tmp_path)
    app = create_app(settings, engine=engine)
    resp = await _get(app, "/readyz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["temporal"].startswith("error")


async def test_not_ready_without_database(temporal_dev: WorkflowEnvironment, tmp_path) -> None:
    broken = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app = create_app(Settings(_env_file=None), engine=broken, temporal=temporal_dev.client)
    resp = await _get(app, "/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["database"].startswith("error")
    assert (await _get(app, "/healthz")).status_code == 200
