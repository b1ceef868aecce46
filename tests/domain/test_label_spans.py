"""Labels on audio windows (time spans, time-frequency boxes) beside image boxes."""

from __future__ import annotations

import pytest

from wildloop.domain.boxes import Box
from wildloop.domain.labels import InvalidReason, LabelBoxValue, LabelSet
from wildloop.domain.spans import BadSpan, TimeSpan


def test_image_label_hashes_are_unchanged_by_spans() -> None:
    """Snapshots recorded these hashes before spans existed (computed with that code)."""
    labels = LabelSet(
        boxes=(
            LabelBoxValue(Box(0.1, 0.2, 0.3, 0.4), 2, corrects_prediction_id=7),
            LabelBoxValue(Box(0.5, 0.5, 0.1, 0.1), None, false_positive=True),
            LabelBoxValue(Box(0, 0, 1, 1), 1, invalid_reason=InvalidReason.REAR_END),
        ),
        note="x",
    )
    assert labels.content_hash() == (
        "b0106d8e64eb2ce07a8382da8c8fd07ca956f72217bec71ae174c0b41b5634cb"
    )
    assert LabelSet(empty=True).content_hash() == (
        "a47df0e3f5448e3bd3008527b4d6b244fa128a79de71f920dd8a769403aece3d"
    )


def test_span_labels_hash_by_their_span_and_band() -> None:
    whole = LabelSet(boxes=(LabelBoxValue(None, 1, span=TimeSpan(3.0, 6.0)),))
    later = LabelSet(boxes=(LabelBoxValue(None, 1, span=TimeSpan(4.5, 7.5)),))
    band = LabelSet(boxes=(LabelBoxValue(None, 1, span=TimeSpan(3.0, 6.0, 500.0, 2000.0)),))
    hashes = {whole.content_hash(), later.content_hash(), band.content_hash()}
    assert len(hashes) == 3
    assert (
        whole.content_hash()
        == LabelSet(boxes=(LabelBoxValue(None, 1, span=TimeSpan(3.0, 6.0)),)).content_hash()
    )


def test_a_label_needs_a_box_or_a_span() -> None:
    with pytest.raises(ValueError, match="box on the image or a time span"):
        LabelBoxValue(None, 1)


@pytest.mark.parametrize(
    "args",
    [
        (2.0, 2.0, None, None),
        (3.0, 1.0, None, None),
        (-1.0, 1.0, None, None),
        (0.0, 1.0, 100.0, None),
        (0.0, 1.0, 900.0, 100.0),
        (0.0, float("nan"), None, None),
    ],
)
def test_bad_spans_are_refused(args: tuple[float, float, float | None, float | None]) -> None:
    with pytest.raises(BadSpan):
        TimeSpan(*args)
