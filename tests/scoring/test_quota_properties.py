"""Property tests of the top-band quota (Nghị định 335/2025/NĐ-CP, the article on the levels,
khoản 5 điểm a; docs/regulation.md quotes it): per group, the units kept "xuất sắc" are at most the
percentage of the units finally rated "Hoàn thành tốt", as many as that allows, the best ones,
and an approved exception never counts against the quota nor loses its band."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from models.framework import ClassBand, ClassificationScheme
from scoring.classification import UnitTotal, classify

D = Decimal
FAST = settings(max_examples=150, deadline=None)
BANDS = (
    ClassBand(key="excellent", label="Hoàn thành xuất sắc nhiệm vụ", min_total=D(90)),
    ClassBand(key="good", label="Hoàn thành tốt nhiệm vụ", min_total=D(70)),
    ClassBand(key="pass", label="Hoàn thành nhiệm vụ", min_total=D(50)),
    ClassBand(key="fail", label="Không hoàn thành nhiệm vụ", min_total=D(0)),
)

units_st = st.lists(
    st.tuples(
        st.decimals(min_value=40, max_value=100, places=1),
        st.sampled_from(["xa", "phong"]),
        st.booleans(),  # a critical criterion scored 0
        st.booleans(),  # an approved exception
    ),
    min_size=1,
    max_size=25,
)


@FAST
@given(units_st, st.sampled_from([D(0), D(10), D(20), D(25), D(50), D(100)]), st.integers(0, 2))
def test_quota_is_a_share_of_the_good_units_and_as_large_as_allowed(
    raw: list[tuple[Decimal, str, bool, bool]], pct: Decimal, min_top: int
) -> None:
    """Property (Nghị định 335/2025/NĐ-CP, article on the levels, khoản 5 điểm a): per group,
    kept ≤ pct % × good, and one more would break it, unless ``min_top`` keeps more."""
    units = [
        UnitTotal(unit_id=f"u{i:02d}", total=t, group=g, critical_zero=("1.1",) if veto else ())
        for i, (t, g, veto, _e) in enumerate(raw)
    ]
    exceptions = {
        u.unit_id: f"{i}/QĐ-UBND" for i, (u, r) in enumerate(zip(units, raw, strict=True)) if r[3]
    }
    scheme = ClassificationScheme(
        bands=BANDS, top_quota_percent=pct, min_top=min_top, veto_max_band="good"
    )
    out = classify(scheme, units, exceptions=exceptions)
    for group in ("xa", "phong"):
        members = [c for c in out if c.group == group]
        kept = [c for c in members if c.band_key == "excellent" and not c.quota_exception]
        demoted = [c for c in members if c.quota_demoted]
        good = Counter(c.band_key for c in members)["good"]
        if len(kept) > min_top:
            assert len(kept) * 100 <= pct * good
        if demoted and len(kept) >= min_top:
            # one more kept unit (so one fewer "tốt") would exceed the percentage
            assert (len(kept) + 1) * 100 > pct * (good - 1)
        # the units kept are never below a demoted one
        for d in demoted:
            assert all(k.measure >= d.measure for k in kept)
    for c in out:
        if c.unit_id in exceptions and c.natural_band_key == "excellent" and not c.vetoed:
            assert c.band_key == "excellent" and not c.quota_demoted
