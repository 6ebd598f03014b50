"""The canonical YAML form of a framework: human-editable, diff-friendly, exact.

Numbers stay exact both ways: the loader reads every YAML float as a ``Decimal`` built from its
literal text (``8.5`` never passes through a binary float) and the dumper writes each ``Decimal``
as a plain YAML number (``0.75``, ``2.868``). Fields equal to their defaults are left out, keys
follow the model's field order, and a rule always keeps its ``kind`` so that it reads back.
``load_framework_yaml(dump_framework_yaml(fw)) == fw`` and, for canonical text,
``dump_framework_yaml(load_framework_yaml(text)) == text``.

``python -m frameworks.yaml_io`` rewrites ``frameworks/framework.schema.json``.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from models.framework import Framework

__all__ = [
    "SCHEMA_PATH",
    "FrameworkYamlError",
    "dump_framework_yaml",
    "framework_json_schema",
    "load_framework_yaml",
    "write_schema",
]

SCHEMA_PATH = Path(__file__).with_name("framework.schema.json")


class FrameworkYamlError(ValueError):
    """The YAML text is not a valid framework; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"dòng {self.line} / line {self.line}: {self.message}"


class _Loader(yaml.SafeLoader):
    """SafeLoader with exact decimals and without aliases (no "billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases are not allowed in a framework file", event.start_mark
            )
        return super().compose_node(parent, index)


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    special = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}
    try:
        return Decimal(special.get(text.lower(), text))
    except InvalidOperation as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"not a decimal number: {text!r}", node.start_mark
        ) from exc


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


class _Dumper(yaml.SafeDumper):
    """SafeDumper writing decimals as plain numbers and multi-line text as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    text = f"{value:f}"
    # An integral decimal reads back as a YAML int, which pydantic turns into the same Decimal.
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_str(value)


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(str, _represent_str)


def _to_data(value: Any) -> Any:
    """Plain YAML data: models in field order without defaults (a rule keeps its ``kind``)."""
    if isinstance(value, BaseModel):
        out: dict[str, Any] = {}
        for name, info in type(value).model_fields.items():
            item = getattr(value, name)
            # A rule's ``kind`` (a Literal discriminator) is its default yet must be written.
            keep = get_origin(info.annotation) is Literal
            if not keep and not info.is_required() and item == info.get_default():
                continue
            out[name] = _to_data(item)
        return out
    if isinstance(value, tuple | list):
        return [_to_data(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


def dump_framework_yaml(fw: Framework) -> str:
    """The canonical YAML text of a framework."""
    return yaml.dump(
        _to_data(fw),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=100,
    )


def load_framework_yaml(text: str) -> Framework:
    """Reads a framework from YAML; FrameworkYamlError says what and where when it is invalid."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise FrameworkYamlError(
            f"YAML không hợp lệ: {exc.problem or exc} / invalid YAML: {exc.problem or exc}", line
        ) from exc
    except yaml.YAMLError as exc:
        raise FrameworkYamlError(f"YAML không hợp lệ / invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise FrameworkYamlError(
            "tệp YAML phải là một bộ tiêu chí (name, year, nodes…) / "
            "the YAML file must be a framework mapping (name, year, nodes…)"
        )
    try:
        return Framework.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise FrameworkYamlError(
            f"bộ tiêu chí không hợp lệ tại {where}: {first.get('msg')} / "
            f"invalid framework at {where}: {first.get('msg')} ({exc.error_count()} lỗi/errors)"
        ) from exc


def framework_json_schema() -> dict[str, Any]:
    """The JSON Schema of the framework format (the YAML file validates against it)."""
    return Framework.model_json_schema()


def schema_text() -> str:
    """The committed schema file's exact text."""
    return json.dumps(framework_json_schema(), ensure_ascii=False, indent=2) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Writes the JSON Schema next to this module (run after changing models/framework.py)."""
    path.write_text(schema_text(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_schema(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_PATH))
