"""Time(-frequency) spans: where a label or prediction sits in an audio recording.

A whole-window label spans the window's seconds; a box drawn on the spectrogram adds the
frequency band it covers. Times are seconds in the recording, frequencies hertz.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class BadSpan(ValueError):
    """The span is empty, reversed or not a number."""


@dataclass(frozen=True)
class TimeSpan:
    t_start: float
    t_end: float
    f_low: float | None = None
    f_high: float | None = None

    def __post_init__(self) -> None:
        values = [self.t_start, self.t_end, self.f_low, self.f_high]
        if any(v is not None and not math.isfinite(v) for v in values):
            raise BadSpan("a span needs finite numbers")
        if self.t_start < 0 or self.t_end <= self.t_start:
            raise BadSpan(
                f"a span must start at 0 s or later and end after it starts "
                f"({self.t_start:.3f}..{self.t_end:.3f} s)"
            )
        if (self.f_low is None) != (self.f_high is None):
            raise BadSpan("a frequency band needs both f_low and f_high")
        if (
            self.f_low is not None
            and self.f_high is not None
            and not (0 <= self.f_low < self.f_high)
        ):
            raise BadSpan(
                f"a frequency band must run upwards from 0 Hz ({self.f_low:g}..{self.f_high:g} Hz)"
            )

    @property
    def has_band(self) -> bool:
        """Whether the span is a time-frequency box rather than a stretch of time."""
        return self.f_low is not None
