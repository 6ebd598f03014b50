"""A unit's sheet (phiếu chấm điểm), one module per job.

- ``framework``: a cycle's framework, parsed once per process (refusals: ``core.errors``);
- ``gate``: the edit gate (state, lock instant, assignment or agency, explanation round);
- ``entries``: drafts, appraisals and explanation answers behind the gate;
- ``assignments``: who enters which criterion; ``progress``: what is finished and by whom;
- ``scores``: leaf results and sheet totals; ``loader``: the one reader of a whole sheet;
- ``snapshot``: the sheet frozen as canonical JSON and its hash.

The names below are re-exported so callers keep importing ``services.sheet``.
"""

from __future__ import annotations

from services.sheet.assignments import expand_assignments, replace_assignments
from services.sheet.entries import DraftResult, answer_explanation, save_appraisal, save_draft
from services.sheet.framework import framework_for
from services.sheet.gate import Editor, check_council_codes, check_draft_gate, lock_unit
from services.sheet.loader import LoadedRound, LoadedSheet, load_sheet
from services.sheet.progress import Progress, StaffProgress, progress, sheet_progress
from services.sheet.scores import leaf_results, score_both, score_entries
from services.sheet.snapshot import build_snapshot, canonical_hash, snapshot_content

__all__ = [
    "DraftResult",
    "Editor",
    "LoadedRound",
    "LoadedSheet",
    "Progress",
    "StaffProgress",
    "answer_explanation",
    "build_snapshot",
    "canonical_hash",
    "check_council_codes",
    "check_draft_gate",
    "expand_assignments",
    "framework_for",
    "leaf_results",
    "load_sheet",
    "lock_unit",
    "progress",
    "replace_assignments",
    "save_appraisal",
    "save_draft",
    "score_both",
    "score_entries",
    "sheet_progress",
    "snapshot_content",
]
