"""Import of the official annex tables (phụ lục khung tiêu chí) into a framework node tree.

Three physical layouts are read:
- tab-separated text as exported from Word or Excel (one table row per line), and CSV;
- the "one table cell per line" text of web pages copied from a table (the Quảng Điền seed):
  cells separated by blank lines, an empty cell written as a line of spaces;
- XLSX (openpyxl, read-only).

Columns are found from the header row by their Vietnamese names, matched without case or
diacritics. Codes give the tree (I → 1.1 → 1.1.1; dotted codes nest by prefix). A row without a
code is a total row, a section heading ("NỘI DUNG I. …"), a level/option line of the criterion
above (its points in the max column, or "= 1 điểm" in its text) or a continuation of the
criterion's cells. Whatever cannot be placed is reported with its line; malformed input raises
``AnnexError`` and nothing partial is returned.

By concern: ``frameworks.annex_text`` (cell text: HTML, folding, numbers, agency names),
``frameworks.annex_table`` (header, columns, codes, the three layouts read into rows), this
module (rows into the tree, levels and rules, the result). Its public names are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from pydantic import ValidationError

from core.vn import vn_decimal
from frameworks.annex_table import (
    AGENCY,
    APPRAISED,
    BULLET,
    CODE,
    COMMENT,
    DOTTED,
    EVIDENCE,
    EXPLANATION,
    LETTER,
    MAX,
    MAX_BYTES,
    METHOD,
    NO_HEADER,
    ROLE_LABELS,
    SECTION,
    SELF,
    TITLE,
    AnnexError,
    AnnexFormat,
    AnnexWarning,
    Row,
    Table,
    annex_error,
    cells_table,
    check_size,
    clean_code,
    decode_text,
    grid_table,
    is_code_like,
    is_total,
    roman_value,
    skip_warning,
    text_records,
    xlsx_table,
)
from frameworks.annex_text import (
    fold,
    html_to_text,
    is_agency_name,
    norm_decimal,
    one_line,
    parse_number,
    preview,
)
from frameworks.rule_infer import infer_rule, options_in_text
from models.framework import (
    Framework,
    Node,
    NodeKind,
    NodeRole,
    Rule,
    UnitKind,
)

__all__ = [
    "MAX_BYTES",
    "AnnexError",
    "AnnexFormat",
    "AnnexImport",
    "AnnexWarning",
    "ImportedNode",
    "SkippedRow",
    "StatedTotal",
    "check_size",
    "decode_text",
    "fold",
    "html_to_text",
    "import_annex",
    "import_annex_text",
    "is_agency_name",
]


class _RowError(AnnexError):
    """One row cannot be read: it is left out and reported, the rest of the table is read."""

    def __init__(
        self,
        vi: str,
        en: str,
        line: int,
        *,
        column: str = "",
        expected: str = "",
        found: str = "",
        guess: str = "",
    ) -> None:
        super().__init__(f"{vi} / {en}", line)
        self.vi = vi
        self.column = column
        self.expected = expected
        self.found = found
        self.guess = guess


@dataclass(frozen=True)
class SkippedRow:
    """A row left out of the tree: where, what was expected, what was found, the best guess."""

    line: int
    column: str
    expected: str
    found: str
    guess: str
    message: str


@dataclass(frozen=True)
class StatedTotal:
    """The total row as written ("CỘNG TỔNG", "TỔNG ĐIỂM")."""

    line: int
    label: str
    max_points: Decimal | None
    self_score: Decimal | None
    appraised_score: Decimal | None


@dataclass(frozen=True)
class ImportedNode:
    """What the document states about one node, beside the framework ``Node`` built from it."""

    code: str  # the node's code in the tree (qualified when numbering restarts per area)
    written_code: str  # as written in the document
    line: int
    title: str
    parent_code: str | None
    stated_max: Decimal | None
    stated_self: Decimal | None
    self_note: str  # text in the self-score column, e.g. "XHH" (survey)
    stated_appraised: Decimal | None
    appraised_note: str
    explanation: str
    comment: str
    rule_kind: str  # levels | checklist | deduction | survey | manual; "" for a parent
    rule_note: str  # one Vietnamese sentence: why this rule
    rule_source: str = ""  # the text the rule was read from (options, guidance)


@dataclass(frozen=True)
class AnnexImport:
    """An imported annex: the Framework-ready tree and what the document stated."""

    nodes: tuple[Node, ...]
    entries: tuple[ImportedNode, ...]  # one per node, document order
    total: StatedTotal | None
    warnings: tuple[AnnexWarning, ...]
    notes: tuple[AnnexWarning, ...]  # informational: rules recognised, codes qualified…
    layout: Literal["tsv", "csv", "xlsx", "cells"]
    header_line: int
    columns: dict[str, str]  # role → header text as written
    skipped: tuple[SkippedRow, ...] = ()  # rows left out of the tree, each reported
    rows_placed: int = 0  # rows read into the tree (nodes, levels, continuations, totals)
    rows_guessed: int = 0  # of those, rows placed on an assumption the notes state

    @property
    def stated_total(self) -> Decimal | None:
        """The max written on the total row, if there is one."""
        return self.total.max_points if self.total else None

    def entry(self, code: str) -> ImportedNode:
        """The stated values of the node with this code; KeyError if there is none."""
        for e in self.entries:
            if e.code == code:
                return e
        raise KeyError(code)

    def framework(
        self,
        *,
        name: str,
        year: int,
        issuer: str = "",
        unit_kind: UnitKind = UnitKind.commune,
    ) -> Framework:
        """A draft framework made of the imported tree."""
        return Framework(name=name, year=year, issuer=issuer, unit_kind=unit_kind, nodes=self.nodes)


# --- codes -----------------------------------------------------------------------------------

_NOT_A_LEVEL = re.compile(r"(?:^|\s)(?:số(?:\s+hiệu)?|năm|ngày|tháng|điều|khoản)$", re.IGNORECASE)
# "Ban hành kịp thời: 1", "- Đạt yêu cầu: 0,5" — a level and its points in the title cell.
_BARE_OPTION = re.compile(
    r"\s*[-–—+•*]*\s*(?P<label>[^:\n]{2,200}?)\s*:\s*(?P<points>\d{1,3}(?:[.,]\d{1,3})?)\s*[.;]?\s*"
)
# "(cấp Trưởng): Điểm tối đa.", "(cấp Phó):1/2*Điểmtốiđa." — a level worth (a share of) the max.
_MAX_AS_POINTS = re.compile(
    r":\s*(?:(\d{1,2})\s*/\s*(\d{1,2})\s*[*x×]\s*)?điểm\s*tối\s*đa\s*[.;]?\s*$", re.IGNORECASE
)
# --- the tree --------------------------------------------------------------------------------


@dataclass
class _Draft:
    written: str
    line: int
    title: str
    form: Literal["section", "roman", "num"]
    parent: _Draft | None
    roman: int | None = None
    children: list[_Draft] = field(default_factory=list)
    stated_max: Decimal | None = None
    stated_self: Decimal | None = None
    self_note: str = ""
    stated_appraised: Decimal | None = None
    appraised_note: str = ""
    guidance: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    agency: list[str] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    comment: list[str] = field(default_factory=list)
    options: list[tuple[str, Decimal, int]] = field(default_factory=list)
    letter: bool = False  # a sub-criterion lettered a, b, c… under a numbered one


def _numbered_levels(d: _Draft) -> list[tuple[str, Decimal]] | None:
    """The (label, points) of ``d``'s children when they are its levels, else None."""
    children = d.children
    if len(children) < 2 or d.stated_max is None or d.options:
        return None
    levels: list[tuple[str, Decimal]] = []
    for c in children:
        found = options_in_text(c.title)
        if c.children or c.options or c.stated_max is None or len(found) != 1:
            return None
        label, points = found[0]
        if points != c.stated_max or len([x for x in children if x.stated_self is not None]) > 1:
            return None
        levels.append((label, points))
    best = max(p for _, p in levels)
    if best != d.stated_max or sum(p for _, p in levels) == d.stated_max:
        return None
    return levels


