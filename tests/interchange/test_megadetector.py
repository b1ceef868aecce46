"""MegaDetector batch JSON: import, export (golden file), round trip, malformed input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.support.engine import ingest_dir
from wildloop.cli.app import app
from wildloop.errors import BadInput
from wildloop.interchange import megadetector
from wildloop.project import Project
from wildloop.store.tables import ModelVersion, PredictionSet

GOLDEN = Path(__file__).parent / "golden"
SAMPLES = [
    "channel-islands-thumb.jpg",
    "idaho-camera-traps.jpg",
    "pheasant_web.jpg",
    "sample-arc-01.jpg",
]


@pytest.fixture
def photos(project: Project, shared_data: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "camtrap-samples"
    folder.mkdir()
    for name in SAMPLES:
        shutil.copy(shared_data / "camtrap-samples" / name, folder / name)
    assert ingest_dir(project, folder) == 4
    return folder


def _without_info(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "info"}


def test_import_then_export_matches_the_golden_file(project: Project, photos: Path) -> None:
    report = megadetector.import_file(project, GOLDEN / "md_input.json", "megadetector-v5a")
    assert report.as_dict() | {"model_version_id": 0} == {
        "model_version_id": 0,
        "name": "megadetector-v5a",
        "images": 5,
        "matched": 4,
        "failed_images": 1,
        "detections": 3,
        "below_store_threshold": 1,
        "unmatched": 1,
        "unmatched_examples": ["elsewhere/not-ingested.jpg"],
    }
    with project.db.session() as session:
        version = session.get(ModelVersion, report.version_id)
        assert version is not None and version.source == "external"
        assert version.classes == ["animal", "person", "vehicle"]
        exported = megadetector.export(session, "megadetector-v5a")
    golden = json.loads((GOLDEN / "md_export.json").read_text())
    assert _without_info(exported) == golden
    assert exported["info"]["detector"] == "megadetector-v5a"
    assert megadetector.problems(exported) == []


def test_round_trip_is_stable(project: Project, photos: Path, tmp_path: Path) -> None:
    megadetector.import_file(project, GOLDEN / "md_input.json", "md-a")
    with project.db.session() as session:
        first = megadetector.export(session, "md-a")
    out = tmp_path / "first.json"
    megadetector.write(first, out)
    megadetector.import_file(project, out, "md-b", image_root=photos)
    with project.db.session() as session:
        second = megadetector.export(session, "md-b")
    # The failure reason gains one prefix per import; everything else is identical.
    for image in second["images"]:
        if image.get("failure"):
            image["failure"] = image["failure"].replace(
                "MegaDetector: MegaDetector:", "MegaDetector:"
            )
    assert _without_info(second) == _without_info(first)


BAD = [
    ("[]", "top level"),
    ('{"images": [], "detection_categories": {"1": "animal"}}', "info: missing"),
    (
        '{"info": {"format_version": "2.0"}, "detection_categories": {"1": "animal"},'
        ' "images": []}',
        "not a 1.x format version",
    ),
    (
        '{"info": {"format_version": "1.3"}, "detection_categories": {"1": "animal"},'
        ' "images": [{"file": "a.jpg", "detections": [{"category": "7", "conf": 1.5,'
        ' "bbox": [0.9, 0.1, 0.5, 0.2]}]}, {"file": "a.jpg", "detections": []}]}',
        "images[0].detections[0].category",
    ),
    (
        '{"info": {"format_version": "1.3"}, "detection_categories": {"1": "animal"},'
        ' "images": [{"file": "b.jpg", "detections": [{"category": "1", "conf": 0.5,'
        ' "bbox": [10, 20, 300, 400]}]}]}',
        "not normalised",
    ),
    (
        '{"info": {"format_version": "1.3"}, "detection_categories": {"1": "animal"},'
        ' "images": [{"file": "c.jpg"}]}',
        "images[0].detections: missing",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_malformed_files_are_rejected_with_a_clear_message(
    project: Project, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(BadInput, match="not valid MegaDetector") as info:
        megadetector.import_file(project, path, "bad")
    assert message in str(info.value)
    with project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == 0
        assert session.scalar(select(func.count()).select_from(PredictionSet)) == 0


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = BAD[3][0]
    found = megadetector.problems(json.loads(text))
    assert any("category" in p for p in found)
    assert any("conf: 1.5" in p for p in found)
    assert any("bbox" in p for p in found)
    assert any("appears twice" in p for p in found)


def test_not_json_and_cli_validator(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"images": [')
    with pytest.raises(BadInput, match="not JSON"):
        megadetector.load(path)
    runner = CliRunner()
    good = runner.invoke(app, ["predictions", "validate-md", str(GOLDEN / "md_input.json")])
    assert good.exit_code == 0 and "valid MegaDetector 1.4" in good.output
    bad = runner.invoke(app, ["predictions", "validate-md", str(path)])
    assert isinstance(bad.exception, BadInput)
