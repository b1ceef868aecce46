"""Re-identification suggestions: which known individuals a human box most resembles.

A box is compared with every person-confirmed sighting of the individuals of its own class
(so a doe's box is never offered a buck), by cosine similarity of stored crop vectors; an
individual scores its best-matching sighting. Vectors come from ``individual-embed``: a
request only reads them, it never embeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.crops.vectors import label_box_vectors
from wildloop.errors import BadInput, NotFound
from wildloop.individuals.projection import Projection
from wildloop.store.tables import Individual, LabelBox, LabelRevision, Media, Sighting

MAX_K = 50


@dataclass(frozen=True)
class Candidate:
    individual_id: int
    name: str
    similarity: float
    # The individual's sighting closest to the box (what a reviewer compares it with).
    sighting_id: int


def suggest(
    session: Session,
    embedder: str,
    label_box_id: int,
    k: int = 5,
    projection: Projection | None = None,
) -> list[Candidate]:
    """The ``k`` individuals of the box's class whose sightings look most like it, best
    first; the box's own individual (when it has one) is left out. With a ``projection``
    (the promoted re-ID embedder) vectors are compared after it."""
    if not 1 <= k <= MAX_K:
        raise BadInput(f"k must be between 1 and {MAX_K}")
    class_id = session.scalar(select(LabelBox.class_id).where(LabelBox.id == label_box_id))
    if class_id is None:
        raise NotFound(f"label box {label_box_id} does not exist or has no class")
    query = label_box_vectors(session, embedder, [label_box_id]).get(label_box_id)
    if query is None:
        raise BadInput(
            f"label box {label_box_id} has no {embedder} crop vector yet: run "
            "`wildloop individuals embed` (a job) first"
        )
    own = session.scalar(
        select(Sighting.individual_id).where(Sighting.label_box_id == label_box_id)
    )
    gallery = session.execute(
        select(Sighting.id, Sighting.label_box_id, Individual.id, Individual.name)
        .join(Individual, Individual.id == Sighting.individual_id)
        .where(
            Individual.class_id == class_id,
            Individual.merged_into_id.is_(None),
            Sighting.source == "person",
            Sighting.label_box_id != label_box_id,
        )
    ).all()
    if own is not None:
        gallery = [g for g in gallery if g[2] != own]
    vectors = label_box_vectors(session, embedder, [g[1] for g in gallery])
    rows = [g for g in gallery if g[1] in vectors]
    if not rows:
        return []
    matrix = np.stack([vectors[g[1]] for g in rows])
    if projection is not None:
        matrix, query = projection.apply(matrix), projection.apply(query)[0]
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
    similarity = matrix @ (query / max(float(np.linalg.norm(query)), 1e-9))
    best: dict[int, tuple[float, int, str]] = {}
    for (sighting_id, _, individual_id, name), score in zip(rows, similarity, strict=True):
        if individual_id not in best or score > best[individual_id][0]:
            best[individual_id] = (float(score), sighting_id, name)
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:k]
    return [Candidate(i, name, round(s, 4), sid) for i, (s, sid, name) in ranked]


@dataclass(frozen=True)
class BoxIdentity:
    """One current human box of a photo: whose sighting it is, and who it may be."""

    index: int  # position among the revision's boxes (the review screen's label index)
    label_box_id: int
    class_id: int
    sighting_id: int | None
    individual_id: int | None
    individual_name: str | None
    source: str | None  # "person", "suggestion" or None (no individual yet)
    # Best first: a suggested sighting's individual leads, then the re-ID ranking (boxes
    # without a crop vector have only their stored suggestion, if any).
    candidates: list[Candidate]


def photo_identities(
    session: Session,
    embedder: str,
    media_id: int,
    k: int = 5,
    projection: Projection | None = None,
) -> list[BoxIdentity]:
    """The animal boxes of the photo's current labels with their sightings and their top-k
    candidates: what the review screen offers to confirm with a number key."""
    if not 1 <= k <= MAX_K:
        raise BadInput(f"k must be between 1 and {MAX_K}")
    if session.get(Media, media_id) is None:
        raise NotFound(f"media {media_id} does not exist")
    rows = session.execute(
        select(LabelBox, Sighting, Individual.name)
        .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
        .join(
            Media,
            (Media.id == LabelRevision.media_id) & (Media.label_revision == LabelRevision.revision),
        )
        .outerjoin(Sighting, Sighting.label_box_id == LabelBox.id)
        .outerjoin(Individual, Individual.id == Sighting.individual_id)
        .where(Media.id == media_id)
        .order_by(LabelBox.id)
    ).all()
    embedded = label_box_vectors(session, embedder, [box.id for box, _, _ in rows])
    found = []
    for index, (box, sighting, name) in enumerate(rows):
        if box.false_positive or box.class_id is None or box.x is None:
            continue
        candidates = []
        if sighting is not None and sighting.source == "suggestion":
            score = round(sighting.score, 4) if sighting.score is not None else 0.0
            candidates.append(Candidate(sighting.individual_id, name, score, sighting.id))
        if box.id in embedded:
            candidates += suggest(
                session, embedder, box.id, max(k - len(candidates), 1), projection
            )
        found.append(
            BoxIdentity(
                index=index,
                label_box_id=box.id,
                class_id=box.class_id,
                sighting_id=sighting.id if sighting else None,
                individual_id=sighting.individual_id if sighting else None,
                individual_name=name,
                source=sighting.source if sighting else None,
                candidates=candidates[:k],
            )
        )
    return found
