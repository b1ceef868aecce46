"""Events merge overlapping windows above a class threshold; thresholds reach a target
precision with the most recall; calibration curves are monotone and match the data."""

from __future__ import annotations

import numpy as np
import pytest

from wildloop.audio.events import WindowScore, merge_events
from wildloop.audio.thresholds import calibration_curve, class_report
from wildloop.evaluation.precision_thresholds import threshold_for_precision


def test_overlapping_windows_merge_per_recording_and_class() -> None:
    scores = [
        WindowScore(1, 0.0, 3.0, "owl", 0.9),
        WindowScore(1, 1.5, 4.5, "owl", 0.95),
        WindowScore(1, 3.0, 6.0, "owl", 0.2),  # below: not part of an event
        WindowScore(1, 6.0, 9.0, "owl", 0.7),  # starts after the first event ends
        WindowScore(1, 1.5, 4.5, "wren", 0.6),
        WindowScore(2, 0.0, 3.0, "owl", 0.8),
    ]
    events = merge_events(scores, {"wren": 0.65}, default_threshold=0.5)
    assert [
        (e.recording_id, e.class_name, e.start, e.end, e.max_score, e.windows) for e in events
    ] == [
        (1, "owl", 0.0, 4.5, 0.95, 2),
        (1, "owl", 6.0, 9.0, 0.7, 1),
        (2, "owl", 0.0, 3.0, 0.8, 1),
    ]
    bridged = merge_events(scores, {}, default_threshold=0.5, gap_s=2.0)
    assert [(e.class_name, e.start, e.end) for e in bridged if e.recording_id == 1] == [
        ("owl", 0.0, 9.0),
        ("wren", 1.5, 4.5),
    ]


def test_threshold_gives_the_most_recall_at_the_target_precision() -> None:
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    truth = np.array([True, True, False, True, True, False, False])
    choice = threshold_for_precision(truth, scores, 0.8)
    assert choice.threshold == 0.6 and choice.precision == pytest.approx(0.8)
    assert choice.recall == 1.0 and choice.positives == 4
    strict = threshold_for_precision(truth, scores, 1.0)
    assert strict.threshold == 0.9 and strict.recall == 0.5
    assert threshold_for_precision(~np.ones(3, bool), scores[:3], 0.9).threshold is None


def test_tied_scores_are_never_split_by_a_threshold() -> None:
    scores = np.array([0.9, 0.5, 0.5])
    truth = np.array([True, True, False])
    choice = threshold_for_precision(truth, scores, 0.9)
    assert choice.threshold == 0.9 and choice.recall == 0.5


def test_calibration_curve_is_monotone_and_honest() -> None:
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 4000)
    truth = rng.uniform(0, 1, 4000) < scores**2  # an over-confident score
    curve = calibration_curve(truth, scores)
    assert curve is not None
    assert np.all(np.diff(curve.probabilities) >= 0)
    assert curve.probability(0.5) == pytest.approx(0.25, abs=0.08)
    assert curve.probability(0.9) == pytest.approx(0.81, abs=0.08)
    assert calibration_curve(np.ones(5, bool), scores[:5]) is None
    report = class_report(["owl"], truth[:, None], scores[:, None], 0.9)
    assert report["owl"]["threshold"]["precision"] >= 0.9
    assert report["owl"]["ece"] > 0.1  # scores**2 is far from the score
