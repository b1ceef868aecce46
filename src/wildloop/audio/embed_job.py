"""The ``audio-embed`` job kind: compute the windows' missing embeddings, once.

A chunk is a list of recordings. Each recording is decoded once, in blocks, resampled to the
embedder's rate and cut into its windows; windows from several recordings fill one batch for
the model, so short files do not mean small batches. Vectors are stored per (window,
embedder) and never computed again: a chunk that runs twice skips what is stored, and a
retrain reads the stored vectors. A recording that can no longer be decoded fails its
windows alone, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from wildloop.audio.decode import AudioRejected, cut_windows, iter_blocks
from wildloop.audio.embedders import Embedder, embedder_key, make_embedder
from wildloop.domain.paths import readable_text
from wildloop.errors import BadInput
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import submit_job
from wildloop.project import Project
from wildloop.store.tables import Embedding, Job, JobChunk, Media

KIND = "audio-embed"
FAILURES_SHOWN = 20


@dataclass(frozen=True)
class SubmittedEmbed:
    job_id: int
    embedder: str
    windows: int


@dataclass
class EmbedTimes:
    """Seconds per stage, summed over the chunks this process ran (benchmarks read it)."""

    decode: float = 0.0
    model: float = 0.0
    write: float = 0.0
    audio_s: float = 0.0
    windows: int = 0


TIMES = EmbedTimes()


def encode_vector(vector: np.ndarray[Any, Any]) -> bytes:
    """float16 little-endian: half the space of float32, ample for cosine search and heads."""
    return np.asarray(vector, dtype="<f2").tobytes()


def decode_vector(blob: bytes) -> NDArray[np.float32]:
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


def submit_embed(
    project: Project, created_by: int | None = None, recording_ids: Sequence[int] | None = None
) -> SubmittedEmbed:
    """Queue the windows that have no vector from the configured embedder yet."""
    settings = project.config.audio
    key = embedder_key(settings, project.root)
    with project.db.session() as session:
        counts = _missing_per_recording(session, key, recording_ids)
        chunks: list[dict[str, Any]] = []
        current: list[int] = []
        size = 0
        for recording_id, missing in counts:
            current.append(recording_id)
            size += missing
            if size >= settings.chunk_windows:
                chunks.append({"recording_ids": current})
                current, size = [], 0
        if current:
            chunks.append({"recording_ids": current})
        total = sum(n for _, n in counts)
        job_id = submit_job(
            session,
            KIND,
            {"embedder": key},
            chunks,
            total=total,
            created_by=created_by,
            message=f"{total} windows to embed with {key}",
        )
    return SubmittedEmbed(job_id, key, total)


def _missing_per_recording(
    session: Session, key: str, recording_ids: Sequence[int] | None
) -> list[tuple[int, int]]:
    stored = select(Embedding.media_id).where(Embedding.embedder == key)
    query = (
        select(Media.parent_id, func.count())
        .where(Media.kind == "window", Media.status == "ok", Media.id.not_in(stored))
        .group_by(Media.parent_id)
        .order_by(Media.parent_id)
    )
    if recording_ids is not None:
        query = query.where(Media.parent_id.in_(list(recording_ids)))
    return [(int(r), int(n)) for r, n in session.execute(query).all() if r is not None]


@dataclass
class _Batch:
    """Windows waiting for one model call, possibly from several recordings."""

    ids: list[int] = field(default_factory=list)
    samples: list[NDArray[np.float32]] = field(default_factory=list)


def run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project = ctx.project
    settings = project.config.audio
    key = str(ctx.params["embedder"])
    embedder = make_embedder(settings, project.root)
    if embedder.key != key:
        raise BadInput(
            f"the project's embedder is now {embedder.key}, this job embeds with {key}; "
            "cancel it and run `wildloop audio embed` again"
        )
    recordings = _recordings(project, ctx.payload["recording_ids"], key)
    done, failed = 0, 0
    batch = _Batch()

    def flush() -> None:
        nonlocal done
        if batch.ids:
            done += _embed_and_store(project, embedder, batch)
            batch.ids.clear()
            batch.samples.clear()
            ctx.progress(done, failed)

    for stored, windows in recordings:
        cut = 0
        try:
            for media_id, samples in _windows_of(project.media_file(stored), windows, embedder):
                batch.ids.append(media_id)
                batch.samples.append(samples)
                cut += 1
                if len(batch.ids) >= settings.batch_size:
                    flush()
        except AudioRejected as exc:
            # Windows cut before the file broke are embedded; the rest fail with the reason.
            failed += len(windows) - cut
            ctx.message(f"{readable_text(stored)}: {exc.reason}")
    flush()
    return ChunkOutcome(done=done, failed=failed)


def _windows_of(
    path: Path, windows: list[tuple[int, float, float]], embedder: Embedder
) -> Iterator[tuple[int, NDArray[np.float32]]]:
    """(media id, samples) for the windows of one recording, decoded once."""
    rate = embedder.sample_rate
    started = time.perf_counter()
    blocks = iter_blocks(path, rate)
    spans = [(t0, t1) for _, t0, t1 in windows]
    length_s = embedder.window_samples / rate
    for index, samples in cut_windows(blocks, rate, spans, length_s):
        TIMES.decode += time.perf_counter() - started
        yield windows[index][0], samples
        started = time.perf_counter()
    TIMES.decode += time.perf_counter() - started


def _recordings(
    project: Project, recording_ids: list[int], key: str
) -> list[tuple[str, list[tuple[int, float, float]]]]:
    """Each recording's path and its windows still without a vector, in time order."""
    with project.db.session() as session:
        paths = dict(
            session.execute(
                select(Media.id, Media.path).where(
                    Media.id.in_(recording_ids), Media.status == "ok"
                )
            ).all()
        )
        stored = select(Embedding.media_id).where(Embedding.embedder == key)
        rows = session.execute(
            select(Media.parent_id, Media.id, Media.t_start, Media.t_end)
            .where(
                Media.parent_id.in_(recording_ids),
                Media.kind == "window",
                Media.status == "ok",
                Media.id.not_in(stored),
            )
            .order_by(Media.parent_id, Media.t_start)
        ).all()
    windows: dict[int, list[tuple[int, float, float]]] = {}
    for parent, media_id, t0, t1 in rows:
        windows.setdefault(int(parent or 0), []).append(
            (int(media_id), float(t0 or 0.0), float(t1 or 0.0))
        )
    return [(paths[r], windows[r]) for r in recording_ids if r in paths and r in windows]


