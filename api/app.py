"""The FastAPI application: REST API under /api, Vietnamese pages, health and readiness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine
from temporalio.client import Client

from core.db import make_engine
from core.settings import Settings, get_settings
from core.temporal import connect


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    temporal: Client | None = None,
) -> FastAPI:
    """Builds the app; tests inject an engine and a Temporal client, production connects."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = engine or make_engine(settings.sqlalchemy_url)
        app.state.temporal = temporal
        if app.state.temporal is None:
            try:
                app.state.temporal = await connect(settings)
            except Exception:  # readiness reports it; the API still serves reads
                app.state.temporal = None
        yield
        if engine is None:
            app.state.engine.dispose()

    app = FastAPI(
        title="Đánh giá, xếp loại mức độ hoàn thành nhiệm vụ — API",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        """The database and Temporal are reachable."""
        checks: dict[str, Any] = {}
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        client: Client | None = request.app.state.temporal
        if client is None:
            try:
                client = await connect(request.app.state.settings)
                request.app.state.temporal = client
            except Exception as exc:
                checks["temporal"] = f"error: {type(exc).__name__}"
        if client is not None:
            try:
                await client.service_client.check_health()
                checks["temporal"] = "ok"
            except Exception as exc:
                checks["temporal"] = f"error: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        body = {"status": "ready" if ready else "not_ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    return app
