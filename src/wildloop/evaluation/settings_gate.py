"""Location priors and sequence smoothing measured as changes, and gated like a model.

Priors and smoothing change what the champion says as much as a retrain can, so changing
them goes through the gate too: the same model version is scored twice on the frozen test
split's ground-truth crops (the classifier stage's evaluator, ``classifier_eval``), once
under the project's current settings and once under the proposed ones, with the same crops,
the same macro-F1 gate rules and a paired bootstrap that resamples whole sequences. The
settings are applied by the same domain rules the predict job applies
(``apply_prior``, then ``smooth_burst`` within each burst), to every class score of each
crop, as a pipeline's second stage does.

What is measured is the classifier stage: ground-truth boxes, so a detector's misses and
false boxes do not blur the comparison, and no inference beyond one embedding per test box.
A single detector has no crop classifier to score this way and is refused with a reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import select

from wildloop import audit
from wildloop.audio.metrics import paired_f1_interval
from wildloop.crops.classifier import classification_metrics, ground_truth_crops
from wildloop.domain.gate import GateDecision, Interval, decide
from wildloop.domain.location_priors import MODES, LocationPrior, PriorMode, apply_prior
from wildloop.domain.model_kinds import CLASSIFIER, PIPELINE
from wildloop.domain.sequence_smoothing import smooth_burst
from wildloop.errors import BadInput
from wildloop.evaluation.bootstrap import BootstrapInterval
from wildloop.evaluation.calibration import probability_metrics
from wildloop.evaluation.classifier_eval import column_names, labelled_images, truth_names
from wildloop.evaluation.comparison import gate_rules, score_of
from wildloop.evaluation.evaluator import test_snapshot
from wildloop.media.camera_priors import priors_for_media
from wildloop.processing.two_stage import crop_model, load_classifier
from wildloop.project import Project
from wildloop.registry.pipelines import stages
from wildloop.registry.versions import get_version
from wildloop.store.tables import Media, ModelVersion

DROPPED = "(dropped)"  # a hard prior without a roll-up removed the box: a miss
DEFAULT_IMGSZ = 640


@dataclass(frozen=True)
class OutputSettings:
    """The settings the gate measures: location priors and sequence smoothing."""

    priors: PriorMode
    factor: float
    smoothing: bool
    weak: float

    def describe(self) -> str:
        priors = f"soft x{self.factor:g}" if self.priors == "soft" else self.priors
        smoothing = f"on (weak < {self.weak:g})" if self.smoothing else "off"
        return f"priors {priors}, smoothing {smoothing}"


def current_settings(project: Project) -> OutputSettings:
    config = project.config
    return OutputSettings(
        config.priors.mode, config.priors.factor, config.smoothing.enabled, config.smoothing.weak
    )


def parse_settings(text: str, base: OutputSettings) -> OutputSettings:
    """``base`` with the changes in ``text``: comma-separated ``priors=off|hard|soft``,
    ``factor=F``, ``smoothing=on|off``, ``weak=F`` (factor and weak between 0 and 1)."""
    changes: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip().lower()
        if not sep or key not in ("priors", "factor", "smoothing", "weak"):
            raise BadInput(
                f"cannot read {part!r}: use priors=off|hard|soft, factor=F, smoothing=on|off, "
                "weak=F (comma-separated)"
            )
        if key == "priors":
            if value not in MODES:
                raise BadInput(f"priors must be one of {', '.join(MODES)} (got {value!r})")
            changes[key] = value
        elif key == "smoothing":
            if value not in ("on", "off"):
                raise BadInput(f"smoothing must be on or off (got {value!r})")
            changes[key] = value == "on"
        else:
            try:
                number = float(value)
            except ValueError:
                number = -1.0
            if not 0 <= number <= 1:
                raise BadInput(f"{key} must be a number between 0 and 1 (got {value!r})")
            changes[key] = number
    return replace(base, **changes)


def name_crops(
    probabilities: np.ndarray[Any, Any],
    columns: Sequence[str],
    media_ids: Sequence[int],
    priors: Mapping[int, LocationPrior],
    sequence_of: Mapping[int, int],
    settings: OutputSettings,
) -> list[str]:
    """Each crop's class after the prior (on all its class scores) and smoothing within
    bursts, as the predict job names a pipeline's boxes; DROPPED for a dropped box."""
    named: list[tuple[str, float] | None] = []
    for row, media_id in zip(probabilities, media_ids, strict=True):
        scores = {c: float(p) for c, p in zip(columns, row, strict=True)}
        named.append(apply_prior(scores, priors.get(media_id), settings.priors, settings.factor))
    if settings.smoothing:
        boxes_of: dict[int, list[int]] = defaultdict(list)
        for i, media_id in enumerate(media_ids):
            if named[i] is not None:
                boxes_of[media_id].append(i)
        bursts: dict[int, list[int]] = defaultdict(list)
        for media_id in boxes_of:
            if media_id in sequence_of:
                bursts[sequence_of[media_id]].append(media_id)
        for frames in bursts.values():
            boxes = [[named[i] for i in boxes_of[m]] for m in frames]
            smoothed = smooth_burst(boxes, settings.weak)  # type: ignore[arg-type]
            for m, frame in zip(frames, smoothed, strict=True):
                for i, box in zip(boxes_of[m], frame, strict=True):
                    named[i] = box
    return [n[0] if n is not None else DROPPED for n in named]


