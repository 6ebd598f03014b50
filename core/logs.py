"""Logs: one JSON object per line in production (with request and workflow ids), text in dev.

The request id is set by the API middleware (``REQUEST_ID``); activity log lines carry the
workflow id from ``temporalio.activity.info()``, workflow log lines the ``temporal_workflow``
extra the SDK's workflow logger adds.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")

TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def _workflow_ids(record: logging.LogRecord) -> dict[str, str]:
    extra = getattr(record, "temporal_workflow", None) or getattr(record, "temporal_activity", None)
    if isinstance(extra, dict) and extra.get("workflow_id"):
        return {"workflow_id": str(extra["workflow_id"]), "run_id": str(extra.get("run_id", ""))}
    try:
        from temporalio import activity

        if activity.in_activity():
            info = activity.info()
            return {"workflow_id": info.workflow_id or "", "activity": info.activity_type}
    except Exception:  # logging must never fail the caller
        pass
    return {}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            out["request_id"] = request_id
        out.update(_workflow_ids(record))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def log_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the root logger and uvicorn's (also applied in uvicorn's children)."""
    formatter: dict[str, Any] = (
        {"()": "core.logs.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure(log_format: str, level: str = "INFO") -> None:
    """Configures logging for this process."""
    logging.config.dictConfig(log_config(log_format, level))
