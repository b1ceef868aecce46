"""The value-ordered review queue: unreviewed items, most worth a person's time first.

Gathers each unreviewed image's signals (the champion's per-class scores, what the rest of
its burst shows, the challenger's answer, the distance of its best crop to the nearest
reviewed crop) and leaves the scoring and the diverse ordering to
``domain.review_value``. Computing an order takes seconds on a large archive (about 5 s for
20,000 unreviewed images, bench/review_queue.py), so it is a job (``review-queue``) that
stores the order in ``indexes/review-queue.json``; a request only reads the stored order.
The order is stale when the champion or challenger changed or ``REFRESH_EVERY`` more items
were reviewed: the request then submits a refresh (unless one is queued or running) and
serves the stale order meanwhile; items reviewed since simply drop out of it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.atomic import write_text_atomic
from wildloop.audio.search import make_index, normalised
from wildloop.crops.embedder import crop_embedder_key
from wildloop.crops.vectors import item_vectors
from wildloop.domain.review_value import (
    NOTHING,
    ItemSignals,
    Valued,
    Weights,
    diverse_order,
    value_of,
)
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import active_job_id, submit_job
from wildloop.project import Project
from wildloop.registry.aliases import resolve
from wildloop.review.predictions import threshold_for
from wildloop.store.tables import Camera, Media, Prediction, PredictionSet
from wildloop.store.types import utcnow

REFRESH_EVERY = 25  # reviews after which the order is computed again
MAX_ORDER = 2000  # items kept in a computed order (a reviewer's day, many times over)
BATCH = 20
QUEUE_KIND_NAME = "review-queue"

Key = tuple[int | None, int | None, int]


@dataclass(frozen=True)
class QueueItem:
    media_id: int
    value: float
    reasons: tuple[str, ...]
    camera: str | None
    sequence_id: int | None
    top_class: str | None
    top_score: float | None


@dataclass(frozen=True)
class QueuePage:
    """What a request gets: items of the last stored order, and whether it is current."""

    items: list[QueueItem]
    refreshing: int | None  # the job computing a fresh order (None: the stored one is current)
    computed_at: str | None  # when the served order was computed (None: never yet)


@dataclass(frozen=True)
class _Order:
    key: Key
    computed_at: str
    items: tuple[QueueItem, ...]


_cache: dict[str, tuple[int, _Order]] = {}  # order file -> (its mtime, the parsed order)
_lock = threading.Lock()


def order_path(project: Project) -> Path:
    return project.root / "indexes" / "review-queue.json"


def value_queue(project: Project, limit: int = 50, exclude: int | None = None) -> QueuePage:
    """The ``limit`` most valuable unreviewed items of the stored order (``exclude``: the one
    on screen); submits a refresh when that order is stale or missing. Computes nothing."""
    with project.db.session() as session:
        order = _stored(project)
        refreshing = None
        if order is None or order.key != _key(session):
            refreshing = request_refresh(session)
        items = order.items if order is not None else ()
        candidates = [i for i in items if i.media_id != exclude][: limit + REFRESH_EVERY]
        still = set(
            session.scalars(
                select(Media.id).where(
                    Media.id.in_([c.media_id for c in candidates]), Media.reviewed.is_(False)
                )
            )
        )
    return QueuePage(
        [c for c in candidates if c.media_id in still][:limit],
        refreshing,
        order.computed_at if order is not None else None,
    )


def refresh_order(project: Project) -> int:
    """Compute the order and store it (the job's work); returns how many items it holds."""
    with project.db.session() as session:
        key = _key(session)
        items = _compute(project, session, key[0], key[1])
    record = {"key": list(key), "computed_at": utcnow().isoformat(), "items": items}
    path = order_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record, default=asdict))
    return len(items)


def _key(session: Session) -> Key:
    """What the order depends on: champion, challenger, and reviews in steps of N."""
    reviewed = session.scalar(
        select(func.count()).select_from(Media).where(Media.reviewed.is_(True))
    )
    steps = int(reviewed or 0) // REFRESH_EVERY
    return resolve(session, "champion"), resolve(session, "challenger"), steps


def _stored(project: Project) -> _Order | None:
    """The stored order, parsed once per version of the file."""
    path = order_path(project)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    with _lock:
        cached = _cache.get(str(path))
    if cached is not None and cached[0] == mtime:
        return cached[1]
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    order = _Order(
        (data["key"][0], data["key"][1], int(data["key"][2])),
        str(data["computed_at"]),
        tuple(QueueItem(**{**item, "reasons": tuple(item["reasons"])}) for item in data["items"]),
    )
    with _lock:
        _cache[str(path)] = (mtime, order)
    return order


def request_refresh(session: Session) -> int:
    """The queued or running refresh, or a new one (also asked for when a shadow run adds
    challenger answers: the disagreement signal reads them)."""
    active = active_job_id(session, QUEUE_KIND_NAME)
    if active is not None:
        return active
    return submit_job(
        session, QUEUE_KIND_NAME, {}, [{}], total=1, message="queued: review order refresh"
    )


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    count = refresh_order(ctx.project)
    ctx.message(f"{count} items ordered by review value")
    return ChunkOutcome(done=1)


def _finalize(project: Project, job_id: int) -> dict[str, Any]:
    order = _stored(project)
    if order is None:
        return {}
    return {"items": len(order.items), "computed_at": order.computed_at}


