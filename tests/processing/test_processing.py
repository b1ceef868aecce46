"""process / reprocess / prune: labels untouched, sets kept, failures isolated, summaries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support.engine import good_media, ingest_dir, register, sets_per_media
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.errors import BadInput, Conflict
from wildloop.jobs.local import run_job
from wildloop.processing.predict_job import submit_process, submit_reprocess
from wildloop.processing.prune import prune_version
from wildloop.processing.selection import Scope, parse_scope
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import LabelBox, LabelRevision, Media, Prediction, PredictionSet
from wildloop.synthetic.scenes import Frame


def _label_rows(project: Project) -> list[tuple]:
    with project.db.session() as session:
        revisions = session.execute(
            select(
                LabelRevision.id,
                LabelRevision.media_id,
                LabelRevision.revision,
                LabelRevision.author_id,
                LabelRevision.created_at,
                LabelRevision.empty,
                LabelRevision.note,
                LabelRevision.content_hash,
            ).order_by(LabelRevision.id)
        ).all()
        boxes = session.execute(
            select(
                LabelBox.id,
                LabelBox.revision_id,
                LabelBox.class_id,
                LabelBox.x,
                LabelBox.y,
                LabelBox.w,
                LabelBox.h,
                LabelBox.corrects_prediction_id,
                LabelBox.invalid_reason,
                LabelBox.false_positive,
            ).order_by(LabelBox.id)
        ).all()
        media = session.execute(
            select(Media.id, Media.label_revision, Media.reviewed).order_by(Media.id)
        ).all()
    return [tuple(r) for r in [*revisions, *boxes, *media]]


@pytest.mark.xdist_group("trained-detector")
def test_reprocess_keeps_labels_and_older_sets_and_summarises(
    project: Project, scenes: Callable[..., list[Frame]], trained_pt: Path, tmp_path: Path
) -> None:
    frames = scenes(bursts=4, seed=1)
    ingest_dir(project, tmp_path / "scenes")
    v1 = register(project, trained_pt, "v1", imgsz=160, promote=True)
    status = run_job(project, submit_process(project).job_id)
    assert status["state"] == "succeeded"

    # People label half of the items, some pointing at a v1 prediction they corrected.
    reviewer = project.author("ana")
    with project.db.session() as session:
        ids = sorted(good_media(project))
        paths = dict(session.execute(select(Media.id, Media.path)).all())
        by_path = {str(tmp_path / "scenes" / f.file_name): f for f in frames}
        first_prediction = session.scalar(select(Prediction.id).limit(1))
        for n, media_id in enumerate(ids[::2]):
            frame = by_path[paths[media_id]]
            boxes = tuple(
                LabelBoxValue(
                    a.box,
                    project.classes.id_of(a.class_name),
                    corrects_prediction_id=first_prediction if n == 0 else None,
                )
                for a in frame.animals
            )
            save_labels(
                session,
                media_id,
                LabelSet(boxes=boxes, empty=not boxes),
                author_id=reviewer,
                classes=project.classes,
                expected_revision=0,
            )
    before = _label_rows(project)

    v2 = register(project, trained_pt, "v2", imgsz=192, promote=False)
    submitted = submit_reprocess(project, model="v2", scope="all")
    status = run_job(project, submitted.job_id)
    assert status["state"] == "succeeded"
    assert _label_rows(project) == before  # not one label row changed
    assert set(sets_per_media(project, v1.id)) == set(ids)  # older sets kept
    assert set(sets_per_media(project, v2.id)) == set(ids)

    result = status["result"]
    assert result["before"]["name"] == "v1" and result["after"]["name"] == "v2"
    assert result["items"] == len(ids)
    assert result["reviewed_disagreeing"]["reviewed"] == len(ids[::2])
    assert 0 <= result["top_class_changed"]["count"] <= len(ids)
    assert result["after"]["detections"] == sum(
        c["count"] for c in result["after"]["per_class"].values()
    )

    # Reprocessing the unreviewed items again with v2 finds them all done already.
    again = submit_reprocess(project, model="v2", scope="unreviewed")
    assert again.items == len(ids) - len(ids[::2])
    run_job(project, again.job_id)
    assert set(sets_per_media(project, v2.id).values()) == {1}

    # Prune v1: sets a label points at are kept, the rest go; labels stay as they were.
    with project.db.session() as session, pytest.raises(Conflict, match="champion"):
        prune_version(session, "v1")
    with project.db.session() as session:
        from wildloop.registry import aliases

        aliases.promote(session, v2.id, None)
    with project.db.session() as session:
        report = prune_version(session, "v1")
    assert (report.sets_deleted, report.sets_kept) == (len(ids) - 1, 1)
    assert _label_rows(project) == before


def test_bad_images_in_a_job_fail_alone(
    project: Project, scenes: Callable[..., list[Frame]], untrained_pt: Path, tmp_path: Path
) -> None:
    frames = scenes(bursts=3, seed=2)
    ingest_dir(project, tmp_path / "scenes")
    version = register(project, untrained_pt, "v1", imgsz=160, promote=True)
    broken = tmp_path / "scenes" / frames[1].file_name
    broken.write_bytes(broken.read_bytes()[:2000])
    (tmp_path / "scenes" / frames[4].file_name).unlink()
    status = run_job(project, submit_process(project).job_id)
    assert status["state"] == "succeeded"
    assert status["progress"]["done"] == len(frames)
    with project.db.session() as session:
        rows = session.execute(
            select(Media.path, PredictionSet.status, PredictionSet.error)
            .join(PredictionSet, PredictionSet.media_id == Media.id)
            .where(PredictionSet.model_version_id == version.id)
        ).all()
    failed = {Path(p).name: e for p, s, e in rows if s == "failed"}
    assert set(failed) == {Path(frames[1].file_name).name, Path(frames[4].file_name).name}
    assert "truncated" in failed[Path(frames[1].file_name).name]
    assert "not found" in failed[Path(frames[4].file_name).name]
    assert sum(1 for _, s, _ in rows if s == "ok") == len(frames) - 2
    assert status["result"]["after"]["failed"] == 2


def test_process_only_takes_unseen_media(
    project: Project, scenes: Callable[..., list[Frame]], untrained_pt: Path, tmp_path: Path
) -> None:
    scenes(bursts=2, seed=4)
    ingest_dir(project, tmp_path / "scenes")
    register(project, untrained_pt, "v1", imgsz=160, promote=True)
    first = submit_process(project)
    run_job(project, first.job_id)
    second = submit_process(project)
    assert first.items == len(good_media(project)) and second.items == 0
    with project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PredictionSet)) == first.items


def test_process_without_champion_or_with_external_model(project: Project) -> None:
    from wildloop.errors import NotFound
    from wildloop.registry.versions import register_external

    with pytest.raises(NotFound, match="promote"):
        submit_process(project)
    with project.db.session() as session:
        register_external(session, "md", ["animal"])
    with pytest.raises(BadInput, match="imported"):
        submit_reprocess(project, model="md")


def test_scope_parsing() -> None:
    assert parse_scope("all") == Scope()
    assert parse_scope(["unreviewed", "camera=cam01"]) == Scope(reviewed=False, camera="cam01")
    assert parse_scope("since=2024-05-01,until=2024-06-01") == Scope(
        since=datetime(2024, 5, 1), until=datetime(2024, 6, 1)
    )
    assert parse_scope("camera=cam01,unreviewed").describe() == "unreviewed,camera=cam01"
    with pytest.raises(BadInput, match="YYYY-MM-DD"):
        parse_scope("since=yesterday")
    with pytest.raises(BadInput, match="unknown scope"):
        parse_scope("everything")


def test_reprocess_scope_by_camera(
    project: Project, scenes: Callable[..., list[Frame]], untrained_pt: Path, tmp_path: Path
) -> None:
    frames = scenes(bursts=3, seed=6)
    ingest_dir(project, tmp_path / "scenes")
    register(project, untrained_pt, "v1", imgsz=160, promote=True)
    submitted = submit_reprocess(project, scope="camera=cam02")
    assert submitted.items == sum(1 for f in frames if f.camera == "cam02") > 0


@pytest.mark.xdist_group("trained-detector")
def test_process_with_the_torch_runtime_chosen_explicitly(
    project: Project, scenes: Callable[..., list[Frame]], trained_pt: Path, tmp_path: Path
) -> None:
    from wildloop.cli.options import override_inference

    scenes(bursts=2, seed=1)
    ingest_dir(project, tmp_path / "scenes")
    torch_version = register(project, trained_pt, "v1", imgsz=160, promote=True)
    override_inference(project, "torch", "cpu")
    assert run_job(project, submit_process(project).job_id)["state"] == "succeeded"
    override_inference(project, "onnx", "cpu")
    onnx_version = register(project, trained_pt, "v1-onnx", imgsz=160, promote=False)
    run_job(project, submit_reprocess(project, model="v1-onnx").job_id)
    with project.db.session() as session:
        found = {
            version: sorted(
                (m, round(s, 2))
                for m, s in session.execute(
                    select(PredictionSet.media_id, PredictionSet.top_score).where(
                        PredictionSet.model_version_id == version,
                        PredictionSet.top_score.is_not(None),
                    )
                )
            )
            for version in (torch_version.id, onnx_version.id)
        }
    assert found[torch_version.id] and found[torch_version.id] == found[onnx_version.id]


@pytest.mark.xdist_group("trained-detector")
def test_test_items_keep_low_boxes_for_evaluation_and_nobody_sees_them(
    project: Project, scenes: Callable[..., list[Frame]], trained_pt: Path, tmp_path: Path
) -> None:
    from sqlalchemy import case

    from wildloop.interchange import megadetector
    from wildloop.review.predictions import load_predictions

    scenes(bursts=12, seed=2)
    ingest_dir(project, tmp_path / "scenes")
    version = register(project, trained_pt, "v1", imgsz=160, promote=True)
    assert run_job(project, submit_process(project).job_id)["state"] == "succeeded"
    thresholds = project.config.thresholds
    store = thresholds.store
    with project.db.session() as session:
        rows = session.execute(
            select(
                Media.id,
                Media.split,
                PredictionSet.count,
                PredictionSet.top_score,
                func.count(Prediction.id).label("stored"),
                func.min(Prediction.score).label("lowest"),
                func.sum(case((Prediction.score >= store, 1), else_=0)).label("shown"),
            )
            .join(PredictionSet, PredictionSet.media_id == Media.id)
            .outerjoin(Prediction, Prediction.prediction_set_id == PredictionSet.id)
            .group_by(Media.id, Media.split, PredictionSet.count, PredictionSet.top_score)
        ).all()
        test = [r for r in rows if r.split == "test"]
        other = [r for r in rows if r.split != "test"]
        assert test and other
        # Only test items keep boxes under the store threshold, at most 100 of them.
        assert all(r.lowest is None or r.lowest >= store for r in other)
        low = [r for r in test if r.stored > (r.shown or 0)]
        assert low, "the detector scores some boxes under 0.05 on test items"
        assert min(r.lowest for r in low) >= thresholds.store_test
        assert all(r.stored <= max(100, r.shown or 0) for r in test)
        # What the grid, the detail view and MD exports show ignores them.
        assert all(r.count == (r.shown or 0) for r in rows)
        assert all(r.top_score is None or r.top_score >= store for r in rows)
        item = low[0]
        shown = load_predictions(session, item.id, version.id, thresholds)
        assert len(shown) == (item.shown or 0) and all(p.score >= store for p in shown)
        exported = megadetector.export(session, "v1", min_score=store)
    confs = [d["conf"] for image in exported["images"] for d in image.get("detections", [])]
    assert confs and min(confs) >= round(store, 4)
