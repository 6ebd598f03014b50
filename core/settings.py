"""One settings object for API, worker and CLI (env prefix APPRAISAL_, `.env` supported)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-secret-change-me"
DEFAULT_ADMIN_PASSWORD = "admin"


class Mode(StrEnum):
    """dev: embedded stack with demo defaults; production: real services, no default secrets."""

    dev = "dev"
    production = "production"


class Settings(BaseSettings):
    """Configuration read from the environment (APPRAISAL_*) and an optional `.env` file."""

    model_config = SettingsConfigDict(env_prefix="APPRAISAL_", env_file=".env", extra="ignore")

    mode: Mode = Mode.dev
    data_dir: Path = Path("data")
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means sqlite:///<data_dir>/appraisal.db"
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "appraisal"
    temporal_task_queue: str = "appraisal"
    temporal_ui_port: int = 8233

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    mail_from: str = "Hệ thống đánh giá <no-reply@appraisal.local>"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    base_url: str = "http://127.0.0.1:8000"

    secret_key: str = DEFAULT_SECRET_KEY
    admin_password: str = DEFAULT_ADMIN_PASSWORD
    token_minutes: int = 60 * 8
    max_upload_mb: int = 20

    # --- security (sessions, throttling, passwords; helper "auth") ---
    # token_minutes above is a session's absolute lifetime; this ends one left unused.
    session_idle_minutes: int = Field(default=60, ge=1, le=60 * 24)
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is
    # believed; empty: the peer address is the client (also uvicorn's forwarded-allow-ips).
    trusted_proxies: str = ""
    reset_link_minutes: int = Field(default=60, ge=5, le=60 * 24 * 7)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the data directory."""
        if self.database_url:
            return normalise_db_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'appraisal.db').as_posix()}"

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """The networks of ``trusted_proxies`` (validated at start-up)."""
        return tuple(
            ip_network(p.strip(), strict=False)
            for p in self.trusted_proxies.split(",")
            if p.strip()
        )

    @property
    def mail_dir(self) -> Path:
        """Where the embedded SMTP sink keeps each message as a file."""
        return self.data_dir / "mail"

    @property
    def evidence_dir(self) -> Path:
        """Content-addressed evidence files."""
        return self.data_dir / "evidence"

    @model_validator(mode="after")
    def _proxies_parse(self) -> Self:
        self.trusted_proxy_networks  # noqa: B018 — raises ValueError on a bad address
        return self

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Self:
        if self.mode is Mode.production:
            problems = []
            if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
                problems.append("APPRAISAL_SECRET_KEY must be set to a random value of ≥ 32 chars")
            if self.admin_password == DEFAULT_ADMIN_PASSWORD:
                problems.append("APPRAISAL_ADMIN_PASSWORD must not be the default")
            if not self.database_url:
                problems.append("APPRAISAL_DATABASE_URL must be set (PostgreSQL) in production")
            if problems:
                raise ValueError("refusing to start in production mode: " + "; ".join(problems))
        return self


def normalise_db_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import time)."""
    return Settings()