QUEUE_KIND = JobKind(name=QUEUE_KIND_NAME, run_chunk=_run_chunk, finalize=_finalize)


def _compute(
    project: Project, session: Session, champion: int | None, challenger: int | None
) -> list[QueueItem]:
    rows = session.execute(
        select(Media.id, Media.sequence_id, Camera.name, Media.reviewed, Media.label_class_id)
        .outerjoin(Camera, Camera.id == Media.camera_id)
        .where(Media.kind == "image", Media.status == "ok")
    ).all()
    unreviewed = [r for r in rows if not r.reviewed]
    if not unreviewed:
        return []
    classes = project.classes
    scores = _class_scores(session, champion) if champion else {}
    other = _class_scores(session, challenger) if challenger and challenger != champion else None

    def says(media_id: int, by: dict[int, dict[str, float]]) -> tuple[str | None, float | None]:
        ranked = sorted(by.get(media_id, {}).items(), key=lambda kv: -kv[1])
        if not ranked:
            return None, None
        name, score = ranked[0]
        return (name if score >= threshold_for(project.config.thresholds, name) else None), score

    shows: dict[int, str] = {}  # what each frame shows: the person's label, else the model's
    for r in rows:
        if r.reviewed:
            shows[r.id] = classes.display_name(r.label_class_id) or NOTHING
        else:
            shows[r.id] = says(r.id, scores)[0] or NOTHING
    by_sequence: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        if r.sequence_id is not None:
            by_sequence[r.sequence_id].append(r.id)
    reviewed_ids = [r.id for r in rows if r.reviewed]
    novelty = _novelty(project, session, champion, [r.id for r in unreviewed], reviewed_ids)
    valued: list[Valued] = []
    facts: dict[int, QueueItem] = {}
    for r in unreviewed:
        ranked = sorted(scores.get(r.id, {}).items(), key=lambda kv: -kv[1])
        top_name, top_score = ranked[0] if ranked else (None, None)
        shown, _ = says(r.id, scores)
        challenger_class, _ = says(r.id, other) if other is not None else (None, None)
        signals = ItemSignals(
            media_id=r.id,
            group=f"s{r.sequence_id}" if r.sequence_id is not None else f"m{r.id}",
            camera=r.name or "-",
            top_class=shown,
            top_score=top_score,
            second_score=ranked[1][1] if len(ranked) > 1 else None,
            threshold=threshold_for(project.config.thresholds, top_name or ""),
            burst_class=_burst_class(r.id, by_sequence.get(r.sequence_id or -1, []), shows),
            challenger_class=challenger_class,
            challenger_saw=other is not None and r.id in other,
            novelty=novelty.get(r.id),
        )
        valued.append(value_of(signals, Weights()))
        facts[r.id] = QueueItem(r.id, 0.0, (), r.name, r.sequence_id, top_name, top_score)
    order = diverse_order(valued, MAX_ORDER, batch_size=BATCH)
    return [
        QueueItem(
            v.media_id,
            v.value,
            v.reasons,
            facts[v.media_id].camera,
            facts[v.media_id].sequence_id,
            facts[v.media_id].top_class,
            facts[v.media_id].top_score,
        )
        for v in order
    ]


def _class_scores(session: Session, version_id: int) -> dict[int, dict[str, float]]:
    """Per item, the best score of each class ``version_id`` predicted there."""
    found = session.execute(
        select(PredictionSet.media_id, Prediction.class_name, func.max(Prediction.score))
        .join(Prediction, Prediction.prediction_set_id == PredictionSet.id)
        .where(PredictionSet.model_version_id == version_id, PredictionSet.status == "ok")
        .group_by(PredictionSet.media_id, Prediction.class_name)
    ).all()
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for media_id, name, score in found:
        out[int(media_id)][str(name)] = float(score)
    # Items the version saw with no box at all still count as seen (the challenger's "nothing").
    for media_id in session.scalars(
        select(PredictionSet.media_id).where(
            PredictionSet.model_version_id == version_id, PredictionSet.count == 0
        )
    ):
        out.setdefault(int(media_id), {})
    return out


def _burst_class(media_id: int, frames: list[int], shows: dict[int, str]) -> str | None:
    """What a strict majority of the other frames of the burst show, if they agree."""
    others = [shows[f] for f in frames if f != media_id]
    if not others:
        return None
    name, count = Counter(others).most_common(1)[0]
    return name if count * 2 > len(others) else None


def _novelty(
    project: Project,
    session: Session,
    champion: int | None,
    unreviewed: list[int],
    reviewed_ids: list[int],
) -> dict[int, float]:
    """Cosine distance from each item's best crop to the nearest reviewed item's crop
    (empty when crops are not embedded or nothing reviewed has a crop)."""
    if champion is None:
        return {}
    key = crop_embedder_key(project)
    known = item_vectors(session, key, None, reviewed_ids)
    if not known:
        return {}
    mine = item_vectors(session, key, champion, unreviewed)
    if not mine:
        return {}
    reference = np.stack(list(known.values()))
    index = make_index(reference.shape[1], len(reference), None)
    index.add_with_ids(normalised(reference), np.arange(len(reference), dtype=np.int64))
    ids = list(mine)
    similarity, _ = index.search(normalised(np.stack([mine[i] for i in ids])), 1)
    return {i: round(float(1.0 - s), 4) for i, s in zip(ids, similarity[:, 0], strict=True)}
