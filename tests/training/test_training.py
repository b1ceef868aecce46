"""Training as a job: real (tiny) Ultralytics runs, the one-at-a-time guard, cancel, starts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from tests.support.loop import ingest_frames, label_frames
from wildloop.errors import BadInput, Conflict, Unavailable
from wildloop.jobs.local import run_job
from wildloop.jobs.records import cancel_job, job_status, submit_job
from wildloop.jobs.training_guard import active_training
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Job, ModelVersion
from wildloop.training.job import start_training
from wildloop.training.start import choose_start

TINY = {"epochs": 2, "batch": 8, "imgsz": 64, "workers": 0, "device": "cpu", "patience": 0}


@pytest.fixture
def labelled(project: Project, scenes, tmp_path: Path) -> Project:
    frames = scenes(bursts=10, seed=8)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    return project


@pytest.mark.slow
def test_training_job_registers_a_challenger_with_its_provenance(labelled: Project) -> None:
    project = labelled
    started = start_training(project, overrides=TINY)
    assert started.start.kind == "yaml" and "random weights" in started.start.explanation
    assert "--base" in started.start.explanation  # says how to supply a better start
    seen: list[str] = []
    status = run_job(
        project,
        started.job_id,
        progress=lambda s: seen.append(s["message"] or ""),
        poll_seconds=0.02,  # tiny epochs end within a default poll interval
    )
    assert status["state"] == "succeeded", status["error"]
    assert any("epoch 1/2" in m for m in seen)
    result = status["result"]
    assert [c["epoch"] for c in result["curves"]] == [1, 2]
    assert {"train/box_loss", "val_map50", "val_map50_95"} <= set(result["curves"][0])
    with project.db.session() as session:
        challenger = aliases.resolve(session, "challenger")
        version = session.get(ModelVersion, challenger)
        assert version is not None
        assert version.source == "trained"
        assert version.snapshot_id == started.snapshot.id
        assert version.job_id == started.job_id
        assert version.params["train"]["epochs"] == 2
        assert version.params["start"]["kind"] == "yaml"
        assert len(version.metrics["training_curves"]) == 2
        assert version.classes == project.classes.names
        assert aliases.resolve(session, "champion") is None  # training never promotes
    assert active_training(project) is None


def test_a_second_training_is_refused_while_one_is_queued(labelled: Project) -> None:
    project = labelled
    first = start_training(project, overrides=TINY)
    with pytest.raises(Conflict, match=rf"already in progress \(job {first.job_id}"):
        start_training(project, overrides=TINY)
    # The database itself refuses, even for a caller that skips the service's check.
    with pytest.raises(sa_exc.IntegrityError), project.db.session() as session:
        submit_job(session, "train", {}, [{}])
    with project.db.session() as session:
        assert cancel_job(session, first.job_id)
    second = start_training(project, overrides=TINY)
    assert second.job_id != first.job_id


@pytest.mark.slow
def test_cancel_stops_a_running_training_within_a_batch(labelled: Project) -> None:
    project = labelled
    started = start_training(project, overrides=TINY | {"epochs": 50})
    final: dict = {}
    runner = threading.Thread(target=lambda: final.update(run_job(project, started.job_id)))
    runner.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with project.db.session() as session:
            if job_status(session, started.job_id)["progress"]["done"] >= 1:
                break
        time.sleep(0.2)
    with project.db.session() as session:
        assert cancel_job(session, started.job_id)
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert final["state"] == "cancelled"
    assert final["progress"]["done"] < 50
    with project.db.session() as session:
        assert (
            session.scalar(select(ModelVersion).where(ModelVersion.job_id == started.job_id))
            is None
        )
    assert active_training(project) is None


def test_start_choice_prefers_given_base_then_champion_and_never_downloads(
    labelled: Project, tmp_path: Path
) -> None:
    project = labelled
    with pytest.raises(Unavailable, match="never downloads"):
        choose_start(project, tmp_path / "yolov8n.pt")
    fake = tmp_path / "base.pt"
    fake.write_bytes(b"weights")
    start = choose_start(project, fake)
    assert start.kind == "base" and start.source == str(fake.resolve())
    project.config.training.base_weights = str(tmp_path / "missing.pt")
    with pytest.raises(Unavailable, match="not found"):
        choose_start(project)
    project.config.training.base_weights = str(fake)
    assert choose_start(project).kind == "config"


def test_training_needs_reviewed_training_items(project: Project) -> None:
    with pytest.raises(BadInput, match="no reviewed items in the train split"):
        start_training(project, overrides=TINY)
    with pytest.raises(BadInput, match="unknown training parameter"):
        start_training(project, overrides={"lr": 0.1})


@pytest.mark.slow
def test_training_and_registration_make_no_network_attempt(
    labelled: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No font, weight or telemetry download: every socket and DNS lookup is refused here."""
    import socket

    attempts: list[object] = []

    def refuse_connect(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network is off in this test")

    def refuse_lookup(host: object, *args: object, **kwargs: object) -> list[object]:
        attempts.append(host)
        raise socket.gaierror("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    started = start_training(labelled, overrides=TINY | {"epochs": 1})
    status = run_job(labelled, started.job_id)
    assert status["state"] == "succeeded", status["error"]
    assert attempts == []


@pytest.mark.slow
def test_a_multi_gpu_device_string_reaches_ultralytics_unchanged(
    labelled: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--device 0,1`` (Ultralytics' multi-GPU form) is neither parsed nor rewritten on the
    way: no GPU here, so Ultralytics itself refuses it, naming the string it received."""
    from typer.testing import CliRunner

    from wildloop.cli.app import app as cli_app

    # Ultralytics sets CUDA_VISIBLE_DEVICES to the device it was given; keep it in this test.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    project = labelled
    result = CliRunner().invoke(
        cli_app,
        [
            *("train", "--device", "0,1", "--epochs", "1", "--imgsz", "64", "--batch", "8"),
            *("--project", str(project.root), "--json"),
        ],
    )
    assert result.exit_code == 7, result.output
    with project.db.session() as session:
        job = session.scalars(select(Job).where(Job.kind == "train")).one()
        assert job.params["train"]["device"] == "0,1"
        assert job.state == "failed"
        assert "Invalid CUDA 'device=0,1' requested" in (job.error or "")
