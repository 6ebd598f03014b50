"""Dependencies as Annotated aliases: the session, settings, Temporal client and the caller.

Authentication: a bearer token (``Authorization: Bearer …`` from POST /api/auth/token) or the
web pages' signed session cookie; either names a server-side session (``services.sessions``)
that logout ends at once. A cookie-authenticated request that changes anything must
carry the session's CSRF token in ``X-CSRF-Token`` (double submit), so another site cannot
make the browser act for the user. Authorisation: every /api route has a rule in
``api.access.POLICY``, checked here before the route runs.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated

from anyio import CancelScope, to_thread
from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session
from temporalio.client import Client

from api import access
from api.errors import Problem
from core import hashing
from core.db import admitted, reading, release, utcnow, writer
from core.settings import Settings
from services.accounts import (
    InvalidToken,
    Principal,
    load_principal,
    same_secret,
    verify_token,
)
from services.sessions import check_session, touch_after_read, touch_due

SESSION_COOKIE = "appraisal_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def get_settings_dep(request: Request) -> Settings:
    """The app's settings (async: a sync dependency would cost every request a thread hop)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def _async_route(request: Request) -> bool:
    # An async route runs its queries on the event loop: it must never wait there for the
    # write lock, so it reads (its writes go through Temporal activities or
    # ``core.db.write_apart``).
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return inspect.iscoroutinefunction(endpoint)


def _writes(request: Request) -> bool:
    """A sync route of an unsafe method: its session's transactions take the write lock."""
    return request.method not in SAFE_METHODS and not _async_route(request)


def _commit_and_close(session: Session) -> None:
    # One thread hop for both: on SQLite the write lock is held until the connection is back.
    session.commit()
    session.close()


# The session of the request being served when it writes (a sync route of an unsafe method),
# for ``end_write`` in the route's own thread; a copy of the request's context reaches it.
_WRITE_SESSION: ContextVar[Session | None] = ContextVar("write_session", default=None)


def end_write(*, commit: bool = True) -> None:
    """Commits (or, after an error, rolls back) and closes the request's write session, from
    the sync route's own thread, as soon as the route returns (``api.routing.TransactionRoute``):
    the write lock (SQLite) and the row locks (PostgreSQL) are held for the route's work only,
    not while the event loop gets round to serialising the answer and to the session's exit.
    Loaded objects stay usable (``expire_on_commit=False``); a no-op outside a writing request."""
    session = _WRITE_SESSION.get()
    if session is None:
        return
    if commit:
        _commit_and_close(session)
    else:
        session.close()  # rolls back


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, admitted among ``api_places`` (core.db.admitted),
    committed before the response is sent, rolled back on error; BEGIN IMMEDIATE for a sync
    route's write (its checks read before it: ``authorise``, ``core.db.reading``), which
    commits in the route's own thread (``end_write``)."""
    engine = request.app.state.engine
    writes = _writes(request)
    if writes:
        engine = writer(engine)
    settings: Settings = request.app.state.settings
    async with admitted(settings.api_places):
        session = Session(engine, expire_on_commit=False)
        _WRITE_SESSION.set(session if writes else None)
        try:
            yield session
            if session.in_transaction():
                await to_thread.run_sync(_commit_and_close, session)
            else:  # ended by end_write (or never begun): closing does no I/O, no thread hop
                session.close()
        except BaseException:
            with CancelScope(shield=True):  # rolls back (one more thread hop, errors only)
                await to_thread.run_sync(session.close)
            raise
        finally:
            _WRITE_SESSION.set(None)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def hashing_place() -> AsyncIterator[None]:
    """A place in the password-hashing queue, taken before the request's session (declare it
    first): when the queue is full a login is answered 503 at once, holding no admission place
    and writing nothing, so a login storm's refusals never queue in front of other requests."""
    with hashing.admitted():
        yield


HashingPlace = Annotated[None, Depends(hashing_place, scope="function")]


