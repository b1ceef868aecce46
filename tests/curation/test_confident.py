"""Out-of-fold probabilities and cleanlab's issues on planted clusters: a single wrong box
is found either way; a wrong class repeated over a whole burst vouches for itself when
folds hold out single boxes, and is found when folds hold out whole bursts."""

from __future__ import annotations

import numpy as np

from wildloop.curation.confident import label_issues, out_of_fold_probabilities

CLASSES, BURSTS, FRAMES, DIM = 3, 10, 4, 64


def _bursts() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Classes of bursts of near-identical frames (a burst: one animal, one pose)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(CLASSES, DIM))
    x, y, groups = [], [], []
    for k in range(CLASSES):
        for b in range(BURSTS):
            burst = centres[k] + rng.normal(size=DIM) * 0.9
            for _ in range(FRAMES):
                x.append(burst + rng.normal(size=DIM) * 0.05)
                y.append(k)
                groups.append(f"{k}-{b}")
    return np.array(x), np.array(y), groups


def test_folds_by_burst_find_a_wrong_burst_and_folds_by_box_do_not() -> None:
    x, truth, groups = _bursts()
    given = truth.copy()
    wrong_burst = [i for i, g in enumerate(groups) if g == "0-3"]
    given[wrong_burst] = 1
    slip = groups.index("2-5")
    given[slip] = 0
    by_box = [i.row for i in label_issues(given, out_of_fold_probabilities(x, given, CLASSES))]
    by_burst = label_issues(given, out_of_fold_probabilities(x, given, CLASSES, groups=groups))
    assert by_box[:1] == [slip]
    assert not set(wrong_burst) & set(by_box)
    flagged = [i.row for i in by_burst]
    assert flagged[0] == slip and set(wrong_burst) <= set(flagged[:5])
    assert all(i.suggested == 0 for i in by_burst if i.row in wrong_burst)


def test_held_out_rows_never_train_a_fold() -> None:
    """A test-split row's own label cannot change any probability: scoring it uses heads
    fitted on the other rows only, and it trains none of the folds."""
    x, truth, _ = _bursts()
    held = np.zeros(len(truth), bool)
    held[::7] = True
    first = out_of_fold_probabilities(x, truth, CLASSES, held_out=held)
    flipped = truth.copy()
    flipped[held] = (flipped[held] + 1) % CLASSES
    second = out_of_fold_probabilities(x, flipped, CLASSES, held_out=held)
    assert np.allclose(first, second)
    assert (first[held].argmax(axis=1) == truth[held]).mean() > 0.9
