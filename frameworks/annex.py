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
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Literal

from pydantic import ValidationError

from core.vn import parse_vn_decimal, vn_decimal
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

MAX_BYTES = 50 * 1024 * 1024
"""Files above this size are refused before any parsing."""

AnnexFormat = Literal["tsv", "csv", "xlsx"]

CODE, TITLE, MAX, SELF, APPRAISED = "code", "title", "max", "self", "appraised"
EXPLANATION, EVIDENCE, AGENCY, COMMENT = "explanation", "evidence", "agency", "comment"
METHOD = "method"  # "Cách xác định và tính điểm": the scoring wording in its own column
_NUMERIC_ROLES = (MAX, SELF, APPRAISED)
_ROLE_LABELS = {
    CODE: "Mã số/STT",
    TITLE: "Nội dung/Tiêu chí",
    MAX: "Điểm tối đa",
    SELF: "Điểm tự chấm",
    APPRAISED: "Điểm thẩm định",
    EXPLANATION: "Giải trình",
    EVIDENCE: "Tài liệu kiểm chứng",
    AGENCY: "Cơ quan thẩm định",
    COMMENT: "Ý kiến thẩm định",
    METHOD: "Cách tính điểm",
}


class AnnexError(ValueError):
    """The table cannot be read; ``line`` is the 1-based line (or sheet row) at fault."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"dòng {self.line} / line {self.line}: {self.message}"


def _error(vi: str, en: str, line: int | None = None) -> AnnexError:
    return AnnexError(f"{vi} / {en}", line)


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
class AnnexWarning:
    """Something the importer skipped or could not place, with its line (None: the whole file)."""

    line: int | None
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


# --- text helpers ----------------------------------------------------------------------------

# Only known tag names: a bare "<" is common in scoring text ("95–<100%").
_TAG_NAMES = r"p|u|b|i|s|em|strong|span|ul|ol|li|br|div|sup|sub|font|a|table|tbody|tr|td|th|h\d"
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:p|ul|ol|li|br|div|tr|table|h\d)\b[^<>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(rf"<\s*/?\s*(?:{_TAG_NAMES})\b[^<>]*>", re.IGNORECASE)


def html_to_text(text: str) -> str:
    """Plain text of a cell: inline HTML removed, paragraphs as lines, spaces collapsed."""
    if not text:
        return ""
    t = _BLOCK_TAG.sub("\n", text)
    t = _ANY_TAG.sub("", t)
    t = html.unescape(t).replace("\u00a0", " ")
    lines = (" ".join(line.split()) for line in t.splitlines())
    return "\n".join(line for line in lines if line)


def _one_line(text: str) -> str:
    return " ".join(html_to_text(text).split())


def fold(text: str) -> str:
    """Lower case without diacritics, HTML or punctuation: "Điểm tự chấm" → "diem tu cham"."""
    t = html_to_text(text).replace("đ", "d").replace("Đ", "D")
    t = unicodedata.normalize("NFD", t)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = re.sub(r"[^\w%]+", " ", t)
    return " ".join(t.split())


# The first words of an agency's name ("Phòng Nội vụ", "Văn phòng HĐND và UBND huyện", "Thanh
# tra huyện", "Các phòng chuyên môn"), folded. "Ban hành…", "Hội nghị…" are not agencies.
_AGENCY_HEAD = re.compile(
    r"(?:cac )?(?:phong|van phong|thanh tra|cong an|ban (?!hanh)|so |ubnd|uy ban|trung tam"
    r"|huyen uy|tinh uy|thanh uy|dang uy|chi cuc|cuc |kho bac|bao hiem|mat tran|lien doan"
    r"|doan |hoi (?:dong|lien hiep|nong dan|phu nu|cuu chien binh)|toa an|vien kiem sat"
    r"|bo phan|ban chi huy|co quan|cong chuc|hdnd|thuong truc|chu tich|lanh dao)"
)


def is_agency_name(text: str) -> bool:
    """Whether a cell of the agency column names an agency: short, one line, opening with an
    agency's head word and not ending like a sentence ("Phòng Nội vụ" yes; "Văn bản triển khai,
    giới thiệu gương điển hình tiên tiến." and "Kế hoạch khắc phục hạn chế," no)."""
    one = " ".join(html_to_text(text).split())
    if not one or len(one) > 120 or one[-1] in ".,;:":
        return False
    return _AGENCY_HEAD.match(fold(one) + " ") is not None


def _preview(text: str, limit: int = 60) -> str:
    t = _one_line(text)
    return t if len(t) <= limit else t[: limit - 1] + "…"


