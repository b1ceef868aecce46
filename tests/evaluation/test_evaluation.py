"""The evaluator on stored predictions: figures, storage, comparisons, calibration, bootstrap."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from tests.support.loop import (
    ingest_frames,
    label_frames,
    make_model,
    model_from_truth,
    record_predictions,
)
from wildloop.datasets.snapshots import SnapshotData, create_snapshot, load_snapshot
from wildloop.errors import BadInput, JobFailed
from wildloop.evaluation.bootstrap import paired_difference_interval
from wildloop.evaluation.calibration import calibration
from wildloop.evaluation.comparison import compare_models
from wildloop.evaluation.confusion import confusion_matrix
from wildloop.evaluation.evaluator import evaluate_model, stored_evaluations
from wildloop.evaluation.matching import ImageDetections, ImageTruth, build_table
from wildloop.project import Project


@pytest.fixture
def test_set(project: Project, scenes, tmp_path: Path) -> tuple[Project, SnapshotData]:
    frames = scenes(bursts=40, seed=21)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    info, _ = create_snapshot(project, "test")
    data = load_snapshot(project, info.id)
    assert len({e.group for e in data.entries}) >= 4
    return project, data


def test_perfect_predictions_score_one_and_are_stored_once(test_set) -> None:
    project, data = test_set
    model = model_from_truth(project, data, "oracle")
    record, _ = evaluate_model(project, model, data.info.id)
    m = record.metrics
    assert m["map50"] == pytest.approx(1.0)
    assert m["map50_95"] == pytest.approx(1.0)
    assert m["precision"] == pytest.approx(1.0) and m["recall"] == pytest.approx(1.0)
    assert m["images"] == len(data.entries)
    again, _ = evaluate_model(project, model, data.info.id)
    assert again.id == record.id
    assert [e.id for e in stored_evaluations(project, model)] == [record.id]


def test_stored_figures_agree_with_pycocotools_on_the_same_rows(test_set) -> None:
    project, data = test_set
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    model = model_from_truth(
        project, data, "noisy", keep=0.8, relabel=0.2, jitter=0.08, false_alarms=0.4, seed=3
    )
    record, scored = evaluate_model(project, model, data.info.id)
    from wildloop.evaluation.evaluator import scoring_inputs

    truths, detections = scoring_inputs(project, data, model)
    images, anns, results = [], [], []
    for i, (entry, truth, dets) in enumerate(zip(data.entries, truths, detections, strict=True)):
        w, h = entry.width, entry.height
        images.append({"id": i + 1, "width": w, "height": h})
        for b, c in zip(truth.boxes, truth.classes, strict=True):
            px = [b[0] * w, b[1] * h, b[2] * w, b[3] * h]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": int(c),
                    "bbox": px,
                    "area": px[2] * px[3],
                    "iscrowd": 0,
                }
            )
        for b, s, c in zip(dets.boxes, dets.scores, dets.classes, strict=True):
            results.append(
                {
                    "image_id": i + 1,
                    "category_id": int(c),
                    "bbox": [b[0] * w, b[1] * h, b[2] * w, b[3] * h],
                    "score": float(s),
                }
            )
    gt = COCO()
    gt.dataset = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": c.id, "name": c.name} for c in project.classes],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert 0.05 < record.metrics["map50_95"] < 0.95
    assert record.metrics["map50_95"] == pytest.approx(ev.stats[0], abs=0.002)
    assert record.metrics["map50"] == pytest.approx(ev.stats[1], abs=0.002)
    assert scored.table.image_count == len(data.entries)


def test_confusion_matrix_counts_confusions_misses_and_false_alarms() -> None:
    truths = [
        ImageTruth.of([[0, 0, 10, 10], [50, 50, 10, 10]], [0, 1], "a"),
        ImageTruth.of([], [], "b"),
    ]
    dets = [
        ImageDetections.of([[0, 0, 10, 10]], [0.9], [1]),  # class 0 called 1; class 1 missed
        ImageDetections.of([[5, 5, 10, 10], [20, 20, 5, 5]], [0.8, 0.1], [0, 0]),
    ]
    m = confusion_matrix(truths, dets, [0, 1], {0: 0.25, 1: 0.25})
    assert m.tolist() == [[0, 1, 0], [0, 0, 1], [1, 0, 0]]  # the 0.1 detection is below threshold


def test_calibration_error_is_small_when_confidence_means_what_it_says() -> None:
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 20000)
    calibrated = rng.uniform(0, 1, 20000) < scores
    overconfident = rng.uniform(0, 1, 20000) < scores * 0.5
    assert calibration(scores, calibrated).ece < 0.02
    assert calibration(scores, overconfident).ece > 0.2
    bins = calibration(scores, calibrated).bins
    assert sum(b.count for b in bins) == 20000
    middle = bins[5]
    assert middle.accuracy == pytest.approx(0.55, abs=0.03)


def test_bootstrap_resamples_sequences_and_brackets_a_clear_gain() -> None:
    rng = np.random.default_rng(1)
    truths, good, bad = [], [], []
    for seq in range(12):
        for _frame in range(5):
            box = [[10, 10, 30, 30]]
            truths.append(ImageTruth.of(box, [0], f"seq{seq}"))
            good.append(ImageDetections.of(box, [0.9], [0]))
            shifted = [[10 + rng.uniform(5, 15), 10, 30, 30]]
            bad.append(ImageDetections.of(shifted, [0.9], [0]))
    table_good = build_table(truths, good, [0])
    table_bad = build_table(truths, bad, [0])
    interval = paired_difference_interval(table_bad, table_good, samples=200, seed=0)
    assert interval.groups == 12  # sequences, not the 60 frames
    assert interval.low > 0
    # The same draws give the mAP50 interval: shifts of 5-15 px on 30 px boxes lose some
    # matches at IoU 0.5 too, but far fewer than at the strict thresholds.
    assert interval.map50_low is not None and interval.map50_high is not None
    assert 0 < interval.map50_low <= interval.map50_high < interval.high
    same = paired_difference_interval(table_good, table_good, samples=50)
    assert same.low == same.high == same.map50_low == same.map50_high == 0


def test_comparison_scores_both_models_on_the_same_items_and_draws_figures(test_set) -> None:
    project, data = test_set
    strong = model_from_truth(project, data, "strong", keep=0.95, jitter=0.02, seed=1)
    weak = model_from_truth(
        project, data, "weak", keep=0.5, relabel=0.3, jitter=0.1, false_alarms=0.5, seed=2
    )
    result = compare_models(project, strong, weak, data.info.id)
    assert result.champion is not None
    assert result.champion.snapshot_id == result.challenger.snapshot_id == data.info.id
    assert result.challenger.metrics["images"] == result.champion.metrics["images"]
    assert result.decision.promote
    assert result.interval is not None and result.interval.low > 0
    for path in result.figures.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"pr_curves", "reliability", "class_deltas"} <= set(result.figures)
    reverse = compare_models(project, weak, strong, data.info.id, figures=False)
    assert not reverse.decision.promote
    assert any("does not beat" in r for r in reverse.decision.reasons)


def test_missing_predictions_go_through_the_pipeline_hook(test_set) -> None:
    project, data = test_set
    model = make_model(project, "fresh")
    asked: list[list[int]] = []

    def predict(proj: Project, model_id: int, media_ids) -> None:
        asked.append(list(media_ids))
        record_predictions(proj, model_id, {m: [] for m in media_ids[: len(media_ids) // 2]})

    with pytest.raises(JobFailed, match="no predictions for"):
        evaluate_model(project, model, data.info.id, predict=predict)
    assert asked == [[e.media_id for e in data.entries]]
    evaluate_model(
        project,
        model,
        data.info.id,
        predict=lambda p, m, ids: record_predictions(p, m, {i: [] for i in ids}),
    )
    assert len(stored_evaluations(project, model)) == 1


def test_training_snapshots_are_not_evaluation_sets(test_set) -> None:
    project, _data = test_set
    info, _ = create_snapshot(project, "training")
    model = make_model(project, "m")
    with pytest.raises(BadInput, match="test snapshot"):
        evaluate_model(project, model, info.id)
