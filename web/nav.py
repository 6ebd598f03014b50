"""The links of the page header: the coordinator's whole year (frameworks, units and accounts,
cycles, the audit trail, the account); every other role only its own pages."""

from __future__ import annotations

from collections.abc import Iterable

from models.tables import Role

__all__ = ["nav_links"]

Link = tuple[str, str]  # (href, Vietnamese label)

TASKS: Link = ("/", "Việc của tôi")
CYCLES: Link = ("/cycles", "Kỳ đánh giá")
ACCOUNT: Link = ("/password/change", "Tài khoản")
COORDINATOR: tuple[Link, ...] = (
    ("/frameworks", "Bộ tiêu chí"),
    ("/units", "Đơn vị và tài khoản"),
    CYCLES,
    ("/audit", "Nhật ký thay đổi"),
    ACCOUNT,
)
# roles whose start page ("/") lists their own work: criteria, reviews, council queues
WITH_TASKS = frozenset({Role.staff, Role.unit_office, Role.council})


def nav_links(roles: Iterable[Role]) -> list[Link]:
    """The header's links for a person holding ``roles``."""
    held = frozenset(roles)
    if Role.coordinator in held:
        return list(COORDINATOR)
    links = [TASKS] if held & WITH_TASKS else []
    return [*links, CYCLES, ACCOUNT]
