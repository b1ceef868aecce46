"""Importing Camtrap DP 1.0 packages written by other tools (hand-written here from the
1.0.2 specification), and export -> import -> export keeping what wildloop stores."""

from __future__ import annotations

import csv
import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select

from wildloop.datasets.exporters import export_snapshot
from wildloop.datasets.label_import import import_labels, read_dataset
from wildloop.datasets.snapshots import create_snapshot
from wildloop.errors import BadInput
from wildloop.media.cameras import CameraChange, update_camera
from wildloop.project import Project
from wildloop.store.tables import Camera, Individual, LabelRevision, Media, Sighting, User

DEPLOYMENTS = """deploymentID,latitude,longitude,deploymentStart,deploymentEnd,locationName
dep-north,51.05,3.72,2024-05-01T00:00:00+02:00,2024-05-31T00:00:00+02:00,North gate
dep-south,51.01,3.70,2024-05-01T00:00:00Z,2024-05-31T00:00:00Z,
"""
# Only the required media columns, in another order than the spec's, as some tools write.
MEDIA = """mediaID,deploymentID,timestamp,filePath,filePublic,fileMediatype
m1,dep-north,2024-05-02T06:00:00+02:00,media/a.jpg,false,image/jpeg
m2,dep-north,2024-05-02T06:00:02+02:00,media/b.jpg,false,image/jpeg
m3,dep-north,2024-05-03T12:00:00+02:00,media/c.jpg,false,image/jpeg
m4,dep-south,2024-05-04T21:30:00Z,media/d.jpg,false,image/jpeg
m5,dep-south,2024-05-04T21:30:05Z,media/e.jpg,false,image/jpeg
m6,dep-south,not a time,media/f.jpg,false,image/jpeg
m7,dep-south,2024-05-05T01:00:00Z,https://example.org/g.jpg,true,image/jpeg
m8,dep-south,2024-05-06T01:00:00Z,media/h.jpg,false,image/jpeg
m9,dep-south,2024-05-07T03:00:00Z,media/i.jpg,false,image/jpeg
"""
OBS_HEADER = (
    "observationID,deploymentID,mediaID,eventID,eventStart,eventEnd,observationLevel,"
    "observationType,scientificName,count,bboxX,bboxY,bboxWidth,bboxHeight,"
    "classificationMethod,classifiedBy"
)
OBSERVATIONS = [
    # media-level with boxes, a taxon the project lacks (Vulpes vulpes) beside one it has
    "o1,dep-north,m1,e1,2024-05-02T06:00:00+02:00,2024-05-02T06:00:02+02:00,media,animal,"
    "Capreolus capreolus,1,0.1,0.2,0.3,0.4,human,Ann",
    "o2,dep-north,m2,e1,2024-05-02T06:00:00+02:00,2024-05-02T06:00:02+02:00,media,animal,"
    "Vulpes vulpes,1,0.5,0.5,0.2,0.2,human,Ann",
    # the event-level summary of the same event: no box, ignored beside media-level ones
    "o3,dep-north,,e1,2024-05-02T06:00:00+02:00,2024-05-02T06:00:02+02:00,event,animal,"
    "Capreolus capreolus,2,,,,,human,Ann",
    # a blank frame, media-level
    "o4,dep-north,m3,e2,2024-05-03T12:00:00+02:00,2024-05-03T12:00:00+02:00,media,blank,,,,,,,"
    "human,Ben",
    # only event-level: a blank event marks its media empty...
    "o5,dep-south,,e3,2024-05-04T21:29:00Z,2024-05-04T21:31:00Z,event,blank,,,,,,,human,Ben",
    # ...an animal event with no box leaves its media unlabelled (ingested)
    "o6,dep-south,,e4,2024-05-06T00:59:00Z,2024-05-06T01:01:00Z,event,animal,Sus scrofa,1,,,,,"
    "human,Ben",
    # a machine observation is model output: not imported as a label
    "o7,dep-south,m9,e5,2024-05-07T03:00:00Z,2024-05-07T03:00:00Z,media,animal,Sus scrofa,1,"
    "0.1,0.1,0.2,0.2,machine,MegaDetector v5a",
    # a box outside the image fails its own media only
    "o8,dep-south,m5,e3,2024-05-04T21:30:05Z,2024-05-04T21:30:05Z,media,animal,"
    "Capreolus capreolus,1,0.9,0.1,0.5,0.2,human,Ben",
]


