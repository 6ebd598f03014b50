"""The production shape without Docker: one PostgreSQL, one Temporal dev server, two
`appraisal worker` and two `appraisal api` processes, a real SMTP sink.

- a worker is stopped (SIGTERM, as a deploy does) mid cycle start: every unit workflow exists
  exactly once; a worker is killed (SIGKILL) during the reminder burst: every outbox message
  is sent, and the sink got each Message-ID once;
- X-Forwarded-For is believed from the trusted proxy only (throttling sees each office);
- the same request with one Idempotency-Key, sent to both APIs at once, acts once;
- evidence uploaded through one API downloads through the other (one shared evidence store);
- the peak of PostgreSQL connections stays within the documented per-process pool bounds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import col, select

from cli.dev import Stack, worker_is_polling
from contracts.ids import unit_workflow_id
from core.db import make_engine, session_scope
from core.migrate import upgrade
from core.settings import Settings, normalise_db_url
from core.temporal import connect
from models.tables import AuditLog, LoginThrottle, OutboxMessage
from notifications.mailer import message_id
from notifications.sink import free_port, start_sink
from tests.api_support import DINH_HOA_YAML
from tests.mail_support import follow_welcome_async
from tests.services.test_evidence import PDF_SIGNED

ROOT = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "mat-khau-mp-2024"
UNITS = 12
POOL, OVERFLOW = 3, 2  # per process, as APPRAISAL_DB_POOL_SIZE / _MAX_OVERFLOW


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, migrated, dropped afterwards."""
    name = f"test_mp_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_db_url(SERVER), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{normalise_db_url(SERVER).rsplit('/', 1)[0]}/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Peak:
    """Samples the database's connection count (ours excluded) in a thread."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_size=1, max_overflow=0)
        self.name = url.rsplit("/", 1)[1]
        self.peak = 0
        self.samples = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
        )
        try:
            with self.engine.connect() as conn:
                while not self.stop.is_set():
                    n = conn.execute(query, {"d": self.name}).scalar_one()
                    conn.commit()  # a fresh snapshot of pg_stat_activity each time
                    self.peak = max(self.peak, int(n))
                    self.samples += 1
                    time.sleep(0.1)
        except BaseException as exc:  # reported by close()
            self.error = exc

    def close(self) -> int:
        self.stop.set()
        self.thread.join()
        self.engine.dispose()
        if self.error is not None:
            raise self.error
        assert self.samples > 10
        return self.peak


class Procs:
    """Our own processes of the stack, each in its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The end of a process's log, for an assertion's message."""
        text = (self.logs / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait(what: str, probe: Any, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout:.0f} s")


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except Exception:
        return False


async def _token(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    resp = await http.post("/api/auth/token", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


async def _unit_workflows(settings: Settings, cycle_id: str) -> list[str]:
    client = await connect(settings)
    ids = [
        wf.id
        async for wf in client.list_workflows(f"AppraisalCycle='{cycle_id}'")
        if "/unit-" in wf.id
    ]
    return ids


def test_two_workers_two_apis_one_database(database: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(
        _env_file=None,
        data_dir=data,
        database_url=database,
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
        smtp_port=free_port(),
    )
    controller, sink = start_sink("127.0.0.1", settings.smtp_port)
    temporal = Stack(settings)
    api_ports = [free_port(), free_port()]
    env = {
        **os.environ,
        "APPRAISAL_DATA_DIR": str(data),  # both APIs share it: the evidence store
        "APPRAISAL_DATABASE_URL": database,
        "APPRAISAL_TEMPORAL_ADDRESS": settings.temporal_address,
        "APPRAISAL_SMTP_PORT": str(settings.smtp_port),
        "APPRAISAL_ADMIN_PASSWORD": PASSWORD,
        "APPRAISAL_TRUSTED_PROXIES": "127.0.0.1",  # the test plays the proxy
        "APPRAISAL_DB_POOL_SIZE": str(POOL),
        "APPRAISAL_DB_MAX_OVERFLOW": str(OVERFLOW),
        "APPRAISAL_WORKER_SHUTDOWN_SECONDS": "20",
        "APPRAISAL_LOG_FORMAT": "json",
    }
    (tmp_path / "logs").mkdir()
    procs = Procs(env, tmp_path / "logs")
    peak = Peak(database)
    try:
        temporal.start_temporal()
        workers = [procs.start(f"worker-{i}", "worker") for i in (1, 2)]
        # api-1 trusts X-Forwarded-For from 127.0.0.1 (where this test stands in for the TLS
        # proxy); api-2 trusts another address only, so the same header from here is ignored.
        # api-1 runs two uvicorn processes (as compose does): /metrics merges them
        procs.start("api-1", "api", "--port", str(api_ports[0]), APPRAISAL_API_WORKERS="2")
        procs.start(
            "api-2", "api", "--port", str(api_ports[1]), APPRAISAL_TRUSTED_PROXIES="10.9.9.9"
        )
        for w in workers:
            _wait("worker polling", lambda w=w: worker_is_polling(settings, w.pid))
        for port in api_ports:
            _wait("api ready", lambda port=port: _ready(port))
        asyncio.run(_scenario(settings, api_ports, procs, workers, sink, database))
    finally:
        limit = peak.close()
        procs.stop_all()
        temporal.stop()
        controller.stop()
    # 5 processes (3 API, 2 workers at a time) × (pool + overflow), plus the scenario's engine
    documented = 5 * (POOL + OVERFLOW) + 1
    assert 0 < limit <= documented, f"peak {limit} connections > {documented}"


async def _scenario(
    settings: Settings,
    ports: list[int],
    procs: Procs,
    workers: list[subprocess.Popen[bytes]],
    sink: Any,
    database: str,
) -> None:
    a = httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30)
    b = httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[1]}", timeout=30)
    engine = make_engine(database, pool_size=1, max_overflow=0)
    try:
        admin = {"Authorization": f"Bearer {await _token(a, 'admin')}"}

        async def call(
            http: httpx.AsyncClient, method: str, path: str, want: int, **kw: Any
        ) -> Any:
            kw.setdefault("headers", admin)
            resp = await http.request(method, path, **kw)
            assert resp.status_code == want, (method, path, resp.status_code, resp.text)
            return resp.json() if resp.content else None

        codes = [f"mp-{i:02d}" for i in range(UNITS)]
        ids = {}
        for code in codes:
            unit = await call(a, "POST", "/api/units", 201, json={
                "code": code, "name": f"UBND xã {code}", "group": "commune",
                "email": f"vp@{code}.vn",
            })  # fmt: skip
            ids[code] = unit["id"]
        await call(a, "POST", "/api/users", 201, json={
            "username": "mp-office", "full_name": "Văn phòng", "email": "office@mp.vn",
            "roles": [{"role": "unit_office", "unit_code": codes[0]}],
        })  # fmt: skip
        await call(a, "POST", "/api/users", 201, json={
            "username": "mp-staff", "full_name": "Cán bộ", "email": "staff@mp.vn",
            "roles": [{"role": "staff", "unit_code": codes[0]}],
        })  # fmt: skip
        # each person sets their own password from the welcome link (on the other API)
        for email in ("office@mp.vn", "staff@mp.vn"):
            await follow_welcome_async(b, sink, email, PASSWORD)
        fw = await call(a, "POST", "/api/frameworks/import", 201, files={
            "file": ("dinh-hoa.yaml", DINH_HOA_YAML.read_bytes(), "application/yaml")
        })  # fmt: skip
        await call(a, "POST", f"/api/frameworks/{fw['id']}/publish", 200)
        now = datetime.now(UTC)
        remind_at = now + timedelta(seconds=25)
        cycle_id = f"mp-{uuid.uuid4().hex[:6]}"
        await call(a, "POST", "/api/cycles", 201, json={
            "id": cycle_id, "year": 2024, "title": "Nhiều tiến trình", "framework_id": fw["id"],
            "units": codes,
            "opens_at": (now - timedelta(hours=1)).isoformat(),
            "data_cutoff_at": (now + timedelta(hours=1)).isoformat(),
            # one reminder an hour before the deadline: for every unit at the same instant
            "submission_deadline": (remind_at + timedelta(hours=1)).isoformat(),
            "hard_lock_at": (now + timedelta(days=3)).isoformat(),
            "appraisal_deadline": (now + timedelta(days=10)).isoformat(),
            "results_target": (now + timedelta(days=20)).isoformat(),
            "reminder_offsets_hours": [1],
        })  # fmt: skip

        # --- the client's address behind the proxy: believed from the proxy only -------------
        for http, forwarded in ((a, "10.1.2.3"), (b, "10.4.4.4")):
            refused = await http.post(
                "/api/auth/token",
                data={"username": "nobody-here", "password": "wrong"},
                headers={"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"},
            )
            assert refused.status_code == 401
        with session_scope(engine) as session:
            keys = set(session.exec(select(LoginThrottle.key)).all())
        assert "addr:10.1.2.3" in keys  # the office's own address, not the proxy's
        assert "addr:10.4.4.4" not in keys and "addr:127.0.0.1" in keys

        # --- a worker stops mid cycle start (a deploy: SIGTERM, in-flight work drains) -------
        start = asyncio.create_task(call(b, "POST", f"/api/cycles/{cycle_id}/start", 202))
        await asyncio.sleep(0.3)
        workers[0].send_signal(signal.SIGTERM)
        await start
        # 0, not -6: the worker ends without racing the Temporal runtime's threads (cli.main)
        exit_code = workers[0].wait(timeout=30)
        assert exit_code == 0, (exit_code, procs.log_tail("worker-1"))
        metrics_port = free_port()
        replacement = procs.start(
            "worker-3", "worker", APPRAISAL_WORKER_METRICS_PORT=str(metrics_port)
        )
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            found = await _unit_workflows(settings, cycle_id)
            if len(found) >= UNITS:
                break
            await asyncio.sleep(0.5)
        assert len(found) == len(set(found)) == UNITS, found

        # --- one Idempotency-Key, both APIs at once: acts once --------------------------------
        staff_id = ids[codes[0]]
        office = {"Authorization": f"Bearer {await _token(a, 'mp-office')}"}
        path = f"/api/cycles/{cycle_id}/units/{staff_id}/assignments"
        body = {"assignments": [{"codes": ["II"], "username": "mp-staff"}]}
        key = {"Idempotency-Key": f"assign-{uuid.uuid4().hex}"}
        results = await asyncio.gather(
            call(a, "PUT", path, 200, json=body, headers={**office, **key}),
            call(b, "PUT", path, 200, json=body, headers={**office, **key}),
        )
        assert results[0]["state"] == results[1]["state"] == "drafting"
        with session_scope(engine) as session:
            acts = session.exec(
                select(AuditLog).where(
                    AuditLog.cycle_id == cycle_id,
                    AuditLog.entity == "assignment",
                    AuditLog.action == "replace",
                )
            ).all()
        assert len(acts) == 1

        # --- evidence in through one API, out through the other -------------------------------
        staff = {"Authorization": f"Bearer {await _token(b, 'mp-staff')}"}
        ev_path = f"/api/cycles/{cycle_id}/units/{staff_id}/criteria/2.1.1/evidence"
        form = {"doc_number": "15/KH-UBND", "doc_date": "15/01/2024", "issuer": "UBND"}
        ev = await call(a, "POST", ev_path, 201, headers=staff, data=form, files={
            "file": ("Kế hoạch.pdf", PDF_SIGNED, "application/pdf")
        })  # fmt: skip
        got = await b.get(f"{ev_path}/{ev['id']}", headers=staff)
        assert got.status_code == 200 and got.content == PDF_SIGNED

        # --- a worker is killed during the reminder burst -------------------------------------
        await asyncio.sleep(max(0.0, (remind_at - datetime.now(UTC)).total_seconds()) + 0.3)
        workers[1].send_signal(signal.SIGKILL)
        workers[1].wait()

        def outbox() -> list[OutboxMessage]:
            with session_scope(engine) as session:
                return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))

        # Mail the killed worker was sending is retried by Temporal once its attempt misses its
        # heartbeat (20 s, workflows/unit.py) and the retry interval passed: not lost, only
        # late. Wait for the rest.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rows = outbox()
            reminders = [r for r in rows if "|reminder|" in r.idempotency_key]
            if {r.idempotency_key.split("|")[1] for r in reminders} == set(codes) and all(
                r.status == "sent" for r in rows
            ):
                break
            await asyncio.sleep(0.5)
        rows = outbox()
        reminders = [r for r in rows if "|reminder|" in r.idempotency_key]
        # each reminder once per recipient (unit mp-00 also has its office user)
        assert len({r.idempotency_key for r in reminders}) == len(reminders)
        ids_sent = [str(m["Message-ID"]) for m in sink.messages]
        client = await connect(settings)

        async def mail_pending(unit_code: str) -> list[str]:
            handle = client.get_workflow_handle(unit_workflow_id(cycle_id, unit_code))
            desc = await handle.describe()
            return [p.activity_type.name for p in desc.raw_description.pending_activities]

        # A unit with no reminder row yet: the killed worker had its mail.notify activity
        # before it stored anything; Temporal still holds the activity for retry.
        for code in set(codes) - {r.idempotency_key.split("|")[1] for r in reminders}:
            assert "mail.notify" in await mail_pending(code), code
        assert reminders, "the reminder burst happened"
        for row in rows:
            # nothing doubled: each message at most once at the SMTP server
            assert ids_sent.count(message_id(row.idempotency_key)) <= 1, row.idempotency_key
            if row.status == "sent":
                assert ids_sent.count(message_id(row.idempotency_key)) == 1
                continue
            # nothing lost: a message not sent yet is still an activity Temporal will retry
            # (``sending``: the killed worker had claimed it, services/outbox.py)
            assert row.status in ("pending", "sending"), (row.idempotency_key, row.status)
            unit_code = row.idempotency_key.split("|")[1]
            assert "mail.notify" in await mail_pending(unit_code), row.idempotency_key
        assert replacement.poll() is None

        # --- health checks and metrics of the running processes ------------------------------
        check = subprocess.run(
            [sys.executable, "-m", "cli.main", "worker", "--check"],
            cwd=ROOT, env=procs.env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert check.returncode == 0 and "healthy" in check.stdout, check.stdout
        sdk = (await a.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert any(line.startswith("temporal_") for line in sdk.splitlines()), sdk[:500]
        app_metrics = (await a.get("/metrics")).text
        # the 12 units were created through api-1's two processes: the merged count has all
        created = [
            float(line.rsplit(" ", 1)[1])
            for line in app_metrics.splitlines()
            if line.startswith("appraisal_http_request_duration_seconds_count{")
            and 'route="/api/units"' in line
            and 'method="POST"' in line
        ]
        assert sum(created) == UNITS, created
        assert "appraisal_outbox_pending" in app_metrics
    finally:
        await a.aclose()
        await b.aclose()
        engine.dispose()
