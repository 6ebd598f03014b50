"""Reading an annex table's rows: the header and its columns, codes, and the three physical
layouts (TSV/CSV grids, "one cell per line" text, XLSX) turned into rows of cells by role. The
tree is built from these rows by ``frameworks.annex``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Literal

from core.vn import vn_decimal
from frameworks.annex_text import fold, html_to_text, norm_decimal, one_line, parse_number, preview

__all__ = [
    "AGENCY",
    "APPRAISED",
    "BULLET",
    "CODE",
    "COMMENT",
    "DOTTED",
    "EVIDENCE",
    "EXPLANATION",
    "LETTER",
    "MAX",
    "MAX_BYTES",
    "METHOD",
    "NO_HEADER",
    "NUMERIC_ROLES",
    "ROLE_LABELS",
    "SECTION",
    "SELF",
    "TITLE",
    "AnnexError",
    "AnnexFormat",
    "AnnexWarning",
    "Row",
    "Table",
    "annex_error",
    "cells_table",
    "check_size",
    "clean_code",
    "decode_text",
    "grid_table",
    "is_code_like",
    "is_total",
    "roman_value",
    "skip_warning",
    "text_records",
    "xlsx_table",
]

MAX_BYTES = 50 * 1024 * 1024
"""Files above this size are refused before any parsing."""

AnnexFormat = Literal["tsv", "csv", "xlsx"]

CODE, TITLE, MAX, SELF, APPRAISED = "code", "title", "max", "self", "appraised"
EXPLANATION, EVIDENCE, AGENCY, COMMENT = "explanation", "evidence", "agency", "comment"
METHOD = "method"  # "Cách xác định và tính điểm": the scoring wording in its own column
NUMERIC_ROLES = (MAX, SELF, APPRAISED)
ROLE_LABELS = {
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


def annex_error(vi: str, en: str, line: int | None = None) -> AnnexError:
    return AnnexError(f"{vi} / {en}", line)


@dataclass(frozen=True)
class AnnexWarning:
    """Something the importer skipped or could not place, with its line (None: the whole file)."""

    line: int | None
    message: str


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
DOTTED = re.compile(r"\d{1,3}(?:\.\d{1,3})*")
BULLET = re.compile(r"[-–—•*+]+")
SECTION = re.compile(
    r"^\s*(NỘI\s+DUNG|PHẦN)\s+([IVXLCDM]+|\d+|[A-Z])(?=$|[\s.:\-–)])[\s.:\-–)]*(.*)$",
    re.IGNORECASE | re.DOTALL,
)
LETTER = re.compile(r"[a-zđ]")  # "a", "b" alone in the code column: lettered sub-criteria
_TOTAL_PREFIXES = ("tong cong", "cong tong", "tong diem", "cong diem", "tong so diem")


def clean_code(text: str) -> str:
    return "".join(html_to_text(text).split()).rstrip(".")


def roman_value(code: str) -> int | None:
    if code and _ROMAN.fullmatch(code):
        values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
        total = 0
        for i, ch in enumerate(code):
            v = values[ch]
            total += -v if i + 1 < len(code) and values[code[i + 1]] > v else v
        return total
    return None


def is_code_like(text: str) -> bool:
    code = clean_code(text)
    if not code:
        return False
    if roman_value(code) is not None:
        return True
    return bool(DOTTED.fullmatch(code)) and len(code.split(".")[0]) <= 2


def is_total(text: str) -> bool:
    # "Tổng điểm", "Cộng tổng", "Cộng điểm I + II + III" are totals; "Tổng hợp kết quả…" is not.
    name = fold(text)
    return name == "tong" or name.startswith(_TOTAL_PREFIXES)


# --- rows ------------------------------------------------------------------------------------


@dataclass
class Row:
    line: int
    end_line: int
    cells: dict[str, str]
    stray: list[tuple[int, str]] = field(default_factory=list)

    def get(self, role: str) -> str:
        return self.cells.get(role, "")

    def text(self) -> str:
        """The first non-empty cell, for messages."""
        for value in self.cells.values():
            if one_line(value):
                return value
        return self.stray[0][1] if self.stray else ""

    def is_empty(self) -> bool:
        return not any(one_line(v) for v in self.cells.values()) and not self.stray


@dataclass
class Table:
    layout: Literal["tsv", "csv", "xlsx", "cells"]
    header_line: int
    columns: dict[str, str]
    rows: list[Row]
    warnings: list[AnnexWarning]
    notes: list[AnnexWarning]


def skip_warning(first: int, last: int, where: str, sample: str) -> AnnexWarning:
    span = f"dòng {first}" if first == last else f"dòng {first}–{last}"
    return AnnexWarning(first, f"Bỏ qua {span} {where} (bắt đầu: “{preview(sample)}”)")


def grid_table(
    records: Sequence[tuple[int, int, Sequence[str]]],
    layout: Literal["tsv", "csv", "xlsx"],
) -> Table | None:
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
            skip_warning(
                first[0],
                before[-1][1],
                "trước dòng tiêu đề bảng",
                next(c for c in first[2] if c.strip()),
            )
        )
    columns = {role: one_line(header_cells[idx]) for idx, role in roles.items()}
    for idx, cell in enumerate(header_cells):
        if idx not in roles and one_line(cell):
            notes.append(
                AnnexWarning(header_line, f"Cột “{preview(cell)}” không thuộc mẫu — bỏ qua")
            )
    width = len(header_cells)
    header_key = [fold(c) for c in header_cells]
    rows: list[Row] = []
    rest = records[header_at + 1 :]
    for pos, (line, end_line, cells) in enumerate(rest):
        if not any(c.strip() for c in cells):
            continue
        if layout != "xlsx" and len(cells) == 1 and width > 1:
            # A line without any separator is prose after the table (the seed's assignment list).
            tail = [r for r in rest[pos:] if any(c.strip() for c in r[2])]
            warnings.append(skip_warning(line, tail[-1][1], "sau bảng", cells[0]))
            break
        if [fold(c) for c in cells[:width]] == header_key:
            notes.append(AnnexWarning(line, "Dòng tiêu đề lặp lại (sang trang) — bỏ qua"))
            continue
        row = Row(
            line, end_line, {role: cells[idx] for idx, role in roles.items() if idx < len(cells)}
        )
        for idx in range(width, len(cells)):
            if cells[idx].strip():
                row.stray.append((line, cells[idx]))
        rows.append(row)
    return Table(layout, header_line, columns, rows, warnings, notes)


def text_records(text: str, delimiter: str) -> list[tuple[int, int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records: list[tuple[int, int, list[str]]] = []
    last = 0
    try:
        for cells in reader:
            records.append((last + 1, reader.line_num, cells))
            last = reader.line_num
    except csv.Error as exc:
        raise annex_error(
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
                raise annex_error(
                    "bảng mỗi ô một dòng phải bắt đầu bằng cột Mã số/STT rồi cột Nội dung",
                    "a one-cell-per-line table must start with the code then the title column",
                    tokens[start][0],
                )
            return start, pos, roles
    return None


def cells_table(text: str) -> Table | None:
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
    return bool(text) and not is_code_like(text) and parse_number(text) is None


def _skip_blank(tokens: list[tuple[int, str]], j: int) -> int:
    while j < len(tokens) and not tokens[j][1]:
        j += 1
    return j


def _cells_row_head(tokens: list[tuple[int, str]], j: int) -> tuple[Row, int]:
    """A row's code and title cells (a row may start at its title), and the next position."""
    line, cell = tokens[j]
    row = Row(line, line, {})
    if not is_code_like(cell):
        row.cells[TITLE] = cell
        return row, j + 1
    row.cells[CODE] = cell
    j += 1
    if j < len(tokens):
        row.cells[TITLE] = tokens[j][1]
        row.end_line = tokens[j][0]
        j += 1
    return row, j