def _norm_decimal(d: Decimal) -> Decimal:
    if d == d.to_integral_value():
        return d.quantize(Decimal(1))
    return d.normalize()


def _parse_number(text: str) -> Decimal | None:
    """A number written with a decimal comma or dot, optionally followed by "điểm"; else None."""
    t = re.sub(r"\s*(?:điểm|đ)\s*\.?$", "", _one_line(text), flags=re.IGNORECASE)
    try:
        value = parse_vn_decimal(t)
    except ValueError:
        return None
    return _norm_decimal(value) if value.is_finite() else None


# --- columns ---------------------------------------------------------------------------------

_CODE_NAMES = {"ma so", "stt", "tt", "so tt", "ma", "ma tieu chi", "so thu tu", "ma so tieu chi"}
# (role, prefixes) in the order they are tried: "Cơ quan thẩm định điểm tự đánh giá" is the agency.
_ROLE_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (AGENCY, ("co quan tham dinh", "co quan", "don vi tham dinh")),
    (COMMENT, ("y kien",)),
    (APPRAISED, ("diem tham dinh", "diem hoi dong", "tham dinh")),
    (SELF, ("diem tu", "diem so tu", "tu cham", "tu danh gia", "diem cham", "tong diem cham")),
    (MAX, ("diem toi da", "diem so toi da", "diem chuan", "thang diem", "diem quy dinh", "toi da")),
    (EXPLANATION, ("ly giai", "giai trinh", "thuyet minh", "ghi chu")),
    (EVIDENCE, ("tai lieu", "kiem chung", "minh chung")),
    (METHOD, ("cach xac dinh", "cach tinh", "cach cham", "phuong phap cham", "huong dan cham")),
    # "Các chỉ số đánh giá việc giải quyết TTHC" (Tuyên Quang's form) is the title column.
    (
        TITLE,
        (
            "linh vuc",
            "tieu chi",
            "noi dung",
            "ten ",
            "chi tieu",
            "danh muc",
            "yeu cau",
            "cac chi so",
            "chi so",
        ),
    ),
)


def _column_role(cell: str) -> str | None:
    if len(cell) > 300:  # a header name is short; skip folding long text cells
        return None
    name = fold(cell)
    if not name or len(name) > 160:
        return None
    if name in _CODE_NAMES:
        return CODE
    for role, prefixes in _ROLE_PREFIXES:
        if any(name.startswith(p) or name == p.strip() for p in prefixes):
            return role
    # Text exported from PDF loses its spaces ("Điểmtốiđa", "Cáchxácđịnhvàtínhđiểm").
    squeezed = name.replace(" ", "")
    for role, prefixes in _ROLE_PREFIXES:
        if any(squeezed.startswith(p.replace(" ", "")) for p in prefixes):
            return role
    return None


def _header_roles(cells: Sequence[str]) -> dict[int, str] | None:
    """Column index → role when these cells form a header (code, title and max present)."""
    found: dict[int, str] = {}
    seen: set[str] = set()
    for idx, cell in enumerate(cells):
        role = _column_role(cell)
        if role is None or role in seen:
            continue
        found[idx] = role
        seen.add(role)
    if {CODE, TITLE, MAX} <= seen:
        return found
    return None


# --- codes -----------------------------------------------------------------------------------