def get_temporal(request: Request) -> Client:
    """The Temporal client created at start-up; 503 when Temporal is unreachable."""
    client: Client | None = request.app.state.temporal
    if client is None:
        raise Problem(503, "Không kết nối được máy chủ quy trình (Temporal).", slug="unavailable")
    return client


def temporal_dep(request: Request, session: SessionDep) -> Client:
    """The Temporal client, after the request's transaction has ended (its connection back in
    the pool): a route never holds a connection while it waits for a workflow."""
    release(session)
    return get_temporal(request)


TemporalDep = Annotated[Client, Depends(temporal_dep)]


def client_address(request: Request, settings: Settings) -> str:
    """The real client address: ``X-Forwarded-For`` counts only when sent by a trusted proxy.

    Walks the header from the right (the hop nearest to us) past trusted proxies; the first
    address that is not one is the client. With no trusted proxies the peer address is the
    client, so a forged header cannot give each guess a new address.
    """
    peer = request.client.host if request.client else ""
    trusted = settings.trusted_proxy_networks
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _in(hop, trusted):
            return hop if _is_address(hop) else peer
    return peer


def _is_address(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _in(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _unauthorised(detail: str) -> Problem:
    return Problem(401, detail, slug="unauthorised", headers={"WWW-Authenticate": "Bearer"})


def authenticate_request(
    request: Request, session: Session, settings: Settings
) -> tuple[Principal, bool]:
    """The caller from a bearer token or a session cookie (with CSRF on unsafe methods), and
    whether their session is due a last_seen touch (reads only: the caller writes it)."""
    header = request.headers.get("authorization")
    now = utcnow()
    try:
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _unauthorised("Cần mã truy cập dạng Bearer.")
            claims, _raw = verify_token(token.strip(), secret_key=settings.secret_key, now=now)
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if not cookie:
                raise _unauthorised("Chưa đăng nhập.")
            claims, raw = verify_token(
                cookie, secret_key=settings.secret_key, now=now, kind="session"
            )
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not sent or not same_secret(sent, str(raw.get("csrf", ""))):
                    raise Problem(403, "Thiếu hoặc sai mã CSRF.", slug="csrf")
        user, row = check_session(
            session, claims, idle_minutes=settings.session_idle_minutes, now=now
        )
    except InvalidToken as exc:
        if exc.reason == "expired":
            raise _unauthorised("Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại.") from exc
        raise _unauthorised("Mã truy cập không hợp lệ.") from exc
    return load_principal(session, user, session_id=claims.session_id), touch_due(row, now)


def checks(request: Request, session: Session) -> AbstractContextManager[Session]:
    """Where a request's checks (who is calling, may they, which unit) read. For a write
    request, in a read transaction of their own (``core.db.reading``): on SQLite they neither
    wait for nor hold the write lock, so the serialised part of the request is its write alone
    (and nothing holds the lock while a form uploads). A read request's checks and route share
    one transaction."""
    return reading(session) if _writes(request) else nullcontext(session)


def authorise(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _token: Annotated[str | None, Depends(oauth2_scheme)] = None,
) -> Principal:
    """The caller, after the route's rule in ``api.access.POLICY`` has let them through."""
    route = request.scope.get("route")
    path = getattr(route, "path", "")
    method = "GET" if request.method == "HEAD" else request.method
    rule = access.POLICY.get(f"{method} {path}")
    if rule is None:  # create_app refuses such routes; this guards routers added later
        raise RuntimeError(f"no access rule for {method} {path}")
    with checks(request, session):
        principal, due = authenticate_request(request, session, settings)
        access.check(session, principal, rule, dict(request.path_params))
    if due:  # at most once a minute per session, after the read, in a short write (best effort)
        touch_after_read(session, principal.session_id, utcnow())
    return principal


CurrentUser = Annotated[Principal, Depends(authorise, scope="function")]


DbId = Annotated[int, Path(ge=1, le=access.MAX_ID, description="Số định danh")]
