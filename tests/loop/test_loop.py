"""The whole loop on generated scenes, with real training and the one inference pipeline.

A first model is trained from labels and promoted; a second is fine-tuned from it after more
labels; both are scored on the same frozen test items and the gate's verdict follows its
rules; a deliberately weakened copy of the champion is refused, and a real model beats it
when the roles are swapped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.loop import ingest_frames, label_frames, media_split
from wildloop.domain.gate import ClassScore, GateRules, ModelScore, decide
from wildloop.evaluation.promotion import promote_challenger
from wildloop.models.registration import register_model
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import Provenance, verified_artifact
from wildloop.store.tables import MediaSequence, ModelVersion, PredictionSet
from wildloop.synthetic.scenes import SceneGenerator
from wildloop.training.loop import run_loop
from wildloop.training.retraining_log import retraining_log

# Small enough for 2 CPU cores, long enough for YOLOv8n to learn the two body plans.
FIRST = {"epochs": 40, "imgsz": 96, "batch": 8, "workers": 0, "device": "cpu", "patience": 0}
SECOND = FIRST | {"epochs": 3}


def weakened_copy(project: Project, version_id: int, out: Path) -> int:
    """The champion's weights with heavy noise added: a model that must not be promoted."""
    import torch
    from ultralytics import YOLO

    with project.db.session() as session:
        source = verified_artifact(project, session.get(ModelVersion, version_id), "pt")  # type: ignore[arg-type]
    model = YOLO(str(source))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * p.abs().mean() * 3)
    model.save(str(out))
    version = register_model(
        project,
        out,
        "weakened",
        classes=project.classes.names,
        provenance=Provenance(source="trained", notes="champion weights with noise (test)"),
    )
    with project.db.session() as session:
        aliases.move_alias(session, "challenger", version.id, None, "test")
    return version.id


def champion(project: Project) -> int | None:
    with project.db.session() as session:
        return aliases.resolve(session, "champion")


@pytest.mark.slow
def test_two_rounds_of_the_loop_and_the_gate_both_ways(project: Project, tmp_path: Path) -> None:
    frames = SceneGenerator(["doe", "cattle"], seed=1).write(tmp_path / "scenes", 30)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    splits = media_split(project)
    train_frames = [f for f in frames if splits[ids[f.file_name]][0] in ("train", "val")]
    keys = sorted({f.sequence_key for f in train_frames})
    first_keys = set(keys[: len(keys) * 2 // 3])
    round_one = [f for f in frames if f.sequence_key in first_keys or f not in train_frames]
    label_frames(project, round_one, ids)  # 2/3 of train/val and every test item

    first = run_loop(project, overrides=FIRST, reprocess=True, figures=False)
    steps = {s.name: s for s in first.steps}
    assert [s.name for s in first.steps] == [
        "snapshot",
        "train",
        "evaluate",
        "gate",
        "promote",
        "reprocess",
    ]
    assert first.promoted and steps["reprocess"].status == "done"
    model_a = first.challenger_id
    assert model_a is not None and champion(project) == model_a
    test_snapshot = steps["snapshot"].data["test"]["id"]
    first_eval = steps["evaluate"].data["challenger"]
    # The precondition for a meaningful gate test: the first model learned something.
    assert first_eval["map50_95"] > 0.02, first_eval
    with project.db.session() as session:
        covered = session.scalar(
            select(PredictionSet.id).where(PredictionSet.model_version_id == model_a).limit(1)
        )
    assert covered is not None  # the reprocess wrote the new champion's predictions

    label_frames(project, [f for f in train_frames if f.sequence_key not in first_keys], ids)
    second = run_loop(project, overrides=SECOND, reprocess=False, figures=False)
    steps = {s.name: s for s in second.steps}
    model_b = second.challenger_id
    assert steps["train"].data["start"]["kind"] == "champion"  # fine-tuned from model A
    assert steps["train"].data["start"]["parent_id"] == model_a
    comparison = steps["evaluate"].data
    assert comparison["snapshot_id"] == test_snapshot  # same frozen test items as round one
    assert comparison["champion"]["model_version_id"] == model_a
    assert comparison["challenger"]["model_version_id"] == model_b
    # The verdict is exactly what the rules say for these figures.
    settings = project.config.gate
    rules = GateRules(settings.min_improvement, settings.max_class_drop, settings.min_class_boxes)

    def score(side: str) -> ModelScore:
        per_class = {
            row["class"]: ClassScore(row[f"{side}_ap50_95"], row["truth_boxes"])
            for row in comparison["classes"]
            if row[f"{side}_ap50_95"] is not None
        }
        return ModelScore(side, test_snapshot, comparison[side]["map50_95"], per_class)

    expected = decide(score("challenger"), score("champion"), rules)
    assert second.promoted == expected.promote
    assert comparison["decision"]["reasons"] == list(expected.reasons)
    best = champion(project)

    weakened = weakened_copy(project, best, tmp_path / "weak.pt")  # type: ignore[arg-type]
    refused = promote_challenger(project, weakened, reprocess=False, figures=False)
    assert not refused.promoted
    assert any("does not beat" in r for r in refused.reasons)
    assert refused.comparison.challenger.metrics["map50_95"] < first_eval["map50_95"]
    assert champion(project) == best
    print(  # the figures behind the verdicts (pytest -rP shows them)
        f"mAP50-95 on {comparison['snapshot']}: A {first_eval['map50_95']:.3f}, "
        f"B {comparison['challenger']['map50_95']:.3f} (B promoted: {second.promoted}), "
        f"weakened {refused.comparison.challenger.metrics['map50_95']:.3f} (refused)"
    )

    # Swap the roles: the weakened model forced in (with a reason), the real one beats it.
    promote_challenger(
        project, weakened, force=True, reason="test: role swap", reprocess=False, figures=False
    )
    assert champion(project) == weakened
    passed = promote_challenger(project, best, reprocess=False, figures=False)  # type: ignore[arg-type]
    assert passed.promoted and champion(project) == best
    assert passed.comparison.champion is not None
    assert passed.comparison.champion.snapshot_id == passed.comparison.challenger.snapshot_id

    log = {row["version"]: row for row in retraining_log(project)}
    assert log["weakened"]["notes"].startswith("refused")
    with project.db.session() as session:
        names = dict(session.execute(select(ModelVersion.id, ModelVersion.name)).all())
        sequences = session.scalar(select(MediaSequence.id).limit(1))
    assert sequences is not None
    assert log[names[model_b]]["items_added"] > 0  # round two added reviewed items
    assert log[names[model_a]]["map50_95"] == pytest.approx(first_eval["map50_95"])
