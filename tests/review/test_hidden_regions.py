"""A false-positive region hides the model's boxes there from the grid's filters and counts
and from every export that writes predictions (MegaDetector JSON, and the pseudo-labels of a
training snapshot: Camtrap DP machine observations, the CSV); a box of another camera at the
same place still shows, and undoing the decision brings them back. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from tests.support.loop import ingest_frames, make_model, media_split, record_predictions
from wildloop.analytics.detections import predicted_detections
from wildloop.datasets.exporters import export_snapshot
from wildloop.datasets.snapshot_model import PseudoLabels
from wildloop.datasets.snapshot_reader import load_snapshot
from wildloop.datasets.snapshots import create_snapshot
from wildloop.domain.boxes import Box
from wildloop.domain.repeats import Region
from wildloop.evaluation.promotion import make_first_champion
from wildloop.interchange import megadetector
from wildloop.project import Project
from wildloop.review import grid
from wildloop.review.filters import GridFilter
from wildloop.review.hidden_regions import hidden_regions
from wildloop.review.predictions import load_predictions
from wildloop.review.repeat_decisions import decide, undo
from wildloop.review.repeats import repeat_groups
from wildloop.store.tables import Camera, Media, Prediction, PredictionSet

ROCK = Box(0.05, 0.7, 0.12, 0.2)
ELSEWHERE = Box(0.5, 0.2, 0.2, 0.2)


def _setup(project: Project, scenes: Any, tmp_path: Path) -> dict[str, Any]:
    """Camera A: the model calls a rock a pig on every frame but one (``late``, predicted
    after the decision); camera B: one frame with a pig at the rock's place (``other``) and
    one with a pig elsewhere."""
    frames = scenes(bursts=24, seed=3)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    model = make_model(project, "rock-lover", source="trained")
    with project.db.session() as session:
        make_first_champion(session, model, None, "first", classes=project.classes)
    splits = media_split(project)
    camera = frames[0].camera
    on_a = [ids[f.file_name] for f in frames if f.camera == camera]
    on_b = [ids[f.file_name] for f in frames if f.camera != camera]
    late = next(m for m in on_a if splits[m][0] in ("train", "val"))
    other, pig = [m for m in on_b if splits[m][0] in ("train", "val")][:2]
    record_predictions(
        project,
        model,
        {m: [("pig", 0.8, ROCK)] for m in on_a if m != late}
        | {other: [("pig", 0.8, ROCK)], pig: [("pig", 0.7, ELSEWHERE)]},
    )
    a_frame = next(m for m in on_a if m != late)
    return {
        "model": model,
        "camera": camera,
        "late": late,
        "other": other,
        "pig": pig,
        "a_frame": a_frame,
    }


def _decide(project: Project) -> int:
    with project.db.session() as session:
        [group] = repeat_groups(session, min_score=0.5, min_items=10, min_bursts=3)
        return decide(
            session,
            group,
            "false_positive",
            actor_id=project.author("ada"),
            classes=project.classes,
            iou=0.85,
            min_score=0.5,
        ).id


def _grid(project: Project, flt: GridFilter) -> tuple[list[int], int]:
    with project.db.session() as session:
        ids = grid.matching_ids(session, flt, 10_000)
        total, _ = grid.count(session, flt)
    return ids, total


def _md_boxes(project: Project) -> dict[str, int]:
    with project.db.session() as session:
        out = megadetector.export(session, "champion")
        paths = dict(session.execute(select(Media.path, Media.id)).all())
    root = Path(min(paths, key=len)).parent
    boxes = {}
    for image in out["images"]:
        for path, media_id in paths.items():
            if Path(path).as_posix().endswith(image["file"]):
                boxes[str(media_id)] = len(image["detections"] or [])
    assert root  # every file is found
    return boxes


def _predicted_on(project: Project, camera: str) -> int:
    """The model's detections the analytics (and the activity report's CSV) count there."""
    with project.db.session() as session:
        camera_id = session.scalar(select(Camera.id).where(Camera.name == camera))
        found = predicted_detections(session, {}, 0.5)
    return len([d for d in found if d[0] == camera_id])


def _csv_media(folder: Path, name: str, column: str) -> list[str]:
    with (folder / name).open(encoding="utf-8") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def test_a_region_hides_boxes_from_grid_filters_counts_and_exports(
    project: Project, scenes: Any, tmp_path: Path
) -> None:
    s = _setup(project, scenes, tmp_path)
    pig = project.classes.id_of("pig")
    by_class = GridFilter(class_id=pig, reviewed=False)
    by_score = GridFilter(min_score=0.5, sort="score", descending=True)
    with project.db.session() as session:
        assert hidden_regions(session) is None  # no region: no predicate at all

    decision = _decide(project)
    # A later prediction at the rock's place on that camera: its only box is hidden.
    record_predictions(project, s["model"], {s["late"]: [("pig", 0.8, ROCK)]})

    ids, total = _grid(project, by_class)
    assert s["late"] not in ids and {s["other"], s["pig"]} <= set(ids)
    assert total == len(ids)
    with project.db.session() as session:
        on_a, on_b = (
            session.scalar(select(Media.camera_id).where(Media.id == s[k]))
            for k in ("late", "other")
        )
    assert s["late"] not in _grid(project, by_class.with_(camera_id=on_a))[0]
    assert s["other"] in _grid(project, by_class.with_(camera_id=on_b))[0]
    scored, scored_total = _grid(project, by_score)
    assert s["late"] not in scored and s["other"] in scored and scored_total == len(scored)
    boxes = _md_boxes(project)
    assert boxes[str(s["late"])] == 0 and boxes[str(s["other"])] == 1
    with project.db.session() as session:
        [view] = load_predictions(session, s["late"], s["model"], project.config.thresholds)
        assert not view.shown

    first, _ = create_snapshot(
        project, "training", pseudo_labels=PseudoLabels(s["model"], 0.5), reuse_identical=False
    )
    camtrap = export_snapshot(
        project, first.id, "camtrap-dp", images="none", coordinates=(52.0, 5.0)
    ).folder
    machine = _csv_media(camtrap, "observations.csv", "mediaID")
    assert str(s["late"]) not in machine and str(s["other"]) in machine
    # The analytics (activity report CSV) count no model detection left on camera A.
    assert _predicted_on(project, s["camera"]) == 0
    with project.db.session() as session:
        undone = undo(session, decision, actor_id=project.author("ada"), classes=project.classes)
        assert hidden_regions(session) is None

    back, back_total = _grid(project, by_class)
    assert s["late"] in back and back_total == total + 1 + len(undone["restored"])
    assert s["late"] in _grid(project, by_score)[0]
    assert _md_boxes(project)[str(s["late"])] == 1
    assert _predicted_on(project, s["camera"]) > 0
    # The first snapshot pinned the regions it was made with: it still reads and verifies.
    assert str(s["late"]) not in {str(e.media_id) for e in load_snapshot(project, first.id).entries}
    second, _ = create_snapshot(
        project, "training", pseudo_labels=PseudoLabels(s["model"], 0.5), reuse_identical=False
    )
    assert s["late"] in {e.media_id for e in load_snapshot(project, second.id).entries}


def test_the_sql_predicate_agrees_with_region_covers(
    project: Project, scenes: Any, tmp_path: Path
) -> None:
    """``HiddenRegions.hides`` in SQL against ``Region.covers`` in Python, on boxes around
    the region's threshold of overlap, boxes overshooting the image edge and other cameras."""
    s = _setup(project, scenes, tmp_path)
    rng = random.Random(7)
    raw = [(0.05, 0.7, 0.12, 0.2), (-0.02, 0.69, 0.14, 0.2), (0.04, 0.72, 0.13, 0.35)]
    for _ in range(400):
        x, y = ROCK.x + rng.uniform(-0.05, 0.05), ROCK.y + rng.uniform(-0.05, 0.05)
        raw.append((x, y, ROCK.w * rng.uniform(0.8, 1.25), ROCK.h * rng.uniform(0.8, 1.25)))
    with project.db.session() as session:
        sets = dict(
            session.execute(
                select(PredictionSet.media_id, PredictionSet.id).where(
                    PredictionSet.media_id.in_([s["a_frame"], s["other"]])
                )
            ).all()
        )
        session.execute(
            insert(Prediction),
            [
                {
                    "prediction_set_id": set_id,
                    "class_id": None,
                    "class_name": "rock",
                    "score": 0.9,
                    "x": x,
                    "y": y,
                    "w": w,
                    "h": h,
                }
                for set_id in sets.values()
                for x, y, w, h in raw
            ],
        )
        names = dict(session.execute(select(Media.id, Camera.name).join(Camera)).all())
        region = Region(s["camera"], ROCK, 0.85)
        hidden = hidden_regions(session, [region])
        assert hidden is not None
        rows = session.execute(
            select(
                PredictionSet.media_id,
                Prediction.x,
                Prediction.y,
                Prediction.w,
                Prediction.h,
                hidden.hides(Prediction, Media.camera_id),
            )
            .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
            .join(Media, Media.id == PredictionSet.media_id)
            .where(PredictionSet.id.in_(list(sets.values())))
        ).all()
    assert len(rows) > 2 * len(raw)
    python = [region.covers(names[r[0]], Box.clipped(*r[1:5])) for r in rows]
    assert [bool(r[5]) for r in rows] == python
    assert 0 < sum(python) < len(rows) // 2  # both answers occur, on camera A only
