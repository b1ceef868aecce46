"""The value-ordered review queue: unreviewed items, most worth a person's time first.

Gathers each unreviewed image's signals (the champion's per-class scores, what the rest of
its burst shows, the challenger's answer, the distance of its best crop to the nearest
reviewed crop) and leaves the scoring and the diverse ordering to
``domain.review_value``. An order is computed once per (champion, challenger, reviewed
count // ``REFRESH_EVERY``) and kept in memory, so it refreshes after every retrain and every
N reviews; items reviewed in between simply drop out of it.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
from wildloop.project import Project
from wildloop.registry.aliases import resolve
from wildloop.review.predictions import threshold_for
from wildloop.store.tables import Camera, Media, Prediction, PredictionSet

REFRESH_EVERY = 25  # reviews after which the order is computed again
MAX_ORDER = 2000  # items kept in a computed order (a reviewer's day, many times over)
BATCH = 20


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
class _Order:
    key: tuple[int | None, int | None, int]
    items: tuple[QueueItem, ...]


_cache: dict[str, _Order] = {}
_lock = threading.Lock()


def value_queue(project: Project, limit: int = 50, exclude: int | None = None) -> list[QueueItem]:
    """The ``limit`` most valuable unreviewed items (``exclude``: the one on screen)."""
    with project.db.session() as session:
        champion = resolve(session, "champion")
        challenger = resolve(session, "challenger")
        reviewed = session.scalar(
            select(func.count()).select_from(Media).where(Media.reviewed.is_(True))
        )
        key = (champion, challenger, int(reviewed or 0) // REFRESH_EVERY)
        with _lock:
            order = _cache.get(str(project.root))
        if order is None or order.key != key:
            items = tuple(_compute(project, session, champion, challenger))
            order = _Order(key, items)
            with _lock:
                _cache[str(project.root)] = order
        candidates = [i for i in order.items if i.media_id != exclude][: limit + REFRESH_EVERY]
        still = set(
            session.scalars(
                select(Media.id).where(
                    Media.id.in_([c.media_id for c in candidates]), Media.reviewed.is_(False)
                )
            )
        )
    return [c for c in candidates if c.media_id in still][:limit]


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
