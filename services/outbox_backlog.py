"""The outbox backlog as Prometheus gauges, read from the database when /metrics is scraped."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.db import utcnow
from models.tables import OutboxMessage


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
