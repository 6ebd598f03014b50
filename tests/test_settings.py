"""Settings: production refuses default secrets; database URLs are normalised."""

from __future__ import annotations

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
    assert "APPRAISAL_ADMIN_PASSWORD" in text


def test_production_refuses_short_key_and_missing_database() -> None:
    with pytest.raises(ValidationError) as err:
        Settings(_env_file=None, mode="production", secret_key="short", admin_password="x" * 12)
    assert "APPRAISAL_SECRET_KEY" in str(err.value)
    assert "APPRAISAL_DATABASE_URL" in str(err.value)


def test_production_starts_with_real_secrets() -> None:
    s = Settings(
        _env_file=None,
        mode="production",
        secret_key="k" * 48,
        admin_password="a-real-password",
        database_url="postgresql://app@db:5432/app",
    )
    assert s.secret_key != DEFAULT_SECRET_KEY
    assert s.sqlalchemy_url == "postgresql+psycopg://app@db:5432/app"


def test_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPRAISAL_TEMPORAL_NAMESPACE", "tinh-thai-nguyen")
    monkeypatch.setenv("APPRAISAL_MAX_UPLOAD_MB", "5")
    s = Settings(_env_file=None)
    assert s.temporal_namespace == "tinh-thai-nguyen"
    assert s.max_upload_mb == 5


def test_normalise_db_url() -> None:
    assert normalise_db_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_db_url("sqlite:///x.db") == "sqlite:///x.db"
