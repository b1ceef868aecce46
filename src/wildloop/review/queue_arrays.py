"""The review queue's signals for a whole archive as numpy arrays, so a refresh scales.

``domain.review_value.value_of`` is the rule (and writes the reasons), one item at a time:
at a million items a Python loop over every item, its burst and its scores took minutes.
Here every signal is gathered with a few bulk queries and combined with array arithmetic
(``rough_values`` mirrors ``value_of``'s sum), so only the best candidates go through
``value_of`` and ``diverse_order`` (bench/review_queue.py).

Classes are small integer codes: 0 is "nothing", -1 "unknown/none" (no burst majority).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.domain.review_value import Weights
from wildloop.store.tables import Camera, CropEmbedding, Media, Prediction, PredictionSet

NOTHING_CODE = 0
NONE_CODE = -1


@dataclass
class ClassCodes:
    """Class name <-> code, growing as names turn up (labels outlive config edits)."""

    names: list[str] = field(default_factory=lambda: ["nothing"])
    codes: dict[str, int] = field(default_factory=dict)

    def code(self, name: str | None) -> int:
        if name is None:
            return NOTHING_CODE
        found = self.codes.get(name)
        if found is None:
            found = self.codes[name] = len(self.names)
            self.names.append(name)
        return found

    def name(self, code: int) -> str | None:
        return None if code <= NOTHING_CODE else self.names[code]


@dataclass(frozen=True)
class MediaArrays:
    """Every ok image, by id: sequence (-1 none), camera (-1 none), reviewed, label class
    (-1 none); camera names by id for the few items that reach the order."""

    ids: NDArray[np.int64]
    sequence: NDArray[np.int64]
    camera: NDArray[np.int64]
    reviewed: NDArray[np.bool_]
    label: NDArray[np.int64]
    camera_names: dict[int, str]

    def camera_name(self, row: int) -> str | None:
        return self.camera_names.get(int(self.camera[row]))


def media_arrays(session: Session) -> MediaArrays:
    """One narrow integer query (the NULLs made -1 in SQL), turned into arrays at once."""
    rows = session.execute(
        select(
            Media.id,
            func.coalesce(Media.sequence_id, -1),
            func.coalesce(Media.camera_id, -1),
            Media.reviewed,
            func.coalesce(Media.label_class_id, -1),
        )
        .where(Media.kind == "image", Media.status == "ok")
        .order_by(Media.id)
    ).all()
    table = np.array(list(map(tuple, rows)), np.int64).reshape(-1, 5)
    names = {int(i): str(n) for i, n in session.execute(select(Camera.id, Camera.name))}
    return MediaArrays(
        table[:, 0], table[:, 1], table[:, 2], table[:, 3].astype(bool), table[:, 4], names
    )


@dataclass(frozen=True)
class ScoreArrays:
    """Per item of ``ids`` (aligned to the media arrays): the version's best class and
    score, the best other class's score (nan: none) and whether it saw the item at all."""

    top_code: NDArray[np.int64]
    top_score: NDArray[np.float64]
    second_score: NDArray[np.float64]
    seen: NDArray[np.bool_]


def class_scores(
    session: Session, version_id: int | None, ids: NDArray[np.int64], codes: ClassCodes
) -> ScoreArrays:
    """What ``version_id`` predicted on each item: one grouped query, ranked with numpy."""
    n = len(ids)
    top_code = np.full(n, NOTHING_CODE, np.int64)
    top = np.full(n, np.nan)
    second = np.full(n, np.nan)
    seen = np.zeros(n, bool)
    if version_id is None or not n:
        return ScoreArrays(top_code, top, second, seen)
    found = session.execute(
        select(PredictionSet.media_id, Prediction.class_name, func.max(Prediction.score))
        .join(Prediction, Prediction.prediction_set_id == PredictionSet.id)
        .where(PredictionSet.model_version_id == version_id, PredictionSet.status == "ok")
        .group_by(PredictionSet.media_id, Prediction.class_name)
    ).all()
    empty = session.scalars(
        select(PredictionSet.media_id).where(
            PredictionSet.model_version_id == version_id, PredictionSet.count == 0
        )
    ).all()
    seen[_positions(ids, np.asarray(empty, np.int64))] = True
    if not found:
        return ScoreArrays(top_code, top, second, seen)
    media = np.asarray([r[0] for r in found], np.int64)
    klass = np.asarray([codes.code(str(r[1])) for r in found], np.int64)
    score = np.asarray([float(r[2]) for r in found])
    order = np.lexsort((-score, media))  # by item, best score first
    media, klass, score = media[order], klass[order], score[order]
    first = np.ones(len(media), bool)
    first[1:] = media[1:] != media[:-1]
    rows = _positions(ids, media)
    keep = rows >= 0
    seen[rows[keep]] = True
    head = first & keep
    top_code[rows[head]] = klass[head]
    top[rows[head]] = score[head]
    runner = np.zeros(len(media), bool)
    runner[1:] = first[:-1] & ~first[1:]  # the second row of an item
    runner &= keep
    second[rows[runner]] = score[runner]
    return ScoreArrays(top_code, top, second, seen)


