"""Agreement of a real challenger with the real champion on shadowed items: the trained
fixture detector at 160 px against the same weights registered at 128 px (different
boxes and scores, the same classes). The figures are checked against a plain recount from
the stored predictions; the challenger's sets never reach the review API, the grid, the
MegaDetector export or analytics; the review queue reads them for its disagreement signal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.detectors import trained_pt  # noqa: F401 (fixture)
from tests.support.engine import ingest_dir
from tests.support.review import add_users, logged_in_clients
from wildloop.analytics.detections import predicted_detections
from wildloop.evaluation.shadow import disagreements, shadow_status
from wildloop.interchange.megadetector import export as export_md
from wildloop.jobs.local import run_job
from wildloop.models.registration import register_model
from wildloop.processing.predict_job import submit_process
from wildloop.processing.shadow import set_share
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.review.queue import REFRESH_EVERY, refresh_order, value_queue
from wildloop.store.tables import Job, Prediction, PredictionSet
from wildloop.synthetic.scenes import Frame
from wildloop.web.app import create_app

pytestmark = pytest.mark.xdist_group("trained-detector")


def _shown(project: Project, version_id: int) -> dict[int, list[tuple[str, float, tuple]]]:
    """Per item, the boxes the version shows: at or above each class's threshold."""
    t = project.config.thresholds
    with project.db.session() as session:
        rows = session.execute(
            select(PredictionSet.media_id, Prediction)
            .join(Prediction, Prediction.prediction_set_id == PredictionSet.id)
            .where(PredictionSet.model_version_id == version_id)
        ).all()
    out: dict[int, list[tuple[str, float, tuple]]] = {}
    for media_id, p in rows:
        if p.score >= max(t.store, t.per_class.get(p.class_name, t.default)):
            out.setdefault(media_id, []).append((p.class_name, p.score, (p.x, p.y, p.w, p.h)))
    return out


def _iou(a: tuple, b: tuple) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _pairs_up(ours: list, theirs: list) -> bool:
    if not ours or len(ours) != len(theirs):
        return False
    free = list(theirs)
    for box in sorted(ours, key=lambda b: -b[1]):
        best = max(free, key=lambda o: _iou(box[2], o[2]), default=None)
        if best is None or _iou(box[2], best[2]) < 0.5:
            return False
        free.remove(best)
    return True


def _recount(ours: dict, theirs: dict, items: list[int]) -> tuple[Counter, dict]:
    outcomes: Counter[str] = Counter()
    per_class: dict[str, list[int]] = {}
    for m in items:
        a, b = ours.get(m, []), theirs.get(m, [])
        names = {x[0] for x in a} | {x[0] for x in b}
        same = {}
        for n in names:
            same[n] = _pairs_up([x for x in a if x[0] == n], [x for x in b if x[0] == n])
            per_class.setdefault(n, [0, 0])
            per_class[n][0] += 1
            per_class[n][1] += same[n]
        top_a = max(a, key=lambda x: x[1])[0] if a else None
        top_b = max(b, key=lambda x: x[1])[0] if b else None
        if top_a is None and top_b is None:
            outcomes["agree"] += 1
        elif top_b is None:
            outcomes["champion_only"] += 1
        elif top_a is None:
            outcomes["challenger_only"] += 1
        elif top_a != top_b:
            outcomes["different_class"] += 1
        else:
            outcomes["agree" if all(same.values()) else "different_boxes"] += 1
    return outcomes, per_class


def _run(project: Project, job_id: int) -> dict[str, Any]:
    status = run_job(project, job_id)
    assert status["state"] == "succeeded", status
    return status


def _latest(project: Project, kind: str) -> int:
    with project.db.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.kind == kind).order_by(Job.id.desc()))
    assert job_id is not None
    return job_id


