"""`appraisal sheet check FILE [--format tsv|csv|xlsx|yaml] [--json]` and
`appraisal sheet score FILE [--framework ID|YAML] [--json]`.

Reads a scoring table (an annex, or a filled-in self-assessment report), builds the tree and
computes the totals bottom-up from the leaves. Rows that cannot be read are left out and
reported. Exit 0 when everything agrees, 1 when there are findings (numbers that disagree, rows
left out), 2 only when the file cannot be read at all; ``--json`` always prints JSON (with an
``error`` object on exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.vn import vn_decimal
from frameworks.annex import AnnexError, AnnexImport, check_size, import_annex
from frameworks.sheet_check import Inconsistency, SheetCheck, check_sheet
from frameworks.sheet_score import SheetScoreReport, score_table
from frameworks.yaml_io import FrameworkYamlError, load_framework_yaml
from models.framework import Framework

__all__ = ["main", "register", "render_score", "render_summary", "run_check", "run_score"]

_FORMAT_NAMES = {
    "tsv": "TSV",
    "csv": "CSV",
    "xlsx": "XLSX",
    "cells": "mỗi ô một dòng",
    "yaml": "YAML",
}
_RULE_NAMES = {
    "levels": "chọn mức",
    "checklist": "danh sách mục",
    "deduction": "trừ điểm",
    "survey": "điều tra XHH",
    "manual": "chấm tay",
    "bands": "khung tỷ lệ",
    "proportional": "tỷ lệ × điểm tối đa",
    "level_rate": "mức × tỷ lệ",
    "counted": "đếm số lượng",
}


def register(subparsers: Any) -> None:
    """Adds `sheet check` to the main CLI (``subparsers`` from ``add_subparsers``)."""
    sheet = subparsers.add_parser("sheet", help="kiểm tra bảng điểm (phụ lục, báo cáo tự chấm)")
    sheet_sub = sheet.add_subparsers(dest="sheet_command", required=True)
    check = sheet_sub.add_parser(
        "check",
        help="đọc bảng, dựng cây tiêu chí và cộng điểm từ dưới lên",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    check.add_argument("file", help="tệp TSV, CSV, XLSX hoặc YAML")
    check.add_argument(
        "--format",
        choices=("tsv", "csv", "xlsx", "yaml"),
        default=None,
        help="định dạng tệp (mặc định: nhận ra từ nội dung)",
    )
    check.add_argument("--json", action="store_true", help="in kết quả dạng JSON")
    check.set_defaults(func=run_check)
    score = sheet_sub.add_parser(
        "score",
        help="nhập số liệu từ bảng đã chấm và so điểm của hệ thống với điểm ghi trong bảng",
    )
    score.add_argument("file", help="bảng đã chấm: TSV, CSV hoặc XLSX")
    score.add_argument(
        "--format", choices=("tsv", "csv", "xlsx"), default=None, help="định dạng tệp"
    )
    score.add_argument(
        "--framework",
        default=None,
        help="bộ tiêu chí: số hiệu trong cơ sở dữ liệu hoặc tệp YAML (mặc định: cây của bảng)",
    )
    score.add_argument("--json", action="store_true", help="in kết quả dạng JSON")
    score.set_defaults(func=run_score)


def run_check(args: argparse.Namespace) -> int:
    """Handler of `sheet check`: the summary or the JSON; 0 clean, 1 findings, 2 unreadable."""
    path = Path(args.file)
    try:
        check_size(path.stat().st_size)  # before reading a byte of a huge file
        data = path.read_bytes()
        result = check_sheet(data, args.format)
    except AnnexError as exc:
        return _unreadable(args, f"Không đọc được bảng {path}: {exc}", exc.line)
    except OSError as exc:
        return _unreadable(args, f"Không mở được tệp {path}: {exc.strerror or exc}", None)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print(render_summary(result, str(path)))
    return 1 if result.findings else 0


def _unreadable(args: argparse.Namespace, message: str, line: int | None) -> int:
    print(message, file=sys.stderr)
    if args.json:
        print(json.dumps({"error": {"message": message, "line": line}}, ensure_ascii=False))
    return 2


def _framework_arg(value: str | None, imported: AnnexImport) -> Framework:
    if value is None:
        return imported.framework(name="Bảng điểm", year=2000)
    path = Path(value)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return load_framework_yaml(path.read_text(encoding="utf-8"))
    if not value.isdigit():
        raise AnnexError(f"--framework cần số hiệu bộ tiêu chí hoặc tệp YAML, gặp “{value}”")
    # A stored framework: the database of the settings (APPRAISAL_DATABASE_URL).
    from core.db import make_engine, session_scope
    from core.settings import get_settings
    from models.tables import FrameworkRecord
    from services.frameworks import framework_of

    engine = make_engine(get_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            record = session.get(FrameworkRecord, int(value))
            if record is None:
                raise AnnexError(f"không có bộ tiêu chí số {value}")
            return framework_of(record)
    finally:
        engine.dispose()


def run_score(args: argparse.Namespace) -> int:
    """Handler of `sheet score`: 0 every score agrees, 1 differences, 2 unreadable."""
    path = Path(args.file)
    try:
        check_size(path.stat().st_size)
        imported = import_annex(path.read_bytes(), args.format)
        framework = _framework_arg(args.framework, imported)
    except (AnnexError, FrameworkYamlError) as exc:
        return _unreadable(args, f"Không đọc được {path}: {exc}", exc.line)
    except OSError as exc:
        return _unreadable(args, f"Không mở được tệp {path}: {exc.strerror or exc}", None)
    report = score_table(framework, imported)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(render_score(report, str(path)))
    return 1 if report.differences else 0


def render_score(report: SheetScoreReport, source: str) -> str:
    """Each leaf: written score, engine score, the inputs' source; then the totals."""
    lines = [f"Bảng: {source}", "Mã\tĐiểm ghi\tĐiểm hệ thống\tGhi chú"]
    for r in report.rows:
        mark = " ≠" if r.differs else ""
        lines.append(f"{r.code}\t{_n(r.written)}\t{_n(r.engine)}{mark}\t{r.note}")
    lines.append(
        f"Tổng điểm: ghi {_n(report.written_total)}, hệ thống {_n(report.engine_total)} "
        f"/ {_n(report.max_total)}"
    )
    lines.append(f"Khác nhau: {report.differences}")
    return "\n".join(lines)


