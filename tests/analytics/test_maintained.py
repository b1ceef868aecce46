"""Analytics per species and per event, and the sums kept on save checked against the labels.

The hand-computed fixture has photos with two species and bursts (sequences); the random
archive goes through every way labels change (import, saves, undo, batch actions, a clock
offset) and after each the report read from the maintained sums must equal the report
grouped from the labels themselves."""

from __future__ import annotations

import dataclasses
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update

from wildloop.analytics.report import AnalyticsQuery, Per, Source, activity_report
from wildloop.datasets.importers.dataset import ImportedBox, ImportedDataset, ImportedImage
from wildloop.datasets.label_import import import_labels
from wildloop.domain.activity import Period
from wildloop.domain.boxes import Box
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.media.cameras import CameraChange, update_camera
from wildloop.project import Project
from wildloop.review.actions import Action, ReviewContext, perform_action
from wildloop.review.batch import apply_batch
from wildloop.review.labels import save_labels
from wildloop.store.tables import AnalyticsEvent, AnalyticsState, Media
from wildloop.tallies import maintained
from wildloop.users.roles import Actor, Role

CLASSES = ["deer", "boar"]
T0 = datetime(2024, 3, 1, 10, 0)


def _box(i: int) -> Box:
    return Box(0.05 + 0.1 * i, 0.1, 0.08, 0.08)