def write_package(
    root: Path, observations: list[str] = OBSERVATIONS, header: str = OBS_HEADER
) -> Path:
    rng = random.Random(5)
    (root / "media").mkdir(parents=True)
    for name in "abcdefhi":
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        Image.new("RGB", (40, 30), colour).save(root / "media" / f"{name}.jpg")
    (root / "deployments.csv").write_text(DEPLOYMENTS)
    (root / "media.csv").write_text(MEDIA)
    (root / "observations.csv").write_text("\n".join([header, *observations]) + "\n")
    resources = [
        {"name": t, "path": f"{t}.csv", "profile": "tabular-data-resource"}
        for t in ("deployments", "media", "observations")
    ]
    (root / "datapackage.json").write_text(json.dumps({"resources": resources}))
    return root


def _labels(project: Project) -> dict[str, Any]:
    """File name -> (author, empty, [(class, x)]) of the current labels."""
    out = {}
    with project.db.session() as session:
        rows = session.execute(
            select(Media.path, LabelRevision, User.username)
            .join(LabelRevision, LabelRevision.media_id == Media.id)
            .join(User, User.id == LabelRevision.author_id)
            .where(LabelRevision.revision == Media.label_revision)
        ).all()
        for path, rev, author in rows:
            boxes = sorted((project.classes.name_of(b.class_id), round(b.x, 3)) for b in rev.boxes)
            out[Path(path).name] = (author, rev.empty, boxes)
    return out


def test_a_package_from_another_tool(make_project: Any, tmp_path: Path) -> None:
    project = make_project(["Capreolus capreolus", "Sus scrofa"])
    package = write_package(tmp_path / "pkg")
    dataset = read_dataset(package)  # a folder is a Camtrap DP package
    with pytest.raises(BadInput, match="Vulpes vulpes"):
        import_labels(project, dataset)  # a taxon the project lacks stops the import
    report = import_labels(project, dataset, class_map={"Vulpes vulpes": "fox"}, add_classes=True)
    failed = dict(report.failed)
    assert set(failed) == {
        str(package / "media" / "e.jpg"),
        str(package / "media" / "f.jpg"),
        "<missing:m7>",
    }
    assert "outside the image" in failed[str(package / "media" / "e.jpg")]
    assert "not ISO 8601" in failed[str(package / "media" / "f.jpg")]
    assert "is a URL" in failed["<missing:m7>"]
    assert any("1 machine observations" in n for n in report.notes)
    assert any("1 images have only event-level animal" in n for n in report.notes)
    assert report.unlabelled == 2  # h.jpg (event-level animal), i.jpg (machine only)
    labels = _labels(project)
    assert labels == {
        "a.jpg": ("Ann", False, [("Capreolus capreolus", 0.1)]),
        "b.jpg": ("Ann", False, [("fox", 0.5)]),
        "c.jpg": ("Ben", True, []),
        "d.jpg": ("Ben", True, []),  # inside the blank event e3
    }
    with project.db.session() as session:
        times = dict(session.execute(select(Media.path, Media.captured_at)).all())
        cameras = {c.name: c for c in session.scalars(select(Camera))}
    # Camera-local wall clock: the offset is dropped, the clock time kept.
    assert times[str(package / "media" / "a.jpg")].isoformat() == "2024-05-02T06:00:00"
    assert times[str(package / "media" / "d.jpg")].isoformat() == "2024-05-04T21:30:00"
    assert (cameras["dep-north"].location, cameras["dep-north"].latitude) == ("North gate", 51.05)
    assert cameras["dep-south"].longitude == 3.70
    assert len(times) == 6  # e, f and the URL were not ingested; h and i were


