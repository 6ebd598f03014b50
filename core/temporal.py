"""The one way to build a Temporal client (API, worker, CLI and tests share the converter)."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from core.settings import Settings

DATA_CONVERTER = pydantic_data_converter


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
