"""Snapshots: which items and labels form a dataset, frozen, leak-free, nothing dropped.

Includes the regression tests for the seed system's export bugs (one box per image, images in
two splits, reviewed boxes under 0.5 confidence dropped, non-deer classes discarded).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.support.loop import (
    ingest_frames,
    label_frames,
    make_model,
    media_split,
    record_predictions,
)
from wildloop.datasets.exporters import export_snapshot
from wildloop.datasets.snapshots import (
    PseudoLabels,
    create_snapshot,
    list_snapshots,
    load_snapshot,
)
from wildloop.domain.boxes import Box
from wildloop.domain.labels import InvalidReason, LabelBoxValue, LabelSet
from wildloop.errors import BadInput, IntegrityError
from wildloop.evaluation.promotion import make_first_champion
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.review.repeat_decisions import decide
from wildloop.review.repeats import repeat_groups
from wildloop.store.tables import LabelRevision, Media


@pytest.fixture
def labelled(project: Project, scenes, tmp_path: Path):
    frames = scenes(bursts=24, seed=3)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    return project, frames, ids


def yolo_labels(folder: Path) -> dict[str, list[list[float]]]:
    out = {}
    for path in sorted((folder / "labels").rglob("*.txt")):
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        out[path.stem] = [[float(v) for v in row] for row in rows]
    return out


def test_frame_with_three_animals_of_two_classes_exports_three_boxes(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=3, seed=1)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    train_ids = [m for m, (split, _, _) in media_split(project).items() if split == "train"]
    media_id = train_ids[0]
    boxes = (
        LabelBoxValue(Box(0.05, 0.5, 0.2, 0.2), project.classes.id_of("doe")),
        LabelBoxValue(Box(0.35, 0.5, 0.2, 0.2), project.classes.id_of("doe")),
        LabelBoxValue(Box(0.65, 0.5, 0.1, 0.1), project.classes.id_of("raccoon")),
    )
    with project.db.session() as session:
        save_labels(
            session,
            media_id,
            LabelSet(boxes=boxes),
            author_id=project.author("alice"),
            classes=project.classes,
            expected_revision=None,
        )
    assert ids  # ingest worked
    create_snapshot(project, "training")
    out = export_snapshot(project, "training-0001", "yolo").folder
    rows = yolo_labels(out)[f"{media_id:08d}_{Path(next(iter(_paths(project, media_id)))).stem}"]
    assert len(rows) == 3
    names = {c.id: i for i, c in enumerate(project.classes)}
    assert sorted(int(r[0]) for r in rows) == sorted(
        [names[project.classes.id_of("doe")]] * 2 + [names[project.classes.id_of("raccoon")]]
    )


def _paths(project: Project, media_id: int) -> list[str]:
    with project.db.session() as session:
        return [session.get(Media, media_id).path]  # type: ignore[union-attr]


def test_no_image_or_sequence_is_in_two_splits(labelled) -> None:
    project, _, _ = labelled
    training, _ = create_snapshot(project, "training")
    test, _ = create_snapshot(project, "test")
    train_data, test_data = load_snapshot(project, training.id), load_snapshot(project, test.id)
    split_of_group: dict[str, set[str]] = {}
    for entry in train_data.entries + test_data.entries:
        split_of_group.setdefault(entry.group, set()).add(entry.split)
    assert all(len(s) == 1 for s in split_of_group.values())
    train_media = {e.media_id for e in train_data.entries}
    test_media = {e.media_id for e in test_data.entries}
    assert train_media and test_media and not train_media & test_media
    assert {e.sha256 for e in train_data.entries}.isdisjoint({e.sha256 for e in test_data.entries})
    assert {e.split for e in train_data.entries} <= {"train", "val"}
    assert {e.split for e in test_data.entries} == {"test"}


def test_no_test_item_ever_reaches_a_training_export(labelled) -> None:
    project, _, _ = labelled
    create_snapshot(project, "training")
    out = export_snapshot(project, "training-0001", "yolo").folder
    test_hashes = {sha for split, _, sha in media_split(project).values() if split == "test"}
    assert test_hashes
    exported = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "images").rglob("*.jpg")}
    assert exported and exported.isdisjoint(test_hashes)
    assert not (out / "images" / "test").exists()
    keys = [line.split(":")[0] for line in (out / "data.yaml").read_text().splitlines()]
    assert "test" not in keys
    test_snapshot, _ = create_snapshot(project, "test")
    with pytest.raises(BadInput, match="never exported for training"):
        export_snapshot(project, test_snapshot.id, "yolo")


def test_every_class_is_kept_even_without_examples(project: Project, scenes, tmp_path) -> None:
    frames = scenes(bursts=10, seed=5, classes=["buck", "doe"])
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    info, _ = create_snapshot(project, "training")
    out = export_snapshot(project, info.id, "yolo").folder
    data_yaml = (out / "data.yaml").read_text()
    for name in project.classes.names:
        assert f'"{name}"' in data_yaml
    assert "nc: 6" in data_yaml
    assert info.counts["boxes_per_class"]["cattle"] == {}
    readme = (out / "README.md").read_text()
    assert "class cattle has no examples" in readme


def test_reviewed_box_with_low_model_confidence_is_exported(
    project: Project, scenes, tmp_path
) -> None:
    frames = scenes(bursts=6, seed=2)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    splits = media_split(project)
    media_id = next(m for m, (s, _, _) in splits.items() if s == "train")
    model = make_model(project, "old-champion")
    pred_box = Box(0.2, 0.3, 0.3, 0.25)
    (pred_id,) = record_predictions(project, model, {media_id: [("doe", 0.3, pred_box)]})[media_id]
    with project.db.session() as session:
        save_labels(
            session,
            media_id,
            LabelSet(
                boxes=(
                    LabelBoxValue(
                        pred_box, project.classes.id_of("doe"), corrects_prediction_id=pred_id
                    ),
                )
            ),
            author_id=project.author("bob"),
            classes=project.classes,
            expected_revision=None,
        )
    assert ids
    create_snapshot(project, "training")
    out = export_snapshot(project, "training-0001", "yolo").folder
    rows = next(r for stem, r in yolo_labels(out).items() if stem.startswith(f"{media_id:08d}_"))
    assert len(rows) == 1
    assert rows[0][1:] == pytest.approx(list(pred_box.to_yolo()), abs=1e-5)
    csv_text = (
        export_snapshot(project, "training-0001", "csv")
        .folder.joinpath("corrections.csv")
        .read_text()
    )
    assert "confirmed" in csv_text and "0.3000" in csv_text and "bob" in csv_text


def test_missed_false_positive_invalid_and_empty_items(project: Project, scenes, tmp_path) -> None:
    frames = scenes(bursts=8, seed=4)
    ingest_frames(project, frames, tmp_path / "scenes")
    train = [m for m, (s, _, _) in media_split(project).items() if s in ("train", "val")][:4]
    model = make_model(project, "champ")
    preds = record_predictions(
        project,
        model,
        {
            train[0]: [("buck", 0.9, Box(0.1, 0.1, 0.2, 0.2))],
            train[1]: [("pig", 0.8, Box(0.5, 0.5, 0.2, 0.2))],
        },
    )
    doe, buck = project.classes.id_of("doe"), project.classes.id_of("buck")
    labels = {
        # relabelled buck -> doe, plus an animal the model missed
        train[0]: LabelSet(
            boxes=(
                LabelBoxValue(
                    Box(0.1, 0.1, 0.2, 0.2), doe, corrects_prediction_id=preds[train[0]][0]
                ),
                LabelBoxValue(Box(0.6, 0.6, 0.2, 0.2), buck, missed=True),
            )
        ),
        # the model's pig was a stump: a false positive, and nothing else in the frame
        train[1]: LabelSet(
            boxes=(
                LabelBoxValue(
                    Box(0.5, 0.5, 0.2, 0.2),
                    None,
                    corrects_prediction_id=preds[train[1]][0],
                    false_positive=True,
                ),
            )
        ),
        # a rear-end shot excluded from training, next to a good box
        train[2]: LabelSet(
            boxes=(
                LabelBoxValue(Box(0.1, 0.5, 0.2, 0.2), doe, invalid_reason=InvalidReason.REAR_END),
                LabelBoxValue(Box(0.5, 0.5, 0.2, 0.2), buck),
            )
        ),
        train[3]: LabelSet(empty=True),
    }
    with project.db.session() as session:
        for media_id, label_set in labels.items():
            save_labels(
                session,
                media_id,
                label_set,
                author_id=project.author("carol"),
                classes=project.classes,
                expected_revision=None,
            )
    waiting = next(
        m for m, (s, _, _) in media_split(project).items() if s == "train" and m not in train
    )
    with project.db.session() as session:
        session.execute(
            update(Media).where(Media.id.in_([train[0], waiting])).values(marked="missed")
        )
    info, _ = create_snapshot(project, "training")
    assert info.counts["marked"] == {"labelled": 1, "waiting_for_labels": 1}
    entries = {e.media_id: e for e in load_snapshot(project, info.id).entries}
    assert set(entries) == set(train)  # unreviewed items are not in the snapshot
    assert [t.class_id for t in entries[train[0]].targets] == [doe, buck]
    assert entries[train[1]].targets == () and entries[train[1]].excluded_boxes == 1
    assert [t.class_id for t in entries[train[2]].targets] == [buck]
    assert entries[train[3]].targets == () and entries[train[3]].empty
    out = export_snapshot(project, info.id, "yolo").folder
    assert (
        "1 items marked as missed or false positive have no corrected labels"
        in (out / "README.md").read_text()
    )
    by_media = {int(stem.split("_")[0]): rows for stem, rows in yolo_labels(out).items()}
    assert len(by_media[train[0]]) == 2
    assert by_media[train[1]] == [] and by_media[train[3]] == []  # negatives: empty files
    assert len(by_media[train[2]]) == 1
    kinds = export_snapshot(project, info.id, "csv").folder.joinpath("corrections.csv").read_text()
    for kind in ("relabelled", "missed", "false_positive", "invalid", "empty", "drawn"):
        assert f",{kind}," in kinds
    assert info.counts["splits"]  # counted per split
    assert sum(s["excluded_boxes"] for s in info.counts["splits"].values()) == 2


def test_snapshot_is_frozen_and_identical_content_is_reused(labelled) -> None:
    project, _frames, _ids = labelled
    first, created = create_snapshot(project, "training")
    again, created_again = create_snapshot(project, "training")
    assert created and not created_again and again.id == first.id
    before = load_snapshot(project, first.id)
    target = before.entries[0]
    with project.db.session() as session:
        save_labels(
            session,
            target.media_id,
            LabelSet(empty=True),
            author_id=project.author("dave"),
            classes=project.classes,
            expected_revision=None,
        )
    after_old = load_snapshot(project, first.id)
    assert after_old.entries[0].targets == target.targets  # the old snapshot did not move
    second, created_second = create_snapshot(project, "training")
    assert created_second and second.content_hash != first.content_hash
    assert load_snapshot(project, second.id).entries[0].targets == ()
    assert [s.name for s in list_snapshots(project, "training")] == [
        "training-0001",
        "training-0002",
    ]


def test_a_worker_reads_snapshot_media_through_its_own_mount(labelled, tmp_path) -> None:
    project, _frames, _ids = labelled
    info, _ = create_snapshot(project, "training")
    here = load_snapshot(project, info.id).entries
    project.config.storage.media_roots = {str(tmp_path / "scenes"): "/data/cards"}
    there = load_snapshot(project, info.id).entries
    assert [e.media_id for e in there] == [e.media_id for e in here]
    for near, far in zip(here, there, strict=True):
        assert far.path == Path("/data/cards") / near.path.relative_to(tmp_path / "scenes")


def test_tampered_labels_are_detected(labelled) -> None:
    project, _, _ = labelled
    info, _ = create_snapshot(project, "training")
    revision_id = load_snapshot(project, info.id).entries[0].label_revision_id
    with project.db.session() as session:
        session.execute(
            update(LabelRevision).where(LabelRevision.id == revision_id).values(content_hash="x")
        )
    with pytest.raises(IntegrityError, match="no longer match"):
        load_snapshot(project, info.id)


def test_pseudo_labels_are_off_by_default_and_marked_when_on(labelled, tmp_path) -> None:
    project, _frames, _ids = labelled
    # Unreview nothing; add new unreviewed frames with champion predictions.
    from wildloop.synthetic.scenes import SceneGenerator

    extra = SceneGenerator(project.classes.names, seed=99).write(tmp_path / "more", 6)
    extra_ids = ingest_frames(project, extra, tmp_path / "more")
    model = make_model(project, "champion-1")
    splits = media_split(project)
    unreviewed = [m for m in extra_ids.values() if splits[m][0] in ("train", "val")]
    test_items = [m for m in extra_ids.values() if splits[m][0] == "test"]
    record_predictions(
        project,
        model,
        {
            m: [("doe", 0.95, Box(0.2, 0.2, 0.3, 0.3)), ("pig", 0.3, Box(0.6, 0.6, 0.2, 0.2))]
            for m in unreviewed + test_items
        },
    )
    plain, _ = create_snapshot(project, "training")
    assert not any(e.pseudo for e in load_snapshot(project, plain.id).entries)
    assert plain.params["pseudo_labels"] == {"enabled": False}
    pseudo, _ = create_snapshot(project, "training", pseudo_labels=PseudoLabels(model, 0.8))
    data = load_snapshot(project, pseudo.id)
    pseudo_entries = [e for e in data.entries if e.pseudo]
    assert {e.media_id for e in pseudo_entries} == set(unreviewed)
    assert all(len(e.targets) == 1 for e in pseudo_entries)  # the 0.3 pig is below threshold
    assert not {e.media_id for e in data.entries} & set(test_items)
    out = export_snapshot(project, pseudo.id, "yolo").folder
    assert len((out / "pseudo_labels.txt").read_text().split()) == len(unreviewed)
    assert "pseudo-labels" in (out / "README.md").read_text()
    with pytest.raises(BadInput):
        create_snapshot(project, "test", pseudo_labels=PseudoLabels(model, 0.8))


def test_hard_negatives_of_a_repeat_decision_never_leak_test_items(
    project: Project, scenes, tmp_path: Path
) -> None:
    """A false-positive repeat decision labels every frame of the camera, test split too; the
    training export takes the train/val ones as hard negatives and never a test one."""
    frames = scenes(bursts=24, seed=3)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    model = make_model(project, "rock-lover", source="trained")
    with project.db.session() as session:
        make_first_champion(session, model, None, "first", classes=project.classes)
    camera = frames[0].camera
    rock = Box(0.05, 0.7, 0.12, 0.2)
    record_predictions(
        project,
        model,
        {ids[f.file_name]: [("pig", 0.8, rock)] for f in frames if f.camera == camera},
    )
    with project.db.session() as session:
        [group] = repeat_groups(session, min_score=0.5, min_items=10, min_bursts=3)
        decide(
            session,
            group,
            "false_positive",
            actor_id=project.author("ada"),
            classes=project.classes,
            iou=0.85,
            min_score=0.5,
        )
    splits = media_split(project)
    negatives = {m: splits[m] for m in group.media_ids}
    assert {"train", "test"} <= {s for s, _, _ in negatives.values()}
    create_snapshot(project, "training")
    out = export_snapshot(project, "training-0001", "yolo").folder
    exported = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "images").rglob("*.jpg")}
    assert exported.isdisjoint(sha for s, _, sha in splits.values() if s == "test")
    assert {sha for s, _, sha in negatives.values() if s != "test"} <= exported
    # Exported as hard negatives: no box of theirs in the label files.
    rows = yolo_labels(out)
    hard = {m for m, (s, _, _) in negatives.items() if s != "test"}
    assert all(not r for stem, r in rows.items() if int(stem.split("_")[0]) in hard)
