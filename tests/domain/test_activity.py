"""Independent events, diel activity, trap-nights and naive occupancy: the rules by hand and
by property."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wildloop.domain.activity import (
    DAY,
    Detection,
    Period,
    diel_histogram,
    independent_events,
    naive_occupancy,
    period_start,
    periods_between,
    rate_per_100,
    trap_nights,
)

MIN = 60
T0 = 1_700_000_000 - 1_700_000_000 % DAY  # a midnight

detections = st.lists(
    st.builds(
        Detection,
        camera=st.integers(1, 3),
        class_id=st.integers(1, 3),
        at=st.integers(T0, T0 + 5 * DAY),
    ),
    max_size=60,
)


def _ordered(ds: list[Detection]) -> list[Detection]:
    return sorted(ds, key=lambda d: (d.camera, d.at))


def test_the_30_minute_rule_by_hand() -> None:
    times = [0, 10 * MIN, 35 * MIN, 70 * MIN, 101 * MIN, 2 * DAY]
    events = independent_events([Detection(1, 1, T0 + t) for t in times], 30 * MIN)
    # 0, 10, 35 chain (gaps 10, 25); 70 opens one (gap 35); 101 opens one (gap 31 > 30).
    assert [(e.start - T0, e.media) for e in events] == [
        (0, 3),
        (70 * MIN, 1),
        (101 * MIN, 1),
        (2 * DAY, 1),
    ]


def test_other_classes_and_cameras_do_not_join_an_event() -> None:
    ds = [Detection(1, 1, T0), Detection(1, 2, T0 + 60), Detection(2, 1, T0 + 120)]
    assert len(independent_events(ds, 30 * MIN)) == 3


def test_out_of_order_detections_are_refused() -> None:
    with pytest.raises(ValueError, match="time order"):
        independent_events([Detection(1, 1, T0 + 100), Detection(1, 1, T0)], 60)
    with pytest.raises(ValueError, match="grouped by camera"):
        independent_events([Detection(1, 1, T0), Detection(2, 1, T0), Detection(1, 1, T0)], 60)


@given(detections, st.integers(0, 2 * DAY))
def test_events_partition_the_detections(ds: list[Detection], interval: int) -> None:
    events = independent_events(_ordered(ds), interval)
    assert sum(e.media for e in events) == len(ds)
    by_key: dict[tuple[int, int], list[int]] = {}
    for e in events:
        by_key.setdefault((e.camera, e.class_id), []).append(e.start)
        assert e.start <= e.end
    for (camera, class_id), starts in by_key.items():
        own = sorted(d.at for d in ds if (d.camera, d.class_id) == (camera, class_id))
        # An event starts exactly where the previous photo is more than the interval back.
        expected = [t for i, t in enumerate(own) if i == 0 or t - own[i - 1] > interval]
        assert starts == expected


@given(detections, st.integers(0, DAY), st.integers(0, DAY))
def test_a_longer_interval_never_makes_more_events(ds: list[Detection], a: int, b: int) -> None:
    short, long = sorted((a, b))
    ordered = _ordered(ds)
    assert len(independent_events(ordered, long)) <= len(independent_events(ordered, short))


@given(st.lists(st.integers(0, 10 * DAY)))
def test_diel_histogram_counts_every_time_once_by_its_hour(times: list[int]) -> None:
    bins = diel_histogram(times)
    assert len(bins) == 24 and sum(bins) == len(times)
    for t in times:
        assert bins[(t // 3600) % 24] > 0


def test_trap_nights_and_rate_by_hand() -> None:
    assert trap_nights(T0 + 3600, T0 + 7200) == 1  # one day: one night
    assert trap_nights(T0 + 23 * 3600, T0 + DAY + 3600) == 1  # across one midnight
    assert trap_nights(T0, T0 + 10 * DAY) == 10
    assert rate_per_100(3, 10) == pytest.approx(30.0)
    assert rate_per_100(0, 0) == 0.0


def test_periods() -> None:
    t = T0  # 2023-11-14, a Tuesday
    assert period_start(t, Period.DAY) == date(2023, 11, 14)
    assert period_start(t, Period.WEEK) == date(2023, 11, 13)
    assert period_start(t, Period.MONTH) == date(2023, 11, 1)
    assert period_start(t, Period.YEAR) == date(2023, 1, 1)
    months = periods_between(t, t + 60 * DAY, Period.MONTH)
    assert months == [date(2023, 11, 1), date(2023, 12, 1), date(2024, 1, 1)]


def test_naive_occupancy_by_hand() -> None:
    jan, feb = date(2024, 1, 1), date(2024, 2, 1)
    surveyed = {"A": {jan, feb}, "B": {jan}, "C": {feb}}
    rows = naive_occupancy([(1, "A", jan), (1, "A", feb), (1, "C", feb)], surveyed, [1, 2])
    got = {(r.class_id, r.period): (r.sites_detected, r.sites_surveyed) for r in rows}
    assert got == {(1, jan): (1, 2), (1, feb): (2, 2), (2, jan): (0, 2), (2, feb): (0, 2)}
    assert next(r for r in rows if (r.class_id, r.period) == (1, jan)).naive == 0.5
