"""The deadline rush over HTTP (issue 13): the API in a real uvicorn process on a free port,
many clients at once (httpx.AsyncClient each, its own user and token), against a raw baseline
of the same read-check-update transactions through the same kind of engine, same concurrency.

Rows: draft edits at each client count on each database; a login storm (wrong passwords)
while readers read, against the same readers alone. Sizes are parameters (``LoadSizes``) so
``make bench`` runs the issue's sizes and the smoke test runs tiny ones.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import Engine
from sqlmodel import col, select, update

from api.deps import SESSION_COOKIE
from bench.cases import EXPLANATION, Check
from bench.stack import dinh_hoa, draft_cycle
from core.db import make_engine, session_scope, utcnow, writer
from core.migrate import upgrade
from core.settings import normalise_db_url
from models.framework import DerivedRule
from models.tables import AuditLog, CycleUnit, Role, RoleGrant, UnitState, User
from notifications.sink import free_port
from scoring.rules import full_marks_inputs
from services.accounts import hash_password
from services.frameworks import publish_framework, store_framework
from services.sessions import start_session
from services.units import UnitCreate, create_unit

__all__ = [
    "ApiProcess",
    "LoadRow",
    "LoadSizes",
    "World",
    "database",
    "http_client",
    "load_table",
    "percentile",
    "run_load",
    "seed",
]

SECRET = "bench-secret-key-of-at-least-32-characters!"
PASSWORD = "mat-khau-hieu-nang-2024"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

# One TLS context for every client: httpx builds (and loads the CA bundle into) a new one per
# client otherwise, ~25 ms of the load generator's CPU each, which stalls its event loop for
# seconds when 200 clients start (the API is plain HTTP here; the context is never used).
_TLS = ssl.create_default_context()


def http_client(
    base: str, headers: dict[str, str] | None = None, timeout: float = 120
) -> httpx.AsyncClient:
    """A load client of the API at ``base`` (one simulated person), cheap to create."""
    return httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout, verify=_TLS)


@dataclass(frozen=True)
class LoadSizes:
    """How big the load run is (the issue's sizes by default)."""

    clients: tuple[int, ...] = (10, 50, 200)
    edits_per_client: int = 20
    units: int = 20
    storm_logins: int = 50
    storm_readers: int = 20
    reads_per_reader: int = 20
    databases: tuple[str, ...] = ("sqlite", "postgresql")


@dataclass
class LoadRow:
    """One row of the load table."""

    measurement: str
    database: str
    clients: int
    project_rate: float
    raw_rate: float
    p50: float
    p95: float
    p99: float
    errors: int
    checks: list[Check] = field(default_factory=list)
    detail: str = ""

    @property
    def factor(self) -> float:
        """raw ÷ project."""
        return self.raw_rate / self.project_rate if self.project_rate > 0 else float("inf")

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return all(c.ok for c in self.checks)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile of ``values`` (seconds) in milliseconds; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


# --- the database and the data -----------------------------------------------------------------


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a new database on the PostgreSQL server
    of BENCH_POSTGRES_URL (default: the developers' local one), dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{(workdir / f'load-{uuid.uuid4().hex[:6]}.db').as_posix()}"
        upgrade(url)
        yield url
        return
    server = normalise_db_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{server.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class World:
    """The cycle, its units (id → code) and one user per client: (username, token, unit id)."""

    cycle_id: str
    units: dict[int, str]
    users: list[tuple[str, str, int]]
    leaves: list[tuple[str, dict[str, object]]]
    # One signed-in browser per user, as the pages see it: (session cookie, its CSRF token).
    cookies: list[tuple[str, str]] = field(default_factory=list)


def seed(engine: Engine, *, units: int, users: int) -> World:
    """``units`` communes in one drafting cycle; ``users`` unit-office accounts spread over
    them (each may edit its unit's sheet), all with the same password."""
    framework = dinh_hoa()
    cycle_id = f"load-{uuid.uuid4().hex[:6]}"
    password_hash = hash_password(PASSWORD)
    with session_scope(engine) as s:
        record, _ = store_framework(s, framework=framework, actor="bench")
        assert record.id is not None
        publish_framework(s, framework_id=record.id, actor="bench")
        codes = [f"tai-{i:03d}" for i in range(units)]
        ids: dict[int, str] = {}
        for i, code in enumerate(codes):
            unit = create_unit(
                s,
                unit_in=UnitCreate(code=code, name=f"UBND xã Tải số {i}", group="commune"),
                actor="bench",
            )
            assert unit.id is not None
            ids[unit.id] = code
        framework_id = record.id
    draft_cycle(engine, cycle_id=cycle_id, framework_id=framework_id, units=codes, now=utcnow())
    unit_ids = list(ids)
    accounts: list[tuple[str, str, int]] = []
    with session_scope(engine) as s:
        s.execute(
            update(CycleUnit)
            .where(col(CycleUnit.cycle_id) == cycle_id)
            .values(state=UnitState.drafting, updated_at=utcnow())
        )
        made = []
        for i in range(users):
            user = User(
                username=f"taivp-{i:04d}",
                full_name=f"Văn phòng {i}",
                password_hash=password_hash,
            )
            s.add(user)
            s.flush()
            assert user.id is not None
            unit_id = unit_ids[i % len(unit_ids)]
            s.add(RoleGrant(user_id=user.id, role=Role.unit_office, unit_id=unit_id))
            made.append((user, unit_id))
        s.flush()
        cookies: list[tuple[str, str]] = []
        for user, unit_id in made:
            token, _, _ = start_session(s, user, secret_key=SECRET, minutes=240, kind="api")
            accounts.append((user.username, token, unit_id))
            csrf = secrets.token_urlsafe(24)
            cookie, _, _ = start_session(
                s, user, secret_key=SECRET, minutes=240, kind="session", extra={"csrf": csrf}
            )
            cookies.append((cookie, csrf))
    leaves = [
        (leaf.code, full_marks_inputs(leaf).model_dump(mode="json", exclude_none=True))
        for leaf in framework.leaves()
        if not isinstance(leaf.rule, DerivedRule)
    ]
    return World(cycle_id=cycle_id, units=ids, users=accounts, leaves=leaves, cookies=cookies)


# --- the API process ---------------------------------------------------------------------------


class ApiProcess:
    """``uvicorn`` serving the app on a port (as ``appraisal api`` does), which a fault test
    may kill and start again on the same port."""

    def __init__(self, url: str, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "APPRAISAL_DATABASE_URL": url,
            "APPRAISAL_SECRET_KEY": SECRET,
            "APPRAISAL_DATA_DIR": str(workdir),
            "APPRAISAL_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nothing there: no calls
        }
        # uvicorn processes (BENCH_WORKERS, default 1 as `appraisal api`): more than one is
        # for PostgreSQL (README, "Capacity"); on SQLite they would queue in the busy handler.
        self.workers = int(os.environ.get("BENCH_WORKERS", "1"))
        self.log_path = workdir / f"api-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Starts the process and waits until /healthz answers."""
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app"),
                    *("--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"),
                    *("--workers", str(self.workers)),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start: see {self.log_path}")
            time.sleep(0.1)

    def stop(self, *, kill: bool = False) -> None:
        """SIGKILL (a crash) or SIGTERM (a deploy), and waits for the process to end."""
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@contextmanager
def api_process(url: str, workdir: Path) -> Iterator[str]:
    """The API in its own process for the duration; its base URL."""
    api = ApiProcess(url, workdir)
    api.start()
    try:
        yield api.base
    finally:
        api.stop()


# --- draft edits -------------------------------------------------------------------------------


async def _timed(request: Awaitable[httpx.Response], out: list[tuple[float, int]]) -> None:
    """Sends ``request`` (not yet awaited) and appends (seconds, status) to ``out``; status 0
    when no answer came."""
    start = time.perf_counter()
    try:
        status = (await request).status_code
    except httpx.HTTPError:
        status = 0
    out.append((time.perf_counter() - start, status))


async def _edit_client(
    base: str, world: World, who: int, edits: int, out: list[tuple[float, int]]
) -> None:
    _name, token, unit_id = world.users[who]
    headers = {"Authorization": f"Bearer {token}"}
    async with http_client(base, headers) as http:
        for k in range(edits):
            code, inputs = world.leaves[(who * 7 + k) % len(world.leaves)]
            body = {"inputs": inputs, "explanation": f"{EXPLANATION} ({who}/{k})"}
            path = f"/api/cycles/{world.cycle_id}/units/{unit_id}/criteria/{code}/draft"
            await _timed(http.put(path, json=body), out)


async def _page_client(
    base: str, world: World, who: int, edits: int, out: list[tuple[float, int]]
) -> None:
    """A person saving through the unit page's form: session cookie, CSRF token, the rule's
    inputs as form fields; each save answered 303 back to the page (not followed)."""
    _name, _token, unit_id = world.users[who]
    cookie, csrf = world.cookies[who]
    async with http_client(base) as http:
        http.cookies.set(SESSION_COOKIE, cookie)
        for k in range(edits):
            code, inputs = world.leaves[(who * 7 + k) % len(world.leaves)]
            form = {f"in.{key}": str(value) for key, value in inputs.items()}
            form |= {"csrf_token": csrf, "explanation": f"{EXPLANATION} ({who}/{k})"}
            path = f"/cycles/{world.cycle_id}/units/{world.units[unit_id]}/criteria/{code}/draft"
            await _timed(http.post(path, data=form), out)


async def _prober(base: str, until: asyncio.Event, out: list[tuple[float, int]]) -> None:
    """``GET /healthz`` every 10 ms until ``until``: how long the event loop keeps everyone
    else waiting while the saves run (a write on the loop would show here)."""
    async with http_client(base) as http:
        while not until.is_set():
            await _timed(http.get("/healthz"), out)
            await asyncio.sleep(0.01)


def _drafts(engine: Engine, cycle_id: str) -> int:
    with session_scope(engine) as s:
        return s.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.cycle_id == cycle_id, AuditLog.action == "draft")
        ).one()


_RAW_STATE = "SELECT state FROM cycle_unit WHERE cycle_id = :c AND unit_id = :u"
_RAW_UPDATE = text(
    "UPDATE entry SET explanation = :e, updated_at = :t, updated_by = :b "
    "WHERE cycle_id = :c AND unit_id = :u AND criterion_code = :k"
)


def _raw_edits(engine: Engine, world: World, clients: int, edits: int) -> tuple[float, int]:
    """The same read-check-update transactions, straight through the engine: lock and read the
    unit's state, check it, update the entry; ``clients`` threads at once."""
    state_sql = text(_RAW_STATE + (" FOR UPDATE" if engine.dialect.name != "sqlite" else ""))
    eng = writer(engine)

    def one_client(who: int) -> int:
        done = 0
        _name, _token, unit_id = world.users[who]
        for k in range(edits):
            code, _inputs = world.leaves[(who * 7 + k) % len(world.leaves)]
            try:
                with eng.begin() as conn:
                    state = conn.execute(state_sql, {"c": world.cycle_id, "u": unit_id}).scalar()
                    if state != UnitState.drafting.value:
                        continue
                    args = {"e": "raw", "t": utcnow().replace(tzinfo=None), "b": "raw"}
                    conn.execute(
                        _RAW_UPDATE, {**args, "c": world.cycle_id, "u": unit_id, "k": code}
                    )
                done += 1
            except Exception:  # counted as not done; the table shows the count
                continue
        return done

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        done = sum(pool.map(one_client, range(clients)))
    return time.perf_counter() - start, done


PAGES = "draft edits through the pages (form, cookie session)"


async def bench_edits(
    kind: str,
    url: str,
    base: str,
    engine: Engine,
    world: World,
    clients: int,
    edits: int,
    *,
    pages: bool = False,
) -> LoadRow:
    """``clients`` concurrent clients × ``edits`` draft saves through the API (or the unit
    page's form, ``pages``) vs. raw; a prober's ``GET /healthz`` meanwhile, in the note."""
    before = _drafts(engine, world.cycle_id)
    out: list[tuple[float, int]] = []
    probes: list[tuple[float, int]] = []
    done = asyncio.Event()
    prober = asyncio.create_task(_prober(base, done, probes))
    client = _page_client if pages else _edit_client
    start = time.perf_counter()
    await asyncio.gather(*(client(base, world, i, edits, out) for i in range(clients)))
    wall = time.perf_counter() - start
    done.set()
    await prober
    answered = (303,) if pages else range(200, 300)
    ok = [lat for lat, status in out if status in answered]
    statuses: dict[int, int] = {}
    for _lat, status in out:
        statuses[status] = statuses.get(status, 0) + 1
    saved = _drafts(engine, world.cycle_id) - before
    raw_s, raw_done = await asyncio.to_thread(_raw_edits, engine, world, clients, edits)
    total = clients * edits
    waits = [lat for lat, _status in probes]
    ok_text = "303" if pages else "2xx"
    who = f"{'pages' if pages else 'edits'}: {kind}, {clients} clients"
    return LoadRow(
        measurement=PAGES if pages else "draft edits through the API",
        database=kind,
        clients=clients,
        project_rate=len(ok) / wall,
        raw_rate=raw_done / raw_s,
        p50=percentile(ok, 0.50),
        p95=percentile(ok, 0.95),
        p99=percentile(ok, 0.99),
        errors=total - len(ok),
        checks=[
            Check(f"{who}: answered {ok_text}", total, len(ok)),
            Check(f"{who}: {ok_text} saves in the audit", len(ok), saved),
            Check(f"{who}: raw transactions done", total, raw_done),
        ],
        detail=(
            f"statuses {dict(sorted(statuses.items()))}; GET /healthz meanwhile (every 10 ms): "
            f"p99 {_num(percentile(waits, 0.99))} ms, max {_num(percentile(waits, 1.0))} ms"
        ),
    )


async def _floor_client(base: str, requests: int, out: list[tuple[float, int]]) -> None:
    async with http_client(base) as http:
        for _ in range(requests):
            await _timed(http.get("/healthz"), out)


async def bench_floor(kind: str, base: str, edits: LoadRow, requests: int) -> LoadRow:
    """The HTTP floor next to a draft-edit row: the same clients, each sending as many
    ``GET /healthz`` (no sign-in, no database, no thread) to the same API process. No route
    can be faster here: it bounds what ``raw ÷ project`` can reach on this machine."""
    out: list[tuple[float, int]] = []
    start = time.perf_counter()
    await asyncio.gather(*(_floor_client(base, requests, out) for _ in range(edits.clients)))
    wall = time.perf_counter() - start
    ok = [lat for lat, status in out if status == 200]
    total = edits.clients * requests
    return LoadRow(
        measurement="the HTTP floor: GET /healthz (no sign-in, no database)",
        database=kind,
        clients=edits.clients,
        project_rate=len(ok) / wall,
        raw_rate=edits.raw_rate,
        p50=percentile(ok, 0.50),
        p95=percentile(ok, 0.95),
        p99=percentile(ok, 0.99),
        errors=total - len(ok),
        checks=[Check(f"floor: {kind}, {edits.clients} clients: answered 200", total, len(ok))],
        detail=(
            f"raw: the draft row's raw transactions; the draft edits reach "
            f"{edits.project_rate / (len(ok) / wall):.0%} of this floor"
        ),
    )


# --- login storm -------------------------------------------------------------------------------


async def _reader(
    base: str, world: World, who: int, reads: int, out: list[tuple[float, int]]
) -> None:
    _name, token, unit_id = world.users[who]
    headers = {"Authorization": f"Bearer {token}"}
    async with http_client(base, headers) as http:
        for _ in range(reads):
            start = time.perf_counter()
            try:
                status = (
                    await http.get(f"/api/cycles/{world.cycle_id}/units/{unit_id}")
                ).status_code
            except httpx.HTTPError:
                status = 0
            out.append((time.perf_counter() - start, status))


async def _wrong_login(base: str, world: World, who: int, out: list[int]) -> None:
    name = world.users[who % len(world.users)][0]
    # Another address each (uvicorn trusts X-Forwarded-For from 127.0.0.1): the per-address
    # throttle would otherwise answer most of the storm with 429 before any hashing.
    headers = {"X-Forwarded-For": f"10.13.{who // 250}.{who % 250 + 1}"}
    async with http_client(base) as http:
        try:
            resp = await http.post(
                "/api/auth/token",
                data={"username": name, "password": "sai-mat-khau"},
                headers=headers,
            )
            out.append(resp.status_code)
        except httpx.HTTPError:
            out.append(0)


async def bench_storm(kind: str, base: str, world: World, sizes: LoadSizes) -> LoadRow:
    """Readers alone (baseline), then the same readers while wrong-password logins storm."""
    readers = min(sizes.storm_readers, len(world.users))
    alone: list[tuple[float, int]] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(_reader(base, world, i, sizes.reads_per_reader, alone) for i in range(readers))
    )
    alone_s = time.perf_counter() - start
    during: list[tuple[float, int]] = []
    logins: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(_reader(base, world, i, sizes.reads_per_reader, during) for i in range(readers)),
        *(_wrong_login(base, world, i, logins) for i in range(sizes.storm_logins)),
    )
    during_s = time.perf_counter() - start
    ok = [lat for lat, status in during if status == 200]
    reader_errors = len(during) - len(ok)
    login_statuses: dict[int, int] = {}
    for status in logins:
        login_statuses[status] = login_statuses.get(status, 0) + 1
    bad_logins = sum(n for status, n in login_statuses.items() if status not in (401, 429, 503))
    return LoadRow(
        measurement=f"login storm: readers during {sizes.storm_logins} wrong logins",
        database=kind,
        clients=readers,
        project_rate=len(ok) / during_s,
        raw_rate=sum(1 for _lat, s in alone if s == 200) / alone_s,
        p50=percentile(ok, 0.50),
        p95=percentile(ok, 0.95),
        p99=percentile(ok, 0.99),
        errors=reader_errors + bad_logins,
        checks=[
            Check(f"storm: {kind}: readers answered 200", len(during), len(ok)),
            Check(f"storm: {kind}: logins answered 5xx other than 503", 0, bad_logins),
        ],
        detail=(
            f"login answers {dict(sorted(login_statuses.items()))}; readers alone p99 "
            f"{percentile([lat for lat, _s in alone], 0.99):.0f} ms"
        ),
    )


