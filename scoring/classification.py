"""Classification (xếp loại) and ranking (xếp hạng) of the units of a cycle, per group.

The scheme is data (``models.framework.ClassificationScheme``); this module applies it:

1. Bands: a unit earns the highest band whose ``min_total`` ≤ its final total; a total below
   every band's minimum earns the lowest band (the scheme's "else").
2. Vetoes: when the scheme names ``veto_max_band``, a unit with a critical criterion scored 0
   is capped at that band.
3. Quota on the top band, counted per group (communes apart from departments): at most
   ``floor(top_quota_percent × n / 100)`` units of a group of ``n`` keep the top band — but
   never fewer than ``min_top`` (default 1) while the percentage is above 0, so a group of
   three units under a 20% quota may still have one excellent unit; pass ``min_top=0`` for the
   strict reading, and a percentage of 0 always closes the top band. Candidates are ordered by
   total, then by the scheme's ``tie_break`` (the sum over critical criteria, higher first, or
   the unit code), and finally by the unit code, so the order is always stated and stable.
   Units pushed out fall to the next band. Vetoed units are not candidates and take no place.
4. Ranks: standard competition ranking on the total inside each group (1, 2, 2, 4).

A higher total never earns a lower band than a lower total of the same group, vetoes aside.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from core.vn import vn_decimal
from models.framework import ClassBand, ClassificationScheme, TieBreak
from scoring.aggregate import SheetScore

__all__ = ["UnitClassification", "UnitTotal", "classify", "rank", "rank_units", "top_quota"]


class UnitTotal(BaseModel):
    """The final result of one unit, as classification needs it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit_id: str = Field(min_length=1)
    total: Decimal = Field(description="Tổng điểm thẩm định cuối cùng")
    group: str = Field(default="", description="Nhóm xếp hạng: xã, phòng chuyên môn, …")
    unit_code: str = Field(default="", description="Mã đơn vị, dùng khi bằng điểm")
    critical_total: Decimal = Field(default=Decimal(0), description="Điểm các tiêu chí quyết định")
    critical_zero: tuple[str, ...] = Field(default=(), description="Tiêu chí quyết định đạt 0")

    @classmethod
    def from_sheet(
        cls, sheet: SheetScore, *, unit_id: str, group: str = "", unit_code: str = ""
    ) -> UnitTotal:
        """The unit's total, critical sum and failed critical criteria from its scored sheet."""
        return cls(
            unit_id=unit_id,
            total=sheet.total,
            group=group,
            unit_code=unit_code,
            critical_total=sheet.critical_total,
            critical_zero=sheet.critical_zero,
        )


class UnitClassification(BaseModel):
    """The level and rank a unit gets, with the reasons in Vietnamese."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit_id: str
    group: str
    total: Decimal
    band_key: str
    band_label: str
    natural_band_key: str = Field(description="The band of the total alone")
    rank: int = Field(ge=1)
    vetoed: bool = False
    quota_demoted: bool = False
    reasons: tuple[str, ...] = ()


def rank(totals: Sequence[Decimal]) -> list[int]:
    """Competition ranks, highest total first, ties shared: [90, 85, 85, 70] → [1, 2, 2, 4]."""
    ascending = sorted(totals)
    # rank = 1 + number of totals strictly greater.
    return [1 + len(ascending) - bisect_right(ascending, t) for t in totals]


def rank_units(results: Sequence[UnitTotal]) -> dict[str, int]:
    """Each unit's rank inside its own group."""
    out: dict[str, int] = {}
    for members in _groups(results).values():
        for unit, r in zip(members, rank([u.total for u in members]), strict=True):
            out[unit.unit_id] = r
    return out


def _groups(results: Sequence[UnitTotal]) -> dict[str, list[UnitTotal]]:
    groups: dict[str, list[UnitTotal]] = {}
    for unit in results:
        groups.setdefault(unit.group, []).append(unit)
    return groups