def _cells_title_rest(tokens: list[tuple[int, str]], j: int, row: Row) -> int:
    """Joins a title split over several cells (before the first number column) to the row."""
    while j < len(tokens) and _is_text_cell(tokens[j][1]):
        row.cells[TITLE] = f"{row.get(TITLE)} {tokens[j][1]}".strip()
        row.end_line = tokens[j][0]
        j += 1
    return j


def _cells_text(tokens: list[tuple[int, str]], j: int, row: Row, role: str) -> int:
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


def _cells_columns(tokens: list[tuple[int, str]], j: int, row: Row, rest: list[str]) -> int:
    """The cells after the title, column by column, until the next row's code."""
    col = 0
    while col < len(rest) and j < len(tokens):
        role = rest[col]
        t_line, t = tokens[j]
        if not t:
            j += 1
            col += 1
        elif role in NUMERIC_ROLES:
            if parse_number(t) is not None:
                row.cells[role] = t
                row.end_line = t_line
                j += 1
            col += 1
        elif is_code_like(t):
            break
        elif parse_number(t) is not None:
            row.stray.append((t_line, t))
            j += 1
        else:
            j = _cells_text(tokens, j, row, role)
            col += 1
    return j


def _parse_cells(tokens: list[tuple[int, str]], start: int, body: int, roles: list[str]) -> Table:
    warnings: list[AnnexWarning] = []
    header_line = tokens[start][0]
    before = [t for t in tokens[:start] if t[1]]
    if before:
        warnings.append(
            skip_warning(before[0][0], before[-1][0], "trước dòng tiêu đề bảng", before[0][1])
        )
    columns = {role: tokens[start + i][1] for i, role in enumerate(roles)}
    rest = roles[2:]
    title_spans = bool(rest) and rest[0] in NUMERIC_ROLES
    rows: list[Row] = []
    j = body
    while (j := _skip_blank(tokens, j)) < len(tokens):
        line, cell = tokens[j]
        if not is_code_like(cell) and parse_number(cell) is not None:
            warnings.append(AnnexWarning(line, f"Ô số “{cell}” không thuộc dòng nào — bỏ qua"))
            j += 1
            continue
        row, j = _cells_row_head(tokens, j)
        if title_spans:
            j = _cells_title_rest(tokens, j, row)
        j = _cells_columns(tokens, j, row, rest)
        rows.append(row)
        if is_total(row.get(TITLE)) and any(r.get(CODE) for r in rows[:-1]):
            tail = [t for t in tokens[j:] if t[1]]
            if tail:
                warnings.append(skip_warning(tail[0][0], tail[-1][0], "sau dòng tổng", tail[0][1]))
            break
    return Table("cells", header_line, columns, rows, warnings, [])


