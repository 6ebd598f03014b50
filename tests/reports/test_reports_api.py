"""The documents where people get them: the API (same access rules as the sheet: another unit's
report is a 404), the pages' "Tải về" menu and the CLI — each opened back and checked."""

from __future__ import annotations

from io import BytesIO

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlmodel import select

from cli.main import main
from core.db import session_scope
from core.settings import get_settings
from models.states import CycleState
from models.tables import Cycle, User
from services.sessions import start_session
from tests.api_support import SECRET, assert_problem, client, make_app, password_hash
from tests.reports_support import seed_report_cycle
from tests.web.test_web_pages import login

CYCLE = "2024-rep-api"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def world(engine, tmp_path_factory):
    rc = seed_report_cycle(engine, CYCLE)
    tokens = {}
    with session_scope(engine) as s:
        for user in s.exec(select(User)).all():
            user.password_hash = password_hash()
            s.add(user)
            tokens[user.username] = start_session(
                s, user, secret_key=SECRET, minutes=60, kind="api"
            )[0]
    app = make_app(engine, tmp_path_factory.mktemp("data"))
    return rc, app, tokens


def _get(world, who: str, url: str):
    _rc, app, tokens = world
    return client(app).get(url, headers={"Authorization": f"Bearer {tokens[who]}"})


def _unit_url(world, unit: str, kind: str) -> str:
    rc = world[0]
    return f"/api/cycles/{CYCLE}/units/{rc.unit_ids[unit]}/reports/{kind}"


def test_office_downloads_its_report_another_unit_is_a_404(world) -> None:
    resp = _get(world, "vp-binh-thanh", _unit_url(world, "binh-thanh", "self"))
    assert resp.status_code == 200 and resp.headers["content-type"] == DOCX
    assert "bao-cao-tu-danh-gia-binh-thanh-2024-rep-api.docx" in resp.headers["content-disposition"]
    doc = Document(BytesIO(resp.content))
    assert "mã kiểm tra (SHA-256)" in doc.sections[0].header.paragraphs[0].text
    assert_problem(_get(world, "vp-dinh-bien", _unit_url(world, "binh-thanh", "self")), 404)
    assert_problem(_get(world, "vp-dinh-bien", _unit_url(world, "binh-thanh", "appraisal")), 404)


def test_appraisal_result_before_the_appraisal_is_an_empty_draft(world) -> None:
    resp = _get(world, "coordinator", _unit_url(world, "dinh-bien", "appraisal"))
    doc = Document(BytesIO(resp.content))
    assert doc.sections[0].header.paragraphs[0].text == "DỰ THẢO"
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "Mã")
    row = next(r for r in table.rows if r.cells[0].text == "1.1")
    assert row.cells[4].text == row.cells[3].text != ""  # no appraisal: the self score stands
    final = Document(
        BytesIO(_get(world, "coordinator", _unit_url(world, "binh-thanh", "appraisal")).content)
    )
    assert "SHA-256" in final.sections[0].header.paragraphs[0].text  # published: not a draft


def test_unknown_format_is_a_422_naming_the_field(world) -> None:
    url = _unit_url(world, "binh-thanh", "self") + "?format=odt"
    body = assert_problem(_get(world, "coordinator", url), 422)
    assert "odt" in body["detail"]