def _n(value: Any) -> str:
    return "—" if value is None else vn_decimal(value)


def _describe(problem: Inconsistency) -> str:
    stated, computed = _n(problem.stated), _n(problem.computed)
    if problem.kind == "children_max_differs":
        return f"{problem.code}: điểm tối đa ghi {stated}, tổng điểm tối đa các mục con {computed}"
    if problem.kind == "stated_score_differs":
        return f"{problem.code}: điểm ghi {stated}, tổng điểm các mục con {computed}"
    if problem.kind in ("arithmetic_slip", "max_unreachable"):
        return (
            f"{problem.code}: {problem.note}" if problem.kind == "arithmetic_slip" else problem.note
        )
    if problem.kind == "score_exceeds_max":
        return f"{problem.code}: điểm {stated} vượt điểm tối đa {computed}"
    what = "điểm tối đa" if problem.code == "max_total" else "điểm tự chấm"
    return f"dòng tổng ghi {what} {stated}, cộng từ các tiêu chí được {computed}"


def render_summary(result: SheetCheck, source: str) -> str:
    """A readable Vietnamese report of a check."""
    leaves = [n for n in result.nodes if n.rule_kind] or result.nodes
    lines = [f"Bảng: {source}"]
    fmt = _FORMAT_NAMES.get(result.source_format, result.source_format)
    header = f", dòng tiêu đề {result.header_line}" if result.header_line else ""
    lines.append(f"Định dạng: {fmt}{header}")
    lines.append(f"Số mục: {len(result.nodes)} ({len(leaves)} tiêu chí chấm điểm)")
    lines.append(
        f"Số dòng: {result.rows_placed} đã đặt vào cây ({result.rows_guessed} theo phỏng đoán), "
        f"{len(result.skipped)} bỏ qua"
    )
    stated_max = (
        f" (dòng tổng ghi {_n(result.stated_max_total)})"
        if result.stated_max_total is not None
        else ""
    )
    lines.append(f"Tổng điểm tối đa: {_n(result.max_total)}{stated_max}")
    scored = sum(1 for n in result.nodes if n.rule_kind and n.stated is not None)
    stated_score = (
        f", dòng tổng ghi {_n(result.stated_score_total)}"
        if result.stated_score_total is not None
        else ""
    )
    lines.append(
        f"Tổng điểm tự chấm: {_n(result.score_total)} ({scored} tiêu chí có điểm{stated_score})"
    )
    kinds = Counter(n.rule_kind for n in result.nodes if n.rule_kind)
    if kinds:
        parts = ", ".join(f"{count} {_RULE_NAMES.get(k, k)}" for k, count in kinds.most_common())
        lines.append(f"Cách chấm nhận ra: {parts}")
    if result.inconsistencies:
        lines.append(f"Không khớp ({len(result.inconsistencies)}):")
        lines.extend(f"  - {_describe(p)}" for p in result.inconsistencies)
    else:
        lines.append("Không khớp: không có")
    if result.warnings:
        lines.append(f"Cảnh báo ({len(result.warnings)}):")
        for w in result.warnings:
            # Skip reports already name their lines ("Bỏ qua dòng 1–91 …").
            named = w.line is None or w.message.startswith("Bỏ qua dòng")
            where = "" if named else f"dòng {w.line}: "
            lines.append(f"  - {where}{w.message}")
    else:
        lines.append("Cảnh báo: không có")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `sheet …` on its own (tests, or before the main CLI exists)."""
    parser = argparse.ArgumentParser(prog="appraisal")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
