"""Location priors act on what the one predict pass writes: a camera's allow-list rolls
other classes up (hard) or down-weights them (soft); other cameras are untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.engine import ingest_dir, register
from wildloop.domain.location_priors import LocationPrior
from wildloop.errors import BadInput, NotFound
from wildloop.inference.pipeline import Detection, ItemResult
from wildloop.jobs.local import run_job
from wildloop.media.camera_priors import list_priors, priors_for_media, set_prior
from wildloop.processing.location_priors import apply_priors
from wildloop.processing.predict_job import submit_process, submit_reprocess
from wildloop.project import Project
from wildloop.store.tables import Camera, Media, Prediction, PredictionSet
from wildloop.synthetic.scenes import Frame


def _found(project: Project, version_id: int) -> dict[str, list[tuple[str, float]]]:
    with project.db.session() as session:
        rows = session.execute(
            select(Camera.name, Prediction.class_name, Prediction.score)
            .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
            .join(Media, Media.id == PredictionSet.media_id)
            .join(Camera, Camera.id == Media.camera_id)
            .where(PredictionSet.model_version_id == version_id)
        ).all()
    out: dict[str, list[tuple[str, float]]] = {}
    for camera, name, score in rows:
        out.setdefault(camera, []).append((name, round(score, 3)))
    return {k: sorted(v) for k, v in out.items()}


@pytest.mark.slow
@pytest.mark.xdist_group("trained-detector")
def test_a_hard_prior_rolls_up_one_camera_and_leaves_the_others(
    project: Project, scenes: Callable[..., list[Frame]], trained_pt: Path, tmp_path: Path
) -> None:
    scenes(bursts=4, seed=3)
    ingest_dir(project, tmp_path / "scenes")
    v1 = register(project, trained_pt, "v1", imgsz=160, promote=True)
    run_job(project, submit_process(project).job_id)
    before = _found(project, v1.id)
    assert {n for n, _ in before["cam01"]} - {"buck", "doe"}, "nothing to roll up"
    with project.db.session() as session:
        set_prior(session, "cam01", ["buck"], "doe", project.classes.names, None)
    v2 = register(project, trained_pt, "v2", imgsz=160, promote=False)
    run_job(project, submit_reprocess(project, model="v2").job_id)
    after = _found(project, v2.id)
    assert {n for n, _ in after["cam01"]} <= {"buck", "doe"}
    assert sorted(s for _, s in after["cam01"]) == sorted(s for _, s in before["cam01"])
    assert {k: v for k, v in after.items() if k != "cam01"} == {
        k: v for k, v in before.items() if k != "cam01"
    }


def test_priors_are_checked_stored_and_found_per_media(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> None:
    scenes(bursts=2, seed=1)
    ingest_dir(project, tmp_path / "scenes")
    known = project.classes.names
    with project.db.session() as session:
        with pytest.raises(BadInput, match="unknown classes 'moose'"):
            set_prior(session, "cam01", ["buck", "moose"], None, known, None)
        with pytest.raises(BadInput, match="needs an allow-list"):
            set_prior(session, "cam01", [], "doe", known, None)
        with pytest.raises(NotFound):
            set_prior(session, "nope", ["buck"], None, known, None)
        stored = set_prior(session, "cam01", ["Buck", "buck", "fawn"], "DOE", known, None)
    assert stored["allowed"] == ["buck", "fawn"] and stored["rollup"] == "doe"
    with project.db.session() as session:
        media = {m.id: m.camera_id for m in session.scalars(select(Media))}
        cam01 = session.scalar(select(Camera.id).where(Camera.name == "cam01"))
        found = priors_for_media(session, list(media))
        assert set(found) == {m for m, c in media.items() if c == cam01} != set()
        assert {p["camera"]: p["allowed"] for p in list_priors(session)}["cam01"] == [
            "buck",
            "fawn",
        ]
        set_prior(session, "cam01", None, None, known, None)
    with project.db.session() as session:
        assert priors_for_media(session, list(media)) == {}


def test_soft_priors_reorder_boxes_and_a_missing_rollup_drops() -> None:
    classes = ["buck", "doe", "animal"]
    item = ItemResult(7, (Detection(1, 0.9, 0, 0, 0.1, 0.1), Detection(0, 0.5, 0.5, 0.5, 0.1, 0.1)))
    prior = {7: LocationPrior.of(["buck"])}
    soft = apply_priors(item, prior, classes, "soft", 0.1)
    assert [(d.class_index, round(d.score, 3)) for d in soft.detections] == [(0, 0.5), (1, 0.09)]
    assert [d.class_index for d in apply_priors(item, prior, classes, "hard", 0.1).detections] == [
        0
    ]
    rolled = apply_priors(item, {7: LocationPrior.of(["buck"], "animal")}, classes, "hard", 0.1)
    assert [(d.class_index, d.score) for d in rolled.detections] == [(2, 0.9), (0, 0.5)]
    assert apply_priors(item, {8: LocationPrior.of(["buck"])}, classes, "hard", 0.1) == item
    missing = apply_priors(item, {7: LocationPrior.of(["buck"], "deer")}, classes, "hard", 0.1)
    assert [d.class_index for d in missing.detections] == [0]


def _classes_per_burst(project: Project, version_id: int) -> dict[int, set[str]]:
    with project.db.session() as session:
        rows = session.execute(
            select(Media.sequence_id, Prediction.class_name)
            .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
            .join(Media, Media.id == PredictionSet.media_id)
            .where(PredictionSet.model_version_id == version_id)
        ).all()
    out: dict[int, set[str]] = {}
    for sequence, name in rows:
        out.setdefault(sequence, set()).add(name)
    return out


@pytest.mark.slow
@pytest.mark.xdist_group("trained-detector")
def test_smoothing_gives_each_burst_its_dominant_class_when_every_box_is_weak(
    project: Project, scenes: Callable[..., list[Frame]], trained_pt: Path, tmp_path: Path
) -> None:
    scenes(bursts=4, seed=3)
    ingest_dir(project, tmp_path / "scenes")
    v1 = register(project, trained_pt, "v1", imgsz=160, promote=True)
    run_job(project, submit_process(project).job_id)
    before = _classes_per_burst(project, v1.id)
    assert any(len(names) > 1 for names in before.values()), "no burst to smooth"
    project.config.smoothing.enabled, project.config.smoothing.weak = True, 1.01
    # Chunks of two items: every burst (3+ frames) would straddle a chunk boundary if the
    # job cut chunks by count alone.
    project.config.inference.chunk_size = 2
    v2 = register(project, trained_pt, "v2", imgsz=160, promote=False)
    run_job(project, submit_reprocess(project, model="v2").job_id)
    after = _classes_per_burst(project, v2.id)
    assert after.keys() == before.keys()
    assert all(len(names) == 1 and names <= before[s] for s, names in after.items())