def _images(root: Path, rows: list[tuple[str, datetime, str | None, list[str]]]) -> list[Any]:
    """Tiny distinct JPEGs; rows are (camera, time, sequence key, box classes)."""
    root.mkdir(parents=True, exist_ok=True)
    images = []
    for i, (camera, when, sequence, boxes) in enumerate(rows):
        path = root / f"{camera}_{i:03d}.jpg"
        image = Image.new("RGB", (16, 12), (90, 90, 90))
        for k, bit in enumerate(f"{sum(map(ord, root.name)) % 4096:012b}{i:012b}"):
            image.putpixel((k % 8 * 2, k // 8 * 2), (255, 255, 255) if bit == "1" else (0, 0, 0))
        image.save(path, quality=100)
        images.append(
            ImportedImage(
                path=path,
                boxes=tuple(ImportedBox(c, _box(j)) for j, c in enumerate(boxes)),
                sequence_key=sequence,
                captured_at=when,
                camera=camera,
            )
        )
    return images


def _import(project: Project, root: Path, rows: list[Any]) -> None:
    dataset = ImportedDataset(f"test:{root}/x.json", CLASSES, _images(root, rows))
    report = import_labels(project, dataset, author="ida")
    assert report.labelled == len(rows), report


def _report(project: Project, exact: bool = False, **kw: Any) -> Any:
    with project.db.session() as session:
        return activity_report(
            session,
            project.classes,
            project.config.thresholds,
            AnalyticsQuery(**kw),
            exact=exact,
        )


# camD: one burst S1 at 10:00 (deer x2 + boar, then deer x3), a burst S2 at 10:20 (deer),
# a lone photo at 12:00 (boar). camE: a burst S3 at 10:00 (boar, boar x2).
FIXTURE = [
    ("camD", T0, "S1", ["deer", "deer", "boar"]),
    ("camD", T0 + timedelta(seconds=2), "S1", ["deer", "deer", "deer"]),
    ("camD", T0 + timedelta(minutes=20), "S2", ["deer"]),
    ("camD", T0 + timedelta(hours=2), None, ["boar"]),
    ("camE", T0, "S3", ["boar"]),
    ("camE", T0 + timedelta(seconds=2), "S3", ["boar", "boar"]),
]


@pytest.fixture
def fixture_project(make_project: Any, tmp_path: Path) -> Project:
    project: Project = make_project(CLASSES)
    _import(project, tmp_path / "fixture", FIXTURE)
    return project


def _counts(report: Any) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {
        (c["class"], c["camera"]): (c["media"], c["events"], c["animals"]) for c in report.counts
    }


def test_each_species_in_a_photo_counts_with_its_boxes(fixture_project: Project) -> None:
    r = _report(fixture_project)
    assert r.computed == "maintained"
    # deer at camD: 3 photos, one independent event 10:00-10:20, at most 3 deer at once.
    # boar at camD: the first photo and 12:00 (2 h later): 2 events of 1.
    # boar at camE: 2 photos, one event, at most 2.
    assert _counts(r) == {
        ("deer", "camD"): (3, 1, 3),
        ("boar", "camD"): (2, 2, 2),
        ("boar", "camE"): (2, 1, 2),
    }
    assert (r.media, r.events) == (7, 4)
    assert r.diel["boar"][10] == 2 and r.diel["boar"][12] == 1
    rates = {(x["class"], x["camera"]): x["events"] for x in r.rates}
    assert rates[("deer", "(all)")] == 1 and rates[("boar", "(all)")] == 3
    exact = _report(fixture_project, exact=True)
    assert exact.computed == "exact" and _counts(exact) == _counts(r)


def test_per_event_counts_sequences_with_the_most_boxes_in_a_frame(
    fixture_project: Project,
) -> None:
    r = _report(fixture_project, per=Per.EVENT)
    assert (r.per, r.computed) == ("event", "exact")
    # deer at camD: S1 (most in a frame: 3) and S2 (1) are two events, 4 animals.
    # boar at camD: S1 (1) and the lone 12:00 photo (1); boar at camE: S3 (2).
    assert _counts(r) == {
        ("deer", "camD"): (3, 2, 4),
        ("boar", "camD"): (2, 2, 2),
        ("boar", "camE"): (2, 1, 2),
    }
    assert r.events == 5
    assert _counts(_report(fixture_project, per=Per.EVENT, exact=True)) == _counts(r)
    # The independence interval does not group sequences.
    assert _counts(_report(fixture_project, per=Per.EVENT, interval_minutes=600)) == _counts(r)


def test_queries_the_sums_cannot_answer_say_so(fixture_project: Project) -> None:
    assert "interval" in _report(fixture_project, interval_minutes=10).computed_note
    window = _report(fixture_project, since=T0, until=T0 + timedelta(hours=1))
    assert window.computed == "exact" and "window" in window.computed_note
    both = _report(fixture_project, source=Source.LABELS_AND_PREDICTIONS)
    assert "predictions" in both.computed_note
    assert _counts(both) == _counts(_report(fixture_project))


def test_an_unbuilt_project_reports_exactly_until_rebuilt(fixture_project: Project) -> None:
    project = fixture_project
    with project.db.session() as s:
        s.execute(update(AnalyticsState).values(built=False))
    unbuilt = _report(project)
    assert unbuilt.computed == "exact" and "not built" in unbuilt.computed_note
    with project.db.session() as s:
        assert maintained.rebuild(s) == 7
    rebuilt = _report(project)
    assert rebuilt.computed == "maintained" and _counts(rebuilt) == _counts(unbuilt)


# --- the random archive -------------------------------------------------------------------


def _random_rows(rng: random.Random, n: int) -> list[Any]:
    rows = []
    clocks = dict.fromkeys(("c1", "c2", "c3"), T0)
    for i in range(n):
        cam = rng.choice(sorted(clocks))
        clocks[cam] += timedelta(minutes=rng.choice([1, 5, 12, 20, 29, 30, 31, 45, 200, 60 * 13]))
        boxes = [rng.choice(CLASSES) for _ in range(rng.randint(1, 3))]
        rows.append((cam, clocks[cam], f"{cam}-{i // 3}" if rng.random() < 0.5 else None, boxes))
    return rows


def _assert_exact(project: Project) -> None:
    for period in (Period.MONTH, Period.DAY):
        fast = _report(project, period=period).as_dict()
        exact = _report(project, period=period, exact=True).as_dict()
        assert fast.pop("computed") == "maintained"
        assert exact.pop("computed") == "exact"
        fast.pop("computed_note"), exact.pop("computed_note")
        assert fast == exact


def _labels(project: Project, rng: random.Random) -> LabelSet:
    boxes = tuple(
        LabelBoxValue(_box(j), project.classes.id_of(rng.choice(CLASSES)))
        for j in range(rng.randint(0, 3))
    )
    return LabelSet(boxes=boxes, empty=not boxes)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_sums_stay_exact_through_saves_undo_batches_imports_and_clock_changes(
    make_project: Any, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    project: Project = make_project(CLASSES)
    _import(project, tmp_path / "a", _random_rows(rng, 45))
    _assert_exact(project)
    with project.db.session() as s:
        ids = list(s.scalars(select(Media.id).order_by(Media.id)))
    author = project.author("rita")
    actor = Actor(author, "rita", Role.REVIEWER)
    ctx = ReviewContext(project.classes, project.config.thresholds)
    # Single saves, each committed: new classes, more boxes, empty frames.
    for media_id in rng.sample(ids, 30):
        with project.db.session() as s:
            save_labels(
                s,
                media_id,
                _labels(project, rng),
                author_id=author,
                classes=project.classes,
                expected_revision=None,
            )
    _assert_exact(project)
    # Undo: back to the previous revision, or back to unreviewed.
    for media_id in rng.sample(ids, 8):
        with project.db.session() as s:
            perform_action(
                s, ctx, actor, media_id, Action("undo"), expected_revision=None, model_id=None
            )
    _assert_exact(project)
    # Batch actions: one class for every box, then a few marked empty.
    with project.db.session() as s:
        boar = Action("set_class", class_id=project.classes.id_of("boar"))
        apply_batch(s, ctx, actor, rng.sample(ids, 10), boar, model_id=None)
    with project.db.session() as s:
        apply_batch(s, ctx, actor, rng.sample(ids, 6), Action("empty"), model_id=None)
    _assert_exact(project)
    # A second import adds photos between the first ones.
    _import(project, tmp_path / "b", _random_rows(rng, 20))
    _assert_exact(project)
    # A clock offset moves a camera's photos across hours and days.
    with project.db.session() as s:
        update_camera(s, "c2", CameraChange(clock_offset_seconds=-11 * 3600 - 17), author)
    _assert_exact(project)
    # The kept events are what a rebuild from the labels gives.
    kept = _events(project)
    with project.db.session() as s:
        maintained.rebuild(s)
    assert _events(project) == kept and kept


def _events(project: Project) -> list[tuple[int, ...]]:
    e = AnalyticsEvent
    with project.db.session() as s:
        return sorted(
            tuple(r)
            for r in s.execute(
                select(e.camera_id, e.class_id, e.started, e.ended, e.media, e.animals)
            )
        )


def test_two_saves_at_one_camera_at_once_regroup_one_after_the_other(
    make_project: Any, tmp_path: Path, db_url: str
) -> None:
    """PostgreSQL: save A joins 10:00 and 10:20 while save B, in its own transaction, joins
    10:40 and 11:00. B must see A's event (it waits for A's camera row), or the two would
    leave two events where the labels say one."""
    if not db_url:
        pytest.skip("SQLite has one writer: saves cannot interleave")
    project: Project = make_project(CLASSES)
    rows = [("cX", T0 + timedelta(minutes=m), None, ["deer"]) for m in (0, 20, 40, 60)]
    images = _images(tmp_path / "x", rows)
    images[1] = dataclasses.replace(images[1], labelled=False)
    images[2] = dataclasses.replace(images[2], labelled=False)
    import_labels(project, ImportedDataset(f"test:{tmp_path}/x.json", CLASSES, images))
    with project.db.session() as s:
        ids = list(s.scalars(select(Media.id).order_by(Media.captured_at)))
    author = project.author("rita")
    deer = LabelSet(boxes=(LabelBoxValue(_box(0), project.classes.id_of("deer")),))

    def save(session: Any, media_id: int) -> None:
        save_labels(
            session,
            media_id,
            deer,
            author_id=author,
            classes=project.classes,
            expected_revision=None,
        )

    def save_b() -> None:
        with project.db.session() as b:
            save(b, ids[2])

    with ThreadPoolExecutor(1) as pool, project.db.session() as a:
        save(a, ids[1])
        b_done = pool.submit(save_b)
        time.sleep(1.0)  # B reaches the camera's row and waits there
        a.commit()
    b_done.result(timeout=30)
    assert _report(project).events == 1
    _assert_exact(project)
