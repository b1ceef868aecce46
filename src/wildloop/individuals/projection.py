"""A re-ID embedder fine-tuned from confirmed sightings: a linear projection of crop vectors.

The frozen crop embedder's vectors (the bundled MobileNet's 1024) are centred, normalised
and projected to ``dim`` numbers by a matrix learnt with a batch-hard triplet loss on the
person-confirmed sightings of the *train* individuals: each sighting is pulled towards the
least alike sighting of its own animal and pushed from the most alike one of another, by a
margin. The projection is plain numpy, fitted and applied without torch, saved as one
``.npz`` and registered as a ``reid-embedder`` version.

Which individuals are held out is a rule, not a stored list: an individual's split is
hashed from its id with the project's split salt and ratios, as media splits are from their
sequence; those falling in the val or test shares are the **test individuals**, never
trained on (a frozen set: ids never change). Their confirmed sightings score a projection by
retrieval: each sighting queries the other sightings of test individuals of its class, an
individual scoring its best sighting; top-1 and top-5 count the queries whose animal comes
first, or among the first five.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.crops.embedder import crop_embedder_key
from wildloop.crops.vectors import label_box_vectors
from wildloop.domain.model_kinds import (
    REID_EMBEDDER,
    REID_MODEL_FORMATS,
    REID_PROJECTION_FORMAT,
)
from wildloop.domain.splits import Split, assign_split
from wildloop.errors import BadInput
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import artifact_store
from wildloop.store.tables import (
    Individual,
    LabelCropEmbedding,
    Media,
    ModelVersion,
    Sighting,
)

REID_ALIAS = "reid-champion"
FORMAT = "npz"
DEFAULT_DIM = 128
DEFAULT_EPOCHS = 40
DEFAULT_MARGIN = 0.3
DEFAULT_LR = 0.05
PER_INDIVIDUAL = 4  # sightings of one animal in a batch (batch-hard mining needs pairs)
INDIVIDUALS_PER_BATCH = 16

Matrix = NDArray[np.float32]
NOT_ENOUGH = (
    "fine-tuning the re-ID embedder needs at least two train individuals with two or more "
    "confirmed, embedded sightings each: confirm more sightings (and run `wildloop "
    "individuals embed`)"
)


def _unit(x: Matrix) -> Matrix:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: Matrix = (x / np.maximum(norms, 1e-9)).astype(np.float32)
    return out


@dataclass(frozen=True)
class Projection:
    """``apply(x)``: normalise, centre on ``mean``, multiply by ``weights`` (dim × input)."""

    mean: Matrix
    weights: Matrix
    embedder: str  # the crop embedder whose vectors it takes

    @property
    def classes(self) -> tuple[str, ...]:
        return ()  # an embedder names no class (the registry's head protocol asks)

    def apply(self, x: Matrix) -> Matrix:
        centred: Matrix = _unit(np.atleast_2d(x)) - self.mean
        return _unit(centred @ self.weights.T)

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, weights=self.weights, embedder=np.array(self.embedder))

    @classmethod
    def load(cls, path: Path) -> Projection:
        with np.load(path) as data:
            return cls(
                data["mean"].astype(np.float32),
                data["weights"].astype(np.float32),
                str(data["embedder"]),
            )


def individual_split(project: Project, individual_id: int) -> Split:
    """The individual's frozen split (hashed from its id as media splits are from theirs)."""
    settings = project.config.splits
    return assign_split(f"individual:{individual_id}", settings.ratios(), settings.salt)


def is_test_individual(project: Project, individual_id: int) -> bool:
    return individual_split(project, individual_id) is not Split.TRAIN


@dataclass(frozen=True)
class Sightings:
    """Confirmed sightings with a crop vector: row i is ``label_box_ids[i]``."""

    label_box_ids: list[int]
    individual_ids: list[int]
    class_ids: list[int]
    media_splits: list[str | None]
    matrix: Matrix

    def rows(self, keep: Sequence[bool]) -> Sightings:
        pick = [i for i, k in enumerate(keep) if k]
        return Sightings(
            [self.label_box_ids[i] for i in pick],
            [self.individual_ids[i] for i in pick],
            [self.class_ids[i] for i in pick],
            [self.media_splits[i] for i in pick],
            self.matrix[pick] if pick else np.zeros((0, self.matrix.shape[1]), np.float32),
        )


