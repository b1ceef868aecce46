"""Repeat detections: a planted static box is always found, moving animals never are."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wildloop.domain.boxes import Box
from wildloop.domain.repeats import Sighting, find_repeats

size = st.floats(0.03, 0.25)
place = st.floats(0.05, 0.7)


@settings(max_examples=40)
@given(place, place, size, size, st.integers(10, 40), st.integers(0, 10_000))
def test_a_static_box_over_many_bursts_is_one_group(
    x: float, y: float, w: float, h: float, frames: int, seed: int
) -> None:
    # The camera shakes a little: up to 1.5% of the box's width.
    jitter = [((seed * (i + 1)) % 7 - 3) * 0.005 * w for i in range(frames)]
    static = [
        Sighting(i, i, "north", f"b{i // 3}", Box.clipped(x + jitter[i], y, w, h))
        for i in range(frames)
    ]
    # Animals elsewhere in the same frames, each somewhere new.
    animals = [
        Sighting(1000 + i, i, "north", f"b{i // 3}", Box.clipped(0.8 - i * 0.02, 0.9, 0.1, 0.08))
        for i in range(frames)
    ]
    groups = find_repeats(static + animals, min_items=10, min_bursts=3)
    assert len(groups) == 1
    assert set(groups[0].prediction_ids) == {s.prediction_id for s in static}
    assert groups[0].bursts == len({s.burst for s in static})


@settings(max_examples=40)
@given(st.lists(st.tuples(place, place, size, size), max_size=40), st.integers(1, 5))
def test_groups_hold_each_box_once_and_only_close_boxes(
    raw: list[tuple[float, float, float, float]], bursts: int
) -> None:
    sightings = [
        Sighting(i, i, "c" if i % 2 else "d", f"b{i % bursts}", Box.clipped(*r))
        for i, r in enumerate(raw)
    ]
    groups = find_repeats(sightings, min_items=2, min_bursts=1)
    seen = [p for g in groups for p in g.prediction_ids]
    assert len(seen) == len(set(seen))
    by_id = {s.prediction_id: s for s in sightings}
    for g in groups:
        assert len(g.media_ids) >= 2
        for p in g.prediction_ids:
            assert by_id[p].camera == g.camera and by_id[p].box.iou(g.anchor) >= 0.85


def test_one_burst_of_a_resting_animal_is_not_a_repeat() -> None:
    resting = [Sighting(i, i, "north", "b1", Box(0.4, 0.4, 0.2, 0.2)) for i in range(30)]
    assert find_repeats(resting, min_items=10, min_bursts=3) == []