NO_HEADER = (
    "không tìm thấy dòng tiêu đề của bảng (cần các cột Mã số/STT, Nội dung/Tiêu chí và "
    "Điểm tối đa/Điểm chuẩn)",
    "no table header found (a code, a title and a max points column are required)",
)


def check_size(size: int) -> None:
    """Refuses empty files and files above ``MAX_BYTES`` (call before reading them)."""
    if size == 0:
        raise annex_error("tệp rỗng", "the file is empty")
    if size > MAX_BYTES:
        raise annex_error(
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
            raise annex_error("tệp UTF-16 hỏng", "broken UTF-16 text") from exc
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise annex_error(
                "tệp không phải văn bản UTF-8 (hãy lưu lại dưới dạng UTF-8 hoặc XLSX)",
                "the file is not UTF-8 text (save it as UTF-8 or XLSX)",
                line,
            ) from exc
    if "\x00" in text:
        raise annex_error("tệp không phải văn bản", "the file is not text", None)
    return text


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
        return f"{norm_decimal(d):f}"
    return str(value)


def xlsx_table(data: bytes) -> Table:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken archive
        raise annex_error(
            f"không đọc được tệp XLSX ({type(exc).__name__})",
            f"cannot read the XLSX file ({type(exc).__name__}: {exc})",
        ) from exc
    try:
        for sheet in workbook.worksheets:
            records = [
                (number, number, [_xlsx_cell(v) for v in values])
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            ]
            table = grid_table(records, "xlsx")
            if table is not None:
                if len(workbook.worksheets) > 1:
                    table.notes.insert(
                        0, AnnexWarning(None, f"Đọc bảng ở trang tính “{sheet.title}”")
                    )
                return table
    finally:
        workbook.close()
    raise annex_error(*NO_HEADER, None)
