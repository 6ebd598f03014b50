"""The OpenAPI document: error responses as application/problem+json, examples kept."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_JSON


def _problem_media_types(schema: dict[str, Any]) -> None:
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                content = response.get("content")
                if status[:1] not in ("4", "5") or not content:
                    continue
                body = content.pop("application/json", None)
                if body is not None and PROBLEM_JSON not in content:
                    content[PROBLEM_JSON] = body


# Examples of the form bodies, whose schemas FastAPI names after the route ("Body_<name>_…").
FORM_EXAMPLES: dict[str, dict[str, Any]] = {
    "Body_token_": {"username": "nguyenvana", "password": "mat-khau-du-dai"},
    "Body_import_framework_": {
        "file": "dinh-hoa-commune-2024.yaml",
        "name": "Bộ tiêu chí đánh giá CCHC xã năm 2024",
        "year": 2024,
    },
    "Body_upload_": {
        "file": "Kế hoạch CCHC 2024.pdf",
        "doc_number": "12/KH-UBND",
        "doc_date": "15/01/2024",
        "issuer": "UBND xã Bình Thành",
    },
    # The unit's sheet filled in offline (api/routes/reports.py, issue 11).
    "Body_sheet_upload_": {"file": "phieu-tu-cham-binh-thanh.xlsx"},
}


def _form_examples(schema: dict[str, Any]) -> None:
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        for prefix, example in FORM_EXAMPLES.items():
            if name.startswith(prefix):
                component.setdefault("examples", [example])


def install_openapi(app: FastAPI) -> None:
    """Replaces the app's schema generator by one that names problem+json for errors."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        _problem_media_types(schema)
        _form_examples(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
