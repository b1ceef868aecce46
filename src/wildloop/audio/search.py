"""Search by example: the windows whose embeddings lie nearest a window's, or an uploaded clip's.

One faiss index per embedder lives beside the project (``indexes/<embedder>.faiss`` with a
small JSON sidecar), keyed by window id, over L2-normalised vectors so inner product is
cosine similarity. Up to ``FLAT_UP_TO`` vectors it is exact (a flat index); above, an
inverted-file index with 8-bit scalar quantisation keeps a query to a few milliseconds at a
million windows. ``update_index`` adds only the vectors stored since the last update, and
retrains the coarse quantiser when the archive has doubled since it was trained.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.atomic import write_text_atomic
from wildloop.audio.decode import AudioRejected, cut_windows, iter_blocks, probe_info
from wildloop.audio.embed_job import decode_vector
from wildloop.audio.embedders import Embedder, embedder_key, make_embedder
from wildloop.audio.windows import window_spans
from wildloop.domain.paths import readable_text
from wildloop.errors import BadInput, NotFound
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import submit_job
from wildloop.project import Project
from wildloop.store.tables import Camera, Embedding, Job, Media

FLAT_UP_TO = 50_000
READ_BATCH = 20_000
TRAIN_PER_LIST = 40
PROBES = 32


@dataclass(frozen=True)
class IndexState:
    embedder: str
    dim: int
    kind: str  # flat | ivf
    count: int
    last_embedding_id: int
    trained_on: int


@dataclass(frozen=True)
class Hit:
    media_id: int
    score: float
    recording_id: int | None
    path: str
    t_start: float | None
    t_end: float | None
    site: str | None
    captured_at: str | None
    reviewed: bool
    label_class_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def index_paths(project: Project, embedder: str) -> tuple[Path, Path]:
    name = embedder.replace(":", "-").replace("/", "-")
    folder = project.root / "indexes"
    return folder / f"{name}.faiss", folder / f"{name}.json"


def read_state(project: Project, embedder: str) -> IndexState | None:
    _, meta = index_paths(project, embedder)
    if not meta.is_file():
        return None
    return IndexState(**json.loads(meta.read_text(encoding="utf-8")))


def update_index(project: Project, embedder: str | None = None) -> IndexState:
    """Bring the embedder's index up to date with the stored vectors (new ones only)."""
    # faiss is an optional dependency (the audio extra), see make_index.
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building is bulk work: every core
    key = embedder or embedder_key(project.config.audio, project.root)
    state = read_state(project, key)
    with project.db.session() as session:
        total = session.scalar(
            select(func.count()).select_from(Embedding).where(Embedding.embedder == key)
        )
        total = int(total or 0)
        if total == 0:
            raise BadInput(f"no {key} embeddings yet: run `wildloop audio embed` first")
        rebuild = state is None or _needs_rebuild(state, total)
        index = _new_index(session, key, total) if rebuild else _load(project, key)
        after = 0 if rebuild or state is None else state.last_embedding_id
        last, dim = after, 0
        while True:
            ids, keys, vectors = _read_after(session, key, last, READ_BATCH)
            if not ids:
                break
            dim = vectors.shape[1]
            index.add_with_ids(normalised(vectors), np.asarray(keys, np.int64))
            last = ids[-1]
    if rebuild or state is None:
        kind, trained = ("ivf" if total > FLAT_UP_TO else "flat"), total
    else:
        kind, trained = state.kind, state.trained_on
    new_state = IndexState(
        embedder=key,
        dim=int(index.d if dim == 0 else dim),
        kind=kind,
        count=int(index.ntotal),
        last_embedding_id=last,
        trained_on=trained,
    )
    _save(project, key, index, new_state)
    return new_state


def _needs_rebuild(state: IndexState, total: int) -> bool:
    if state.kind == "flat":
        return total > FLAT_UP_TO
    return total > 2 * state.trained_on


def _new_index(session: Session, key: str, total: int) -> Any:
    dim = session.scalar(select(Embedding.dim).where(Embedding.embedder == key).limit(1))
    assert dim is not None
    sample = None
    if total > FLAT_UP_TO:
        sample = _sample(session, key, min(total, TRAIN_PER_LIST * lists_for(total)))
    return make_index(dim, total, sample)


