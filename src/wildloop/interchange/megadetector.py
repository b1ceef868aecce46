"""MegaDetector batch-output JSON (format 1.x): validate, import as a prediction set, export.

Users bring MegaDetector results and review them in wildloop; Timelapse users read any
wildloop prediction set back in this format. Boxes are ``[x, y, w, h]`` normalised with a
top-left origin, the same convention as wildloop's own tables, so no box is converted.
Category ids are strings of integers (``"1"`` = first class); a failed image carries
``failure`` instead of detections.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.atomic import write_text_atomic
from wildloop.domain.classes import ClassMap
from wildloop.domain.paths import readable_path, readable_text
from wildloop.errors import BadInput, NotFound
from wildloop.inference.pipeline import Detection, ItemResult
from wildloop.processing.writer import write_results
from wildloop.project import Project
from wildloop.registry.versions import get_version, project_class_ids, register_external
from wildloop.review.hidden_regions import hidden_regions
from wildloop.store.tables import Media, ModelVersion, Prediction, PredictionSet
from wildloop.store.types import utcnow

FORMAT_VERSION = "1.4"
TOLERANCE = 1e-3
MAX_PROBLEMS_SHOWN = 20
WRITE_BATCH = 1000


# --- validation ---------------------------------------------------------------------------


def problems(data: Any) -> list[str]:
    """Every way ``data`` breaks the format, each with its JSON location; [] when valid."""
    found: list[str] = []
    if not isinstance(data, dict):
        return ["top level: expected a JSON object with images, detection_categories and info"]
    info = data.get("info")
    if not isinstance(info, dict):
        found.append("info: missing or not an object")
    else:
        version = info.get("format_version")
        if not isinstance(version, str) or not version.startswith("1."):
            found.append(f"info.format_version: {version!r} is not a 1.x format version")
    categories = data.get("detection_categories")
    if not isinstance(categories, dict) or not categories:
        found.append('detection_categories: missing or empty (expected {"1": "animal", ...})')
        categories = {}
    for key, name in categories.items():
        if not str(key).isdigit():
            found.append(f"detection_categories[{key!r}]: category ids must be integer strings")
        if not isinstance(name, str) or not name.strip():
            found.append(f"detection_categories[{key!r}]: the name must be a non-empty string")
    images = data.get("images")
    if not isinstance(images, list):
        found.append("images: missing or not a list")
        return found
    seen: set[str] = set()
    for i, image in enumerate(images):
        found.extend(_image_problems(f"images[{i}]", image, categories, seen))
    return found


def _image_problems(
    where: str, image: Any, categories: dict[str, Any], seen: set[str]
) -> Iterator[str]:
    if not isinstance(image, dict):
        yield f"{where}: expected an object"
        return
    file = image.get("file")
    if not isinstance(file, str) or not file:
        yield f"{where}.file: missing or empty"
    elif file in seen:
        yield f"{where}.file: {file!r} appears twice"
    else:
        seen.add(file)
    if image.get("failure") is not None:
        if not isinstance(image["failure"], str):
            yield f"{where}.failure: must be a string"
        return
    detections = image.get("detections")
    if not isinstance(detections, list):
        yield f"{where}.detections: missing (and no failure given)"
        return
    for j, det in enumerate(detections):
        yield from _detection_problems(f"{where}.detections[{j}]", det, categories)


def _detection_problems(where: str, det: Any, categories: dict[str, Any]) -> Iterator[str]:
    if not isinstance(det, dict):
        yield f"{where}: expected an object"
        return
    if str(det.get("category")) not in categories:
        yield f"{where}.category: {det.get('category')!r} is not in detection_categories"
    conf: Any = det.get("conf")
    if not _number(conf) or not 0 <= conf <= 1:
        yield f"{where}.conf: {conf!r} is not a number in 0..1"
    bbox = det.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_number(v) for v in bbox):
        yield f"{where}.bbox: expected [x, y, width, height] as 4 numbers"
        return
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        yield f"{where}.bbox: width and height must be > 0, got {w}, {h}"
    if x < -TOLERANCE or y < -TOLERANCE or x + w > 1 + TOLERANCE or y + h > 1 + TOLERANCE:
        yield f"{where}.bbox: {bbox} is not normalised to 0..1 (top-left x, y, width, height)"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def validate(data: Any, source: str = "input") -> dict[str, Any]:
    """Return ``data`` if valid, else raise BadInput listing the problems found."""
    found = problems(data)
    if found:
        shown = "\n  - ".join(found[:MAX_PROBLEMS_SHOWN])
        more = (
            f"\n  ... and {len(found) - MAX_PROBLEMS_SHOWN} more"
            if len(found) > MAX_PROBLEMS_SHOWN
            else ""
        )
        raise BadInput(
            f"{source} is not valid MegaDetector batch output ({len(found)} problems):\n  - "
            f"{shown}{more}"
        )
    return data  # type: ignore[no-any-return]


def load(path: Path) -> dict[str, Any]:
    """Read and validate a MegaDetector JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return validate(data, str(path))


