"""Camtrap DP 1.0.2: deployments.csv, media.csv, observations.csv and datapackage.json.

One camera is one deployment. Observations are media-level: one per labelled box (with its
normalised bounding box) and one "blank" observation per reviewed empty frame; pseudo-labels
are marked ``classificationMethod = machine``. A box that is a person-confirmed sighting of a
known animal carries the individual's name as ``individualID``. Camera clocks carry no time zone, so
timestamps get the project's configured UTC offset. Camtrap DP requires coordinates for every
deployment: cameras without them are refused unless a fallback is given, and the README says so.
"""

from __future__ import annotations

import csv
import json
import mimetypes
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from wildloop.datasets.exporters.context import ExportContext
from wildloop.datasets.snapshots import SnapshotEntry
from wildloop.domain.paths import readable_path
from wildloop.errors import BadInput
from wildloop.individuals.interchange import NamedBox, individual_of, named_sightings
from wildloop.store.tables import Camera, ModelVersion, PredictionSet

VERSION = "1.0.2"
SCHEMA_BASE = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}"
PROFILE_URL = f"{SCHEMA_BASE}/camtrap-dp-profile.json"
TABLES = ("deployments", "media", "observations")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _fields(table: str) -> list[str]:
    schema = Path(__file__).with_name("camtrap_dp_1_0_2") / f"{table}-table-schema.json"
    return [f["name"] for f in json.loads(schema.read_text(encoding="utf-8"))["fields"]]


def export_camtrap_dp(
    ctx: ExportContext, coordinates: tuple[float, float] | None = None
) -> list[Path]:
    settings = ctx.project.config.datasets
    offset = settings.camtrap_utc_offset
    cameras = _cameras(ctx, coordinates)
    entries = ctx.data.entries

    def stamp(when: datetime | None) -> str:
        return (when or datetime(1970, 1, 1)).strftime("%Y-%m-%dT%H:%M:%S") + offset

    by_camera: dict[str, list[SnapshotEntry]] = defaultdict(list)
    for entry in entries:
        by_camera[_deployment_id(entry)].append(entry)
    deployments = []
    for dep_id, members in sorted(by_camera.items()):
        cam = cameras.get(members[0].camera_id or -1, {})
        times = [e.captured_at for e in members if e.captured_at is not None]
        deployments.append(
            {
                "deploymentID": dep_id,
                "locationID": cam.get("location") or dep_id,
                "locationName": cam.get("location") or dep_id,
                "latitude": cam["latitude"],
                "longitude": cam["longitude"],
                "deploymentStart": stamp(min(times) if times else None),
                "deploymentEnd": stamp(max(times) if times else None),
                "cameraID": members[0].camera or "",
                "cameraModel": cam.get("model") or "",
                "timestampIssues": "true" if len(times) < len(members) else "false",
                "deploymentComments": _clock_note(cam.get("clock_offset_seconds") or 0),
            }
        )
    media_rows, observations = [], []
    models = _pseudo_label_models(ctx)
    with ctx.project.db.session() as session:
        animals = named_sightings(session, (e.media_id for e in entries))
    for entry in entries:
        media_rows.append(
            {
                "mediaID": str(entry.media_id),
                "deploymentID": _deployment_id(entry),
                "captureMethod": "activityDetection",
                "timestamp": stamp(entry.captured_at),
                "filePath": _file_path(ctx, entry),
                "filePublic": "false",
                "fileName": readable_path(entry.path.name),
                "fileMediatype": mimetypes.guess_type(entry.path.name)[0] or "image/jpeg",
            }
        )
        observations += _observations(ctx, entry, stamp, models, animals.get(entry.media_id, []))
    _write_csv(ctx.out / "deployments.csv", _fields("deployments"), deployments)
    _write_csv(ctx.out / "media.csv", _fields("media"), media_rows)
    _write_csv(ctx.out / "observations.csv", _fields("observations"), observations)
    package = _package(ctx, deployments, observations)
    package["project"]["individualAnimals"] = any(o.get("individualID") for o in observations)
    (ctx.out / "datapackage.json").write_text(json.dumps(package, indent=2), encoding="utf-8")
    return [ctx.out / f"{t}.csv" for t in TABLES] + [ctx.out / "datapackage.json"]


def _deployment_id(entry: SnapshotEntry) -> str:
    return entry.camera or "unknown-camera"


def _cameras(ctx: ExportContext, fallback: tuple[float, float] | None) -> dict[int, dict[str, Any]]:
    ids = {e.camera_id for e in ctx.data.entries if e.camera_id is not None}
    with ctx.project.db.session() as session:
        rows = session.scalars(select(Camera).where(Camera.id.in_(ids))).all()
    out: dict[int, dict[str, Any]] = {}
    missing = []
    for cam in rows:
        lat, lon = cam.latitude, cam.longitude
        if lat is None or lon is None:
            if fallback is None:
                missing.append(cam.name)
                continue
            lat, lon = fallback
            ctx.warnings.append(
                f"camera {cam.name} has no coordinates; the fallback {lat}, {lon} was written"
            )
        out[cam.id] = {
            "latitude": lat,
            "longitude": lon,
            "location": cam.location,
            "model": cam.model,
            "clock_offset_seconds": cam.clock_offset_seconds,
        }
    if missing:
        raise BadInput(
            "Camtrap DP requires coordinates for every deployment, and these cameras have none: "
            f"{', '.join(sorted(missing))}. Store them on the cameras, or pass "
            "--coordinates LAT,LON to write one fallback position (recorded in the README)."
        )
    return out


