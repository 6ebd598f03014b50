"""The Temporal boundary (issue 8, item 4): what the workflow sandbox may load, the contract
package's own imports, and the activity interfaces the workflows call by method reference.

Import lines are read with ``ast`` (a guard on the source, whatever is imported at run time),
and a fresh interpreter proves that loading the workflow definitions pulls in no database code.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio import activity

from activities.cycle import CycleActivities
from activities.mail import MailActivities
from activities.unit import UnitActivities
from contracts.activities import (
    CycleActivitiesInterface,
    MailActivitiesInterface,
    UnitActivitiesInterface,
)
from workflows.worker import PASSTHROUGH, WORKFLOWS

ROOT = Path(__file__).resolve().parents[2]
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}

# Modules of ours the workflow sandbox may load (plus any module under workflows/ it loads).
SANDBOX_OURS = ("contracts", "models.states", "models.labels", "workflows")
# Outside the sandbox: the worker (registers the activities) and the client façade.
NOT_SANDBOXED = {"worker.py", "commands.py"}
FORBIDDEN = (
    "services",
    "activities",
    "scoring",
    "frameworks",
    "notifications",
    "sqlmodel",
    "sqlalchemy",
    "core",
    "actions",
    "api",
    "web",
    "cli",
    "models.tables",
)


def _imports(path: Path) -> set[str]:
    """Every absolute module a file imports (``from a.b import c`` counts ``a.b`` and ``a.b.c``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            assert node.module is not None
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _is_module(name: str) -> bool:
    """Whether an imported dotted name is a module (``from x import y`` may name a function)."""
    parts = name.split(".")
    return (ROOT.joinpath(*parts).with_suffix(".py")).exists() or ROOT.joinpath(*parts).is_dir()


def _sandboxed_files() -> list[Path]:
    return sorted(p for p in (ROOT / "workflows").glob("*.py") if p.name not in NOT_SANDBOXED)


@pytest.mark.parametrize("path", _sandboxed_files(), ids=lambda p: p.name)
def test_sandboxed_workflow_modules_import_only_the_contract_states_and_each_other(
    path: Path,
) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        if top in STDLIB or top == "temporalio":
            continue
        assert not any(_under(name, f) for f in FORBIDDEN), f"{path.name} imports {name}"
        if not _is_module(name):
            continue  # a name imported from a module checked on its own line
        assert any(_under(name, ok) for ok in SANDBOX_OURS), f"{path.name} imports {name}"
        if _under(name, "workflows"):
            assert name.split(".")[-1] + ".py" not in NOT_SANDBOXED, f"{path.name}: {name}"


def test_the_sandbox_passes_through_only_what_workflows_need() -> None:
    for entry in PASSTHROUGH:
        # Passing a package through passes every module under it: not ``models`` (the tables).
        for forbidden in (*FORBIDDEN, "models", "workflows"):
            assert not _under(forbidden, entry), f"{entry} passes {forbidden} through"
        for forbidden in FORBIDDEN:
            assert not _under(entry, forbidden), f"{entry} is under {forbidden}"
    assert set(PASSTHROUGH) == {
        "contracts",
        "models.states",
        "models.labels",
        "pydantic",
        "pydantic_core",
    }


@pytest.mark.parametrize(
    "path",
    [*sorted((ROOT / "contracts").glob("*.py")), ROOT / "models" / "states.py"],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_the_contract_imports_only_pydantic_temporalio_and_the_state_module(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        if top in STDLIB or top in {"pydantic", "temporalio"}:
            continue
        assert _under(name, "contracts") or _under(name, "models.states"), (
            f"{path.name} imports {name}"
        )


def test_the_labels_and_the_models_package_are_pure() -> None:
    for name in _imports(ROOT / "models" / "labels.py"):
        assert name.split(".")[0] in STDLIB or _under(name, "models.states"), name
    # The sandbox imports ``models`` (the parent of ``models.states``) afresh: it must be empty.
    assert _imports(ROOT / "models" / "__init__.py") == set()


def test_loading_the_workflows_loads_no_database_code() -> None:
    # A fresh interpreter: this test session has long imported everything.
    code = (
        "import sys, json; import workflows.unit, workflows.cycle, workflows.states, "
        "workflows.timeline; print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if any(_under(m, f) for f in FORBIDDEN)]
    assert bad == []
    assert "contracts.messages" in loaded
    assert "models.states" in loaded


# --- activities by method reference ----------------------------------------------------------

PAIRS = [
    (UnitActivitiesInterface, UnitActivities),
    (CycleActivitiesInterface, CycleActivities),
    (MailActivitiesInterface, MailActivities),
]


def _activity_methods(cls: type) -> dict[str, activity._Definition]:
    out = {}
    for attr, value in vars(cls).items():
        defn = activity._Definition.from_callable(value) if callable(value) else None
        if defn is not None:
            out[attr] = defn
    return out


def _recorded_activity_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests" / "histories").glob("*.json"):
        for event in json.loads(path.read_text(encoding="utf-8"))["events"]:
            attrs = event.get("activityTaskScheduledEventAttributes")
            if attrs:
                names.add(attrs["activityType"]["name"])
    return names


@pytest.mark.parametrize(("interface", "impl"), PAIRS, ids=lambda c: c.__name__)
def test_implementations_register_under_the_interfaces_names(interface: type, impl: type) -> None:
    declared = _activity_methods(interface)
    implemented = _activity_methods(impl)
    assert declared, interface
    assert issubclass(impl, interface)
    assert {a: d.name for a, d in implemented.items()} == {a: d.name for a, d in declared.items()}
    for attr in declared:
        # Same argument and result types: the workflow decodes results by the interface's hints.
        assert inspect.signature(getattr(impl, attr)) == inspect.signature(
            getattr(interface, attr)
        ), attr


def test_every_recorded_activity_name_is_declared_and_registered() -> None:
    declared = {d.name for iface, _ in PAIRS for d in _activity_methods(iface).values()}
    recorded = _recorded_activity_names()
    assert recorded == declared
    assert declared == {
        "unit.transition",
        "cycle.start_units",
        "cycle.fan_out",
        "cycle.step",
        "mail.notify",
    }


@pytest.mark.parametrize("wf", WORKFLOWS, ids=lambda c: c.__name__)
def test_workflows_call_activities_by_method_reference_only(wf: type) -> None:
    tree = ast.parse(inspect.getsource(sys.modules[wf.__module__]))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr.startswith(("execute_activity", "execute_local_activity"))
    ]
    assert calls, wf
    for call in calls:
        assert isinstance(call.func, ast.Attribute)
        assert call.func.attr in (
            "execute_activity_method",
            "execute_local_activity_method",
        ), ast.unparse(call)
        first = call.args[0]
        assert isinstance(first, ast.Attribute), ast.unparse(call)
        assert isinstance(first.value, ast.Name) and first.value.id.endswith("Interface")
        assert all(k.arg != "result_type" for k in call.keywords), ast.unparse(call)
