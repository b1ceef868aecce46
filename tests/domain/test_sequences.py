"""Time-gap grouping of frames into sequences."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from wildloop.domain.sequences import SequenceSpan, group_frames

T0 = datetime(2024, 6, 1, 12, 0, 0)


def _group(offsets: list[float], gap: float = 10, existing=None):
    frames = [(i, T0 + timedelta(seconds=s)) for i, s in enumerate(sorted(offsets))]
    spans = existing if existing is not None else []
    result = list(group_frames("cam", frames, spans, gap))
    return result, spans


def test_frames_within_the_gap_share_a_sequence_and_a_larger_gap_splits() -> None:
    result, spans = _group([0, 2, 4, 30, 31, 100])
    keys = [a.span.key for a in result]
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] == keys[4] != keys[0]
    assert keys[5] not in (keys[0], keys[3])
    assert len(spans) == 3


def test_a_late_frame_extends_an_existing_sequence_instead_of_making_a_new_one() -> None:
    existing = [SequenceSpan(ref=7, start=T0, end=T0 + timedelta(seconds=4), key="cam/old")]
    result, spans = _group([12], existing=existing)
    assert result[0].span.ref == 7
    assert spans[0].end == T0 + timedelta(seconds=12)
    assert len(spans) == 1


def test_a_frame_bridging_two_sequences_joins_the_earlier_one() -> None:
    existing = [
        SequenceSpan(ref=1, start=T0, end=T0 + timedelta(seconds=5), key="a"),
        SequenceSpan(
            ref=2, start=T0 + timedelta(seconds=20), end=T0 + timedelta(seconds=25), key="b"
        ),
    ]
    result, _ = _group([13], existing=existing)
    assert result[0].span.ref == 1


@given(st.lists(st.floats(min_value=0, max_value=3600), min_size=1, max_size=60))
def test_consecutive_frames_share_a_sequence_exactly_when_within_the_gap(offsets) -> None:
    result, spans = _group(offsets)
    times = sorted(offsets)
    for i in range(1, len(result)):
        same = result[i].span is result[i - 1].span
        assert same == (times[i] - times[i - 1] <= 10)
    assert len(spans) == 1 + sum(b - a > 10 for a, b in itertools.pairwise(times))
