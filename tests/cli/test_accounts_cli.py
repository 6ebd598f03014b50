"""The operator CLI: `appraisal unit …`, `appraisal user …` and `appraisal framework …`."""

from __future__ import annotations

import io
import sys

import pytest
from sqlmodel import Session, select

from cli.main import main
from core.settings import get_settings
from models.tables import AuditLog, FrameworkRecord, Role, RoleGrant, User
from services.accounts import load_principal, verify_password
from tests.api_support import DINH_HOA_YAML
from tests.conftest import SEEDS


@pytest.fixture
def cli(db_url, engine, monkeypatch, tmp_path):
    monkeypatch.setenv("APPRAISAL_DATABASE_URL", db_url)
    monkeypatch.setenv("APPRAISAL_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()

    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return main(list(argv))

    yield run
    get_settings.cache_clear()


def test_unit_and_user_commands(cli, engine, capsys) -> None:
    assert cli("unit", "create", "cli-binh-thanh", "--name", "UBND xã Bình Thành") == 0
    assert "Đã tạo đơn vị cli-binh-thanh" in capsys.readouterr().out
    assert cli("unit", "create", "cli-binh-thanh", "--name", "Trùng") == 1
    assert "đã tồn tại" in capsys.readouterr().err
    assert (
        cli(
            "user",
            "create",
            "cli-lan",
            "--role",
            "staff",
            "--unit",
            "cli-binh-thanh",
            "--full-name",
            "Nguyễn Thị Lan",
            "--password-stdin",
            stdin="mat-khau-cua-lan\n",
        )
        == 0
    )
    assert "Đã tạo tài khoản cli-lan" in capsys.readouterr().out
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "cli-lan")).one()
        assert verify_password(user.password_hash, "mat-khau-cua-lan")
        assert load_principal(session, user).roles == {Role.staff}
    # a second role for the same person
    assert cli("user", "grant", "cli-lan", "--role", "council", "--agency", "Phòng Nội vụ") == 0
    # a generated password is printed once
    assert cli("user", "create", "cli-boss", "--role", "coordinator") == 0
    out = capsys.readouterr().out
    generated = out.split("Mật khẩu: ")[1].strip()
    with Session(engine) as session:
        boss = session.exec(select(User).where(User.username == "cli-boss")).one()
        assert verify_password(boss.password_hash, generated)
        grants = session.exec(select(RoleGrant).where(RoleGrant.user_id == boss.id)).all()
        assert [g.role for g in grants] == [Role.coordinator]


@pytest.mark.parametrize(
    "argv",
    [
        ("user", "create", "cli-x", "--role", "staff", "--password-stdin"),  # no unit
        ("user", "create", "cli-x", "--role", "council", "--password-stdin"),  # no agency
        ("user", "create", "cli-x", "--role", "staff", "--unit", "nope", "--password-stdin"),
        ("user", "create", "x", "--role", "viewer", "--password-stdin"),  # name too short
    ],
)
def test_user_create_refusals(cli, capsys, argv) -> None:
    assert cli(*argv, stdin="mat-khau-du-dai\n") == 1
    assert capsys.readouterr().err.startswith("Lỗi: ")


def test_wrong_role_is_a_usage_error(cli) -> None:
    with pytest.raises(SystemExit) as exc:
        cli("user", "create", "cli-y", "--role", "admin")
    assert exc.value.code == 2


def test_reset_password(cli, engine, capsys) -> None:
    cli(
        "user", "create", "cli-hoa", "--role", "viewer", "--password-stdin", stdin="mat-khau-cu-1\n"
    )
    assert (
        cli("user", "reset-password", "cli-hoa", "--password-stdin", stdin="mat-khau-moi-2\n") == 0
    )
    assert "các phiên cũ hết hiệu lực" in capsys.readouterr().out
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "cli-hoa")).one()
        assert verify_password(user.password_hash, "mat-khau-moi-2")
        actions = session.exec(
            select(AuditLog.action).where(AuditLog.entity_key == "cli-hoa")
        ).all()
        assert list(actions) == ["create", "reset_password", "revoke_all:reset_password"]
    assert (
        cli("user", "reset-password", "cli-ghost", "--password-stdin", stdin="mat-khau-moi-2\n")
        == 1
    )
    assert cli("user", "reset-password", "cli-hoa", "--password-stdin", stdin="short\n") == 1


def test_framework_commands(cli, engine, capsys, tmp_path) -> None:
    assert cli("framework", "import", str(DINH_HOA_YAML)) == 0
    out = capsys.readouterr().out
    assert "Đã nhập" in out and "tổng điểm tối đa 100" in out
    with Session(engine) as session:
        record = session.exec(select(FrameworkRecord).order_by(FrameworkRecord.id.desc())).first()  # type: ignore[union-attr]
        assert record is not None and record.status == "draft"
        fid = record.id
    assert cli("framework", "import", str(DINH_HOA_YAML)) == 0
    assert "Không thay đổi" in capsys.readouterr().out
    assert cli("framework", "publish", str(fid)) == 0
    assert cli("framework", "list") == 0
    assert f"{fid}\t2024\tv1\tpublished" in capsys.readouterr().out
    assert cli("framework", "export", str(fid)) == 0
    assert "name: " in capsys.readouterr().out
    target = tmp_path / "out.xlsx"
    assert cli("framework", "export", str(fid), "--format", "xlsx", "--output", str(target)) == 0
    assert target.read_bytes().startswith(b"PK")
    assert cli("framework", "publish", "999999") == 1
    assert cli("framework", "export", "999999") == 1
    # an annex table needs a name and a year
    seed = SEEDS / "quang-dien-departments-2023-draft-framework.txt"
    assert cli("framework", "import", str(seed)) == 1
    assert "name" in capsys.readouterr().err
    assert (
        cli("framework", "import", str(seed), "--name", "Quảng Điền phòng", "--year", "2023") == 0
    )
    assert cli("framework", "import", str(tmp_path / "missing.yaml")) == 1