def test_agreement_of_a_real_challenger_matches_a_recount(
    project: Project,
    scenes: Callable[..., list[Frame]],
    tmp_path: Path,
    trained_pt: Path,  # noqa: F811
) -> None:
    scenes(bursts=5, seed=1)  # the scenes the fixture detector was trained on
    ingest_dir(project, tmp_path / "scenes")
    champion = register_model(project, trained_pt, "champ", imgsz=160)
    challenger = register_model(project, trained_pt, "chall", imgsz=128)
    with project.db.session() as session:
        aliases.promote(session, champion.id, None, reason="test")
        aliases.move_alias(session, "challenger", challenger.id, None, "test")
    set_share(project, 1.0)

    submitted = submit_process(project)
    _run(project, submitted.job_id)
    refresh_order(project)
    before = {item.media_id: item.reasons for item in value_queue(project, 500).items}
    assert not any("challenger says" in r for rs in before.values() for r in rs)

    shadow_job = _latest(project, "shadow")
    result = _run(project, shadow_job)["result"]
    assert result["agreement_job"]  # the refreshes it asked for; the queue's for a big run
    assert bool(result["queue_job"]) == (len(submitted.media_ids) >= REFRESH_EVERY)
    figures = _run(project, result["agreement_job"])["result"]

    items = sorted(submitted.media_ids)
    ours, theirs = _shown(project, champion.id), _shown(project, challenger.id)
    outcomes, per_class = _recount(ours, theirs, items)
    assert figures["shadowed"] == figures["compared"] == len(items)
    assert figures["outcomes"] == {k: outcomes[k] for k in figures["outcomes"]}
    assert figures["agreed"] == outcomes["agree"]
    assert figures["agreement"] == round(outcomes["agree"] / len(items), 4)
    assert {c["class"]: [c["items"], c["agreed"]] for c in figures["per_class"]} == per_class
    # A real difference: the 128 px run does not say exactly what the 160 px run says.
    assert 0 < outcomes["agree"] < len(items)
    assert shadow_status(project)["figures"] == figures

    # Keyset pages of the disagreements cover each exactly once.
    with project.db.session() as session:
        seen, after = [], None
        while True:
            page, after = disagreements(session, champion.id, challenger.id, after=after, limit=3)
            seen += [d.media_id for d in page]
            if after is None:
                break
    assert seen == sorted(seen) and len(seen) == len(items) - outcomes["agree"]

    # The queue, refreshed after the shadow run, reads the challenger's answers.
    if result["queue_job"]:
        _run(project, result["queue_job"])
    else:
        refresh_order(project)
    after_queue = {item.media_id: item.reasons for item in value_queue(project, 500).items}
    flagged = {m for m, rs in after_queue.items() if any("challenger says" in r for r in rs)}
    assert flagged and flagged <= set(seen)

    _never_shown(project, champion.id, challenger.id, ours, items)


def _never_shown(
    project: Project, champion: int, challenger: int, ours: dict, items: list[int]
) -> None:
    """The review API, the grid, the export and analytics show the champion's answers."""
    add_users(project, {"ana": "reviewer"})
    t = project.config.thresholds
    with project.db.session() as session:
        sets = {(s.media_id, s.model_version_id): s for s in session.scalars(select(PredictionSet))}
        exported = export_md(session, "champion", min_score=t.store)
        detections = predicted_detections(session, {}, t.default)
        stored = {
            version: sorted(
                score
                for score in session.scalars(
                    select(Prediction.score)
                    .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
                    .where(PredictionSet.model_version_id == version, Prediction.score >= t.store)
                )
            )
            for version in (champion, challenger)
        }
    differs = [m for m in items if sets[(m, champion)].top_score != sets[(m, challenger)].top_score]
    assert differs
    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        c = client("ana")
        for m in differs[:5]:
            shown = {p["id"] for p in c.get(f"/api/v1/media/{m}").json()["predictions"]}
            assert shown and shown <= _set_ids(project, sets[(m, champion)].id)
        grid = c.get("/api/v1/media?limit=200").json()["items"]
        assert len(grid) == len(items)
        for item in grid:
            s = sets[(item["id"], champion)]
            if s.top_class_id is not None:
                assert item["score"] == round(s.top_score, 4)
    confs = sorted(d["conf"] for i in exported["images"] for d in i["detections"])
    assert len(confs) == len(stored[champion])
    assert all(abs(a - b) < 1e-3 for a, b in zip(confs, stored[champion], strict=True))
    assert stored[champion] != stored[challenger]

    # Analytics counts the champion's confident items (every scene item has a time and camera).
    def confident(version: int) -> int:
        return sum(
            1
            for (_, v), s in sets.items()
            if v == version and s.top_class_id is not None and (s.top_score or 0) >= t.default
        )

    assert len(detections) == confident(champion)


def _set_ids(project: Project, set_id: int) -> set[int]:
    with project.db.session() as session:
        return set(
            session.scalars(select(Prediction.id).where(Prediction.prediction_set_id == set_id))
        )
