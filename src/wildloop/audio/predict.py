"""Scoring audio windows with a registered head: the ``predict`` job's path for audio heads.

A chunk of window ids is scored from the windows' stored embeddings (never re-embedded), and
the scores go through the same bulk writer as image detections: one prediction set per
(window, head version), one prediction row per class score worth keeping, with the window's
span. Test-split windows keep every class score, so evaluation ranks all of them; the
``background`` class of a softmax head is never stored (a window of nothing has low species
scores). Windows without an embedding fail alone with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import select

from wildloop.audio.head import Head
from wildloop.audio.vectors import read_matrix
from wildloop.domain.classes import BACKGROUND
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome
from wildloop.processing.writer import WindowScores, write_window_scores
from wildloop.project import Project
from wildloop.registry.versions import project_class_ids, verified_artifact
from wildloop.store.tables import Media, ModelVersion

WRITE_EVERY = 2048
_heads: dict[str, Head] = {}
_heads_lock = threading.Lock()


def load_head(project: Project, version: ModelVersion) -> Head:
    """The version's head, hash-checked on first load and kept for the process's lifetime
    (an artifact never changes under its hash)."""
    sha = version.artifact_sha256 or ""
    with _heads_lock:
        head = _heads.get(sha)
    if head is None:
        head = Head.load(verified_artifact(project, version, version.artifact_format or "npz"))
        with _heads_lock:
            _heads[sha] = head
    return head


def score_windows(
    project: Project, version: ModelVersion, media_ids: Sequence[int], store_from: float
) -> list[WindowScores]:
    """Scores of these windows (test windows: every class; others: from ``store_from``)."""
    head = load_head(project, version)
    embedder = str(version.params.get("embedder"))
    with project.db.session() as session:
        rows = session.execute(
            select(Media.id, Media.t_start, Media.t_end, Media.split).where(
                Media.id.in_(list(media_ids))
            )
        ).all()
        x, missing = read_matrix(session, embedder, [r.id for r in rows])
    info = {r.id: r for r in rows}
    gone = set(missing)
    results = [
        WindowScores(
            m,
            float(info[m].t_start or 0.0),
            float(info[m].t_end or 0.0),
            error=f"no {embedder} embedding for this window; run `wildloop audio embed`",
        )
        for m in missing
    ]
    present = [r.id for r in rows if r.id not in gone]
    if not present:
        return results
    scores = head.scores(x)
    species = [i for i, name in enumerate(head.classes) if name != BACKGROUND]
    for row_index, media_id in enumerate(present):
        row = scores[row_index]
        floor = 0.0 if info[media_id].split == "test" else store_from
        kept = tuple((i, float(row[i])) for i in species if row[i] >= floor)
        results.append(
            WindowScores(
                media_id,
                float(info[media_id].t_start or 0.0),
                float(info[media_id].t_end or 0.0),
                kept,
            )
        )
    return results


def run_window_chunk(
    ctx: ChunkContext, version: ModelVersion, todo: Sequence[int], already_done: int
) -> ChunkOutcome:
    """Score and store the chunk's windows that have no set for ``version`` yet."""
    project = ctx.project
    store = project.config.thresholds.store
    class_ids = project_class_ids(version, project.classes)
    done, failed = already_done, 0
    for start in range(0, len(todo), WRITE_EVERY):
        batch = todo[start : start + WRITE_EVERY]
        results = score_windows(project, version, batch, store)
        with project.db.session() as session:
            write_window_scores(
                session,
                version.id,
                version.classes,
                class_ids,
                results,
                ctx.job_id,
                shown_from=store,
            )
        failed += sum(1 for r in results if r.error)
        done += sum(1 for r in results if not r.error)
        ctx.progress(done, failed)
    return ChunkOutcome(done=done, failed=failed)
