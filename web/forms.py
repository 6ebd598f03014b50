"""A criterion's rule inputs as HTML form fields, and the form back into ``CriterionInput``.

The fields are the ones the rule reads (``scoring.rules.input_fields``); the options, items
and scale come from the rule itself. Numbers are read the Vietnamese way ("96,55").
Nothing here scores: the edit gate computes the score from the ``CriterionInput``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from core.errors import Invalid
from core.vn import parse_vn_decimal, vn_decimal
from models.framework import (
    ChecklistRule,
    CountedRule,
    LevelRateRule,
    LevelsRule,
    Node,
    SurveyRule,
)
from models.inputs import CriterionInput
from scoring.rules import input_fields

__all__ = [
    "Choice",
    "FieldView",
    "FormError",
    "field_views",
    "parse_inputs",
    "posted_inputs",
    "text_field",
]

PREFIX = "in."

LABELS: dict[str, str] = {
    "not_applicable": "Không phát sinh nhiệm vụ",
    "level": "Mức đạt được",
    "rate": "Tỷ lệ (%)",
    "numerator": "Số đạt yêu cầu (tử số)",
    "denominator": "Tổng số (mẫu số)",
    "count": "Số lượng",
    "failed": "Số nội dung không đạt yêu cầu",
    "checked": "Các nội dung đạt",
    "counts": "Số lượng theo từng loại",
    "answers": "Số phiếu theo từng mức trả lời",
    "score": "Điểm",
    "value": "Giá trị",
}
HINTS: dict[str, str] = {
    "rate": "Nhập tỷ lệ, hoặc tử số và mẫu số để hệ thống tự tính.",
    "answers": "Mức 1 là thấp nhất.",
    "value": "Giá trị hệ thống cung cấp hoặc hội đồng quyết định.",
}
_DECIMALS = frozenset({"rate", "score", "value"})
_INTEGERS = frozenset({"numerator", "denominator", "count", "failed"})


class FormError(Invalid):
    """A form value that cannot be read (422); ``message`` is Vietnamese and names the field."""

    location = "form"

    def __init__(self, field: str, message: str) -> None:
        super().__init__("invalid_form", message, message, field)
        self.message = message


@dataclass(frozen=True)
class Choice:
    """One option / item / scale step of a field."""

    key: str
    label: str
    points: Decimal | None = None
    value: str = ""
    selected: bool = False


@dataclass(frozen=True)
class FieldView:
    """One input of the rule as the template draws it."""

    name: str
    input_name: str
    widget: str  # checkbox | select | decimal | integer | checks | numbers
    label: str
    value: str = ""
    checked: bool = False
    choices: tuple[Choice, ...] = ()
    hint: str = ""


def _shown(value: Any) -> str:
    """A stored value as the form shows it ("96.55" → "96,55"); typed text stays as typed."""
    if value is None or value == "" or isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    text = str(value)
    try:
        return vn_decimal(Decimal(text))
    except (ArithmeticError, ValueError):
        return text


def _keys(node: Node, name: str) -> list[tuple[str, str, Decimal | None]]:
    """(key, label, points) of the items of a counted rule or the steps of a survey."""
    rule = node.rule
    if name == "counts" and isinstance(rule, CountedRule):
        return [(o.key, o.label, o.points) for o in rule.items]
    if name == "answers" and isinstance(rule, SurveyRule):
        return [(str(i), f"Mức {i}", None) for i in range(1, rule.scale + 1)]
    return []


def field_views(node: Node, current: Mapping[str, Any] | None) -> list[FieldView]:
    """The form fields of a leaf, filled with its current (or just posted) inputs."""
    now = dict(current or {})
    rule = node.rule
    out: list[FieldView] = []
    for name in input_fields(node):
        label = LABELS.get(name, name)
        hint = HINTS.get(name, "")
        input_name = PREFIX + name
        if name == "not_applicable":
            if node.na_points is not None:
                hint = f"Theo bộ tiêu chí được {vn_decimal(node.na_points)} điểm."
            view = FieldView(
                name, input_name, "checkbox", label, checked=bool(now.get(name)), hint=hint
            )
        elif name == "level" and isinstance(rule, LevelsRule | LevelRateRule):
            chosen = str(now.get("level") or "")
            choices = tuple(
                Choice(o.key, o.label, o.points, selected=o.key == chosen) for o in rule.options
            )
            view = FieldView(name, input_name, "select", label, choices=choices)
        elif name == "checked" and isinstance(rule, ChecklistRule):
            ticked = {str(k) for k in now.get("checked") or ()}
            choices = tuple(
                Choice(o.key, o.label, o.points, selected=o.key in ticked) for o in rule.items
            )
            view = FieldView(name, input_name, "checks", label, choices=choices)
        elif name in ("counts", "answers"):
            given = {str(k): v for k, v in dict(now.get(name) or {}).items()}
            choices = tuple(
                Choice(key, text, points, value=_shown(given.get(key)))
                for key, text, points in _keys(node, name)
            )
            view = FieldView(name, input_name, "numbers", label, choices=choices, hint=hint)
        elif name in _INTEGERS:
            view = FieldView(name, input_name, "integer", label, _shown(now.get(name)))
        else:
            view = FieldView(name, input_name, "decimal", label, _shown(now.get(name)), hint=hint)
        out.append(view)
    return out


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def text_field(form: FormData, key: str) -> str:
    """A text field of the form (an upload or a missing field reads as empty)."""
    value = form.get(key)
    return value if isinstance(value, str) else ""


def posted_inputs(node: Node, form: FormData) -> dict[str, Any]:
    """The inputs as typed (unchecked), to fill the form again after a refusal."""
    out: dict[str, Any] = {}
    for name in input_fields(node):
        key = PREFIX + name
        if name == "checked":
            out[name] = [v for v in form.getlist(key) if isinstance(v, str)]
        elif name in ("counts", "answers"):
            out[name] = {k: _text(form, f"{key}.{k}") for k, _l, _p in _keys(node, name)}
        elif name == "not_applicable":
            out[name] = bool(_text(form, key))
        else:
            out[name] = _text(form, key)
    return out


def _decimal(text: str, label: str) -> Decimal:
    try:
        return parse_vn_decimal(text)
    except ValueError as exc:
        raise FormError(label, f"“{label}”: “{text}” không phải là số.") from exc


def _integer(text: str, label: str) -> int:
    value = _decimal(text, label)
    if value != value.to_integral_value():
        raise FormError(label, f"“{label}”: cần một số nguyên, đã nhập “{text}”.")
    return int(value)


def parse_inputs(node: Node, form: FormData) -> CriterionInput | None:
    """The rule inputs of a submitted form; None when none was filled in.

    A form whose criterion already had inputs (hidden ``had_inputs``) always sends them, so
    clearing a field (or "không phát sinh") is an edit the rule then judges, not a no-op.
    """
    data: dict[str, Any] = {}
    for name in input_fields(node):
        label = LABELS.get(name, name)
        key = PREFIX + name
        if name == "not_applicable":
            if _text(form, key):
                data[name] = True
        elif name == "checked":
            ticked = [v for v in form.getlist(key) if isinstance(v, str) and v]
            if ticked:
                data[name] = ticked
        elif name in ("counts", "answers"):
            numbers = {
                k: _integer(text, f"{label} – {item}")
                for k, item, _p in _keys(node, name)
                if (text := _text(form, f"{key}.{k}"))
            }
            if numbers:
                data[name] = numbers
        elif name in _INTEGERS:
            if text := _text(form, key):
                data[name] = _integer(text, label)
        elif name in _DECIMALS:
            if text := _text(form, key):
                data[name] = _decimal(text, label)
        elif text := _text(form, key):
            data[name] = text
    if not data and not _text(form, "had_inputs"):
        return None
    try:
        return CriterionInput.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        field = LABELS.get(where.split(".")[0], where)
        raise FormError(where, f"Số liệu “{field}” không hợp lệ.") from exc
