"""The operator CLI: `appraisal unit …`, `appraisal user …` and `appraisal framework …`.

`user create` and `user reset-password` take no password: the account's owner sets it through
a one-time link, mailed over SMTP (a real server here) or printed for the first coordinator;
the tests follow the link through the real app and sign in with the password set there."""

from __future__ import annotations

import hashlib
import io
import re
import sys
from email.message import EmailMessage

import pytest
from sqlmodel import Session, col, select

from cli.main import main
from core.settings import get_settings
from models.tables import AuditLog, FrameworkRecord, PasswordLink, Role, RoleGrant, User
from notifications.sink import MailSink, free_port
from services.accounts import UNUSABLE_HASH, load_principal, verify_password
from tests.api_support import DINH_HOA_YAML, client, make_app
from tests.conftest import SEEDS
from tests.mail_support import link_token, mail_text


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


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


BASE_URL = "https://danhgia.cli.test"
LINK = re.compile(re.escape(BASE_URL) + r"/password/reset\?token=([\w-]+)")
LAN_PASSWORD = "Lúa chín vàng đồng Bình Thành"


@pytest.fixture
def mail(smtp, monkeypatch) -> MailSink:
    """The CLI's settings point at a real SMTP server; its sink."""
    port, sink = smtp
    assert isinstance(sink, MailSink)
    monkeypatch.setenv("APPRAISAL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("APPRAISAL_SMTP_PORT", str(port))
    monkeypatch.setenv("APPRAISAL_BASE_URL", BASE_URL)
    get_settings.cache_clear()
    return sink


def _token_of(message: EmailMessage) -> str:
    """The link's secret; the link points at the configured address."""
    assert BASE_URL + "/password/reset?token=" in mail_text(message)
    return link_token(message)


def _set_and_sign_in(engine, tmp_path, token: str, username: str, password: str) -> None:
    """Follows the link in the real app: sets the password, then signs in with it."""
    http = client(make_app(engine, tmp_path / "app"))
    form = http.get(f"/password/reset?token={token}")
    assert form.status_code == 200 and "Đặt mật khẩu mới" in form.text
    done = http.post("/password/reset", data={"token": token, "new_password": password})
    assert done.status_code == 200 and "Đã đặt mật khẩu mới" in done.text, done.text
    again = http.post("/password/reset", data={"token": token, "new_password": password + "!"})
    assert again.status_code == 422  # one time only
    signed = http.post("/api/auth/token", data={"username": username, "password": password})
    assert signed.status_code == 200, signed.text


def _actions(engine, username: str) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(AuditLog.actor, AuditLog.action)
            .where(AuditLog.entity_key == username)
            .order_by(col(AuditLog.id))
        ).all()
    return [(actor, action) for actor, action in rows]


def test_user_create_mails_a_link_the_person_sets_their_password_with(
    cli, engine, mail, capsys, tmp_path
) -> None:
    assert cli("unit", "create", "cli-binh-thanh", "--name", "UBND xã Bình Thành") == 0
    assert "Đã tạo đơn vị cli-binh-thanh" in capsys.readouterr().out
    assert cli("unit", "create", "cli-binh-thanh", "--name", "Trùng") == 1
    assert "đã tồn tại" in capsys.readouterr().err
    argv = ("user", "create", "cli-lan", "--role", "staff", "--unit", "cli-binh-thanh")
    who = ("--full-name", "Nguyễn Thị Lan", "--email", "lan@binhthanh.gov.vn")
    assert cli(*argv, *who) == 0
    out = capsys.readouterr().out
    assert "Đã tạo tài khoản cli-lan" in out and "chưa có mật khẩu" in out
    assert "Đã gửi liên kết đặt mật khẩu (dùng được một lần) tới lan@binhthanh.gov.vn" in out
    assert "token=" not in out  # the link went to the person, not to the operator's screen
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "cli-lan")).one()
        assert user.password_hash == UNUSABLE_HASH
        assert load_principal(session, user).roles == {Role.staff}
    (message,) = mail.messages
    assert message["To"] == "Nguyễn Thị Lan <lan@binhthanh.gov.vn>"
    assert "Tài khoản mới" in str(message["Subject"])
    assert _actions(engine, "cli-lan") == [("cli", "create"), ("cli", "welcome_link")]
    _set_and_sign_in(engine, tmp_path, _token_of(message), "cli-lan", LAN_PASSWORD)
    # a second role for the same person
    assert cli("user", "grant", "cli-lan", "--role", "council", "--agency", "Phòng Nội vụ") == 0
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "cli-lan")).one()
        assert load_principal(session, user).roles == {Role.staff, Role.council}


def test_a_taken_username_is_refused_clearly(cli, engine, mail, capsys) -> None:
    argv = ("user", "create", "cli-trung", "--role", "viewer", "--email", "a@dinhhoa.gov.vn")
    assert cli(*argv) == 0
    capsys.readouterr()
    assert cli("user", "create", "CLI-Trung", "--role", "viewer", "--email", "b@x.vn") == 1
    err = capsys.readouterr().err
    assert err == "Lỗi: Tên đăng nhập 'cli-trung' đã có người dùng.\n"
    assert len(mail.messages) == 1  # nobody else was mailed a link to that account
    with Session(engine) as session:
        (user,) = session.exec(select(User).where(User.username == "cli-trung")).all()
        assert user.email == "a@dinhhoa.gov.vn"


