"""Accounts: the coordinator manages everyone; a unit office lists and adds its own staff."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, status

from actions.accounts import create_one
from api.deps import CurrentUser, DbId, SessionDep, SettingsDep
from api.errors import COMMON_RESPONSES, field_problem, forbidden, not_found
from api.routing import TransactionRoute
from models.tables import Role, User
from services.accounts import UserCreate, UserPublic, list_users, user_public
from services.sessions import SessionPublic, list_sessions, revoke_all, session_public
from services.units import get_unit_by_code

router = APIRouter(
    route_class=TransactionRoute, prefix="/api/users", tags=["users"], responses=COMMON_RESPONSES
)


@router.get("", response_model=list[UserPublic], summary="Danh sách tài khoản")
def get_users(principal: CurrentUser, session: SessionDep) -> list[UserPublic]:
    """Every account (coordinator), or the accounts of one's own units (unit office)."""
    scope = None if principal.has(Role.coordinator) else principal.units(Role.unit_office)
    return [user_public(session, u) for u in list_users(session, unit_ids=scope)]


@router.post(
    "",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Tạo tài khoản",
)
def post_user(
    user_in: UserCreate,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
) -> UserPublic:
    """Creates an account with its roles and no password. A unit office may only add staff of
    its own units.

    The account's e-mail (required) receives a one-time link to set its first password: nobody
    else ever chooses, types or sends it (a ``password`` field is refused like any unknown one).
    """
    if not principal.has(Role.coordinator):
        own = principal.units(Role.unit_office)
        for grant in user_in.roles:
            unit = get_unit_by_code(session, code=grant.unit_code) if grant.unit_code else None
            if grant.role is not Role.staff or unit is None or unit.id not in own:
                raise forbidden("Văn phòng đơn vị chỉ được tạo tài khoản cán bộ của đơn vị mình.")
        # A unit office names its staff inside its own unit's namespace, so "taken" can only
        # ever mean one of its own accounts: the names of other units and of the council
        # cannot be probed (issue 14).
        prefixes = {f"{g.unit_code}." for g in user_in.roles if g.unit_code}
        if not any(user_in.username.startswith(p) for p in prefixes):
            first = sorted(prefixes)[0] if prefixes else ""
            raise field_problem(
                422,
                "username",
                f"Tên đăng nhập do văn phòng đơn vị tạo phải bắt đầu bằng '{first}'.",
            )
    made = create_one(session=session, settings=settings, principal=principal, user_in=user_in)
    tasks.add_task(made.mail)
    return user_public(session, made.user)


@router.get("/{user_id}/sessions", response_model=list[SessionPublic], summary="Phiên đăng nhập")
def get_user_sessions(
    user_id: DbId, principal: CurrentUser, session: SessionDep, settings: SettingsDep
) -> list[SessionPublic]:
    """The live sessions of an account (coordinator)."""
    if session.get(User, user_id) is None:
        raise not_found("Không tìm thấy tài khoản.")
    rows = list_sessions(session, user_id, idle_minutes=settings.session_idle_minutes)
    return [session_public(r, current=principal.session_id) for r in rows]


@router.delete("/{user_id}/sessions", status_code=status.HTTP_200_OK, summary="Kết thúc mọi phiên")
def delete_user_sessions(
    user_id: DbId, principal: CurrentUser, session: SessionDep
) -> dict[str, int]:
    """Ends every session of an account at once (coordinator), e.g. a lost laptop."""
    if session.get(User, user_id) is None:
        raise not_found("Không tìm thấy tài khoản.")
    return {"ended": revoke_all(session, user_id, reason="coordinator", actor=principal.username)}
