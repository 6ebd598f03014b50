"""Classification (xếp loại) and ranking (xếp hạng) of the units of a cycle, per group.

The scheme is data (``models.framework.ClassificationScheme``); this module applies it
(docs/regulation.md lists each rule with the article it comes from):

1. Measure: the bands are compared with the share of the applicable maximum on the framework's
   scale, ``total × nominal max / applicable max`` (``band_basis: share``), so a criterion
   "không phát sinh" that leaves the max does not cost a band; or with the raw total when the
   framework says so (``band_basis: total``). A unit without a known max uses its total.
2. Bands: a unit earns the highest band whose ``min_total`` ≤ its measure; a measure below every
   band's minimum earns the lowest band (the scheme's "else").
3. Vetoes: a condition the council records against a unit (``UnitTotal.vetoes``: a disciplinary
   decision, a conclusion of the competent level — Nghị định 335/2025/NĐ-CP, the article on the
   levels, khoản 4 điểm b–d: "Không hoàn thành nhiệm vụ thuộc một trong các trường hợp sau")
   forces the lowest band whatever the score;
   when the scheme names ``veto_max_band``, a critical criterion scored 0 caps the unit there.
4. Quota on the top band, per group (communes apart from departments). With ``quota_basis:
   next_band`` (the rule in force: Nghị định 335/2025/NĐ-CP, the article on the levels, khoản 5
   điểm a: "không vượt quá 20% tổng số … được xếp loại 'Hoàn thành tốt nhiệm vụ' trong phạm vi
   cùng một cơ quan … và trong từng nhóm … có nhiệm vụ tương đồng"; the article's number is not
   in the copies read, see docs/regulation.md) the units kept in the top band may be at most
   ``top_quota_percent`` % of the units rated in the next band ("Hoàn thành tốt nhiệm vụ") of
   the group *after* the quota — so with ``p`` %, ``g`` units naturally "tốt" and ``c``
   candidates, ``k = floor(p × (g + c) / (100 + p))`` stay (k ≤ p % × (g + c − k), the largest
   such k). With ``quota_basis: group`` it is ``floor(p × n / 100)`` of the ``n`` units of the
   group. ``min_top`` (default 0: no minimum unless the framework sets one) keeps that many
   whatever the percentage. Units with an approved exception (``exceptions``: the number of the
   competent level's decision, khoản 5 điểm b: "Trường hợp tổ chức có thành tích xuất sắc, nổi
   trội …") keep the top
   band outside the quota and take no place in it. Candidates are ordered by measure, then by
   the scheme's ``tie_break`` (the critical criteria's sum, or the unit code), then by the unit
   code. Units pushed out fall to the next band, with the reason.
5. Ranks: standard competition ranking on the measure inside each group (1, 2, 2, 4).

A higher measure never earns a lower band than a lower measure of the same group, vetoes and
exceptions aside.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from core.vn import vn_decimal
from models.framework import BandBasis, ClassBand, ClassificationScheme, QuotaBasis, TieBreak
from scoring.aggregate import SheetScore
from scoring.rules import shown_against

__all__ = [
    "UnitClassification",
    "UnitTotal",
    "classify",
    "quota_of_next_band",
    "rank",
    "rank_units",
    "top_quota",
]

ZERO = Decimal(0)


class UnitTotal(BaseModel):
    """The final result of one unit, as classification needs it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit_id: str = Field(min_length=1)
    total: Decimal = Field(description="Tổng điểm thẩm định cuối cùng")
    group: str = Field(default="", description="Nhóm xếp hạng: xã, phòng chuyên môn, …")
    unit_code: str = Field(default="", description="Mã đơn vị, dùng khi bằng điểm")
    critical_total: Decimal = Field(default=ZERO, description="Điểm các tiêu chí quyết định")
    critical_zero: tuple[str, ...] = Field(default=(), description="Tiêu chí quyết định đạt 0")
    max_total: Decimal | None = Field(
        default=None, description="Điểm tối đa áp dụng (sau loại trừ)"
    )
    nominal_max: Decimal | None = Field(default=None, description="Điểm tối đa của bộ tiêu chí")
    vetoes: tuple[str, ...] = Field(
        default=(), description="Trường hợp buộc xếp loại không hoàn thành nhiệm vụ"
    )

    @classmethod
    def from_sheet(
        cls, sheet: SheetScore, *, unit_id: str, group: str = "", unit_code: str = ""
    ) -> UnitTotal:
        """The unit's total, maxima, critical sum and failed critical criteria from its sheet."""
        return cls(
            unit_id=unit_id,
            total=sheet.total,
            group=group,
            unit_code=unit_code,
            critical_total=sheet.critical_total,
            critical_zero=sheet.critical_zero,
            max_total=sheet.max_total,
            nominal_max=sheet.nominal_max_total,
        )

    def measure(self, basis: BandBasis) -> Decimal:
        """What the bands compare: the share of the applicable max on the nominal scale, or the
        total (raw basis, or no max known, or nothing applicable)."""
        if basis is BandBasis.total or self.max_total is None or self.max_total <= 0:
            return self.total
        nominal = self.nominal_max if self.nominal_max is not None else self.max_total
        if nominal == self.max_total:
            return self.total
        return self.total * nominal / self.max_total


