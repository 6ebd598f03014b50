"""Request ids in JSON logs and responses; Prometheus metrics of the app (latency, edit-gate
refusals, outbox backlog) on /metrics; against the real database, in process."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from core.db import utcnow
from core.errors import Conflict
from core.logs import JsonFormatter, log_config
from core.settings import Settings
from models.tables import ExplanationRequest
from services import outbox
from services.sheet.gate import flagged_item


def _app(engine: Engine, tmp_path: Path) -> FastAPI:
    app = create_app(Settings(_env_file=None, data_dir=tmp_path), engine=engine)

    @app.get("/_test/refuse/{kind}")
    async def refuse(kind: str) -> None:
        if kind == "gate":  # the edit gate refuses a criterion the round does not flag
            with Session(engine) as session:
                fake = ExplanationRequest(id=10**9, cycle_id="x", unit_id=0, round_no=1)
                flagged_item(session, fake, "9.9.9")
        raise Conflict("elsewhere", "Bị từ chối ở nơi khác.", "Refused elsewhere.")

    @app.get("/_test/log")
    async def log_something() -> dict[str, str]:
        logging.getLogger("appraisal.test").info("một dòng nhật ký")
        return {"ok": "yes"}

    return app


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


class _Lines(logging.Handler):
    """Formats each record as it is emitted (as a stream handler does)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_request_id_is_echoed_and_in_json_logs(engine: Engine, tmp_path) -> None:
    app = _app(engine, tmp_path)
    handler = _Lines()
    logger = logging.getLogger("appraisal.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        async with await _client(app) as client:
            given = await client.get("/_test/log", headers={"X-Request-ID": "abc-123"})
            made = await client.get("/healthz")
    finally:
        logger.removeHandler(handler)
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    ours = handler.lines
    assert ours and ours[0]["request_id"] == "abc-123"
    assert ours[0]["message"] == "một dòng nhật ký" and ours[0]["level"] == "INFO"
    # the same formatter is what production's log config installs (uvicorn's loggers too)
    config = log_config("json")
    assert config["formatters"]["default"] == {"()": "core.logs.JsonFormatter"}
    assert "uvicorn.access" in config["loggers"]


async def test_metrics_latency_refusals_and_outbox_backlog(engine: Engine, tmp_path) -> None:
    app = _app(engine, tmp_path)
    created = utcnow() - timedelta(minutes=10)
    outbox.enqueue_all(
        engine,
        [outbox.OutboxItem(key="obs-1", to_addr="a@b.vn", subject="s", text="t", html="h")],
        at=created,
    )
    async with await _client(app) as client:
        before = (await client.get("/metrics")).text
        refused_before = 0.0
        if 'appraisal_edit_gate_refusals_total{type="not_flagged"}' in before:
            refused_before = _sample(
                before, "appraisal_edit_gate_refusals_total", type="not_flagged"
            )
        assert (await client.get("/_test/refuse/gate")).status_code == 409
        assert (await client.get("/_test/refuse/other")).status_code == 409
        for _ in range(3):
            await client.get("/healthz")
        text = (await client.get("/metrics")).text
    refused = _sample(text, "appraisal_edit_gate_refusals_total", type="not_flagged")
    assert refused == refused_before + 1
    assert 'type="elsewhere"' not in text  # a refusal from outside the gate is not counted
    count = _sample(
        text,
        "appraisal_http_request_duration_seconds_count",
        route="/healthz",
        method="GET",
        status="2xx",
    )
    assert count >= 3
    assert _sample(text, "appraisal_outbox_pending") >= 1
    assert _sample(text, "appraisal_outbox_oldest_pending_seconds") >= 600


def test_json_lines_carry_workflow_ids_from_the_sdk_loggers() -> None:
    """The SDK's workflow and activity loggers add these extras; the formatter lifts the ids."""
    formatter = JsonFormatter()
    for extra_name in ("temporal_workflow", "temporal_activity"):
        record = logging.LogRecord("workflows.unit", logging.WARNING, __file__, 1, "x", (), None)
        setattr(record, extra_name, {"workflow_id": "cycle-2024/unit-xa", "run_id": "r1"})
        line = json.loads(formatter.format(record))
        assert line["workflow_id"] == "cycle-2024/unit-xa" and line["run_id"] == "r1"
        assert "request_id" not in line
    try:
        raise ValueError("hỏng")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "lỗi", (), sys.exc_info())
    line = json.loads(formatter.format(record))
    assert line["message"] == "lỗi" and "ValueError: hỏng" in line["exc"]
