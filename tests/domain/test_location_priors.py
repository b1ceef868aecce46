"""Location priors: what a camera cannot see is rolled up, dropped or down-weighted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wildloop.domain.location_priors import LocationPrior, apply_prior

CLASSES = ["deer", "moose", "fox", "person", "animal"]
scores_st = st.dictionaries(st.sampled_from(CLASSES), st.floats(0.0, 1.0), min_size=1)
prior_st = st.builds(
    LocationPrior.of,
    st.lists(st.sampled_from(CLASSES[:3]), min_size=1),
    st.sampled_from([None, "animal"]),
)


@settings(max_examples=200)
@given(scores_st, prior_st, st.sampled_from(["hard", "soft"]), st.floats(0.0, 1.0))
def test_the_result_is_allowed_and_never_scores_higher(
    scores: dict[str, float], prior: LocationPrior, mode: str, factor: float
) -> None:
    out = apply_prior(scores, prior, mode, factor)  # type: ignore[arg-type]
    top = max(scores.values())
    if out is None:
        assert mode == "hard" and prior.rollup is None
        return
    name, score = out
    assert score <= top
    if mode == "hard":
        assert prior.allows(name)
    if prior.allows(max(scores, key=lambda c: scores[c])):
        assert score == top


@given(scores_st, prior_st)
def test_off_and_a_neutral_soft_factor_change_nothing(
    scores: dict[str, float], prior: LocationPrior
) -> None:
    top = max(scores, key=lambda c: scores[c])
    assert apply_prior(scores, prior, "off", 0.1) == (top, scores[top])
    assert apply_prior(scores, None, "hard", 0.1) == (top, scores[top])
    assert apply_prior(scores, prior, "soft", 1.0)[1] == scores[top]  # type: ignore[index]


def test_a_moose_at_a_deer_camera() -> None:
    deer_only = LocationPrior.of(["Deer"], rollup="animal")
    assert apply_prior({"moose": 0.8, "deer": 0.3}, deer_only, "hard", 0.1) == ("animal", 0.8)
    assert apply_prior({"moose": 0.8}, LocationPrior.of(["deer"]), "hard", 0.1) is None
    assert apply_prior({"moose": 0.8, "deer": 0.3}, deer_only, "soft", 0.1) == ("deer", 0.3)
    assert apply_prior({"person": 0.9}, deer_only, "hard", 0.1) == ("person", 0.9)
    assert apply_prior({"moose": 0.8}, LocationPrior.of([]), "hard", 0.1) == ("moose", 0.8)