# --- import -------------------------------------------------------------------------------


@dataclass
class ImportReport:
    version_id: int
    name: str
    images: int = 0
    matched: int = 0
    failed_images: int = 0
    detections: int = 0
    below_threshold: int = 0
    unmatched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version_id": self.version_id,
            "name": self.name,
            "images": self.images,
            "matched": self.matched,
            "failed_images": self.failed_images,
            "detections": self.detections,
            "below_store_threshold": self.below_threshold,
            "unmatched": len(self.unmatched),
            "unmatched_examples": self.unmatched[:20],
        }


def import_file(
    project: Project,
    path: Path,
    name: str,
    *,
    image_root: Path | None = None,
    actor_id: int | None = None,
) -> ImportReport:
    """Import MegaDetector results as the prediction set of a new external version ``name``.

    ``file`` entries are resolved against ``image_root`` when given, else matched to the
    one ingested media path that ends with them. Files that match nothing are reported.
    """
    data = load(path)
    keys = sorted(data["detection_categories"], key=int)
    classes = [data["detection_categories"][k] for k in keys]
    index = {k: i for i, k in enumerate(keys)}
    threshold = project.config.thresholds.store
    with project.db.session() as session:
        version = register_external(
            session,
            name,
            classes,
            notes=f"imported from {path.name}",
            params={"format": "megadetector", "info": data["info"], "category_ids": keys},
            actor_id=actor_id,
        )
        locate = _locator(session, image_root)
    report = ImportReport(version.id, name, images=len(data["images"]))
    class_ids = project_class_ids(version, project.classes)
    batch: list[ItemResult] = []
    for image in data["images"]:
        media_id = locate(image["file"])
        if media_id is None:
            report.unmatched.append(image["file"])
            continue
        report.matched += 1
        if image.get("failure") is not None:
            report.failed_images += 1
            batch.append(ItemResult(media_id, error=f"MegaDetector: {image['failure']}"))
        else:
            kept = [d for d in image["detections"] if d["conf"] >= threshold]
            report.below_threshold += len(image["detections"]) - len(kept)
            report.detections += len(kept)
            batch.append(ItemResult(media_id, tuple(_detection(d, index) for d in kept)))
        if len(batch) >= WRITE_BATCH:
            _write(project, version, classes, class_ids, batch)
    _write(project, version, classes, class_ids, batch)
    return report


def _detection(det: dict[str, Any], index: dict[str, int]) -> Detection:
    x, y, w, h = (float(v) for v in det["bbox"])
    x0, y0 = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
    return Detection(
        index[str(det["category"])],
        float(det["conf"]),
        x0,
        y0,
        min(w, 1.0 - x0),
        min(h, 1.0 - y0),
    )


def _write(
    project: Project,
    version: ModelVersion,
    classes: list[str],
    class_ids: list[int | None],
    batch: list[ItemResult],
) -> None:
    if batch:
        with project.db.session() as session:
            write_results(session, version.id, classes, class_ids, batch)
        batch.clear()


