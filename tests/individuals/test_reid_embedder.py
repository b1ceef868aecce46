"""The re-ID embedder fine-tuned from confirmed sightings: trained as a job on the train
individuals only, registered, gated on the frozen test individuals, and used by the
suggestions once promoted. Real crop vectors of generated coats, a real database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from tests.individuals.scenes import labelled_photos
from wildloop.domain.model_kinds import REID_EMBEDDER
from wildloop.errors import BadInput, Conflict
from wildloop.evaluation.bootstrap import paired_rate_interval
from wildloop.evaluation.reid_gate import compare_embedders, promote_embedder
from wildloop.individuals.embed_job import submit_label_embedding
from wildloop.individuals.profiles import assign, create_individual
from wildloop.individuals.projection import (
    REID_ALIAS,
    Projection,
    champion_projection,
    confirmed_sightings,
    is_test_individual,
)
from wildloop.individuals.reid import suggest
from wildloop.individuals.suggest_job import submit_suggestions
from wildloop.inference.crops import DEFAULT_KEY
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import Provenance, register_head
from wildloop.store.tables import AuditEntry, Media, ModelVersion, Sighting
from wildloop.synthetic.coats import random_coat
from wildloop.training.reid_job import start_embedder_training
from wildloop.users.roles import Actor, Role

ANIMALS = 24
PHOTOS = 4


def _confirmed(project: Project, tmp_path: Path) -> tuple[list[int], dict[int, list[int]]]:
    """24 generated bucks (noisy coats, uneven light), 4 photos each, all but the last of
    each confirmed as sightings and embedded; returns the
    individual ids and label boxes."""
    rng = np.random.default_rng(3)
    animals = [("buck", random_coat(rng)) for _ in range(ANIMALS)]
    boxes = labelled_photos(project, tmp_path / "photos", animals, PHOTOS, jitter=120, light=0.7)
    rita = Actor(project.author("rita"), "rita", Role.REVIEWER)
    with project.db.session() as s:
        ids = [
            create_individual(s, rita, name=f"a{a}", class_name=c, classes=project.classes).id
            for a, (c, _) in enumerate(animals)
        ]
        for individual, animal_boxes in zip(ids, boxes.values(), strict=True):
            for box in animal_boxes[:-1]:
                assign(s, rita, individual, box, classes=project.classes)
        # The generated photos form one burst whose split is hashed from the folder's path:
        # put it in train, so which photos are trainable does not depend on tmp_path.
        s.execute(update(Media).values(split="train"))
    assert run_job(project, submit_label_embedding(project))["state"] == "succeeded"
    return ids, boxes


def _register_worse(project: Project, folder: Path) -> int:
    """An honestly worse projection: two random directions keep little of 1024 numbers."""
    with project.db.session() as s:
        dim = confirmed_sightings(s, DEFAULT_KEY).matrix.shape[1]
    rng = np.random.default_rng(0)
    worse = Projection(
        np.zeros(dim, np.float32), rng.normal(size=(2, dim)).astype(np.float32), DEFAULT_KEY
    )
    worse.save(folder / "worse.npz")
    return register_head(
        project,
        folder / "worse.npz",
        "random-2d",
        task=REID_EMBEDDER,
        fmt="npz",
        classes=[],
        provenance=Provenance(params={"embedder": DEFAULT_KEY}, notes="two random directions"),
    ).id


def test_gate_refuses_a_worse_projection_and_promotes_a_better_one(
    project: Project, tmp_path: Path
) -> None:
    with pytest.raises(BadInput, match="confirm more sightings"):
        start_embedder_training(project, epochs=5)
    ids, boxes = _confirmed(project, tmp_path)
    held_out = {i for i in ids if is_test_individual(project, i)}
    assert held_out and len(held_out) < len(ids)

    # Worse than the plain vectors (the baseline before any promotion): refused.
    worse = _register_worse(project, tmp_path)
    comparison = compare_embedders(project, worse)
    assert comparison["champion"] is None and comparison["baseline"]["name"] == "crop vectors"
    assert comparison["challenger"]["top1"] < comparison["baseline"]["top1"]
    refused = promote_embedder(project, worse)
    assert refused["promoted"] is False
    assert any("top-1" in r for r in refused["decision"]["reasons"])
    with project.db.session() as s:
        assert aliases.resolve(s, REID_ALIAS) is None
        assert champion_projection(s, project, DEFAULT_KEY) is None
        assert "model.gate.refuse" in s.scalars(select(AuditEntry.action)).all()
    # Overridden with a reason, it becomes the champion a fine-tuned one has to beat.
    with pytest.raises(BadInput, match="reason"):
        promote_embedder(project, worse, force=True)
    assert promote_embedder(project, worse, force=True, reason="test")["forced"] is True
    # A photo of the frozen test split is never trained on, even of a train individual.
    trainee = min(set(ids) - held_out)
    with project.db.session() as s:
        s.execute(
            update(Media)
            .where(
                Media.id
                == select(Sighting.media_id)
                .where(Sighting.individual_id == trainee)
                .limit(1)
                .scalar_subquery()
            )
            .values(split="test")
        )

    status = run_job(project, start_embedder_training(project, epochs=30))
    assert status["state"] == "succeeded", status
    result = status["result"]
    with project.db.session() as s:
        version = s.get_one(ModelVersion, result["model_version_id"])
        assert (version.task, version.artifact_format, version.source) == (
            REID_EMBEDDER,
            "npz",
            "trained",
        )
        assert version.params["embedder"] == DEFAULT_KEY
        # The frozen test individuals are never trained on.
        trained = set(version.params["train_individuals"])
        assert trained and not trained & held_out
        assert trained <= set(ids) - held_out
        found = confirmed_sightings(s, DEFAULT_KEY)
        used = version.metrics["training"]["train_sightings"]
        assert used == sum(1 for i in found.individual_ids if i in trained) - 1
        assert trainee in trained
        # It beat the champion on the test individuals, so the gate promoted it.
        assert result["promoted"] is True
        assert aliases.resolve(s, REID_ALIAS) == version.id
        assert aliases.resolve(s, "champion") is None  # the detector's alias is untouched
        gate = s.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity == "model_version", AuditEntry.entity_id == str(version.id)
            )
        ).all()
        assert "model.gate.pass" in gate
        projection = champion_projection(s, project, DEFAULT_KEY)
        assert projection is not None

    # The suggest job compares through the promoted projection: each recorded suggestion
    # is the projected ranking's best, with its similarity, not the plain vectors'.
    queries = [animal_boxes[-1] for animal_boxes in boxes.values()]
    with project.db.session() as s:
        projected = {b: suggest(s, DEFAULT_KEY, b, 1, projection)[0] for b in queries}
        plain = {b: suggest(s, DEFAULT_KEY, b, 1)[0] for b in queries}
    rita = project.author("rita")
    assert run_job(project, submit_suggestions(project, -1.0, rita))["state"] == "succeeded"
    with project.db.session() as s:
        recorded = {
            box: (individual, score)
            for box, individual, score in s.execute(
                select(Sighting.label_box_id, Sighting.individual_id, Sighting.score).where(
                    Sighting.source == "suggestion"
                )
            )
        }
    assert recorded == {b: (c.individual_id, c.similarity) for b, c in projected.items()}
    assert sum(plain[b].similarity != score for b, (_, score) in recorded.items()) > ANIMALS / 2
    right = sum(recorded[b][0] == ids[a] for a, b in enumerate(queries))
    assert right >= ANIMALS - 2, right


def test_one_training_at_a_time(project: Project, tmp_path: Path) -> None:
    _confirmed(project, tmp_path)
    start_embedder_training(project, epochs=5)  # queued, not run
    with pytest.raises(Conflict, match="already in progress"):
        start_embedder_training(project, epochs=5)


def _register_projection(project: Project, folder: Path, name: str, weights: np.ndarray) -> int:
    dim = weights.shape[1]
    Projection(np.zeros(dim, np.float32), weights.astype(np.float32), DEFAULT_KEY).save(
        folder / f"{name}.npz"
    )
    return register_head(
        project,
        folder / f"{name}.npz",
        name,
        task=REID_EMBEDDER,
        fmt="npz",
        classes=[],
        provenance=Provenance(params={"embedder": DEFAULT_KEY}, notes=name),
    ).id


def test_require_significant_gates_on_the_individual_bootstrap(
    project: Project, tmp_path: Path
) -> None:
    """With ``[gate] require_significant`` the re-ID gate needs the bootstrap interval of
    the top-1 difference (test individuals resampled) above zero: a clearly better embedder
    passes, an equal one is refused with the interval in the reason."""
    _confirmed(project, tmp_path)
    project.config.gate.require_significant = True
    worse = _register_worse(project, tmp_path)
    promote_embedder(project, worse, force=True, reason="a weak champion to beat")
    with project.db.session() as s:
        dim = confirmed_sightings(s, DEFAULT_KEY).matrix.shape[1]
    # The identity keeps every number of the plain vectors: far better than two of them.
    better = _register_projection(project, tmp_path, "identity", np.eye(dim))
    passed = promote_embedder(project, better)
    interval = passed["interval"]
    assert passed["promoted"] is True, passed["decision"]
    assert interval["low"] > 0 and interval["high"] >= interval["low"]
    assert interval["resampled_individuals"] == passed["test_individuals"]
    assert interval["samples"] == project.config.evaluation.bootstrap_samples
    # Twice the identity ranks exactly alike (vectors are normalised): the difference is 0.
    same = _register_projection(project, tmp_path, "identity-twice", 2 * np.eye(dim))
    refused = promote_embedder(project, same)
    assert refused["promoted"] is False
    assert refused["interval"]["low"] == refused["interval"]["high"] == 0
    assert any(
        "interval of the improvement [+0.0000, +0.0000] includes zero" in r
        for r in refused["decision"]["reasons"]
    ), refused["decision"]["reasons"]
    with project.db.session() as s:
        assert aliases.resolve(s, REID_ALIAS) == better
    # Without the rule, the interval is reported but not required.
    project.config.gate.require_significant = False
    assert promote_embedder(project, same)["decision"]["reasons"] == [
        r for r in refused["decision"]["reasons"] if "interval" not in r
    ]


def test_individual_bootstrap_is_paired_and_resamples_whole_individuals() -> None:
    """Every query of a drawn individual counts; a constant gain gives a point interval,
    and a gain on one animal of many gives an interval that includes zero."""
    groups = np.repeat(np.arange(10), 3)
    old = np.zeros(30, bool)
    assert paired_rate_interval(old, ~old, groups, samples=200).low == 1.0
    one = old.copy()
    one[:3] = True  # one individual's three queries go right
    found = paired_rate_interval(old, one, groups, samples=500)
    assert found.groups == 10 and found.low <= 0 < found.high
    with pytest.raises(ValueError, match="same queries"):
        paired_rate_interval(old, one[:3], groups)