def test_unreadable_packages_are_refused_whole(tmp_path: Path) -> None:
    package = write_package(tmp_path / "pkg")
    (package / "media.csv").unlink()
    with pytest.raises(BadInput, match="lacks"):
        read_dataset(package)
    (package / "datapackage.json").write_text("{not json")
    with pytest.raises(BadInput, match="cannot read"):
        read_dataset(package / "datapackage.json")


def test_export_import_export_keeps_what_wildloop_stores(
    make_project: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source = make_project(["Capreolus capreolus", "Sus scrofa", "fox"], sub="a")
    dataset = read_dataset(write_package(tmp_path / "pkg"))
    import_labels(source, dataset, class_map={"Vulpes vulpes": "fox"})
    with source.db.session() as session:  # a fixed clock travels in deploymentComments
        update_camera(session, "dep-south", CameraChange(clock_offset_seconds=-3600), None)
    info, _ = create_snapshot(source, "training")
    first = export_snapshot(source, info.id, "camtrap-dp", images="copy").folder
    # A project of its own: under PostgreSQL, make_project's projects share one database.
    target = Project.init(tmp_path / "b", "b", ["Capreolus capreolus", "Sus scrofa", "fox"])
    request.addfinalizer(target.close)
    report = import_labels(target, read_dataset(first))
    assert report.failed == []
    assert _by_original_name(_labels(target)) == _labels(source)
    info2, _ = create_snapshot(target, "training")
    second = export_snapshot(target, info2.id, "camtrap-dp", images="copy").folder
    assert _stable(first) == _stable(second)
    with target.db.session() as session:
        offsets = dict(session.execute(select(Camera.name, Camera.clock_offset_seconds)).all())
    assert offsets == {"dep-north": 0, "dep-south": -3600}
    assert "corrected by -3600 s" in (second / "deployments.csv").read_text()


# Another tool's package naming known animals (individualID, the last column).
WITH_INDIVIDUALS = [
    "o1,dep-north,m1,e1,2024-05-02T06:00:00+02:00,2024-05-02T06:00:02+02:00,media,animal,"
    "Capreolus capreolus,1,0.1,0.2,0.3,0.4,human,Ann,Roe-1",
    "o2,dep-north,m2,e1,2024-05-02T06:00:00+02:00,2024-05-02T06:00:02+02:00,media,animal,"
    "Capreolus capreolus,1,0.15,0.2,0.3,0.4,human,Ann,Roe-1",
    "o2b,dep-north,m2,e1,2024-05-02T06:00:00+02:00,2024-05-02T06:00:02+02:00,media,animal,"
    "Capreolus capreolus,1,0.6,0.5,0.2,0.2,human,Ann,",
    "o3,dep-south,m4,e3,2024-05-04T21:30:00Z,2024-05-04T21:30:00Z,media,animal,"
    "Capreolus capreolus,1,0.3,0.3,0.2,0.2,human,Ben,Roe-2",
    "o4,dep-south,m8,e4,2024-05-06T01:00:00Z,2024-05-06T01:00:00Z,media,animal,"
    "Sus scrofa,1,0.2,0.2,0.4,0.3,human,Ben,Boar",
    # the same name on another species: that box stays unassigned, with a note
    "o5,dep-south,m9,e5,2024-05-07T03:00:00Z,2024-05-07T03:00:00Z,media,animal,"
    "Capreolus capreolus,1,0.1,0.1,0.2,0.2,human,Ben,Boar",
]


def _individuals(project: Project) -> dict[str, list[str]]:
    """Individual name -> the file names of its sightings (export prefixes stripped)."""
    out: dict[str, list[str]] = {}
    with project.db.session() as session:
        rows = session.execute(
            select(Individual.name, Media.path, Sighting.source)
            .join(Sighting, Sighting.individual_id == Individual.id)
            .join(Media, Media.id == Sighting.media_id)
        ).all()
    for name, path, source in rows:
        assert source == "person"
        out.setdefault(name, []).append(re.sub(r"^\d{8}_", "", Path(path).name))
    return {k: sorted(v) for k, v in out.items()}


def test_individuals_survive_import_export_import(
    make_project: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    classes = ["Capreolus capreolus", "Sus scrofa"]
    source = make_project(classes, sub="a")
    package = write_package(tmp_path / "pkg", WITH_INDIVIDUALS, OBS_HEADER + ",individualID")
    report = import_labels(source, read_dataset(package))
    assert report.sightings == 4
    assert any("individual Boar is a Sus scrofa" in n for n in report.notes)
    expected = {"Roe-1": ["a.jpg", "b.jpg"], "Roe-2": ["d.jpg"], "Boar": ["h.jpg"]}
    assert _individuals(source) == expected
    info, _ = create_snapshot(source, "training")
    first = export_snapshot(source, info.id, "camtrap-dp", images="copy").folder
    assert json.loads((first / "datapackage.json").read_text())["project"]["individualAnimals"]
    # The training snapshot leaves the test split out: what it exported travels.
    exported = {r["fileName"] for r in _stable(first)["media"]}
    kept = {k: [f for f in v if f in exported] for k, v in expected.items()}
    kept = {k: v for k, v in kept.items() if v}
    assert len(exported) >= 3 and kept
    target = Project.init(tmp_path / "b", "b", classes)
    request.addfinalizer(target.close)
    assert import_labels(target, read_dataset(first)).sightings == sum(map(len, kept.values()))
    assert _individuals(target) == kept
    info2, _ = create_snapshot(target, "training")
    second = export_snapshot(target, info2.id, "camtrap-dp", images="copy").folder
    assert _stable(first) == _stable(second)
    named = [r["individualID"] for r in _stable(second)["observations"] if r["individualID"]]
    assert sorted(named) == sorted(k for k, v in kept.items() for _ in v)


def _by_original_name(labels: dict[str, Any]) -> dict[str, Any]:
    """An export names files '<media id, 8 digits>_<name>': key by the name again."""
    return {name[9:]: v for name, v in labels.items()}


def _stable(folder: Path) -> dict[str, list[dict[str, str]]]:
    """The package's rows without what differs by project (ids, export time)."""
    out = {}
    for table in ("deployments", "media", "observations"):
        with (folder / f"{table}.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        for row in rows:
            for key in ("mediaID", "observationID", "filePath", "classificationTimestamp"):
                row.pop(key, None)
            if "fileName" in row:  # an export copies files as '<media id>_<name>'
                row["fileName"] = re.sub(r"^\d{8}_", "", row["fileName"])
        out[table] = sorted(rows, key=lambda r: sorted(r.items()))
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
            st.integers(-12 * 60, 14 * 60),  # UTC offset, minutes
            st.floats(0, 0.5),
            st.floats(0, 0.5),
            st.floats(0.01, 0.5),
            st.floats(0.01, 0.5),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_reading_keeps_wall_clock_times_and_boxes(tmp_path: Path, rows: list[Any]) -> None:
    folder = tmp_path / f"pkg{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    media, observations = [MEDIA.splitlines()[0]], [OBS_HEADER]
    for i, (when, offset, x, y, w, h) in enumerate(rows):
        stamp = when.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset)))
        media.append(f"m{i},dep-north,{stamp.isoformat()},media/{i}.jpg,false,image/jpeg")
        observations.append(
            f"o{i},dep-north,m{i},,{stamp.isoformat()},{stamp.isoformat()},media,animal,"
            f"Sus scrofa,1,{x!r},{y!r},{w!r},{h!r},human,Ann"
        )
    (folder / "deployments.csv").write_text(DEPLOYMENTS)
    (folder / "media.csv").write_text("\n".join(media) + "\n")
    (folder / "observations.csv").write_text("\n".join(observations) + "\n")
    images = read_dataset(folder).images
    for image, (when, _, x, y, w, h) in zip(images, rows, strict=True):
        assert image.captured_at == when.replace(microsecond=0)
        assert image.problems == ()
        (box,) = image.boxes
        assert (box.box.x, box.box.y, box.box.w, box.box.h) == (x, y, w, h)
