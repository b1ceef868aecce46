"""Importing ground truth from YOLO, COCO and COCO Camera Traps files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import DEER_CLASSES
from tests.datasets.conftest import write_coco_ct, write_yolo
from wildloop.datasets.label_import import import_labels, read_dataset
from wildloop.errors import BadInput
from wildloop.project import Project
from wildloop.review.labels import current_labels
from wildloop.store.tables import LabelRevision, Media, MediaSequence, User


def _labels_by_name(
    project: Project,
) -> dict[str, tuple[bool, list[tuple[str, tuple[float, ...]]]]]:
    out = {}
    with project.db.session() as session:
        for media in session.scalars(select(Media).where(Media.status == "ok")):
            labels = current_labels(session, media.id)
            assert labels is not None, media.path
            boxes = sorted(
                (project.classes.name_of(b.class_id), (b.box.x, b.box.y, b.box.w, b.box.h))
                for b in labels.boxes
                if b.class_id is not None
            )
            out[Path(media.path).name] = (labels.empty, boxes)
    return out


def _truth(frames) -> dict[str, tuple[bool, list[tuple[str, tuple[float, ...]]]]]:
    return {
        Path(f.file_name).name: (
            not f.animals,
            sorted((a.class_name, (a.box.x, a.box.y, a.box.w, a.box.h)) for a in f.animals),
        )
        for f in frames
    }


def _assert_same(got, want, tol: float) -> None:
    assert got.keys() == want.keys()
    for name, (empty, boxes) in want.items():
        got_empty, got_boxes = got[name]
        assert got_empty == empty, name
        assert [c for c, _ in got_boxes] == [c for c, _ in boxes], name
        for (_, a), (_, b) in zip(got_boxes, boxes, strict=True):
            assert a == pytest.approx(b, abs=tol), name


def test_yolo_dataset_round_trips_into_labels(project: Project, scenes, tmp_path: Path) -> None:
    frames = scenes(bursts=6)
    data = write_yolo(tmp_path / "yolo", frames, DEER_CLASSES, tmp_path / "scenes")
    report = import_labels(project, read_dataset(data), author="alice")
    assert report.labelled == len(frames) and not report.failed
    assert report.boxes == sum(len(f.animals) for f in frames)
    _assert_same(_labels_by_name(project), _truth(frames), tol=2e-6)
    with project.db.session() as session:
        authors = set(session.scalars(select(User.username).join(LabelRevision)))
        sources = set(session.scalars(select(LabelRevision.source)))
    assert authors == {"alice"} and sources == {"import"}


def test_coco_camera_traps_keeps_sequences_locations_and_times(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=8)
    coco = write_coco_ct(tmp_path / "scenes" / "truth.json", frames, DEER_CLASSES)
    report = import_labels(project, read_dataset(coco))
    assert report.labelled == len(frames) and not report.failed
    _assert_same(_labels_by_name(project), _truth(frames), tol=1e-6)
    with project.db.session() as session:
        rows = session.execute(
            select(
                Media.path,
                Media.captured_at,
                Media.captured_at_source,
                Media.split,
                MediaSequence.key,
                MediaSequence.split,
            ).join(MediaSequence, MediaSequence.id == Media.sequence_id)
        ).all()
    by_name = {Path(f.file_name).name: f for f in frames}
    for path, captured, source, split, key, seq_split in rows:
        frame = by_name[Path(path).name]
        assert key == f"seq:{frame.sequence_key}"
        assert captured == frame.captured_at and source == "import"
        assert split == seq_split


def test_real_mct_frames_import_with_whole_sequences_in_one_split(
    make_project, shared_data: Path
) -> None:
    project = make_project(classes=["placeholder"])
    dataset = read_dataset(shared_data / "mct-real" / "coco_ct.json")
    report = import_labels(project, dataset, add_classes=True)
    assert (report.labelled, report.boxes, report.empty) == (826, 711, 193)
    assert len(project.classes) == 21
    with project.db.session() as session:
        per_sequence = session.execute(
            select(Media.sequence_id, func.count(func.distinct(Media.split))).group_by(
                Media.sequence_id
            )
        ).all()
        splits = set(session.scalars(select(Media.split).distinct()))
    assert len(per_sequence) == 60
    assert all(n == 1 for _, n in per_sequence)
    assert splits == {"train", "val", "test"}


def test_unknown_classes_stop_the_import_before_anything_is_written(
    make_project, scenes, tmp_path: Path
) -> None:
    project = make_project(classes=["buck", "doe"])
    frames = scenes(bursts=6)
    coco = write_coco_ct(tmp_path / "scenes" / "truth.json", frames, DEER_CLASSES)
    with pytest.raises(BadInput, match=r"classes the project does not have: .*cattle"):
        import_labels(project, read_dataset(coco))
    with project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Media)) == 0


def test_class_names_can_be_mapped_or_added(make_project, scenes, tmp_path: Path) -> None:
    frames = scenes(bursts=6)
    coco = write_coco_ct(tmp_path / "scenes" / "truth.json", frames, DEER_CLASSES)
    mapped = make_project(classes=["deer", "cattle", "pig", "raccoon"], sub="mapped")
    rename = {"buck": "deer", "doe": "deer", "fawn": "deer"}
    report = import_labels(mapped, read_dataset(coco), class_map=rename)
    assert not report.failed
    added = make_project(classes=["buck"], sub="added")
    import_labels(added, read_dataset(coco), add_classes=True)
    assert set(added.classes.names) == set(DEER_CLASSES)
    assert added.classes.id_of("buck") == 0  # existing ids never move


def test_a_box_outside_the_image_fails_only_its_own_image(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=3)
    coco_path = write_coco_ct(tmp_path / "scenes" / "truth.json", frames, DEER_CLASSES)
    data = json.loads(coco_path.read_text())
    data["annotations"][0]["bbox"] = [600.0, 10.0, 200.0, 50.0]  # runs past the right edge
    bad_image = data["annotations"][0]["image_id"]
    coco_path.write_text(json.dumps(data))
    report = import_labels(project, read_dataset(coco_path))
    assert len(report.failed) == 1
    assert "outside the image" in report.failed[0][1]
    bad_name = Path(data["images"][bad_image - 1]["file_name"]).name
    assert Path(report.failed[0][0]).name == bad_name
    assert report.labelled == len(frames) - 1


def test_yolo_label_file_errors_fail_their_image_with_the_line(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=2)
    data = write_yolo(tmp_path / "yolo", frames, DEER_CLASSES, tmp_path / "scenes")
    labels = sorted((tmp_path / "yolo" / "labels" / "train").glob("*.txt"))
    labels[0].write_text("9 0.5 0.5 0.1 0.1\n")
    labels[1].write_text("0 0.5 0.5 0.1\n")
    labels[2].write_text("0 0.95 0.5 0.3 0.1\n")
    labels[3].write_text("zero 0.5 0.5 0.1 0.1\n")
    report = import_labels(project, read_dataset(data))
    reasons = sorted(r for _, r in report.failed)
    assert len(reasons) == 4
    assert any("class index 9 is not in names" in r for r in reasons)
    assert any("expected 'class cx cy w h'" in r for r in reasons)
    assert any("outside the image" in r for r in reasons)
    assert any("not numbers" in r for r in reasons)
    assert all("line 1" in r for r in reasons)
    assert report.labelled == len(frames) - 4


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", "{not json", "not valid JSON"),
        ("list.json", "[]", "JSON object"),
        ("noimages.json", '{"categories": []}', "missing or non-list 'images'"),
        (
            "badbox.json",
            '{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": '
            '[{"id": 0, "name": "buck"}], "annotations": [{"image_id": 1, "category_id": 0, '
            '"bbox": [1, 2]}]}',
            "bbox must be",
        ),
        ("bad.yaml", "names: [a\n", "not valid YAML"),
        ("nonames.yaml", "train: images\n", "'names' must list"),
        ("nosplit.yaml", "names: [a]\n", "at least one of 'train'"),
        ("data.txt", "x", "cannot tell the format"),
    ],
)
def test_malformed_files_are_refused_with_a_clear_message(
    project: Project, tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(BadInput, match=message):
        import_labels(project, read_dataset(path))


def test_missing_image_files_fail_alone(project: Project, scenes, tmp_path: Path) -> None:
    frames = scenes(bursts=2)
    coco = write_coco_ct(tmp_path / "scenes" / "truth.json", frames, DEER_CLASSES)
    (tmp_path / "scenes" / frames[0].file_name).unlink()
    report = import_labels(project, read_dataset(coco))
    assert report.failed == [
        (str((tmp_path / "scenes" / frames[0].file_name).resolve()), "image file not found")
    ]
    assert report.labelled == len(frames) - 1


def test_reimport_keeps_existing_labels_unless_overwrite(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=2)
    coco = write_coco_ct(tmp_path / "scenes" / "truth.json", frames, DEER_CLASSES)
    import_labels(project, read_dataset(coco))
    again = import_labels(project, read_dataset(coco))
    assert again.labelled == 0 and again.kept_existing == len(frames)
    same = import_labels(project, read_dataset(coco), overwrite=True)
    assert same.labelled == len(frames)
    with project.db.session() as session:
        assert set(session.scalars(select(Media.label_revision))) == {1}  # nothing changed
    data = json.loads(coco.read_text())
    first = data["images"][0]["id"]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != first]
    coco.write_text(json.dumps(data))
    import_labels(project, read_dataset(coco), overwrite=True)
    with project.db.session() as session:
        revisions = sorted(session.scalars(select(Media.label_revision)))
        history = session.scalar(select(func.count()).select_from(LabelRevision))
    assert revisions == [1] * (len(frames) - 1) + [2]  # only the changed image
    assert history == len(frames) + 1  # its first revision is kept as history


def test_coco_camera_traps_empty_category_marks_an_empty_frame(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=2)
    coco_path = write_coco_ct(tmp_path / "scenes" / "truth.json", frames, DEER_CLASSES)
    data = json.loads(coco_path.read_text())
    data["categories"].append({"id": 99, "name": "empty"})
    last = data["images"][-1]["id"]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != last]
    boxed = {a["image_id"] for a in data["annotations"]}
    empty_ids = [img["id"] for img in data["images"] if img["id"] not in boxed]
    for image_id in empty_ids:
        data["annotations"].append({"id": 1000 + image_id, "image_id": image_id, "category_id": 99})
    data["annotations"].append({"id": 5000, "image_id": next(iter(boxed)), "category_id": 0})
    coco_path.write_text(json.dumps(data))
    dataset = read_dataset(coco_path)
    assert "empty" not in dataset.class_names
    report = import_labels(project, dataset)
    assert len(report.failed) == 1 and "image-level label" in report.failed[0][1]
    assert report.empty == len(empty_ids) and empty_ids
