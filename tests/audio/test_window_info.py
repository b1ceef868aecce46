"""What the review screen shows around a window: a window of context either side, less for
long windows so one request never renders more than a clip may hold."""

from __future__ import annotations

import pytest

from wildloop.audio.clips import MAX_SPAN_S
from wildloop.review.windows import WindowInfo


def _window(t_start: float, t_end: float, duration: float = 600.0) -> WindowInfo:
    return WindowInfo(1, 2, "/rec.wav", "ab" * 32, duration, 48_000, t_start, t_end)


@pytest.mark.parametrize(
    ("length", "context"), [(3.0, 3.0), (12.0, 10.0), (50.0, 5.0), (MAX_SPAN_S, 0.0)]
)
def test_context_is_a_window_capped_by_what_a_request_renders(
    length: float, context: float
) -> None:
    info = _window(100.0, 100.0 + length)
    assert info.context_s == context
    view = info.view()
    assert view[1] - view[0] <= MAX_SPAN_S


def test_clip_span_stays_inside_the_recording() -> None:
    assert _window(0.0, 3.0, duration=4.0).clip_span(3.0) == (0.0, 4.0)
    assert _window(3.0, 6.0).clip_span(1.5) == (1.5, 7.5)
    assert _window(0.0, 3.0).f_max == 24_000