def make_index(dim: int, total: int, sample: NDArray[np.float32] | None) -> Any:
    """An empty index for ``total`` vectors: exact when small, else IVF-SQ8 trained on
    ``sample`` (benchmarks build the same index on synthetic vectors)."""
    # faiss is an optional, heavy dependency (the audio extra): loaded only for search.
    import faiss

    if total <= FLAT_UP_TO or sample is None:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    quantiser = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantiser, dim, lists_for(total), faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.train(normalised(sample))
    return index


def lists_for(total: int) -> int:
    """Inverted lists: about 2·sqrt(n), so probing 32 of them scans ~3% of a million."""
    return int(min(1024, max(64, 2 * math.sqrt(total))))


def _sample(session: Session, key: str, count: int) -> NDArray[np.float32]:
    """Evenly spaced stored vectors (by id) to train the coarse quantiser on."""
    total = session.scalar(
        select(func.count()).select_from(Embedding).where(Embedding.embedder == key)
    )
    step = max(1, int(total or 0) // count)
    vectors: list[NDArray[np.float32]] = []
    last = 0
    while len(vectors) < count:
        ids, _, batch = _read_after(session, key, last, READ_BATCH)
        if not ids:
            break
        vectors.extend(batch[::step])
        last = ids[-1]
    return np.stack(vectors[:count]).astype(np.float32)


def _read_after(
    session: Session, key: str, after: int, limit: int
) -> tuple[list[int], list[int], NDArray[np.float32]]:
    rows = session.execute(
        select(Embedding.id, Embedding.media_id, Embedding.vector)
        .where(Embedding.embedder == key, Embedding.id > after)
        .order_by(Embedding.id)
        .limit(limit)
    ).all()
    if not rows:
        return [], [], np.zeros((0, 0), np.float32)
    vectors = np.stack([decode_vector(r.vector) for r in rows])
    return [r.id for r in rows], [r.media_id for r in rows], vectors


def normalised(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _load(project: Project, key: str) -> Any:
    import faiss  # optional dependency (the audio extra), see _new_index

    path, _ = index_paths(project, key)
    return faiss.read_index(str(path))


def _save(project: Project, key: str, index: Any, state: IndexState) -> None:
    import faiss  # optional dependency (the audio extra), see _new_index

    path, meta = index_paths(project, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".faiss.tmp")
    faiss.write_index(index, str(temporary))
    temporary.replace(path)
    write_text_atomic(meta, json.dumps(state.__dict__))


class SearchIndex:
    """A loaded index for repeated queries (the web app keeps one per embedder)."""

    def __init__(self, project: Project, embedder: str, probes: int = PROBES) -> None:
        state = read_state(project, embedder)
        if state is None:
            raise BadInput(f"no search index for {embedder} yet: run `wildloop audio index`")
        self.state = state
        self._index = _load(project, embedder)
        if state.kind == "ivf":
            self._index.nprobe = probes

    def nearest(
        self, vector: NDArray[np.float32], k: int, exclude: frozenset[int] = frozenset()
    ) -> list[tuple[int, float]]:
        """(window id, cosine similarity) of the k nearest, best first."""
        # faiss is an optional dependency (the audio extra), see make_index.
        import faiss

        # One query is small work: OpenMP fan-out only adds waiting on a busy machine (it made
        # single queries several times slower at a million windows here).
        faiss.omp_set_num_threads(1)
        query = normalised(np.asarray(vector, np.float32).reshape(1, -1))
        if query.shape[1] != self.state.dim:
            raise BadInput(
                f"a {query.shape[1]}-d query cannot search the {self.state.dim}-d "
                f"{self.state.embedder} index"
            )
        scores, ids = self._index.search(query, k + len(exclude))
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        return [(i, s) for i, s in found if i not in exclude][:k]


def search_by_window(
    project: Project,
    media_id: int,
    k: int = 20,
    same_recording: bool = False,
    index: SearchIndex | None = None,
) -> list[Hit]:
    """The windows that sound most like window ``media_id`` (itself left out)."""
    key = index.state.embedder if index else embedder_key(project.config.audio, project.root)
    with project.db.session() as session:
        window = session.get(Media, media_id)
        if window is None or window.kind != "window":
            raise NotFound(f"no audio window with id {media_id}")
        blob = session.scalar(
            select(Embedding.vector).where(
                Embedding.media_id == media_id, Embedding.embedder == key
            )
        )
        if blob is None:
            raise BadInput(f"window {media_id} has no {key} embedding; run `wildloop audio embed`")
        exclude = {media_id}
        if not same_recording:
            exclude |= set(
                session.scalars(select(Media.id).where(Media.parent_id == window.parent_id))
            )
    index = index or SearchIndex(project, key)
    return _hits(project, index.nearest(decode_vector(blob), k, frozenset(exclude)))


MAX_CLIP_S = 60.0  # an example, not an archive: longer uploads are refused


def embed_clip(project: Project, path: Path) -> NDArray[np.float32]:
    """One vector for a short example clip: the mean of its windows' embeddings."""
    embedder: Embedder = make_embedder(project.config.audio, project.root)
    rate = embedder.sample_rate
    length_s = embedder.window_samples / rate
    try:
        info = probe_info(path)
        if info.duration_s > MAX_CLIP_S:
            raise BadInput(
                f"the clip lasts {info.duration_s:.0f} s; search by example takes up to "
                f"{MAX_CLIP_S:.0f} s: cut the sound you are looking for"
            )
        samples = list(iter_blocks(path, rate))
    except AudioRejected as exc:
        raise BadInput(f"the clip cannot be read as audio: {exc.reason}") from None
    duration = sum(len(b) for b in samples) / rate
    spans = window_spans(duration, length_s, length_s / 2)
    windows = [w for _, w in cut_windows(iter(samples), rate, spans, length_s)]
    if not windows:
        raise BadInput(f"{path.name} holds no audio to search with")
    return np.asarray(embedder.embed(np.stack(windows)).mean(axis=0), np.float32)


def search_by_clip(
    project: Project, path: Path, k: int = 20, index: SearchIndex | None = None
) -> list[Hit]:
    """The windows that sound most like an example clip (a file, e.g. an upload)."""
    vector = embed_clip(project, path)
    index = index or SearchIndex(project, embedder_key(project.config.audio, project.root))
    return _hits(project, index.nearest(vector, k))


def search_by_upload(
    project: Project, data: bytes, k: int = 20, index: SearchIndex | None = None
) -> list[Hit]:
    """Search by an uploaded clip's bytes (wav, flac, mp3 or ogg; the format is read from
    the content): written to a temporary file because libsndfile decodes files."""
    if project.config.modality != "audio":
        raise BadInput("search by example needs an audio project")
    if not data:
        raise BadInput("no clip: send the audio file's bytes as the request body")
    with tempfile.TemporaryDirectory(prefix="wildloop-clip-") as tmp:
        path = Path(tmp) / "clip"
        path.write_bytes(data)
        return search_by_clip(project, path, k, index)


def _hits(project: Project, found: list[tuple[int, float]]) -> list[Hit]:
    """Windows still in the archive, with what a reviewer needs to judge them."""
    if not found:
        return []
    with project.db.session() as session:
        rows = {
            r.id: r
            for r in session.execute(
                select(
                    Media.id,
                    Media.parent_id,
                    Media.path,
                    Media.t_start,
                    Media.t_end,
                    Media.captured_at,
                    Media.reviewed,
                    Media.label_class_id,
                    Camera.name,
                )
                .outerjoin(Camera, Camera.id == Media.camera_id)
                .where(Media.id.in_([i for i, _ in found]))
            ).all()
        }
    return [
        Hit(
            media_id=i,
            score=round(score, 4),
            recording_id=rows[i].parent_id,
            path=readable_text(rows[i].path),
            t_start=rows[i].t_start,
            t_end=rows[i].t_end,
            site=rows[i].name,
            captured_at=rows[i].captured_at.isoformat() if rows[i].captured_at else None,
            reviewed=bool(rows[i].reviewed),
            label_class_id=rows[i].label_class_id,
        )
        for i, score in found
        if i in rows
    ]


# --- the index job ---------------------------------------------------------------------------

INDEX_KIND_NAME = "audio-index"


def submit_index(project: Project, created_by: int | None = None) -> int:
    """Queue an index update for the configured embedder (one chunk: one writer per file)."""
    key = embedder_key(project.config.audio, project.root)
    with project.db.session() as session:
        return submit_job(
            session, INDEX_KIND_NAME, {"embedder": key}, [{}], total=1, created_by=created_by
        )


def _run_index_chunk(ctx: ChunkContext) -> ChunkOutcome:
    state = update_index(ctx.project, str(ctx.params["embedder"]))
    ctx.message(f"{state.count} windows indexed ({state.kind})")
    return ChunkOutcome(done=1)


def _finalize_index(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        key = str(session.get_one(Job, job_id).params["embedder"])
    state = read_state(project, key)
    return state.__dict__.copy() if state else {}


INDEX_KIND = JobKind(name=INDEX_KIND_NAME, run_chunk=_run_index_chunk, finalize=_finalize_index)