def _embed_and_store(project: Project, embedder: Embedder, batch: _Batch) -> int:
    started = time.perf_counter()
    vectors = embedder.embed(np.stack(batch.samples))
    TIMES.model += time.perf_counter() - started
    TIMES.windows += len(batch.ids)
    TIMES.audio_s += len(batch.ids) * embedder.window_samples / embedder.sample_rate
    started = time.perf_counter()
    with project.db.session() as session:
        present = set(
            session.scalars(
                select(Embedding.media_id).where(
                    Embedding.embedder == embedder.key, Embedding.media_id.in_(batch.ids)
                )
            )
        )
        rows = [
            {
                "media_id": media_id,
                "embedder": embedder.key,
                "dim": int(vector.shape[0]),
                "vector": encode_vector(vector),
            }
            for media_id, vector in zip(batch.ids, vectors, strict=True)
            if media_id not in present
        ]
        if rows:
            session.execute(insert(Embedding), rows)
    TIMES.write += time.perf_counter() - started
    return len(batch.ids)


def finalize(project: Project, job_id: int) -> dict[str, Any]:
    """How many windows carry a vector from this job's embedder, how many this job failed
    (their recordings could not be decoded; the job's message says why), how many lack one."""
    with project.db.session() as session:
        key = str(session.get_one(Job, job_id).params["embedder"])
        stored = select(Embedding.media_id).where(Embedding.embedder == key)
        embedded = session.scalar(select(func.count()).select_from(stored.subquery())) or 0
        missing = (
            session.scalar(
                select(func.count()).where(
                    Media.kind == "window", Media.status == "ok", Media.id.not_in(stored)
                )
            )
            or 0
        )
        failed = session.scalar(
            select(func.coalesce(func.sum(JobChunk.items_failed), 0)).where(
                JobChunk.job_id == job_id
            )
        )
        broken = session.execute(
            select(Media.path)
            .where(
                Media.kind == "audio",
                Media.id.in_(
                    select(Media.parent_id).where(
                        Media.kind == "window", Media.status == "ok", Media.id.not_in(stored)
                    )
                ),
            )
            .order_by(Media.id)
            .limit(FAILURES_SHOWN)
        ).scalars()
        failures = [
            {"path": readable_text(p), "reason": _reason(project.media_file(p))} for p in broken
        ]
    return {
        "embedder": key,
        "embedded": int(embedded),
        "failed": int(failed or 0),
        "missing": int(missing),
        "failures": failures,
    }


def _reason(path: Path) -> str:
    """Why a recording's windows could not be embedded (found again by decoding it)."""
    try:
        for _ in iter_blocks(path):
            pass
    except AudioRejected as exc:
        return exc.reason
    return "not embedded yet (the job was cancelled or the recording was added meanwhile)"


EMBED_KIND = JobKind(name=KIND, run_chunk=run_chunk, finalize=finalize)
