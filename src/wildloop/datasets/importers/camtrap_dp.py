"""Reading a TDWG Camtrap DP 1.0 package written by any tool into the neutral import shape.

What becomes what:
- a deployment is a camera (named by ``deploymentID``) with its place and coordinates;
- a media row is an image, its ``filePath`` relative to the package (URLs are refused: nothing
  is fetched), its ``timestamp`` read as the camera's wall clock (an offset is dropped, the
  clock time kept, as wildloop stores camera-local times);
- a media-level observation of an animal, human or vehicle with a bounding box is a labelled
  box named by ``scientificName`` (or the observation type); ``blank`` marks an empty frame;
- an event-level observation applies to the deployment's media inside its
  ``eventStart..eventEnd`` that have no media-level observation: ``blank`` marks them
  empty, and an animal (which has no box at that level) fails them with the reason;
- a box's ``individualID`` names the known animal it shows: a sighting of that individual
  (created, of the box's class, when the project lacks it);
- ``classificationMethod = machine`` observations are model output, not a person's labels:
  they are counted and left out; ``classifiedBy`` is kept as the label's author.

A row that cannot be read fails its own media item (or is reported, for a row that names no
media), never the package. Unknown taxa are left to ``import_labels`` (``--map``,
``--add-classes``), as for every other format.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from wildloop.datasets.importers.dataset import (
    ImportedBox,
    ImportedCamera,
    ImportedDataset,
    ImportedImage,
)
from wildloop.domain.boxes import Box, BoxOutsideImage
from wildloop.errors import BadInput

TABLES = ("deployments", "media", "observations")
LABELLED_TYPES = frozenset({"animal", "human", "vehicle"})
UNLABELLED_TYPES = frozenset({"unknown", "unclassified"})
CLOCK_NOTE = re.compile(r"wildloop: camera clock corrected by ([+-]\d+) s")


@dataclass
class _Media:
    media_id: str
    deployment: str
    path: Path | None
    when: datetime | None
    problems: list[str] = field(default_factory=list)
    boxes: list[ImportedBox] = field(default_factory=list)
    blank: bool = False
    media_level: bool = False  # any usable media-level observation
    event_blank: bool = False
    event_animals: list[str] = field(default_factory=list)
    sequence_key: str | None = None
    authors: set[str] = field(default_factory=set)


def read_camtrap_dp(path: Path) -> ImportedDataset:
    """Parse the package at ``path`` (its folder or its datapackage.json)."""
    package_file = path / "datapackage.json" if path.is_dir() else path
    root = package_file.parent
    tables = _table_paths(package_file, root)
    notes: list[str] = []
    cameras = _deployments(_rows(tables["deployments"]), notes)
    media = _media(_rows(tables["media"]), root, cameras, notes)
    _observations(_rows(tables["observations"]), media, notes)
    images = [_image(m) for m in media.values()]
    event_only = sum(1 for m in media.values() if not m.media_level and m.event_animals)
    if event_only:
        notes.append(
            f"{event_only} images have only event-level animal observations, which carry no "
            "boxes: they are ingested without labels (wildloop labels are boxes)"
        )
    used = sorted({b.class_name for image in images for b in image.boxes})
    return ImportedDataset(
        source=f"camtrap-dp:{package_file}",
        class_names=used,
        images=images,
        cameras=list(cameras.values()),
        notes=notes,
    )


def _table_paths(package_file: Path, root: Path) -> dict[str, Path]:
    """Each table's file, from the package's resources where it names them."""
    found = {t: root / f"{t}.csv" for t in TABLES}
    if package_file.is_file():
        try:
            package = json.loads(package_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"cannot read {package_file}: {exc}") from exc
        for resource in package.get("resources", []) if isinstance(package, dict) else []:
            name, where = resource.get("name"), resource.get("path")
            if name in found and isinstance(where, str):
                if "://" in where:
                    raise BadInput(
                        f"{package_file}: resource {name} is at {where}; wildloop reads packages "
                        "from disk only (download it next to datapackage.json first)"
                    )
                found[name] = root / where
    elif package_file.name != "datapackage.json" or not root.is_dir():
        raise BadInput(f"no Camtrap DP package at {package_file}")
    missing = [str(p) for p in found.values() if not p.is_file()]
    if missing:
        raise BadInput(f"the Camtrap DP package lacks {', '.join(missing)}")
    return found


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return [
                {k: (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(fh)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc


def _deployments(rows: list[dict[str, str]], notes: list[str]) -> dict[str, ImportedCamera]:
    cameras: dict[str, ImportedCamera] = {}
    for i, row in enumerate(rows, start=2):
        dep = row.get("deploymentID", "")
        if not dep:
            notes.append(f"deployments.csv line {i}: no deploymentID; row skipped")
            continue
        lat, lon = _number(row.get("latitude")), _number(row.get("longitude"))
        if not _within(lat, 90) or not _within(lon, 180):
            notes.append(f"deployment {dep}: coordinates {lat}, {lon} are out of range; not kept")
            lat = lon = None
        cameras[dep] = ImportedCamera(
            name=dep,
            location=row.get("locationName") or row.get("locationID") or None,
            latitude=lat,
            longitude=lon,
            model=row.get("cameraModel") or None,
            clock_offset_seconds=_clock_offset(row.get("deploymentComments", "")),
        )
    return cameras


def _media(
    rows: list[dict[str, str]], root: Path, cameras: dict[str, ImportedCamera], notes: list[str]
) -> dict[str, _Media]:
    media: dict[str, _Media] = {}
    for i, row in enumerate(rows, start=2):
        media_id = row.get("mediaID", "")
        if not media_id:
            notes.append(f"media.csv line {i}: no mediaID; row skipped")
            continue
        item = _Media(media_id, row.get("deploymentID", ""), None, None)
        if media_id in media:
            item.problems.append(f"mediaID {media_id} appears twice in media.csv")
            media[f"{media_id}#line{i}"] = item
            continue
        media[media_id] = item
        file_path = row.get("filePath", "")
        if not file_path:
            item.problems.append("media row has no filePath")
        elif "://" in file_path:
            item.problems.append(f"filePath {file_path} is a URL; nothing is downloaded")
        else:
            item.path = (root / file_path).resolve()
        if item.deployment not in cameras:
            item.problems.append(f"deploymentID {item.deployment!r} is not in deployments.csv")
        item.when = _timestamp(row.get("timestamp", ""))
        if item.when is None:
            item.problems.append(f"timestamp {row.get('timestamp', '')!r} is not ISO 8601")
    return media


def _observations(rows: list[dict[str, str]], media: dict[str, _Media], notes: list[str]) -> None:
    by_deployment: dict[str, list[_Media]] = defaultdict(list)
    for m in media.values():
        by_deployment[m.deployment].append(m)
    machine = 0
    events = []
    for i, row in enumerate(rows, start=2):
        kind = row.get("observationType", "")
        if row.get("classificationMethod") == "machine":
            machine += 1
            continue
        if row.get("observationLevel") == "event":
            events.append((i, row))
            continue
        target = media.get(row.get("mediaID", ""))
        if target is None:
            notes.append(
                f"observations.csv line {i}: media-level observation of unknown mediaID "
                f"{row.get('mediaID', '')!r}; skipped"
            )
            continue
        if kind in UNLABELLED_TYPES:
            continue
        _media_observation(target, row, kind)
    for i, row in events:
        _event_observation(i, row, by_deployment.get(row.get("deploymentID", ""), []), notes)
    if machine:
        notes.append(
            f"{machine} machine observations (classificationMethod = machine) were not "
            "imported: they are model output, not a person's labels"
        )


def _media_observation(target: _Media, row: dict[str, str], kind: str) -> None:
    target.media_level = True
    if row.get("classifiedBy"):
        target.authors.add(row["classifiedBy"])
    if event := row.get("eventID"):
        # Another tool's eventID is scoped to its deployment; wildloop's exports write
        # sequence keys (which hold a '/'), kept as they are so a round trip changes nothing.
        target.sequence_key = event if "/" in event else f"{target.deployment}/{event}"
    if kind == "blank":
        target.blank = True
        return
    if kind not in LABELLED_TYPES:
        target.problems.append(f"observation {row.get('observationID')}: type {kind!r} unknown")
        return
    name = _class_name(row, kind)
    values = [_number(row.get(k)) for k in ("bboxX", "bboxY", "bboxWidth", "bboxHeight")]
    if any(v is None for v in values):
        target.problems.append(
            f"observation {row.get('observationID')} of {name} has no bounding box "
            "(wildloop labels are boxes)"
        )
        return
    x, y, w, h = (float(v or 0) for v in values)
    try:
        box = Box(x, y, w, h)
    except BoxOutsideImage as exc:
        target.problems.append(f"observation {row.get('observationID')}: box {values}: {exc}")
        return
    target.boxes.append(ImportedBox(name, box, row.get("individualID") or None))


def _event_observation(
    line: int, row: dict[str, str], candidates: list[_Media], notes: list[str]
) -> None:
    start, end = _timestamp(row.get("eventStart", "")), _timestamp(row.get("eventEnd", ""))
    if start is None or end is None:
        notes.append(f"observations.csv line {line}: event without readable start/end; skipped")
        return
    kind = row.get("observationType", "")
    for m in candidates:
        if m.when is None or not start <= m.when <= end or m.media_level:
            continue
        if kind == "blank":
            m.event_blank = True
        elif kind in LABELLED_TYPES:
            m.event_animals.append(_class_name(row, kind))
        if row.get("classifiedBy"):
            m.authors.add(row["classifiedBy"])


def _image(m: _Media) -> ImportedImage:
    """The image, labelled when a person's media-level observation or a blank event covers
    it; ingested unlabelled (effort still counts) when nobody classified it with a box."""
    problems = list(m.problems)
    if m.boxes and m.blank:
        problems.append("observations say both blank and animal")
    labelled = m.media_level or (m.event_blank and not m.event_animals)
    return ImportedImage(
        path=m.path or Path(f"<missing:{m.media_id}>"),
        boxes=tuple(m.boxes),
        sequence_key=m.sequence_key,
        captured_at=m.when,
        camera=m.deployment or None,
        problems=tuple(problems),
        labelled=labelled,
        author=next(iter(m.authors)) if len(m.authors) == 1 else None,
    )


def _class_name(row: dict[str, str], kind: str) -> str:
    return row.get("scientificName") or kind


def _clock_offset(comment: str) -> int:
    """The correction a wildloop export noted in deploymentComments (timestamps include it)."""
    found = CLOCK_NOTE.search(comment)
    return int(found.group(1)) if found else 0


def _within(value: float | None, bound: float) -> bool:
    return value is None or -bound <= value <= bound


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _timestamp(text: str) -> datetime | None:
    """The camera's wall-clock time: an offset or 'Z' is read and dropped."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=None)