def _file_path(ctx: ExportContext, entry: SnapshotEntry) -> str:
    if ctx.images == "none":
        name = ctx.relative_name(entry)
        if not _CONTROL.search(name):
            return name
        # Camtrap DP's filePath pattern admits no line breaks; the exact file is in the
        # project, the package gets a readable stand-in and the README says so.
        ctx.warnings.append(
            f"media {entry.media_id}: control characters in its file name are written as "
            "\\xNN in filePath (Camtrap DP allows none)"
        )
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", name)
    name = f"media/{ctx.unique_name(entry)}"
    ctx.place_image(entry, ctx.out / name)
    return name


def _clock_note(offset_seconds: int) -> str:
    """Camtrap DP has no field for a clock fix; the comment says it is already applied."""
    if not offset_seconds:
        return ""
    return (
        f"wildloop: camera clock corrected by {offset_seconds:+d} s; timestamps include "
        "the correction"
    )


def _pseudo_label_models(ctx: ExportContext) -> dict[int, str]:
    """The model version behind each pseudo-labelled item's prediction set, by set id: a
    machine observation names the model that made it (``classifiedBy``)."""
    ids = {e.prediction_set_id for e in ctx.data.entries if e.pseudo and e.prediction_set_id}
    if not ids:
        return {}
    with ctx.project.db.session() as session:
        rows = session.execute(
            select(PredictionSet.id, ModelVersion.name)
            .join(ModelVersion, ModelVersion.id == PredictionSet.model_version_id)
            .where(PredictionSet.id.in_(ids))
        ).all()
    return {int(set_id): str(name) for set_id, name in rows}


def _observations(
    ctx: ExportContext,
    entry: SnapshotEntry,
    stamp: Any,
    models: dict[int, str],
    animals: list[NamedBox],
) -> list[dict[str, Any]]:
    names = ctx.project.config.datasets.scientific_names
    base = {
        "deploymentID": _deployment_id(entry),
        "mediaID": str(entry.media_id),
        "eventID": entry.group,
        "eventStart": stamp(entry.captured_at),
        "eventEnd": stamp(entry.captured_at),
        "observationLevel": "media",
        "classificationMethod": "machine" if entry.pseudo else "human",
        "classifiedBy": entry.labelled_by
        or (models.get(entry.prediction_set_id or -1, "pseudo-label") if entry.pseudo else ""),
        "classificationTimestamp": (
            entry.labelled_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
            if entry.labelled_at
            else ""
        ),
    }
    if not entry.targets:
        return [base | {"observationID": f"{entry.media_id}-0", "observationType": "blank"}]
    rows = []
    for k, target in enumerate(entry.targets, start=1):
        b = target.box
        x, y = max(0.0, b.x), max(0.0, b.y)
        w, h = min(b.w, 1 - x), min(b.h, 1 - y)
        name = ctx.data.classes.name_of(target.class_id)
        rows.append(
            base
            | {
                "observationID": f"{entry.media_id}-{k}",
                "observationType": "animal",
                "scientificName": names.get(name, name),
                "count": 1,
                "individualID": individual_of(animals, target.class_id, b) or "",
                "bboxX": f"{x:.6f}",
                "bboxY": f"{y:.6f}",
                "bboxWidth": f"{max(w, 1e-6):.6f}",
                "bboxHeight": f"{max(h, 1e-6):.6f}",
                "observationTags": f"wildloop:class={name}",
            }
        )
    return rows


def _write_csv(path: Path, fields: Sequence[str], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields), extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


def _package(
    ctx: ExportContext, deployments: list[dict[str, Any]], observations: list[dict[str, Any]]
) -> dict[str, Any]:
    info = ctx.data.info
    lats = [float(d["latitude"]) for d in deployments] or [0.0]
    lons = [float(d["longitude"]) for d in deployments] or [0.0]
    starts = [d["deploymentStart"][:10] for d in deployments] or ["1970-01-01"]
    ends = [d["deploymentEnd"][:10] for d in deployments] or ["1970-01-01"]
    taxa = sorted({o["scientificName"] for o in observations if o.get("scientificName")})
    reviewers = sorted({e.labelled_by for e in ctx.data.entries if e.labelled_by})
    return {
        "profile": PROFILE_URL,
        "name": _slug(f"{ctx.project.config.name}-{info.name}"),
        "id": info.content_hash,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": f"{ctx.project.config.name}: snapshot {info.name}",
        "version": info.content_hash[:12],
        "contributors": [{"title": r, "role": "contributor"} for r in reviewers]
        or [{"title": "wildloop", "role": "contributor"}],
        "sources": [{"title": "wildloop", "version": "0.1.0"}],
        "project": {
            "title": ctx.project.config.name,
            "samplingDesign": "opportunistic",
            "captureMethod": ["activityDetection"],
            "individualAnimals": False,
            "observationLevel": ["media"],
        },
        "spatial": {
            "type": "Polygon",
            "coordinates": [
                [
                    [min(lons), min(lats)],
                    [max(lons), min(lats)],
                    [max(lons), max(lats)],
                    [min(lons), max(lats)],
                    [min(lons), min(lats)],
                ]
            ],
        },
        "temporal": {"start": min(starts), "end": max(ends)},
        "taxonomic": [{"scientificName": t} for t in taxa],
        "resources": [
            {
                "name": table,
                "path": f"{table}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": f"{SCHEMA_BASE}/{table}-table-schema.json",
            }
            for table in TABLES
        ],
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "wildloop"