def test_council_gets_the_appraisal_as_pdf_and_xlsx(world) -> None:
    url = _unit_url(world, "binh-thanh", "appraisal")
    pdf = _get(world, "council-noi-vu", url + "?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xlsx = _get(world, "council-noi-vu", url + "?format=xlsx")
    ws = load_workbook(BytesIO(xlsx.content)).active
    assert ws is not None
    rows = {r[0]: r for r in ws.iter_rows(min_row=5, values_only=True)}
    assert str(rows["1.1"][3]) == "4" and str(rows["1.1"][4]) == "2.4"
    assert rows["1.1"][5] == "Phiếu đánh giá chỉ đạt mức trung bình."


def test_cycle_results_as_xlsx_docx_and_print_page(world) -> None:
    base = f"/api/cycles/{CYCLE}/reports/results"
    xlsx = _get(world, "vp-dinh-bien", base)  # published: every unit's line
    ws = load_workbook(BytesIO(xlsx.content))["Xã, phường, thị trấn"]
    assert [r[1] for r in ws.iter_rows(min_row=5, values_only=True)] == [
        "binh-thanh",
        "phuong-tien",
        "dinh-bien",
    ]
    annex = _get(world, "coordinator", base + "?format=docx")
    assert annex.headers["content-type"] == DOCX
    page = _get(world, "coordinator", base + "?format=html")
    assert page.headers["content-type"].startswith("text/html")
    assert "KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI" in page.text


def test_pages_offer_the_download_menu_and_follow_the_rules(world) -> None:
    _rc, app, _tokens = world
    unit_page = f"/cycles/{CYCLE}/units/binh-thanh"
    http, _csrf = login(app, "vp-binh-thanh", next_url=unit_page)
    page = http.get(unit_page)
    assert "Tải về" in page.text and f"{unit_page}/reports/self?format=docx" in page.text
    assert f"{unit_page}/reports/appraisal?format=pdf" in page.text
    doc = http.get(f"{unit_page}/reports/self?format=docx")
    assert doc.status_code == 200 and doc.headers["content-type"] == DOCX
    printed = http.get(f"{unit_page}/reports/self?format=html")
    assert "@page { size: A4 portrait" in printed.text and "BÁO CÁO" in printed.text
    other = http.get(f"/cycles/{CYCLE}/units/dinh-bien/reports/self?format=docx")
    assert other.status_code == 404 and "Không tìm thấy" in other.text
    for page_url in (f"/cycles/{CYCLE}", f"/cycles/{CYCLE}/results"):
        assert f"/cycles/{CYCLE}/reports/results?format=xlsx" in http.get(page_url).text
    results = http.get(f"/cycles/{CYCLE}/reports/results?format=docx")
    assert results.status_code == 200 and results.headers["content-type"] == DOCX


def test_cli_writes_unit_and_cycle_documents(world, db_url, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("APPRAISAL_DATABASE_URL", db_url)
    monkeypatch.setenv("APPRAISAL_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        out = tmp_path / "bc.docx"
        argv = ["report", "unit", CYCLE, "binh-thanh", "--kind", "self", "-o", str(out)]
        assert main([*argv, "--format", "docx"]) == 0
        texts = [p.text for p in Document(str(out)).paragraphs]
        assert "Tổng điểm tự chấm: 95/100 điểm." in texts
        xlsx = tmp_path / "kq.xlsx"
        assert main(["report", "cycle", CYCLE, "--format", "xlsx", "-o", str(xlsx)]) == 0
        assert load_workbook(str(xlsx)).sheetnames == ["Xã, phường, thị trấn"]
        assert main(["report", "unit", CYCLE, "khong-co", "-o", str(out)]) == 2
        assert main(["report", "cycle", "khong-co-ky-nay", "-o", str(xlsx)]) == 2
    finally:
        get_settings.cache_clear()


def test_unpublished_results_show_each_reader_what_the_results_page_shows(world, engine) -> None:
    with session_scope(engine) as s:
        cycle = s.get(Cycle, CYCLE)
        assert cycle is not None
        cycle.state = CycleState.classified  # not yet published
        s.add(cycle)
    try:
        base = f"/api/cycles/{CYCLE}/reports/results"

        def codes(who: str) -> list[str]:
            wb = load_workbook(BytesIO(_get(world, who, base).content))
            return [r[1] for ws in wb.worksheets for r in ws.iter_rows(min_row=5, values_only=True)]

        assert codes("coordinator") == ["binh-thanh", "phuong-tien", "dinh-bien"]
        assert codes("council-noi-vu") == ["binh-thanh", "phuong-tien"]  # dinh-bien: drafting
        assert codes("vp-dinh-bien") == ["dinh-bien"]
        annex = Document(BytesIO(_get(world, "coordinator", base + "?format=docx").content))
        assert annex.sections[0].header.paragraphs[0].text == "DỰ THẢO"
    finally:
        with session_scope(engine) as s:
            cycle = s.get(Cycle, CYCLE)
            assert cycle is not None
            cycle.state = CycleState.published
            s.add(cycle)
