"""Prometheus metrics of the app: request latency, edit-gate refusals, outbox backlog.

The API may run several uvicorn processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (``appraisal
api`` sets it before the processes start), each writes its samples there and ``/metrics``
merges them. The outbox backlog is read from the database at scrape time, so any process
answers it. The Temporal SDK's own metrics are served by the worker (core.temporal).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.db import utcnow
from models.tables import OutboxMessage

REQUEST_LATENCY = Histogram(
    "appraisal_http_request_duration_seconds",
    "HTTP request latency by route template, method and status class.",
    ["method", "route", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EDIT_GATE_REFUSALS = Counter(
    "appraisal_edit_gate_refusals_total",
    "Edits refused by the sheet's edit gate, by refusal type.",
    ["type"],
)


class OutboxBacklog(Collector):
    """Pending outbox messages and the age of the oldest, read when scraped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The two gauges (nothing when the database does not answer)."""
        query = select(func.count(), func.min(col(OutboxMessage.created_at))).where(
            col(OutboxMessage.status) == "pending"
        )
        try:
            with self.engine.connect() as conn:
                count, oldest = conn.execute(query).one()
        except Exception:  # the scrape still returns the other metrics
            return
        yield GaugeMetricFamily(
            "appraisal_outbox_pending", "Outbox messages not sent yet.", value=int(count)
        )
        # min() keeps the column's type, so `oldest` is an aware UTC datetime.
        age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "appraisal_outbox_oldest_pending_seconds",
            "Age of the oldest pending outbox message.",
            value=age,
        )


def render(engine: Engine) -> bytes:
    """The exposition text of this process (or of every API process) plus the outbox gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (REQUEST_LATENCY, EDIT_GATE_REFUSALS):
            registry.register(collector)
    registry.register(OutboxBacklog(engine))
    return bytes(generate_latest(registry))
