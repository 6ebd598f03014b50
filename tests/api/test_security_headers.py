"""Security headers on every kind of response (issue 14: the forms could be framed)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from tests.api_support import build_world, client, make_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(engine):
    return build_world(engine, prefix="hdr")


@pytest.fixture(scope="module")
def http(engine, world, tmp_path_factory):
    return client(make_app(engine, tmp_path_factory.mktemp("data")))


def _script_src(csp: str) -> str:
    found = re.search(r"script-src ([^;]*)", csp)
    assert found, csp
    return found.group(1)


def assert_secured(resp, *, hsts: bool = False) -> None:
    h = resp.headers
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in _script_src(csp)
    assert "object-src 'none'" in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert ("strict-transport-security" in h) is hsts


def test_html_page(http) -> None:
    resp = http.get("/login")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert_secured(resp)
    assert _script_src(resp.headers["content-security-policy"]).strip() == "'self'"


def test_redirect(http) -> None:
    resp = http.get("/", follow_redirects=False)
    assert resp.status_code == 303
    assert_secured(resp)


def test_html_error_page(http, world) -> None:
    resp = http.get("/password/reset")  # no token: a Vietnamese error page
    assert resp.status_code == 422 and "text/html" in resp.headers["content-type"]
    assert_secured(resp)


def test_json_api_and_problem_documents(http, world) -> None:
    ok = http.get("/api/units", headers=world.auth("coordinator"))
    assert ok.status_code == 200
    assert_secured(ok)
    for refused in (http.get("/api/units"), http.get("/api/no-such-route")):
        assert refused.status_code in (401, 404)
        assert_secured(refused)


def test_static_file_download_and_health(http, world) -> None:
    assert_secured(http.get("/static/app.css"))
    export = http.get(
        f"/api/frameworks/{world.framework_id}/export", headers=world.auth("coordinator")
    )
    assert export.status_code == 200
    assert_secured(export)
    assert_secured(http.get("/healthz"))
    assert_secured(http.get("/openapi.json"))


def test_docs_pages_allow_only_their_cdn_and_their_own_inline_script(http) -> None:
    for path in ("/docs", "/redoc"):
        resp = http.get(path)
        assert resp.status_code == 200
        assert_secured(resp)
        script_src = _script_src(resp.headers["content-security-policy"])
        for inline in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", resp.text, re.S):
            digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in script_src


def test_hsts_in_production_only(engine, tmp_path) -> None:
    app = make_app(
        engine,
        tmp_path,
        mode="production",
        database_url="sqlite:////tmp/unused-hdr.db",
        smtp_host="smtp.tinh.gov.vn",
        smtp_port=587,
        base_url="https://danhgia.tinh.gov.vn",
    )
    assert_secured(client(app).get("/login"), hsts=True)


def test_no_template_runs_an_inline_script() -> None:
    for template in (ROOT / "web" / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name  # no onclick= handlers