def _is_numbering_row(row: Row) -> bool:
    """The row under a header that numbers its columns ("1 | 2 | 3 | 4 | 5", "a | b | c…"): not
    a criterion "1" titled "2" with 3 points."""
    values = [" ".join(v.split()) for v in row.cells.values() if v.strip()]
    values += [" ".join(t.split()) for _, t in row.stray]
    if len(values) < 3 or len(set(values)) != len(values):
        return False
    if all(v.isdigit() and len(v) <= 2 for v in values):
        numbers = [int(v) for v in values]
        return numbers[0] == 1 and numbers == sorted(numbers)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return (
        all(len(v) == 1 and v in letters for v in values)
        and values[0] == "a"
        and (values == sorted(values))
    )


def _max_as_points(guidance: Sequence[str], max_points: Decimal) -> list[str]:
    """Levels scored "Điểm tối đa" or "1/2*Điểm tối đa" (DTI tables) with their points written
    out, so the options can be read: "…: Điểm tối đa." → "…: 20 điểm"."""

    def points(match: re.Match[str]) -> str:
        num, den = match.group(1), match.group(2)
        if den is not None and int(den) == 0:
            return match.group(0)
        value = max_points if num is None else max_points * Decimal(num) / Decimal(den)
        return f": {vn_decimal(norm_decimal(value))} điểm"

    return ["\n".join(_MAX_AS_POINTS.sub(points, ln) for ln in g.split("\n")) for g in guidance]


