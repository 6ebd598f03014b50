"""Settings: production refuses default secrets; database URLs are normalised."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import DEFAULT_SECRET_KEY, Mode, Settings, normalise_db_url


def test_dev_mode_accepts_defaults(tmp_path) -> None:
    s = Settings(_env_file=None, data_dir=tmp_path)
    assert s.mode is Mode.dev
    assert s.sqlalchemy_url == f"sqlite:///{tmp_path.as_posix()}/appraisal.db"
    assert s.mail_dir == tmp_path / "mail"


def test_production_refuses_default_secrets() -> None:
    with pytest.raises(ValidationError) as err:
        Settings(_env_file=None, mode="production", database_url="postgresql://x@db/app")
    text = str(err.value)
    assert "APPRAISAL_SECRET_KEY" in text
    assert "APPRAISAL_ADMIN_PASSWORD" not in text  # not set: nothing to refuse


def test_production_refuses_short_key_and_missing_database() -> None:
    with pytest.raises(ValidationError) as err:
        Settings(_env_file=None, mode="production", secret_key="short")
    assert "APPRAISAL_SECRET_KEY" in str(err.value)
    assert "APPRAISAL_DATABASE_URL" in str(err.value)


PRODUCTION: dict[str, object] = {
    "mode": "production",
    "secret_key": "k" * 48,
    "database_url": "postgresql://app@db:5432/app",
    "smtp_host": "smtp.tinh.gov.vn",
    "smtp_port": 587,
    "base_url": "https://danhgia.tinh.gov.vn",
}


def _production(**changes: object) -> Settings:
    return Settings.model_validate({**PRODUCTION, **changes})


def test_production_starts_with_real_secrets() -> None:
    s = _production()
    assert s.secret_key != DEFAULT_SECRET_KEY
    assert s.sqlalchemy_url == "postgresql+psycopg://app@db:5432/app"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("secret_key", "change-me-to-64-random-characters-" * 2, "APPRAISAL_SECRET_KEY still"),
        ("database_url", "postgresql://a:change-me-app-db@db/a", "APPRAISAL_DATABASE_URL still"),
        ("smtp_password", "change-me-smtp-password", "APPRAISAL_SMTP_PASSWORD still"),
        ("smtp_host", "mailpit", "is a mail sink"),
        ("smtp_host", "MailHog", "is a mail sink"),
        ("base_url", "http://10.1.2.3:8000", "must be https://"),
    ],
)
def test_production_refuses_placeholders_sinks_and_plain_http(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        _production(**{field: value})
    assert message in str(err.value)


@pytest.mark.parametrize("password", ["a-real-long-password-2024", "admin", ""])
def test_production_makes_no_account_from_an_environment_password(password, monkeypatch) -> None:
    # Whatever its value: the first coordinator sets their own password from a printed link.
    with pytest.raises(ValidationError) as err:
        _production(admin_password=password)
    assert "APPRAISAL_ADMIN_PASSWORD must not be set in production" in str(err.value)
    assert "appraisal user create" in str(err.value) and "--print-link" in str(err.value)
    # dev keeps the documented demo coordinator (admin/admin) of the embedded stack
    assert Settings(_env_file=None).admin_password == "admin"
    monkeypatch.setenv("APPRAISAL_ADMIN_PASSWORD", password)
    with pytest.raises(ValidationError, match="APPRAISAL_ADMIN_PASSWORD must not be set"):
        Settings(_env_file=None, **PRODUCTION)  # type: ignore[arg-type]


def test_production_refuses_the_embedded_sink_but_dev_uses_it() -> None:
    with pytest.raises(ValidationError, match="is a mail sink"):
        _production(smtp_host="127.0.0.1", smtp_port=8025)
    dev = Settings(_env_file=None)
    assert (dev.smtp_host, dev.smtp_port) == ("127.0.0.1", 8025)
    assert not dev.smtp_starttls and not dev.smtp_use_tls


def test_production_smtp_tls_is_on_by_default() -> None:
    assert _production().smtp_starttls is True
    implicit = _production(smtp_port=465)
    assert implicit.smtp_use_tls is True and not implicit.smtp_starttls
    with pytest.raises(ValidationError, match="SMTP without TLS"):
        _production(smtp_starttls=False, smtp_use_tls=False)
    plain = _production(smtp_starttls=False, smtp_use_tls=False, smtp_allow_plaintext=True)
    assert not plain.smtp_starttls and not plain.smtp_use_tls


def test_temporal_tls_needs_cert_and_key_together(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="go together"):
        _production(temporal_tls=True, temporal_tls_cert=tmp_path / "c.pem")


def test_worker_and_pool_settings_are_bounded() -> None:
    s = _production(db_pool_size=5, db_max_overflow=5, api_workers=2)
    assert s.db_connections_per_process == 10
    assert s.mail_task_queue == "appraisal-mail"
    for field, value in (("api_workers", 0), ("db_pool_size", 0), ("log_format", "xml")):
        with pytest.raises(ValidationError) as err:
            _production(**{field: value})
        assert field in str(err.value)


def test_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPRAISAL_TEMPORAL_NAMESPACE", "tinh-thai-nguyen")
    monkeypatch.setenv("APPRAISAL_MAX_UPLOAD_MB", "5")
    s = Settings(_env_file=None)
    assert s.temporal_namespace == "tinh-thai-nguyen"
    assert s.max_upload_mb == 5


def test_normalise_db_url() -> None:
    assert normalise_db_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_db_url("sqlite:///x.db") == "sqlite:///x.db"


def test_temporal_tls_config_reads_the_pem_files(tmp_path: Path) -> None:
    from core.temporal import tls_config

    assert tls_config(Settings(_env_file=None)) is False
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_bytes(f"-----{name}-----".encode())
    cfg = tls_config(
        Settings(
            _env_file=None,
            temporal_tls=True,
            temporal_tls_ca=tmp_path / "ca.pem",
            temporal_tls_cert=tmp_path / "client.pem",
            temporal_tls_key=tmp_path / "client.key",
            temporal_tls_server_name="temporal.tinh.gov.vn",
        )
    )
    assert not isinstance(cfg, bool)
    assert cfg.server_root_ca_cert == b"-----ca.pem-----"
    assert cfg.client_cert == b"-----client.pem-----"
    assert cfg.client_private_key == b"-----client.key-----"
    assert cfg.domain == "temporal.tinh.gov.vn"
