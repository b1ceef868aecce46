"""The shadow share's choice of items: stable, nested, and close to the share asked for."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from wildloop.domain.shadow import shadowed

SHA = st.binary(min_size=1, max_size=32).map(lambda b: hashlib.sha256(b).hexdigest())
SHARE = st.floats(min_value=0, max_value=1)


@given(SHA, SHARE, SHARE)
def test_a_larger_share_keeps_every_item_a_smaller_one_chose(sha: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert not shadowed(sha, low) or shadowed(sha, high)
    assert shadowed(sha, low) == shadowed(sha, low)  # no state, no randomness


def test_none_all_and_about_the_share_asked_for() -> None:
    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(4000)]
    assert not any(shadowed(s, 0.0) for s in shas)
    assert all(shadowed(s, 1.0) for s in shas)
    for share in (0.1, 0.5):
        chosen = sum(shadowed(s, share) for s in shas) / len(shas)
        assert abs(chosen - share) < 0.03
