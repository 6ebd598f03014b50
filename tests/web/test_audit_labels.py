"""Every action the code writes to the audit trail reads in Vietnamese on the audit page.

The actions are found in the code itself (every ``audit.record(action=…)`` and the helpers that
pass one on), so a new action without words fails here; an action computed from a variable must
be listed below with where its values come from.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from actions.audit import ENTITY_VI, action_vi
from contracts.messages import CycleCommand, UnitCommand
from models.states import CycleState, UnitState

ROOT = Path(__file__).resolve().parents[2]
WRITERS = ("services", "actions", "cli", "api", "web", "activities", "workflows", "reports")


def _calls() -> Iterator[tuple[str, ast.Call]]:
    for package in WRITERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    yield path.relative_to(ROOT).as_posix(), node


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _constants(node: ast.expr | None) -> set[str]:
    """The strings an argument can be: a constant, or either branch of ``a if … else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _constants(node.body) | _constants(node.orelse)
    return set()


def _purposes() -> set[str]:
    """Every purpose of a password link (``purpose="…"`` passed or assigned)."""
    found = {p for _, call in _calls() for p in _constants(_kw(call, "purpose"))}
    for package in WRITERS:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "purpose" for t in node.targets
                ):
                    found |= _constants(node.value)
    return found


def _reasons(*functions: str) -> set[str]:
    return {
        r
        for _, call in _calls()
        if _name(call) in functions
        for r in _constants(_kw(call, "reason"))
    }


def _command_kinds() -> set[str]:
    union = [*UnitCommand.__origin__.__args__, *CycleCommand.__origin__.__args__]  # type: ignore[attr-defined]
    return {str(cls.model_fields["kind"].default) for cls in union}


def _written() -> tuple[set[str], set[tuple[str, str]]]:
    """(the constant actions, the (file, expression) of each computed one)."""
    constants: set[str] = set()
    computed: set[tuple[str, str]] = set()
    for path, call in _calls():
        name = _name(call)
        # services.audit.record, and the helper of services/sheet/entries.py that passes one on
        audited = name == "record" and _kw(call, "entity") is not None
        if audited or name == "_stamp_and_audit":
            action = _kw(call, "action")
        elif name == "_audit" and path == "services/throttle.py" and len(call.args) > 1:
            action = call.args[1]
        else:
            continue
        assert action is not None, (path, ast.unparse(call))
        values = _constants(action)
        if values:
            constants |= values
        else:
            computed.add((path, ast.unparse(action)))
    return constants, computed


def _computed_values() -> dict[tuple[str, str], set[str]]:
    purposes = _purposes()
    password_reasons = _reasons("set_password")
    return {
        # set_password(reason=…) audits the reason itself
        ("services/passwords.py", "reason"): password_reasons,
        ("services/passwords.py", "f'{purpose}_link'"): {f"{p}_link" for p in purposes},
        ("cli/accounts.py", "f'{purpose}_link_printed'"): {f"{p}_link_printed" for p in purposes},
        ("services/sessions.py", "f'revoke:{reason}'[:64]"): {
            f"revoke:{r}" for r in _reasons("revoke_session")
        },
        # set_password ends the other sessions with its own reason
        ("services/sessions.py", "f'revoke_all:{reason}'[:64]"): {
            f"revoke_all:{r}" for r in _reasons("revoke_all") | password_reasons
        },
        # a command's kind, or the state a transition without a command moves to
        ("services/transitions/registry.py", "str(action)"): _command_kinds()
        | {s.value for s in UnitState}
        | {"state"},
        ("services/cycles.py", "f'state:{state.value}'"): {f"state:{s.value}" for s in CycleState},
        # the constants passed to the helpers are collected with the others
        ("services/sheet/entries.py", "action"): set(),
        ("services/throttle.py", "action"): set(),
    }


def test_every_written_action_has_vietnamese_words() -> None:
    constants, computed = _written()
    table = _computed_values()
    assert computed == set(table), "list a computed audit action here: " + str(
        computed ^ set(table)
    )
    actions = constants | {a for values in table.values() for a in values}
    # the account actions of issue 14 are among them (the scan finds what it should)
    assert {
        "welcome_link",
        "welcome_link_printed",
        "reset_link",
        "operator_reset_link",
        "reset_password",
        "password_link",
        "change_password",
        "revoke:logout",
        "revoke_all:logout_all",
        "login_locked",
        "login_throttled",
    } <= actions
    unlabelled = sorted(a for a in actions if action_vi(a) == a)
    assert not unlabelled, unlabelled


def test_every_entity_of_the_trail_has_vietnamese_words() -> None:
    entities = {
        e
        for _, call in _calls()
        if _name(call) == "record"
        for e in _constants(_kw(call, "entity"))
    }
    assert {"user", "session", "login"} <= entities
    assert sorted(entities - set(ENTITY_VI)) == []


def test_the_words_read_like_the_page() -> None:
    assert action_vi("welcome_link_printed").startswith("in liên kết")
    assert action_vi("revoke_all:password_link") == (
        "kết thúc mọi phiên đăng nhập (đặt mật khẩu qua liên kết)"
    )
    assert action_vi("not_submitted") == "đơn vị chuyển sang “Không gửi kết quả (đã khóa)”"
