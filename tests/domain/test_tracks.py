"""Burst tracks: boxes of one animal across frames become one track."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wildloop.domain.boxes import Box
from wildloop.domain.tracks import FrameBox, link_tracks, track_of


def test_two_animals_crossing_frames_and_a_missed_frame() -> None:
    left = [Box(0.05 + 0.03 * f, 0.1, 0.2, 0.2) for f in range(4)]
    right = [Box(0.7 - 0.03 * f, 0.5, 0.2, 0.3) for f in range(4)]
    boxes = [FrameBox(10 + f, f, 1, b) for f, b in enumerate(left)]
    # The right animal is missed in frame 2: frame 3 still joins its track.
    boxes += [FrameBox(20 + f, f, 1, b) for f, b in enumerate(right) if f != 2]
    # A doe standing where the left buck is: another class, another track.
    boxes.append(FrameBox(30, 1, 2, left[1]))
    tracks = link_tracks(boxes)
    assert tracks == [[10, 11, 12, 13], [20, 21, 23], [30]]
    assert track_of(tracks, 21) == [20, 21, 23]
    assert track_of(tracks, 99) == [99]


def test_boxes_that_jump_start_new_tracks() -> None:
    boxes = [FrameBox(1, 0, 1, Box(0.0, 0.0, 0.2, 0.2)), FrameBox(2, 1, 1, Box(0.7, 0.7, 0.2, 0.2))]
    assert link_tracks(boxes) == [[1], [2]]
    assert link_tracks(boxes, min_iou=0.0) == [[1, 2]]


@st.composite
def lanes(draw: st.DrawFn) -> tuple[list[FrameBox], list[list[int]]]:
    """Animals walking along separate horizontal lanes, a small step per frame, each frame
    possibly missing any of them; the truth is one track per animal's seen boxes."""
    animals = draw(st.integers(1, 4))
    frames = draw(st.integers(1, 8))
    boxes: list[FrameBox] = []
    truth: list[list[int]] = []
    key = 0
    for a in range(animals):
        x = draw(st.floats(0.0, 0.5))
        step = draw(st.floats(-0.02, 0.02))
        seen: list[int] = []
        for f in range(frames):
            if draw(st.booleans()) and f:
                continue  # missed in this frame (never the first, so each animal has a box)
            key += 1
            xf = min(max(x + step * f, 0.0), 0.7)
            boxes.append(FrameBox(key, f, 1, Box(xf, 0.25 * a, 0.3, 0.2)))
            seen.append(key)
        truth.append(seen)
    order = draw(st.permutations(range(len(boxes))))
    return [boxes[i] for i in order], sorted(truth, key=lambda t: t[0])


@settings(max_examples=200, deadline=None)
@given(lanes())
def test_each_animal_is_one_track(scene: tuple[list[FrameBox], list[list[int]]]) -> None:
    boxes, truth = scene
    assert link_tracks(boxes) == truth
