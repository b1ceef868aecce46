"""The value-ordered review queue: unreviewed items, most worth a person's time first.

Gathers each unreviewed image's signals (the champion's per-class scores, what the rest of
its burst shows, the challenger's answer, the distance of its best crop to the nearest
reviewed crop) and leaves the scoring and the diverse ordering to
``domain.review_value`` (its ``QUEUE_WEIGHTS``). Computing an order reads the whole archive
(on arrays, ``queue_arrays``; tens of seconds at 100,000 items, bench/review_queue.py), so
it is a job (``review-queue``) that
stores the order in ``indexes/review-queue.json``; a request only reads the stored order.
The order is stale when the champion or challenger changed or ``REFRESH_EVERY`` more items
were reviewed: the request then submits a refresh (unless one is queued or running) and
serves the stale order meanwhile; items reviewed since simply drop out of it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.atomic import write_text_atomic
from wildloop.crops.embedder import crop_embedder_key
from wildloop.domain.review_value import (
    NOTHING,
    QUEUE_WEIGHTS,
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
from wildloop.review.queue_arrays import (
    NONE_CODE,
    NOTHING_CODE,
    ClassCodes,
    MediaArrays,
    ScoreArrays,
    best_box_vectors,
    burst_classes,
    class_scores,
    media_arrays,
    nearest_distances,
    rough_values,
)
from wildloop.store.tables import Media
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


CANDIDATES = 10 * MAX_ORDER  # items valued one by one (value_of, reasons) per refresh


def _compute(
    project: Project,
    session: Session,
    champion: int | None,
    challenger: int | None,
    weights: Weights = QUEUE_WEIGHTS,
) -> list[QueueItem]:
    """Every signal for the whole archive as arrays (``queue_arrays``), a rough value for
    each item, then ``value_of`` and ``diverse_order`` over the ``CANDIDATES`` best: the
    diverse order only ever looks a bounded way down the ranking."""
    media = media_arrays(session)
    unreviewed = np.flatnonzero(~media.reviewed)
    if not len(unreviewed):
        return []
    classes = project.classes
    thresholds = project.config.thresholds
    codes = ClassCodes()
    mine = class_scores(session, champion, media.ids, codes)
    other = (
        class_scores(session, challenger, media.ids, codes)
        if challenger and challenger != champion
        else None
    )

    def threshold_of(code_array: np.ndarray) -> np.ndarray:
        table = np.array(
            [threshold_for(thresholds, codes.name(c) or "") for c in range(len(codes.names))]
        )
        return np.asarray(table[code_array])

    def says(scores: ScoreArrays) -> np.ndarray:
        """The class shown (its score at or above its threshold), else nothing."""
        with np.errstate(invalid="ignore"):
            shown = scores.top_score >= threshold_of(scores.top_code)
        return np.asarray(
            np.where(shown & ~np.isnan(scores.top_score), scores.top_code, NOTHING_CODE)
        )

    # What each frame shows: the person's label, else the model's.
    labelled = np.array(
        [codes.code(classes.display_name(int(c)) if c >= 0 else None) for c in media.label]
        if media.reviewed.any()
        else np.zeros(len(media.ids)),
        np.int64,
    )
    champion_says = says(mine)
    shows = np.where(media.reviewed, labelled, champion_says)
    burst = burst_classes(media.sequence, shows)
    challenger_says = says(other) if other is not None else np.zeros(len(media.ids), np.int64)
    novelty = _novelty(project, session, champion, media)
    rows = unreviewed
    threshold = threshold_of(mine.top_code)
    rough = rough_values(
        mine.top_score[rows],
        mine.second_score[rows],
        threshold[rows],
        champion_says[rows],
        burst[rows],
        other.seen[rows] if other is not None else np.zeros(len(rows), bool),
        challenger_says[rows],
        novelty[rows],
        weights,
    )
    # The best candidates, ties broken by id as diverse_order does (a stable sort by -value).
    picked = rows[np.argsort(-rough, kind="stable")[:CANDIDATES]]
    valued: list[Valued] = []
    facts: dict[int, QueueItem] = {}
    for i in picked.tolist():
        media_id = int(media.ids[i])
        sequence = int(media.sequence[i])
        top = float(mine.top_score[i]) if not np.isnan(mine.top_score[i]) else None
        second = float(mine.second_score[i]) if not np.isnan(mine.second_score[i]) else None
        top_name = codes.name(int(mine.top_code[i])) if top is not None else None
        signals = ItemSignals(
            media_id=media_id,
            group=f"s{sequence}" if sequence >= 0 else f"m{media_id}",
            camera=media.camera_name(i) or "-",
            top_class=codes.name(int(champion_says[i])),
            top_score=top,
            second_score=second,
            threshold=float(threshold[i]) if top is not None else threshold_for(thresholds, ""),
            burst_class=_burst_name(int(burst[i]), codes),
            challenger_class=codes.name(int(challenger_says[i])) if other is not None else None,
            challenger_saw=other is not None and bool(other.seen[i]),
            novelty=None if np.isnan(novelty[i]) else round(float(novelty[i]), 4),
        )
        valued.append(value_of(signals, weights))
        camera = media.camera_name(i)
        seq = sequence if sequence >= 0 else None
        facts[media_id] = QueueItem(media_id, 0.0, (), camera, seq, top_name, top)
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


def _burst_name(code: int, codes: ClassCodes) -> str | None:
    if code == NONE_CODE:
        return None
    return codes.name(code) or NOTHING


def _novelty(
    project: Project, session: Session, champion: int | None, media: MediaArrays
) -> np.ndarray:
    """Per item (aligned to ``media``), the cosine distance from its best crop to the
    nearest reviewed item's best crop; nan where unknown (no crops embedded, nothing
    reviewed with a crop, or the item has none)."""
    out = np.full(len(media.ids), np.nan)
    if champion is None:
        return out
    key = crop_embedder_key(project)
    known_ids, known, mine_ids, mine = best_box_vectors(session, key, champion, media)
    if not len(known_ids) or not len(mine_ids):
        return out
    at = np.searchsorted(media.ids, mine_ids)
    found = (at < len(media.ids)) & (media.ids[np.minimum(at, len(media.ids) - 1)] == mine_ids)
    distances = nearest_distances(known, mine[found])
    out[at[found]] = distances
    return out
