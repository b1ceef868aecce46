"""Per-class thresholds from reviewed items, on a real database with generated labels and
predictions whose right and wrong boxes are known by construction: the chosen threshold must
reach the target precision on that data, and the next lower cut-off must not (the most recall
for the precision); best F1 must beat every other cut-off."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from typer.testing import CliRunner

from tests.support.review import add_users, login
from wildloop.cli.app import app as cli_app
from wildloop.config import load_config
from wildloop.domain.boxes import Box
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.errors import BadInput, NotFound, PermissionDenied
from wildloop.evaluation.class_thresholds import apply_thresholds, latest_thresholds
from wildloop.evaluation.promotion import promote_compared
from wildloop.evaluation.thresholds_job import submit_thresholds
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import (
    AuditEntry,
    Media,
    ModelAlias,
    ModelVersion,
    Prediction,
    PredictionSet,
)
from wildloop.users.accounts import tool_actor
from wildloop.web.app import create_app

CLASSES = ["buck", "doe", "fawn"]


@dataclass
class Scored:
    """One generated detection: its class, score and whether it is right by construction."""

    class_name: str
    score: float
    right: bool
    counted: bool  # on a reviewed val/test item, so the computation must see it


@dataclass
class World:
    version_id: int
    detections: list[Scored]
    positives: dict[str, int]  # human boxes per class on the counted items
    counted_items: int


def _media(project: Project, count: int, split: str) -> list[int]:
    with project.db.session() as session:
        session.execute(
            insert(Media),
            [
                {"path": f"/gen/{split}/{i}.jpg", "kind": "image", "split": split}
                for i in range(count)
            ],
        )
        return list(
            session.scalars(select(Media.id).where(Media.split == split).order_by(Media.id))
        )


def build_world(project: Project, seed: int = 7) -> World:
    """Reviewed items with 1-2 animals each; the model finds most of them (score skewed
    high when right), sometimes names the wrong class, and adds background false positives
    (score skewed low). Unreviewed and train items carry predictions that must be ignored."""
    rng = random.Random(seed)
    author = project.author("alice")
    classes = project.classes
    val, test, train = (
        _media(project, 50, "val"),
        _media(project, 40, "test"),
        _media(project, 20, "train"),
    )
    unreviewed = val[40:]
    with project.db.session() as session:
        version = ModelVersion(
            name="gen-v1", source="external", classes=CLASSES, params={}, metrics={}
        )
        session.add(version)
        session.flush()
        session.add(ModelAlias(alias="champion", model_version_id=version.id))
        detections: list[Scored] = []
        positives: dict[str, int] = defaultdict(int)
        for media_id in val + test + train:
            reviewed = media_id not in unreviewed
            counted = reviewed and media_id not in train
            animals = [
                (rng.choice(CLASSES), Box(0.05 + 0.45 * k, 0.1, 0.3, 0.3))
                for k in range(rng.choice((1, 2)))
            ]
            if reviewed:
                save_labels(
                    session,
                    media_id,
                    LabelSet(tuple(LabelBoxValue(b, classes.id_of(n)) for n, b in animals)),
                    author_id=author,
                    classes=classes,
                    expected_revision=None,
                )
            preds: list[tuple[str, float, Box]] = []
            for name, box in animals:
                if counted:
                    positives[name] += 1
                if rng.random() < 0.15:
                    continue  # missed
                jitter = Box(box.x + rng.uniform(-0.02, 0.02), box.y, box.w, box.h)
                if rng.random() < 0.15:
                    wrong = rng.choice([c for c in CLASSES if c != name])
                    preds.append((wrong, rng.uniform(0.2, 0.8), jitter))
                else:
                    preds.append((name, rng.betavariate(5, 2), jitter))
            if rng.random() < 0.5:  # background: never overlaps an animal (y 0.7)
                preds.append((rng.choice(CLASSES), rng.betavariate(2, 4), Box(0.3, 0.7, 0.1, 0.1)))
            pset = PredictionSet(media_id=media_id, model_version_id=version.id, count=len(preds))
            session.add(pset)
            session.flush()
            for name, score, box in preds:
                session.add(
                    Prediction(
                        prediction_set_id=pset.id,
                        class_id=classes.id_of(name),
                        class_name=name,
                        score=score,
                        x=box.x,
                        y=box.y,
                        w=box.w,
                        h=box.h,
                    )
                )
                right = any(
                    n == name and abs(b.x - box.x) < 0.05 and b.y == box.y for n, b in animals
                )
                detections.append(Scored(name, score, right, counted))
        return World(version.id, detections, dict(positives), 80)


def _at(world: World, name: str, cut: float) -> tuple[float, float]:
    """Precision and recall of class ``name`` keeping the counted boxes scored >= cut."""
    kept = [d for d in world.detections if d.counted and d.class_name == name and d.score >= cut]
    right = sum(d.right for d in kept)
    return (right / len(kept) if kept else 1.0), right / world.positives[name]


def _compute(project: Project, **kwargs: Any) -> dict[str, Any]:
    options = {"mode": "precision", "target_precision": 0.9, "splits": ["val", "test"]}
    job_id = submit_thresholds(project, "champion", created_by=None, **{**options, **kwargs})
    status = run_job(project, job_id, workers=1)
    assert status["state"] == "succeeded", status
    return latest_thresholds(project, "champion").as_dict()


def test_thresholds_reach_the_target_precision_with_the_most_recall(make_project) -> None:
    project = make_project(CLASSES)
    world = build_world(project)
    found = _compute(project)
    assert found["items"] == world.counted_items  # unreviewed and train items left out
    assert found["mode"] == "precision" and found["target_precision"] == 0.9
    reached = 0
    for name in CLASSES:
        values = found["classes"][name]
        t = values["threshold"]
        assert t["positives"] == world.positives[name]
        counted = sorted({d.score for d in world.detections if d.counted and d.class_name == name})
        if t["threshold"] is None:
            assert all(_at(world, name, s)[0] < 0.9 for s in counted)
            continue
        reached += 1
        precision, recall = _at(world, name, t["threshold"])
        assert precision >= 0.9 and precision == pytest.approx(t["precision"])
        assert recall == pytest.approx(t["recall"])
        lower = [s for s in counted if s < t["threshold"]]
        assert all(_at(world, name, s)[0] < 0.9 for s in lower)  # lowest such cut-off
        curve = values["curve"]
        assert curve["precision"] and len(curve["precision"]) == len(curve["thresholds"])
        assert curve["thresholds"] == sorted(curve["thresholds"], reverse=True)
    assert reached >= 2  # the generated data lets most classes reach 0.9


def test_best_f1_beats_every_other_cut_off(make_project) -> None:
    project = make_project(CLASSES)
    world = build_world(project, seed=3)
    found = _compute(project, mode="best_f1")
    assert found["target_precision"] is None
    for name in CLASSES:
        t = found["classes"][name]["threshold"]

        def f1(cut: float, name: str = name) -> float:
            p, r = _at(world, name, cut)
            return 2 * p * r / (p + r) if p + r else 0.0

        scores = {d.score for d in world.detections if d.counted and d.class_name == name}
        assert f1(t["threshold"]) >= max(f1(s) for s in scores) - 1e-12


def test_apply_writes_the_config_audited_and_only_admins_may(make_project) -> None:
    project = make_project(CLASSES)
    build_world(project)
    with pytest.raises(NotFound, match="compute"):
        apply_thresholds(project, actor=None)
    project.config.thresholds.per_class = {"doe": 0.33, "raccoon": 0.5}
    project.save_config()
    found = _compute(project)
    chosen = {n: v["threshold"]["threshold"] for n, v in found["classes"].items()}
    add_users(project, {"rita": "reviewer"})
    with project.db.session() as session:
        rita = tool_actor(session, project.author("rita"))
    with pytest.raises(PermissionDenied):
        apply_thresholds(project, actor=rita)
    result = apply_thresholds(project, actor=None)
    saved = load_config(project.root).thresholds.per_class
    assert saved["raccoon"] == 0.5  # a class the set has no threshold for keeps its own
    for name, value in chosen.items():
        expected = 0.33 if value is None and name == "doe" else value
        assert saved.get(name) == (None if expected is None else pytest.approx(expected))
    with project.db.session() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "thresholds.apply")
        ).one()
        assert entry.before == {"per_class": {"doe": 0.33, "raccoon": 0.5}}
        assert entry.after["per_class"] == result["after"] == saved
        assert entry.after["threshold_set_id"] == found["id"]


def test_bad_requests_are_refused_before_any_job(make_project) -> None:
    project = make_project(CLASSES)
    for kwargs, words in [
        ({"target_precision": 0.0}, "precision"),
        ({"target_precision": 1.5}, "precision"),
        ({"splits": ["holdout"]}, "splits"),
        ({"splits": []}, "splits"),
        ({"mode": "median"}, "mode"),
    ]:
        options: dict[str, Any] = {
            "mode": "precision",
            "target_precision": 0.9,
            "splits": ["val"],
            **kwargs,
        }
        with pytest.raises(BadInput, match=words):
            submit_thresholds(project, "champion", created_by=None, **options)
    with pytest.raises(NotFound):
        submit_thresholds(
            project,
            "champion",
            mode="precision",
            target_precision=0.9,
            splits=["val"],
            created_by=None,
        )


def test_api_queues_a_job_serves_the_curves_and_applies_for_admins(make_project) -> None:
    project = make_project(CLASSES)
    build_world(project)
    add_users(project, {"ada": "admin", "rita": "reviewer"})
    with TestClient(create_app(project)) as client:
        login(client, "rita")
        assert client.get("/api/v1/models/champion/thresholds").status_code == 404
        queued = client.post("/api/v1/thresholds", json={"target_precision": 0.8})
        assert queued.status_code == 202
        status = run_job(project, queued.json()["job_id"], workers=1)
        assert status["state"] == "succeeded"
        got = client.get("/api/v1/models/champion/thresholds").json()
        assert got["target_precision"] == 0.8 and set(got["classes"]) == set(CLASSES)
        assert all("curve" in v for v in got["classes"].values())
        page = client.get("/models").text  # the curve in view where an admin applies
        assert 'id="class-thresholds"' in page and page.count("<polyline") == len(CLASSES)
        assert 'id="apply-thresholds" disabled' in page  # rita is no admin
        assert client.post("/api/v1/thresholds/apply", json={}).status_code == 403
        login(client, "ada")
        applied = client.post("/api/v1/thresholds/apply", json={"model": "gen-v1"})
        assert applied.status_code == 200
        assert 'id="apply-thresholds" >' in client.get("/models").text
        assert load_config(project.root).thresholds.per_class == got["thresholds"]


def test_cli_computes_shows_and_applies(make_project) -> None:
    project = make_project(CLASSES)
    build_world(project)
    env = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
    root = str(project.root)

    def cli(*args: str) -> Any:
        return CliRunner().invoke(cli_app, [*args, "-p", root], env=env)

    both = cli("thresholds", "compute", "--precision", "0.8", "--best-f1")
    assert both.exit_code != 0 and "either --precision or --best-f1" in str(both.exception)
    assert cli("thresholds", "compute", "--precision", "1.5").exit_code == 2
    done = cli("thresholds", "compute", "--best-f1", "--json")
    assert done.exit_code == 0, done.output
    found = json.loads(done.output[done.output.index("{") :])  # after the progress bar
    assert found["mode"] == "best_f1"
    shown = cli("thresholds", "show")
    assert shown.exit_code == 0 and "best F1" in shown.output and "precision" in shown.output
    applied = cli("thresholds", "apply", "--json")
    assert applied.exit_code == 0, applied.output
    assert load_config(project.root).thresholds.per_class == found["thresholds"]


def _passed(challenger: int, champion: int) -> dict[str, Any]:
    """What a finished comparison job hands the gate when the challenger passed."""
    return {
        "challenger": {"model_version_id": challenger},
        "champion": {"model_version_id": champion},
        "decision": {"promote": True, "reasons": ["better on the test snapshot"]},
    }


def test_thresholds_follow_the_champion_through_promotions(make_project) -> None:
    project = make_project(CLASSES)
    world = build_world(project)
    v1 = world.version_id
    with project.db.session() as session:
        # Registered rather than imported, so either may be champion (nothing is run here).
        session.get_one(ModelVersion, v1).source = "registered"
        v2 = ModelVersion(
            name="gen-v2", source="registered", classes=CLASSES, params={}, metrics={}
        )
        session.add(v2)
        session.flush()
        v2_id = v2.id
    computed = _compute(project)["thresholds"]
    apply_thresholds(project, actor=None)
    assert load_config(project.root).thresholds.per_class_model == v1

    # A champion without computed thresholds: v1's are not applied to it.
    moved = promote_compared(project, _passed(v2_id, v1), reprocess=False)
    assert moved["promoted"] and "has no computed per-class thresholds" in moved["thresholds"]
    saved = load_config(project.root).thresholds
    assert saved.per_class == {} and saved.per_class_model is None

    # Back to v1, which has computed thresholds: they take effect again.
    moved = promote_compared(project, _passed(v1, v2_id), reprocess=False)
    assert "gen-v1" in moved["thresholds"] and "now apply" in moved["thresholds"]
    saved = load_config(project.root).thresholds
    assert saved.per_class == pytest.approx(computed) and saved.per_class_model == v1
    with project.db.session() as session:
        follows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "thresholds.follow")
        ).all()
    assert [e.after["model_version_id"] for e in follows] == [None, v1]

    # Thresholds set by hand name no model: they stay, and the promotion says so.
    project.config.thresholds.per_class = {"doe": 0.4}
    project.config.thresholds.per_class_model = None
    project.save_config()
    moved = promote_compared(project, _passed(v2_id, v1), reprocess=False)
    assert "set by hand" in moved["thresholds"]
    assert load_config(project.root).thresholds.per_class == {"doe": 0.4}
