"""Re-running some load rows (``python -m bench.run --only-load --update-rows``): the rows of
BENCHMARKS.md's load table that the run measured again are replaced in place (same measurement,
database and client count), with their notes; a line under the table says which, when and how.
The rest of the file (the full run's rows, machine and command) is left as it was."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from bench.load import LoadRow, load_table

__all__ = ["rerun_note", "update_load_rows"]

LOAD_HEADING = "## Load: the deadline rush over HTTP"
RERUN_MARK = "- re-run alone:"


def _key(cells: Sequence[str]) -> tuple[str, str, str]:
    # A transition row's name carries its figures in parentheses: the key is the name before.
    return (re.sub(r"\s*\([^()]*\)$", "", cells[0].strip()), cells[1].strip(), cells[2].strip())


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _group(row: LoadRow) -> str:
    return f"{row.database} {row.clients}"


def rerun_note(rows: Sequence[LoadRow], how: str) -> str:
    """The re-run line's text: which rows ("the rows above for sqlite 10, sqlite 50"), then
    ``how`` (when, the command, the checks)."""
    return f"the rows above for {', '.join(sorted({_group(r) for r in rows}))} {how}"


def _rerun_rows(line: str) -> set[str]:
    """The "database clients" a re-run line names (``rerun_note``); "?" when it names them
    otherwise, so that it is kept."""
    named = re.search(r"the rows above for (.+?) on ", line)
    return set(named.group(1).split(", ")) if named else {"?"}


def update_load_rows(path: Path, rows: Sequence[LoadRow], note: str) -> list[str]:
    """Replaces the matching rows (and their notes) of ``path``'s load table; appends the rows
    the table did not have; drops an earlier re-run line whose rows were all measured again.
    Returns the keys replaced or added, as text."""
    text = path.read_text(encoding="utf-8")
    if LOAD_HEADING not in text:
        raise ValueError(f"{path} has no load table ({LOAD_HEADING!r})")
    head, _, tail = text.partition(LOAD_HEADING)
    section, sep, rest = tail.partition("\n## ")
    lines = section.split("\n")
    new_lines = load_table(rows).split("\n")[2:]
    fresh = {_key(_cells(line)): line for line in new_lines}
    notes = {
        _key((r.measurement, r.database, str(r.clients))): (
            f"- {r.measurement}, {r.database}, {r.clients}: {r.detail}"
        )
        for r in rows
    }
    measured = {_group(r) for r in rows}
    done: list[str] = []
    out: list[str] = []
    last_row = 0
    for line in lines:
        if line.startswith("| ") and not line.startswith("| measurement"):
            key = _key(_cells(line))
            if key in fresh:
                line = fresh.pop(key)
                done.append(" / ".join(key))
            out.append(line)
            last_row = len(out)
            continue
        if line.startswith(RERUN_MARK) and _rerun_rows(line) <= measured:
            continue  # an earlier re-run of rows all measured again now: superseded
        if line.startswith("- ") and not line.startswith(RERUN_MARK):
            for key in list(notes):
                name, database, clients = key
                if line.startswith(f"- {name}") and f", {database}, {clients}: " in line:
                    line = notes.pop(key)
                    break
        out.append(line)
    for key, line in fresh.items():  # rows the table did not have yet
        out.insert(last_row, line)
        last_row += 1
        done.append(" / ".join(key))
    # The notes of new rows, then the re-run line, go after the notes (the section's last "- ").
    at = max((i for i, line in enumerate(out) if line.startswith("- ")), default=last_row) + 1
    out[at:at] = [*notes.values(), f"{RERUN_MARK} {note}"]
    path.write_text(head + LOAD_HEADING + "\n".join(out) + sep + rest, encoding="utf-8")
    return done