def _number_guess(raw: str) -> str:
    """The best guess for a number cell holding text: its one number ("2 điểm" → 2)."""
    numbers = re.findall(r"\d+(?:[.,]\d+)?", raw)
    if len(numbers) == 1:
        value = parse_number(numbers[0])
        if value is not None:
            return f"có lẽ là {vn_decimal(value)}"
    return ""


class _Builder:
    def __init__(self, columns: dict[str, str]) -> None:
        self.columns = columns
        self.roots: list[_Draft] = []
        self.drafts: list[_Draft] = []
        self.section: _Draft | None = None
        self.area: _Draft | None = None
        self.scope: dict[str, _Draft] = {}
        self.current: _Draft | None = None
        self.total: StatedTotal | None = None
        self.warnings: list[AnnexWarning] = []
        self.notes: list[AnnexWarning] = []
        self.skipped: list[SkippedRow] = []
        self.placed = 0
        self.guessed = 0
        self.cut_parents: set[str] = set()  # parents absent because the table starts mid-way

    # numbers ---------------------------------------------------------------------------------

    def _max(self, row: Row) -> Decimal | None:
        raw = row.get(MAX)
        if not one_line(raw):
            return None
        value = parse_number(raw)
        label = self.columns.get(MAX, ROLE_LABELS[MAX])
        if value is None:
            raise _RowError(
                f"cột “{label}” phải là số, gặp “{preview(raw)}”",
                f"column “{label}” must hold a number, found “{preview(raw)}”",
                row.line,
                column=label,
                expected="một số điểm (vd. 2 hoặc 0,5)",
                found=one_line(raw),
                guess=_number_guess(raw),
            )
        self._check_places(value, label, row.line)
        return value

    def _score(self, row: Row, role: str) -> tuple[Decimal | None, str]:
        raw = one_line(row.get(role))
        if not raw:
            return None, ""
        value = parse_number(raw)
        label = self.columns.get(role, ROLE_LABELS[role])
        if value is not None:
            self._check_places(value, label, row.line)
            return value, ""
        if any(ch.isdigit() for ch in raw):
            raise _RowError(
                f"cột “{label}” phải là số hoặc ghi chú chữ, gặp “{preview(raw)}”",
                f"column “{label}” must hold a number or a text note, found “{preview(raw)}”",
                row.line,
                column=label,
                expected="một số điểm hoặc ghi chú chữ (vd. XHH)",
                found=raw,
                guess=_number_guess(raw),
            )
        return None, raw  # a note such as "XHH" (survey) or "KPS"

    @staticmethod
    def _check_places(value: Decimal, label: str, line: int) -> None:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -3:
            raise _RowError(
                f"cột “{label}”: “{vn_decimal(value)}” có quá 3 chữ số thập phân",
                f"column “{label}”: “{value}” has more than 3 decimal places",
                line,
                column=label,
                expected="số có tối đa 3 chữ số thập phân",
                found=vn_decimal(value),
                guess=f"có lẽ là {vn_decimal(value.quantize(Decimal('0.001')))}",
            )

    # rows ------------------------------------------------------------------------------------

    def add(self, row: Row) -> bool:
        """Places one row; False when the table ends (a total row below the nodes).

        A row that cannot be read is left out and reported (``skipped``) with everything it
        had changed undone; the rows after it are read as usual.
        """
        saved = (
            dict(self.scope),
            self.area,
            self.section,
            self.current,
            len(self.roots),
            len(self.drafts),
            len(self.warnings),
            len(self.notes),
            self.total,
            self.guessed,
            set(self.cut_parents),
        )
        current = self.current
        current_lens = (
            (len(current.options), len(current.guidance), len(current.agency)) if current else None
        )
        try:
            more = self._add(row)
        except _RowError as exc:
            (
                self.scope,
                self.area,
                self.section,
                self.current,
                n_roots,
                n_drafts,
                n_warnings,
                n_notes,
                self.total,
                self.guessed,
                self.cut_parents,
            ) = saved
            del self.roots[n_roots:], self.drafts[n_drafts:]
            del self.warnings[n_warnings:], self.notes[n_notes:]
            if current is not None and current_lens is not None:
                del current.options[current_lens[0] :], current.guidance[current_lens[1] :]
                del current.agency[current_lens[2] :]
            guess = f" — {exc.guess}" if exc.guess else ""
            self.skipped.append(
                SkippedRow(row.line, exc.column, exc.expected, exc.found, exc.guess, exc.vi)
            )
            self.warnings.append(AnnexWarning(row.line, f"Bỏ qua dòng {row.line}: {exc.vi}{guess}"))
            return True
        if not row.is_empty():
            self.placed += 1
        return more

    def _add(self, row: Row) -> bool:
        for line, text in row.stray:
            self.warnings.append(
                AnnexWarning(line, f"Ô “{preview(text)}” không thuộc cột nào của bảng — bỏ qua")
            )
        code_text = one_line(row.get(CODE))
        title_text = html_to_text(row.get(TITLE))
        if row.is_empty():
            return True
        if not self.drafts and _is_numbering_row(row):
            self.notes.append(AnnexWarning(row.line, "Dòng đánh số cột (1, 2, 3… hoặc a, b, c…)"))
            return True
        first_title_line = title_text.split("\n")[0] if title_text else ""
        # A total may carry an area-like numeral (Quảng Điền: "IV | CỘNG ĐIỂM I + II+III"),
        # never a criterion's dotted code.
        if is_total(code_text) or (
            is_total(first_title_line)
            and (not code_text or roman_value(clean_code(code_text)) is not None)
        ):
            return self._total(row, code_text if is_total(code_text) else first_title_line)
        section = SECTION.match(code_text) if code_text else SECTION.match(first_title_line)
        if section and (not code_text or not is_code_like(code_text)):
            self._section(row, section, title_text)
            return True
        code = clean_code(row.get(CODE))
        if LETTER.fullmatch(code) and self.current is not None and self.current.form == "num":
            self._lettered(row, code, title_text)
        elif code and not BULLET.fullmatch(code):
            self._coded(row, code, title_text)
        else:
            self._uncoded(row, title_text)
        return True

    def _total(self, row: Row, label: str) -> bool:
        self_score, _ = self._score(row, SELF)
        appraised, _ = self._score(row, APPRAISED)
        if self.total is not None:
            self.warnings.append(
                AnnexWarning(
                    row.line,
                    f"Dòng tổng thứ hai “{preview(label)}” — bỏ qua "
                    f"(đã có ở dòng {self.total.line})",
                )
            )
        else:
            self.total = StatedTotal(row.line, label, self._max(row), self_score, appraised)
        return not self.drafts

    def _section(self, row: Row, match: re.Match[str], title_text: str) -> None:
        word = " ".join(match.group(1).upper().split())
        code = f"{word} {match.group(2).upper()}"
        title = " ".join(match.group(3).split()) or (
            title_text.split("\n")[0] if title_text else ""
        )
        for other in self.roots:
            if other.written == code:
                raise self._repeated(row, code, other, "mã mục chưa dùng", noun=("mục", "section"))
        draft = _Draft(code, row.line, title, "section", None)
        self._fill(draft, row)
        self.roots.append(draft)
        self.drafts.append(draft)
        self.section, self.area, self.scope, self.current = draft, None, {}, draft

    def _coded(self, row: Row, code: str, title_text: str) -> None:
        roman = roman_value(code)
        lines = title_text.split("\n") if title_text else [""]
        if roman is not None:
            parent = self.section
            siblings = parent.children if parent else self.roots
            for other in siblings:
                if other.written == code:
                    raise self._repeated(row, code, other, "mã lĩnh vực chưa dùng")
            draft = _Draft(code, row.line, lines[0], "roman", parent, roman=roman)
            self.area, self.scope = draft, {}
        elif DOTTED.fullmatch(code):
            parts = code.split(".")
            owner = self.area or self.section
            if len(parts) == 1:
                parent = owner
            else:
                parent_code = ".".join(parts[:-1])
                parent = self.scope.get(parent_code)
                if (
                    parent is None
                    and len(parts) == 2
                    and self.area is not None
                    and self.area.roman == int(parts[0])
                ):
                    parent = self.area  # numbered through the document: 2.1 under II
                    self.guessed += 1
                cut = parent is None and self._cut_start(parent_code, code, row.line)
                if cut:
                    parent = owner  # a top-level node of the part the table holds
                elif parent is None:
                    raise _RowError(
                        f"mã “{code}” không có mục cha “{parent_code}” ở trên",
                        f"code “{code}” has no parent “{parent_code}” above it",
                        row.line,
                        column=self._label(CODE),
                        expected=f"mục cha “{parent_code}” ở một dòng phía trên",
                        found=code,
                        guess=self._parent_guess(parts),
                    )
            if code in self.scope:
                raise self._repeated(row, code, self.scope[code], "mã tiêu chí chưa dùng")
            draft = _Draft(code, row.line, lines[0], "num", parent)
            self.scope[code] = draft
        else:
            written = one_line(row.get(CODE))
            if self.current is not None and len(written) > 12:
                guess = f"chữ nằm nhầm cột mã số: có lẽ là nội dung của mục {self.current.written}"
            elif re.fullmatch(r"\d+(\.+\d+)+\.?", written):
                guess = f"có lẽ là mã “{re.sub(r'[.]+', '.', written).rstrip('.')}”"
            else:
                guess = ""
            raise _RowError(
                f"mã số “{preview(row.get(CODE))}” không hợp lệ (cần I, II…, 1, 1.2, 5.2.3.1)",
                f"invalid code “{preview(row.get(CODE))}” (expected I, II…, 1, 1.2, 5.2.3.1)",
                row.line,
                column=self._label(CODE),
                expected="mã số I, II…, 1, 1.2, 5.2.3.1",
                found=written,
                guess=guess,
            )
        if not draft.title:
            self.warnings.append(AnnexWarning(row.line, f"Mục {code} không có tên"))
        self._attach(draft, row, lines)

    def _cut_start(self, parent_code: str, code: str, line: int) -> bool:
        """True when the table was copied from part-way through: its first criterion is "1.1"
        with no "1" above (a published table cut short, a section pasted alone). The absent
        parent's other children ("1.2"…) are then top-level nodes too; a parent missing once
        numbered rows are placed is still a broken row."""
        if parent_code in self.cut_parents:
            return True
        if self.skipped or any(d.form != "section" for d in self.drafts):
            return False  # the parent is a row above that was left out, or a typo
        self.cut_parents.add(parent_code)
        self.guessed += 1
        self.notes.append(
            AnnexWarning(
                line,
                f"Bảng bắt đầu giữa chừng ở mục {code} (không có dòng {parent_code} ở trên): "
                f"các mục {parent_code}.x là mục gốc",
            )
        )
        return True

    def _lettered(self, row: Row, letter: str, title_text: str) -> None:
        """A sub-criterion lettered a, b, c… under the numbered criterion above (Đồng Tháp's
        thi đua table: "3 Gửi nhận văn bản điện tử | 3", "a Tỷ lệ … | 1,5", "b … | 1,5")."""
        current = self.current
        assert current is not None  # checked by the caller
        parent = current.parent if current.letter else current
        if parent is None:
            raise _RowError(
                f"mục “{letter}” không có tiêu chí đánh số ở trên",
                f"item “{letter}” has no numbered criterion above it",
                row.line,
                column=self._label(CODE),
                expected="mục a, b… dưới một tiêu chí có mã số",
                found=letter,
                guess="",
            )
        for other in parent.children:
            if other.written == letter:
                raise self._repeated(
                    row, letter, other, "chữ cái chưa dùng dưới cùng tiêu chí", under=parent
                )
        lines = title_text.split("\n") if title_text else [""]
        self._attach(_Draft(letter, row.line, lines[0], "num", parent, letter=True), row, lines)

    def _attach(self, draft: _Draft, row: Row, lines: list[str]) -> None:
        """Places a new coded draft under its parent (or at the root) with its row's cells; the
        title cell's further lines are its guidance."""
        draft.guidance.extend(lines[1:])
        self._fill(draft, row)
        (self.roots if draft.parent is None else draft.parent.children).append(draft)
        self.drafts.append(draft)
        self.current = draft

    def _repeated(
        self,
        row: Row,
        written: str,
        other: _Draft,
        expected: str,
        *,
        noun: tuple[str, str] = ("mã", "code"),
        under: _Draft | None = None,
    ) -> _RowError:
        """The row error for a code already used by ``other`` (under ``under`` for a letter)."""
        where = (f" (dưới {under.written})", f" (under {under.written})") if under else ("", "")
        slip = "chữ" if under else "mã"
        return _RowError(
            f"{noun[0]} “{written}” trùng với dòng {other.line}{where[0]}",
            f"{noun[1]} “{written}” repeats line {other.line}{where[1]}",
            row.line,
            column=self._label(CODE),
            expected=expected,
            found=written,
            guess=f"có lẽ gõ nhầm {slip} (dòng {other.line} đã dùng “{written}”)",
        )

    def _label(self, role: str) -> str:
        return self.columns.get(role, ROLE_LABELS[role])

    def _parent_guess(self, parts: list[str]) -> str:
        for cut in range(len(parts) - 2, 0, -1):
            near = ".".join(parts[:cut])
            if near in self.scope:
                return f"có lẽ thuộc mục {near} (thiếu dòng {'.'.join(parts[:-1])})"
        if self.current is not None:
            return f"có lẽ thuộc mục {self.current.written} ở trên"
        return ""

    def _fill(self, draft: _Draft, row: Row) -> None:
        draft.stated_max = self._max(row)
        draft.stated_self, draft.self_note = self._score(row, SELF)
        draft.stated_appraised, draft.appraised_note = self._score(row, APPRAISED)
        self._append_texts(draft, row)

    def _append_texts(self, draft: _Draft, row: Row) -> None:
        for role, target in (
            (EVIDENCE, draft.evidence),
            (AGENCY, draft.agency),
            (EXPLANATION, draft.explanation),
            (COMMENT, draft.comment),
            (METHOD, draft.guidance),
        ):
            text = html_to_text(row.get(role))
            if text and role == AGENCY and not is_agency_name(text):
                self._misplaced_agency(draft, row, text)
            elif text:
                target.append(text)

    def _misplaced_agency(self, draft: _Draft, row: Row, text: str) -> None:
        """Text in the agency column that names no agency ("Kế hoạch khắc phục hạn chế,"): a
        line of the evidence cell wrapped one column over in the export. Kept with the
        evidence (or the note when the table has no evidence column), never as an agency."""
        into, role = (
            (draft.evidence, EVIDENCE) if EVIDENCE in self.columns else (draft.comment, COMMENT)
        )
        into.append(text)
        self.guessed += 1
        label, moved = self._label(AGENCY), self._label(role)
        self.warnings.append(
            AnnexWarning(
                row.line,
                f"Cột “{label}” của {draft.written} ghi “{preview(text)}”, không phải tên cơ "
                f"quan: chuyển sang cột “{moved}” — cần kiểm tra",
            )
        )

    def _uncoded(self, row: Row, title_text: str) -> None:
        draft = self.current
        if draft is None:
            text = title_text or row.text()
            self.warnings.append(
                AnnexWarning(
                    row.line,
                    f"Dòng không có mã và chưa có tiêu chí nào ở trên — bỏ qua: “{preview(text)}”",
                )
            )
            return
        points = self._max(row)
        if points is None:
            title_text, points = self._option_in_title(title_text, draft, row.line)
        for role in (SELF, APPRAISED):
            value, note = self._score(row, role)
            if value is None and not note:
                continue
            label = self.columns.get(role, ROLE_LABELS[role])
            written = one_line(row.get(role))
            stated = draft.stated_self if role == SELF else draft.stated_appraised
            if stated is None and value is not None:
                # A filled sheet writes the score on the line of the level reached: it is the
                # score of the criterion above, checked like any other.
                if role == SELF:
                    draft.stated_self = value
                else:
                    draft.stated_appraised = value
                self.notes.append(
                    AnnexWarning(
                        row.line,
                        f"Cột “{label}” ghi {written} trên dòng mức của {draft.written}: "
                        f"là điểm của {draft.written}",
                    )
                )
            elif value is not None and value == stated:
                self.notes.append(
                    AnnexWarning(
                        row.line,
                        f"Cột “{label}” ghi lại {written} trên dòng mức của {draft.written}: "
                        "khớp điểm đã ghi",
                    )
                )
            else:
                shown = "—" if stated is None else vn_decimal(stated)
                self.warnings.append(
                    AnnexWarning(
                        row.line,
                        f"Cột “{label}” ghi “{written}” trên dòng mức của {draft.written}, "
                        f"khác điểm {shown} đã ghi cho {draft.written} — cần kiểm tra",
                    )
                )
        if points is not None:
            label = " ".join(title_text.split())
            if not label:
                self.warnings.append(
                    AnnexWarning(
                        row.line,
                        f"Điểm {vn_decimal(points)} không kèm nội dung "
                        f"(dưới {draft.written}) — bỏ qua",
                    )
                )
            else:
                draft.options.append((label, points, row.line))
                draft.guidance.append(f"{label}: {vn_decimal(points)} điểm")
        elif title_text:
            draft.guidance.append(title_text)
        before = len(draft.agency)
        self._append_texts(draft, row)
        if len(draft.agency) > before:
            # An agency is named on the criterion's own row; text here is often evidence that
            # slipped a column in the export. Kept where the document put it, but flagged.
            self.guessed += 1
            label = self.columns.get(AGENCY, ROLE_LABELS[AGENCY])
            self.warnings.append(
                AnnexWarning(
                    row.line,
                    f"Cột “{label}” có nội dung trên dòng không có mã: ghép vào mục "
                    f"{draft.written} — cần kiểm tra (“{preview(draft.agency[-1])}”)",
                )
            )

    def _option_in_title(
        self, title_text: str, draft: _Draft, line: int
    ) -> tuple[str, Decimal | None]:
        """A level written "label: points" with no "điểm" and no points column ("Ban hành kịp
        thời: 1", Cà Mau 2013): an option when the number is within the criterion's max."""
        match = _BARE_OPTION.fullmatch(title_text) if "\n" not in title_text else None
        value = parse_number(match.group("points")) if match else None
        if match is None or value is None or draft.stated_max is None:
            return title_text, None
        if value > draft.stated_max or _NOT_A_LEVEL.search(match.group("label")):
            return title_text, None  # "Số hiệu: 12", "Năm: 2" — a reference, not a level
        self.notes.append(
            AnnexWarning(
                line,
                f"“{preview(title_text)}”: mức {vn_decimal(value)} điểm của {draft.written} "
                "(số sau dấu hai chấm)",
            )
        )
        return match.group("label"), value

    # result ----------------------------------------------------------------------------------

    def result(self) -> tuple[tuple[Node, ...], tuple[ImportedNode, ...]]:
        if not self.drafts:
            # Nothing placed: the table is unreadable; say which rows were left out and why.
            why = "; ".join(f"dòng {r.line}: {r.message}" for r in self.skipped[:3])
            raise annex_error(
                "bảng không có dòng tiêu chí nào có mã số" + (f" (bỏ qua {why})" if why else ""),
                "the table has no row with a criterion code",
                self.skipped[0].line if self.skipped else None,
            )
        for d in list(self.drafts):
            self._fold_numbered_levels(d)
        codes = self._codes()
        entries: dict[int, ImportedNode] = {}

        def build(d: _Draft, depth: int, inherited: str) -> Node:
            # An agency written on a criterion's row appraises its sub-criteria too (Định Hóa
            # writes "Phòng Nội vụ" once on 1. and not on 1.1–1.5): a row without its own agency
            # takes the nearest ancestor's, so no leaf falls to the coordinator by layout alone.
            agency = "\n".join(d.agency) or inherited
            children = tuple(
                build(c, depth + (0 if d.form == "section" else 1), agency) for c in d.children
            )
            rule: Rule | None = None
            rule_kind = rule_note = rule_source = ""
            if children:
                max_points = d.stated_max
                if max_points is None:
                    max_points = sum((c.max_points for c in children), Decimal(0))
                    self.notes.append(
                        AnnexWarning(
                            d.line,
                            f"Mục {codes[id(d)]} không ghi điểm tối đa: lấy tổng các mục con "
                            f"({vn_decimal(max_points)})",
                        )
                    )
                for label, _, line in d.options:
                    self.warnings.append(
                        AnnexWarning(
                            line,
                            f"Mức “{preview(label)}” nằm dưới mục {codes[id(d)]} vốn có tiêu chí "
                            "con — không dùng",
                        )
                    )
            else:
                max_points = d.stated_max
                if max_points is None:
                    max_points = Decimal(0)
                    self.warnings.append(
                        AnnexWarning(
                            d.line, f"Tiêu chí {codes[id(d)]} không ghi điểm tối đa — tính 0"
                        )
                    )
                inferred = infer_rule(
                    [(label, points) for label, points, _ in d.options],
                    _max_as_points(d.guidance, max_points),
                    d.self_note,
                    max_points,
                )
                rule, rule_kind, rule_note = inferred.rule, inferred.kind, inferred.note
                rule_source = inferred.source
                self.notes.append(AnnexWarning(d.line, f"{codes[id(d)]}: {rule_note}"))
            if d.form == "section":
                kind = NodeKind.section
            else:
                kind = (NodeKind.area, NodeKind.criterion, NodeKind.sub_criterion)[min(depth, 2)]
            folded = fold(d.title)
            role = NodeRole.normal
            if folded.startswith(("diem thuong", "diem cong")):
                role = NodeRole.bonus
            elif folded.startswith("diem tru"):
                role = NodeRole.penalty
            try:
                node = Node(
                    code=codes[id(d)],
                    title=d.title,
                    kind=kind,
                    role=role,
                    max_points=max_points,
                    guidance="\n".join(d.guidance),
                    evidence_required="\n".join(d.evidence),
                    agency=agency,
                    rule=rule,
                    children=children,
                )
            except ValidationError as exc:
                problem = exc.errors()[0].get("msg", str(exc))
                raise annex_error(
                    f"mục {codes[id(d)]} không hợp lệ: {problem}",
                    f"node {codes[id(d)]} is invalid: {problem}",
                    d.line,
                ) from exc
            entries[id(d)] = ImportedNode(
                code=codes[id(d)],
                written_code=d.written,
                line=d.line,
                title=d.title,
                parent_code=codes[id(d.parent)] if d.parent else None,
                stated_max=d.stated_max,
                stated_self=d.stated_self,
                self_note=d.self_note,
                stated_appraised=d.stated_appraised,
                appraised_note=d.appraised_note,
                explanation="\n".join(d.explanation),
                comment="\n".join(d.comment),
                rule_kind=rule_kind,
                rule_note=rule_note,
                rule_source=rule_source,
            )
            return node

        nodes = tuple(build(d, 0, "") for d in self.roots)
        return nodes, tuple(entries[id(d)] for d in self.drafts)

    def _fold_numbered_levels(self, d: _Draft) -> None:
        """Levels numbered like sub-criteria (Tuyên Quang's form: "1 … 2", "1.1 Ngắn hơn quy
        định: 2 điểm | 2", "1.2 Bằng quy định: 1 điểm | 1", "1.3 Dài hơn: 0 điểm | 0"): when
        every child is a leaf whose text ends in its own points and the parent's max is the
        best of them (not their sum), the children are the parent's levels."""
        levels = _numbered_levels(d)
        if levels is None:
            return
        moved = [c.stated_self for c in d.children if c.stated_self is not None]
        if d.stated_self is None and len(moved) == 1:
            d.stated_self = moved[0]  # a filled form scores the level reached
        first, last = d.children[0].written, d.children[-1].written
        for child, (label, points) in zip(d.children, levels, strict=True):
            d.options.append((label, points, child.line))
            d.guidance.append(f"{label}: {vn_decimal(points)} điểm")
            self.drafts.remove(child)
        d.children = []
        self.guessed += 1
        self.notes.append(
            AnnexWarning(
                d.line,
                f"Các dòng {first}–{last} là các mức điểm của {d.written} (mỗi dòng ghi điểm của "
                f"mình, điểm tối đa {vn_decimal(d.stated_max or Decimal(0))} là mức cao nhất)",
            )
        )

    def _codes(self) -> dict[int, str]:
        # A lettered item is known by its criterion's code: "3.a".
        plain = {
            id(d): f"{d.parent.written}.{d.written}" if d.letter and d.parent else d.written
            for d in self.drafts
        }
        if len(set(plain.values())) == len(plain):
            return plain
        # Numbering restarts in every area (Quảng Điền: 1, 2… under I and again under II):
        # a code that does not continue its parent's is prefixed with the parent's code.
        codes: dict[int, str] = {}
        for d in self.drafts:  # parents come before their children
            p = d.parent
            if p is None or p.form == "section":
                codes[id(d)] = d.written
            elif d.form == "num" and p.form == "num" and d.written.startswith(p.written + "."):
                codes[id(d)] = codes[id(p)] + d.written[len(p.written) :]
            elif (
                d.form == "num"
                and p.form == "roman"
                and "." in d.written
                and int(d.written.split(".")[0]) == p.roman
                and codes[id(p)] == p.written
            ):
                codes[id(d)] = d.written
            else:
                codes[id(d)] = f"{codes[id(p)]}.{d.written}"
        seen: dict[str, _Draft] = {}
        for d in self.drafts:
            if codes[id(d)] in seen:
                first = seen[codes[id(d)]]
                raise annex_error(
                    f"mã “{codes[id(d)]}” trùng với dòng {first.line}",
                    f"code “{codes[id(d)]}” repeats line {first.line}",
                    d.line,
                )
            seen[codes[id(d)]] = d
        self.notes.append(
            AnnexWarning(
                None,
                "Mã số được đánh lại trong từng lĩnh vực: mã trong cây được ghép với mã lĩnh vực "
                "(ví dụ II.1.1)",
            )
        )
        return codes