class UnitClassification(BaseModel):
    """The level and rank a unit gets, with the reasons in Vietnamese."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit_id: str
    group: str
    total: Decimal
    measure: Decimal = Field(description="The value the bands were compared with")
    band_key: str
    band_label: str
    natural_band_key: str = Field(description="The band of the measure alone")
    rank: int = Field(ge=1)
    vetoed: bool = False
    quota_demoted: bool = False
    quota_exception: str = Field(default="", description="Decision number of an approved exception")
    reasons: tuple[str, ...] = ()


def rank(totals: Sequence[Decimal]) -> list[int]:
    """Competition ranks, highest total first, ties shared: [90, 85, 85, 70] → [1, 2, 2, 4]."""
    ascending = sorted(totals)
    # rank = 1 + number of totals strictly greater.
    return [1 + len(ascending) - bisect_right(ascending, t) for t in totals]


def rank_units(results: Sequence[UnitTotal], basis: BandBasis = BandBasis.total) -> dict[str, int]:
    """Each unit's rank inside its own group, on the total (or on the share)."""
    out: dict[str, int] = {}
    for members in _groups(results).values():
        for unit, r in zip(members, rank([u.measure(basis) for u in members]), strict=True):
            out[unit.unit_id] = r
    return out


def _groups(results: Sequence[UnitTotal]) -> dict[str, list[UnitTotal]]:
    groups: dict[str, list[UnitTotal]] = {}
    for unit in results:
        groups.setdefault(unit.group, []).append(unit)
    return groups


def _band_for(bands: Sequence[ClassBand], value: Decimal) -> int:
    for i, band in enumerate(bands):
        if value >= band.min_total:
            return i
    return len(bands) - 1


