"""COCO detection JSON (one file per split) and COCO Camera Traps (one file, with sequences,
locations and datetimes), both readable by pycocotools.

Category ids are the project's stable class ids, image ids the media ids, so a file exported
twice names the same things the same way. Boxes are in pixels, as COCO expects.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wildloop.datasets.exporters.context import ExportContext
from wildloop.datasets.snapshots import SnapshotEntry

EMPTY_CATEGORY = "empty"


def _file_name(ctx: ExportContext, entry: SnapshotEntry) -> str:
    if ctx.images == "none":
        return ctx.relative_name(entry)
    name = f"images/{entry.split}/{ctx.unique_name(entry)}"
    ctx.place_image(entry, ctx.out / name)
    return name


def _info(ctx: ExportContext, kind: str) -> dict[str, Any]:
    info = ctx.data.info
    return {
        "description": f"{ctx.project.config.name}: {kind} export of snapshot {info.name}",
        "version": info.content_hash[:12],
        "date_created": datetime.now(UTC).isoformat(timespec="seconds"),
        "snapshot": info.name,
        "snapshot_hash": info.content_hash,
        "image_root": str(ctx.image_root) if ctx.images == "none" else ".",
    }


def _categories(ctx: ExportContext) -> list[dict[str, Any]]:
    return [{"id": c.id, "name": c.name} for c in ctx.data.classes]


def _annotation(ann_id: int, entry: SnapshotEntry, class_id: int, box: Any) -> dict[str, Any]:
    x, y, w, h = box.to_pixels(entry.width, entry.height)
    return {
        "id": ann_id,
        "image_id": entry.media_id,
        "category_id": class_id,
        "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
        "area": round(w * h, 2),
        "iscrowd": 0,
    }


def export_coco(ctx: ExportContext) -> list[Path]:
    by_split: dict[str, list[SnapshotEntry]] = defaultdict(list)
    for entry in ctx.data.entries:
        by_split[entry.split].append(entry)
    written = []
    for split, entries in sorted(by_split.items()):
        images, annotations = [], []
        for entry in entries:
            image = {
                "id": entry.media_id,
                "file_name": _file_name(ctx, entry),
                "width": entry.width,
                "height": entry.height,
            }
            if entry.pseudo:
                image["pseudo_label"] = True
            images.append(image)
            for target in entry.targets:
                annotations.append(
                    _annotation(len(annotations) + 1, entry, target.class_id, target.box)
                )
        path = ctx.out / f"instances_{split}.json"
        document = {
            "info": _info(ctx, "COCO detection") | {"split": split},
            "images": images,
            "annotations": annotations,
            "categories": _categories(ctx),
        }
        path.write_text(json.dumps(document, indent=1), encoding="utf-8")
        written.append(path)
    return written


def export_coco_ct(ctx: ExportContext) -> list[Path]:
    """COCO Camera Traps: adds seq_id, seq_num_frames, frame_num, location and datetime, and
    gives reviewed empty frames an annotation of the "empty" category, as LILA sets do."""
    frames = _frame_numbers(ctx.data.entries)
    seq_sizes: dict[str, int] = defaultdict(int)
    for entry in ctx.data.entries:
        seq_sizes[entry.group] += 1
    empty_id = max((c.id for c in ctx.data.classes), default=-1) + 1
    images, annotations = [], []
    for entry in ctx.data.entries:
        image: dict[str, Any] = {
            "id": entry.media_id,
            "file_name": _file_name(ctx, entry),
            "width": entry.width,
            "height": entry.height,
            "seq_id": entry.group,
            "seq_num_frames": seq_sizes[entry.group],
            "frame_num": frames[entry.media_id],
            "location": entry.camera or "",
            "split": entry.split,
        }
        if entry.captured_at is not None:
            image["datetime"] = entry.captured_at.strftime("%Y-%m-%d %H:%M:%S")
        if entry.pseudo:
            image["pseudo_label"] = True
        images.append(image)
        for target in entry.targets:
            ann = _annotation(len(annotations) + 1, entry, target.class_id, target.box)
            annotations.append(ann | {"sequence_level_annotation": False})
        if not entry.targets:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": entry.media_id,
                    "category_id": empty_id,
                    "sequence_level_annotation": False,
                }
            )
    document = {
        "info": _info(ctx, "COCO Camera Traps"),
        "images": images,
        "annotations": annotations,
        "categories": [*_categories(ctx), {"id": empty_id, "name": EMPTY_CATEGORY}],
    }
    path = ctx.out / "coco_ct.json"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return [path]


def _frame_numbers(entries: tuple[SnapshotEntry, ...]) -> dict[int, int]:
    """Each frame's position in its sequence: the stored frame number, else time order."""
    groups: dict[str, list[SnapshotEntry]] = defaultdict(list)
    for entry in entries:
        groups[entry.group].append(entry)
    out: dict[int, int] = {}
    for members in groups.values():
        members.sort(key=lambda e: (e.captured_at or datetime.min, e.media_id))
        for i, entry in enumerate(members):
            out[entry.media_id] = entry.frame_num if entry.frame_num is not None else i
    return out
