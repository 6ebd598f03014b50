"""What a coordinator does to units: create one, or a whole list from a CSV/XLSX file — checked
row by row (errors by row and column), nothing stored if any row is wrong.

The file readers here are shared with ``actions.accounts`` (the list of people).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from openpyxl import load_workbook
from pydantic import ValidationError
from sqlmodel import Session

from core.errors import Invalid
from models.tables import Unit
from services.accounts import Principal
from services.units import UnitCreate, create_unit, get_unit_by_code

__all__ = [
    "RowError",
    "RowsRefused",
    "create_one",
    "fold",
    "import_units",
    "read_table",
    "unit_columns",
]

MAX_ROWS = 5000


@dataclass(frozen=True)
class RowError:
    """One wrong cell: the file's row number (the header is row 1), the column, the reason."""

    row: int
    column: str
    message: str


class RowsRefused(Invalid):
    """A list with wrong rows: nothing was stored (422); ``errors`` says where."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(
            "invalid_rows",
            f"Danh sách có {len(errors)} lỗi; chưa lưu dòng nào.",
            f"{len(errors)} errors in the list; nothing stored.",
            "file",
        )
        self.errors = tuple(errors)


def fold(text: str) -> str:
    """Lower case without diacritics, for matching headers: "Mã đơn vị" → "ma don vi"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9@]+", " ", plain.lower()).strip()


def read_table(data: bytes, filename: str) -> list[list[str]]:
    """The rows of a CSV (comma, semicolon or tab; UTF-8) or XLSX file, cells as text."""
    if not data:
        raise Invalid("empty_file", "Tệp rỗng.", "Empty file.", "file")
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
            raise Invalid("bad_file", "Không đọc được tệp XLSX.", "Bad XLSX.", "file") from exc
        sheet = book.worksheets[0]
        rows = [
            ["" if c is None else str(c).strip() for c in row]
            for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 1)
        ]
        book.close()
        return rows
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(
            "bad_file", "Tệp CSV cần mã hóa UTF-8.", "CSV must be UTF-8.", "file"
        ) from exc
    first = text.splitlines()[0] if text else ""
    delimiter = max((",", ";", "\t"), key=first.count)
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def columns(
    header: Sequence[str],
    wanted: Mapping[str, tuple[str, ...]],
    required: set[str],
    shown: Mapping[str, str],
) -> dict[str, int]:
    """Column index of each wanted field, by the header's words (Vietnamese or English)."""
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        name = fold(cell)
        for key, words in wanted.items():
            if key not in found and name in words:
                found[key] = i
    missing = [k for k in required if k not in found]
    if missing:
        names = ", ".join(f"“{shown[k]}”" for k in sorted(missing))
        raise RowsRefused([RowError(1, names, f"Thiếu cột {names} ở dòng tiêu đề.")])
    return found


# field → the column's name as errors show it, and the header words accepted (folded).
UNIT_COLUMN_VI = {
    "code": "Mã đơn vị",
    "name": "Tên đơn vị",
    "group": "Nhóm",
    "email": "Thư điện tử",
}
UNIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("ma don vi", "ma", "code", "unit code"),
    "name": ("ten don vi", "ten", "name", "unit name"),
    "group": ("nhom", "nhom xep hang", "group"),
    "email": ("thu dien tu", "email", "e mail", "thu dien tu van phong"),
}
GROUP_WORDS: dict[str, str] = {
    "xa": "commune",
    "xa phuong thi tran": "commune",
    "commune": "commune",
    "phong chuyen mon": "department",
    "phong": "department",
    "department": "department",
    "so ban nganh": "province_department",
}


def unit_columns(header: Sequence[str]) -> dict[str, int]:
    """Where the units list keeps each field (code and name required)."""
    return columns(header, UNIT_COLUMNS, {"code", "name"}, UNIT_COLUMN_VI)


def _cell(row: Sequence[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def _unit_in(row: Sequence[str], cols: Mapping[str, int], line: int) -> UnitCreate | RowError:
    group_text = _cell(row, cols.get("group"))
    values = {
        "code": _cell(row, cols["code"]),
        "name": _cell(row, cols["name"]),
        "group": GROUP_WORDS.get(fold(group_text), group_text) or "commune",
        "email": _cell(row, cols.get("email")),
    }
    try:
        return UnitCreate.model_validate(values)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        reason = {
            "code": "mã đơn vị chỉ gồm chữ, số, dấu chấm, gạch ngang, gạch dưới (tối đa 64)",
            "name": "cần tên đơn vị (tối đa 255 ký tự)",
            "group": "nhóm tối đa 64 ký tự",
            "email": "thư điện tử tối đa 255 ký tự",
        }.get(field, "giá trị không hợp lệ")
        return RowError(line, UNIT_COLUMN_VI.get(field, field), reason)


def create_one(*, session: Session, principal: Principal, unit_in: UnitCreate) -> Unit:
    """Creates one unit (audited); Conflict when the code is taken."""
    return create_unit(session, unit_in=unit_in, actor=principal.username)


def import_units(
    *, session: Session, principal: Principal, data: bytes, filename: str
) -> list[Unit]:
    """Creates every unit of the list, or none: RowsRefused lists every wrong cell."""
    rows = [r for r in read_table(data, filename) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise RowsRefused([RowError(1, "", "Danh sách không có dòng dữ liệu nào.")])
    if len(rows) > MAX_ROWS + 1:
        raise RowsRefused([RowError(MAX_ROWS + 2, "", f"Tối đa {MAX_ROWS} dòng.")])
    cols = unit_columns(rows[0])
    errors: list[RowError] = []
    wanted: list[UnitCreate] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        found = _unit_in(row, cols, line)
        if isinstance(found, RowError):
            errors.append(found)
            continue
        if found.code in seen:
            errors.append(RowError(line, "Mã đơn vị", f"trùng với dòng {seen[found.code]}"))
        elif get_unit_by_code(session, code=found.code) is not None:
            errors.append(RowError(line, "Mã đơn vị", f"đơn vị “{found.code}” đã có"))
        seen.setdefault(found.code, line)
        wanted.append(found)
    if errors:
        raise RowsRefused(errors)
    return [create_one(session=session, principal=principal, unit_in=u) for u in wanted]
