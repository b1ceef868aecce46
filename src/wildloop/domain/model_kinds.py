"""What a model version is: a detector, a crop classifier, or a pipeline of the two.

A ``detect``or finds boxes and names them; a ``crop-classifier`` names the crop of a box
(a head over a frozen crop embedder's vectors) and finds nothing; a ``reid-embedder`` tells
individuals apart; a ``pipeline`` pairs one
detector version with one classifier version and the box score from which the detector
hands a crop on. Boxes of the detector's ``handoff`` classes go to the classifier; the others
(empty, person, vehicle: what a generic detector already names well) pass through.
"""

from __future__ import annotations

from collections.abc import Sequence

DETECT = "detect"
CLASSIFIER = "crop-classifier"
PIPELINE = "pipeline"
REID_EMBEDDER = "reid-embedder"  # a re-identification embedder (see below)
# A re-ID embedder version is either a projection of the crop embedder's vectors (``npz``,
# fine-tuned by wildloop) or a user's own image model (``onnx``/``tflite``) that embeds the
# crops itself, through the crop embedders' runtime, into vectors of its own key.
REID_PROJECTION_FORMAT = "npz"
REID_MODEL_FORMATS = ("onnx", "tflite")
PASS_THROUGH = frozenset({"empty", "blank", "person", "human", "vehicle"})
DEFAULT_MIN_BOX_SCORE = 0.1


def default_handoff(detector_classes: Sequence[str]) -> list[str]:
    """Every detector class except the ones a generic detector already names well."""
    return [c for c in detector_classes if c.lower() not in PASS_THROUGH]


def pipeline_classes(
    detector_classes: Sequence[str], classifier_classes: Sequence[str], handoff: Sequence[str]
) -> list[str]:
    """The classifier's classes, then the detector's classes not among them (pass-through
    classes, and handed-on ones for boxes below the hand-on score): one class list
    describes every box a pipeline writes. ``handoff`` only routes boxes."""
    del handoff
    out = list(classifier_classes)
    out += [c for c in detector_classes if c not in out]
    return out
