"""Vietnamese labels of the process: unit and cycle states, commands, deadlines, reminders.

One place for the words people read in e-mails, refusals, the CLI and the Temporal Web UI.
Pure data (it imports only ``models.states``), so the workflow sandbox may load it.
"""

from __future__ import annotations

from models.states import CycleState, UnitState

UNIT_STATE_VI: dict[UnitState, str] = {
    UnitState.assigning: "Đang phân công",
    UnitState.drafting: "Đang tự chấm điểm",
    UnitState.unit_review: "Đơn vị đang rà soát",
    UnitState.submitted: "Đã gửi kết quả",
    UnitState.appraising: "Đang thẩm định",
    UnitState.explanation: "Đang giải trình, bổ sung tài liệu kiểm chứng",
    UnitState.finalised: "Đã thẩm định xong",
    UnitState.classified: "Đã xếp loại",
    UnitState.published: "Đã công bố kết quả",
    UnitState.not_submitted: "Không gửi kết quả (đã khóa)",
    UnitState.cancelled: "Đã hủy",
}

CYCLE_STATE_VI: dict[CycleState, str] = {
    CycleState.draft: "Nháp",
    CycleState.running: "Đang thực hiện",
    CycleState.appraisal_closed: "Đã kết thúc thẩm định",
    CycleState.classified: "Đã xếp loại",
    CycleState.published: "Đã công bố kết quả",
    CycleState.cancelled: "Đã hủy",
}

# (Vietnamese, English) name of each command, for refusals: "Không thể gửi kết quả khi …".
COMMAND_LABELS: dict[str, tuple[str, str]] = {
    "assign": ("phân công", "assign criteria"),
    "start_review": ("bắt đầu rà soát", "start the review"),
    "return": ("trả lại tiêu chí", "return criteria"),
    "submit": ("gửi kết quả", "submit"),
    "start_appraisal": ("bắt đầu thẩm định", "start the appraisal"),
    "request_explanation": ("yêu cầu giải trình", "request explanations"),
    "close_round": ("kết thúc vòng giải trình", "close the explanation round"),
    "finalise": ("kết thúc thẩm định", "finalise the appraisal"),
    "reopen": ("mở lại", "reopen"),
    "set_deadlines": ("thay đổi thời hạn", "change deadlines"),
    "close_appraisal": ("kết thúc thẩm định", "close the appraisal"),
    "classified": ("xếp loại", "classify"),
    "publish_unit": ("công bố kết quả", "publish results"),
    "followup_done": ("báo cáo hoàn thành", "report a follow-up done"),
    "cancel": ("hủy", "cancel"),
    "extend": ("gia hạn", "extend deadlines"),
    "classify": ("xếp loại", "classify"),
    "publish": ("công bố kết quả", "publish results"),
}

DEADLINE_VI: dict[str, str] = {
    "submission": "hạn gửi kết quả tự chấm điểm",
    "hard_lock": "thời điểm phần mềm tự động khóa",
    "explanation": "hạn giải trình, bổ sung tài liệu kiểm chứng",
    "analysis": "hạn ban hành báo cáo phân tích tồn tại, hạn chế",
    "plan": "hạn ban hành kế hoạch khắc phục hạn chế, yếu kém",
}

FOLLOWUP_VI: dict[str, str] = {
    "analysis": "Báo cáo phân tích tồn tại, hạn chế, tiêu chí bị trừ điểm",
    "plan": "Kế hoạch khắc phục hạn chế, yếu kém cho năm tiếp theo",
}


def offset_vi(offset: str) -> str:
    """ "168h" → "còn 7 ngày", "24h" → "còn 1 ngày", "5h" → "còn 5 giờ", "morning" → "hôm nay"."""
    if offset == "morning":
        return "hôm nay là ngày hết hạn"
    hours = int(offset.rstrip("h"))
    if hours % 24 == 0:
        return f"còn {hours // 24} ngày"
    return f"còn {hours} giờ"