@dataclass(frozen=True)
class SettingsComparison:
    model: str
    model_version_id: int
    snapshot_id: int
    snapshot_name: str
    current: OutputSettings
    proposed: OutputSettings
    current_metrics: dict[str, Any]
    proposed_metrics: dict[str, Any]
    interval: BootstrapInterval | None
    decision: GateDecision

    def as_dict(self) -> dict[str, Any]:
        def side(settings: OutputSettings, metrics: dict[str, Any]) -> dict[str, Any]:
            return {
                "settings": asdict(settings),
                "described": settings.describe(),
                **{k: metrics[k] for k in ("crops", "top1", "macro_f1", "dropped")},
                "per_class": metrics["per_class"],
            }

        return {
            "model": self.model,
            "model_version_id": self.model_version_id,
            "snapshot": self.snapshot_name,
            "snapshot_id": self.snapshot_id,
            "stage": "classifier (ground-truth test crops)",
            "current": side(self.current, self.current_metrics),
            "proposed": side(self.proposed, self.proposed_metrics),
            "macro_f1_difference_interval": self.interval.as_dict() if self.interval else None,
            "decision": self.decision.as_dict(),
        }


def _classifier_of(project: Project, model: str | int) -> tuple[ModelVersion, ModelVersion, int]:
    """(the version asked for, its crop classifier, the input size its crops are cut at)."""
    with project.db.session() as session:
        version = get_version(session, model)
        if version.task == PIPELINE:
            detector, classifier = stages(session, version)
            imgsz = detector.imgsz or DEFAULT_IMGSZ
        elif version.task == CLASSIFIER:
            classifier = version
            imgsz = int(version.params.get("imgsz") or version.imgsz or DEFAULT_IMGSZ)
        else:
            raise BadInput(
                f"{version.name} is a single detector: the settings gate measures priors and "
                "smoothing on a crop classifier's test crops, so give a pipeline or a crop "
                "classifier (`--model`); a single detector's settings are not gated yet"
            )
        session.expunge_all()
    return version, classifier, imgsz


