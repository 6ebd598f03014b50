"""End to end through the REST API: a cycle for two communes from creation to published results,
against the real Temporal dev server, the real worker, a real SMTP server and the database.

Only the first coordinator is created outside the API (as `appraisal dev` does); everything else
— units, accounts, the framework, the cycle, assignments, drafts, evidence, submission,
appraisal, an explanation round, finalisation, classification, publication — is an HTTP call.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from core.db import session_scope
from services.accounts import ensure_admin
from tests.api_support import DINH_HOA_YAML, make_app
from tests.mail_support import WELCOME_SUBJECT, follow_welcome_async
from tests.services.test_evidence import PDF_SIGNED
from workflows.worker import build_worker

PASSWORD = "mat-khau-e2e-2024"
AGENCY = "Thanh tra huyện"  # appraises 2.1.x and 2.3.x of the Định Hóa framework
# Criteria of area II drafted by each commune's staff (inputs per the Định Hóa rules).
DRAFTS: dict[str, dict[str, Any]] = {
    "2.1.1": {"inputs": {"level": "full"}, "explanation": "Kế hoạch số 15/KH-UBND."},
    "2.1.2": {"inputs": {"level": "full"}, "explanation": "Báo cáo số 40/BC-UBND."},
    "2.3.4": {"not_applicable": True, "explanation": "Không phát sinh đơn thư."},
}


class Api:
    """A thin client: signs in as someone and calls the API as them."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.tokens: dict[str, str] = {}

    async def login(self, username: str, password: str = PASSWORD) -> None:
        resp = await self.http.post(
            "/api/auth/token", data={"username": username, "password": password}
        )
        assert resp.status_code == 200, resp.text
        self.tokens[username] = resp.json()["access_token"]

    async def call(self, who: str, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        resp = await self.http.request(method, path, headers=headers, **kw)
        assert resp.status_code == expect, (method, path, resp.status_code, resp.text)
        return resp.json() if resp.content else None


async def test_two_communes_from_creation_to_published_results(
    engine, temporal_dev: WorkflowEnvironment, smtp, tmp_path
) -> None:
    port, sink = smtp
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    app = make_app(
        engine,
        tmp_path,
        temporal=temporal_dev.client,
        temporal_task_queue=queue,
        smtp_port=port,
    )
    settings = app.state.settings
    with session_scope(engine) as session:
        ensure_admin(session, password=PASSWORD, username="e2e-admin")
    worker = build_worker(temporal_dev.client, engine=engine, settings=settings, task_queue=queue)
    transport = httpx.ASGITransport(app=app)
    async with worker, httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        api = Api(http)
        await api.login("e2e-admin")
        admin = "e2e-admin"

        # --- units, people, framework --------------------------------------------------------
        communes = {
            "e2e-binh-thanh": "UBND xã Bình Thành",
            "e2e-phuong-tien": "UBND xã Phượng Tiến",
        }
        unit_ids = {}
        for code, name in communes.items():
            unit = await api.call(
                admin, "POST", "/api/units", 201,
                json={"code": code, "name": name, "group": "commune", "email": f"vp@{code}.vn"},
            )  # fmt: skip
            unit_ids[code] = unit["id"]
        people = {"e2e-council": {"role": "council", "agency": AGENCY}}
        for code in communes:
            people[f"{code}-office"] = {"role": "unit_office", "unit_code": code}
            people[f"{code}-staff"] = {"role": "staff", "unit_code": code}
        for username, grant in people.items():
            await api.call(
                admin, "POST", "/api/users", 201,
                json={
                    "username": username,
                    "full_name": username,
                    "email": f"{username}@example.vn",
                    "roles": [grant],
                },
            )  # fmt: skip
            # each person sets their own password from the welcome link, then signs in
            await follow_welcome_async(http, sink, f"{username}@example.vn", PASSWORD)
            await api.login(username)
        framework = await api.call(
            admin, "POST", "/api/frameworks/import", 201,
            files={"file": ("dinh-hoa.yaml", DINH_HOA_YAML.read_bytes(), "application/yaml")},
        )  # fmt: skip
        assert framework["status"] == "draft" and Decimal(framework["max_total"]) == 100
        await api.call(admin, "POST", f"/api/frameworks/{framework['id']}/publish")

        # --- the cycle -----------------------------------------------------------------------
        now = datetime.now(UTC)
        cycle_id = f"e2e-{uuid.uuid4().hex[:6]}"
        created = await api.call(
            admin, "POST", "/api/cycles", 201,
            json={
                "id": cycle_id,
                "year": 2024,
                "title": "Đánh giá CCHC năm 2024 — thử nghiệm",
                "framework_id": framework["id"],
                "units": list(communes),
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "data_cutoff_at": (now + timedelta(days=1)).isoformat(),
                "submission_deadline": (now + timedelta(days=5)).isoformat(),
                "hard_lock_at": (now + timedelta(days=7)).isoformat(),
                "appraisal_deadline": (now + timedelta(days=20)).isoformat(),
                "results_target": (now + timedelta(days=30)).isoformat(),
            },
        )  # fmt: skip
        assert created["state"] == "draft"
        started = await api.call(admin, "POST", f"/api/cycles/{cycle_id}/start", 202)
        assert started["state"] == "running"
        assert {u["state"] for u in started["units"]} == {"assigning"}
        # a second start is safe (no twins)
        await api.call(admin, "POST", f"/api/cycles/{cycle_id}/start", 202)

        base = f"/api/cycles/{cycle_id}/units"
        bt, pt = unit_ids["e2e-binh-thanh"], unit_ids["e2e-phuong-tien"]
        for code, uid in unit_ids.items():
            office, staff = f"{code}-office", f"{code}-staff"
            status = await api.call(
                office, "PUT", f"{base}/{uid}/assignments",
                json={"assignments": [{"codes": ["II"], "username": staff}]},
            )  # fmt: skip
            assert status["state"] == "drafting"
            for crit, body in DRAFTS.items():
                await api.call(staff, "PUT", f"{base}/{uid}/criteria/{crit}/draft", json=body)
            ev = await api.call(
                staff, "POST", f"{base}/{uid}/criteria/2.1.1/evidence", 201,
                files={"file": ("Kế hoạch PCTN.pdf", PDF_SIGNED, "application/pdf")},
                data={"doc_number": "15/KH-UBND", "doc_date": "15/01/2024", "issuer": code},
            )  # fmt: skip
            assert ev["signed"] and ev["checks"] == []

        # Bình Thành's office reviews and returns one criterion to its staff
        office, staff = "e2e-binh-thanh-office", "e2e-binh-thanh-staff"
        review = await api.call(office, "POST", f"{base}/{bt}/start-review")
        assert review["state"] == "unit_review"
        await api.call(
            office, "POST", f"{base}/{bt}/return",
            json={"codes": ["2.1.2"], "comment": "Ghi rõ số, ngày của báo cáo."},
        )  # fmt: skip
        await api.call(
            staff, "PUT", f"{base}/{bt}/criteria/2.1.2/draft",
            json={"explanation": "Báo cáo số 40/BC-UBND ngày 10/11/2024."},
        )  # fmt: skip
        under_review = await api.call(
            staff, "PUT", f"{base}/{bt}/criteria/2.1.1/draft", 409, json={"explanation": "x"}
        )
        assert under_review["code"] == "under_review"

        # the coordinator extends Phượng Tiến's deadlines; a deadline in the past is refused
        later = now + timedelta(days=6)
        await api.call(
            admin, "POST", f"/api/cycles/{cycle_id}/deadlines",
            json={
                "units": ["e2e-phuong-tien"],
                "submission_deadline": later.isoformat(),
                "hard_lock_at": (now + timedelta(days=8)).isoformat(),
                "reason": "Mất điện kéo dài",
            },
        )  # fmt: skip
        past = await api.call(
            admin, "POST", f"/api/cycles/{cycle_id}/deadlines", 409,
            json={"submission_deadline": (now - timedelta(days=1)).isoformat()},
        )  # fmt: skip
        assert past["code"] == "deadline_in_past" and past["detail_en"]
        cycle = await api.call(admin, "GET", f"/api/cycles/{cycle_id}")
        deadlines = {u["code"]: u["submission_deadline"] for u in cycle["units"]}
        assert datetime.fromisoformat(deadlines["e2e-phuong-tien"]) == later
        assert abs(datetime.fromisoformat(deadlines["e2e-binh-thanh"]) - later) > timedelta(hours=1)

        for code, uid in unit_ids.items():
            office, staff = f"{code}-office", f"{code}-staff"
            # staff cannot submit; the office can
            await api.call(staff, "POST", f"{base}/{uid}/submit", 403)
            submitted = await api.call(
                office, "POST", f"{base}/{uid}/submit", json={"proposed_class": "good"}
            )
            assert submitted["state"] == "submitted" and submitted["snapshot_hash"]
            # the answer carries what the office was warned about: most criteria unfinished
            check = submitted["check"]
            assert check["total_criteria"] > 60 and check["finished"] < 5
            assert len(check["unfinished"]) == check["total_criteria"] - check["finished"]
            assert check["unfinished"][0]["message"] == "Chưa chấm điểm."
            assert check["proposed_class"] == "fail"
            # after submission the sheet is frozen
            refused = await api.call(
                staff, "PUT", f"{base}/{uid}/criteria/2.1.2/draft", 409, json={"explanation": "x"}
            )
            assert refused["code"] == "invalid_state"

        # the coordinator reopens Phượng Tiến with a reason; its office submits again
        reopened = await api.call(
            admin, "POST", f"{base}/{pt}/reopen", json={"reason": "Đơn vị đề nghị bổ sung"}
        )
        assert reopened["state"] == "drafting"
        resubmitted = await api.call("e2e-phuong-tien-office", "POST", f"{base}/{pt}/submit")
        assert resubmitted["state"] == "submitted" and resubmitted["submissions"] == 2

        # --- appraisal, one explanation round for Bình Thành ---------------------------------
        council = "e2e-council"
        for uid in (bt, pt):
            await api.call(council, "POST", f"{base}/{uid}/start-appraisal")
            sheet = await api.call(council, "GET", f"{base}/{uid}")
            assert sheet["state"] == "appraising"
            assert sheet["snapshots"][-1]["kind"].startswith("submission")
        appraised = await api.call(
            council, "PUT", f"{base}/{bt}/criteria/2.1.1/appraisal",
            json={"inputs": {"level": "not_full"}, "comment": "Thiếu văn bản chỉ đạo."},
        )  # fmt: skip
        assert appraised["score"] == "0.000"
        flagged = await api.call(
            council, "POST", f"{base}/{bt}/explanation-requests", 201,
            json={"items": [{"code": "2.1.1", "question": "Bổ sung văn bản chỉ đạo PCTN."}]},
        )  # fmt: skip
        assert flagged["state"] == "explanation" and flagged["round_no"] == 1
        sheet = await api.call("e2e-binh-thanh-staff", "GET", f"{base}/{bt}")
        round_id = sheet["explanation_rounds"][0]["id"]
        await api.call(
            "e2e-binh-thanh-staff", "PUT",
            f"{base}/{bt}/explanation-requests/{round_id}/criteria/2.1.1",
            json={"answer": "Đã bổ sung Chỉ thị số 02/CT-UBND."},
        )  # fmt: skip
        await api.call(council, "POST", f"{base}/{bt}/explanation-requests/{round_id}/close")
        await api.call(
            council, "PUT", f"{base}/{bt}/criteria/2.1.1/appraisal",
            json={"inputs": {"level": "full"}, "comment": "Đã đủ sau giải trình."},
        )  # fmt: skip
        await api.call(
            council, "PUT", f"{base}/{pt}/criteria/2.1.2/appraisal",
            json={"inputs": {"level": "not_full"}, "comment": "Chưa thực hiện đầy đủ."},
        )  # fmt: skip
        # the other agencies of the framework have appraised nothing: finalising is refused
        # with their names until the council overrides, with a reason (audited)
        refused = await api.call(council, "POST", f"{base}/{bt}/finalise", 409)
        assert refused["code"] == "agencies_unfinished"
        assert "Phòng Tài chính - Kế hoạch" in refused["detail"]
        override = {"override": True, "reason": "Các cơ quan khác không có ý kiến."}
        for uid in (bt, pt):
            final = await api.call(council, "POST", f"{base}/{uid}/finalise", json=override)
            assert final["state"] == "finalised"

        # --- classification and publication --------------------------------------------------
        # results are not published yet: a commune sees only itself
        early = await api.call("e2e-phuong-tien-office", "GET", f"/api/cycles/{cycle_id}/results")
        assert early["published"] is False and [u["code"] for u in early["units"]] == [
            "e2e-phuong-tien"
        ]
        await api.call(admin, "POST", f"/api/cycles/{cycle_id}/close-appraisal")
        await api.call(admin, "POST", f"/api/cycles/{cycle_id}/classify")
        published = await api.call(admin, "POST", f"/api/cycles/{cycle_id}/publish")
        assert published["state"] == "published"
        again = await api.call(admin, "POST", f"/api/cycles/{cycle_id}/publish", 409)
        assert again["code"] and again["detail_en"]

        results = await api.call("e2e-phuong-tien-staff", "GET", f"/api/cycles/{cycle_id}/results")
        assert results["published"] is True
        rows = {r["code"]: r for r in results["units"]}
        # Bình Thành: 1 + 1 + 1 (2.1.1 restored after explanation); Phượng Tiến: 0 + 1 + 1
        assert Decimal(rows["e2e-binh-thanh"]["final_total"]) == 3
        assert Decimal(rows["e2e-phuong-tien"]["final_total"]) == 2
        assert rows["e2e-binh-thanh"]["rank"] == 1 and rows["e2e-phuong-tien"]["rank"] == 2
        assert rows["e2e-binh-thanh"]["classification"] == "fail"
        assert rows["e2e-binh-thanh"]["classification_label"] == "Không hoàn thành nhiệm vụ"
        assert {r["state"] for r in results["units"]} == {"published"}

        # the audit trail of Bình Thành tells the story, in order
        trail = await api.call(admin, "GET", f"{base}/{bt}/audit", params={"limit": 1000})
        actions = [(r["entity"], r["action"]) for r in trail]
        for step in [
            ("assignment", "replace"),
            ("entry", "draft"),
            ("evidence", "attach"),
            ("state", "submit"),
            ("entry", "appraise"),
            ("state", "request_explanation"),
            ("explanation", "answer"),
            ("state", "finalise"),
            ("unit", "finalise_override"),
        ]:
            assert step in actions, step
        assert next(a for a in actions if a[0] == "state") == ("state", "assign")

        # the staff got their assignments by mail (sent by the workflow, asynchronously)
        def recipients() -> set[str]:
            mails = zip(sink.envelopes, sink.messages, strict=True)
            return {
                addr
                for (_, rcpts), message in mails
                if WELCOME_SUBJECT not in str(message["Subject"])  # not the welcome links
                for addr in rcpts
            }

        for _ in range(300):
            if {"e2e-binh-thanh-staff@example.vn", "e2e-phuong-tien-staff@example.vn"} <= (
                recipients()
            ):
                break
            await asyncio.sleep(0.1)
        assert "e2e-binh-thanh-staff@example.vn" in recipients()
        assert "e2e-phuong-tien-staff@example.vn" in recipients()
