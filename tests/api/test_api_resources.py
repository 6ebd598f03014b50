"""Units, users, frameworks and cycles over HTTP; problem documents; the OpenAPI document."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
import yaml
from openpyxl import load_workbook

from tests.api_support import (
    DINH_HOA_YAML,
    PASSWORD,
    assert_problem,
    build_world,
    client,
    make_app,
)
from tests.conftest import SEEDS
from tests.mail_support import follow_welcome

QUANG_DIEN = SEEDS / "quang-dien-departments-2023-draft-framework.txt"


@pytest.fixture(scope="module")
def world(engine):
    return build_world(engine, prefix="rs")


@pytest.fixture(scope="module")
def http(engine, world, tmp_path_factory):
    return client(make_app(engine, tmp_path_factory.mktemp("data")))


# --- units -----------------------------------------------------------------------------------


def test_units_create_list_and_scope(http, world) -> None:
    resp = http.post(
        "/api/units",
        json={"code": "rs-phu-dinh", "name": "UBND xã Phú Đình", "group": "commune"},
        headers=world.auth("coordinator"),
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["name"] == "UBND xã Phú Đình"
    every = http.get("/api/units", headers=world.auth("viewer")).json()
    assert {"rs-unit-a", "rs-unit-b", "rs-unit-c", "rs-phu-dinh"} <= {u["code"] for u in every}
    mine = http.get("/api/units", headers=world.auth("staff_b")).json()
    assert [u["code"] for u in mine] == ["rs-unit-b"]


def test_unit_conflict_and_validation(http, world) -> None:
    body = assert_problem(
        http.post(
            "/api/units",
            json={"code": "rs-unit-a", "name": "Trùng mã"},
            headers=world.auth("coordinator"),
        ),
        409,
    )
    assert body["errors"] == [
        {"field": "code", "in": "body", "reason": "Mã đơn vị 'rs-unit-a' đã tồn tại."}
    ]
    body = assert_problem(
        http.post(
            "/api/units",
            json={"code": "../x", "name": "", "extra": 1},
            headers=world.auth("coordinator"),
        ),
        422,
    )
    assert body["type"] == "/problems/validation" and body["instance"] == "/api/units"
    assert {e["field"] for e in body["errors"]} == {"code", "name", "extra"}
    assert_problem(
        http.post("/api/units", json={"code": "x", "name": "x"}, headers=world.auth("office_a")),
        403,
    )


# --- users -----------------------------------------------------------------------------------


def test_coordinator_creates_any_user_who_then_sets_a_password_and_signs_in(
    engine, world, smtp, tmp_path
) -> None:
    port, sink = smtp
    http = client(make_app(engine, tmp_path, smtp_port=port))
    resp = http.post(
        "/api/users",
        json={
            "username": "RS.Council.TC",
            "full_name": "Lê Văn Tài",
            "email": "tai@taichinh.vn",
            "roles": [
                {"role": "council", "agency": "Phòng Tài chính - Kế hoạch"},
                {"role": "viewer"},
            ],
        },
        headers=world.auth("coordinator"),
    )
    assert resp.status_code == 201, resp.text
    user = resp.json()
    assert user["username"] == "rs.council.tc"
    assert [r["role"] for r in user["roles"]] == ["council", "viewer"]
    # no password yet: the person sets their own from the welcome link, then signs in
    refused = http.post("/api/auth/token", data={"username": "rs.council.tc", "password": PASSWORD})
    assert refused.status_code == 401
    follow_welcome(http, sink, "tai@taichinh.vn", PASSWORD)
    token = http.post(
        "/api/auth/token", data={"username": "rs.council.tc", "password": PASSWORD}
    ).json()["access_token"]
    me = http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["roles"][0]["agency"] == "Phòng Tài chính - Kế hoạch"


def test_nobody_chooses_another_persons_password(http, world) -> None:
    """The API takes no password for a new account (422 naming the field), and needs an
    e-mail address to send the welcome link to."""
    new = {"username": "rs-chosen", "email": "chosen@example.vn", "roles": [{"role": "viewer"}]}
    for who in ("coordinator", "office_a"):
        body = assert_problem(
            http.post(
                "/api/users",
                json={**new, "password": PASSWORD},
                headers=world.auth(who),
            ),
            422,
        )
        assert [e["field"] for e in body["errors"]] == ["password"]
    no_mail = {**new, "email": ""}
    body = assert_problem(
        http.post("/api/users", json=no_mail, headers=world.auth("coordinator")), 422
    )
    assert [e["field"] for e in body["errors"]] == ["email"]
    listed = http.get("/api/users", headers=world.auth("coordinator")).json()
    assert "rs-chosen" not in {u["username"] for u in listed}


def test_unit_office_adds_only_its_own_staff(http, world) -> None:
    new = {
        "username": "rs-unit-a.staff2",
        "email": "staff2@rs-unit-a.vn",
        "roles": [{"role": "staff", "unit_code": "rs-unit-a"}],
    }
    assert http.post("/api/users", json=new, headers=world.auth("office_a")).status_code == 201
    for roles in (
        [{"role": "staff", "unit_code": "rs-unit-b"}],
        [{"role": "unit_office", "unit_code": "rs-unit-a"}],
        [{"role": "coordinator"}],
    ):
        body = assert_problem(
            http.post(
                "/api/users",
                json={**new, "username": "rs-intruder", "roles": roles},
                headers=world.auth("office_a"),
            ),
            403,
        )
        assert "đơn vị mình" in body["detail"]
    listed = http.get("/api/users", headers=world.auth("office_a")).json()
    assert {u["username"] for u in listed} == {"rs-office-a", "rs-staff-a", "rs-unit-a.staff2"}
    everyone = http.get("/api/users", headers=world.auth("coordinator")).json()
    assert len(everyone) >= 10


def test_user_validation(http, world) -> None:
    body = assert_problem(
        http.post(
            "/api/users",
            json={
                "username": "x",
                "password": "short",
                "email": "not-mail",
                "roles": [{"role": "staff"}],
            },
            headers=world.auth("coordinator"),
        ),
        422,
    )
    fields = {e["field"] for e in body["errors"]}
    assert {"username", "password", "email", "roles.0"} <= fields
    body = assert_problem(
        http.post(
            "/api/users",
            json={
                "username": "rs-ghost",
                "email": "ghost@example.vn",
                "roles": [{"role": "staff", "unit_code": "no-such-unit"}],
            },
            headers=world.auth("coordinator"),
        ),
        422,
    )
    assert body["errors"][0]["field"] == "roles.unit_code"
    assert_problem(
        http.post(
            "/api/users",
            json={
                "username": "rs-staff-a",
                "email": "again@example.vn",
                "roles": [{"role": "viewer"}],
            },
            headers=world.auth("coordinator"),
        ),
        409,
    )


# --- frameworks ------------------------------------------------------------------------------


def test_framework_list_read_export(http, world) -> None:
    listed = http.get("/api/frameworks", headers=world.auth("staff_a")).json()
    assert [f["id"] for f in listed] == [world.framework_id]
    one = http.get(f"/api/frameworks/{world.framework_id}", headers=world.auth("staff_a")).json()
    assert one["status"] == "published" and one["spec"]["nodes"][0]["code"] == "NỘI DUNG I"
    yml = http.get(f"/api/frameworks/{world.framework_id}/export", headers=world.auth("viewer"))
    assert yml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(yml.text)["name"] == one["name"]
    xlsx = http.get(
        f"/api/frameworks/{world.framework_id}/export?format=xlsx", headers=world.auth("viewer")
    )
    assert xlsx.headers["content-disposition"].startswith("attachment;")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:3] == ("Mã số", "Nội dung tiêu chí, phương pháp chấm điểm", "Điểm tối đa")
    assert rows[-1][1] == "Tổng cộng" and Decimal(str(rows[-1][2])) == 100
    assert_problem(http.get("/api/frameworks/999999", headers=world.auth("viewer")), 404)
    assert_problem(
        http.get(
            f"/api/frameworks/{world.framework_id}/export?format=pdf", headers=world.auth("viewer")
        ),
        422,
    )


def test_import_yaml_is_idempotent_and_published_versions_are_immutable(http, world) -> None:
    data = DINH_HOA_YAML.read_bytes()
    coord = world.auth("coordinator")
    same = http.post(
        "/api/frameworks/import",
        files={"file": ("dh.yaml", data, "application/yaml")},
        headers=coord,
    )
    assert same.status_code == 201 and same.json()["id"] == world.framework_id
    changed = data.replace(b"name: ", "name: Sửa ".encode(), 1)
    renamed = http.post(
        "/api/frameworks/import",
        files={"file": ("dh.yaml", changed, "application/yaml")},
        headers=coord,
    ).json()
    assert renamed["id"] != world.framework_id and renamed["version"] == 1
    # same name and year as the published one → its next version, as a draft
    edited = data.replace(
        "Lãnh đạo, chỉ đạo thực hiện phòng".encode(), "Lãnh đạo, chỉ đạo công tác phòng".encode(), 1
    )
    assert edited != data
    v2 = http.post(
        "/api/frameworks/import",
        files={"file": ("dh.yaml", edited, "application/yaml")},
        headers=coord,
    ).json()
    assert (
        v2["version"] == 2
        and v2["status"] == "draft"
        and v2["spec_hash"] != same.json()["spec_hash"]
    )
    original = http.get(f"/api/frameworks/{world.framework_id}", headers=coord).json()
    assert original["spec_hash"] == same.json()["spec_hash"] and original["status"] == "published"
    published = http.post(f"/api/frameworks/{v2['id']}/publish", headers=coord).json()
    assert published["status"] == "published" and published["published_at"]


def test_import_annex_table_needs_name_and_year(http, world) -> None:
    coord = world.auth("coordinator")
    seed = QUANG_DIEN.read_bytes()
    body = assert_problem(
        http.post("/api/frameworks/import", files={"file": ("qd.txt", seed)}, headers=coord), 422
    )
    assert body["errors"][0]["field"] == "name"
    resp = http.post(
        "/api/frameworks/import",
        files={"file": ("qd.txt", seed)},
        data={"name": "Khung tiêu chí phòng chuyên môn Quảng Điền", "year": "2023"},
        headers=coord,
    )
    assert resp.status_code == 201, resp.text
    imported = resp.json()
    assert imported["year"] == 2023 and imported["status"] == "draft"
    # exactly what the annex parser reports for this seed (tests/frameworks/test_annex.py),
    # line first
    assert imported["warnings"] == [
        "dòng 1: Bỏ qua dòng 1–31 trước dòng tiêu đề bảng (bắt đầu: “Tìm kiếm tin tức”)",
        "dòng 1667: Ô “0,5” không thuộc cột nào của bảng — bỏ qua",
        "dòng 1901: Bỏ qua dòng 1901–1921 sau dòng tổng (bắt đầu: “* Ghi chú: Đối với các tiêu "
        "chí tiêu chí, tiêu chí thành ph…”)",
    ]


@pytest.mark.parametrize(
    ("name", "content", "field"),
    [
        ("x.yaml", b"nodes: [", "file"),
        ("x.yaml", b"name: x\nyear: 1800\nnodes: []\n", "file"),
        ("x.docx", b"PK\x03\x04", "file"),
        ("x.yaml", b"", "file"),
        ("x.yaml", b"\xff\xfe\x00bad", "file"),
    ],
)
def test_import_refuses_broken_files(http, world, name, content, field) -> None:
    body = assert_problem(
        http.post(
            "/api/frameworks/import",
            files={"file": (name, content)},
            headers=world.auth("coordinator"),
        ),
        422,
    )
    assert body["errors"][0]["field"] == field


# --- cycles ----------------------------------------------------------------------------------


def test_cycle_create_reads_local_time_and_checks_the_timeline(http, world) -> None:
    body = {
        "id": "rs-2024",
        "year": 2024,
        "title": "Kỳ đánh giá năm 2024",
        "framework_id": world.framework_id,
        "units": ["rs-unit-a", "rs-unit-b"],
        "opens_at": "2024-11-01T08:00:00",
        "data_cutoff_at": "2024-11-20T23:59:59",
        "submission_deadline": "2024-11-22T17:00:00",
        "hard_lock_at": "2024-11-25T17:00:00+07:00",
        "appraisal_deadline": "2024-12-10T10:00:00Z",
        "results_target": "2024-12-20T08:00:00",
    }
    resp = http.post("/api/cycles", json=body, headers=world.auth("coordinator"))
    assert resp.status_code == 201, resp.text
    cycle = resp.json()
    times = {t["key"]: t for t in cycle["timeline"]}
    # "17 giờ 00 ngày 25/11/2024" local is 10:00 UTC
    assert times["hard_lock_at"]["at"].startswith("2024-11-25T10:00:00")
    assert times["hard_lock_at"]["at_local"] == "17:00 ngày 25/11/2024"
    assert times["submission_deadline"]["at_local"] == "17:00 ngày 22/11/2024"
    assert [u["state"] for u in cycle["units"]] == ["assigning", "assigning"]
    # the listing is scoped: unit C's office takes no part
    assert "rs-2024" in [
        c["id"] for c in http.get("/api/cycles", headers=world.auth("staff_a")).json()
    ]
    assert "rs-2024" not in [
        c["id"] for c in http.get("/api/cycles", headers=world.auth("office_c")).json()
    ]
    # refusals: a duplicate, a lock before the deadline, an unknown unit
    body409 = assert_problem(
        http.post("/api/cycles", json=body, headers=world.auth("coordinator")), 409
    )
    assert body409["code"] == "cycle_exists" and body409["detail_en"] == "Cycle rs-2024 exists."
    bad = {**body, "id": "rs-2024-b", "hard_lock_at": "2024-11-20T17:00:00"}
    refused = assert_problem(
        http.post("/api/cycles", json=bad, headers=world.auth("coordinator")), 409
    )
    assert refused["code"] == "invalid_timeline"
    unknown = {**body, "id": "rs-2024-c", "units": ["nope"]}
    assert (
        assert_problem(
            http.post("/api/cycles", json=unknown, headers=world.auth("coordinator")), 409
        )["code"]
        == "unknown_unit"
    )


def test_cycle_results_before_publication_are_scoped(http, world) -> None:
    res = http.get(f"/api/cycles/{world.cycle_id}/results", headers=world.auth("office_b")).json()
    assert res["published"] is False
    assert [u["code"] for u in res["units"]] == ["rs-unit-b"]
    everyone = http.get(
        f"/api/cycles/{world.cycle_id}/results", headers=world.auth("viewer")
    ).json()
    assert [u["code"] for u in everyone["units"]] == ["rs-unit-a", "rs-unit-b"]


def test_commands_without_temporal_are_503(http, world) -> None:
    body = assert_problem(
        http.post(f"/api/cycles/{world.cycle_id}/start", headers=world.auth("coordinator")), 503
    )
    assert "Temporal" in body["detail"]


# --- problems and the OpenAPI document --------------------------------------------------------


def test_unknown_route_and_method_are_problems(http, world) -> None:
    body = assert_problem(http.get("/api/nothing-here", headers=world.auth("viewer")), 404)
    assert body["detail"] == "Không tìm thấy tài nguyên."
    assert_problem(http.delete("/api/units", headers=world.auth("coordinator")), 405)


def test_openapi_documents_every_route_with_examples(http) -> None:
    schema = http.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/auth/token",
        "/api/units",
        "/api/users",
        "/api/frameworks/import",
        "/api/cycles/{cycle_id}/deadlines",
        "/api/cycles/{cycle_id}/units/{unit_id}/criteria/{code}/draft",
        "/api/cycles/{cycle_id}/units/{unit_id}/criteria/{code}/evidence/{evidence_id}",
        "/api/cycles/{cycle_id}/units/{unit_id}/explanation-requests/{request_id}/criteria/{code}",
        "/api/cycles/{cycle_id}/units/{unit_id}/audit",
    ):
        assert path in paths, path
    components = schema["components"]["schemas"]
    for name in ("UnitCreate", "UserCreate", "CycleCreate", "DraftIn", "AppraisalIn", "AuditRow"):
        assert components[name].get("examples"), name
    forms = [n for n in components if n.startswith("Body_")]
    assert forms and all(components[n].get("examples") for n in forms)
    draft = paths["/api/cycles/{cycle_id}/units/{unit_id}/criteria/{code}/draft"]["put"]
    assert "application/problem+json" in draft["responses"]["409"]["content"]
    assert "application/problem+json" in draft["responses"]["422"]["content"]
    assert (
        schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"][
            "tokenUrl"
        ]
        == "/api/auth/token"
    )
    docs = http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
