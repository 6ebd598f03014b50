"""Properties of the scoring engine (hypothesis).

- no score exceeds its max, none is negative, every score has the framework's places;
- a sheet's total equals the sum of its leaves under the caps;
- a better input never lowers a score (rate, failed items, counts, checklist, survey answers);
- classification is monotone in the total.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from models.framework import (
    Band,
    BandsRule,
    ChecklistRule,
    ClassBand,
    ClassificationScheme,
    CountedRule,
    DeductionRule,
    DerivedRule,
    DerivedSource,
    Framework,
    LevelRateRule,
    LevelsRule,
    ManualRule,
    Node,
    NodeRole,
    NotApplicablePolicy,
    Option,
    ProportionalRule,
    RoundingMode,
    SurveyRule,
    TieBreak,
)
from models.inputs import CriterionInput
from scoring.aggregate import score_sheet
from scoring.classification import UnitTotal, classify
from scoring.rules import RuleResult, evaluate

FAST = settings(max_examples=60, deadline=None)
D = Decimal


def decimals(lo: str, hi: str, places: int = 3) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=D(lo), max_value=D(hi), places=places, allow_nan=False, allow_infinity=False
    )


points = decimals("0", "10")
maxima = decimals("0.25", "10")
rates = decimals("0", "100", places=2)
modes = st.sampled_from(list(RoundingMode))
places_st = st.integers(min_value=0, max_value=4)


def options(prefix: str = "o") -> st.SearchStrategy[tuple[Option, ...]]:
    return st.lists(points, min_size=1, max_size=4).map(
        lambda pts: tuple(
            Option(key=f"{prefix}{i}", label=f"Mức {i}", points=p) for i, p in enumerate(pts)
        )
    )


def bands_st() -> st.SearchStrategy[tuple[Band, ...]]:
    band = st.builds(
        lambda lo, width, inclusive, pts: Band(
            min=lo,
            max=None if width is None else (lo or D(0)) + width,
            max_inclusive=inclusive,
            points=pts,
        ),
        st.one_of(st.none(), decimals("-10", "100", 1)),
        st.one_of(st.none(), decimals("0", "60", 1)),
        st.booleans(),
        points,
    )
    return st.lists(band, min_size=1, max_size=5).map(tuple)


@st.composite
def rate_inputs(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"rate": draw(rates)}
    den = draw(st.integers(min_value=1, max_value=500))
    return {"numerator": draw(st.integers(min_value=0, max_value=den)), "denominator": den}


@st.composite
def leaf_and_inputs(draw: st.DrawFn) -> tuple[Node, CriterionInput]:
    """Any rule kind with inputs that fit it."""
    max_points = draw(maxima)
    kind = draw(
        st.sampled_from(
            [
                "levels",
                "proportional",
                "bands",
                "level_rate",
                "deduction",
                "checklist",
                "counted",
                "survey",
                "manual",
                "derived",
            ]
        )
    )
    rule: Any
    data: dict[str, Any]
    if kind == "levels":
        opts = draw(options())
        rule = LevelsRule(options=opts)
        data = {"level": draw(st.sampled_from([o.key for o in opts]))}
    elif kind == "proportional":
        rule = ProportionalRule(floor=draw(rates))
        data = draw(rate_inputs())
    elif kind == "bands":
        if draw(st.booleans()):
            rule = BandsRule(bands=draw(bands_st()))
            data = draw(rate_inputs())
        else:
            rule = BandsRule(measure="count", bands=draw(bands_st()))
            data = {"count": draw(st.integers(min_value=0, max_value=200))}
    elif kind == "level_rate":
        opts = draw(options())
        rule = LevelRateRule(options=opts)
        data = {"level": draw(st.sampled_from([o.key for o in opts])), **draw(rate_inputs())}
    elif kind == "deduction":
        rule = DeductionRule(per_item=draw(points))
        data = {"failed": draw(st.integers(min_value=0, max_value=30))}
    elif kind == "checklist":
        opts = draw(options())
        rule = ChecklistRule(items=opts)
        data = {"checked": tuple(sorted(draw(st.sets(st.sampled_from([o.key for o in opts])))))}
    elif kind == "counted":
        opts = draw(options())
        rule = CountedRule(items=opts, cap=draw(st.one_of(st.none(), points)))
        data = {"counts": {o.key: draw(st.integers(min_value=0, max_value=9)) for o in opts}}
    elif kind == "survey":
        scale = draw(st.integers(min_value=2, max_value=10))
        rule = SurveyRule(scale=scale)
        answers = draw(
            st.dictionaries(
                st.integers(min_value=1, max_value=scale),
                st.integers(min_value=1, max_value=50),
                min_size=1,
            )
        )
        data = {"answers": answers}
    elif kind == "manual":
        step = D("0.25")
        rule = ManualRule(step=step)
        steps = int(max_points // step)
        data = {"score": step * draw(st.integers(min_value=0, max_value=steps))}
    else:
        rule = DerivedRule(
            source=draw(st.sampled_from(list(DerivedSource))),
            bands=draw(st.one_of(st.just(()), bands_st())),
        )
        data = {"value": draw(decimals("-50", "50"))}
    node = Node(code="x", title="x", max_points=max_points, rule=rule)
    if draw(st.booleans()):
        node = node.model_copy(
            update={"na_policy": NotApplicablePolicy.fixed_points, "na_points": draw(points)}
        )
        if draw(st.booleans()):
            data = {"not_applicable": True}
    return node, CriterionInput.model_validate(data)


@FAST
@given(leaf_and_inputs(), places_st, modes)
def test_no_score_exceeds_its_max(
    case: tuple[Node, CriterionInput], places: int, rounding: RoundingMode
) -> None:
    node, inputs = case
    result = evaluate(node, inputs, decimal_places=places, rounding=rounding)
    assert D(0) <= result.score <= node.max_points
    assert result.score.as_tuple().exponent == -places or result.score == 0
    # One Vietnamese sentence with decimal commas: no number is ever written with a dot.
    assert result.explanation and not re.search(r"\d\.\d", result.explanation)


# --- a better input never lowers a score -----------------------------------------------------


@FAST
@given(maxima, rates, rates, rates, places_st, modes)
def test_proportional_is_monotone(
    max_points: Decimal, floor: Decimal, a: Decimal, b: Decimal, places: int, mode: RoundingMode
) -> None:
    node = Node(code="x", title="x", max_points=max_points, rule=ProportionalRule(floor=floor))
    lo, hi = sorted((a, b))
    score = [
        evaluate(node, CriterionInput(rate=r), decimal_places=places, rounding=mode).score
        for r in (lo, hi)
    ]
    assert score[0] <= score[1]


@FAST
@given(maxima, points, st.integers(1, 300), st.data())
def test_level_rate_is_monotone_in_the_counts(
    max_points: Decimal, level_points: Decimal, den: int, data: st.DataObject
) -> None:
    rule = LevelRateRule(options=(Option(key="a", label="A", points=level_points),))
    node = Node(code="x", title="x", max_points=max_points, rule=rule)
    a = data.draw(st.integers(0, den))
    b = data.draw(st.integers(a, den))
    low = evaluate(node, CriterionInput(numerator=a, denominator=den)).score
    high = evaluate(node, CriterionInput(numerator=b, denominator=den)).score
    assert low <= high


@st.composite
def monotone_bands(draw: st.DrawFn) -> tuple[Band, ...]:
    """Consecutive bands whose points never decrease as the value grows."""
    cuts = sorted(draw(st.sets(decimals("0.5", "100", 1), min_size=1, max_size=5)))
    pts = sorted(draw(st.lists(points, min_size=len(cuts) + 1, max_size=len(cuts) + 1)))
    bands = [Band(max=cuts[0], points=pts[0])]
    for i, cut in enumerate(cuts):
        upper = cuts[i + 1] if i + 1 < len(cuts) else None
        bands.append(Band(min=cut, max=upper, points=pts[i + 1]))
    return tuple(bands)


@FAST
@given(maxima, monotone_bands(), rates, rates)
def test_bands_are_monotone(
    max_points: Decimal, bands: tuple[Band, ...], a: Decimal, b: Decimal
) -> None:
    node = Node(code="x", title="x", max_points=max_points, rule=BandsRule(bands=bands))
    lo, hi = sorted((a, b))
    assert (
        evaluate(node, CriterionInput(rate=lo)).score
        <= evaluate(node, CriterionInput(rate=hi)).score
    )


@FAST
@given(maxima, points, st.integers(0, 30), st.integers(0, 30))
def test_fewer_failed_items_never_score_less(
    max_points: Decimal, per_item: Decimal, a: int, b: int
) -> None:
    node = Node(code="x", title="x", max_points=max_points, rule=DeductionRule(per_item=per_item))
    fewer, more = sorted((a, b))
    assert (
        evaluate(node, CriterionInput(failed=fewer)).score
        >= evaluate(node, CriterionInput(failed=more)).score
    )


@FAST
@given(maxima, options(), st.one_of(st.none(), points), st.data())
def test_more_counted_items_never_score_less(
    max_points: Decimal, opts: tuple[Option, ...], cap: Decimal | None, data: st.DataObject
) -> None:
    node = Node(code="x", title="x", max_points=max_points, rule=CountedRule(items=opts, cap=cap))
    base = {o.key: data.draw(st.integers(0, 9)) for o in opts}
    more = {k: v + data.draw(st.integers(0, 3)) for k, v in base.items()}
    assert (
        evaluate(node, CriterionInput(counts=base)).score
        <= evaluate(node, CriterionInput(counts=more)).score
    )


@FAST
@given(maxima, options(), st.data())
def test_checking_more_items_never_scores_less(
    max_points: Decimal, opts: tuple[Option, ...], data: st.DataObject
) -> None:
    node = Node(code="x", title="x", max_points=max_points, rule=ChecklistRule(items=opts))
    keys = [o.key for o in opts]
    small = data.draw(st.sets(st.sampled_from(keys)))
    large = small | data.draw(st.sets(st.sampled_from(keys)))
    assert (
        evaluate(node, CriterionInput(checked=tuple(sorted(small)))).score
        <= evaluate(node, CriterionInput(checked=tuple(sorted(large)))).score
    )


@FAST
@given(maxima, st.integers(2, 10), st.data())
def test_a_better_survey_answer_never_scores_less(
    max_points: Decimal, scale: int, data: st.DataObject
) -> None:
    node = Node(code="x", title="x", max_points=max_points, rule=SurveyRule(scale=scale))
    answers = data.draw(st.dictionaries(st.integers(1, scale - 1), st.integers(1, 40), min_size=1))
    moved = data.draw(st.sampled_from(sorted(answers)))
    better = dict(answers)
    better[moved] -= 1
    better[moved + 1] = better.get(moved + 1, 0) + 1
    assert (
        evaluate(node, CriterionInput(answers=answers)).score
        <= evaluate(node, CriterionInput(answers=better)).score
    )


# --- totals: the sum of the leaves under the caps --------------------------------------------

_counter = iter(range(10**9))


def _code() -> str:
    return f"n{next(_counter)}"


leaf_nodes = maxima.map(lambda m: Node(code=_code(), title="lá", max_points=m))


def _consistent_parent(children: list[Node]) -> Node:
    return Node(
        code=_code(),
        title="cha",
        max_points=sum((c.max_points for c in children), D(0)),
        children=tuple(children),
    )


consistent_trees = st.recursive(
    leaf_nodes,
    lambda kids: st.lists(kids, min_size=1, max_size=4).map(_consistent_parent),
    max_leaves=12,
)


@st.composite
def any_parent(draw: st.DrawFn, kids: st.SearchStrategy[Node]) -> Node:
    children = draw(st.lists(kids, min_size=1, max_size=4))
    return Node(code=_code(), title="cha", max_points=draw(maxima), children=tuple(children))


any_trees = st.recursive(leaf_nodes, lambda kids: any_parent(kids), max_leaves=12)


def _leaf_value(max_points: Decimal) -> st.SearchStrategy[Decimal | None]:
    return st.one_of(st.none(), decimals("-1", str(max_points + 2)))


@FAST
@given(st.lists(consistent_trees, min_size=1, max_size=3), st.data())
def test_total_is_the_sum_of_capped_leaves(tops: list[Node], data: st.DataObject) -> None:
    fw = Framework(name="x", year=2024, nodes=tuple(tops))
    values: dict[str, Decimal | None] = {
        n.code: data.draw(_leaf_value(n.max_points)) for n in fw.leaves()
    }
    excluded = {
        n.code for n in fw.leaves() if data.draw(st.booleans()) and data.draw(st.booleans())
    }
    results: dict[str, RuleResult | Decimal | None] = {
        code: RuleResult(score=D(0), explanation="x", not_applicable=True, counts_in_max=False)
        if code in excluded
        else value
        for code, value in values.items()
    }
    sheet = score_sheet(fw, results)
    kept = [n for n in fw.leaves() if n.code not in excluded]
    expected = sum((min(max(values[n.code] or D(0), D(0)), n.max_points) for n in kept), D(0))
    assert sheet.total == expected
    assert sheet.max_total == sum((n.max_points for n in kept), D(0))


def _reference(node: Node, values: dict[str, Decimal | None]) -> Decimal:
    if node.is_leaf:
        return min(max(values[node.code] or D(0), D(0)), node.max_points)
    return min(sum((_reference(c, values) for c in node.children), D(0)), node.max_points)


@FAST
@given(st.lists(any_trees, min_size=1, max_size=3), st.data())
def test_every_node_within_its_max_and_parents_are_capped_sums(
    tops: list[Node], data: st.DataObject
) -> None:
    fw = Framework(name="x", year=2024, nodes=tuple(tops))
    values = {n.code: data.draw(_leaf_value(n.max_points)) for n in fw.leaves()}
    sheet = score_sheet(fw, dict(values))
    for ns in sheet.nodes:
        assert D(0) <= ns.score <= ns.max_points <= ns.nominal_max
    assert sheet.total == sum((_reference(t, values) for t in tops), D(0))
    assert sheet.max_total == sum((t.max_points for t in tops), D(0))


@FAST
@given(st.lists(any_trees, min_size=1, max_size=3), st.data())
def test_raising_a_leaf_never_lowers_the_total(tops: list[Node], data: st.DataObject) -> None:
    fw = Framework(name="x", year=2024, nodes=tuple(tops))
    values: dict[str, RuleResult | Decimal | None] = {
        n.code: data.draw(decimals("0", str(n.max_points))) for n in fw.leaves()
    }
    leaf = data.draw(st.sampled_from(fw.leaves()))
    before = score_sheet(fw, values).total
    current = values[leaf.code]
    assert isinstance(current, Decimal)
    values[leaf.code] = current + data.draw(decimals("0", "5"))
    assert score_sheet(fw, values).total >= before


@FAST
@given(maxima, decimals("0", "20"), decimals("0", "20"), decimals("0", "20"))
def test_bonus_and_penalty_bounds(
    normal: Decimal, bonus: Decimal, penalty: Decimal, bonus_max: Decimal
) -> None:
    fw = Framework(
        name="x",
        year=2024,
        nodes=(
            Node(code="A", title="a", max_points=normal),
            Node(code="T", title="t", role=NodeRole.bonus, max_points=bonus_max),
            Node(code="P", title="p", role=NodeRole.penalty, max_points=D(20)),
        ),
    )
    sheet = score_sheet(fw, {"A": normal, "T": bonus, "P": penalty})
    assert sheet.total == max(normal + min(bonus, bonus_max) - penalty, D(0))
    assert sheet.max_total == normal


# --- classification is monotone in the total -------------------------------------------------


@st.composite
def schemes(draw: st.DrawFn) -> ClassificationScheme:
    mins = sorted(draw(st.sets(decimals("0", "100", 1), min_size=1, max_size=4)), reverse=True)
    bands = tuple(ClassBand(key=f"b{i}", label=f"Mức {i}", min_total=m) for i, m in enumerate(mins))
    return ClassificationScheme(
        bands=bands,
        top_quota_percent=draw(st.one_of(st.none(), decimals("0", "100", 0))),
        tie_break=draw(st.sampled_from(list(TieBreak))),
        veto_max_band=draw(st.one_of(st.none(), st.sampled_from([b.key for b in bands]))),
    )


units_st = st.lists(
    st.tuples(decimals("0", "100", 1), st.sampled_from(["xa", "phong"]), decimals("0", "10", 1)),
    min_size=1,
    max_size=12,
)


def _units(raw: list[tuple[Decimal, str, Decimal]]) -> list[UnitTotal]:
    return [
        UnitTotal(unit_id=f"u{i:02d}", total=t, group=g, critical_total=c)
        for i, (t, g, c) in enumerate(raw)
    ]


@FAST
@given(schemes(), units_st)
def test_higher_total_never_gets_a_lower_band(
    scheme: ClassificationScheme, raw: list[tuple[Decimal, str, Decimal]]
) -> None:
    order = {b.key: i for i, b in enumerate(scheme.bands)}  # highest band first
    out = classify(scheme, _units(raw))
    for a in out:
        for b in out:
            if a.group == b.group and a.total > b.total:
                assert order[a.band_key] <= order[b.band_key]
                assert a.rank < b.rank


@FAST
@given(schemes(), units_st, st.data())
def test_raising_a_total_never_lowers_the_band(
    scheme: ClassificationScheme, raw: list[tuple[Decimal, str, Decimal]], data: st.DataObject
) -> None:
    order = {b.key: i for i, b in enumerate(scheme.bands)}
    units = _units(raw)
    i = data.draw(st.integers(0, len(units) - 1))
    before = classify(scheme, units)[i]
    raised = units[i].model_copy(
        update={"total": units[i].total + data.draw(decimals("0", "30", 1))}
    )
    after = classify(scheme, [*units[:i], raised, *units[i + 1 :]])[i]
    assert order[after.band_key] <= order[before.band_key]


@FAST
@given(schemes(), units_st, st.data())
def test_vetoed_units_never_pass_the_veto_band(
    scheme: ClassificationScheme, raw: list[tuple[Decimal, str, Decimal]], data: st.DataObject
) -> None:
    order = {b.key: i for i, b in enumerate(scheme.bands)}
    units = [
        u.model_copy(update={"critical_zero": ("1.1",)}) if data.draw(st.booleans()) else u
        for u in _units(raw)
    ]
    for u, c in zip(units, classify(scheme, units), strict=True):
        if u.critical_zero and scheme.veto_max_band is not None:
            assert order[c.band_key] >= order[scheme.veto_max_band]
