"""Search by example: a persisted faiss index per embedder, by window and by clip."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf
from sqlalchemy import select

from tests.cli.test_cli import run
from wildloop.audio import search
from wildloop.audio.embed_job import submit_embed
from wildloop.audio.ingest import ingest_audio_paths
from wildloop.audio.search import (
    SearchIndex,
    read_state,
    search_by_clip,
    search_by_window,
    update_index,
)
from wildloop.errors import BadInput
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import Media
from wildloop.synthetic.sounds import (
    RATE,
    Call,
    GeneratedRecording,
    generate_recordings,
    synth_recording,
)

pytest.importorskip("faiss", reason="search by example needs the audio extra (faiss-cpu)")


@pytest.fixture
def audio_project(make_project: Callable[..., Project]) -> Project:
    return make_project(["tone", "chirp", "trill", "buzz"], name="sounds")


def _archive(project: Project, folder: Path, count: int, seed: int) -> dict[int, str | None]:
    """Ingest and embed generated recordings; each window's true class (None = background)."""
    made = generate_recordings(folder, count, seed=seed, duration_s=12.0, calls_per_recording=3)
    ingest_audio_paths(project, [folder])
    run_job(project, submit_embed(project).job_id)
    by_path = {str(g.path): g for g in made}
    truth: dict[int, str | None] = {}
    with project.db.session() as session:
        rows = session.execute(
            select(Media.id, Media.path, Media.t_start, Media.t_end).where(Media.kind == "window")
        ).all()
    for media_id, path, t0, t1 in rows:
        recording: GeneratedRecording | None = by_path.get(path.split("#", 1)[0])
        if recording is not None:
            truth[media_id] = recording.label_for(t0, t1)
    return truth


def test_nearest_windows_share_the_example_class(audio_project: Project, tmp_path: Path) -> None:
    truth = _archive(audio_project, tmp_path / "in", 16, seed=11)
    state = update_index(audio_project)
    assert (state.kind, state.count, state.dim) == ("flat", len(truth), 192)
    index = SearchIndex(audio_project, "logmel-v1")
    precisions = []
    examples = [m for m, label in truth.items() if label is not None][:12]
    for example in examples:
        hits = search_by_window(audio_project, example, k=5, index=index)
        assert example not in [h.media_id for h in hits]
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        with audio_project.db.session() as session:
            parent = session.scalar(select(Media.parent_id).where(Media.id == example))
        assert all(h.recording_id != parent for h in hits)
        precisions.append(sum(truth[h.media_id] == truth[example] for h in hits) / len(hits))
    assert sum(precisions) / len(precisions) >= 0.8


def test_search_by_an_uploaded_clip(audio_project: Project, tmp_path: Path) -> None:
    truth = _archive(audio_project, tmp_path / "in", 16, seed=12)
    update_index(audio_project)
    clip = tmp_path / "example.wav"
    sf.write(clip, synth_recording([Call("trill", 0.3, 2.7)], 3.0, RATE, seed=99), RATE)
    hits = search_by_clip(audio_project, clip, k=5)
    assert len(hits) == 5
    assert sum(truth[h.media_id] == "trill" for h in hits) >= 4


def test_index_grows_with_new_embeddings_only(
    audio_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _archive(audio_project, tmp_path / "a", 6, seed=13)
    state = update_index(audio_project)
    assert state.count == len(first)
    second = _archive(audio_project, tmp_path / "b", 6, seed=14)
    grown = update_index(audio_project)
    assert grown.count == len(first) + len(second) and grown.trained_on == state.trained_on
    assert grown.last_embedding_id > state.last_embedding_id
    assert update_index(audio_project) == grown
    # Past the flat limit the index is rebuilt as an inverted file, and still finds things.
    monkeypatch.setattr(search, "FLAT_UP_TO", 50)
    rebuilt = update_index(audio_project)
    assert (rebuilt.kind, rebuilt.count) == ("ivf", grown.count)
    assert read_state(audio_project, "logmel-v1") == rebuilt
    example = next(m for m, label in second.items() if label)
    hits = search_by_window(audio_project, example, k=5)
    assert len(hits) == 5 and hits[0].score > 0.5


def test_search_needs_embeddings_and_an_index(audio_project: Project, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="embed"):
        update_index(audio_project)
    generate_recordings(tmp_path / "in", 1, seed=1, duration_s=4.0)
    ingest_audio_paths(audio_project, [tmp_path / "in"])
    run_job(audio_project, submit_embed(audio_project).job_id)
    with pytest.raises(BadInput, match="audio index"):
        search_by_window(audio_project, 2)


def test_cli_index_and_search(tmp_path: Path, db_url: str) -> None:
    generate_recordings(tmp_path / "in", 6, seed=15, duration_s=8.0)
    project = tmp_path / "proj"
    run("init", str(project), "--name", "s", "--classes", "a", "--modality", "audio",
        "--database-url", db_url)  # fmt: skip
    run("ingest", str(tmp_path / "in"), "-p", str(project))
    run("audio", "embed", "-p", str(project))
    status = json.loads(run("audio", "index", "-p", str(project), "--json").stdout)
    assert status["state"] == "succeeded" and status["result"]["kind"] == "flat"
    hits = json.loads(
        run("audio", "search", "--window", "2", "-k", "3", "-p", str(project), "--json").stdout
    )
    assert len(hits) == 3 and {"media_id", "score", "t_start", "site"} <= set(hits[0])
    both = run("audio", "search", "-p", str(project), ok=False)
    assert both.returncode != 0 and "exactly one" in both.stderr
