"""Sequence smoothing: weak minority boxes follow the burst; strong ones never change."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wildloop.domain.sequence_smoothing import smooth_burst

box = st.tuples(st.sampled_from(["buck", "doe", "fox", "person"]), st.floats(0.0, 1.0))
burst = st.lists(st.lists(box, max_size=4), max_size=8)


@settings(max_examples=200)
@given(burst, st.floats(0.0, 1.0))
def test_only_weak_boxes_change_and_smoothing_twice_changes_nothing_more(
    frames: list[list[tuple[str, float]]], weak: float
) -> None:
    out = smooth_burst(frames, weak)
    assert [len(f) for f in out] == [len(f) for f in frames]
    for before, after in zip(frames, out, strict=True):
        for (name, score), (new, new_score) in zip(before, after, strict=True):
            assert new_score == score
            if score >= weak or name == "person":
                assert new == name
    assert smooth_burst(out, weak) == out
    assert smooth_burst(frames, 0.0) == frames


def test_a_blurred_frame_follows_its_burst() -> None:
    frames = [[("buck", 0.9)], [("doe", 0.3), ("person", 0.2)], [("buck", 0.8)], [("doe", 0.7)]]
    assert smooth_burst(frames, 0.5) == [
        [("buck", 0.9)],
        [("buck", 0.3), ("person", 0.2)],
        [("buck", 0.8)],
        [("doe", 0.7)],
    ]