def _band_for(bands: Sequence[ClassBand], total: Decimal) -> int:
    for i, band in enumerate(bands):
        if total >= band.min_total:
            return i
    return len(bands) - 1


def top_quota(percent: Decimal, group_size: int, *, min_top: int = 1) -> int:
    """How many units of a group may keep the top band (see the module docstring)."""
    if percent <= 0:
        return 0
    allowed = int(percent * group_size // 100)
    return min(group_size, max(allowed, min_top))


def _pct(d: Decimal) -> str:
    return vn_decimal(d.normalize())


def classify(
    scheme: ClassificationScheme, results: Sequence[UnitTotal], *, min_top: int = 1
) -> list[UnitClassification]:
    """Classifies and ranks every unit, per group; the output follows the input order."""
    ids = [u.unit_id for u in results]
    if len(set(ids)) != len(ids):
        raise ValueError("a unit appears twice in the results")
    bands = sorted(scheme.bands, key=lambda b: b.min_total, reverse=True)
    veto_index: int | None = None
    if scheme.veto_max_band is not None:
        keys = [b.key for b in bands]
        if scheme.veto_max_band not in keys:
            raise ValueError(f"veto_max_band {scheme.veto_max_band!r} is not a band of the scheme")
        veto_index = keys.index(scheme.veto_max_band)

    natural: dict[str, int] = {}
    final: dict[str, int] = {}
    reasons: dict[str, list[str]] = {}
    vetoed: set[str] = set()
    demoted: set[str] = set()

    for unit in results:
        i = _band_for(bands, unit.total)
        natural[unit.unit_id] = i
        band = bands[i]
        if unit.total >= band.min_total:
            why = f"Tổng điểm {_pct(unit.total)} ≥ {_pct(band.min_total)}: “{band.label}”"
        else:
            why = f"Tổng điểm {_pct(unit.total)} dưới mọi mức: “{band.label}”"
        reasons[unit.unit_id] = [why]
        if veto_index is not None and unit.critical_zero and i < veto_index:
            i = veto_index
            vetoed.add(unit.unit_id)
            codes = ", ".join(unit.critical_zero)
            reasons[unit.unit_id].append(
                f"Tiêu chí quyết định {codes} đạt 0 điểm: xếp loại tối đa “{bands[i].label}”"
            )
        final[unit.unit_id] = i

    if scheme.top_quota_percent is not None and len(bands) > 1:
        for members in _groups(results).values():
            allowed = top_quota(scheme.top_quota_percent, len(members), min_top=min_top)
            candidates = sorted(
                (u for u in members if final[u.unit_id] == 0),
                key=lambda u: _quota_order(u, scheme.tie_break),
            )
            for unit in candidates[allowed:]:
                final[unit.unit_id] = 1
                demoted.add(unit.unit_id)
                reasons[unit.unit_id].append(
                    f"Vượt tỷ lệ {_pct(scheme.top_quota_percent)}% số đơn vị được xếp loại "
                    f"“{bands[0].label}” của nhóm (tối đa {allowed}/{len(members)} đơn vị): "
                    f"xếp loại “{bands[1].label}”"
                )

    ranks = rank_units(results)
    return [
        UnitClassification(
            unit_id=u.unit_id,
            group=u.group,
            total=u.total,
            band_key=bands[final[u.unit_id]].key,
            band_label=bands[final[u.unit_id]].label,
            natural_band_key=bands[natural[u.unit_id]].key,
            rank=ranks[u.unit_id],
            vetoed=u.unit_id in vetoed,
            quota_demoted=u.unit_id in demoted,
            reasons=tuple(reasons[u.unit_id]),
        )
        for u in results
    ]


def _quota_order(unit: UnitTotal, tie_break: TieBreak) -> tuple[Decimal, Decimal, str, str]:
    code = unit.unit_code or unit.unit_id
    if tie_break is TieBreak.total_then_critical:
        return (-unit.total, -unit.critical_total, code, unit.unit_id)
    return (-unit.total, Decimal(0), code, unit.unit_id)
