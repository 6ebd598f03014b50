"""The FastAPI application: REST API under /api, Vietnamese pages, health and readiness."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine
from temporalio.client import Client

from api import access, errors
from api.headers import SecurityHeaders
from api.openapi import install_openapi
from api.routes import ROUTERS
from api.text_guard import TextGuard
from core.db import make_engine, session_scope
from core.settings import Mode, Settings, get_settings
from core.temporal import connect
from services.accounts import ensure_admin
from web.pages import router as pages_router
from web.render import error_page

log = logging.getLogger(__name__)

API_DESCRIPTION = """
REST API of the yearly self-assessment and appraisal (tự đánh giá, thẩm định, xếp loại).

Sign in with `POST /api/auth/token` (OAuth2 password form) and send
`Authorization: Bearer <access_token>`. Roles: coordinator (cơ quan thường trực),
unit_office (văn phòng đơn vị), staff (cán bộ phụ trách), council (hội đồng thẩm định,
per appraising agency), viewer. A resource of another unit answers 404. Errors are RFC 9457
problem documents (`application/problem+json`) with `errors: [{field, in, reason}]`.
Scores are exact decimals sent as strings ("2.897"); times are UTC (ISO 8601).
"""


def install_api(app: FastAPI) -> None:
    """Adds the problem handlers, the REST routes, the pages, and checks every route's rule."""
    errors.install(app)
    settings: Settings = app.state.settings
    # Oversized bodies are refused as they stream in (413), not after they are spooled; the
    # evidence limit itself is checked on the file (multipart adds a little overhead).
    app.add_middleware(errors.BodySizeLimit, max_bytes=(settings.max_upload_mb + 1) * 1024 * 1024)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(pages_router)
    app.add_middleware(TextGuard, page_error=error_page)
    # Outermost: every response, refusals included, carries the security headers.
    app.add_middleware(SecurityHeaders, hsts=settings.mode is Mode.production)
    missing = access.missing_rules(app)
    if missing:
        raise RuntimeError(f"API routes without an access rule: {', '.join(missing)}")
    install_openapi(app)


def _ensure_admin(engine: Engine, settings: Settings) -> None:
    """The first coordinator ("admin", APPRAISAL_ADMIN_PASSWORD) exists once the API starts."""
    try:
        with session_scope(engine) as session:
            ensure_admin(session, password=settings.admin_password)
    except Exception:  # not migrated yet, or another replica created it at the same time
        log.warning("could not make sure the admin account exists", exc_info=True)


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
        _ensure_admin(app.state.engine, settings)
        if app.state.temporal is None:
            try:
                app.state.temporal = await connect(settings)
            except Exception:  # readiness reports it; the API still serves reads
                app.state.temporal = None
        yield
        if owns_engine:
            app.state.engine.dispose()

    app = FastAPI(
        title="Đánh giá, xếp loại mức độ hoàn thành nhiệm vụ — API",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    # Available before start-up too (tests that skip the lifespan, schema generation).
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.sqlalchemy_url)
    app.state.temporal = temporal
    owns_engine = engine is None

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

    install_api(app)
    return app