def confirmed_sightings(session: Session, embedder: str) -> Sightings:
    """Person-confirmed sightings of individuals not merged away, with ``embedder`` vectors."""
    rows = session.execute(
        select(Sighting.label_box_id, Individual.id, Individual.class_id, Media.split)
        .join(Individual, Individual.id == Sighting.individual_id)
        .join(Media, Media.id == Sighting.media_id)
        .where(Sighting.source == "person", Individual.merged_into_id.is_(None))
        .order_by(Sighting.label_box_id)
    ).all()
    vectors = label_box_vectors(session, embedder, [int(r[0]) for r in rows])
    rows = [r for r in rows if int(r[0]) in vectors]
    matrix = np.stack([vectors[int(r[0])] for r in rows]) if rows else np.zeros((0, 1), np.float32)
    return Sightings(
        [int(r[0]) for r in rows],
        [int(r[1]) for r in rows],
        [int(r[2]) for r in rows],
        [r[3] for r in rows],
        matrix,
    )


def require_trainable(session: Session, project: Project, embedder: str) -> None:
    """Refuse now (before a job is queued) when fewer than two train individuals have two
    confirmed, embedded sightings off the test split: nothing could be learnt."""
    rows = session.execute(
        select(Sighting.individual_id, func.count(Sighting.id))
        .join(Individual, Individual.id == Sighting.individual_id)
        .join(Media, Media.id == Sighting.media_id)
        .join(LabelCropEmbedding, LabelCropEmbedding.label_box_id == Sighting.label_box_id)
        .where(
            Sighting.source == "person",
            Individual.merged_into_id.is_(None),
            LabelCropEmbedding.embedder == embedder,
            (Media.split != Split.TEST.value) | Media.split.is_(None),
        )
        .group_by(Sighting.individual_id)
    ).all()
    usable = [i for i, n in rows if n >= 2 and not is_test_individual(project, int(i))]
    if len(usable) < 2:
        raise BadInput(NOT_ENOUGH)


def training_sightings(project: Project, found: Sightings) -> Sightings:
    """What a projection may learn from: sightings of train individuals, and not on media of
    the frozen test split (the detector's test photos are never trained on either)."""
    keep = [
        not is_test_individual(project, i) and split != Split.TEST.value
        for i, split in zip(found.individual_ids, found.media_splits, strict=True)
    ]
    return found.rows(keep)


def held_out_sightings(project: Project, found: Sightings) -> Sightings:
    return found.rows([is_test_individual(project, i) for i in found.individual_ids])


@dataclass(frozen=True)
class Retrieval:
    top1: float
    top5: float
    queries: int
    per_class: dict[int, tuple[float, int]] = field(default_factory=dict)  # top-1, queries

    def as_dict(self) -> dict[str, Any]:
        return {
            "top1": round(self.top1, 4),
            "top5": round(self.top5, 4),
            "queries": self.queries,
            "per_class": {
                str(c): {"top1": round(s, 4), "queries": n} for c, (s, n) in self.per_class.items()
            },
        }


@dataclass(frozen=True)
class QueryHits:
    """Each retrieval query's outcome: the queried sighting's individual and class, and
    whether its animal ranked first (top-1) and among the first five (top-5)."""

    individual_ids: NDArray[np.int64]
    class_ids: NDArray[np.int64]
    top1: NDArray[np.bool_]
    top5: NDArray[np.bool_]


