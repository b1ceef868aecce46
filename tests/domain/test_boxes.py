"""Box conversions between the formats wildloop reads and writes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wildloop.domain.boxes import Box, BoxOutsideImage

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def boxes(draw: st.DrawFn) -> Box:
    w = draw(st.floats(min_value=1e-3, max_value=1.0))
    h = draw(st.floats(min_value=1e-3, max_value=1.0))
    return Box(draw(unit) * (1 - w), draw(unit) * (1 - h), w, h)


@given(boxes())
def test_yolo_round_trip(box: Box) -> None:
    again = Box.from_yolo(*box.to_yolo())
    assert (again.x, again.y, again.w, again.h) == pytest.approx(
        (box.x, box.y, box.w, box.h), abs=1e-9
    )


@given(boxes(), st.integers(1, 8000), st.integers(1, 8000))
def test_pixel_round_trip(box: Box, width: int, height: int) -> None:
    again = Box.from_pixels(*box.to_pixels(width, height), width, height)
    assert (again.x, again.y, again.w, again.h) == pytest.approx(
        (box.x, box.y, box.w, box.h), abs=1e-9
    )


@given(boxes())
def test_iou_with_itself_is_one_and_symmetric(box: Box) -> None:
    other = Box.clipped(box.x + box.w / 3, box.y, box.w, box.h)
    assert box.iou(box) == pytest.approx(1.0)
    assert box.iou(other) == pytest.approx(other.iou(box))
    assert 0.0 <= box.iou(other) <= 1.0


@pytest.mark.parametrize(
    "coords",
    [
        (0.9, 0.1, 0.2, 0.1),
        (-0.1, 0.0, 0.2, 0.2),
        (0.1, 0.1, 0.0, 0.2),
        (0.1, float("nan"), 0.1, 0.1),
    ],
)
def test_boxes_outside_the_image_or_without_area_are_refused(coords: tuple[float, ...]) -> None:
    with pytest.raises(BoxOutsideImage):
        Box(*coords)


def test_clipped_keeps_model_boxes_inside() -> None:
    box = Box.clipped(-0.1, 0.9, 0.3, 0.3)
    assert (box.x, box.y) == (0.0, 0.9)
    assert box.w == pytest.approx(0.2) and box.h == pytest.approx(0.1)
