"""Window embeddings: the backends, the embedding job, and the once-per-window cache."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from tests.cli.test_cli import run
from tests.conftest import SHARED_DATA
from wildloop.audio import embed_job
from wildloop.audio.embed_job import decode_vector, submit_embed
from wildloop.audio.embedders import (
    BIRDNET_KEY,
    LogMelEmbedder,
    birdnet_unavailable,
    make_embedder,
)
from wildloop.audio.ingest import ingest_audio_paths
from wildloop.config import AudioSettings
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import Embedding, Media
from wildloop.synthetic.sounds import RATE, Call, generate_recordings, synth_recording

INSECTS = SHARED_DATA / "insect-sounds"


@pytest.fixture
def audio_project(make_project: Callable[..., Project]) -> Project:
    return make_project(["tone", "chirp", "trill", "buzz"], name="sounds")


def _embed(project: Project) -> dict[str, object]:
    submitted = submit_embed(project)
    return run_job(project, submitted.job_id)


def test_logmel_separates_the_generated_classes() -> None:
    embedder = LogMelEmbedder()
    rows, kinds = [], []
    for seed, kind in enumerate(["tone", "chirp", "trill", "buzz"] * 3):
        data = synth_recording([Call(kind, 0.2, 2.8)], 3.0, RATE, seed=seed)
        rows.append(data)
        kinds.append(kind)
    vectors = embedder.embed(np.stack(rows))
    assert vectors.shape == (12, embedder.dim) and np.isfinite(vectors).all()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    nearest = (unit @ unit.T - 2 * np.eye(12)).argmax(axis=1)
    assert all(kinds[i] == kinds[j] for i, j in enumerate(nearest))


def test_embed_job_stores_each_window_once(audio_project: Project, tmp_path: Path) -> None:
    generate_recordings(tmp_path / "in", 3, seed=1, duration_s=9.0)
    report = ingest_audio_paths(audio_project, [tmp_path / "in"])
    status = _embed(audio_project)
    assert status["state"] == "succeeded"
    assert status["result"] == {
        "embedder": "logmel-v1",
        "embedded": report.windows,
        "failed": 0,
        "missing": 0,
        "failures": [],
    }
    with audio_project.db.session() as session:
        rows = session.execute(select(Embedding.media_id, Embedding.dim, Embedding.vector)).all()
        windows = set(session.scalars(select(Media.id).where(Media.kind == "window")))
    assert {r.media_id for r in rows} == windows and len(rows) == report.windows
    assert {r.dim for r in rows} == {192}
    first = {r.media_id: decode_vector(r.vector) for r in rows}

    again = submit_embed(audio_project)
    assert again.windows == 0
    with audio_project.db.session() as session:
        dropped = sorted(windows)[:4]
        session.execute(delete(Embedding).where(Embedding.media_id.in_(dropped)))
    redo = submit_embed(audio_project)
    assert redo.windows == 4
    run_job(audio_project, redo.job_id)
    with audio_project.db.session() as session:
        rows = session.execute(select(Embedding.media_id, Embedding.vector)).all()
    assert len(rows) == report.windows
    for media_id, blob in rows:
        np.testing.assert_array_equal(decode_vector(blob), first[media_id])


def test_a_worker_reads_recordings_through_its_media_roots(
    audio_project: Project, tmp_path: Path
) -> None:
    """A worker that mounts the server's card folder elsewhere embeds every window."""
    generate_recordings(tmp_path / "cards", 2, seed=4, duration_s=6.0)
    report = ingest_audio_paths(audio_project, [tmp_path / "cards"])
    (tmp_path / "cards").rename(tmp_path / "worker-mount")  # the server's path is gone here
    audio_project.config.storage.media_roots = {
        str((tmp_path / "cards").resolve()): str(tmp_path / "worker-mount")
    }
    status = _embed(audio_project)
    assert status["state"] == "succeeded"
    assert status["result"]["embedded"] == report.windows  # type: ignore[index]
    assert status["result"]["failed"] == 0  # type: ignore[index]


