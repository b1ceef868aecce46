"""Audio heads through the one evaluator and gate: scored on the frozen test windows (macro-F1
and the rest stored once per version and snapshot), compared with a recording bootstrap,
promoted only when better, and a promotion queues the reprocess of every window."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.audio.head_support import LabelledWindow, labelled_project
from tests.audio.window_support import AUDIO_CLASSES
from wildloop.audio.head_job import start_head_training
from wildloop.evaluation.evaluator import stored_evaluations
from wildloop.evaluation.promotion import promote_challenger
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Job, PredictionSet
from wildloop.training.retraining_log import retraining_log, write_chart


@pytest.fixture
def audio_project(make_project: Callable[..., Project]) -> Project:
    return make_project(AUDIO_CLASSES, name="sounds")


@pytest.fixture
def windows(audio_project: Project, tmp_path: Path) -> list[LabelledWindow]:
    return labelled_project(audio_project, tmp_path / "audio", spread=1.5)


def trained(project: Project, **overrides: object) -> int:
    started = start_head_training(project, overrides=dict(overrides))
    status = run_job(project, started.job_id)
    assert status["state"] == "succeeded", status
    return int(status["result"]["model_version_id"])


def test_heads_are_evaluated_gated_promoted_and_reprocessed(
    audio_project: Project, windows: list[LabelledWindow]
) -> None:
    weak = trained(audio_project, hidden=2, max_epochs=1, learning_rate=0.0005, batch_size=8)
    first = promote_challenger(audio_project, weak, reprocess=False)
    assert first.promoted and "no champion yet" in first.reasons[0]

    strong = trained(audio_project)
    result = promote_challenger(audio_project, strong, reprocess=True)
    comparison = result.comparison.as_dict()
    assert result.promoted, result.reasons
    assert "macro-F1 improves" in result.reasons[0]
    new, old = comparison["challenger"], comparison["champion"]
    assert new["macro_f1"] > old["macro_f1"] and new["accuracy"] > 0.8
    interval = comparison["map50_95_difference_interval"]
    assert interval["resampled_sequences"] == sum(1 for w in windows if w.split == "test") // 3
    assert interval["low"] <= new["macro_f1"] - old["macro_f1"] <= interval["high"]
    rows = {r["class"]: r for r in comparison["classes"]}
    assert set(rows) == set(AUDIO_CLASSES)
    assert all(r["truth_windows"] == 6 for r in rows.values())
    assert {"reliability", f"confusion_{result.comparison.challenger.model_name}"} <= set(
        comparison["figures"]
    )
    assert all(Path(p).is_file() for p in comparison["figures"].values())

    stored = stored_evaluations(audio_project, strong)[0].metrics
    assert stored["gate_metric"] == "macro_f1" and stored["windows"] == 21
    assert set(stored["per_class"]["owl"]) >= {"precision", "recall", "f1", "ap", "roc_auc"}
    assert stored["confusion"]["labels"] == [*AUDIO_CLASSES, "nothing"]

    with audio_project.db.session() as session:
        assert aliases.resolve(session, "champion") == strong
        assert session.scalar(select(Job.kind).where(Job.id == result.reprocess_job_id)) == (
            "predict"
        )
    assert run_job(audio_project, result.reprocess_job_id or 0)["state"] == "succeeded"
    with audio_project.db.session() as session:
        scored = session.scalars(
            select(PredictionSet.media_id).where(PredictionSet.model_version_id == strong)
        ).all()
    assert len(scored) == len(windows)

    # The same head again is no improvement: refused, and the champion stays.
    same = trained(audio_project)
    refused = promote_challenger(audio_project, same, reprocess=False)
    assert not refused.promoted
    assert "macro-F1" in refused.reasons[0] and "does not beat" in refused.reasons[0]
    with audio_project.db.session() as session:
        assert aliases.resolve(session, "champion") == strong

    # The retraining log and its chart read heads' metrics like detectors'.
    rows = {r["version_id"]: r for r in retraining_log(audio_project)}
    assert rows[strong]["macro_f1"] == pytest.approx(new["macro_f1"]) and rows[strong]["champion"]
    assert "refused" in rows[same]["notes"] and rows[weak]["accuracy"] is not None
    assert write_chart(audio_project, list(rows.values())).is_file()
