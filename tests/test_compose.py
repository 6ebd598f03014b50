"""docker-compose.yml cannot run here (no Docker engine): check it is complete and consistent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from contracts import search_attributes
from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return data


def _env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def test_every_service_is_there_with_a_healthcheck() -> None:
    services = _compose()["services"]
    for name in ("postgres", "temporal", "temporal-ui", "api", "worker", "mailpit"):
        assert name in services, name
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    assert services["api"]["build"] == "."
    assert services["worker"]["build"] == "."
    assert services["worker"]["command"] == ["appraisal", "worker"]
    assert services["migrate"]["command"] == ["appraisal", "db", "upgrade"]


def test_ports() -> None:
    services = _compose()["services"]
    assert "8000:8000" in services["api"]["ports"]
    assert "7233:7233" in services["temporal"]["ports"]
    assert "8233:8080" in services["temporal-ui"]["ports"]
    assert {"8025:8025", "1025:1025"} <= set(services["mailpit"]["ports"])


def test_env_example_matches_settings() -> None:
    env = _env_example()
    fields = {f"APPRAISAL_{name.upper()}" for name in Settings.model_fields}
    app_keys = {k for k in env if k.startswith("APPRAISAL_")}
    assert app_keys <= fields, app_keys - fields
    for required in (
        "APPRAISAL_MODE",
        "APPRAISAL_SECRET_KEY",
        "APPRAISAL_ADMIN_PASSWORD",
        "APPRAISAL_DATABASE_URL",
        "APPRAISAL_TEMPORAL_ADDRESS",
        "APPRAISAL_TEMPORAL_NAMESPACE",
        "APPRAISAL_SMTP_HOST",
        "APPRAISAL_SMTP_PORT",
    ):
        assert required in env, required
    assert env["APPRAISAL_MODE"] == "production"
    # the example's addresses point at the compose services
    services = _compose()["services"]
    assert env["APPRAISAL_TEMPORAL_ADDRESS"].split(":")[0] in services
    assert env["APPRAISAL_SMTP_HOST"] in services
    assert f"{env['APPRAISAL_SMTP_PORT']}:" in " ".join(services["mailpit"]["ports"])
    db_host = re.search(r"@([^:/]+)", env["APPRAISAL_DATABASE_URL"])
    assert db_host and db_host.group(1) in services
    # the production settings the example gives are accepted by the settings module
    values = {k.removeprefix("APPRAISAL_").lower(): v for k, v in app_keys_items(env)}
    settings = Settings.model_validate(values)
    assert settings.mode == "production"


def app_keys_items(env: dict[str, str]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in env.items() if k.startswith("APPRAISAL_") and v != ""]


def test_temporal_namespace_and_search_attributes_are_created() -> None:
    services = _compose()["services"]
    env = _env_example()
    setup = " ".join(services["temporal-setup"]["command"])
    assert env["APPRAISAL_TEMPORAL_NAMESPACE"] in setup
    for key in search_attributes.ALL:
        assert f"--name {key.name}" in setup
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_app_services_share_env_and_depend_on_migration() -> None:
    services = _compose()["services"]
    for name in ("api", "worker"):
        assert services[name]["env_file"] == ".env"
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