def _locator(session: Session, image_root: Path | None) -> Any:
    # Matched on the readable form: what our own exports wrote for names that are not UTF-8.
    paths = [
        (readable_text(p), i)
        for p, i in session.execute(select(Media.path, Media.id).where(Media.status == "ok"))
    ]
    if image_root is not None:
        root = image_root.expanduser().resolve()
        exact = dict(paths)
        return lambda file: exact.get(readable_path((root / file).resolve()))
    by_name: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for p, i in paths:
        posix = Path(p).as_posix()
        by_name[PurePosixPath(posix).name].append((posix, i))

    def locate(file: str) -> int | None:
        rel = file.replace("\\", "/").lstrip("./")
        hits = [i for p, i in by_name.get(PurePosixPath(rel).name, []) if p.endswith("/" + rel)]
        return hits[0] if len(hits) == 1 else None

    return locate


# --- export -------------------------------------------------------------------------------


def export(
    session: Session,
    model: str,
    image_root: Path | None = None,
    min_score: float = 0.0,
    classes: ClassMap | None = None,
) -> dict[str, Any]:
    """A version's prediction sets as MegaDetector JSON; paths relative to ``image_root``
    (default: the folder all its images share). ``min_score`` leaves out the low boxes kept
    on test items for evaluation (callers pass ``thresholds.store``). With the project's
    ``classes``, a category is named by the project class the version's model class maps to
    (as the review screens show it), else by the model's own class name. Boxes inside a
    false-positive repeat region in force on their camera are left out, as the review
    screens hide them; undoing the decision brings them back."""
    version = get_version(session, model)
    rows = session.execute(
        select(PredictionSet.id, PredictionSet.status, PredictionSet.error, Media.path)
        .join(Media, Media.id == PredictionSet.media_id)
        .where(PredictionSet.model_version_id == version.id)
        .order_by(Media.path)
    ).all()
    if not rows:
        raise NotFound(f"model {version.name!r} has no prediction sets to export")
    files = [readable_text(r.path) for r in rows]
    root = readable_path(image_root.expanduser().resolve()) if image_root else _common_root(files)
    category = {name: str(i + 1) for i, name in enumerate(version.classes)}
    shown = list(version.classes)
    if classes is not None:
        ids = project_class_ids(version, classes)
        shown = [n if i is None else classes.name_of(i) for n, i in zip(shown, ids, strict=True)]
    boxes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    query = (
        select(
            Prediction.prediction_set_id,
            Prediction.class_name,
            Prediction.score,
            Prediction.x,
            Prediction.y,
            Prediction.w,
            Prediction.h,
        )
        .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
        .where(PredictionSet.model_version_id == version.id, Prediction.score >= min_score)
        .order_by(Prediction.prediction_set_id, Prediction.score.desc(), Prediction.id)
    )
    hidden = hidden_regions(session)
    if hidden is not None:  # boxes a person decided are a static false positive stay out
        query = query.join(Media, Media.id == PredictionSet.media_id).where(
            hidden.shows(Prediction, Media.camera_id)
        )
    for set_id, name, score, x, y, w, h in session.execute(query):
        boxes[set_id].append(
            {
                "category": category[name],
                "conf": round(score, 4),
                "bbox": [round(v or 0.0, 4) for v in (x, y, w, h)],
            }
        )
    images = []
    for row, path in zip(rows, files, strict=True):
        file = Path(os.path.relpath(path, root)).as_posix()
        if row.status == "failed":
            images.append({"file": file, "failure": row.error or "failed", "detections": None})
        else:
            dets = boxes.get(row.id, [])
            images.append(
                {
                    "file": file,
                    "max_detection_conf": max((d["conf"] for d in dets), default=0.0),
                    "detections": dets,
                }
            )
    return validate(
        {
            "info": {
                "format_version": FORMAT_VERSION,
                "detector": version.name,
                "detection_completion_time": utcnow().strftime("%Y-%m-%d %H:%M:%S"),
                "detector_metadata": {
                    "wildloop_model_version_id": version.id,
                    "sha256": version.artifact_sha256,
                    "source": version.source,
                },
            },
            "detection_categories": {str(i + 1): name for i, name in enumerate(shown)},
            "images": images,
        },
        "export",
    )


def write(data: dict[str, Any], out: Path) -> None:
    write_text_atomic(out, json.dumps(data, indent=1) + "\n")


def _common_root(paths: list[str]) -> str:
    folders = [str(Path(p).parent) for p in paths]
    return os.path.commonpath(folders) if folders else "/"
