"""Review value and diverse ordering: reasons match the value, caps hold, nothing is lost."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from wildloop.domain.review_value import (
    QUEUE_WEIGHTS,
    ItemSignals,
    Valued,
    Weights,
    diverse_order,
    value_of,
)

score = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
maybe_class = st.sampled_from([None, "deer", "fox", "boar"])


@st.composite
def signals(draw: st.DrawFn) -> ItemSignals:
    top = draw(st.one_of(st.none(), score))
    second = draw(st.one_of(st.none(), score)) if top is not None else None
    if top is not None and second is not None and second > top:
        top, second = second, top
    return ItemSignals(
        media_id=draw(st.integers(1, 10_000)),
        group=draw(st.sampled_from("abcdef")),
        camera=draw(st.sampled_from("xyz")),
        top_class=draw(maybe_class) if top is not None else None,
        top_score=top,
        second_score=second,
        threshold=draw(score),
        burst_class=draw(maybe_class),
        challenger_class=draw(maybe_class),
        challenger_saw=draw(st.booleans()),
        novelty=draw(st.one_of(st.none(), st.floats(0.0, 2.0))),
    )


@given(signals())
def test_every_fired_signal_adds_value_and_a_reason(item: ItemSignals) -> None:
    valued = value_of(item)
    assert (valued.value > 0) == bool(valued.reasons)
    assert valued.value <= 1.0 + 0.6 + 1.0 + 1.0 + 1.0 + 1e-9


@given(signals(), st.floats(0.0, 0.2))
def test_a_smaller_margin_is_never_worth_less(item: ItemSignals, less: float) -> None:
    if item.top_score is None or item.second_score is None:
        return
    closer = ItemSignals(
        **{**item.__dict__, "second_score": min(item.top_score, item.second_score + less)}
    )
    assert value_of(closer).value >= value_of(item).value - 1e-9


def test_reasons_read_like_a_reviewer_would_want() -> None:
    item = ItemSignals(
        1, "s1", "north", "deer", 0.52, 0.48, threshold=0.5, burst_class="fox", novelty=0.9
    )
    reasons = value_of(item).reasons
    assert reasons[0] == "margin 0.04"
    assert "score 0.52 near threshold 0.50" in reasons
    assert "disagrees with its burst (deer here, fox there)" in reasons
    assert any(r.startswith("unlike anything reviewed") for r in reasons)
    calm = ItemSignals(2, "s2", "north", "deer", 0.97, 0.01, threshold=0.5, novelty=0.05)
    assert value_of(calm).value == 0 and value_of(calm).reasons == ()


valued = st.builds(
    Valued,
    media_id=st.integers(1, 10_000),
    group=st.sampled_from("abcdefghij"),
    camera=st.sampled_from("xyzw"),
    value=st.floats(0.0, 5.0),
    reasons=st.just(()),
)


@given(st.lists(valued, unique_by=lambda v: v.media_id), st.integers(1, 60), st.integers(1, 8))
def test_diverse_order_loses_nothing_and_respects_caps_when_it_can(
    items: list[Valued], limit: int, batch_size: int
) -> None:
    order = diverse_order(items, limit, batch_size=batch_size, per_group=1, camera_share=0.5)
    assert len(order) == min(limit, len(items))
    assert len({v.media_id for v in order}) == len(order)
    if items:
        assert order[0].value == max(v.value for v in items)
    remaining = list(items)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        groups = Counter(v.group for v in batch)
        if max(groups.values()) > 1:
            # A repeated burst only when every item left was of a burst already in the batch
            # or of a camera at its cap.
            cameras = Counter(v.camera for v in batch)
            cap = max(1, int(batch_size * 0.5))
            chosen = {v.media_id for v in batch}
            for other in remaining:
                if other.media_id not in chosen:
                    assert other.group in groups or cameras[other.camera] >= cap
        taken = {v.media_id for v in batch}
        remaining = [v for v in remaining if v.media_id not in taken]


def test_a_signal_weighed_at_zero_adds_no_value_and_no_reason() -> None:
    item = ItemSignals(
        1, "s1", "north", "deer", 0.52, 0.48, threshold=0.5, burst_class="fox", novelty=0.9
    )
    valued = value_of(item, QUEUE_WEIGHTS)
    assert not any(r.startswith(("disagrees", "score ")) for r in valued.reasons)
    assert any(r.startswith("margin") for r in valued.reasons)
    assert valued.value < value_of(item, Weights()).value
