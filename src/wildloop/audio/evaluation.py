"""Evaluating audio heads on the frozen test windows, through the evaluator's own storage.

The test snapshot, the predictions (windows a head has not scored go through the predict
job first), the stored evaluation per (version, snapshot) and the champion/challenger gate
are the image machinery's; only the scoring differs: window classification metrics with
macro-F1 as the gate's metric, and a bootstrap that resamples whole recordings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from wildloop.audio.metrics import decide, paired_f1_interval, window_metrics
from wildloop.audio.truth import classes_of_revisions
from wildloop.domain.classes import BACKGROUND
from wildloop.evaluation.bootstrap import BootstrapInterval
from wildloop.evaluation.evaluator import (
    EvaluationRecord,
    Predict,
    ensure_predictions,
    store_evaluation,
    test_snapshot,
)
from wildloop.project import Project
from wildloop.store.tables import ModelVersion, Prediction, PredictionSet

CHUNK = 500


@dataclass(frozen=True)
class WindowTable:
    """One head's view of the test windows, in snapshot order."""

    classes: tuple[str, ...]
    mode: str
    truth: NDArray[np.bool_]
    scores: NDArray[np.float64]
    groups: tuple[str, ...]
    media_ids: tuple[int, ...]

    @property
    def predicted(self) -> NDArray[np.bool_]:
        return decide(self.scores, self.mode)


def species_of(version: ModelVersion) -> list[str]:
    return [c for c in version.classes if c != BACKGROUND]


class WindowItem(Protocol):
    """A reviewed window as scoring needs it (a snapshot entry is one)."""

    @property
    def media_id(self) -> int: ...
    @property
    def label_revision_id(self) -> int | None: ...
    @property
    def group(self) -> str: ...


def window_table(
    project: Project, entries: Sequence[WindowItem], version: ModelVersion
) -> WindowTable:
    """Truth (the reviewers' classes) and the head's stored scores for these windows."""
    classes = species_of(version)
    column = {name: i for i, name in enumerate(classes)}
    ids = [e.media_id for e in entries]
    scores = np.zeros((len(entries), len(classes)))
    row_of = {m: i for i, m in enumerate(ids)}
    with project.db.session() as session:
        labelled = classes_of_revisions(session, [e.label_revision_id for e in entries])
        for start in range(0, len(ids), CHUNK):
            rows = session.execute(
                select(PredictionSet.media_id, Prediction.class_name, Prediction.score)
                .join(Prediction, Prediction.prediction_set_id == PredictionSet.id)
                .where(
                    PredictionSet.model_version_id == version.id,
                    PredictionSet.status == "ok",
                    PredictionSet.media_id.in_(ids[start : start + CHUNK]),
                )
            ).all()
            for media_id, name, score in rows:
                if name in column:
                    scores[row_of[media_id], column[name]] = score
    project_names = {c.id: c.name for c in project.classes}
    truth = np.zeros((len(entries), len(classes)), bool)
    for i, entry in enumerate(entries):
        for class_id in labelled.get(entry.label_revision_id or -1, frozenset()):
            name = project_names.get(class_id, "")
            if name in column:
                truth[i, column[name]] = True
    return WindowTable(
        tuple(classes),
        str(version.params.get("mode", "softmax")),
        truth,
        scores,
        tuple(e.group for e in entries),
        tuple(ids),
    )


def evaluate_head(
    project: Project,
    model_version_id: int,
    snapshot: int | str | None = None,
    *,
    predict: Predict | None = None,
) -> tuple[EvaluationRecord, WindowTable]:
    """Score a head on a test snapshot; stored metrics are reused (the scoring is
    deterministic)."""
    data = test_snapshot(project, snapshot)
    ensure_predictions(project, model_version_id, [e.media_id for e in data.entries], predict)
    with project.db.session() as session:
        version = session.get(ModelVersion, model_version_id)
        assert version is not None  # ensure_predictions found it
        session.expunge(version)
    table = window_table(project, data.entries, version)
    metrics = window_metrics(
        table.truth,
        table.scores,
        table.classes,
        table.mode,
        project.config.evaluation.calibration_bins,
    )
    return store_evaluation(project, model_version_id, data, metrics), table


def evaluate_pair(
    project: Project,
    challenger_id: int,
    champion_id: int | None,
    snapshot: int | str | None = None,
    *,
    predict: Predict | None = None,
) -> tuple[EvaluationRecord, EvaluationRecord | None, BootstrapInterval | None]:
    """Both heads on one test snapshot, and the recording bootstrap of their macro-F1
    difference."""
    data = test_snapshot(project, snapshot)
    challenger, new = evaluate_head(project, challenger_id, data.info.id, predict=predict)
    if champion_id is None or champion_id == challenger_id:
        return challenger, None, None
    champion, old = evaluate_head(project, champion_id, data.info.id, predict=predict)
    settings = project.config.evaluation
    interval = None
    if settings.bootstrap_samples:
        truth, old_called, new_called = _aligned(old, new)
        interval = paired_f1_interval(
            truth,
            old_called,
            new_called,
            new.groups,
            samples=settings.bootstrap_samples,
            seed=settings.bootstrap_seed,
        )
    return challenger, champion, interval


def _aligned(
    old: WindowTable, new: WindowTable
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """Truth and both heads' calls over the union of their classes (a class one head lacks
    is never called by it)."""
    names = list(dict.fromkeys([*new.classes, *old.classes]))

    def widen(table: WindowTable, matrix: NDArray[np.bool_]) -> NDArray[np.bool_]:
        out = np.zeros((len(matrix), len(names)), bool)
        for i, name in enumerate(table.classes):
            out[:, names.index(name)] = matrix[:, i]
        return out

    truth = widen(new, new.truth) | widen(old, old.truth)
    return truth, widen(old, old.predicted), widen(new, new.predicted)


def class_rows(new: dict[str, Any], old: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per class: test windows, both F1 values and the change (for comparison tables)."""
    before_all = (old or {}).get("per_class", {})
    rows = []
    for name, values in new["per_class"].items():
        before = before_all.get(name, {}).get("f1")
        after = values.get("f1")
        rows.append(
            {
                "class": name,
                "truth_windows": values["support"],
                "champion_f1": before,
                "challenger_f1": after,
                "delta": after - before if after is not None and before is not None else None,
                "champion_ap": before_all.get(name, {}).get("ap"),
                "challenger_ap": values.get("ap"),
            }
        )
    return rows
