"""The one way to build a Temporal client (API, worker, CLI and tests share the converter), and
how the embedded dev server keeps its state on disk."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from core.settings import Settings

DATA_CONVERTER = pydantic_data_converter

# The dev server's SQLite store (`make dev`, the benchmarks, the restart tests): a write-ahead log
# with an fsync at every commit. Its default, a rollback journal, made a few hundred timers
# falling due at one instant (a province's hard lock) drain at ~8 workflows/s after the first
# ~400 and gave 21-30 s for 500 raw timer+activity workflows; with these, 6.4-7.0 s (issue 13,
# docs/workflows.md). `synchronous=full` keeps an acknowledged start or timer across a power
# cut (`normal` measured no faster here: 5.0-6.8 s).
DEV_SERVER_PRAGMAS = ("journal_mode=wal", "synchronous=full")


def dev_server_pragma_flags() -> list[str]:
    """The `--sqlite-pragma` flags of `temporal server start-dev --db-filename …` (or
    ``WorkflowEnvironment.start_local(dev_server_extra_args=…)``) for the pragmas above."""
    return [flag for pragma in DEV_SERVER_PRAGMAS for flag in ("--sqlite-pragma", pragma)]


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS (server CA) and mTLS (client cert and key) to Temporal, or False for plain gRPC."""
    if not settings.temporal_tls:
        return False

    def read(path: Path | None) -> bytes | None:
        return path.read_bytes() if path else None

    return TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_ca),
        client_cert=read(settings.temporal_tls_cert),
        client_private_key=read(settings.temporal_tls_key),
        domain=settings.temporal_tls_server_name or None,
    )


def metrics_runtime(port: int) -> Runtime:
    """A Temporal SDK runtime that serves its metrics for Prometheus on ``0.0.0.0:port``."""
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"0.0.0.0:{port}"))
    )


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """A client for the configured address and namespace, with the pydantic data converter."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        tls=tls_config(settings),
        runtime=runtime,
    )