def _positions(ids: NDArray[np.int64], wanted: NDArray[np.int64]) -> NDArray[np.int64]:
    """Index of each wanted id in the sorted ``ids`` (-1 where absent)."""
    if not len(ids):
        return np.full(len(wanted), -1, np.int64)
    at = np.searchsorted(ids, wanted)
    at = np.minimum(at, len(ids) - 1)
    return np.where(ids[at] == wanted, at, -1).astype(np.int64)


def burst_classes(sequence: NDArray[np.int64], shows: NDArray[np.int64]) -> NDArray[np.int64]:
    """What a strict majority of the *other* frames of each item's burst show (NONE_CODE
    where they do not agree, or the item has no burst or is alone in it)."""
    out = np.full(len(sequence), NONE_CODE, np.int64)
    has = sequence >= 0
    if not has.any():
        return out
    seq, show = sequence[has], shows[has]
    pairs, pair_of, counts = np.unique(
        np.stack([seq, show], axis=1), axis=0, return_inverse=True, return_counts=True
    )
    pair_of = pair_of.reshape(-1)
    sizes_of, size_index, sizes = np.unique(seq, return_inverse=True, return_counts=True)
    size_index = size_index.reshape(-1)
    # The two most shown classes of each burst (pairs are sorted by burst).
    order = np.lexsort((-counts, pairs[:, 0]))
    p_seq, p_show, p_count = pairs[order, 0], pairs[order, 1], counts[order]
    start = np.ones(len(order), bool)
    start[1:] = p_seq[1:] != p_seq[:-1]
    burst_of_pair = np.searchsorted(sizes_of, p_seq)
    best = np.full((len(sizes_of), 2), NONE_CODE, np.int64)
    best_count = np.zeros((len(sizes_of), 2), np.int64)
    best[burst_of_pair[start], 0] = p_show[start]
    best_count[burst_of_pair[start], 0] = p_count[start]
    runner = np.zeros(len(order), bool)
    runner[1:] = start[:-1] & ~start[1:]
    best[burst_of_pair[runner], 1] = p_show[runner]
    best_count[burst_of_pair[runner], 1] = p_count[runner]
    others = sizes[size_index] - 1
    c1, n1 = best[size_index, 0], best_count[size_index, 0]
    c2, n2 = best[size_index, 1], best_count[size_index, 1]
    n1_others = np.where(c1 == show, n1 - 1, n1)
    n2_others = np.where(c2 == show, n2 - 1, n2)
    result = np.full(len(seq), NONE_CODE, np.int64)
    result = np.where((c2 != NONE_CODE) & (n2_others * 2 > others), c2, result)
    result = np.where(n1_others * 2 > others, c1, result)
    result[others == 0] = NONE_CODE
    del pair_of
    out[has] = result
    return out


def rough_values(
    top_score: NDArray[np.float64],
    second_score: NDArray[np.float64],
    threshold: NDArray[np.float64],
    says: NDArray[np.int64],
    burst: NDArray[np.int64],
    challenger_saw: NDArray[np.bool_],
    challenger_says: NDArray[np.int64],
    novelty: NDArray[np.float64],
    weights: Weights,
) -> NDArray[np.float64]:
    """``value_of``'s value for every item at once (nan: signal absent), to pick the items
    worth valuing one by one; the exact values and reasons come from ``value_of``."""
    if weights.margin_below <= 0 or weights.threshold_within <= 0:
        raise ValueError("margin_below and threshold_within must be positive")
    value = np.zeros(len(top_score))
    has_top = ~np.isnan(top_score)
    margin = top_score - np.nan_to_num(second_score)
    uncertain = has_top & ~np.isnan(second_score) & (margin < weights.margin_below)
    strength = 1.0 - np.maximum(margin, 0.0) / weights.margin_below
    value += np.where(uncertain, weights.margin * strength, 0.0)
    distance = np.abs(top_score - threshold)
    near = has_top & (distance < weights.threshold_within)
    value += np.where(near, weights.threshold * (1.0 - distance / weights.threshold_within), 0.0)
    value += np.where((burst != NONE_CODE) & (burst != says), weights.burst, 0.0)
    value += np.where(challenger_saw & (challenger_says != says), weights.challenger, 0.0)
    novel = ~np.isnan(novelty) & (novelty >= weights.novelty_from)
    reach = np.minimum(1.0, (novelty - weights.novelty_from) / (1.0 - weights.novelty_from))
    value += np.where(novel, weights.novelty * np.maximum(reach, 0.05), 0.0)
    return value


