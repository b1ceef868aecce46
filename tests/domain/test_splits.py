"""Split assignment: stable, ratio-respecting, per group key."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wildloop.domain.splits import (
    GroupBy,
    Split,
    SplitRatios,
    assign_split,
    group_key,
    straddling,
)


@given(st.text(min_size=1, max_size=40), st.text(max_size=10))
def test_same_key_and_salt_always_give_the_same_split(key: str, salt: str) -> None:
    ratios = SplitRatios()
    assert assign_split(key, ratios, salt) == assign_split(key, ratios, salt)


@given(st.text(min_size=1, max_size=40))
def test_a_zero_ratio_split_never_receives_a_key(key: str) -> None:
    assert assign_split(key, SplitRatios(0.8, 0.2, 0.0), "s") != Split.TEST
    assert assign_split(key, SplitRatios(1.0, 0.0, 0.0), "s") == Split.TRAIN


def test_ratios_are_respected_over_many_keys() -> None:
    counts = Counter(assign_split(f"cam/{i}", SplitRatios(), "wildloop") for i in range(20_000))
    assert counts[Split.TRAIN] / 20_000 == pytest.approx(0.70, abs=0.015)
    assert counts[Split.VAL] / 20_000 == pytest.approx(0.15, abs=0.015)
    assert counts[Split.TEST] / 20_000 == pytest.approx(0.15, abs=0.015)


def test_salt_changes_the_assignment() -> None:
    keys = [f"k{i}" for i in range(200)]
    a = [assign_split(k, SplitRatios(), "one") for k in keys]
    b = [assign_split(k, SplitRatios(), "two") for k in keys]
    assert a != b


@pytest.mark.parametrize("ratios", [(0.5, 0.5, 0.5), (1.2, -0.1, -0.1), (0.7, 0.2, 0.0)])
def test_bad_ratios_are_refused(ratios: tuple[float, float, float]) -> None:
    with pytest.raises(ValueError, match="split ratios"):
        SplitRatios(*ratios)


# --- grouping by camera or location ------------------------------------------------------

cameras = st.dictionaries(
    st.text(min_size=1, max_size=8),  # camera name
    st.one_of(st.none(), st.sampled_from(["ridge", "creek", "meadow", "road", "pond"])),
    min_size=1,
    max_size=12,
)


def _assign(by: GroupBy, sites: dict[str, str | None], bursts: int) -> list[tuple[str, str, str]]:
    """(camera, group, split) for ``bursts`` sequences of every camera, as ingest makes them."""
    out = []
    for camera, location in sites.items():
        for i in range(bursts):
            key = f"{camera}:2026-01-{i + 1:02d}T00:00:00"
            group = group_key(by, key, camera, location)
            out.append((camera, group, str(assign_split(group, SplitRatios(), "salt"))))
    return out


@given(cameras, st.integers(1, 6))
def test_grouped_by_location_no_location_or_camera_sits_in_two_splits(
    sites: dict[str, str | None], bursts: int
) -> None:
    assigned = _assign(GroupBy.LOCATION, sites, bursts)
    by_location = [(sites[c] or f"camera:{c}", split) for c, _, split in assigned]
    assert straddling(by_location) == {}
    assert straddling((c, split) for c, _, split in assigned) == {}


@given(cameras, st.integers(1, 6))
def test_grouped_by_camera_no_camera_sits_in_two_splits(
    sites: dict[str, str | None], bursts: int
) -> None:
    assigned = _assign(GroupBy.CAMERA, sites, bursts)
    assert straddling((c, split) for c, _, split in assigned) == {}


@given(st.text(min_size=1, max_size=30), st.text(max_size=8), st.none() | st.text(max_size=8))
def test_grouping_by_sequence_keeps_the_old_key_so_existing_splits_never_move(
    key: str, camera: str, location: str | None
) -> None:
    assert group_key(GroupBy.SEQUENCE, key, camera, location) == key


def test_cameras_without_a_location_and_sequences_without_a_camera_fall_back() -> None:
    assert group_key(GroupBy.LOCATION, "k", "cam01", None) == "camera:cam01"
    assert group_key(GroupBy.LOCATION, "k", "cam01", "") == "camera:cam01"
    assert group_key(GroupBy.LOCATION, "k", "cam01", "ridge") == "location:ridge"
    assert group_key(GroupBy.CAMERA, "k", "cam01", "ridge") == "camera:cam01"
    assert group_key(GroupBy.LOCATION, "seq:7", None, None) == "seq:7"


def test_straddling_names_groups_found_in_two_splits() -> None:
    pairs = [("ridge", Split.TRAIN), ("ridge", Split.TEST), ("creek", Split.VAL)]
    assert straddling(pairs) == {"ridge": {"train", "test"}}
