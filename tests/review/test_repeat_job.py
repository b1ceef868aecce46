"""A repeat decision over many frames is a job: the decision and its region take effect at
once, the hard negatives are written chunk by chunk, a chunk that runs again writes nothing
twice, an undo restores through a job too, and test frames never reach a training export."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.loop import (
    ingest_frames,
    make_model,
    media_split,
    record_predictions,
)
from wildloop.composition import register_job_kinds
from wildloop.datasets.exporters import export_snapshot
from wildloop.datasets.snapshots import create_snapshot
from wildloop.domain.boxes import Box
from wildloop.evaluation.promotion import make_first_champion
from wildloop.jobs.executor import run_job
from wildloop.jobs.kinds import ChunkContext
from wildloop.project import Project
from wildloop.review import repeat_decisions, repeat_job
from wildloop.review.hidden_regions import hidden_regions
from wildloop.review.labels import current_labels
from wildloop.review.repeat_decisions import decide, decision_status, labelled_frames, undo
from wildloop.review.repeat_job import REPEAT_DECISION_KIND
from wildloop.review.repeats import repeat_groups
from wildloop.store.tables import Job, JobChunk, LabelRevision, Media, RepeatDecisionFrame

ROCK = Box(0.05, 0.7, 0.12, 0.2)
CHUNK = 7


class Reported:
    """The job's reporting seam, recording instead of writing (the handler runs directly)."""

    def __init__(self) -> None:
        self.done: list[int | None] = []

    def progress(self, done: int | None, failed: int | None, message: str | None) -> None:
        self.done.append(done)

    def set_total(self, total: int) -> None:
        pass


@pytest.fixture
def rock(project: Project, scenes: Any, tmp_path: Path) -> list[int]:
    """A rock the model calls a pig on every frame of one camera; returns those frames."""
    frames = scenes(bursts=24, seed=3)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    model = make_model(project, "rock-lover", source="trained")
    with project.db.session() as session:
        make_first_champion(session, model, None, "first", classes=project.classes)
    camera = frames[0].camera
    on_camera = sorted(ids[f.file_name] for f in frames if f.camera == camera)
    # Every other frame shows a deer besides the rock: it stays to review after the job.
    record_predictions(
        project,
        model,
        {
            m: [("pig", 0.8, ROCK)]
            + [("doe", 0.9, Box(0.2 + 0.02 * (n % 30), 0.2, 0.1, 0.2))] * (n % 2)
            for n, m in enumerate(on_camera)
        },
    )
    return on_camera


def _decide(project: Project) -> tuple[int, int | None, int]:
    with project.db.session() as session:
        [group] = repeat_groups(session, min_score=0.5, min_items=10, min_bursts=3)
        row = decide(
            session,
            group,
            "false_positive",
            actor_id=project.author("ada"),
            classes=project.classes,
            iou=0.85,
            min_score=0.5,
            sync_frames=5,
        )
        return row.id, row.job_id, len(group.media_ids)


def _revisions(project: Project) -> int:
    with project.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(LabelRevision)) or 0)


def _rerun_chunks(project: Project, job_id: int) -> None:
    """Run every chunk of the job again, as a worker does after dying between its commit
    and marking the chunk done."""
    with project.db.session() as session:
        chunks = session.execute(
            select(JobChunk.id, JobChunk.seq, JobChunk.payload).where(JobChunk.job_id == job_id)
        ).all()
        params = session.get_one(Job, job_id).params
    for chunk_id, seq, payload in chunks:
        ctx = ChunkContext(project, job_id, chunk_id, seq, params, payload, "again", Reported())
        assert REPEAT_DECISION_KIND.run_chunk(ctx).done == len(payload["media_ids"])


