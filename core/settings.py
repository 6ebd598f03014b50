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
    # dev only: the embedded stack's "admin" coordinator signs in with it (admin/admin). In
    # production no account is made from an environment password: setting it refuses to start,
    # and the first coordinator is `appraisal user create … --role coordinator --print-link`.
    admin_password: str = DEFAULT_ADMIN_PASSWORD
    token_minutes: int = 60 * 8
    max_upload_mb: int = 20
    # Set by `appraisal dev --demo`: /readyz answers ready only once the demo data is loaded.
    demo: bool = False

    # --- security (sessions, throttling, passwords; helper "auth") ---
    # token_minutes above is a session's absolute lifetime; this ends one left unused.
    session_idle_minutes: int = Field(default=60, ge=1, le=60 * 24)
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is
    # believed; empty: the peer address is the client (also uvicorn's forwarded-allow-ips).
    trusted_proxies: str = ""
    reset_link_minutes: int = Field(default=60, ge=5, le=60 * 24 * 7)
    # --- deployment (issue 15): TLS to Temporal, pools, worker slots, logs, metrics ----------
    temporal_tls: bool = False
    temporal_tls_ca: Path | None = Field(default=None, description="PEM of the server's CA")
    temporal_tls_cert: Path | None = Field(default=None, description="client cert (mTLS)")
    temporal_tls_key: Path | None = Field(default=None, description="client key (mTLS)")
    temporal_tls_server_name: str = ""
    smtp_allow_plaintext: bool = Field(
        default=False, description="production only: a relay on a trusted link without TLS"
    )
    api_workers: int = Field(default=1, ge=1, le=16)
    # The one owner of this number: the pool of each process (core.db.make_engine) and the API's
    # admission places and threads (core.db.admitted, api.app) all take it from here.
    db_pool_size: int = Field(default=20, ge=1, le=50)
    db_max_overflow: int = Field(default=10, ge=0, le=50)
    # Requests of one API process working at once (core.db.admitted; at most db_pool_size:
    # each may hold a connection). One process runs Python on one core at a time: more only
    # add thread switching (README "Scale": 20, 8, 4 and 2 measured; 4 kept). The others wait
    # their turn without a thread; a request waiting for a password hash or for the workflow
    # server lends its place out meanwhile.
    api_concurrency: int = Field(default=4, ge=1, le=50)
    worker_shutdown_seconds: int = Field(default=60, ge=0, le=3600)
    worker_max_activities: int = Field(default=40, ge=1, le=1000)
    worker_max_mail_activities: int = Field(default=8, ge=1, le=1000)
    worker_metrics_port: int = Field(default=0, ge=0, le=65535, description="0: no endpoint")
    log_format: str = Field(default="text", pattern="^(text|json)$")

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

    @property
    def mail_task_queue(self) -> str:
        """The task queue with its own slots for the mail activity (reminder bursts)."""
        return f"{self.temporal_task_queue}-mail"

    @property
    def api_places(self) -> int:
        """Admission places of one API process: ``api_concurrency``, within the pool."""
        return min(self.api_concurrency, self.db_pool_size)

    @property
    def db_connections_per_process(self) -> int:
        """The most connections one process's pool opens (pool + overflow)."""
        return self.db_pool_size + self.db_max_overflow

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
            if "admin_password" in self.model_fields_set:
                problems.append(
                    "APPRAISAL_ADMIN_PASSWORD must not be set in production (nobody chooses "
                    "another person's password): create the first coordinator with `appraisal "
                    "user create NAME --role coordinator --email ADDRESS --print-link`"
                )
            if not self.database_url:
                problems.append("APPRAISAL_DATABASE_URL must be set (PostgreSQL) in production")
            problems += production_problems(self)
            if problems:
                raise ValueError("refusing to start in production mode: " + "; ".join(problems))
            _smtp_tls_on_by_default(self)
        return self


PLACEHOLDER_MARK = "change-me"
SINK_SMTP_HOSTS = frozenset({"mailpit", "mailhog", "mailcatcher", "smtp4dev"})
DEV_SINK_PORTS = frozenset({1025, 8025})


def production_problems(s: Settings) -> list[str]:
    """What production refuses besides default secrets: placeholders, a mail sink, plain HTTP."""
    problems: list[str] = []
    for name in (
        "secret_key",
        "database_url",
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "mail_from",
        "base_url",
    ):
        if PLACEHOLDER_MARK in str(getattr(s, name)).lower():
            problems.append(f"APPRAISAL_{name.upper()} still holds the .env.example placeholder")
    host = s.smtp_host.lower()
    if host in SINK_SMTP_HOSTS or (
        host in {"127.0.0.1", "localhost"} and s.smtp_port in DEV_SINK_PORTS
    ):
        problems.append(
            f"APPRAISAL_SMTP_HOST {s.smtp_host}:{s.smtp_port} is a mail sink: mail would be "
            "marked sent and reach no one"
        )
    if not s.base_url.lower().startswith("https://"):
        problems.append("APPRAISAL_BASE_URL must be https:// (cookies are Secure)")
    if (
        {"smtp_starttls", "smtp_use_tls"} & s.model_fields_set
        and not (s.smtp_starttls or s.smtp_use_tls)
        and not s.smtp_allow_plaintext
    ):
        problems.append(
            "SMTP without TLS: set APPRAISAL_SMTP_STARTTLS or APPRAISAL_SMTP_USE_TLS "
            "(or APPRAISAL_SMTP_ALLOW_PLAINTEXT for a relay on a trusted link)"
        )
    if s.temporal_tls and bool(s.temporal_tls_cert) != bool(s.temporal_tls_key):
        problems.append("APPRAISAL_TEMPORAL_TLS_CERT and _KEY go together (mTLS)")
    return problems


def _smtp_tls_on_by_default(s: Settings) -> None:
    # Production turns SMTP TLS on unless the operator chose explicitly (465: implicit TLS).
    if not ({"smtp_starttls", "smtp_use_tls"} & s.model_fields_set):
        if s.smtp_port == 465:
            s.smtp_use_tls = True
        else:
            s.smtp_starttls = True


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