def best_box_vectors(
    session: Session,
    embedder: str,
    version_id: int,
    media: MediaArrays,
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.int64], NDArray[np.float32]]:
    """(media ids, vectors) of each reviewed item's best-scoring embedded box (any
    version's), then the same for unreviewed items (``version_id``'s boxes). One narrow
    query ranks the boxes in numpy; only the winners' vectors are read, by primary key."""
    rows = session.execute(
        select(
            CropEmbedding.id,
            CropEmbedding.media_id,
            Prediction.score,
            PredictionSet.model_version_id,
        )
        .join(Prediction, Prediction.id == CropEmbedding.prediction_id)
        .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
        .where(CropEmbedding.embedder == embedder)
    ).all()
    empty = (np.zeros(0, np.int64), np.zeros((0, 0), np.float32))
    if not rows:
        return *empty, *empty
    table = np.array(list(map(tuple, rows)), np.float64)
    eid, mid = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    score, version = table[:, 2], table[:, 3].astype(np.int64)
    at = _positions(media.ids, mid)
    reviewed = np.zeros(len(mid), bool)
    reviewed[at >= 0] = media.reviewed[at[at >= 0]]
    out: list[tuple[NDArray[np.int64], NDArray[np.float32]]] = []
    for wanted in (reviewed, (at >= 0) & ~reviewed & (version == version_id)):
        e, m, sc = eid[wanted], mid[wanted], score[wanted]
        order = np.lexsort((e, -sc, m))  # per item: best score, then the first box
        first = np.ones(len(order), bool)
        first[1:] = m[order][1:] != m[order][:-1]
        chosen = order[first]
        out.append((m[chosen], _vectors(session, e[chosen])))
    return out[0][0], out[0][1], out[1][0], out[1][1]


def _vectors(session: Session, ids: NDArray[np.int64]) -> NDArray[np.float32]:
    """The vectors of crop embedding rows ``ids`` (sorted), in that order."""
    blobs: dict[int, bytes] = {}
    for start in range(0, len(ids), 900):
        part = [int(i) for i in ids[start : start + 900]]
        for row_id, blob in session.execute(
            select(CropEmbedding.id, CropEmbedding.vector).where(CropEmbedding.id.in_(part))
        ):
            blobs[int(row_id)] = bytes(blob)
    if not blobs:
        return np.zeros((0, 0), np.float32)
    joined = b"".join(blobs[int(i)] for i in ids)
    return np.frombuffer(joined, "<f2").reshape(len(ids), -1).astype(np.float32)


APPROXIMATE_ABOVE = 1e8  # reference x query pairs above which the search is approximate
REDUCED_DIMS = 64
PROBES = 8


def nearest_distances(
    reference: NDArray[np.float32], queries: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Cosine distance from each query to its nearest reference vector (both normalised
    here, in place). Exact (a flat inner-product search) for small products; above
    ``APPROXIMATE_ABOVE`` pairs an inverted file over a PCA to ``REDUCED_DIMS`` dims (trained
    on the reference, ``PROBES`` lists searched) keeps a million-item refresh to seconds;
    novelty is a ranking bonus, so a near neighbour almost as near is good enough there."""
    import faiss  # optional (the audio extra), as for every crop index

    ref = np.ascontiguousarray(reference, np.float32)
    qry = np.ascontiguousarray(queries, np.float32)
    faiss.normalize_L2(ref)  # in place, without numpy's temporaries (a million rows)
    faiss.normalize_L2(qry)
    dim = ref.shape[1]
    index: Any
    if len(ref) * len(qry) <= APPROXIMATE_ABOVE or dim <= REDUCED_DIMS:
        index = faiss.IndexFlatIP(dim)
    else:
        lists = int(max(16, min(4 * np.sqrt(len(ref)), len(ref) // 39)))
        rng = np.random.default_rng(0)
        sample = ref[rng.choice(len(ref), min(len(ref), 39 * lists), replace=False)]
        index = faiss.index_factory(
            dim, f"PCA{REDUCED_DIMS},L2norm,IVF{lists},Flat", faiss.METRIC_INNER_PRODUCT
        )
        faiss.extract_index_ivf(index).cp.niter = 10  # a coarse split is all a probe needs
        index.train(sample)
        faiss.extract_index_ivf(index).nprobe = PROBES
    index.add(ref)
    _, found = index.search(qry, 1)
    nearest = np.maximum(found[:, 0], 0)  # an empty probe finds nothing: distance to row 0
    # The exact cosine to the neighbour found (the reduced space only chose it).
    similarity: NDArray[np.float32] = np.einsum("ij,ij->i", qry, ref[nearest])
    return np.asarray(1.0 - similarity, np.float32)
