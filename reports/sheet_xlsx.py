"""A unit's sheet as an XLSX to fill in offline, and the reading of the filled-in file.

The workbook has one row per criterion (leaf) with the rule's inputs as columns; the sheet is
protected and only the cells the person may change are unlocked (their criteria's inputs and
explanation, or for a council the inputs and comment of its agency's criteria). Reading it back
checks every row and names sheet, row, column and reason in Vietnamese; nothing is written here
(``actions.sheet_xlsx`` applies the rows through the edit gate).

Formula injection: every text cell is written as a string (``data_type = "s"``), never as a
formula, whatever it starts with; a formula typed into an input cell is refused, one typed into
the explanation is kept as its literal text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import ValidationError

from core.errors import Invalid
from core.vn import parse_vn_decimal
from models.framework import (
    ChecklistRule,
    CountedRule,
    DerivedRule,
    LevelRateRule,
    LevelsRule,
    Node,
    SurveyRule,
)
from models.inputs import CriterionInput
from reports.data import num
from scoring.rules import RuleInputError, evaluate, input_fields
from services.sheet import LoadedSheet
from services.transitions.shared import outside_source

__all__ = [
    "COLUMNS",
    "CellError",
    "ParsedRow",
    "SheetUpload",
    "parse_sheet",
    "sheet_workbook",
]

MARKER = "appraisal-sheet-v1"
META = "_meta"
FIRST_ROW = 4
MAX_ROWS = 5000
EDIT_FILL = PatternFill("solid", fgColor="FFFFFF")
LOCKED_FILL = PatternFill("solid", fgColor="EDEDED")
BOLD = Font(name="Times New Roman", bold=True, size=12)
PLAIN = Font(name="Times New Roman", size=12)

# (input field, column heading); the order of the columns after "Cách nhập".
COLUMNS: tuple[tuple[str, str], ...] = (
    ("not_applicable", "Không phát sinh (x)"),
    ("level", "Mức đạt được (khóa)"),
    ("rate", "Tỷ lệ (%)"),
    ("numerator", "Số đạt (tử số)"),
    ("denominator", "Tổng số (mẫu số)"),
    ("count", "Số lượng"),
    ("failed", "Số nội dung không đạt"),
    ("checked", "Các mục đạt (khóa, cách nhau dấu phẩy)"),
    ("counts", "Số lượng theo loại (khóa=số; …)"),
    ("answers", "Phiếu điều tra (mức=số phiếu; …)"),
    ("score", "Điểm chấm trực tiếp"),
    ("value", "Giá trị (hội đồng nhập, ghi nguồn ở ý kiến)"),
)
_FIXED = ("Mã", "Tiêu chí", "Điểm tối đa", "Cách nhập")
_INPUT_COL = {key: len(_FIXED) + 1 + i for i, (key, _h) in enumerate(COLUMNS)}
_TEXT_COL = len(_FIXED) + len(COLUMNS) + 1
_SCORE_COL = _TEXT_COL + 1
_REASON_COL = _TEXT_COL + 2
_INTS = frozenset({"numerator", "denominator", "count", "failed"})
_DECIMALS = frozenset({"rate", "score", "value"})
_LIMIT = Decimal(1_000_000)  # no input of any rule comes near; bounds outside numbers


@dataclass(frozen=True)
class CellError:
    """One refused cell (or row): where, and why in Vietnamese."""

    sheet: str
    row: int
    column: str  # the column letter
    heading: str
    reason: str

    def message(self) -> str:
        """ "Trang “Tự chấm điểm”, dòng 7, cột G (Tỷ lệ (%)): …"."""
        return (
            f"Trang “{self.sheet}”, dòng {self.row}, cột {self.column} ({self.heading}): "
            f"{self.reason}"
        )


@dataclass(frozen=True)
class ParsedRow:
    """A row that changes a criterion: the new inputs (None: unchanged) and text."""

    row: int
    code: str
    inputs: CriterionInput | None
    text: str | None


@dataclass
class SheetUpload:
    """What a filled-in workbook asks for: the changed rows, or the errors."""

    mode: str
    changes: list[ParsedRow] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)


def _heading(col: int) -> str:
    if col <= len(_FIXED):
        return _FIXED[col - 1]
    if col < _TEXT_COL:
        return COLUMNS[col - len(_FIXED) - 1][1]
    return ("Giải trình / Ý kiến", "Điểm hiện tại", "Cách tính điểm")[col - _TEXT_COL]


def _hint(node: Node) -> str:
    rule = node.rule
    if isinstance(rule, LevelsRule | LevelRateRule):
        return "; ".join(f"{o.key}: {o.label} ({num(o.points)} đ)" for o in rule.options)
    if isinstance(rule, ChecklistRule | CountedRule):
        return "; ".join(f"{o.key}: {o.label} ({num(o.points)} đ)" for o in rule.items)
    if isinstance(rule, SurveyRule):
        return f"Thang điểm 1–{rule.scale}: mức=số phiếu"
    if isinstance(rule, DerivedRule):
        source = outside_source(node)
        return f"Hội đồng thẩm định nhập; nguồn: {source}" if source else "Do hệ thống tính"
    return ", ".join(_heading(_INPUT_COL[f]) for f in input_fields(node))


def _cell_text(key: str, value: Any) -> Any:
    if value is None or value == "" or value == [] or value == {}:
        return None
    if key == "not_applicable":
        return "x" if value else None
    if key == "checked":
        return ", ".join(str(v) for v in value)
    if key in ("counts", "answers"):
        return "; ".join(f"{k}={v}" for k, v in dict(value).items())
    if key in _DECIMALS:
        return Decimal(str(value))
    return value


def _text(ws: Worksheet, row: int, col: int, value: str) -> Cell:
    cell: Cell = ws.cell(row=row, column=col, value=value)
    cell.data_type = "s"  # a string, even when it starts with = + - @ (never a formula)
    cell.font = PLAIN
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def sheet_workbook(
    sheet: LoadedSheet,
    *,
    mode: str,
    rows: list[str],
    editable: frozenset[str],
    scores: Mapping[str, tuple[Decimal | None, str]],
) -> bytes:
    """The workbook of ``rows`` (leaf codes); cells of ``editable`` criteria unlocked."""
    wb = Workbook()
    ws = wb.worksheets[0]
    ws.title = "Tự chấm điểm" if mode == "self" else "Thẩm định"
    _text(ws, 1, 1, f"{sheet.unit.name} — {sheet.cycle.title}").font = BOLD
    _text(
        ws,
        2,
        1,
        "Chỉ nhập vào các ô màu trắng (tiêu chí được phân công cho bạn); ô xám được khóa. "
        "Số thập phân viết dấu phẩy hoặc dấu chấm đều được.",
    )
    text_head = "Giải trình" if mode == "self" else "Ý kiến thẩm định (ghi nguồn số liệu)"
    heads = [*_FIXED, *(h for _k, h in COLUMNS), text_head, "Điểm hiện tại", "Cách tính điểm"]
    for col, head in enumerate(heads, start=1):
        _text(ws, 3, col, head).font = BOLD
    for r, code in enumerate(rows, start=FIRST_ROW):
        node = sheet.framework.node(code)
        entry = sheet.entries.get(code)
        stored: dict[str, Any] = {}
        if entry is not None:
            stored = (entry.inputs if mode == "self" else entry.appraised_inputs) or {}
        text = ""
        if entry is not None:
            text = entry.explanation if mode == "self" else entry.appraisal_comment
        _text(ws, r, 1, code)
        _text(ws, r, 2, node.title)
        ws.cell(row=r, column=3, value=node.max_points)
        _text(ws, r, 4, _hint(node))
        may = code in editable
        fields = set(input_fields(node))
        for key, col in _INPUT_COL.items():
            value = _cell_text(key, stored.get(key))
            cell = _text(ws, r, col, value) if isinstance(value, str) else None
            if cell is None:
                cell = ws.cell(row=r, column=col, value=value)
            open_cell = may and key in fields
            cell.protection = Protection(locked=not open_cell)
            cell.fill = EDIT_FILL if open_cell else LOCKED_FILL
        cell = _text(ws, r, _TEXT_COL, text or "")
        cell.protection = Protection(locked=not may)
        cell.fill = EDIT_FILL if may else LOCKED_FILL
        score, reason = scores.get(code, (None, ""))
        ws.cell(row=r, column=_SCORE_COL, value=score)
        _text(ws, r, _REASON_COL, reason)
        for col in (1, 2, 3, 4, _SCORE_COL, _REASON_COL):
            ws.cell(row=r, column=col).fill = LOCKED_FILL
    widths = [9, 45, 9, 40] + [14] * len(COLUMNS) + [45, 10, 45]
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = ws.cell(row=FIRST_ROW, column=3)
    ws.protection.sheet = True  # locked cells stay read-only (no password: a guide, not a wall)
    meta = wb.create_sheet(META)
    for i, value in enumerate((MARKER, sheet.cycle.id, sheet.unit.code, mode), start=1):
        _text(meta, i, 1, value)
    meta.sheet_state = "hidden"
    meta.protection.sheet = True
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


class _Bad(Invalid):
    """A cell that cannot be read; the message is the Vietnamese reason (collected per cell)."""

    def __init__(self, reason: str) -> None:
        super().__init__("bad_cell", reason, reason, field="file")

    def __str__(self) -> str:
        return self.message_vi


def _is_formula(cell: Cell) -> bool:
    return bool(cell.data_type == "f")


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _Bad("cần một số")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # the shortest text of the float, not its binary tail
    else:
        try:
            number = parse_vn_decimal(str(value))
        except ValueError:
            raise _Bad(f"“{value}” không phải là số") from None
    if not number.is_finite() or abs(number) > _LIMIT:
        raise _Bad(f"số {value} nằm ngoài giới hạn cho phép")
    return number


def _whole(value: Any) -> int:
    number = _number(value)
    if number != number.to_integral_value() or number < 0:
        raise _Bad(f"cần một số nguyên không âm (đã nhập {value})")
    return int(number)


def _pairs(value: Any, *, int_keys: bool) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for part in str(value).replace("\n", ";").split(";"):
        if not part.strip():
            continue
        key, sep, count = part.partition("=")
        if not sep or not key.strip():
            raise _Bad(f"“{part.strip()}” phải có dạng khóa=số")
        name: Any = key.strip()
        if int_keys:
            name = _whole(name)
        out[name] = _whole(count.strip())
    return out


def _read(key: str, value: Any) -> Any:
    if key == "not_applicable":
        text = str(value).strip().lower()
        if text in ("x", "có", "co", "1", "true"):
            return True
        if text in ("", "không", "khong", "0", "false"):
            return False
        raise _Bad(f"ghi “x” nếu không phát sinh (đã nhập “{value}”)")
    if key in _INTS:
        return _whole(value)
    if key in _DECIMALS:
        return _number(value)
    if key == "checked":
        return tuple(p.strip() for p in str(value).split(",") if p.strip())
    if key == "counts":
        return _pairs(value, int_keys=False)
    if key == "answers":
        return _pairs(value, int_keys=True)
    return str(value).strip()  # level


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class _RowReader:
    ws: Worksheet
    row: int
    errors: list[CellError]

    def error(self, col: int, reason: str) -> None:
        self.errors.append(
            CellError(self.ws.title, self.row, get_column_letter(col), _heading(col), reason)
        )


def _row_inputs(reader: _RowReader, node: Node) -> dict[str, Any] | None:
    """The row's inputs (None when every input cell is empty)."""
    wanted = set(input_fields(node))
    found: dict[str, Any] = {}
    for key, col in _INPUT_COL.items():
        cell = reader.ws.cell(row=reader.row, column=col)
        if _is_formula(cell):
            reader.error(col, "ô chứa công thức; hãy nhập giá trị")
            continue
        if _empty(cell.value):
            continue
        if key not in wanted:
            reader.error(col, f"tiêu chí {node.code} không dùng cột này")
            continue
        try:
            found[key] = _read(key, cell.value)
        except _Bad as exc:
            reader.error(col, str(exc))
    return found or None


