"""Grid filters an audio review needs: only windows, and the clock time of capture."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.audio.window_support import AUDIO_CLASSES, add_recording, write_recording
from wildloop.errors import BadInput
from wildloop.project import Project
from wildloop.review import grid
from wildloop.review.filters import FilterNames, parse_filter


@pytest.fixture
def two_nights(
    make_project: Callable[..., Project], tmp_path: Path
) -> tuple[Project, dict[str, list[int]]]:
    project = make_project(AUDIO_CLASSES, name="sounds")
    ids = {}
    for name, started in (
        ("dawn", datetime(2024, 5, 1, 5, 30)),
        ("night", datetime(2024, 5, 1, 23, 59, 59)),  # its later windows fall after midnight
        ("noon", datetime(2024, 5, 2, 12, 0)),
    ):
        wav = write_recording(tmp_path / f"{name}.wav", 6.0, [])
        ids[name] = [w.media_id for w in add_recording(project, wav, "pond", started)]
    return project, ids


def _ids(project: Project, **params: str) -> list[int]:
    with project.db.session() as session:
        flt = parse_filter(params, project.classes, FilterNames.load(session))
        return [i.id for i in grid.page(session, flt, limit=100).items]


def test_kind_keeps_windows_only(two_nights: tuple[Project, dict[str, list[int]]]) -> None:
    project, ids = two_nights
    windows = sorted(i for group in ids.values() for i in group)
    assert _ids(project, kind="window") == windows
    assert len(_ids(project)) == len(windows) + 3  # the three recordings too


def test_time_of_day_within_a_day_and_across_midnight(
    two_nights: tuple[Project, dict[str, list[int]]],
) -> None:
    project, ids = two_nights
    assert _ids(project, kind="window", time_from="05:00", time_to="06:00") == ids["dawn"]
    night = _ids(project, kind="window", time_from="20:00", time_to="06:00")
    assert night == sorted(ids["dawn"] + ids["night"])
    # Only the night recording's first window starts before midnight.
    assert _ids(project, kind="window", time_from="22:00") == ids["night"][:1]
    assert _ids(project, kind="window", time_to="05:00") == ids["night"][1:]
    assert _ids(project, kind="window", time_from="11:00", time_to="13:00") == ids["noon"]


def test_clock_filters_round_trip_and_refuse_nonsense(
    two_nights: tuple[Project, dict[str, list[int]]],
) -> None:
    project, _ = two_nights
    with project.db.session() as session:
        names = FilterNames.load(session)
    params = {"kind": "window", "time_from": "20:00", "time_to": "05:30"}
    flt = parse_filter(params, project.classes, names)
    assert flt.to_params(project.classes, names) == params
    with pytest.raises(BadInput, match="time of day like 05:30"):
        parse_filter({"time_from": "25:00"}, project.classes, names)
    with pytest.raises(BadInput, match="kind must be one of"):
        parse_filter({"kind": "video"}, project.classes, names)
