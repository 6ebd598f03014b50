"""One handler of refusals for the API (problem+json) and one for the pages (Vietnamese, in
place, with the status); actions take plain values and pages never call routes (issue 8)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import WorkflowUpdateFailedError

from api import errors
from core.errors import Conflict, Forbidden, Invalid, NotFound, Refusal, Unavailable
from services.evidence import EvidenceTooLarge
from web.errors import RefusalPageRoute, page_refusal
from web.forms import FormError
from workflows.commands import refusal_of
from workflows.states import refuse

ROOT = Path(__file__).resolve().parents[2]

REFUSALS: dict[str, Exception] = {
    "invalid": Invalid("bad_value", "Giá trị không hợp lệ.", "Bad value.", field="score"),
    "conflict": Conflict("locked", "Phiếu đã khóa.", "The sheet is locked."),
    "not_found": NotFound("not_found", "Không tìm thấy.", "Not found."),
    "forbidden": Forbidden("not_yours", "Không phải của bạn.", "Not yours."),
    "unavailable": Unavailable("unavailable", "Tạm thời không sẵn sàng.", "Unavailable."),
    # A workflow's refusal (an update's ApplicationError, type = code), through the one mapping.
    "command": refusal_of(
        WorkflowUpdateFailedError(refuse("wrong_state", "Sai trạng thái.", "Wrong state."))
    ),
    "command_busy": refusal_of(
        WorkflowUpdateFailedError(refuse("unavailable", "Thử lại sau.", "Retry later."))
    ),
    "no_workflow": NotFound("not_running", "Không chạy.", "Not running."),
    "upload": EvidenceTooLarge("too_large", "Tệp quá lớn.", "Too large.", field="file"),
}
# name → (status, code in the problem document, detail, detail_en, errors)
EXPECTED: dict[str, tuple[int, str | None, str, str | None, list[dict[str, str]]]] = {
    "invalid": (
        422,
        "bad_value",
        "Giá trị không hợp lệ.",
        "Bad value.",
        [{"field": "score", "in": "body", "reason": "Giá trị không hợp lệ."}],
    ),
    "conflict": (409, "locked", "Phiếu đã khóa.", "The sheet is locked.", []),
    "not_found": (404, "not_found", "Không tìm thấy.", "Not found.", []),
    "forbidden": (403, "not_yours", "Không phải của bạn.", "Not yours.", []),
    "unavailable": (503, "unavailable", "Tạm thời không sẵn sàng.", "Unavailable.", []),
    "command": (409, "wrong_state", "Sai trạng thái.", "Wrong state.", []),
    "command_busy": (503, "unavailable", "Thử lại sau.", "Retry later.", []),
    "no_workflow": (404, "not_running", "Không chạy.", "Not running.", []),
    "upload": (
        413,
        "too_large",
        "Tệp quá lớn.",
        "Too large.",
        [{"field": "file", "in": "form", "reason": "Tệp quá lớn."}],
    ),
}
TYPES = {
    403: "/problems/forbidden",
    404: "/problems/not-found",
    409: "/problems/command-refused",
    422: "/problems/validation",
    503: "/problems/unavailable",
    413: "about:blank",
}


@pytest.fixture(scope="module")
def api() -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/refuse/{name}")
    def refuse(name: str) -> None:
        raise REFUSALS[name]

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("name", list(REFUSALS))
def test_the_api_answers_every_refusal_with_one_problem_shape(api, name) -> None:
    status, code, detail, detail_en, field_errors = EXPECTED[name]
    resp = api.get(f"/refuse/{name}")
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["type"] == TYPES[status]
    assert body["status"] == status and body["detail"] == detail
    assert body.get("code") == code and body.get("detail_en") == detail_en
    assert body["errors"] == field_errors
    assert body["instance"] == f"/refuse/{name}"


@pytest.mark.parametrize("name", list(REFUSALS))
def test_the_pages_show_every_refusal_in_vietnamese_with_the_apis_status(name) -> None:
    status, _code, detail, _en, _errors = EXPECTED[name]
    assert page_refusal(REFUSALS[name]) == (status, detail)


class _Reopen(BaseModel):
    reason: str = Field(min_length=1)


def test_form_and_input_model_errors_are_refusals_of_the_page() -> None:
    form_error = FormError("comment", "Cần ghi ý kiến khi trả lại tiêu chí.")
    assert isinstance(form_error, Refusal) and form_error.status == 422
    assert page_refusal(form_error) == (422, "Cần ghi ý kiến khi trả lại tiêu chí.")
    with pytest.raises(ValidationError) as caught:
        _Reopen.model_validate({"reason": ""})
    assert page_refusal(caught.value) == (422, "Dữ liệu không hợp lệ: lý do.")
    assert page_refusal(RuntimeError("a bug")) is None


# --- the layers ------------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_page_module_imports_a_route_module() -> None:
    for path in sorted((ROOT / "web").glob("*.py")):
        bad = {m for m in _imports(path) if m == "api.routes" or m.startswith("api.routes.")}
        assert not bad, (path.name, bad)


def test_actions_take_no_web_framework_types() -> None:
    paths = sorted((ROOT / "actions").glob("*.py"))
    assert len(paths) >= 6
    for path in paths:
        bad = {
            m for m in _imports(path) if m.split(".")[0] in ("fastapi", "starlette", "api", "web")
        }
        assert not bad, (path.name, bad)


def test_a_refusal_outside_a_form_is_the_vietnamese_error_page() -> None:
    pages = APIRouter(route_class=RefusalPageRoute)

    @pages.get("/page/{name}")
    def page(name: str) -> None:
        raise REFUSALS[name]

    app = FastAPI()
    app.include_router(pages)
    http = TestClient(app, raise_server_exceptions=False)
    for name in ("conflict", "forbidden", "no_workflow"):
        status, _code, detail, _en, _errors = EXPECTED[name]
        resp = http.get(f"/page/{name}")
        assert resp.status_code == status
        assert resp.headers["content-type"].startswith("text/html")
        assert detail in resp.text and "Traceback" not in resp.text


def test_a_service_refusal_crosses_the_workflow_with_its_code_and_both_reasons() -> None:
    """Activity side (``activities.common.refusal``) and client side (``refusal_of``): one each."""
    from activities.common import refusal

    error = refusal(Invalid("unknown_criterion", "Không có tiêu chí 9.9.", "No criterion 9.9."))
    assert error.non_retryable and error.type == "unknown_criterion"
    assert list(error.details) == ["Không có tiêu chí 9.9.", "No criterion 9.9."]
    back = refusal_of(WorkflowUpdateFailedError(error))
    # An update's refusal is a 409 whatever the service's class was (its status stays local).
    assert isinstance(back, Conflict) and back.status == 409
    assert (back.code, back.message_vi, back.message_en) == (
        "unknown_criterion",
        "Không có tiêu chí 9.9.",
        "No criterion 9.9.",
    )
