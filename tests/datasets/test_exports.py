"""Exports read back to the snapshot they came from, and pass their formats' own tools."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.support.loop import ingest_frames, label_frames
from wildloop.datasets.exporters import export_snapshot
from wildloop.datasets.exporters.camtrap_dp_validation import SCHEMA_DIR, validate_camtrap_dp
from wildloop.datasets.snapshots import SnapshotData, create_snapshot, load_snapshot
from wildloop.domain.boxes import Box
from wildloop.errors import BadInput, Conflict
from wildloop.project import Project
from wildloop.store.tables import Camera


@pytest.fixture
def snapshot(project: Project, scenes, tmp_path: Path) -> tuple[Project, SnapshotData]:
    frames = scenes(bursts=16, seed=11)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    info, _ = create_snapshot(project, "training")
    return project, load_snapshot(project, info.id)


def targets_by_media(data: SnapshotData) -> dict[int, list[tuple[int, Box]]]:
    return {e.media_id: [(t.class_id, t.box) for t in e.targets] for e in data.entries}


def assert_same_boxes(got: dict[int, list[tuple[int, Box]]], want, tol: float) -> None:
    assert set(got) == set(want)
    for media_id, boxes in want.items():
        found = sorted(got[media_id], key=lambda b: (b[0], b[1].x, b[1].y))
        expected = sorted(boxes, key=lambda b: (b[0], b[1].x, b[1].y))
        assert [c for c, _ in found] == [c for c, _ in expected], media_id
        for (_, a), (_, b) in zip(found, expected, strict=True):
            assert (a.x, a.y, a.w, a.h) == pytest.approx((b.x, b.y, b.w, b.h), abs=tol)


def test_yolo_round_trip_and_ultralytics_reads_it(snapshot) -> None:
    project, data = snapshot
    out = export_snapshot(project, data.info.id, "yolo").folder
    index_to_class = {
        int(k): v
        for k, v in json.loads((out / "classes.json").read_text())["yolo_index_to_class_id"].items()
    }
    got: dict[int, list[tuple[int, Box]]] = {}
    for label in (out / "labels").rglob("*.txt"):
        media_id = int(label.stem.split("_")[0])
        rows = [line.split() for line in label.read_text().splitlines()]
        got[media_id] = [
            (index_to_class[int(r[0])], Box.from_yolo(*(float(v) for v in r[1:]))) for r in rows
        ]
        image = out / "images" / label.parent.name / (label.stem + ".jpg")
        assert image.is_symlink() and image.resolve().is_file()
    assert_same_boxes(got, targets_by_media(data), 1e-5)
    # Ultralytics' own dataset checker accepts the folder (offline: the path exists).
    from ultralytics.data.utils import check_det_dataset

    checked = check_det_dataset(str(out / "data.yaml"))
    assert checked["nc"] == len(project.classes)
    assert list(checked["names"].values()) == project.classes.names


def test_yolo_collapse_writes_every_box_as_one_class(snapshot) -> None:
    """A class-agnostic detector's dataset (`training --collapse`): the same boxes, one class."""
    project, data = snapshot
    parent = project.classes.names[0]
    out = export_snapshot(project, data.info.id, "yolo", collapse=parent).folder
    assert json.loads((out / "classes.json").read_text())["yolo_index_to_class_id"] == {
        "0": project.classes.id_of(parent)
    }
    got: dict[int, list[tuple[int, Box]]] = {}
    for label in (out / "labels").rglob("*.txt"):
        rows = [line.split() for line in label.read_text().splitlines()]
        assert {r[0] for r in rows} <= {"0"}
        got[int(label.stem.split("_")[0])] = [
            (0, Box.from_yolo(*(float(v) for v in r[1:]))) for r in rows
        ]
    want = {m: [(0, box) for _, box in boxes] for m, boxes in targets_by_media(data).items()}
    assert sum(len(b) for b in want.values()) > 0
    assert {c for boxes in targets_by_media(data).values() for c, _ in boxes} != {0}
    assert_same_boxes(got, want, 1e-5)
    from ultralytics.data.utils import check_det_dataset

    checked = check_det_dataset(str(out / "data.yaml"))
    assert checked["nc"] == 1 and checked["names"] == {0: parent}
    with pytest.raises(BadInput, match="yolo format"):
        export_snapshot(project, data.info.id, "coco", collapse=parent)


def test_training_collapse_must_name_a_project_class(snapshot) -> None:
    from wildloop.training.job import training_params

    project, _ = snapshot
    parent = project.classes.names[1]
    assert training_params(project, {"collapse": parent})["collapse"] == parent
    with pytest.raises(BadInput, match="not a project class"):
        training_params(project, {"collapse": "no-such-class"})


