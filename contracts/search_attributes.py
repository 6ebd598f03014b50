"""Search attributes of unit workflows, so operators can ask the Temporal UI and CLI questions.

`temporal workflow list --query "AppraisalCycle='2024-dinhhoa' AND AppraisalState='drafting'"`
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

YEAR = SearchAttributeKey.for_int("AppraisalYear")
CYCLE = SearchAttributeKey.for_keyword("AppraisalCycle")
UNIT = SearchAttributeKey.for_keyword("AppraisalUnit")
STATE = SearchAttributeKey.for_keyword("AppraisalState")

ALL = (YEAR, CYCLE, UNIT, STATE)


def cli_flags() -> list[str]:
    """`--search-attribute NAME=Type` flags for `temporal server start-dev`."""
    kinds = {YEAR: "Int", CYCLE: "Keyword", UNIT: "Keyword", STATE: "Keyword"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key]}"]
    return flags
