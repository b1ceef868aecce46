"""Training on another machine: a `train` queue Celery worker whose project folder, artifact
cache and view of the media differ from the server's trains from the snapshot, streams its
epochs through the rows, registers its artifact in the shared store, and stops when the
server cancels.

"Another machine" is a second project folder on this host that shares only the database,
the broker and the artifact store; the cards the server ingested are moved away after the
snapshot, so only the worker's ``storage.media_roots`` mapping can find them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.celery import broker_url, drive, machine, start_worker, use_celery
from tests.support.loop import ingest_frames, label_frames
from wildloop.jobs.celery_executor import Dispatcher, make_app
from wildloop.jobs.records import cancel_job, held_chunks
from wildloop.project import Project
from wildloop.registry.artifacts import relative_name, sha256_file
from wildloop.store.tables import ModelVersion
from wildloop.synthetic.scenes import Frame
from wildloop.training.job import start_training

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TINY = {"epochs": 2, "batch": 8, "imgsz": 64, "workers": 0, "device": "cpu", "patience": 0}


def _server_and_gpu_box(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> tuple[Path, Path]:
    """Label scenes on the server (shared artifact store, its own cache) and make the GPU
    box's project folder; returns (the shared store, the GPU box's folder)."""
    use_celery(project, broker_url("redis"))
    shared = tmp_path / "shared-store"
    project.config.storage.artifacts_url = f"file://{shared}"
    project.config.storage.cache_dir = str(tmp_path / "server-cache")
    project.save_config()
    frames = scenes(bursts=10, seed=8)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    gpu_box = machine(
        project,
        tmp_path / "gpu-box",
        cache_dir=str(tmp_path / "gpu-box" / "cache"),
        media_roots={str((tmp_path / "scenes").resolve()): str(tmp_path / "gpu-box" / "cards")},
    )
    return shared, gpu_box


def _move_cards_away(tmp_path: Path, gpu_box: Path) -> None:
    """The server's paths stop existing; the GPU box sees the cards through its own mount."""
    nfs = tmp_path / "nfs"
    nfs.mkdir()
    (tmp_path / "scenes").rename(nfs / "cards")
    (gpu_box / "cards").symlink_to(nfs / "cards")


def test_a_train_worker_on_another_machine_trains_and_registers_centrally(
    project: Project,
    scenes: Callable[..., list[Frame]],
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    shared, gpu_box = _server_and_gpu_box(project, scenes, tmp_path)
    started = start_training(project, overrides=TINY)
    _move_cards_away(tmp_path, gpu_box)
    app = make_app(project.config)
    app.control.purge()
    worker = start_worker(gpu_box, processes, queues="train", pool="prefork")
    seen: list[dict] = []
    final = drive(
        project, Dispatcher(project, app), started.job_id, lambda s: s["finished_at"], 240, seen
    )
    assert final["state"] == "succeeded", final["error"]
    messages = [s["message"] or "" for s in seen]
    assert any("epoch 1/2" in m for m in messages), "epochs streamed back through the rows"
    assert [c["epoch"] for c in final["result"]["curves"]] == [1, 2]

    with project.db.session() as session:
        version = session.scalar(select(ModelVersion).where(ModelVersion.job_id == started.job_id))
        assert version is not None and version.artifact_sha256
        sha, fmt = version.artifact_sha256, version.artifact_format or "pt"
    central = shared / relative_name(sha, fmt)
    assert sha256_file(central) == sha, "the central store holds exactly the registered bytes"
    assert not list((project.root / "artifacts").rglob(f"*.{fmt}")), "not the server's folder"
    assert (gpu_box / "runs" / f"train-{started.job_id:05d}").is_dir(), "trained on the GPU box"
    assert not (project.root / "runs" / f"train-{started.job_id:05d}").exists()
    ran_in = int((final["worker"] or "::").split(":")[1])  # a pool process of that worker
    assert os.getpgid(ran_in) == worker


def test_cancelling_on_the_server_stops_the_training_on_the_worker(
    project: Project,
    scenes: Callable[..., list[Frame]],
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    _, gpu_box = _server_and_gpu_box(project, scenes, tmp_path)
    started = start_training(project, overrides=TINY | {"epochs": 200})
    _move_cards_away(tmp_path, gpu_box)
    app = make_app(project.config)
    app.control.purge()
    start_worker(gpu_box, processes, queues="train", pool="prefork")
    dispatcher = Dispatcher(project, app)
    drive(project, dispatcher, started.job_id, lambda s: s["progress"]["done"] >= 1, 240)
    with project.db.session() as session:
        assert cancel_job(session, started.job_id)
    final = drive(
        project,
        dispatcher,
        started.job_id,
        lambda s: not held_chunks_of(project, started.job_id),
        120,
    )
    assert final["state"] == "cancelled"
    assert final["progress"]["done"] < 200
    with project.db.session() as session:
        assert (
            session.scalar(select(ModelVersion).where(ModelVersion.job_id == started.job_id))
            is None
        )


def held_chunks_of(project: Project, job_id: int) -> list[dict]:
    """Chunks of ``job_id`` a worker still holds (a stopped training hands its chunk back)."""
    with project.db.session() as session:
        return held_chunks(session, [job_id])