# --- the run -----------------------------------------------------------------------------------


async def run_load(sizes: LoadSizes, workdir: Path) -> list[LoadRow]:
    """Every load row of ``sizes`` on every database of ``sizes``."""
    rows: list[LoadRow] = []
    users = max([*sizes.clients, sizes.storm_readers, sizes.storm_logins])
    for kind in sizes.databases:
        with database(kind, workdir) as url:
            engine = make_engine(url)
            try:
                world = seed(engine, units=sizes.units, users=users)
                # The load generator's own full collections (its heap holds the seeding and
                # whatever ran before) would stall every client at once and count as the
                # API's latency: what exists now is kept out of them until the rows are done.
                gc.collect()
                gc.freeze()
                with api_process(url, workdir) as base:
                    for clients in sizes.clients:
                        edits = await bench_edits(
                            kind, url, base, engine, world, clients, sizes.edits_per_client
                        )
                        floor = await bench_floor(kind, base, edits, sizes.edits_per_client)
                        pages = await bench_edits(
                            kind, url, base, engine, world, clients, sizes.edits_per_client,
                            pages=True,
                        )  # fmt: skip
                        rows += [edits, floor, pages]
                    if sizes.storm_logins > 0:
                        rows.append(await bench_storm(kind, base, world, sizes))
            finally:
                gc.unfreeze()
                engine.dispose()
    return rows


def _num(value: float) -> str:
    if value != value:  # NaN: nothing succeeded
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def load_table(rows: Sequence[LoadRow]) -> str:
    """The load rows as the issue's Markdown table."""
    lines = [
        "| measurement | database | clients | project /s | raw /s | raw ÷ project "
        "| p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        factor = "—" if r.factor != r.factor else f"**{r.factor:,.2f}×**"  # NaN: no raw baseline
        lines.append(
            f"| {r.measurement} | {r.database} | {r.clients} | {_num(r.project_rate)} "
            f"| {_num(r.raw_rate)} | {factor} | {_num(r.p50)} | {_num(r.p95)} "
            f"| {_num(r.p99)} | {r.errors} |"
        )
    return "\n".join(lines)