def _checked(reader: _RowReader, node: Node, raw: dict[str, Any], places: int) -> Any:
    try:
        inputs = CriterionInput.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first.get("loc", ("",))[0])
        reader.error(_INPUT_COL.get(key, _TEXT_COL), str(first.get("msg", "không hợp lệ")))
        return None
    try:
        evaluate(node, inputs, decimal_places=places)
    except RuleInputError as exc:
        reader.error(_INPUT_COL.get(exc.field, _INPUT_COL["score"]), exc.reason)
        return None
    return inputs


def parse_sheet(
    data: bytes,
    sheet: LoadedSheet,
    *,
    mode: str,
    editable: frozenset[str],
) -> SheetUpload:
    """The changes a filled-in workbook asks for, or every error (nothing is written here)."""
    upload = SheetUpload(mode=mode)
    try:
        wb = load_workbook(BytesIO(data), data_only=False)
    except Exception:  # not a workbook at all (zip, XML, …): one clear error
        upload.errors.append(CellError("—", 0, "—", "tệp", "không đọc được tệp XLSX"))
        return upload
    meta = wb[META] if META in wb.sheetnames else None
    expected = (MARKER, sheet.cycle.id, sheet.unit.code, mode)
    got = tuple(meta.cell(row=i, column=1).value for i in range(1, 5)) if meta else ()
    if got != expected:
        reason = "tệp không phải phiếu tải về cho đơn vị, kỳ đánh giá và vai trò này"
        upload.errors.append(CellError(META, 1, "A", "tệp", reason))
        return upload
    ws = wb.worksheets[0]
    if ws.max_row > MAX_ROWS:
        upload.errors.append(CellError(ws.title, MAX_ROWS, "A", "Mã", "tệp có quá nhiều dòng"))
        return upload
    leaves = {n.code: n for n in sheet.framework.leaves()}
    seen: set[str] = set()
    for r in range(FIRST_ROW, ws.max_row + 1):
        reader = _RowReader(ws, r, upload.errors)
        code_cell = ws.cell(row=r, column=1)
        code = "" if code_cell.value is None else str(code_cell.value).strip()
        if not code:
            continue
        node = leaves.get(code)
        if node is None or code in seen:
            reader.error(1, f"mã tiêu chí “{code}” không có trong bộ tiêu chí hoặc bị lặp")
            continue
        seen.add(code)
        before = len(upload.errors)
        raw = _row_inputs(reader, node)
        text_cell = ws.cell(row=r, column=_TEXT_COL)
        # A formula typed as an explanation is kept as its literal text, never evaluated.
        text = "" if text_cell.value is None else str(text_cell.value)
        entry = sheet.entries.get(code)
        stored = (entry.inputs if mode == "self" else entry.appraised_inputs) if entry else None
        stored_text = ""
        if entry is not None:
            stored_text = entry.explanation if mode == "self" else entry.appraisal_comment
        inputs = None
        if raw is not None and len(upload.errors) == before:
            inputs = _checked(reader, node, raw, sheet.framework.decimal_places)
        if len(upload.errors) > before:
            continue
        new_inputs = None
        if inputs is not None and inputs.to_json_dict() != (stored or {}):
            new_inputs = inputs
        new_text = text if text != (stored_text or "") else None
        if new_inputs is None and new_text is None:
            continue  # unchanged: not written, no audit row
        if code not in editable:
            who = "được phân công cho bạn" if mode == "self" else "thuộc cơ quan thẩm định của bạn"
            reader.error(1, f"tiêu chí {code} không {who}: không được sửa")
            continue
        upload.changes.append(ParsedRow(row=r, code=code, inputs=new_inputs, text=new_text))
    return upload