def query_hits(found: Sightings, projection: Projection | None) -> QueryHits:
    """Rank, for each sighting, the other individuals of its class by their best sighting
    (as the suggestions rank); sightings whose animal has no other sighting are no query."""
    rows: list[tuple[int, int, bool, bool]] = []
    if found.label_box_ids:
        x = projection.apply(found.matrix) if projection is not None else _unit(found.matrix)
        similarity = x @ x.T
        owners = np.asarray(found.individual_ids)
        classes = np.asarray(found.class_ids)
        for row in range(len(owners)):
            others = classes == classes[row]
            others[row] = False
            if not np.any(others & (owners == owners[row])):
                continue
            best: dict[int, float] = {}
            for col in np.flatnonzero(others):
                who = int(owners[col])
                best[who] = max(best.get(who, -2.0), float(similarity[row, col]))
            ranked = sorted(best, key=lambda who: (-best[who], who))
            owner = int(owners[row])
            rows.append((owner, int(classes[row]), ranked[0] == owner, owner in ranked[:5]))
    return QueryHits(
        np.asarray([r[0] for r in rows], np.int64),
        np.asarray([r[1] for r in rows], np.int64),
        np.asarray([r[2] for r in rows], bool),
        np.asarray([r[3] for r in rows], bool),
    )


def summarise(hits: QueryHits) -> Retrieval:
    """Top-1/top-5 over the queries, and top-1 per class."""
    if not len(hits.top1):
        return Retrieval(0.0, 0.0, 0)
    per_class = {
        int(c): (float(np.mean(hits.top1[hits.class_ids == c])), int(np.sum(hits.class_ids == c)))
        for c in dict.fromkeys(hits.class_ids.tolist())
    }
    return Retrieval(
        float(np.mean(hits.top1)), float(np.mean(hits.top5)), len(hits.top1), per_class
    )


def retrieval(found: Sightings, projection: Projection | None) -> Retrieval:
    """Top-1/top-5 of each sighting against the other sightings of its class (an individual
    scores its best one), as the suggestions rank; sightings whose animal has no other
    sighting are not queries."""
    return summarise(query_hits(found, projection))


