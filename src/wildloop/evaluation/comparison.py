"""Champion versus challenger on the same frozen test items: deltas, an interval, a decision.

Both models are scored by the one evaluator on one test snapshot; the bootstrap resamples
sequences of that snapshot; the gate (plain rules in ``wildloop.domain.gate``) decides.
Audio heads are scored on test windows by ``wildloop.audio.evaluation`` (macro-F1, recordings
resampled) and decided by the same gate. A quantised copy is compared with its parent, not
the champion, and decided by the parity rule (``gate.parity_tolerance``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from wildloop.audio import evaluation as audio_evaluation
from wildloop.audio.head_job import TASK as AUDIO_HEAD
from wildloop.domain.gate import (
    ClassScore,
    GateDecision,
    GateRules,
    Interval,
    ModelScore,
    decide,
    decide_parity,
)
from wildloop.errors import NotFound
from wildloop.evaluation import classifier_eval, plots
from wildloop.evaluation.bootstrap import BootstrapInterval, paired_difference_interval
from wildloop.evaluation.evaluator import EvaluationRecord, Predict, evaluate_model, test_snapshot
from wildloop.project import Project
from wildloop.registry.versions import QUANTIZED, get_version


@dataclass(frozen=True)
class Comparison:
    snapshot_id: int
    snapshot_name: str
    challenger: EvaluationRecord
    champion: EvaluationRecord | None
    interval: BootstrapInterval | None
    decision: GateDecision
    figures: dict[str, Path] = field(default_factory=dict)

    def class_table(self) -> list[dict[str, Any]]:
        """Per class: truth boxes, both AP50-95 (and AP50) values and the changes (for audio
        heads: test windows and both F1 values)."""
        if self.challenger.metrics.get("gate_metric") == "macro_f1":
            return audio_evaluation.class_rows(
                self.challenger.metrics, self.champion.metrics if self.champion else None
            )
        new = self.challenger.metrics["per_class"]
        old = self.champion.metrics["per_class"] if self.champion else {}
        rows = []
        for name, values in new.items():
            before = old.get(name, {}).get("ap50_95")
            after = values.get("ap50_95")
            before50 = old.get(name, {}).get("ap50")
            after50 = values.get("ap50")
            rows.append(
                {
                    "class": name,
                    "truth_boxes": values["truth_boxes"],
                    "champion_ap50_95": before,
                    "challenger_ap50_95": after,
                    "delta": (after - before) if after is not None and before is not None else None,
                    "champion_ap50": before50,
                    "challenger_ap50": after50,
                    "delta50": (
                        after50 - before50 if after50 is not None and before50 is not None else None
                    ),
                }
            )
        return rows

    def as_dict(self) -> dict[str, Any]:
        def summary(record: EvaluationRecord | None) -> dict[str, Any] | None:
            if record is None:
                return None
            m = record.metrics
            return {
                "model": record.model_name,
                "model_version_id": record.model_version_id,
                "evaluation_id": record.id,
                **{k: m[k] for k in SUMMARY_KEYS if k in m},
                "ece": m["calibration"]["ece"],
                # A crop classifier's probabilities are also scored as probabilities.
                **{k: m["calibration"][k] for k in ("brier", "nll") if k in m["calibration"]},
            }

        return {
            "snapshot": self.snapshot_name,
            "snapshot_id": self.snapshot_id,
            "challenger": summary(self.challenger),
            "champion": summary(self.champion),
            "map50_95_difference_interval": self.interval.as_dict() if self.interval else None,
            "map50_difference_interval": (
                {"low": self.interval.map50_low, "high": self.interval.map50_high}
                if self.interval and self.interval.map50_low is not None
                else None
            ),
            "classes": self.class_table(),
            "decision": self.decision.as_dict(),
            "figures": {k: str(v) for k, v in self.figures.items()},
        }


SUMMARY_KEYS = ("map50", "map50_95", "precision", "recall", "accuracy", "macro_f1", "map", "top1")


def gate_rules(project: Project) -> GateRules:
    g = project.config.gate
    return GateRules(g.min_improvement, g.max_class_drop, g.min_class_boxes, g.require_significant)


def model_score(record: EvaluationRecord) -> ModelScore:
    return score_of(record.model_name, record.snapshot_id, record.metrics)


def score_of(name: str, snapshot_id: int, metrics: dict[str, Any]) -> ModelScore:
    """What the gate reads of a metrics record: macro-F1 and per-class F1 for heads and
    classifier stages, mAP50-95 and per-class AP50-95 for detectors."""
    if metrics.get("gate_metric") == "macro_f1":
        return ModelScore(
            name=name,
            snapshot_id=snapshot_id,
            score=float(metrics["macro_f1"]),
            per_class={
                c: ClassScore(float(v["f1"]), int(v["support"]))
                for c, v in metrics["per_class"].items()
            },
            metric="macro-F1",
            class_metric="F1",
        )
    return ModelScore(
        name=name,
        snapshot_id=snapshot_id,
        score=float(metrics["map50_95"]),
        per_class={
            c: ClassScore(float(v["ap50_95"]), int(v["truth_boxes"]))
            for c, v in metrics["per_class"].items()
            if v.get("ap50_95") is not None
        },
    )


def compare_models(
    project: Project,
    challenger_id: int,
    champion_id: int | None,
    snapshot: int | str | None = None,
    *,
    figures: bool = True,
    predict: Predict | None = None,
) -> Comparison:
    """Evaluate both on one test snapshot, bootstrap the difference, apply the gate (a
    quantised challenger: against its parent, whatever ``champion_id`` says, by parity)."""
    parent_id = quantized_parent(project, challenger_id)
    if parent_id is not None:
        champion_id = parent_id
    data = test_snapshot(project, snapshot)
    evaluate_pair = (
        audio_evaluation.evaluate_pair
        if _task(project, challenger_id) == AUDIO_HEAD
        else _evaluate_detectors
    )
    if _changed_stage(project, challenger_id, champion_id) == "classifier":
        evaluate_pair = classifier_eval.evaluate_classifier_pair
    challenger, champion, interval = evaluate_pair(
        project, challenger_id, champion_id, data.info.id, predict=predict
    )
    if parent_id is not None and champion is not None:
        decision = decide_parity(
            model_score(challenger), model_score(champion), project.config.gate.parity_tolerance
        )
    else:
        decision = decide(
            model_score(challenger),
            model_score(champion) if champion else None,
            gate_rules(project),
            Interval(interval.low, interval.high) if interval else None,
        )
    result = Comparison(data.info.id, data.info.name, challenger, champion, interval, decision)
    if figures:
        result = _with_figures(project, result)
    return result


def _evaluate_detectors(
    project: Project,
    challenger_id: int,
    champion_id: int | None,
    snapshot: int | str | None = None,
    *,
    predict: Predict | None = None,
) -> tuple[EvaluationRecord, EvaluationRecord | None, BootstrapInterval | None]:
    """Both detectors on one test snapshot and the sequence bootstrap of their difference."""
    challenger, scored_new = evaluate_model(project, challenger_id, snapshot, predict=predict)
    if champion_id is None or champion_id == challenger_id:
        return challenger, None, None
    champion, scored_old = evaluate_model(project, champion_id, snapshot, predict=predict)
    settings = project.config.evaluation
    interval = None
    if settings.bootstrap_samples:
        interval = paired_difference_interval(
            scored_old.table,
            scored_new.table,
            samples=settings.bootstrap_samples,
            seed=settings.bootstrap_seed,
        )
    return challenger, champion, interval


def quantized_parent(project: Project, version_id: int) -> int | None:
    """The version a quantised copy was derived from; None for any other version."""
    with project.db.session() as session:
        version = get_version(session, version_id)
        return version.parent_id if version.source == QUANTIZED else None


def _changed_stage(project: Project, challenger_id: int, champion_id: int | None) -> str:
    with project.db.session() as session:
        challenger = get_version(session, challenger_id)
        champion = get_version(session, champion_id) if champion_id is not None else None
        return classifier_eval.changed_stage(challenger, champion)


def _task(project: Project, version_id: int) -> str:
    with project.db.session() as session:
        return get_version(session, version_id).task


def compare_named(
    project: Project,
    challenger: str = "challenger",
    champion: str = "champion",
    snapshot: int | str | None = None,
    *,
    figures: bool = True,
) -> Comparison:
    """``compare_models`` by id, name or alias."""
    with project.db.session() as session:
        new, old = resolve_pair(session, challenger, champion)
    return compare_models(project, new, old, snapshot, figures=figures)


def resolve_pair(session: Session, challenger: str, champion: str) -> tuple[int, int | None]:
    """Version ids of a challenger and a champion given by id, name or alias; an unset
    ``champion`` alias means no champion yet (any other name that does not exist is an
    error)."""
    new = get_version(session, challenger).id
    try:
        old: int | None = get_version(session, champion).id
    except NotFound:
        if champion != "champion":
            raise
        old = None
    return new, old


def _with_figures(project: Project, result: Comparison) -> Comparison:
    old = result.champion
    name = f"{result.challenger.model_name}-vs-{old.model_name if old else 'none'}"
    folder = project.path("runs") / "comparisons" / f"{name}-on-{result.snapshot_name}"
    models = {result.challenger.model_name: result.challenger.metrics}
    if old:
        models = {old.model_name: old.metrics} | models
    figures = {"reliability": plots.reliability(models, folder / "reliability.png")}
    if all("pr_curves" in m for m in models.values()):  # detectors; heads have none
        figures["pr_curves"] = plots.pr_curves(models, folder / "pr_curves.png")
    for label, metrics in models.items():
        figures[f"confusion_{label}"] = plots.confusion(
            metrics, f"{label} on {result.snapshot_name}", folder / f"confusion_{label}.png"
        )
    if result.decision.class_deltas:
        figures["class_deltas"] = plots.class_deltas(
            result.decision.class_deltas, folder / "class_deltas.png"
        )
    done = Comparison(**{**result.__dict__, "figures": figures})
    (folder / "comparison.json").write_text(json.dumps(done.as_dict(), indent=2), encoding="utf-8")
    return done
