"""The REST routes under /api, one module per resource."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import audit, auth, cycles, evidence, frameworks, reports, sheet, units, users

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    units.router,
    users.router,
    frameworks.router,
    cycles.router,
    sheet.router,
    evidence.router,
    audit.router,
    reports.router,
)