def _build(table: Table) -> AnnexImport:
    builder = _Builder(table.columns)
    warnings = list(table.warnings)
    notes = list(table.notes)
    rows = table.rows
    for pos, row in enumerate(rows):
        if not builder.add(row):
            tail = [r for r in rows[pos + 1 :] if not r.is_empty()]
            if tail:
                builder.warnings.append(
                    skip_warning(tail[0].line, tail[-1].end_line, "sau dòng tổng", tail[0].text())
                )
            break
    nodes, entries = builder.result()
    warnings.extend(builder.warnings)
    notes.extend(builder.notes)
    warnings.sort(key=lambda w: w.line or 0)
    return AnnexImport(
        nodes=nodes,
        entries=entries,
        total=builder.total,
        warnings=tuple(warnings),
        notes=tuple(notes),
        layout=table.layout,
        header_line=table.header_line,
        columns=table.columns,
        skipped=tuple(builder.skipped),
        rows_placed=builder.placed,
        rows_guessed=builder.guessed,
    )


# --- entry points ----------------------------------------------------------------------------


def import_annex_text(text: str, fmt: Literal["tsv", "csv"] | None = None) -> AnnexImport:
    """Imports an annex table from text: TSV (or one cell per line) or CSV; None detects."""
    if not text.strip():
        raise annex_error("tệp rỗng", "the file is empty")
    table: Table | None = None
    if fmt in (None, "tsv"):
        table = grid_table(text_records(text, "\t"), "tsv") if "\t" in text else None
        if table is None:
            table = cells_table(text)
    if table is None and fmt in (None, "csv"):
        for delimiter in (",", ";"):
            if delimiter in text:
                table = grid_table(text_records(text, delimiter), "csv")
                if table is not None:
                    break
    if table is None:
        raise annex_error(*NO_HEADER, None)
    return _build(table)


def import_annex(data: bytes, fmt: AnnexFormat | None = None) -> AnnexImport:
    """Imports an annex table from a file's bytes; ``fmt`` None detects it (XLSX by zip magic)."""
    check_size(len(data))
    if fmt == "xlsx" or (fmt is None and data.startswith(b"PK\x03\x04")):
        return _build(xlsx_table(data))
    return import_annex_text(decode_text(data), fmt)