def compare_settings(
    project: Project,
    proposed: OutputSettings,
    *,
    model: str | int = "champion",
    snapshot: int | str | None = None,
) -> SettingsComparison:
    """The model under the current and the ``proposed`` settings on the test crops, the
    sequence bootstrap of the macro-F1 difference, and the gate's decision."""
    current = current_settings(project)
    if proposed == current:
        raise BadInput(f"the proposed settings are the current ones ({current.describe()})")
    version, classifier_version, imgsz = _classifier_of(project, model)
    data = test_snapshot(project, snapshot)
    classifier = load_classifier(project, classifier_version)
    crops = ground_truth_crops(
        labelled_images(data.entries),
        crop_model(project, classifier),  # a head's embedder, or the YOLO-cls network
        imgsz=imgsz,
        padding=classifier.padding,
    )
    columns = column_names(classifier, list(classifier_version.class_ids or []), data.classes)
    probabilities = classifier.scores(crops.x)
    media = sorted(set(crops.media_ids))
    with project.db.session() as session:
        priors = priors_for_media(session, media)
        sequence_of = {
            m: s
            for m, s in session.execute(
                select(Media.id, Media.sequence_id).where(Media.id.in_(media))
            ).all()
            if s is not None
        }
    truth = truth_names(crops.class_ids, data.classes)
    called = {
        key: name_crops(probabilities, columns, crops.media_ids, priors, sequence_of, settings)
        for key, settings in (("current", current), ("proposed", proposed))
    }
    metrics = {key: _metrics(truth, names, columns, probabilities) for key, names in called.items()}
    groups = [str(sequence_of.get(m, f"media-{m}")) for m in crops.media_ids]
    interval = _interval(project, truth, called["current"], called["proposed"], groups)
    decision = decide(
        score_of(f"{version.name} with {proposed.describe()}", data.info.id, metrics["proposed"]),
        score_of(f"{version.name} with {current.describe()}", data.info.id, metrics["current"]),
        gate_rules(project),
        Interval(interval.low, interval.high) if interval else None,
    )
    return SettingsComparison(
        version.name,
        version.id,
        data.info.id,
        data.info.name,
        current,
        proposed,
        metrics["current"],
        metrics["proposed"],
        interval,
        decision,
    )


def _metrics(
    truth: list[str], called: list[str], columns: list[str], probabilities: np.ndarray[Any, Any]
) -> dict[str, Any]:
    metrics = classification_metrics(truth, called, columns)
    column = {c: j for j, c in enumerate(columns)}
    metrics["calibration"] = probability_metrics(probabilities, [column.get(t) for t in truth])
    metrics["dropped"] = called.count(DROPPED)
    metrics["gate_metric"] = "macro_f1"
    return metrics


def _interval(
    project: Project, truth: list[str], old: list[str], new: list[str], groups: list[str]
) -> BootstrapInterval | None:
    """The paired sequence bootstrap of the macro-F1 difference over the truth's classes
    (the classes the gate's macro-F1 averages over)."""
    settings = project.config.evaluation
    if not settings.bootstrap_samples or not truth:
        return None
    classes = sorted(set(truth))

    def one_hot(names: list[str]) -> np.ndarray[Any, Any]:
        return np.array([[n == c for c in classes] for n in names], dtype=bool)

    return paired_f1_interval(
        one_hot(truth),
        one_hot(old),
        one_hot(new),
        groups,
        samples=settings.bootstrap_samples,
        seed=settings.bootstrap_seed,
    )


def gate_settings(
    project: Project,
    proposed: OutputSettings,
    *,
    model: str | int = "champion",
    snapshot: int | str | None = None,
    actor_id: int | None = None,
) -> dict[str, Any]:
    """Change the project's priors and smoothing only when the gate passes the proposed
    settings against the current ones; the verdict is audited either way
    (``settings.gate.pass`` with the change, or ``settings.gate.refuse``)."""
    comparison = compare_settings(project, proposed, model=model, snapshot=snapshot)
    passes = comparison.decision.promote
    result = comparison.as_dict()
    with project.db.session() as session:
        audit.record(
            session,
            actor_id=actor_id,
            action="settings.gate.pass" if passes else "settings.gate.refuse",
            entity="project",
            entity_id=project.config.name,
            before={"settings": asdict(comparison.current)},
            after={"settings": asdict(proposed), "comparison": result},
            reason="; ".join(comparison.decision.reasons),
        )
        if passes:
            config = project.config
            config.priors.mode, config.priors.factor = proposed.priors, proposed.factor
            config.smoothing.enabled, config.smoothing.weak = proposed.smoothing, proposed.weak
            project.save_config()
    return {"changed": passes, **result}
