"""Split assignment: stable, ratio-respecting, per group key."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wildloop.domain.splits import Split, SplitRatios, assign_split


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