_ROMAN = re.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_DOTTED = re.compile(r"\d{1,3}(?:\.\d{1,3})*")
_BULLET = re.compile(r"[-–—•*+]+")
_SECTION = re.compile(
    r"^\s*(NỘI\s+DUNG|PHẦN)\s+([IVXLCDM]+|\d+|[A-Z])(?=$|[\s.:\-–)])[\s.:\-–)]*(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_LETTER = re.compile(r"[a-zđ]")  # "a", "b" alone in the code column: lettered sub-criteria
_NOT_A_LEVEL = re.compile(r"(?:^|\s)(?:số(?:\s+hiệu)?|năm|ngày|tháng|điều|khoản)$", re.IGNORECASE)
# "Ban hành kịp thời: 1", "- Đạt yêu cầu: 0,5" — a level and its points in the title cell.
_BARE_OPTION = re.compile(
    r"\s*[-–—+•*]*\s*(?P<label>[^:\n]{2,200}?)\s*:\s*(?P<points>\d{1,3}(?:[.,]\d{1,3})?)\s*[.;]?\s*"
)
# "(cấp Trưởng): Điểm tối đa.", "(cấp Phó):1/2*Điểmtốiđa." — a level worth (a share of) the max.
_MAX_AS_POINTS = re.compile(
    r":\s*(?:(\d{1,2})\s*/\s*(\d{1,2})\s*[*x×]\s*)?điểm\s*tối\s*đa\s*[.;]?\s*$", re.IGNORECASE
)
_TOTAL_PREFIXES = ("tong cong", "cong tong", "tong diem", "cong diem", "tong so diem")


def _clean_code(text: str) -> str:
    return "".join(html_to_text(text).split()).rstrip(".")


def _roman_value(code: str) -> int | None:
    if code and _ROMAN.fullmatch(code):
        values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
        total = 0
        for i, ch in enumerate(code):
            v = values[ch]
            total += -v if i + 1 < len(code) and values[code[i + 1]] > v else v
        return total
    return None


def _is_code_like(text: str) -> bool:
    code = _clean_code(text)
    if not code:
        return False
    if _roman_value(code) is not None:
        return True
    return bool(_DOTTED.fullmatch(code)) and len(code.split(".")[0]) <= 2


def _is_total(text: str) -> bool:
    # "Tổng điểm", "Cộng tổng", "Cộng điểm I + II + III" are totals; "Tổng hợp kết quả…" is not.
    name = fold(text)
    return name == "tong" or name.startswith(_TOTAL_PREFIXES)


# --- rows ------------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    end_line: int
    cells: dict[str, str]
    stray: list[tuple[int, str]] = field(default_factory=list)

    def get(self, role: str) -> str:
        return self.cells.get(role, "")

    def text(self) -> str:
        """The first non-empty cell, for messages."""
        for value in self.cells.values():
            if _one_line(value):
                return value
        return self.stray[0][1] if self.stray else ""

    def is_empty(self) -> bool:
        return not any(_one_line(v) for v in self.cells.values()) and not self.stray


@dataclass
class _Table:
    layout: Literal["tsv", "csv", "xlsx", "cells"]
    header_line: int
    columns: dict[str, str]
    rows: list[_Row]
    warnings: list[AnnexWarning]
    notes: list[AnnexWarning]


def _skip_warning(first: int, last: int, where: str, sample: str) -> AnnexWarning:
    span = f"dòng {first}" if first == last else f"dòng {first}–{last}"
    return AnnexWarning(first, f"Bỏ qua {span} {where} (bắt đầu: “{_preview(sample)}”)")


def _grid_table(
    records: Sequence[tuple[int, int, Sequence[str]]],
    layout: Literal["tsv", "csv", "xlsx"],
) -> _Table | None:
    """Rows of cells (line, end line, cells) → a table, or None when no header row is found."""
    header_at = None
    roles: dict[int, str] = {}
    for pos, (_, _, cells) in enumerate(records):
        found = _header_roles(cells)
        if found is not None:
            header_at, roles = pos, found
            break
    if header_at is None:
        return None
    header_line, _, header_cells = records[header_at]
    warnings: list[AnnexWarning] = []
    notes: list[AnnexWarning] = []
    before = [r for r in records[:header_at] if any(c.strip() for c in r[2])]
    if before:
        first = before[0]
        warnings.append(
            _skip_warning(
                first[0],
                before[-1][1],
                "trước dòng tiêu đề bảng",
                next(c for c in first[2] if c.strip()),
            )
        )
    columns = {role: _one_line(header_cells[idx]) for idx, role in roles.items()}
    for idx, cell in enumerate(header_cells):
        if idx not in roles and _one_line(cell):
            notes.append(
                AnnexWarning(header_line, f"Cột “{_preview(cell)}” không thuộc mẫu — bỏ qua")
            )
    width = len(header_cells)
    header_key = [fold(c) for c in header_cells]
    rows: list[_Row] = []
    rest = records[header_at + 1 :]
    for pos, (line, end_line, cells) in enumerate(rest):
        if not any(c.strip() for c in cells):
            continue
        if layout != "xlsx" and len(cells) == 1 and width > 1:
            # A line without any separator is prose after the table (the seed's assignment list).
            tail = [r for r in rest[pos:] if any(c.strip() for c in r[2])]
            warnings.append(_skip_warning(line, tail[-1][1], "sau bảng", cells[0]))
            break
        if [fold(c) for c in cells[:width]] == header_key:
            notes.append(AnnexWarning(line, "Dòng tiêu đề lặp lại (sang trang) — bỏ qua"))
            continue
        row = _Row(
            line, end_line, {role: cells[idx] for idx, role in roles.items() if idx < len(cells)}
        )
        for idx in range(width, len(cells)):
            if cells[idx].strip():
                row.stray.append((line, cells[idx]))
        rows.append(row)
    return _Table(layout, header_line, columns, rows, warnings, notes)


def _text_records(text: str, delimiter: str) -> list[tuple[int, int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records: list[tuple[int, int, list[str]]] = []
    last = 0
    try:
        for cells in reader:
            records.append((last + 1, reader.line_num, cells))
            last = reader.line_num
    except csv.Error as exc:
        raise _error(
            f"không đọc được bảng ({exc})", f"the table cannot be read ({exc})", last + 1
        ) from exc
    return records


# --- one cell per line -----------------------------------------------------------------------


def _cell_tokens(text: str, separated: bool) -> list[tuple[int, str]]:
    tokens: list[tuple[int, str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if separated and line == "":
            continue
        tokens.append((number, line.strip()))
    return tokens


def _find_cells_header(tokens: list[tuple[int, str]]) -> tuple[int, int, list[str]] | None:
    for start in range(len(tokens)):
        roles: list[str] = []
        pos = start
        while pos < len(tokens) and tokens[pos][1]:
            role = _column_role(tokens[pos][1])
            if role is None or role in roles:
                break
            roles.append(role)
            pos += 1
        if len(roles) >= 3 and {CODE, TITLE, MAX} <= set(roles):
            if roles[:2] != [CODE, TITLE]:
                raise _error(
                    "bảng mỗi ô một dòng phải bắt đầu bằng cột Mã số/STT rồi cột Nội dung",
                    "a one-cell-per-line table must start with the code then the title column",
                    tokens[start][0],
                )
            return start, pos, roles
    return None


def _cells_table(text: str) -> _Table | None:
    """The "one table cell per line" layout, or None when no header sequence is found.

    Cells are separated by blank lines (an empty cell is a line of spaces) when the header's
    cells are; otherwise every line is a cell and a blank line an empty one.
    """
    tokens = _cell_tokens(text, separated=True)
    found = _find_cells_header(tokens)
    if found is None:
        return None
    start, pos, roles = found
    header_lines = [tokens[i][0] for i in range(start, pos)]
    if all(b - a == 1 for a, b in pairwise(header_lines)):
        tokens = _cell_tokens(text, separated=False)
        start = header_lines[0] - 1  # one token per line
        pos = start + len(roles)
    return _parse_cells(tokens, start, pos, roles)


def _is_text_cell(text: str) -> bool:
    """A non-empty cell that is neither a code nor a number: part of a text column."""
    return bool(text) and not _is_code_like(text) and _parse_number(text) is None


def _skip_blank(tokens: list[tuple[int, str]], j: int) -> int:
    while j < len(tokens) and not tokens[j][1]:
        j += 1
    return j


def _cells_row_head(tokens: list[tuple[int, str]], j: int) -> tuple[_Row, int]:
    """A row's code and title cells (a row may start at its title), and the next position."""
    line, cell = tokens[j]
    row = _Row(line, line, {})
    if not _is_code_like(cell):
        row.cells[TITLE] = cell
        return row, j + 1
    row.cells[CODE] = cell
    j += 1
    if j < len(tokens):
        row.cells[TITLE] = tokens[j][1]
        row.end_line = tokens[j][0]
        j += 1
    return row, j


def _cells_title_rest(tokens: list[tuple[int, str]], j: int, row: _Row) -> int:
    """Joins a title split over several cells (before the first number column) to the row."""
    while j < len(tokens) and _is_text_cell(tokens[j][1]):
        row.cells[TITLE] = f"{row.get(TITLE)} {tokens[j][1]}".strip()
        row.end_line = tokens[j][0]
        j += 1
    return j


def _cells_text(tokens: list[tuple[int, str]], j: int, row: _Row, role: str) -> int:
    """A text column's cells (one or more lines) into ``row``; returns the next position."""
    parts = [tokens[j][1]]
    row.end_line = tokens[j][0]
    j += 1
    while j < len(tokens) and _is_text_cell(tokens[j][1]):
        parts.append(tokens[j][1])
        row.end_line = tokens[j][0]
        j += 1
    row.cells[role] = "\n".join(parts)
    return j


def _cells_columns(tokens: list[tuple[int, str]], j: int, row: _Row, rest: list[str]) -> int:
    """The cells after the title, column by column, until the next row's code."""
    col = 0
    while col < len(rest) and j < len(tokens):
        role = rest[col]
        t_line, t = tokens[j]
        if not t:
            j += 1
            col += 1
        elif role in _NUMERIC_ROLES:
            if _parse_number(t) is not None:
                row.cells[role] = t
                row.end_line = t_line
                j += 1
            col += 1
        elif _is_code_like(t):
            break
        elif _parse_number(t) is not None:
            row.stray.append((t_line, t))
            j += 1
        else:
            j = _cells_text(tokens, j, row, role)
            col += 1
    return j


def _parse_cells(tokens: list[tuple[int, str]], start: int, body: int, roles: list[str]) -> _Table:
    warnings: list[AnnexWarning] = []
    header_line = tokens[start][0]
    before = [t for t in tokens[:start] if t[1]]
    if before:
        warnings.append(
            _skip_warning(before[0][0], before[-1][0], "trước dòng tiêu đề bảng", before[0][1])
        )
    columns = {role: tokens[start + i][1] for i, role in enumerate(roles)}
    rest = roles[2:]
    title_spans = bool(rest) and rest[0] in _NUMERIC_ROLES
    rows: list[_Row] = []
    j = body
    while (j := _skip_blank(tokens, j)) < len(tokens):
        line, cell = tokens[j]
        if not _is_code_like(cell) and _parse_number(cell) is not None:
            warnings.append(AnnexWarning(line, f"Ô số “{cell}” không thuộc dòng nào — bỏ qua"))
            j += 1
            continue
        row, j = _cells_row_head(tokens, j)
        if title_spans:
            j = _cells_title_rest(tokens, j, row)
        j = _cells_columns(tokens, j, row, rest)
        rows.append(row)
        if _is_total(row.get(TITLE)) and any(r.get(CODE) for r in rows[:-1]):
            tail = [t for t in tokens[j:] if t[1]]
            if tail:
                warnings.append(_skip_warning(tail[0][0], tail[-1][0], "sau dòng tổng", tail[0][1]))
            break
    return _Table("cells", header_line, columns, rows, warnings, [])


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


def _is_numbering_row(row: _Row) -> bool:
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
        return f": {vn_decimal(_norm_decimal(value))} điểm"

    return ["\n".join(_MAX_AS_POINTS.sub(points, ln) for ln in g.split("\n")) for g in guidance]


def _number_guess(raw: str) -> str:
    """The best guess for a number cell holding text: its one number ("2 điểm" → 2)."""
    numbers = re.findall(r"\d+(?:[.,]\d+)?", raw)
    if len(numbers) == 1:
        value = _parse_number(numbers[0])
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

    def _max(self, row: _Row) -> Decimal | None:
        raw = row.get(MAX)
        if not _one_line(raw):
            return None
        value = _parse_number(raw)
        label = self.columns.get(MAX, _ROLE_LABELS[MAX])
        if value is None:
            raise _RowError(
                f"cột “{label}” phải là số, gặp “{_preview(raw)}”",
                f"column “{label}” must hold a number, found “{_preview(raw)}”",
                row.line,
                column=label,
                expected="một số điểm (vd. 2 hoặc 0,5)",
                found=_one_line(raw),
                guess=_number_guess(raw),
            )
        self._check_places(value, label, row.line)
        return value

    def _score(self, row: _Row, role: str) -> tuple[Decimal | None, str]:
        raw = _one_line(row.get(role))
        if not raw:
            return None, ""
        value = _parse_number(raw)
        label = self.columns.get(role, _ROLE_LABELS[role])
        if value is not None:
            self._check_places(value, label, row.line)
            return value, ""
        if any(ch.isdigit() for ch in raw):
            raise _RowError(
                f"cột “{label}” phải là số hoặc ghi chú chữ, gặp “{_preview(raw)}”",
                f"column “{label}” must hold a number or a text note, found “{_preview(raw)}”",
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

    def add(self, row: _Row) -> bool:
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

    def _add(self, row: _Row) -> bool:
        for line, text in row.stray:
            self.warnings.append(
                AnnexWarning(line, f"Ô “{_preview(text)}” không thuộc cột nào của bảng — bỏ qua")
            )
        code_text = _one_line(row.get(CODE))
        title_text = html_to_text(row.get(TITLE))
        if row.is_empty():
            return True
        if not self.drafts and _is_numbering_row(row):
            self.notes.append(AnnexWarning(row.line, "Dòng đánh số cột (1, 2, 3… hoặc a, b, c…)"))
            return True
        first_title_line = title_text.split("\n")[0] if title_text else ""
        # A total may carry an area-like numeral (Quảng Điền: "IV | CỘNG ĐIỂM I + II+III"),
        # never a criterion's dotted code.
        if _is_total(code_text) or (
            _is_total(first_title_line)
            and (not code_text or _roman_value(_clean_code(code_text)) is not None)
        ):
            return self._total(row, code_text if _is_total(code_text) else first_title_line)
        section = _SECTION.match(code_text) if code_text else _SECTION.match(first_title_line)
        if section and (not code_text or not _is_code_like(code_text)):
            self._section(row, section, title_text)
            return True
        code = _clean_code(row.get(CODE))
        if _LETTER.fullmatch(code) and self.current is not None and self.current.form == "num":
            self._lettered(row, code, title_text)
        elif code and not _BULLET.fullmatch(code):
            self._coded(row, code, title_text)
        else:
            self._uncoded(row, title_text)
        return True

    def _total(self, row: _Row, label: str) -> bool:
        self_score, _ = self._score(row, SELF)
        appraised, _ = self._score(row, APPRAISED)
        if self.total is not None:
            self.warnings.append(
                AnnexWarning(
                    row.line,
                    f"Dòng tổng thứ hai “{_preview(label)}” — bỏ qua "
                    f"(đã có ở dòng {self.total.line})",
                )
            )
        else:
            self.total = StatedTotal(row.line, label, self._max(row), self_score, appraised)
        return not self.drafts

    def _section(self, row: _Row, match: re.Match[str], title_text: str) -> None:
        word = " ".join(match.group(1).upper().split())
        code = f"{word} {match.group(2).upper()}"
        title = " ".join(match.group(3).split()) or (
            title_text.split("\n")[0] if title_text else ""
        )
        for other in self.roots:
            if other.written == code:
                raise _RowError(
                    f"mục “{code}” trùng với dòng {other.line}",
                    f"section “{code}” repeats line {other.line}",
                    row.line,
                    column=self._label(CODE),
                    expected="mã mục chưa dùng",
                    found=code,
                    guess=f"có lẽ gõ nhầm mã (dòng {other.line} đã dùng “{code}”)",
                )
        draft = _Draft(code, row.line, title, "section", None)
        self._fill(draft, row)
        self.roots.append(draft)
        self.drafts.append(draft)
        self.section, self.area, self.scope, self.current = draft, None, {}, draft

    def _coded(self, row: _Row, code: str, title_text: str) -> None:
        roman = _roman_value(code)
        lines = title_text.split("\n") if title_text else [""]
        if roman is not None:
            parent = self.section
            siblings = parent.children if parent else self.roots
            for other in siblings:
                if other.written == code:
                    raise _RowError(
                        f"mã “{code}” trùng với dòng {other.line}",
                        f"code “{code}” repeats line {other.line}",
                        row.line,
                        column=self._label(CODE),
                        expected="mã lĩnh vực chưa dùng",
                        found=code,
                        guess=f"có lẽ gõ nhầm mã (dòng {other.line} đã dùng “{code}”)",
                    )
            draft = _Draft(code, row.line, lines[0], "roman", parent, roman=roman)
            self.area, self.scope = draft, {}
        elif _DOTTED.fullmatch(code):
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
                raise _RowError(
                    f"mã “{code}” trùng với dòng {self.scope[code].line}",
                    f"code “{code}” repeats line {self.scope[code].line}",
                    row.line,
                    column=self._label(CODE),
                    expected="mã tiêu chí chưa dùng",
                    found=code,
                    guess=f"có lẽ gõ nhầm mã (dòng {self.scope[code].line} đã dùng “{code}”)",
                )
            draft = _Draft(code, row.line, lines[0], "num", parent)
            self.scope[code] = draft
        else:
            written = _one_line(row.get(CODE))
            if self.current is not None and len(written) > 12:
                guess = f"chữ nằm nhầm cột mã số: có lẽ là nội dung của mục {self.current.written}"
            elif re.fullmatch(r"\d+(\.+\d+)+\.?", written):
                guess = f"có lẽ là mã “{re.sub(r'[.]+', '.', written).rstrip('.')}”"
            else:
                guess = ""
            raise _RowError(
                f"mã số “{_preview(row.get(CODE))}” không hợp lệ (cần I, II…, 1, 1.2, 5.2.3.1)",
                f"invalid code “{_preview(row.get(CODE))}” (expected I, II…, 1, 1.2, 5.2.3.1)",
                row.line,
                column=self._label(CODE),
                expected="mã số I, II…, 1, 1.2, 5.2.3.1",
                found=written,
                guess=guess,
            )
        if not draft.title:
            self.warnings.append(AnnexWarning(row.line, f"Mục {code} không có tên"))
        draft.guidance.extend(lines[1:])
        self._fill(draft, row)
        if draft.parent is None:
            self.roots.append(draft)
        else:
            draft.parent.children.append(draft)
        self.drafts.append(draft)
        self.current = draft

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

    def _lettered(self, row: _Row, letter: str, title_text: str) -> None:
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
                raise _RowError(
                    f"mã “{letter}” trùng với dòng {other.line} (dưới {parent.written})",
                    f"code “{letter}” repeats line {other.line} (under {parent.written})",
                    row.line,
                    column=self._label(CODE),
                    expected="chữ cái chưa dùng dưới cùng tiêu chí",
                    found=letter,
                    guess=f"có lẽ gõ nhầm chữ (dòng {other.line} đã dùng “{letter}”)",
                )
        lines = title_text.split("\n") if title_text else [""]
        draft = _Draft(letter, row.line, lines[0], "num", parent, letter=True)
        draft.guidance.extend(lines[1:])
        self._fill(draft, row)
        parent.children.append(draft)
        self.drafts.append(draft)
        self.current = draft

    def _label(self, role: str) -> str:
        return self.columns.get(role, _ROLE_LABELS[role])

    def _parent_guess(self, parts: list[str]) -> str:
        for cut in range(len(parts) - 2, 0, -1):
            near = ".".join(parts[:cut])
            if near in self.scope:
                return f"có lẽ thuộc mục {near} (thiếu dòng {'.'.join(parts[:-1])})"
        if self.current is not None:
            return f"có lẽ thuộc mục {self.current.written} ở trên"
        return ""

    def _fill(self, draft: _Draft, row: _Row) -> None:
        draft.stated_max = self._max(row)
        draft.stated_self, draft.self_note = self._score(row, SELF)
        draft.stated_appraised, draft.appraised_note = self._score(row, APPRAISED)
        self._append_texts(draft, row)

    def _append_texts(self, draft: _Draft, row: _Row) -> None:
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

    def _misplaced_agency(self, draft: _Draft, row: _Row, text: str) -> None:
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
                f"Cột “{label}” của {draft.written} ghi “{_preview(text)}”, không phải tên cơ "
                f"quan: chuyển sang cột “{moved}” — cần kiểm tra",
            )
        )

    def _uncoded(self, row: _Row, title_text: str) -> None:
        draft = self.current
        if draft is None:
            text = title_text or row.text()
            self.warnings.append(
                AnnexWarning(
                    row.line,
                    f"Dòng không có mã và chưa có tiêu chí nào ở trên — bỏ qua: “{_preview(text)}”",
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
            label = self.columns.get(role, _ROLE_LABELS[role])
            written = _one_line(row.get(role))
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
            label = self.columns.get(AGENCY, _ROLE_LABELS[AGENCY])
            self.warnings.append(
                AnnexWarning(
                    row.line,
                    f"Cột “{label}” có nội dung trên dòng không có mã: ghép vào mục "
                    f"{draft.written} — cần kiểm tra (“{_preview(draft.agency[-1])}”)",
                )
            )

    def _option_in_title(
        self, title_text: str, draft: _Draft, line: int
    ) -> tuple[str, Decimal | None]:
        """A level written "label: points" with no "điểm" and no points column ("Ban hành kịp
        thời: 1", Cà Mau 2013): an option when the number is within the criterion's max."""
        match = _BARE_OPTION.fullmatch(title_text) if "\n" not in title_text else None
        value = _parse_number(match.group("points")) if match else None
        if match is None or value is None or draft.stated_max is None:
            return title_text, None
        if value > draft.stated_max or _NOT_A_LEVEL.search(match.group("label")):
            return title_text, None  # "Số hiệu: 12", "Năm: 2" — a reference, not a level
        self.notes.append(
            AnnexWarning(
                line,
                f"“{_preview(title_text)}”: mức {vn_decimal(value)} điểm của {draft.written} "
                "(số sau dấu hai chấm)",
            )
        )
        return match.group("label"), value

    # result ----------------------------------------------------------------------------------

    def result(self) -> tuple[tuple[Node, ...], tuple[ImportedNode, ...]]:
        if not self.drafts:
            # Nothing placed: the table is unreadable; say which rows were left out and why.
            why = "; ".join(f"dòng {r.line}: {r.message}" for r in self.skipped[:3])
            raise _error(
                "bảng không có dòng tiêu chí nào có mã số" + (f" (bỏ qua {why})" if why else ""),
                "the table has no row with a criterion code",
                self.skipped[0].line if self.skipped else None,
            )
        for d in list(self.drafts):
            self._fold_numbered_levels(d)
        codes = self._codes()
        entries: dict[int, ImportedNode] = {}

        def build(d: _Draft, depth: int) -> Node:
            children = tuple(
                build(c, depth + (0 if d.form == "section" else 1)) for c in d.children
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
                            f"Mức “{_preview(label)}” nằm dưới mục {codes[id(d)]} vốn có tiêu chí "
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
                    agency="\n".join(d.agency),
                    rule=rule,
                    children=children,
                )
            except ValidationError as exc:
                problem = exc.errors()[0].get("msg", str(exc))
                raise _error(
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

        nodes = tuple(build(d, 0) for d in self.roots)
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
                raise _error(
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


def _build(table: _Table) -> AnnexImport:
    builder = _Builder(table.columns)
    warnings = list(table.warnings)
    notes = list(table.notes)
    rows = table.rows
    for pos, row in enumerate(rows):
        if not builder.add(row):
            tail = [r for r in rows[pos + 1 :] if not r.is_empty()]
            if tail:
                builder.warnings.append(
                    _skip_warning(tail[0].line, tail[-1].end_line, "sau dòng tổng", tail[0].text())
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

_NO_HEADER = (
    "không tìm thấy dòng tiêu đề của bảng (cần các cột Mã số/STT, Nội dung/Tiêu chí và "
    "Điểm tối đa/Điểm chuẩn)",
    "no table header found (a code, a title and a max points column are required)",
)


def check_size(size: int) -> None:
    """Refuses empty files and files above ``MAX_BYTES`` (call before reading them)."""
    if size == 0:
        raise _error("tệp rỗng", "the file is empty")
    if size > MAX_BYTES:
        raise _error(
            f"tệp quá lớn ({vn_decimal(Decimal(size) / (1024 * 1024), 1)} MB, "
            f"tối đa {MAX_BYTES // 1024 // 1024} MB)",
            f"the file is too large ({size} bytes, at most {MAX_BYTES})",
        )


def decode_text(data: bytes) -> str:
    """Text of an exported table: UTF-8 (with or without BOM), UTF-16 (Excel "Unicode text")."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _error("tệp UTF-16 hỏng", "broken UTF-16 text") from exc
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise _error(
                "tệp không phải văn bản UTF-8 (hãy lưu lại dưới dạng UTF-8 hoặc XLSX)",
                "the file is not UTF-8 text (save it as UTF-8 or XLSX)",
                line,
            ) from exc
    if "\x00" in text:
        raise _error("tệp không phải văn bản", "the file is not text", None)
    return text


def import_annex_text(text: str, fmt: Literal["tsv", "csv"] | None = None) -> AnnexImport:
    """Imports an annex table from text: TSV (or one cell per line) or CSV; None detects."""
    if not text.strip():
        raise _error("tệp rỗng", "the file is empty")
    table: _Table | None = None
    if fmt in (None, "tsv"):
        table = _grid_table(_text_records(text, "\t"), "tsv") if "\t" in text else None
        if table is None:
            table = _cells_table(text)
    if table is None and fmt in (None, "csv"):
        for delimiter in (",", ";"):
            if delimiter in text:
                table = _grid_table(_text_records(text, delimiter), "csv")
                if table is not None:
                    break
    if table is None:
        raise _error(*_NO_HEADER, None)
    return _build(table)


def _xlsx_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        d = Decimal(repr(value))
        exponent = d.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -6:
            d = d.quantize(Decimal("0.000001"))
        return f"{_norm_decimal(d):f}"
    return str(value)


def _xlsx_table(data: bytes) -> _Table:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken archive
        raise _error(
            f"không đọc được tệp XLSX ({type(exc).__name__})",
            f"cannot read the XLSX file ({type(exc).__name__}: {exc})",
        ) from exc
    try:
        for sheet in workbook.worksheets:
            records = [
                (number, number, [_xlsx_cell(v) for v in values])
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            ]
            table = _grid_table(records, "xlsx")
            if table is not None:
                if len(workbook.worksheets) > 1:
                    table.notes.insert(
                        0, AnnexWarning(None, f"Đọc bảng ở trang tính “{sheet.title}”")
                    )
                return table
    finally:
        workbook.close()
    raise _error(*_NO_HEADER, None)


def import_annex(data: bytes, fmt: AnnexFormat | None = None) -> AnnexImport:
    """Imports an annex table from a file's bytes; ``fmt`` None detects it (XLSX by zip magic)."""
    check_size(len(data))
    if fmt == "xlsx" or (fmt is None and data.startswith(b"PK\x03\x04")):
        return _build(_xlsx_table(data))
    return import_annex_text(decode_text(data), fmt)
