"""The second stage names handed-on boxes and leaves the others as the detector said."""

from __future__ import annotations

import numpy as np

from wildloop.audio.head import Head
from wildloop.crops.classifier import CropClassifier
from wildloop.crops.logistic import fit_logistic
from wildloop.domain.location_priors import LocationPrior
from wildloop.domain.model_kinds import default_handoff, pipeline_classes
from wildloop.inference.pipeline import Detection, ItemResult
from wildloop.processing.two_stage import SecondStage
from wildloop.store.tables import ModelVersion

DETECTOR = ["animal", "person", "vehicle"]
SPECIES = ["buck", "doe"]


def _classifier() -> CropClassifier:
    """Two separable clusters: buck vectors point one way, doe vectors the other."""
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(1, 0.1, (20, 8)), rng.normal(-1, 0.1, (20, 8))])
    head, report = fit_logistic(
        SPECIES, x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat([0, 1], 20)
    )
    assert report["converged"]
    assert isinstance(head, Head)
    return CropClassifier(head, "mobilenet-v1-224", 0.1)


def _box(cls: int, score: float, vector: float | None) -> Detection:
    embedding = None if vector is None else np.full(8, vector, np.float16)
    return Detection(cls, score, 0.1, 0.1, 0.2, 0.2, embedding=embedding)


def test_handed_on_boxes_get_the_classifier_class_and_keep_the_detector_score() -> None:
    handoff = default_handoff(DETECTOR)
    assert handoff == ["animal"]
    classes = pipeline_classes(DETECTOR, SPECIES, handoff)
    assert classes == ["buck", "doe", "animal", "person", "vehicle"]
    pipeline = ModelVersion(
        name="p", classes=classes, params={"handoff": handoff, "min_box_score": 0.3}
    )
    detector = ModelVersion(name="d", classes=DETECTOR, params={})
    stage = SecondStage.of(pipeline, detector, _classifier())
    result = ItemResult(
        1,
        (
            _box(0, 0.9, 1.0),  # an animal that looks like a buck
            _box(0, 0.8, -1.0),  # an animal that looks like a doe
            _box(0, 0.2, 1.0),  # below the hand-on score: stays "animal"
            _box(1, 0.7, 1.0),  # a person passes through, even with a vector
            _box(0, 0.6, None),  # no crop vector (beyond the cap): stays "animal"
        ),
    )
    named = stage.name_boxes(result).detections
    by_det = {d.det_score: (classes[d.class_index], d.score) for d in named}
    assert by_det[0.9][0] == "buck" and by_det[0.9][1] > 0.9
    assert by_det[0.8][0] == "doe"
    assert by_det[0.2] == ("animal", 0.2)
    assert by_det[0.7] == ("person", 0.7)
    assert by_det[0.6] == ("animal", 0.6)
    assert [d.score for d in named] == sorted((d.score for d in named), reverse=True)
    failed = ItemResult(2, error="cannot decode")
    assert stage.name_boxes(failed) is failed


def test_a_soft_prior_reranks_the_classifier_scores_and_a_hard_one_rolls_up() -> None:
    classes = pipeline_classes(DETECTOR, SPECIES, ["animal"])
    pipeline = ModelVersion(name="p", classes=classes, params={"handoff": ["animal"]})
    stage = SecondStage.of(pipeline, ModelVersion(name="d", classes=DETECTOR), _classifier())
    result = ItemResult(1, (_box(0, 0.9, 1.0), _box(1, 0.7, None)))  # a buck-like animal
    does_only = LocationPrior.of(["doe"], rollup="animal")
    soft = stage.name_boxes(result, does_only, "soft", 0.001).detections
    named = {classes[d.class_index] for d in soft}
    assert named == {"doe", "person"}  # the doe score, lower, now beats 0.001 x buck
    hard = stage.name_boxes(result, does_only, "hard", 0.1).detections
    assert {(classes[d.class_index], d.det_score) for d in hard} == {
        ("animal", 0.9),  # rolled up from buck, the classifier's score kept
        ("person", 0.7),
    }
    dropped = stage.name_boxes(result, LocationPrior.of(["doe"]), "hard", 0.1).detections
    assert [classes[d.class_index] for d in dropped] == ["person"]