def test_a_recording_gone_bad_fails_its_windows_alone(
    audio_project: Project, tmp_path: Path
) -> None:
    made = generate_recordings(tmp_path / "in", 3, seed=2, duration_s=6.0)
    ingest_audio_paths(audio_project, [tmp_path / "in"])
    made[1].path.write_bytes(b"overwritten by a sync tool")
    status = _embed(audio_project)
    with audio_project.db.session() as session:
        embedded = session.scalar(select(func.count()).select_from(Embedding))
        per_recording = session.scalar(
            select(func.count()).where(Media.kind == "window", Media.parent_id == 1)
        )
    assert embedded == 2 * per_recording
    assert status["result"]["missing"] == per_recording  # type: ignore[index]
    assert status["result"]["failed"] == per_recording  # type: ignore[index]
    failures = status["result"]["failures"]  # type: ignore[index]
    assert failures == [
        {
            "path": str(made[1].path),
            "reason": "not an audio file (format not recognised): " + made[1].path.name,
        }
    ]


def test_user_onnx_model_by_path(audio_project: Project, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="building the test model needs the onnx package")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["audio", "shape"], ["frames"]),
            helper.make_node("ReduceL2", ["frames"], ["embedding"], axes=[2], keepdims=0),
        ],
        "energy",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["n", 16_000])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", 16])],
        [helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 16, 1000])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "energy.onnx"
    onnx.save(model, str(path))
    settings = AudioSettings(embedder=str(path), model_sample_rate=16_000)
    embedder = make_embedder(settings, tmp_path)
    assert embedder.key.startswith("onnx:") and len(embedder.key) == len("onnx:") + 12
    assert (embedder.window_samples, embedder.dim) == (16_000, 16)
    out = embedder.embed(np.ones((2, 20_000), np.float32))
    np.testing.assert_allclose(out, np.full((2, 16), np.sqrt(1000.0)), rtol=1e-5)


@pytest.mark.skipif(bool(birdnet_unavailable()), reason=f"BirdNET extra: {birdnet_unavailable()}")
def test_birdnet_gives_1024_d_deterministic_vectors() -> None:
    embedder = make_embedder(AudioSettings(embedder="birdnet"), Path())
    assert (embedder.key, embedder.sample_rate, embedder.window_samples) == (
        BIRDNET_KEY,
        48_000,
        144_000,
    )
    rng = np.random.default_rng(0)
    windows = (0.1 * rng.standard_normal((3, 144_000))).astype(np.float32)
    windows[1] = synth_recording([Call("chirp", 0.5, 2.5)], 3.0, 48_000, seed=1)
    first = embedder.embed(windows)
    assert first.shape == (3, 1024) and embedder.dim == 1024
    assert np.isfinite(first).all() and (first >= 0).all()  # ReLU then average pooling
    np.testing.assert_array_equal(first, embedder.embed(windows))
    alone = embedder.embed(windows[1:2])
    np.testing.assert_allclose(alone[0], first[1], rtol=1e-4, atol=1e-5)
    assert not np.allclose(first[0], first[1])


@pytest.mark.skipif(not INSECTS.is_dir(), reason="shared insect-sounds data is not present")
def test_real_insect_recordings_are_embedded(audio_project: Project) -> None:
    with (INSECTS / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    picked = [INSECTS / r["path"] for r in rows if "MixPre-304" not in r["path"]][:6]
    report = ingest_audio_paths(audio_project, picked)
    status = _embed(audio_project)
    assert status["result"]["embedded"] == report.windows  # type: ignore[index]
    assert embed_job.TIMES.audio_s > 0


def test_cli_init_ingest_and_embed_an_audio_project(tmp_path: Path, db_url: str) -> None:
    generate_recordings(tmp_path / "in", 2, seed=6, duration_s=5.0)
    (tmp_path / "in" / "site-a" / "broken.flac").write_bytes(b"fLaC" + bytes(40))
    project = tmp_path / "proj"
    run(
        "init",
        str(project),
        "--name",
        "birds",
        "--classes",
        "tone,chirp",
        "--modality",
        "audio",
        "--database-url",
        db_url,
    )
    ingest = run("ingest", str(tmp_path / "in"), "-p", str(project), "--json")
    report = json.loads(ingest.stdout)
    assert (report["added"], report["failed"], report["windows"]) == (2, 1, 6)
    assert "broken.flac" in report["failures"][0]["path"]
    embedded = run("audio", "embed", "-p", str(project), "--json")
    status = json.loads(embedded.stdout)
    assert status["state"] == "succeeded" and status["result"]["embedded"] == 6
    again = json.loads(run("audio", "embed", "-p", str(project), "--json").stdout)
    assert again["progress"]["total"] == 0
