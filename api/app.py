"""The FastAPI application: REST API under /api, Vietnamese pages, health and readiness."""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from api import access, errors
from api.headers import SecurityHeaders
from api.openapi import install_openapi
from api.routes import ROUTERS
from api.routing import commits_late
from api.text_guard import TextGuard
from core import metrics
from core.db import RETRY_AFTER_S, Busy, make_engine, session_scope
from core.logs import REQUEST_ID
from core.runtime import freeze_startup_objects
from core.settings import Mode, Settings, get_settings
from core.temporal import connect
from services.accounts import ensure_admin
from web.pages import router as pages_router
from web.render import error_page

log = logging.getLogger(__name__)

# The audit row's request key the demo loader writes last (`appraisal dev --demo`).
DEMO_LOADED_KEY = "demo:loaded"

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
    for busy in (Busy, sa_exc.OperationalError, sa_exc.TimeoutError):
        app.add_exception_handler(busy, _busy_handler)
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
    late = [
        f"{'|'.join(methods)} {path}"
        for route, path, methods in access.app_routes(app)
        if commits_late(route, methods)
    ]
    if late:
        raise RuntimeError(f"writing routes that are no TransactionRoute: {', '.join(late)}")
    install_openapi(app)


class RequestContext:
    """Request id (X-Request-ID in and out, in every log line) and the latency histogram."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # A client's id is kept only if it is short and plain (it goes into every log line).
        rid = given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex
        token = REQUEST_ID.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", rid.encode("latin-1")))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            metrics.REQUEST_LATENCY.labels(scope["method"], template, f"{status // 100}xx").observe(
                time.perf_counter() - started
            )
            REQUEST_ID.reset(token)


EDIT_GATE_MODULE = "services.sheet.gate"


def _from_edit_gate(exc: BaseException) -> bool:
    """Whether the refusal was raised inside the edit gate (the innermost frame's module)."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return bool(tb.tb_frame.f_globals.get("__name__") == EDIT_GATE_MODULE)


def _count_edit_gate_refusals(app: FastAPI) -> None:
    """Wraps the refusal handler (api.errors) so the edit gate's refusals are counted by code."""
    from core.errors import Conflict, Forbidden, Refusal

    handler = app.exception_handlers[Refusal]

    async def counted(request: Request, exc: Exception) -> Response:
        if isinstance(exc, Conflict | Forbidden) and _from_edit_gate(exc):
            metrics.EDIT_GATE_REFUSALS.labels(exc.code).inc()
        response = handler(request, exc)
        return await response if inspect.isawaitable(response) else response

    app.exception_handlers[Refusal] = counted


BUSY_VI = "Hệ thống đang bận, vui lòng thử lại sau ít giây."


async def _busy_handler(request: Request, exc: Exception) -> Response:
    """A saturated database (locked, busy, pool exhausted) or hashing queue: 503, retry later
    (a problem document under /api, the Vietnamese error page for a page)."""
    log.warning("busy on %s %s: %s", request.method, request.url.path, exc)
    retry_after = str(exc.retry_after if isinstance(exc, Busy) else RETRY_AFTER_S)
    if not request.url.path.startswith("/api"):
        page = error_page(request, 503, BUSY_VI)
        page.headers["Retry-After"] = retry_after
        return page
    problem = errors.Problem(503, BUSY_VI, slug="busy", headers={"Retry-After": retry_after})
    return errors.problem_response(request, problem)


def _ensure_admin(engine: Engine, settings: Settings) -> None:
    """dev: the demo coordinator ("admin", APPRAISAL_ADMIN_PASSWORD) exists once the API starts.

    Production makes no account from an environment password: the first coordinator is created
    with ``appraisal user create … --role coordinator --print-link`` and sets their own.
    """
    if settings.mode is not Mode.dev:
        return
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
        # Sync routes run in anyio's thread pool: at least one thread per admitted request
        # (core.db.admitted, api_places ≤ db_pool_size), so none of them waits for a thread (README,
        # "Scale").
        threads = to_thread.current_default_thread_limiter()
        threads.total_tokens = max(threads.total_tokens, settings.db_pool_size)
        _ensure_admin(app.state.engine, settings)
        if app.state.temporal is None:
            try:
                app.state.temporal = await connect(settings)
            except Exception:  # readiness reports it; the API still serves reads
                app.state.temporal = None
        if owns_engine:  # a process serving the app (uvicorn), not a test's app
            freeze_startup_objects()
        yield
        if owns_engine:
            app.state.engine.dispose()

    # /docs and /redoc serve Swagger UI and ReDoc from the package (no CDN: they work offline).
    app = FastAPIOffline(
        title="Đánh giá, xếp loại mức độ hoàn thành nhiệm vụ — API",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    # Available before start-up too (tests that skip the lifespan, schema generation).
    app.state.settings = settings
    app.state.engine = engine or make_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    app.state.temporal = temporal
    owns_engine = engine is None

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        """The database and Temporal are reachable (and, with the demo, its data is loaded)."""
        checks: dict[str, Any] = {}
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                if request.app.state.settings.demo:
                    found = conn.execute(
                        text("SELECT 1 FROM audit_log WHERE request_key = :k"),
                        {"k": DEMO_LOADED_KEY},
                    ).first()
                    checks["demo"] = "ok" if found else "loading"
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

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus exposition (the TLS proxy answers 404 for it from outside)."""
        from services.outbox_backlog import OutboxBacklog

        body = metrics.render(OutboxBacklog(request.app.state.engine))
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    install_api(app)
    _count_edit_gate_refusals(app)
    app.add_middleware(RequestContext)
    return app
