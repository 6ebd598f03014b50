"""The layer rules of docs/architecture.md, checked on every import statement of the repository.

Each top-level package may import only the packages listed for it; a few modules that assemble
processes (the worker, the client façade, the app) have their own, wider, rows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = frozenset(
    {
        "core",
        "models",
        "contracts",
        "scoring",
        "frameworks",
        "notifications",
        "services",
        "reports",
        "activities",
        "workflows",
        "actions",
        "api",
        "web",
        "cli",
    }
)

_BELOW_SERVICES = frozenset({"core", "models", "contracts", "scoring", "frameworks"})
MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "models": frozenset({"core"}),
    "contracts": frozenset({"models"}),
    "scoring": frozenset({"core", "models"}),
    "frameworks": frozenset({"core", "models", "scoring"}),
    "notifications": frozenset({"core"}),
    # notifications: the password-link mails, sent at once by the API (no workflow involved).
    "services": _BELOW_SERVICES | {"notifications"},
    "reports": _BELOW_SERVICES | {"services"},
    "activities": _BELOW_SERVICES | {"services", "notifications"},
    # The workflow definitions: contracts and the pure state module only (the sandbox loads them).
    "workflows": frozenset({"contracts", "models"}),
    "actions": _BELOW_SERVICES | {"services", "reports", "workflows"},
    "api": _BELOW_SERVICES | {"services", "reports", "actions", "workflows"},
    "web": _BELOW_SERVICES | {"services", "reports", "actions", "api"},
    "cli": OURS - {"cli", "web"},
}
# Modules that assemble a process and so reach wider than their package.
ASSEMBLERS: dict[str, frozenset[str]] = {
    "workflows/worker.py": _BELOW_SERVICES | {"services", "activities", "notifications"},
    "workflows/commands.py": _BELOW_SERVICES | {"services"},
    "api/app.py": _BELOW_SERVICES | {"services", "actions", "workflows", "web"},
}
# Submodules that a layer may not use even though it may use their package.
FORBIDDEN_SUBMODULES: dict[str, tuple[str, ...]] = {
    "web": ("api.routes",),
    "actions": ("workflows.unit", "workflows.cycle", "workflows.worker"),
    "api": ("workflows.unit", "workflows.cycle", "workflows.worker"),
    "workflows": ("models.tables", "models.framework", "models.inputs"),
}


def _sources() -> list[Path]:
    return sorted(p for pkg in OURS for p in (ROOT / pkg).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _violations(path: Path, rel: str = "") -> list[str]:
    rel = rel or path.relative_to(ROOT).as_posix()
    package = rel.split("/", 1)[0]
    allowed = ASSEMBLERS.get(rel, MAY_IMPORT[package]) | {package}
    bad: list[str] = []
    for line, name in _imports(path):
        top = name.split(".", 1)[0]
        if top in OURS and top not in allowed:
            bad.append(f"{rel}:{line} imports {name} ({package} may not use {top})")
        if rel not in ASSEMBLERS:
            for sub in FORBIDDEN_SUBMODULES.get(package, ()):
                if name == sub or name.startswith(sub + "."):
                    bad.append(f"{rel}:{line} imports {name} ({package} may not use {sub})")
    return bad


@pytest.mark.parametrize("package", sorted(OURS))
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    bad = [v for p in _sources() if p.relative_to(ROOT).parts[0] == package for v in _violations(p)]
    assert bad == []


def test_a_wrong_import_is_caught(tmp_path: Path) -> None:
    """The check itself works: a service importing an activity is named with its line."""
    fake = tmp_path / "probe.py"
    fake.write_text("from activities.unit import UnitActivities\n", encoding="utf-8")
    assert _violations(fake, "services/probe.py") == [
        "services/probe.py:1 imports activities.unit (services may not use activities)",
        "services/probe.py:1 imports activities.unit.UnitActivities "
        "(services may not use activities)",
    ]