def test_a_large_decision_is_a_job_that_reruns_without_duplicates_and_undoes(
    project: Project, rock: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repeat_decisions, "CHUNK_FRAMES", CHUNK)
    register_job_kinds()
    before = _revisions(project)
    decision, job_id, frames = _decide(project)
    assert job_id is not None and frames > 2 * CHUNK
    # The region hides at once; the frames are the job's work.
    with project.db.session() as session:
        assert hidden_regions(session) is not None
        status = decision_status(session, decision)
    assert status["labelled"] == 0 and status["job"]["state"] == "queued"
    assert status["job"]["total"] == frames
    assert _revisions(project) == before

    assert run_job(project, job_id, workers=1)["state"] == "succeeded"
    with project.db.session() as session:
        status = decision_status(session, decision)
        labelled = labelled_frames(session, decision)
        reviewed = session.scalars(
            select(Media.reviewed).where(Media.id.in_(rock)).order_by(Media.id)
        ).all()
    assert status["job"]["state"] == "succeeded" and status["job"]["done"] == frames
    assert [m for m, _ in labelled] == rock
    assert reviewed == [n % 2 == 0 for n in range(len(rock))]  # reviewed empty: rock only
    written = _revisions(project)
    assert written == before + frames

    _rerun_chunks(project, job_id)  # a chunk that runs again writes nothing
    assert _revisions(project) == written
    with project.db.session() as session:
        assert labelled_frames(session, decision) == labelled

    with project.db.session() as session:
        out = undo(
            session,
            decision,
            actor_id=project.author("ada"),
            classes=project.classes,
            sync_frames=5,
        )
        assert hidden_regions(session) is None  # the region stops hiding at once
    assert out["frames"] == frames and out["job_id"] is not None
    result = run_job(project, out["job_id"], workers=1)
    assert result["state"] == "succeeded"
    assert result["result"] == {"decision_id": decision, "restored": frames, "kept": 0}
    restored = _revisions(project)
    assert restored == written + frames
    _rerun_chunks(project, out["job_id"])
    assert _revisions(project) == restored
    with project.db.session() as session:
        assert not any(session.scalars(select(Media.reviewed).where(Media.id.in_(rock))))
        assert all(
            current_labels(session, m) is None or not current_labels(session, m).boxes for m in rock
        )
        outcomes = session.scalars(
            select(RepeatDecisionFrame.undo_outcome).where(
                RepeatDecisionFrame.decision_id == decision
            )
        ).all()
    assert outcomes == ["restored"] * frames


def test_a_decision_undone_before_its_job_ran_labels_nothing(
    project: Project, rock: list[int]
) -> None:
    register_job_kinds()
    before = _revisions(project)
    decision, job_id, _ = _decide(project)
    with project.db.session() as session:
        out = undo(session, decision, actor_id=project.author("ada"), classes=project.classes)
    assert out["restored"] == [] and out["kept"] == []
    assert job_id is not None and run_job(project, job_id, workers=1)["state"] == "succeeded"
    assert _revisions(project) == before


def test_hard_negatives_written_by_the_job_never_leak_test_frames(
    project: Project, rock: list[int]
) -> None:
    register_job_kinds()
    _, job_id, _ = _decide(project)
    assert job_id is not None and run_job(project, job_id, workers=1)["state"] == "succeeded"
    splits = media_split(project)
    assert {"train", "test"} <= {splits[m][0] for m in rock}
    create_snapshot(project, "training")
    out = export_snapshot(project, "training-0001", "yolo").folder
    exported = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "images").rglob("*.jpg")}
    assert exported.isdisjoint(sha for s, _, sha in splits.values() if s == "test")
    # The frames the job reviewed as empty (the rock only) are the training's hard negatives.
    empty = [m for n, m in enumerate(rock) if n % 2 == 0]
    assert {splits[m][2] for m in empty if splits[m][0] != "test"} <= exported


def test_an_undo_waits_for_a_labelling_chunk_in_flight_and_restores_its_frames(
    project: Project, rock: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk labelling frames holds its decision: an undo arriving meanwhile waits, then
    restores what the chunk wrote; no frame stays a hard negative of an undone decision."""
    if project.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a chunk and an undo cannot interleave")
    register_job_kinds()
    decision, job_id, _ = _decide(project)
    assert job_id is not None
    labelling, release = threading.Event(), threading.Event()
    real = repeat_job.label_frames

    def held(*args: Any, **kwargs: Any) -> tuple[int, int]:
        out = real(*args, **kwargs)
        labelling.set()  # written, not yet committed
        assert release.wait(30)
        return out

    monkeypatch.setattr(repeat_job, "label_frames", held)
    chunk = threading.Thread(target=_rerun_chunks, args=(project, job_id))
    chunk.start()
    assert labelling.wait(60)
    answers: list[dict[str, Any]] = []

    def undo_now() -> None:
        with project.db.session() as session:
            answers.append(
                undo(
                    session,
                    decision,
                    actor_id=project.author("ada"),
                    classes=project.classes,
                    sync_frames=10_000,
                )
            )

    undoing = threading.Thread(target=undo_now)
    undoing.start()
    undoing.join(1.0)
    assert undoing.is_alive()  # waits for the chunk's transaction
    release.set()
    chunk.join(60)
    undoing.join(60)
    assert not chunk.is_alive() and not undoing.is_alive()
    [out] = answers
    assert sorted(out["restored"]) == rock and out["kept"] == []
    with project.db.session() as session:
        assert not any(session.scalars(select(Media.reviewed).where(Media.id.in_(rock))))
