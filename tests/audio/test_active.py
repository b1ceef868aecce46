"""The active-learning queue: uncertainty spread over sounds and recordings."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.audio.window_support import add_audio_champion
from tests.cli.test_cli import run
from wildloop.audio.active import margins, order_queue, review_queue
from wildloop.audio.embed_job import submit_embed
from wildloop.audio.ingest import ingest_audio_paths
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import Media
from wildloop.synthetic.sounds import generate_recordings


def _blobs(rng: np.random.Generator, centres: int, per: int, dim: int = 8) -> np.ndarray:
    middle = 10 * rng.standard_normal((centres, dim))
    return np.concatenate([c + 0.1 * rng.standard_normal((per, dim)) for c in middle]).astype(
        np.float32
    )


def test_margins() -> None:
    p = np.array([[0.9, 0.05, 0.05], [0.4, 0.4, 0.2], [0.6, 0.3, 0.1]], np.float32)
    np.testing.assert_allclose(margins(p), [0.15, 1.0, 0.7], atol=1e-6)


def test_one_loud_recording_cannot_fill_the_queue() -> None:
    rng = np.random.default_rng(0)
    vectors = _blobs(rng, 5, 40)
    groups = [0] * 60 + list(range(1, 141))  # recording 0: the first 60 windows
    uncertainty = np.full(200, 0.2, np.float32)
    uncertainty[:60] = 0.99  # and the head is least sure about all of them
    picked = order_queue(vectors, groups, 10, uncertainty)
    assert len(picked) == len(set(picked)) == 10
    assert sum(groups[i] == 0 for i in picked) == 1
    assert picked[0] < 60  # the most uncertain still comes first
    margin_only = np.argsort(-uncertainty, kind="stable")[:10]
    assert all(groups[i] == 0 for i in margin_only)  # what uncertainty alone would do


def test_recordings_nobody_reviewed_come_first() -> None:
    rng = np.random.default_rng(3)
    vectors = _blobs(rng, 4, 25)
    groups = [i // 10 for i in range(100)]  # ten recordings of ten windows
    uncertainty = np.linspace(0.9, 0.1, 100).astype(np.float32)  # recording 0 least certain
    picked = order_queue(vectors, groups, 5, uncertainty, reviewed_groups={0, 1, 2})
    assert {groups[i] for i in picked} <= set(range(3, 10))
    assert len({groups[i] for i in picked}) == 5  # one window per recording
    again = order_queue(vectors, groups, 5, uncertainty)
    assert groups[again[0]] == 0  # without reviews, the least certain comes first


def test_cold_start_covers_every_cluster() -> None:
    rng = np.random.default_rng(1)
    vectors = _blobs(rng, 6, 30)
    picked = order_queue(vectors, list(range(180)), 6)
    assert sorted(i // 30 for i in picked) == [0, 1, 2, 3, 4, 5]


def test_uncertain_candidates_are_spread_over_clusters() -> None:
    rng = np.random.default_rng(2)
    vectors = _blobs(rng, 4, 50)
    uncertainty = rng.uniform(0.5, 0.6, 200).astype(np.float32)
    uncertainty[:12] += 0.3  # half the 24 candidates (3 per pick) lie in cluster 0
    picked = order_queue(vectors, list(range(200)), 8, uncertainty)
    clusters = Counter(i // 50 for i in picked)
    assert clusters[0] >= 1 and len(clusters) >= 3
    assert all(i < 12 for i in np.argsort(-uncertainty)[:8])  # margin alone: cluster 0 only


@pytest.fixture
def audio_project(make_project: Callable[..., Project]) -> Project:
    return make_project(["tone", "chirp", "trill", "buzz"], name="sounds")


def test_project_queue_from_the_champion_scores(audio_project: Project, tmp_path: Path) -> None:
    generate_recordings(tmp_path / "in", 6, seed=21, duration_s=12.0)
    ingest_audio_paths(audio_project, [tmp_path / "in"])
    run_job(audio_project, submit_embed(audio_project).job_id)
    cold = review_queue(audio_project, 5)
    assert len(cold) == 5 and all(i.uncertainty is None for i in cold)
    with audio_project.db.session() as session:
        windows = session.execute(
            select(Media.id, Media.parent_id).where(Media.kind == "window").order_by(Media.id)
        ).all()
    first_recording = windows[0].parent_id
    scores: dict[int, list[tuple[str, float]]] = {}
    for media_id, parent in windows:
        if parent == first_recording:
            scores[media_id] = [("tone", 0.41), ("chirp", 0.40)]  # unsure between two
        else:
            scores[media_id] = [("trill", 0.9 - 0.001 * media_id), ("buzz", 0.05)]
    add_audio_champion(audio_project, scores)
    queue = review_queue(audio_project, 6)
    assert len(queue) == 6
    mine = [
        q for q in queue if q.media_id in {w.id for w in windows if w.parent_id == first_recording}
    ]
    assert len(mine) == 1  # the least certain, and no more from that recording
    assert queue[0].media_id == mine[0].media_id and queue[0].uncertainty == pytest.approx(0.99)
    assert queue[0].top_class == "tone" and queue[0].top_score == pytest.approx(0.41)
    listed = json.loads(
        run("audio", "queue", "-n", "3", "-p", str(audio_project.root), "--json").stdout
    )
    assert [i["media_id"] for i in listed] == [q.media_id for q in review_queue(audio_project, 3)]
