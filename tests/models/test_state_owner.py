"""One owner for the state machine (issue 8, item 1): every module that used to keep a copy of a
state set uses ``models.states``'s very objects, and the unit workflow refuses a command exactly
when ``models.states.allowed()`` says no.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
from collections.abc import Mapping
from datetime import timedelta
from types import ModuleType

import pytest
from temporalio import workflow
from temporalio.exceptions import ApplicationError

import models.labels as labels
import models.states as owner
from models.states import ALLOWED, UnitCommand, UnitState, allowed
from tests.histories.scenario import local
from workflows import unit as unit_module
from workflows.states import check_command
from workflows.unit import UnitWorkflow

# The modules that kept a copy of (part of) the state machine before issue 8.
FORMER_COPIES = [
    "workflows.states",
    "web.unit_page",
    "services.cycles",
    "services.sheet.gate",
    "services.notices.cycle_wide",
]
STATE_TYPES = (UnitState, owner.CycleState, UnitCommand)


def _owner_objects() -> dict[int, str]:
    """Every object of the owner a module may hold: the named sets and the table's rows."""
    out = {id(getattr(owner, name)): name for name in owner.__all__}
    for table in ("ALLOWED", "LOCK_BOUND_IN", "AFTER_LOCK"):
        for key, value in getattr(owner, table).items():
            out.setdefault(id(value), f"{table}[{key}]")
    return out


def _states(value: object) -> bool:
    if not isinstance(value, (set, frozenset, tuple, list)) or not value:
        return False
    return all(isinstance(item, STATE_TYPES) for item in value)


def _state_collection(value: object) -> bool:
    """A set of states or commands, or a table whose rows are such sets (not a label dict)."""
    if isinstance(value, dict):
        return bool(value) and all(_states(row) for row in value.values())
    return _states(value)


@pytest.mark.parametrize("name", FORMER_COPIES)
def test_former_copies_use_the_owners_objects(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    objects = _owner_objects()
    used = []
    for attr in owner.__all__:
        if hasattr(module, attr):
            assert getattr(module, attr) is getattr(owner, attr), f"{name}.{attr} is a copy"
            used.append(attr)
    for attr, value in vars(module).items():
        if _state_collection(value):
            # Any set (or table) of states or commands the module holds is one of the owner's.
            assert id(value) in objects, f"{name}.{attr} is a copy of a state set"
            used.append(attr)
    for attr, value in vars(labels).items():
        if attr.isupper() and hasattr(module, attr):
            # The words of the states are owned once too (models.labels).
            assert getattr(module, attr) is value, f"{name}.{attr} is a copy of a label table"
    assert used, f"{name} no longer uses the state module: drop it from this list"


# --- the unit workflow agrees with allowed() ------------------------------------------------

LOCK = local(2024, 11, 25, 17, 0)
INSTANTS = {
    "a day before the lock": LOCK - timedelta(days=1),
    "a second before the lock": LOCK - timedelta(seconds=1),
    "at the lock": LOCK,
    "a day after the lock": LOCK + timedelta(days=1),
}


@pytest.mark.parametrize("when", list(INSTANTS))
def test_the_workflows_check_refuses_exactly_what_allowed_refuses(when: str) -> None:
    now = INSTANTS[when]
    for command, state in itertools.product(UnitCommand, UnitState):
        ok = allowed(command, state, now, LOCK)
        try:
            # The workflow passes the recorded update name (a plain str).
            check_command(command.value, state, now, LOCK)
        except ApplicationError as refusal:
            assert not ok, (command, state, when)
            assert refusal.non_retryable
            assert refusal.type in {"invalid_state", "locked", "units_pending", "reopen_required"}
            vi, en = refusal.details
            assert vi and en
        else:
            assert ok, (command, state, when)


def test_the_table_covers_every_command_and_the_lock_rules_are_commands_of_it() -> None:
    assert set(ALLOWED) == set(UnitCommand)
    assert set(ALLOWED) >= owner.LOCK_BOUND
    for table in (owner.LOCK_BOUND_IN, owner.AFTER_LOCK):
        for command, states in table.items():
            assert states <= ALLOWED[command], command


def _update_definitions() -> Mapping[str | None, workflow._UpdateDefinition]:
    return workflow._Definition.must_from_class(UnitWorkflow).updates


def _calls_by_method() -> dict[str, set[str]]:
    """For each method of UnitWorkflow, the names it calls (``self.x(...)`` and ``f(...)``)."""
    tree = ast.parse(inspect.getsource(UnitWorkflow))
    cls = tree.body[0]
    assert isinstance(cls, ast.ClassDef)
    out: dict[str, set[str]] = {}
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names: set[str] = set()
            for call in ast.walk(node):
                if isinstance(call, ast.Call):
                    func = call.func
                    if isinstance(func, ast.Name):
                        names.add(func.id)
                    elif isinstance(func, ast.Attribute):
                        names.add(func.attr)
            out[node.name] = names
    return out


def _reaches(start: str, target: str, calls: dict[str, set[str]]) -> bool:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name == target:
            return True
        if name in seen:
            continue
        seen.add(name)
        todo.extend(calls.get(name, ()))
    return False


def test_every_unit_update_is_a_command_of_the_state_module() -> None:
    assert set(_update_definitions()) == {c.value for c in UnitCommand}


@pytest.mark.parametrize("command", [c.value for c in UnitCommand])
def test_every_validator_and_handler_asks_check_command(command: str) -> None:
    defn = _update_definitions()[command]
    assert defn.validator is not None, f"{command} has no validator"
    calls = _calls_by_method()
    assert _reaches(defn.validator.__name__, "check_command", calls), command
    assert _reaches(defn.fn.__name__, "check_command", calls), command
    # The module holds no table of its own to ask instead.
    assert not hasattr(unit_module, "ALLOWED")
    assert not hasattr(unit_module, "LOCK_BOUND")
