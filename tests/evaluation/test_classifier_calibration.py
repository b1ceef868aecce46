"""A crop classifier's probabilities scored as probabilities: ECE, Brier and NLL checked
against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wildloop.evaluation.calibration import probability_metrics


def test_ece_brier_and_nll_match_the_hand_computed_fixture() -> None:
    # Four crops, two classes; the last crop's class is one the head does not have.
    p = np.array([[0.95, 0.05], [0.65, 0.35], [0.25, 0.75], [0.85, 0.15]])
    truth = [0, 1, 1, None]
    got = probability_metrics(p, truth, bins=10)
    # Top probabilities 0.95 (right), 0.65 (wrong), 0.75 (right), 0.85 (wrong), one per bin:
    # ECE = (0.05 + 0.65 + 0.25 + 0.85) / 4.
    assert got["ece"] == pytest.approx(0.45)
    # Brier: 0.005 + 0.845 + 0.125 + (0.7225 + 0.0225) over 4 crops.
    assert got["brier"] == pytest.approx(0.43)
    # NLL over the three crops the head can name.
    assert got["nll"] == pytest.approx(-(math.log(0.95) + math.log(0.35) + math.log(0.75)) / 3)
    assert got["crops"] == 4 and len(got["bins"]) == 10
    filled = {round(b["low"], 1): b for b in got["bins"] if b["count"]}
    assert sorted(filled) == [0.6, 0.7, 0.8, 0.9]
    assert filled[0.6]["accuracy"] == 0.0 and filled[0.6]["mean_confidence"] == pytest.approx(0.65)
    assert filled[0.9]["accuracy"] == 1.0


def test_a_perfectly_sure_right_classifier_is_perfectly_calibrated() -> None:
    got = probability_metrics(np.eye(3), [0, 1, 2])
    assert got["ece"] == pytest.approx(0.0) and got["brier"] == pytest.approx(0.0)
    assert got["nll"] == pytest.approx(0.0)
    assert probability_metrics(np.zeros((0, 3)), [])["ece"] is None
