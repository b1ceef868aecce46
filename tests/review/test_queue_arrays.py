"""The queue's array signals agree with the one-item rules of ``domain.review_value``."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support.review import add_champion
from tests.support.web import ReviewSetup
from wildloop.domain.labels import LabelSet
from wildloop.domain.review_value import NOTHING, ItemSignals, Weights, value_of
from wildloop.project import Project
from wildloop.registry.aliases import resolve
from wildloop.review.labels import save_labels
from wildloop.review.predictions import threshold_for
from wildloop.review.queue import _compute
from wildloop.review.queue_arrays import (
    NONE_CODE,
    burst_classes,
    nearest_distances,
    rough_values,
)
from wildloop.store.tables import Camera, Media, ModelAlias, Prediction, PredictionSet


def _maybe(rng: random.Random, value: float) -> float | None:
    return None if rng.random() < 0.2 else value


@pytest.mark.parametrize("weights", [Weights(), Weights(burst=0.0, novelty=2.0)])
def test_rough_values_equal_value_of_for_every_item(weights: Weights) -> None:
    rng = random.Random(3)
    signals = []
    for i in range(3000):
        top = _maybe(rng, rng.random())
        says = rng.choice([0, 1, 2])
        signals.append(
            (
                ItemSignals(
                    media_id=i,
                    group="g",
                    camera="c",
                    top_class=None if says == 0 else f"k{says}",
                    top_score=top,
                    second_score=_maybe(rng, rng.random() * (top or 1)),
                    threshold=rng.choice([0.3, 0.5, 0.6]),
                    burst_class=rng.choice([None, "nothing", "k1", "k2"]),
                    challenger_class=rng.choice([None, "k1", "k2"]),
                    challenger_saw=rng.random() < 0.5,
                    novelty=_maybe(rng, rng.random() * 1.2),
                ),
                says,
            )
        )
    code = {None: NONE_CODE, "nothing": 0, "k1": 1, "k2": 2}

    def array(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values])

    items = [s for s, _ in signals]
    rough = rough_values(
        array([s.top_score for s in items]),
        array([s.second_score if s.top_score is not None else None for s in items]),
        np.array([s.threshold for s in items]),
        np.array([c for _, c in signals]),
        np.array([code[s.burst_class] for s in items]),
        np.array([s.challenger_saw for s in items]),
        np.array([code[s.challenger_class] if s.challenger_class else 0 for s in items]),
        array([s.novelty for s in items]),
        weights,
    )
    exact = np.array([value_of(s, weights).value for s in items])
    assert np.allclose(rough, exact, atol=1e-6)
    assert (exact > 0).sum() > 1000  # the signals fired often enough to test something


def _reference_burst(sequence: list[int], shows: list[int]) -> list[int]:
    """The one-item rule: a strict majority of the other frames of the burst."""
    out = []
    for i, seq in enumerate(sequence):
        others = [shows[j] for j, s in enumerate(sequence) if s == seq and j != i and seq >= 0]
        if not others:
            out.append(NONE_CODE)
            continue
        name, count = Counter(others).most_common(1)[0]
        out.append(name if count * 2 > len(others) else NONE_CODE)
    return out


def test_burst_classes_equal_the_majority_of_the_other_frames() -> None:
    rng = random.Random(5)
    sequence = [rng.choice([-1, *range(40)]) for _ in range(400)]
    shows = [rng.choice([0, 1, 1, 1, 2, 3]) for _ in range(400)]
    found = burst_classes(np.array(sequence), np.array(shows))
    assert found.tolist() == _reference_burst(sequence, shows)
    assert (found != NONE_CODE).sum() > 50


def test_nearest_distances_exact_and_approximate_find_the_nearest() -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 96)).astype(np.float32)
    reference = centres[rng.integers(0, 20, 3000)] + rng.normal(scale=0.3, size=(3000, 96))
    queries = centres[rng.integers(0, 20, 500)] + rng.normal(scale=0.3, size=(500, 96))

    def unit(x: np.ndarray) -> np.ndarray:
        return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), np.float32)

    truth = 1 - (unit(queries) @ unit(reference).T).max(axis=1)
    exact = nearest_distances(reference.astype(np.float32), queries.astype(np.float32))
    assert np.allclose(exact, truth, atol=1e-4)
    import wildloop.review.queue_arrays as arrays

    saved = arrays.APPROXIMATE_ABOVE
    arrays.APPROXIMATE_ABOVE = 0  # force the inverted file over the reduced space
    try:
        rough = nearest_distances(reference.astype(np.float32), queries.astype(np.float32))
    finally:
        arrays.APPROXIMATE_ABOVE = saved
    assert (rough >= truth - 1e-4).all()  # never nearer than the true nearest
    assert np.median(rough - truth) < 0.02  # and nearly always it


def test_the_computed_order_values_items_as_value_of_does_one_by_one(
    review_setup: ReviewSetup,
) -> None:
    """The array path against the one-item rules over a real project: a champion, a
    challenger and some reviews (burst majorities mixing labels and predictions)."""
    project = review_setup.project
    challenger = add_champion(project, review_setup.items, seed=7, name="fake-v2")
    ids = review_setup.ids()
    with project.db.session() as session:
        session.add(ModelAlias(alias="challenger", model_version_id=challenger))
        for media_id in ids[::4]:
            save_labels(
                session,
                media_id,
                LabelSet(empty=True),
                author_id=project.author("rita"),
                classes=project.classes,
                expected_revision=0,
            )
    with project.db.session() as session:
        champion, other = resolve(session, "champion"), resolve(session, "challenger")
        assert champion is not None and other is not None
        order = _compute(project, session, champion, other, Weights())  # every signal on
        expected = _reference_values(project, session, champion, other)
    assert order and {q.media_id for q in order} == set(expected)  # every unreviewed item
    for item in order:
        value, reasons = expected[item.media_id]
        assert item.value == value and item.reasons == reasons
    assert any(q.reasons for q in order)


def _reference_values(
    project: Project, session: Session, champion: int, challenger: int
) -> dict[int, tuple[float, tuple[str, ...]]]:
    """value_of per unreviewed item from plainly gathered signals (no novelty here)."""
    thresholds = project.config.thresholds
    media = session.execute(
        select(
            Media.id, Media.sequence_id, Media.reviewed, Media.label_class_id, Camera.name
        ).outerjoin(Camera, Camera.id == Media.camera_id)
    ).all()

    def scores(version: int) -> dict[int, dict[str, float]]:
        out: dict[int, dict[str, float]] = defaultdict(dict)
        for set_row in session.scalars(
            select(PredictionSet).where(PredictionSet.model_version_id == version)
        ):
            out.setdefault(set_row.media_id, {})
            for p in session.scalars(
                select(Prediction).where(Prediction.prediction_set_id == set_row.id)
            ):
                best = out[set_row.media_id].get(p.class_name, 0.0)
                out[set_row.media_id][p.class_name] = max(best, p.score)
        return out

    def says(by: dict[str, float]) -> tuple[str | None, float | None, float | None]:
        ranked = sorted(by.items(), key=lambda kv: -kv[1])
        if not ranked:
            return None, None, None
        name, score = ranked[0]
        shown = name if score >= threshold_for(thresholds, name) else None
        return shown, score, ranked[1][1] if len(ranked) > 1 else None

    mine, theirs = scores(champion), scores(challenger)
    shows = {
        r.id: (project.classes.display_name(r.label_class_id) or NOTHING)
        if r.reviewed
        else (says(mine.get(r.id, {}))[0] or NOTHING)
        for r in media
    }
    out = {}
    for r in media:
        if r.reviewed:
            continue
        shown, top, second = says(mine.get(r.id, {}))
        others = [shows[m.id] for m in media if m.sequence_id == r.sequence_id and m.id != r.id]
        burst = None
        if r.sequence_id is not None and others:
            name, count = Counter(others).most_common(1)[0]
            burst = name if count * 2 > len(others) else None
        top_name = sorted(mine.get(r.id, {}).items(), key=lambda kv: -kv[1])
        signals = ItemSignals(
            media_id=r.id,
            group="g",
            camera="c",
            top_class=shown,
            top_score=top,
            second_score=second,
            threshold=threshold_for(thresholds, top_name[0][0] if top_name else ""),
            burst_class=burst,
            challenger_class=says(theirs[r.id])[0] if r.id in theirs else None,
            challenger_saw=r.id in theirs,
        )
        valued = value_of(signals, Weights())
        out[r.id] = (valued.value, valued.reasons)
    return out
