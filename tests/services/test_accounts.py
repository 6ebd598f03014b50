"""Accounts service: argon2 passwords, tokens (expiry, forgery, revocation), throttling, grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.db import session_scope
from models.tables import AuditLog, LoginThrottle, Role, Unit, User
from services.accounts import (
    MAX_FAILURES_PER_USER,
    UNUSABLE_HASH,
    AccountError,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    RoleGrantIn,
    UserCreate,
    authenticate,
    create_user,
    ensure_admin,
    hash_password,
    issue_token,
    load_principal,
    user_for_claims,
    verify_password,
    verify_token,
)
from services.passwords import issue_link, redeem_link

SECRET = "a-secret-key-that-is-long-enough-1234"
T0 = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def people(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        unit = Unit(code="acc-binh-thanh", name="UBND xã Bình Thành")
        session.add(unit)
        session.flush()
        lan = create_user(
            session,
            user_in=UserCreate(
                username="Lan.Nguyen",
                full_name="Nguyễn Thị Lan",
                roles=[
                    RoleGrantIn(role=Role.staff, unit_code="acc-binh-thanh"),
                    RoleGrantIn(role=Role.council, agency="Phòng Nội vụ"),
                ],
            ),
            actor="test",
            password_hash=hash_password("mat-khau-cua-lan"),
        )
        assert lan.id is not None and unit.id is not None
        return {"lan": lan.id, "unit": unit.id}


def test_argon2_hash_verifies_only_the_password() -> None:
    h = hash_password("đúng-mật-khẩu")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "đúng-mật-khẩu")
    assert not verify_password(h, "sai-mật-khẩu")
    assert not verify_password("not-a-hash", "đúng-mật-khẩu")


def test_created_user_has_lowercase_name_grants_and_audit(engine, people) -> None:
    with Session(engine) as session:
        from models.tables import User

        user = session.get(User, people["lan"])
        assert user is not None and user.username == "lan.nguyen"
        principal = load_principal(session, user)
        assert principal.roles == {Role.staff, Role.council}
        assert principal.units() == {people["unit"]}
        assert principal.agencies == {"Phòng Nội vụ"}
        assert principal.has_for_unit(Role.staff, people["unit"])
        assert not principal.has_for_unit(Role.staff, people["unit"] + 1000)
        assert not principal.is_global
        rows = session.exec(
            select(AuditLog).where(AuditLog.entity == "user", AuditLog.entity_key == "lan.nguyen")
        ).all()
        assert [r.action for r in rows] == ["create"]
        assert "password" not in str(rows[0].after)


def test_duplicate_username_and_unknown_unit_refused(engine, people) -> None:
    with session_scope(engine) as session, pytest.raises(AccountError) as exc:
        create_user(
            session,
            user_in=UserCreate(
                username="lan.nguyen",
                roles=[RoleGrantIn(role=Role.viewer)],
            ),
            actor="test",
        )
    assert exc.value.field == "username" and exc.value.conflict
    with session_scope(engine) as session, pytest.raises(AccountError) as exc:
        create_user(
            session,
            user_in=UserCreate(
                username="ghost",
                roles=[RoleGrantIn(role=Role.staff, unit_code="no-such-unit")],
            ),
            actor="test",
        )
    assert exc.value.field == "roles.unit_code"


@pytest.mark.parametrize(
    "grant",
    [
        {"role": "staff"},
        {"role": "unit_office", "agency": "Phòng Nội vụ", "unit_code": "x"},
        {"role": "council"},
        {"role": "coordinator", "unit_code": "x"},
        {"role": "viewer", "agency": "x"},
    ],
)
def test_role_scope_must_fit_the_role(grant) -> None:
    with pytest.raises(ValueError):
        RoleGrantIn.model_validate(grant)


def test_token_round_trip_expiry_and_forgery(engine, people) -> None:
    from models.tables import User

    with Session(engine) as session:
        user = session.get(User, people["lan"])
        assert user is not None
        token, expires = issue_token(user, secret_key=SECRET, minutes=30, now=T0)
        assert expires == T0 + timedelta(minutes=30)
        claims, _ = verify_token(token, secret_key=SECRET, now=T0 + timedelta(minutes=29))
        assert user_for_claims(session, claims).id == user.id
        with pytest.raises(InvalidToken, match="expired"):
            verify_token(token, secret_key=SECRET, now=T0 + timedelta(minutes=30))
        with pytest.raises(InvalidToken, match="bad signature"):
            verify_token(token, secret_key="another-secret-key-long-enough-12", now=T0)
        payload, _, sig = token.partition(".")
        with pytest.raises(InvalidToken):
            verify_token(payload[:-2] + "AA." + sig, secret_key=SECRET, now=T0)
        # a session cookie is not an API token (different signing key)
        with pytest.raises(InvalidToken):
            verify_token(token, secret_key=SECRET, now=T0, kind="session")


def test_a_new_account_has_no_password_until_its_owner_sets_one(engine) -> None:
    with session_scope(engine) as session:
        create_user(
            session,
            user_in=UserCreate(username="chua.co", roles=[RoleGrantIn(role="viewer")]),
            actor="test",
        )
    for guess in ("", UNUSABLE_HASH, "mat-khau-bat-ky"):
        with session_scope(engine) as session, pytest.raises(InvalidCredentials):
            authenticate(session, username="chua.co", password=guess)


def test_password_reset_revokes_old_tokens_and_clears_throttle(engine) -> None:
    with session_scope(engine) as session:
        user = create_user(
            session,
            user_in=UserCreate(username="hoa.tran", roles=[RoleGrantIn(role="viewer")]),
            actor="test",
            password_hash=hash_password("mat-khau-cu-123"),
        )
        old, _ = issue_token(user, secret_key=SECRET, minutes=60)
    for _ in range(MAX_FAILURES_PER_USER):
        with session_scope(engine) as session, pytest.raises(InvalidCredentials):
            authenticate(session, username="hoa.tran", password="sai")
    with session_scope(engine) as session:
        assert session.get(LoginThrottle, "user:hoa.tran") is not None
        found = session.get(User, user.id)
        assert found is not None
        secret = issue_link(session, found, purpose="reset", minutes=60, actor="system")
    with session_scope(engine) as session, pytest.raises(AccountError):  # the rule holds
        redeem_link(session, secret, "short")
    with session_scope(engine) as session:  # the owner sets a new one by the link
        redeem_link(session, secret, "mat-khau-moi-456")
    with session_scope(engine) as session:
        claims, _ = verify_token(old, secret_key=SECRET)
        with pytest.raises(InvalidToken, match="revoked"):
            user_for_claims(session, claims)
        assert session.get(LoginThrottle, "user:hoa.tran") is None
        assert authenticate(session, username="hoa.tran", password="mat-khau-moi-456")


def test_throttle_locks_temporarily_and_doubles(engine) -> None:
    with session_scope(engine) as session:
        create_user(
            session,
            user_in=UserCreate(username="minh.le", roles=[RoleGrantIn(role="viewer")]),
            actor="test",
            password_hash=hash_password("dung-mat-khau"),
        )

    def attempt(password: str, at: datetime) -> str:
        try:
            with session_scope(engine) as session:
                authenticate(session, username="minh.le", password=password, now=at)
            return "ok"
        except InvalidCredentials:
            return "bad"
        except LoginThrottled as exc:
            return f"wait {exc.retry_after}"

    results = [attempt("sai", T0 + timedelta(seconds=i)) for i in range(MAX_FAILURES_PER_USER)]
    assert results == ["bad"] * MAX_FAILURES_PER_USER
    # locked for a minute from the 5th failure, even with the right password
    assert attempt("dung-mat-khau", T0 + timedelta(seconds=10)) == "wait 54"
    # one more guess once the lock has passed: checked, wrong, and the lock doubles (2 minutes)
    again = T0 + timedelta(seconds=65)
    assert attempt("sai", again) == "bad"
    assert attempt("dung-mat-khau", again + timedelta(seconds=5)) == "wait 115"
    # and doubles again (4 minutes): an account under attack slows down…
    assert attempt("sai", again + timedelta(seconds=121)) == "bad"
    assert attempt("sai", again + timedelta(seconds=122)) == "wait 239"
    # …but never for good: after the lock the right password works and resets the count
    later = again + timedelta(seconds=121 + 241)
    assert attempt("dung-mat-khau", later) == "ok"
    assert attempt("sai", later + timedelta(seconds=1)) == "bad"
    assert attempt("dung-mat-khau", later + timedelta(seconds=2)) == "ok"


def test_unknown_user_counts_failures_too(engine) -> None:
    for i in range(MAX_FAILURES_PER_USER):
        with session_scope(engine) as session, pytest.raises(InvalidCredentials):
            authenticate(session, username="nobody", password="x", now=T0 + timedelta(seconds=i))
    with session_scope(engine) as session, pytest.raises(LoginThrottled):
        authenticate(session, username="nobody", password="x", now=T0 + timedelta(seconds=6))


def test_ensure_admin_is_idempotent(engine) -> None:
    with session_scope(engine) as session:
        first = ensure_admin(session, password="admin")
    with session_scope(engine) as session:
        second = ensure_admin(session, password="changed-but-ignored")
        principal = load_principal(session, second)
    assert first.id == second.id
    assert principal.roles == {Role.coordinator} and principal.is_global
