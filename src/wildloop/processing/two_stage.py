"""The second stage of a pipeline: the detector's handed-on boxes named by the classifier.

The crop stage of the one inference pipeline has already cut and embedded each box from the
frame the detector decoded, so naming a box is one small matrix product per image: no second
decode, no second embedding. A YOLO-cls classifier (trained end to end) has instead run on
the crops of the whole batch in that stage, and its class probabilities are used as they
are. A box gets the classifier's class and score and keeps the detector's score in
``det_score``; boxes of pass-through classes (empty, person, vehicle), below the hand-on
score, or without a vector keep the detector's class.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from wildloop.crops.classifier import BoxClassifier, CropClassifier
from wildloop.crops.embedder import project_crop_embedder
from wildloop.crops.yolo_cls import METHOD as YOLO_CLS
from wildloop.crops.yolo_cls import YoloClsClassifier
from wildloop.domain.location_priors import LocationPrior, PriorMode, apply_prior
from wildloop.inference.crops import CropEmbedder
from wildloop.inference.pipeline import Detection, ItemResult
from wildloop.project import Project
from wildloop.registry.versions import verified_artifact
from wildloop.store.tables import ModelVersion

_loaded: dict[str, BoxClassifier] = {}
_lock = threading.Lock()


def load_classifier(project: Project, version: ModelVersion) -> BoxClassifier:
    """The classifier version, a head or a YOLO-cls export by its ``method`` (hash-verified
    on first load; cached by hash)."""
    sha = version.artifact_sha256 or ""
    with _lock:
        if sha not in _loaded:
            path: Path = verified_artifact(project, version, version.artifact_format or "npz")
            if version.params.get("method") == YOLO_CLS:
                _loaded[sha] = YoloClsClassifier.load(path, version.params, version.classes, sha)
            else:
                _loaded[sha] = CropClassifier.load(path, version.params)
        return _loaded[sha]


def crop_model(project: Project, classifier: BoxClassifier) -> CropEmbedder:
    """What makes the vectors ``classifier`` reads from a crop: the project's crop embedder
    for a head, the network itself for a crop model run end to end."""
    if isinstance(classifier, YoloClsClassifier):
        return classifier.model
    return project_crop_embedder(project)


@dataclass(frozen=True)
class SecondStage:
    """How a pipeline routes and renames boxes (indexes into its own class list)."""

    classifier: BoxClassifier
    handoff: frozenset[int]  # detector class indexes whose boxes go to the classifier
    min_box_score: float
    from_detector: tuple[int, ...]  # detector class index -> pipeline class index
    from_classifier: tuple[int, ...]  # classifier class index -> pipeline class index
    classes: tuple[str, ...] = ()  # the pipeline's class names

    @classmethod
    def of(
        cls, pipeline: ModelVersion, detector: ModelVersion, classifier: BoxClassifier
    ) -> SecondStage:
        index = {name: i for i, name in enumerate(pipeline.classes)}
        handoff = set(pipeline.params.get("handoff") or [])
        return cls(
            classifier,
            frozenset(i for i, c in enumerate(detector.classes) if c in handoff),
            float(pipeline.params.get("min_box_score", 0.0)),
            tuple(index[c] for c in detector.classes),
            tuple(index[c] for c in classifier.classes),
            tuple(pipeline.classes),
        )

    def name_boxes(
        self,
        result: ItemResult,
        prior: LocationPrior | None = None,
        mode: PriorMode = "off",
        factor: float = 1.0,
    ) -> ItemResult:
        """The result with every box in the pipeline's classes (failed items unchanged).

        With a location prior, a handed-on box's classifier scores all meet it (a soft
        prior re-ranks them); other boxes meet it with their one class and score."""
        if not result.ok or not result.detections:
            return result
        field = self.classifier.reads  # embedding (a head) or class_scores (end to end)
        handed = [
            i
            for i, d in enumerate(result.detections)
            if d.class_index in self.handoff
            and d.score >= self.min_box_score
            and getattr(d, field) is not None
        ]
        out = [
            replace(d, class_index=self.from_detector[d.class_index], det_score=d.score)
            for d in result.detections
        ]
        every: dict[int, dict[str, float]] = {}
        if handed:
            vectors = np.stack([getattr(result.detections[i], field) for i in handed])
            scores = self.classifier.scores(vectors)
            best = np.argmax(scores, axis=1)
            for row, i in enumerate(handed):
                k = int(best[row])
                out[i] = replace(
                    out[i], class_index=self.from_classifier[k], score=float(scores[row, k])
                )
                every[i] = {
                    self.classes[self.from_classifier[j]]: float(v)
                    for j, v in enumerate(scores[row])
                }
        if prior is not None and mode != "off":
            out = self._with_prior(out, every, prior, mode, factor)
        return replace(result, detections=tuple(_ranked(out)))

    def _with_prior(
        self,
        boxes: list[Detection],
        every: dict[int, dict[str, float]],
        prior: LocationPrior,
        mode: PriorMode,
        factor: float,
    ) -> list[Detection]:
        """Boxes after the prior; a box rolled up to a class the pipeline lacks is dropped."""
        index = {name: i for i, name in enumerate(self.classes)}
        kept = []
        for i, d in enumerate(boxes):
            scores = every.get(i) or {self.classes[d.class_index]: d.score}
            named = apply_prior(scores, prior, mode, factor)
            if named is not None and named[0] in index:
                kept.append(replace(d, class_index=index[named[0]], score=named[1]))
        return kept


def _ranked(detections: list[Detection]) -> list[Detection]:
    return sorted(detections, key=lambda d: d.score, reverse=True)