def test_coco_round_trip_with_pycocotools(snapshot) -> None:
    project, data = snapshot
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    out = export_snapshot(project, data.info.id, "coco").folder
    got: dict[int, list[tuple[int, Box]]] = {}
    for path in sorted(out.glob("instances_*.json")):
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(path))
        root = Path(json.loads(path.read_text())["info"]["image_root"])
        for image in coco.loadImgs(coco.getImgIds()):
            assert (root / image["file_name"]).is_file()
            anns = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
            got[image["id"]] = [
                (a["category_id"], Box.from_pixels(*a["bbox"], image["width"], image["height"]))
                for a in anns
            ]
        # pycocotools scores the ground truth against itself as perfect.
        results = [
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "bbox": a["bbox"],
                "score": 1.0,
            }
            for a in coco.dataset["annotations"]
        ]
        with contextlib.redirect_stdout(io.StringIO()):
            ev = COCOeval(coco, coco.loadRes(results), "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        assert ev.stats[0] == pytest.approx(1.0)
    assert_same_boxes(got, targets_by_media(data), 1e-4)
    categories = json.loads((out / "instances_train.json").read_text())["categories"]
    assert [c["name"] for c in categories] == project.classes.names


def test_coco_camera_traps_keeps_sequences_locations_and_times(snapshot) -> None:
    project, data = snapshot
    out = export_snapshot(project, data.info.id, "coco-ct").folder
    doc = json.loads((out / "coco_ct.json").read_text())
    empty_id = next(c["id"] for c in doc["categories"] if c["name"] == "empty")
    by_image: dict[int, list[dict]] = {}
    for ann in doc["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    entries = {e.media_id: e for e in data.entries}
    got = {}
    for image in doc["images"]:
        entry = entries[image["id"]]
        assert image["seq_id"] == entry.sequence_key
        assert image["location"] == entry.camera
        assert image["datetime"] == entry.captured_at.strftime("%Y-%m-%d %H:%M:%S")
        anns = by_image[image["id"]]
        if not entry.targets:
            assert [a["category_id"] for a in anns] == [empty_id]
            got[image["id"]] = []
        else:
            got[image["id"]] = [
                (a["category_id"], Box.from_pixels(*a["bbox"], image["width"], image["height"]))
                for a in anns
            ]
    assert_same_boxes(got, targets_by_media(data), 1e-4)
    sizes: dict[str, set[int]] = {}
    for image in doc["images"]:
        sizes.setdefault(image["seq_id"], set()).add(image["seq_num_frames"])
    assert all(len(s) == 1 for s in sizes.values())
    frame_nums: dict[str, list[int]] = {}
    for image in doc["images"]:
        frame_nums.setdefault(image["seq_id"], []).append(image["frame_num"])
    assert all(sorted(v) == list(range(len(v))) for v in frame_nums.values())


def test_camtrap_dp_is_valid_for_frictionless_and_reads_back(snapshot) -> None:
    project, data = snapshot
    with pytest.raises(BadInput, match="coordinates"):
        export_snapshot(project, data.info.id, "camtrap-dp")
    with project.db.session() as session:
        session.execute(update(Camera).values(latitude=38.9, longitude=-92.3))
    out = export_snapshot(project, data.info.id, "camtrap-dp").folder
    assert validate_camtrap_dp(out) == []
    with (out / "observations.csv").open() as fh:
        observations = list(csv.DictReader(fh))
    animals = [o for o in observations if o["observationType"] == "animal"]
    blanks = [o for o in observations if o["observationType"] == "blank"]
    assert len(animals) == sum(len(e.targets) for e in data.entries)
    assert len(blanks) == sum(1 for e in data.entries if not e.targets)
    got: dict[int, list[tuple[int, Box]]] = {e.media_id: [] for e in data.entries}
    for o in animals:
        got[int(o["mediaID"])].append(
            (
                project.classes.id_of(o["scientificName"]),
                Box(*(float(o[k]) for k in ("bboxX", "bboxY", "bboxWidth", "bboxHeight"))),
            )
        )
    assert_same_boxes(got, targets_by_media(data), 1e-5)


def test_camtrap_dp_validation_catches_a_broken_package(snapshot) -> None:
    project, data = snapshot
    out = export_snapshot(project, data.info.id, "camtrap-dp", coordinates=(10.0, 20.0)).folder
    assert "fallback" in (out / "README.md").read_text()
    rows = (out / "media.csv").read_text().splitlines()
    rows[1] = rows[1].replace("activityDetection", "sometimes")
    (out / "media.csv").write_text("\n".join(rows) + "\n")
    problems = validate_camtrap_dp(out)
    assert any("captureMethod" in p or "constraint" in p for p in problems), problems
    package = json.loads((out / "datapackage.json").read_text())
    del package["project"]
    (out / "datapackage.json").write_text(json.dumps(package))
    assert any("'project' is a required property" in p for p in validate_camtrap_dp(out))


def test_shipped_camtrap_schemas_are_the_published_ones(shared_data: Path) -> None:
    published = shared_data / "camtrap-dp-1.0.2"
    for path in published.glob("*.json"):
        assert (SCHEMA_DIR / path.name).read_bytes() == path.read_bytes()


def test_export_refuses_to_overwrite_and_cleans_up_on_failure(snapshot) -> None:
    project, data = snapshot
    first = export_snapshot(project, data.info.id, "coco")
    with pytest.raises(Conflict, match="already exists"):
        export_snapshot(project, data.info.id, "coco")
    export_snapshot(project, data.info.id, "coco", overwrite=True)
    with pytest.raises(BadInput, match="unknown export format"):
        export_snapshot(project, data.info.id, "xml")
    with pytest.raises(BadInput):
        export_snapshot(project, data.info.id, "camtrap-dp")  # no coordinates
    leftovers = [p for p in first.folder.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_readme_warns_about_thin_classes(snapshot) -> None:
    project, data = snapshot
    result = export_snapshot(project, data.info.id, "coco")
    readme = (result.folder / "README.md").read_text()
    assert "fewer than 100" in readme
    assert "| buck |" in readme or "buck" in readme
    assert any("fewer than 100" in w for w in result.warnings)


def test_coco_export_imports_back_through_import_labels(snapshot, tmp_path: Path) -> None:
    project, data = snapshot
    from wildloop.datasets.importers.coco import read_coco
    from wildloop.datasets.label_import import import_labels
    from wildloop.review.labels import current_labels

    out = export_snapshot(project, data.info.id, "coco").folder
    # A second, independent project (its own SQLite file even when the suite runs on PG).
    other = Project.init(tmp_path / "other", "other", project.classes.names)
    for path in sorted(out.glob("instances_*.json")):
        root = Path(json.loads(path.read_text())["info"]["image_root"])
        report = import_labels(other, read_coco(path, root), author="roundtrip")
        assert report.failed == []
    want = {e.path.resolve(): targets_by_media(data)[e.media_id] for e in data.entries}
    got: dict = {}
    with other.db.session() as session:
        from sqlalchemy import select

        from wildloop.store.tables import Media

        for media_id, path in session.execute(select(Media.id, Media.path)).all():
            labels = current_labels(session, media_id)
            assert labels is not None
            got[Path(path)] = [(b.class_id, b.box) for b in labels.boxes if b.trainable]
            assert labels.empty == (not got[Path(path)])
    other.close()
    assert_same_boxes(got, want, 1e-4)


def test_csv_per_event_counts_the_most_in_one_frame_per_class(snapshot) -> None:
    project, data = snapshot
    folder = export_snapshot(project, data.info.id, "csv", per="event").folder
    rows = list(csv.DictReader(io.StringIO(folder.joinpath("events.csv").read_text())))
    names = data.classes.name_of
    want: dict[tuple[str, str], int] = {}
    frames: dict[str, int] = {}
    for entry in data.entries:
        frames[entry.group] = frames.get(entry.group, 0) + 1
        per_class: dict[str, int] = {}
        for t in entry.targets:
            per_class[names(t.class_id)] = per_class.get(names(t.class_id), 0) + 1
        for name, n in per_class.items():
            want[(entry.group, name)] = max(want.get((entry.group, name), 0), n)
    got = {(r["event"], r["class"]): int(r["count"]) for r in rows if r["class"]}
    assert got == want and want
    assert {r["event"]: int(r["frames"]) for r in rows} == frames  # every event, once or per class
    # An event whose labelled frames show no animal is one row with count 0.
    empty = {g for g in frames if not any(k[0] == g for k in want)}
    assert {r["event"] for r in rows if not r["class"]} == empty
    assert all(r["count"] == "0" for r in rows if not r["class"])
    with pytest.raises(BadInput, match="--per event is for the csv format"):
        export_snapshot(project, data.info.id, "coco", per="event", overwrite=True)
    with pytest.raises(BadInput, match="--per must be one of box, event"):
        export_snapshot(project, data.info.id, "csv", per="frame", overwrite=True)
