"""The sheet over HTTP: drafts scored by the rules, the edit gate (assignment, state, hard lock),
appraisal by agency, explanation answers, the audit trail; evidence uploads and downloads.

The unit's workflow state is set directly in the projection here; the workflows themselves are
driven in the end-to-end test.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from core.db import session_scope
from models.tables import AuditLog, ExplanationItem, ExplanationRequest, UnitState
from tests.api_support import (
    assert_problem,
    assign_staff_a,
    build_world,
    client,
    make_app,
    set_unit_state,
)
from tests.services.test_evidence import PDF_SIGNED, PDF_UNSIGNED, PNG


@pytest.fixture(scope="module")
def world(engine):
    w = build_world(engine, prefix="sh")
    with session_scope(engine) as session:
        assign_staff_a(session, w, ("2.1.1", "2.3.4", "6.2"))
    set_unit_state(engine, w.cycle_id, w.unit_a, UnitState.drafting)
    return w


@pytest.fixture(scope="module")
def http(engine, world, tmp_path_factory):
    return client(make_app(engine, tmp_path_factory.mktemp("data"), max_upload_mb=1))


def url(world, tail: str = "", unit: int | None = None) -> str:
    return f"/api/cycles/{world.cycle_id}/units/{unit or world.unit_a}{tail}"


# --- drafts ----------------------------------------------------------------------------------


def test_draft_is_scored_by_the_rule(http, world) -> None:
    resp = http.put(
        url(world, "/criteria/6.2/draft"),
        json={
            "inputs": {"numerator": 84, "denominator": 87},
            "explanation": "Báo cáo số 45/BC-UBND ngày 18/11/2024, mục II.",
        },
        headers=world.auth("staff_a"),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert Decimal(body["score"]) == Decimal("4.828")
    assert body["score_explanation"].startswith(
        "84/87 nhiệm vụ của kế hoạch phát triển kinh tế - xã hội hoàn thành (96,55%) × 5 điểm"
    )
    assert body["updated_by"] == "sh-staff-a"


def test_not_applicable_and_explanation_only(http, world) -> None:
    resp = http.put(
        url(world, "/criteria/2.3.4/draft"),
        json={"not_applicable": True, "explanation": "Năm 2024 không phát sinh đơn thư."},
        headers=world.auth("staff_a"),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["score"] == "1.000"
    assert resp.json()["inputs"] == {"not_applicable": True}
    # the explanation alone keeps the score
    again = http.put(
        url(world, "/criteria/2.3.4/draft"),
        json={"explanation": "Không phát sinh đơn thư thuộc thẩm quyền."},
        headers=world.auth("staff_a"),
    )
    assert again.json()["score"] == "1.000"
    assert again.json()["explanation"] == "Không phát sinh đơn thư thuộc thẩm quyền."


def test_input_that_does_not_fit_the_rule_is_422_with_field(http, world) -> None:
    body = assert_problem(
        http.put(
            url(world, "/criteria/2.1.1/draft"),
            json={"inputs": {"level": "khong-co-muc-nay"}},
            headers=world.auth("staff_a"),
        ),
        422,
    )
    assert body["errors"][0]["field"] == "level"
    assert body["detail"].startswith("Tiêu chí 2.1.1, trường 'level'")
    # unknown input fields and an empty body are refused by the schema
    body = assert_problem(
        http.put(
            url(world, "/criteria/2.1.1/draft"),
            json={"inputs": {"levle": "full"}},
            headers=world.auth("staff_a"),
        ),
        422,
    )
    assert body["errors"][0]["field"] == "inputs.levle"
    assert_problem(
        http.put(url(world, "/criteria/2.1.1/draft"), json={}, headers=world.auth("staff_a")), 422
    )


def test_staff_edit_only_their_criteria_office_edits_all(http, world) -> None:
    body = assert_problem(
        http.put(
            url(world, "/criteria/1.1/draft"),
            json={"explanation": "x"},
            headers=world.auth("staff_a"),
        ),
        403,
    )
    assert body["code"] == "not_assigned" and body["detail_en"]
    resp = http.put(
        url(world, "/criteria/2.1.1/draft"),
        json={"inputs": {"level": "full"}},
        headers=world.auth("office_a"),
    )
    assert resp.status_code == 200 and resp.json()["score"] == "1.000"
    # a criterion that does not exist
    assert_problem(
        http.put(
            url(world, "/criteria/99.9/draft"),
            json={"explanation": "x"},
            headers=world.auth("office_a"),
        ),
        404,
    )


def test_the_sheet_shows_every_node(http, world) -> None:
    resp = http.get(url(world), headers=world.auth("staff_a"))
    assert resp.status_code == 200
    sheet = resp.json()
    assert sheet["state"] == "drafting" and sheet["state_label"] == "Đang tự chấm điểm"
    nodes = {n["code"]: n for n in sheet["nodes"]}
    assert len([n for n in sheet["nodes"] if n["is_leaf"]]) == 80
    leaf = nodes["6.2"]
    assert leaf["rule"]["kind"] == "proportional" and leaf["self_score"] == "4.828"
    assert leaf["assignees"] == [
        {"username": "sh-staff-a", "full_name": "staff_a", "responsible": True}
    ]
    assert leaf["input_fields"] == ["rate", "numerator", "denominator"]
    assert nodes["2.1.1"]["self_score"] == "1.000"
    assert nodes["1.1"]["self_score"] is None
    assert nodes["2.1.1"]["agency"] == "Thanh tra huyện"
    assert Decimal(sheet["self_total"]) == Decimal("4.828") + 1 + 1
    assert Decimal(sheet["max_total"]) == 100
    # progress counts what the unit scores itself: 80 leaves less the 4 derived ones (8.x)
    assert sheet["progress"] == {"total": 76, "finished": 2}


def test_edits_refused_past_drafting_and_after_the_hard_lock(engine, http, world) -> None:
    # the lock instant passed a second ago: refused although the workflow has not locked yet
    set_unit_state(
        engine,
        world.cycle_id,
        world.unit_a,
        UnitState.drafting,
        hard_lock_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    body = assert_problem(
        http.put(
            url(world, "/criteria/2.1.1/draft"),
            json={"explanation": "muộn"},
            headers=world.auth("staff_a"),
        ),
        409,
    )
    assert body["code"] == "locked"
    assert body["detail"] == "Phần mềm đã khóa: không nhận thay đổi sau thời điểm khóa."
    assert body["detail_en"].startswith("The sheet is locked")
    set_unit_state(
        engine,
        world.cycle_id,
        world.unit_a,
        UnitState.submitted,
        hard_lock_at=datetime.now(UTC) + timedelta(days=3),
    )
    body = assert_problem(
        http.put(
            url(world, "/criteria/2.1.1/draft"),
            json={"explanation": "x"},
            headers=world.auth("office_a"),
        ),
        409,
    )
    assert body["code"] == "invalid_state" and "Đã gửi kết quả" in body["detail"]


def test_appraisal_only_by_the_routed_agency(engine, http, world) -> None:
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.appraising)
    resp = http.put(
        url(world, "/criteria/2.1.1/appraisal"),
        json={"inputs": {"level": "not_full"}, "comment": "Chưa ban hành đủ văn bản."},
        headers=world.auth("council"),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["score"] == "0.000"
    assert resp.json()["comment"] == "Chưa ban hành đủ văn bản."
    body = assert_problem(
        http.put(
            url(world, "/criteria/1.1/appraisal"),
            json={"score": "1"},
            headers=world.auth("council"),
        ),
        403,
    )
    assert body["code"] == "wrong_agency" and "Phòng Nội vụ" in body["detail"]
    sheet = http.get(url(world), headers=world.auth("council")).json()
    node = next(n for n in sheet["nodes"] if n["code"] == "2.1.1")
    assert node["appraised_score"] == "0.000" and node["self_score"] == "1.000"
    # staff may not appraise (role), even on their own unit
    assert_problem(
        http.put(
            url(world, "/criteria/2.1.1/appraisal"),
            json={"score": "1"},
            headers=world.auth("staff_a"),
        ),
        403,
    )


def test_explanation_answer_only_on_flagged_criteria(engine, http, world) -> None:
    with session_scope(engine) as session:
        req = ExplanationRequest(
            cycle_id=world.cycle_id,
            unit_id=world.unit_a,
            round_no=1,
            deadline=datetime.now(UTC) + timedelta(days=2),
        )
        session.add(req)
        session.flush()
        session.add(
            ExplanationItem(
                request_id=req.id or 0,
                criterion_code="2.1.1",
                question="Bổ sung văn bản chỉ đạo phòng, chống tham nhũng.",
            )
        )
        rid = req.id
    set_unit_state(
        engine,
        world.cycle_id,
        world.unit_a,
        UnitState.explanation,
        round_no=1,
        explanation_deadline=datetime.now(UTC) + timedelta(days=2),
    )
    resp = http.put(
        url(world, f"/explanation-requests/{rid}/criteria/2.1.1"),
        json={"answer": "Đã bổ sung Kế hoạch số 15/KH-UBND."},
        headers=world.auth("staff_a"),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["question"] == "Bổ sung văn bản chỉ đạo phòng, chống tham nhũng."
    body = assert_problem(
        http.put(
            url(world, f"/explanation-requests/{rid}/criteria/6.2"),
            json={"answer": "x"},
            headers=world.auth("staff_a"),
        ),
        409,
    )
    assert body["code"] == "not_flagged"
    assert_problem(
        http.put(
            url(world, "/explanation-requests/999999/criteria/2.1.1"),
            json={"answer": "x"},
            headers=world.auth("staff_a"),
        ),
        404,
    )
    # the flagged criterion reopens for drafting too; the others stay frozen
    assert (
        http.put(
            url(world, "/criteria/2.1.1/draft"),
            json={"inputs": {"level": "full"}},
            headers=world.auth("staff_a"),
        ).status_code
        == 200
    )
    rounds = http.get(url(world), headers=world.auth("council")).json()["explanation_rounds"]
    assert rounds[0]["items"][0]["answer"] == "Đã bổ sung Kế hoạch số 15/KH-UBND."


def test_audit_trail_lists_every_change_and_cannot_be_changed(engine, http, world) -> None:
    resp = http.get(url(world, "/audit"), headers=world.auth("office_a"))
    assert resp.status_code == 200
    rows = resp.json()
    drafts = [r for r in rows if r["entity"] == "entry" and r["entity_key"] == "6.2"]
    assert drafts[0]["actor"] == "sh-staff-a"
    assert drafts[0]["before"] is None and drafts[0]["after"]["self_score"] == "4.828"
    appraisals = [r for r in rows if r["action"] == "appraise"]
    assert appraisals[0]["after"]["appraised_score"] == "0.000"
    assert any(r["entity"] == "explanation" and r["action"] == "answer" for r in rows)
    assert all(r["at"].endswith("Z") or r["at"].endswith("+00:00") for r in rows)
    # paging
    page = http.get(url(world, "/audit?limit=1&offset=1"), headers=world.auth("office_a")).json()
    assert page == rows[1:2]
    # no API updates or deletes audit rows
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert (
            http.request(
                method, url(world, "/audit"), headers=world.auth("coordinator")
            ).status_code
            == 405
        )
    # staff do not read the audit trail; another unit's is not found
    assert_problem(http.get(url(world, "/audit"), headers=world.auth("staff_a")), 403)
    assert_problem(http.get(url(world, "/audit"), headers=world.auth("office_b")), 404)
    with session_scope(engine) as session:
        count = len(session.exec(select(AuditLog).where(AuditLog.unit_id == world.unit_a)).all())
    assert count == len(rows)


# --- evidence --------------------------------------------------------------------------------


@pytest.fixture
def drafting(engine, world):
    set_unit_state(
        engine,
        world.cycle_id,
        world.unit_a,
        UnitState.drafting,
        hard_lock_at=datetime.now(UTC) + timedelta(days=3),
    )


def upload(http, world, who: str, name: str, content: bytes, **form: str):
    return http.post(
        url(world, "/criteria/2.1.1/evidence"),
        files={"file": (name, content, "application/octet-stream")},
        data=form,
        headers=world.auth(who),
    )


def test_upload_download_delete(http, world, drafting) -> None:
    resp = upload(
        http,
        world,
        "staff_a",
        "../../../etc/Kế hoạch PCTN 2024.pdf",
        PDF_SIGNED,
        doc_number="15/KH-UBND",
        doc_date="15/01/2024",
        issuer="UBND xã A",
    )
    assert resp.status_code == 201, resp.text
    ev = resp.json()
    assert ev["filename"] == "Kế hoạch PCTN 2024.pdf"
    assert ev["content_type"] == "application/pdf" and ev["signed"] is True
    assert ev["doc_date"] == "2024-01-15" and ev["checks"] == []
    got = http.get(url(world, f"/criteria/2.1.1/evidence/{ev['id']}"), headers=world.auth("viewer"))
    assert got.status_code == 200 and got.content == PDF_SIGNED
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert (
        "filename*=utf-8''K%E1%BA%BF%20ho%E1%BA%A1ch%20PCTN%202024.pdf"
        in got.headers["content-disposition"]
    )
    assert got.headers["x-content-type-options"] == "nosniff"
    # the sheet shows it
    sheet = http.get(url(world), headers=world.auth("staff_a")).json()
    node = next(n for n in sheet["nodes"] if n["code"] == "2.1.1")
    assert [e["id"] for e in node["evidence"]] == [ev["id"]]
    # another unit's staff cannot even see it; a wrong criterion in the path is not found
    assert_problem(
        http.get(url(world, f"/criteria/2.1.1/evidence/{ev['id']}"), headers=world.auth("staff_b")),
        404,
    )
    assert_problem(
        http.get(url(world, f"/criteria/6.2/evidence/{ev['id']}"), headers=world.auth("staff_a")),
        404,
    )
    assert (
        http.delete(
            url(world, f"/criteria/2.1.1/evidence/{ev['id']}"), headers=world.auth("staff_a")
        ).status_code
        == 204
    )
    assert_problem(
        http.get(url(world, f"/criteria/2.1.1/evidence/{ev['id']}"), headers=world.auth("staff_a")),
        404,
    )


def test_upload_checks_are_reported(http, world, drafting) -> None:
    resp = upload(
        http, world, "staff_a", "bc.pdf", PDF_UNSIGNED, doc_number="số a, b", doc_date="2099-01-01"
    )
    assert resp.status_code == 201, resp.text
    codes = [c["code"] for c in resp.json()["checks"]]
    assert codes == ["placeholder_number", "after_cutoff", "unsigned_pdf"]


def test_upload_too_big(http, world, drafting) -> None:
    big = PNG + b"\x00" * (1024 * 1024)
    body = assert_problem(upload(http, world, "staff_a", "anh.png", big), 413)
    assert body["errors"][0]["field"] == "file" and "1 MB" in body["detail"]


def test_upload_far_too_big_is_cut_off_while_streaming(http, world, drafting) -> None:
    huge = PNG + b"\x00" * (3 * 1024 * 1024)
    assert_problem(upload(http, world, "staff_a", "anh.png", huge), 413)


async def test_the_upload_is_cut_off_not_read_to_the_end(http, world, drafting) -> None:
    """The 413 comes after about the limit, not after the whole body was read (called on the
    ASGI app itself: the test client would read the whole body before the app sees it)."""
    chunk = 64 * 1024
    total = 8 * 1024 * 1024 // chunk  # 8 MB; the app (1 MB evidence) stops reading at 2 MB
    limit_chunks = 2 * 1024 * 1024 // chunk
    boundary = "cutoffboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    pulled = 0
    statuses: list[int] = []

    async def receive() -> dict[str, object]:
        nonlocal pulled
        pulled += 1
        body = head + PNG if pulled == 1 else b"\x00" * chunk
        return {"type": "http.request", "body": body, "more_body": pulled < total}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(str(message["status"])))

    token = world.tokens["staff_a"]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": url(world, "/criteria/2.1.1/evidence"),
        "raw_path": url(world, "/criteria/2.1.1/evidence").encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await http.app(scope, receive, send)
    assert statuses == [413]
    assert pulled <= limit_chunks + 2, f"read {pulled} of {total} chunks before refusing"


def test_body_without_length_is_cut_off_too(http, world) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(3 * 16):
            yield b"x" * 65536

    resp = http.post(
        "/api/units",
        content=chunks(),
        headers={**world.auth("coordinator"), "Content-Type": "application/json"},
    )
    assert "content-length" not in resp.request.headers
    body = assert_problem(resp, 413)
    assert "2 MB" in body["detail"]


def test_upload_wrong_type(http, world, drafting) -> None:
    body = assert_problem(
        upload(http, world, "staff_a", "tai-lieu.pdf", b"<html>not a pdf</html>"), 415
    )
    assert "PDF" in body["detail"] and "DOCX" not in body["detail"]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("a.exe", b"MZ")
    assert_problem(upload(http, world, "staff_a", "bao-cao.docx", zipped.getvalue()), 415)


def test_upload_empty(http, world, drafting) -> None:
    body = assert_problem(upload(http, world, "staff_a", "rong.pdf", b""), 422)
    assert body["errors"][0]["field"] == "file"


def test_upload_bad_date(http, world, drafting) -> None:
    body = assert_problem(upload(http, world, "staff_a", "a.png", PNG, doc_date="32/13/2024"), 422)
    assert body["errors"] == [
        {"field": "doc_date", "in": "form", "reason": "Ngày văn bản không hợp lệ (dd/mm/yyyy)."}
    ]


def test_upload_goes_through_the_edit_gate(engine, http, world) -> None:
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.submitted)
    body = assert_problem(upload(http, world, "staff_a", "a.png", PNG), 409)
    assert body["code"] == "invalid_state"
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.drafting)
    body = assert_problem(
        http.post(
            url(world, "/criteria/1.1/evidence"),
            files={"file": ("a.png", PNG, "image/png")},
            headers=world.auth("staff_a"),
        ),
        403,
    )
    assert body["code"] == "not_assigned"
