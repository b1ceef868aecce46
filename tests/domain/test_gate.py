"""The promotion gate as plain rules: properties that must hold for every pair of scores."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wildloop.domain.gate import (
    ClassScore,
    GateRules,
    Interval,
    ModelScore,
    decide,
    decide_parity,
)

CLASSES = ["buck", "doe", "fawn", "cattle"]
ap = st.floats(0, 1, allow_nan=False)
rules_st = st.builds(
    GateRules,
    min_improvement=st.floats(0, 0.1),
    max_class_drop=st.floats(0, 0.2),
    min_class_boxes=st.integers(1, 10),
)


@st.composite
def score(draw, name: str = "m", snapshot: int = 1) -> ModelScore:
    per_class = {
        c: ClassScore(draw(ap), draw(st.integers(0, 30)))
        for c in draw(st.lists(st.sampled_from(CLASSES), unique=True, min_size=1))
    }
    return ModelScore(name, snapshot, draw(ap), per_class)


@given(score("new"), score("old"), rules_st)
def test_promotion_means_every_rule_holds(new, old, rules) -> None:
    decision = decide(new, old, rules)
    if decision.promote:
        assert new.score - old.score > rules.min_improvement
        assert all(d >= -rules.max_class_drop for d in decision.class_deltas.values())
    else:
        assert decision.reasons


@given(score("new"), score("old"), rules_st)
def test_refusal_reasons_name_each_failing_rule(new, old, rules) -> None:
    decision = decide(new, old, rules)
    text = " ".join(decision.reasons)
    if new.score - old.score <= rules.min_improvement:
        assert not decision.promote and "does not beat" in text
    for name, delta in decision.class_deltas.items():
        if delta < -rules.max_class_drop:
            assert not decision.promote and f"class {name} drops" in text


@given(score("new"), score("old"), rules_st, st.floats(0, 0.3))
def test_a_better_challenger_is_never_refused_where_a_worse_one_passed(
    new, old, rules, gain
) -> None:
    better = ModelScore(
        new.name,
        new.snapshot_id,
        min(1.0, new.score + gain),
        {c: ClassScore(min(1.0, s.score + gain), s.support) for c, s in new.per_class.items()},
    )
    if decide(new, old, rules).promote:
        assert decide(better, old, rules).promote


@given(score("new"), rules_st)
def test_without_a_champion_the_first_model_is_promoted(new, rules) -> None:
    decision = decide(new, None, rules)
    assert decision.promote and "no champion" in decision.reasons[0]


@given(score("new", snapshot=1), score("old", snapshot=2), rules_st)
def test_models_scored_on_different_snapshots_are_never_compared(new, old, rules) -> None:
    decision = decide(new, old, rules)
    assert not decision.promote and "different test snapshots" in decision.reasons[0]


@given(score("new"), score("old"))
def test_classes_with_few_test_boxes_are_reported_not_gated(new, old) -> None:
    rules = GateRules(min_class_boxes=10)
    decision = decide(new, old, rules)
    for name in decision.unmeasured_classes:
        assert name not in decision.class_deltas
        boxes = [s.per_class[name].support for s in (new, old) if name in s.per_class]
        assert max(boxes) < 10


def test_a_weakened_class_blocks_an_overall_gain() -> None:
    old = ModelScore("old", 1, 0.50, {"buck": ClassScore(0.6, 20), "doe": ClassScore(0.4, 20)})
    new = ModelScore("new", 1, 0.56, {"buck": ClassScore(0.82, 20), "doe": ClassScore(0.30, 20)})
    decision = decide(new, old, GateRules(min_improvement=0.01, max_class_drop=0.05))
    assert not decision.promote
    assert decision.reasons == ("class doe drops by 0.1000 AP50-95 (more than the 0.0500 allowed)",)
    assert decide(new, old, GateRules(max_class_drop=0.2)).promote


def test_significance_rule_uses_the_interval() -> None:
    old = ModelScore("old", 1, 0.50)
    new = ModelScore("new", 1, 0.53)
    rules = GateRules(require_significant=True)
    assert not decide(new, old, rules, Interval(-0.01, 0.07)).promote
    assert not decide(new, old, rules, None).promote
    assert decide(new, old, rules, Interval(0.005, 0.07)).promote


def test_rules_reject_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        GateRules(min_improvement=-0.1)
    with pytest.raises(ValueError):
        GateRules(min_class_boxes=0)


@given(score(name="parent"), st.floats(0, 1), st.floats(0, 0.05))
def test_parity_passes_exactly_when_the_copy_loses_at_most_the_tolerance(
    parent: ModelScore, derived_score: float, tolerance: float
) -> None:
    derived = ModelScore("int8", parent.snapshot_id, derived_score)
    decision = decide_parity(derived, parent, tolerance)
    assert decision.rule == "parity"
    assert decision.promote == (derived_score - parent.score >= -tolerance)
    assert f"{derived_score:.4f}" in decision.reasons[0]
    assert f"{parent.score:.4f}" in decision.reasons[0]


def test_parity_refuses_scores_from_different_snapshots_and_says_the_figures() -> None:
    parent = ModelScore("v1", 1, 0.5)
    assert not decide_parity(ModelScore("v1-int8", 2, 0.5), parent, 0.005).promote
    refused = decide_parity(ModelScore("v1-int8", 1, 0.49), parent, 0.005)
    assert not refused.promote
    assert refused.reasons == (
        "mAP50-95 0.4900 against its parent v1's 0.5000 (change -0.0100, tolerance 0.0050): "
        "below the parity tolerance",
    )
    assert decide_parity(ModelScore("v1-int8", 1, 0.4951), parent, 0.005).promote
    assert decide_parity(ModelScore("v1-int8", 1, 0.52), parent, 0.0).promote  # better is fine
