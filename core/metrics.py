"""Prometheus metrics of the app: request latency, edit-gate refusals, outbox backlog.

The API may run several uvicorn processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (``appraisal
api`` sets it before the processes start), each writes its samples there and ``/metrics``
merges them. The outbox backlog is read from the database at scrape time, so any process
answers it (services.outbox_backlog). The Temporal SDK's own metrics are served by the
worker (core.temporal).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

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


def render(*extra: Collector) -> bytes:
    """The exposition text of this process (or of all API processes) plus ``extra`` collectors."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (REQUEST_LATENCY, EDIT_GATE_REFUSALS):
            registry.register(collector)
    for more in extra:  # read at scrape time, e.g. services.outbox_backlog
        registry.register(more)
    return bytes(generate_latest(registry))