def top_quota(percent: Decimal, group_size: int, *, min_top: int = 0) -> int:
    """Units of a group of ``group_size`` that may keep the top band when the quota is a share
    of the whole group: ``floor(percent × n / 100)``, at least ``min_top``."""
    if percent <= 0:
        return min(group_size, min_top)
    allowed = int(percent * group_size // 100)
    return min(group_size, max(allowed, min_top))


def quota_of_next_band(percent: Decimal, good: int, candidates: int, *, min_top: int = 0) -> int:
    """Candidates that may keep the top band when it may hold at most ``percent`` % of the units
    rated in the next band after the quota (Nghị định 335/2025/NĐ-CP, the article on the levels,
    khoản 5 điểm a: the count "được xếp loại 'Hoàn thành tốt nhiệm vụ'" is the final one, so a
    unit moved down by the quota counts there): the largest k with k ≤ p % × (good + candidates
    − k), i.e. ``floor(p × (good + candidates) / (100 + p))``, at least ``min_top``."""
    if percent <= 0:
        return min(candidates, min_top)
    allowed = int(percent * (good + candidates) // (100 + percent))
    return min(candidates, max(allowed, min_top))


def _num(d: Decimal) -> str:
    return vn_decimal(d.normalize())


def _why_band(
    unit: UnitTotal, basis: BandBasis, bands: Sequence[ClassBand], i: int, value: Decimal
) -> str:
    band = bands[i]
    edge = band.min_total
    # Shown with enough digits never to read as equal to a band limit it is not (89,999, not 90).
    edges = [b.min_total for b in bands]
    if basis is BandBasis.share and value != unit.total and unit.max_total is not None:
        nominal = unit.nominal_max if unit.nominal_max is not None else unit.max_total
        head = (
            f"Tổng điểm {_num(unit.total)}/{_num(unit.max_total)} điểm tối đa áp dụng, "
            f"quy về thang {_num(nominal)}: {shown_against(value, edges)}"
        )
    else:
        head = f"Tổng điểm {_num(unit.total)}"
    if value >= edge:
        return f"{head} ≥ {_num(edge)}: “{band.label}”"
    return f"{head} dưới mọi mức: “{band.label}”"


def classify(
    scheme: ClassificationScheme,
    results: Sequence[UnitTotal],
    *,
    exceptions: Mapping[str, str] | None = None,
    min_top: int | None = None,
) -> list[UnitClassification]:
    """Classifies and ranks every unit, per group; the output follows the input order.

    ``exceptions`` maps a unit id to the number of the decision that lets it keep the top band
    outside the quota; ``min_top`` overrides the scheme's minimum.
    """
    ids = [u.unit_id for u in results]
    if len(set(ids)) != len(ids):
        raise ValueError("a unit appears twice in the results")
    exceptions = dict(exceptions or {})
    unknown = sorted(set(exceptions) - set(ids))
    if unknown:
        raise ValueError(f"exceptions for units not classified: {', '.join(unknown)}")
    keep_min = scheme.min_top if min_top is None else min_top
    basis = scheme.band_basis
    bands = sorted(scheme.bands, key=lambda b: b.min_total, reverse=True)
    veto_index: int | None = None
    if scheme.veto_max_band is not None:
        keys = [b.key for b in bands]
        if scheme.veto_max_band not in keys:
            raise ValueError(f"veto_max_band {scheme.veto_max_band!r} is not a band of the scheme")
        veto_index = keys.index(scheme.veto_max_band)
    lowest = len(bands) - 1
    cite = f" ({scheme.source})" if scheme.source else ""

    measure = {u.unit_id: u.measure(basis) for u in results}
    natural: dict[str, int] = {}
    final: dict[str, int] = {}
    reasons: dict[str, list[str]] = {}
    vetoed: set[str] = set()
    demoted: set[str] = set()

    for unit in results:
        value = measure[unit.unit_id]
        i = _band_for(bands, value)
        natural[unit.unit_id] = i
        reasons[unit.unit_id] = [_why_band(unit, basis, bands, i, value)]
        if unit.vetoes and i < lowest:
            i = lowest
            vetoed.add(unit.unit_id)
            reasons[unit.unit_id].append(
                f"{'; '.join(unit.vetoes)}: xếp loại “{bands[i].label}” không phụ thuộc số điểm"
                f"{cite}"
            )
        elif veto_index is not None and unit.critical_zero and i < veto_index:
            i = veto_index
            vetoed.add(unit.unit_id)
            codes = ", ".join(unit.critical_zero)
            reasons[unit.unit_id].append(
                f"Tiêu chí quyết định {codes} đạt 0 điểm: xếp loại tối đa “{bands[i].label}”"
            )
        final[unit.unit_id] = i

    for uid, decision in exceptions.items():
        if final[uid] == 0:
            reasons[uid].append(
                f"Giữ mức “{bands[0].label}” ngoài tỷ lệ theo quyết định số {decision} "
                "của cấp có thẩm quyền (đơn vị có thành tích xuất sắc, nổi trội)"
            )

    if scheme.top_quota_percent is not None and len(bands) > 1:
        pct = scheme.top_quota_percent
        for members in _groups(results).values():
            candidates = sorted(
                (u for u in members if final[u.unit_id] == 0 and u.unit_id not in exceptions),
                key=lambda u: _quota_order(u, measure[u.unit_id], scheme.tie_break),
            )
            if scheme.quota_basis is QuotaBasis.next_band:
                good = sum(1 for u in members if final[u.unit_id] == 1)
                allowed = quota_of_next_band(pct, good, len(candidates), min_top=keep_min)
                after = good + len(candidates) - allowed
                rule = (
                    f"Số đơn vị “{bands[0].label}” không vượt quá {_num(pct)}% số đơn vị "
                    f"“{bands[1].label}” của nhóm{cite}: giữ {allowed} đơn vị, "
                    f"{after} đơn vị “{bands[1].label}”"
                )
            else:
                allowed = top_quota(pct, len(members), min_top=keep_min)
                rule = (
                    f"Vượt tỷ lệ {_num(pct)}% số đơn vị được xếp loại “{bands[0].label}” của "
                    f"nhóm{cite} (tối đa {allowed}/{len(members)} đơn vị)"
                )
            for place, unit in enumerate(candidates[allowed:], start=allowed + 1):
                final[unit.unit_id] = 1
                demoted.add(unit.unit_id)
                reasons[unit.unit_id].append(
                    f"{rule}; đơn vị đứng thứ {place}/{len(candidates)} trong số đề nghị "
                    f"“{bands[0].label}”: xếp loại “{bands[1].label}”"
                    if scheme.quota_basis is QuotaBasis.next_band
                    else f"{rule}: xếp loại “{bands[1].label}”"
                )

    ranks = rank_units(results, basis)
    return [
        UnitClassification(
            unit_id=u.unit_id,
            group=u.group,
            total=u.total,
            measure=measure[u.unit_id],
            band_key=bands[final[u.unit_id]].key,
            band_label=bands[final[u.unit_id]].label,
            natural_band_key=bands[natural[u.unit_id]].key,
            rank=ranks[u.unit_id],
            vetoed=u.unit_id in vetoed,
            quota_demoted=u.unit_id in demoted,
            quota_exception=exceptions.get(u.unit_id, "") if final[u.unit_id] == 0 else "",
            reasons=tuple(reasons[u.unit_id]),
        )
        for u in results
    ]


def _quota_order(
    unit: UnitTotal, value: Decimal, tie_break: TieBreak
) -> tuple[Decimal, Decimal, str, str]:
    code = unit.unit_code or unit.unit_id
    if tie_break is TieBreak.total_then_critical:
        return (-value, -unit.critical_total, code, unit.unit_id)
    return (-value, ZERO, code, unit.unit_id)
