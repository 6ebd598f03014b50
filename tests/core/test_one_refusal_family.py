"""One refusal family (issue 8, item 2): every exception class of the project is a
``core.errors.Refusal`` (or a subclass of one), except a short list of classes that are no
refusal of a request, each justified below."""

from __future__ import annotations

import ast
from pathlib import Path

import core.errors

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "migrations", "node_modules", "__pycache__", "build", "dist"}

# The one family: the classes core/errors.py defines.
FAMILY = set(core.errors.__all__)

# (file, class) → why it is not a Refusal. Anything else deriving from an exception fails.
ALLOWED: dict[tuple[str, str], str] = {
    # Parser errors with a line number, read by services.frameworks, which turns them into an
    # ``Invalid`` refusal; another helper owns frameworks/ and scoring/ while this lands.
    ("frameworks/annex_table.py", "AnnexError"): "importer error → Invalid in services.frameworks",
    ("frameworks/yaml_io.py", "FrameworkYamlError"): "importer error → Invalid",
    ("frameworks/annex.py", "_RowError"): "one unreadable row (an AnnexError): reported, skipped",
    ("scoring/input_checks.py", "RuleInputError"): "a rule's input error, shown by the criterion",
    # Accounts and sign-in (owned by another helper at the time): the API answers them with
    # 401/429 and the login page shows them; they are converted with that work.
    ("services/accounts.py", "AccountError"): "accounts: converted with the accounts work",
    ("services/accounts.py", "InvalidCredentials"): "sign-in: a 401, never a refusal shape",
    ("services/accounts.py", "LoginThrottled"): "sign-in: a 429 with Retry-After",
    (
        "services/throttle.py",
        "Refused",
    ): "a throttled key; services.accounts makes it LoginThrottled",
    ("services/accounts.py", "InvalidToken"): "a bad or expired token: a 401",
    ("web/auth.py", "LoginRequired"): "control flow: redirect to the sign-in page",
    ("web/auth.py", "PageRefused"): "pages: converted with the auth work",
    # The API's own problem document (access rules, body limits), not a service's refusal.
    ("api/errors.py", "Problem"): "the HTTP layer's problem+json, raised by routes only",
    # A developer's stack failing to start (docker, ports): a process error, not a request's.
    ("cli/dev.py", "StackError"): "process error of `make dev`",
    ("cli/backup.py", "BackupError"): "an operator's backup or restore that cannot run safely",
    # Never raised: the outcome in SmtpMailer.send_many's list of a message the caller's
    # ``before`` hook declined (the outbox row is being sent by another attempt).
    ("notifications/mailer.py", "Skipped"): "an outcome marker of send_many, never raised",
}

EXCEPTION_BASES = {"Exception", "BaseException", "ValueError", "RuntimeError", "LookupError"}


def _modules() -> list[Path]:
    """Every module of the repository but the tests, the migrations and tool directories."""
    tops = [d for d in ROOT.iterdir() if d.is_dir() and not d.name.startswith(".")]
    paths = [p for d in tops if d.name not in SKIP_DIRS | {"tests"} for p in d.rglob("*.py")]
    paths += list(ROOT.glob("*.py"))
    return sorted(p for p in paths if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts))


def _base_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.add(base.id)
        elif isinstance(base, ast.Attribute):
            names.add(base.attr)
    return names


def _exception_classes() -> dict[tuple[str, str], set[str]]:
    """Every class of the project whose bases name an exception: (file, class) → base names."""
    classes: dict[tuple[str, str], set[str]] = {}
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes[(path.relative_to(ROOT).as_posix(), node.name)] = _base_names(node)
    # Close over the project's own classes: a subclass of an exception class is one too.
    exceptions = set(EXCEPTION_BASES) | FAMILY
    changed = True
    while changed:
        changed = False
        for (_f, name), bases in classes.items():
            if name not in exceptions and bases & exceptions:
                exceptions.add(name)
                changed = True
    return {key: bases for key, bases in classes.items() if key[1] in exceptions}


def _refusals() -> set[str]:
    """Names of the project's classes that are (transitively) a core.errors class."""
    classes = _exception_classes()
    family = set(FAMILY)
    changed = True
    while changed:
        changed = False
        for (_f, name), bases in classes.items():
            if name not in family and bases & family:
                family.add(name)
                changed = True
    return family


def test_the_walk_sees_the_project() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in _modules()}
    assert {"core/errors.py", "services/cycles.py", "web/errors.py", "cli/dev.py"} <= files
    classes = _exception_classes()
    assert ("services/evidence.py", "EvidenceTooLarge") in classes
    assert ("cli/dev.py", "StackError") in classes


def test_every_exception_class_is_a_refusal_or_justified() -> None:
    family = _refusals()
    strays = sorted(
        f"{file}:{name}"
        for (file, name) in _exception_classes()
        if file != "core/errors.py" and name not in family and (file, name) not in ALLOWED
    )
    assert not strays, f"raise a core.errors class (or subclass one) instead: {strays}"


def test_the_allowed_list_names_only_what_exists() -> None:
    classes = _exception_classes()
    family = _refusals()
    for key in ALLOWED:
        assert key in classes, f"{key} no longer exists: drop it from ALLOWED"
        assert key[1] not in family, f"{key} is a Refusal now: drop it from ALLOWED"


def test_the_old_refusal_classes_are_gone() -> None:
    names = {name for (_f, name) in _exception_classes()}
    old = {
        "EditRefused",
        "SheetNotFound",
        "InvalidInput",
        "CycleError",
        "TransitionRefused",
        "UnitError",
        "EvidenceError",
        "FrameworkError",
        "CommandRefused",
        "SheetError",
    }
    assert not names & old, names & old
    assert not (ROOT / "actions" / "refusals.py").exists()
