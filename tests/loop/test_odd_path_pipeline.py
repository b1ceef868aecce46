"""A photo whose name is not UTF-8 goes the whole way: ingest, web page and thumbnail,
processing, every dataset export and MegaDetector JSON, next to ordinary photos."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

from sqlalchemy import select, update

from tests.support.loop import label_frames
from tests.support.review import add_users, logged_in_clients
from wildloop.config import SplitSettings
from wildloop.datasets.exporters import export_snapshot
from wildloop.datasets.exporters.camtrap_dp_validation import validate_camtrap_dp
from wildloop.datasets.snapshots import create_snapshot
from wildloop.domain.paths import path_from_text
from wildloop.evaluation.promotion import make_first_champion
from wildloop.interchange import megadetector
from wildloop.jobs.local import run_job
from wildloop.media.ingest import ingest_paths
from wildloop.models.registration import register_model
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project
from wildloop.registry.versions import Provenance
from wildloop.store.tables import Camera, Media, PredictionSet
from wildloop.web.app import create_app

DEMO_DETECTOR = Path(__file__).parents[2] / "src" / "wildloop" / "synthetic" / "demo_detector.onnx"
LATIN = b"caf\xe9.jpg"
READABLE = "caf\\xe9.jpg"


def test_a_latin1_name_survives_ingest_review_processing_and_exports(
    project: Project, scenes, tmp_path: Path
) -> None:
    project.config.splits = SplitSettings(train=1.0, val=0.0, test=0.0)
    frames = scenes(bursts=2, seed=5)
    card = tmp_path / "card"
    card.mkdir()
    names = [LATIN, b"new\nline.jpg"] + [f"f{i}.jpg".encode() for i in range(len(frames) - 2)]
    for frame, name in zip(frames, names, strict=True):
        shutil.copy(tmp_path / "scenes" / frame.file_name, os.fsdecode(bytes(card) + b"/" + name))
    report = ingest_paths(project, [card], camera="north")
    assert report.failed == 0 and report.added == len(frames)
    with project.db.session() as session:
        stored = dict(session.execute(select(Media.path, Media.id)).all())
        session.execute(update(Camera).values(latitude=38.9, longitude=-92.3))
    ids = {os.fsencode(path_from_text(p).name): i for p, i in stored.items()}
    latin_id = ids[LATIN]
    label_frames(project, frames, {f.file_name: ids[n] for f, n in zip(frames, names, strict=True)})

    actor = project.author("admin")
    version = register_model(
        project, DEMO_DETECTOR, "demo", provenance=Provenance(source="registered"), actor_id=actor
    )
    with project.db.session() as session:
        make_first_champion(session, version.id, actor, "test champion", classes=project.classes)
    status = run_job(project, submit_process(project, created_by=actor).job_id)
    assert status["state"] == "succeeded", status
    with project.db.session() as session:
        sets = dict(session.execute(select(PredictionSet.media_id, PredictionSet.status)).all())
    assert sets[latin_id] == "ok" and len(sets) == len(frames)

    add_users(project, {"ada": "admin"})
    with logged_in_clients(create_app(project, secret="s")) as client:
        ada = client("ada")
        detail = ada.get(f"/api/v1/media/{latin_id}")
        assert detail.status_code == 200 and detail.json()["path"].endswith(READABLE)
        thumb = ada.get(f"/files/{latin_id}/thumb")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert ada.get(f"/files/{latin_id}/original").content[:2] == b"\xff\xd8"
        assert ada.get(f"/media/{latin_id}").status_code == 200

    info, _ = create_snapshot(project, "training")
    yolo = export_snapshot(project, info.id, "yolo").folder
    (image,) = (yolo / "images" / "train").glob(f"{latin_id:08d}_*")
    assert image.name == f"{latin_id:08d}_caf\ufffd.jpg" and image.resolve().is_file()
    assert (yolo / "labels" / "train" / f"{latin_id:08d}_caf\ufffd.txt").read_text()
    coco = export_snapshot(project, info.id, "coco").folder
    coco_names = {
        i["file_name"]
        for f in coco.glob("instances_*.json")
        for i in json.loads(f.read_text("utf-8"))["images"]
    }
    assert READABLE in coco_names and "new\nline.jpg" in coco_names
    coco_ct = export_snapshot(project, info.id, "coco-ct", images="copy").folder
    ct_names = [
        i["file_name"] for i in json.loads((coco_ct / "coco_ct.json").read_text())["images"]
    ]
    assert all((coco_ct / n).is_file() for n in ct_names)
    camtrap = export_snapshot(project, info.id, "camtrap-dp").folder
    assert validate_camtrap_dp(camtrap) == []
    with (camtrap / "media.csv").open(encoding="utf-8", newline="") as fh:
        media_rows = {r["mediaID"]: r for r in csv.DictReader(fh)}
    assert media_rows[str(latin_id)]["fileName"] == READABLE
    corrections = export_snapshot(project, info.id, "csv").folder / "corrections.csv"
    with corrections.open(encoding="utf-8", newline="") as fh:
        files = {r["file"] for r in csv.DictReader(fh)}
    assert any(f.endswith(READABLE) for f in files)

    with project.db.session() as session:
        md = megadetector.export(session, "demo")
    out = tmp_path / "md.json"
    megadetector.write(md, out)
    assert READABLE in {i["file"] for i in json.loads(out.read_text("utf-8"))["images"]}
