"""A predict job's chunks hold whole bursts, so sequence smoothing sees every frame of a
burst at once whatever the chunk size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from tests.support.engine import ingest_dir, register
from wildloop.processing.predict_job import submit_reprocess
from wildloop.processing.sequence_smoothing import whole_bursts
from wildloop.project import Project
from wildloop.store.tables import JobChunk, Media
from wildloop.synthetic.scenes import Frame


def test_whole_bursts_never_split_a_sequence_and_keep_every_item_once() -> None:
    # Sequences 7 and 8 interleave in id order; 5 and 6 have no sequence.
    rows = [(1, 7), (2, 8), (3, 7), (4, 8), (5, None), (6, None), (9, 7), (10, 9)]
    chunks = whole_bursts(rows, 2)
    assert chunks == [[1, 3, 9], [2, 4], [5, 6], [10]]
    assert whole_bursts(rows, 100) == [[1, 3, 9, 2, 4, 5, 6, 10]]
    assert whole_bursts([], 3) == []


def test_a_reprocess_job_cuts_its_chunks_at_burst_boundaries(
    project: Project, scenes: Callable[..., list[Frame]], untrained_pt: Path, tmp_path: Path
) -> None:
    scenes(bursts=4, seed=2)
    ingest_dir(project, tmp_path / "scenes")
    register(project, untrained_pt, "v1", imgsz=160, promote=True)
    project.config.inference.chunk_size = 2
    job = submit_reprocess(project, model="v1").job_id
    with project.db.session() as session:
        sequence = dict(session.execute(select(Media.id, Media.sequence_id)).all())
        payloads = list(session.scalars(select(JobChunk.payload).where(JobChunk.job_id == job)))
    chunk_of: dict[int, set[int]] = defaultdict(set)
    listed = [m for p in payloads for m in p["media_ids"]]
    for k, payload in enumerate(payloads):
        for media_id in payload["media_ids"]:
            chunk_of[sequence[media_id]].add(k)
    assert sorted(listed) == sorted(sequence)
    assert max(len(s) for s in chunk_of.values()) == 1
    assert len(payloads) > 1 and max(len(p["media_ids"]) for p in payloads) > 2
