"""Reading COCO detection JSON and COCO Camera Traps (which adds seq_id, location, datetime)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from wildloop.datasets.importers.dataset import ImportedBox, ImportedDataset, ImportedImage
from wildloop.domain.boxes import Box, BoxOutsideImage
from wildloop.errors import BadInput

# Category names COCO Camera Traps files use for "no animal in this frame".
EMPTY_NAMES = frozenset({"empty", "blank", "none", "nothing"})


def read_coco(json_path: Path, images_root: Path | None = None) -> ImportedDataset:
    """Parse a COCO file; image paths resolve against ``images_root`` (default: its folder)."""
    data = _load(json_path)
    root = (images_root or json_path.parent).resolve()
    categories = _categories(data, json_path)
    boxes_by_image = _annotations(data, json_path, categories)
    images = [
        _image(entry, index, root, boxes_by_image, json_path)
        for index, entry in enumerate(data["images"])
    ]
    names = [n for _, n in sorted(categories.items()) if n.lower() not in EMPTY_NAMES]
    return ImportedDataset(source=f"coco:{json_path}", class_names=names, images=images)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadInput(f"{path}: a COCO file is a JSON object with images and categories")
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            raise BadInput(f"{path}: missing or non-list '{key}' (not a COCO detection file)")
    if not isinstance(data.get("annotations", []), list):
        raise BadInput(f"{path}: 'annotations' must be a list")
    return data


def _categories(data: dict[str, Any], path: Path) -> dict[int, str]:
    categories: dict[int, str] = {}
    for i, entry in enumerate(data["categories"]):
        if not isinstance(entry, dict) or "id" not in entry or "name" not in entry:
            raise BadInput(f"{path}: categories[{i}] needs 'id' and 'name'")
        categories[int(entry["id"])] = str(entry["name"])
    return categories


def _annotations(
    data: dict[str, Any], path: Path, categories: dict[int, str]
) -> dict[Any, list[tuple[str, list[float]] | str]]:
    """Boxes in pixels per image id; a string entry is a per-image problem."""
    by_image: dict[Any, list[tuple[str, list[float]] | str]] = defaultdict(list)
    for i, ann in enumerate(data.get("annotations", [])):
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise BadInput(f"{path}: annotations[{i}] needs 'image_id'")
        bbox = ann.get("bbox")
        category = ann.get("category_id")
        if bbox is None:
            if isinstance(category, int) and categories.get(category, "").lower() in EMPTY_NAMES:
                continue  # COCO Camera Traps marks an empty frame with a box-less "empty"
            by_image[ann["image_id"]].append(
                f"annotation {ann.get('id', i)} has no bbox (an image-level label; "
                "detection training needs boxes)"
            )
            continue
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(isinstance(v, int | float) for v in bbox)
        ):
            raise BadInput(f"{path}: annotations[{i}].bbox must be [x, y, width, height]")
        if category not in categories:
            by_image[ann["image_id"]].append(
                f"annotation {ann.get('id', i)}: category_id {category} is not in categories"
            )
            continue
        by_image[ann["image_id"]].append((categories[category], [float(v) for v in bbox]))
    return by_image


def _image(
    entry: Any,
    index: int,
    root: Path,
    boxes_by_image: dict[Any, list[tuple[str, list[float]] | str]],
    path: Path,
) -> ImportedImage:
    if not isinstance(entry, dict) or "id" not in entry or "file_name" not in entry:
        raise BadInput(f"{path}: images[{index}] needs 'id' and 'file_name'")
    image_path = (root / str(entry["file_name"])).resolve()
    width, height = entry.get("width"), entry.get("height")
    problems: list[str] = []
    boxes: list[ImportedBox] = []
    for item in boxes_by_image.get(entry["id"], []):
        if isinstance(item, str):
            problems.append(item)
            continue
        if not width or not height:
            problems.append("image has boxes but no width/height to normalise them")
            break
        name, (x, y, w, h) = item
        try:
            boxes.append(ImportedBox(name, Box.from_pixels(x, y, w, h, int(width), int(height))))
        except BoxOutsideImage as exc:
            problems.append(f"{name} box {[x, y, w, h]} on a {width}x{height} image: {exc}")
    seq = entry.get("seq_id")
    return ImportedImage(
        path=image_path,
        boxes=tuple(boxes),
        sequence_key=f"seq:{seq}" if seq not in (None, "") else None,
        captured_at=_parse_datetime(entry.get("datetime")),
        camera=str(entry["location"]) if entry.get("location") not in (None, "") else None,
        problems=tuple(problems),
    )


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None
