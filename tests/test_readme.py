"""The README keeps its promises: two set-up commands, and a walkthrough that is the script."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make dev" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^dev: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci and "TEST_DATABASE_URL" in ci


def test_readme_walkthrough_is_the_script() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("### From `make dev` to a published result with curl", 1)[1]
    shown = block.split("```sh\n", 1)[1].split("```\n", 1)[0]
    script = (ROOT / "docs" / "api-walkthrough.sh").read_text(encoding="utf-8")
    assert script.endswith(shown)