@pytest.mark.parametrize("option", ["--password", "--password-stdin", "--pass"])
def test_user_create_takes_no_password(cli, engine, capsys, option) -> None:
    with pytest.raises(SystemExit) as exc:
        cli("user", "create", "cli-pw", "--role", "viewer", "--email", "p@x.vn", option, "x")
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
    with Session(engine) as session:
        assert session.exec(select(User).where(User.username == "cli-pw")).first() is None


def test_the_first_coordinator_gets_the_link_on_the_terminal(
    cli, engine, mail, capsys, tmp_path
) -> None:
    assert cli("user", "create", "cli-boss", "--role", "coordinator", "--print-link") == 0
    out = capsys.readouterr().out
    found = LINK.search(out)
    assert found is not None, out
    assert "dùng được một lần, trong 7 ngày" in out
    assert not mail.messages  # printed, not mailed
    assert _actions(engine, "cli-boss") == [
        ("cli", "create"),
        ("cli", "welcome_link"),
        ("cli", "welcome_link_printed"),
    ]
    _set_and_sign_in(engine, tmp_path, found.group(1), "cli-boss", "Cờ đỏ sao vàng tung bay")
    with Session(engine) as session:
        boss = session.exec(select(User).where(User.username == "cli-boss")).one()
        grants = session.exec(select(RoleGrant).where(RoleGrant.user_id == boss.id)).all()
        assert [g.role for g in grants] == [Role.coordinator]


def test_a_mail_that_cannot_go_out_says_so(cli, engine, monkeypatch, capsys) -> None:
    monkeypatch.setenv("APPRAISAL_SMTP_PORT", str(free_port()))  # nobody listens there
    get_settings.cache_clear()
    assert cli("user", "create", "cli-xa", "--role", "viewer", "--email", "xa@x.vn") == 1
    err = capsys.readouterr().err
    assert "chưa gửi được thư tới xa@x.vn" in err
    assert "appraisal user reset-password cli-xa" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("user", "create", "cli-x", "--role", "staff", "--email", "x@x.vn"),  # no unit
        ("user", "create", "cli-x", "--role", "council", "--email", "x@x.vn"),  # no agency
        ("user", "create", "cli-x", "--role", "staff", "--unit", "nope", "--email", "x@x.vn"),
        ("user", "create", "x", "--role", "viewer", "--email", "x@x.vn"),  # name too short
        ("user", "create", "cli-x", "--role", "viewer", "--email", "khong-phai-thu"),
        ("user", "create", "cli-x", "--role", "viewer"),  # no address to send the link to
    ],
)
def test_user_create_refusals(cli, engine, capsys, argv) -> None:
    assert cli(*argv) == 1
    assert capsys.readouterr().err.startswith("Lỗi: ")
    with Session(engine) as session:
        assert session.exec(select(User).where(User.username == argv[2])).first() is None


def test_wrong_role_is_a_usage_error(cli) -> None:
    with pytest.raises(SystemExit) as exc:
        cli("user", "create", "cli-y", "--role", "admin")
    assert exc.value.code == 2


def test_reset_password_sends_a_link_and_ends_the_old_one(
    cli, engine, mail, capsys, tmp_path
) -> None:
    assert cli("user", "create", "cli-hoa", "--role", "viewer", "--email", "hoa@x.vn") == 0
    _set_and_sign_in(engine, tmp_path, _token_of(mail.messages[-1]), "cli-hoa", LAN_PASSWORD)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli("user", "reset-password", "cli-hoa", "--password-stdin")
    assert cli("user", "reset-password", "cli-hoa") == 0
    out = capsys.readouterr().out
    assert "mật khẩu cũ hết hiệu lực, các phiên đã kết thúc" in out
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "cli-hoa")).one()
        assert user.password_hash == UNUSABLE_HASH
        assert not verify_password(user.password_hash, LAN_PASSWORD)
    message = mail.messages[-1]
    assert "đã được đặt lại" in str(message["Subject"])
    assert _actions(engine, "cli-hoa")[-3:] == [
        ("cli", "reset_password"),
        ("cli", "revoke_all:reset_password"),
        ("cli", "operator_reset_link"),
    ]
    _set_and_sign_in(engine, tmp_path, _token_of(message), "cli-hoa", "Sông Cầu nước chảy lơ thơ")
    assert cli("user", "reset-password", "cli-ghost") == 1


def test_reset_of_an_account_never_set_sends_a_new_welcome_link(cli, engine, mail) -> None:
    assert cli("user", "create", "cli-moi", "--role", "viewer", "--email", "moi@x.vn") == 0
    first = _token_of(mail.messages[-1])
    assert cli("user", "reset-password", "cli-moi", "--print-link") == 0
    assert len(mail.messages) == 1
    assert _actions(engine, "cli-moi")[-2:] == [
        ("cli", "welcome_link"),
        ("cli", "welcome_link_printed"),
    ]
    with Session(engine) as session:
        link = session.exec(select(PasswordLink).where(PasswordLink.id == _digest(first))).one()
        assert link.used_at is not None  # the lost link died with the new one


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