def fit_projection(
    found: Sightings,
    embedder: str,
    *,
    dim: int = DEFAULT_DIM,
    epochs: int = DEFAULT_EPOCHS,
    margin: float = DEFAULT_MARGIN,
    lr: float = DEFAULT_LR,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> tuple[Projection, dict[str, Any]]:
    """A projection learnt from ``found`` (sightings of the train individuals) by batch-hard
    triplet loss, started from the top ``dim`` principal directions, its Frobenius norm held
    fixed (the loss could otherwise fall by scaling alone). ``on_epoch(epoch, loss)``."""
    owners = np.asarray(found.individual_ids)
    counts = {int(i): int(n) for i, n in zip(*np.unique(owners, return_counts=True), strict=True)}
    usable = sorted(i for i, n in counts.items() if n >= 2)
    if len(usable) < 2:
        raise BadInput(NOT_ENOUGH)
    started = time.perf_counter()
    x = _unit(found.matrix)
    mean = x.mean(axis=0).astype(np.float32)
    centred = x - mean
    dim = min(dim, centred.shape[1], centred.shape[0])
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    weights = vt[:dim].astype(np.float32)
    norm = float(np.linalg.norm(weights))
    rng = np.random.default_rng(seed)
    rows_of = {i: np.flatnonzero(owners == i) for i in usable}
    losses: list[float] = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(usable)
        epoch_loss, batches = 0.0, 0
        for start in range(0, len(order), INDIVIDUALS_PER_BATCH):
            group = order[start : start + INDIVIDUALS_PER_BATCH]
            if len(group) < 2:
                continue
            pick = np.concatenate(
                [rng.permutation(rows_of[int(i)])[:PER_INDIVIDUAL] for i in group]
            )
            loss, grad = _triplet_step(centred[pick], owners[pick], weights, margin)
            weights = weights - lr * grad
            weights *= norm / max(float(np.linalg.norm(weights)), 1e-9)
            epoch_loss += loss
            batches += 1
        losses.append(round(epoch_loss / max(batches, 1), 5))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    report = {
        "loss": "batch-hard triplet",
        "dim": dim,
        "epochs": epochs,
        "margin": margin,
        "lr": lr,
        "seed": seed,
        "losses": losses,
        "train_sightings": len(owners),
        "train_individuals": len(counts),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return Projection(mean, weights.astype(np.float32), embedder), report


def _triplet_step(
    x: Matrix, owners: NDArray[Any], weights: Matrix, margin: float
) -> tuple[float, Matrix]:
    """Mean hinge ``margin + |W(a-p)|² - |W(a-n)|²`` over anchors with their hardest positive
    and hardest negative in the batch, and its gradient in ``weights``."""
    z = x @ weights.T
    squared = np.sum(z * z, axis=1)
    distance = squared[:, None] + squared[None, :] - 2 * z @ z.T
    same = owners[:, None] == owners[None, :]
    np.fill_diagonal(same, False)
    anchors = np.flatnonzero(same.any(axis=1))
    positive = np.where(same, distance, -np.inf)[anchors].argmax(axis=1)
    other = owners[:, None] != owners[None, :]
    negative = np.where(other, distance, np.inf)[anchors].argmin(axis=1)
    hinge = margin + distance[anchors, positive] - distance[anchors, negative]
    active = hinge > 0
    if not np.any(active):
        return 0.0, np.zeros_like(weights)
    a = anchors[active]
    dp = x[a] - x[positive[active]]
    dn = x[a] - x[negative[active]]
    grad = 2 * weights @ (dp.T @ dp - dn.T @ dn) / len(anchors)
    return float(np.sum(hinge[active]) / len(anchors)), grad.astype(np.float32)


_loaded: dict[str, Projection] = {}
_lock = threading.Lock()


def load_version(project: Project, version: ModelVersion) -> Projection:
    """A ``reid-embedder`` projection's matrix, hash-checked on first load in this process."""
    if (
        version.task != REID_EMBEDDER
        or version.artifact_sha256 is None
        or version.artifact_format != REID_PROJECTION_FORMAT
    ):
        raise BadInput(f"model {version.name!r} is not a re-ID projection")
    sha = version.artifact_sha256
    with _lock:
        if sha not in _loaded:
            _loaded[sha] = Projection.load(artifact_store(project).verify(sha, FORMAT))
        return _loaded[sha]


def champion_projection(session: Session, project: Project, embedder: str) -> Projection | None:
    """The promoted projection for ``embedder``'s vectors, or None: suggestions then compare
    the plain crop vectors (a projection of another embedder's vectors does not apply, and a
    user's own re-ID model embeds into vectors of its own key, compared as they are)."""
    version_id = aliases.resolve(session, REID_ALIAS)
    if version_id is None:
        return None
    version = session.get_one(ModelVersion, version_id)
    if version.params.get("embedder") != embedder:
        return None
    if version.artifact_format != REID_PROJECTION_FORMAT:
        return None
    return load_version(project, version)


def space_of(project: Project, version: ModelVersion | None) -> tuple[str, Projection | None]:
    """The vector key a re-ID embedder compares in and the projection it applies: the
    baseline (None) and a projection of another embedder's vectors are the configured crop
    embedder's plain vectors; a user's own model is its own key, vectors as they are."""
    key = crop_embedder_key(project)
    if version is None:
        return key, None
    if version.artifact_format in REID_MODEL_FORMATS:
        return str(version.params["embedder"]), None
    if version.params.get("embedder") != key:
        return key, None
    return key, load_version(project, version)


def serving_version(session: Session) -> ModelVersion | None:
    """The ``reid-champion`` version, or None (the baseline serves)."""
    version_id = aliases.resolve(session, REID_ALIAS)
    return session.get_one(ModelVersion, version_id) if version_id is not None else None


def reid_space(session: Session, project: Project) -> tuple[str, Projection | None]:
    """The vector key suggestions read and the promoted projection they are compared
    through (None: the vectors as stored), from whichever embedder serves."""
    return space_of(project, serving_version(session))
