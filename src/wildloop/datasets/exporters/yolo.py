"""Ultralytics/YOLO dataset: images/<split>/, labels/<split>/*.txt, data.yaml.

The seed system wrote one box per image, dropped reviewed boxes under 0.5 confidence and
discarded non-deer classes. Here every training target of every image is written, for every
project class (classes without examples keep their index), and reviewed empty frames get an
empty label file so they train as negatives. A test snapshot is refused: the test split is
never exported for training.
"""

from __future__ import annotations

import json
from pathlib import Path

from wildloop.datasets.exporters.context import ExportContext
from wildloop.errors import BadInput, IntegrityError

TRAINING_SPLITS = ("train", "val")


def class_indices(ctx: ExportContext) -> dict[int, int]:
    """Project class id to YOLO's contiguous index, in class-id order; with ``collapse``
    every class id maps to index 0, the one class named ``collapse``."""
    if ctx.collapse is not None:
        return {c.id: 0 for c in ctx.data.classes}
    return {c.id: i for i, c in enumerate(ctx.data.classes)}


def class_names(ctx: ExportContext) -> dict[int, str]:
    """YOLO index to class name (data.yaml's ``names``)."""
    if ctx.collapse is not None:
        return {0: ctx.collapse}
    return {i: ctx.data.classes.name_of(cid) for cid, i in class_indices(ctx).items()}


def export_yolo(ctx: ExportContext) -> list[Path]:
    if ctx.data.info.purpose != "training":
        raise BadInput(
            f"snapshot {ctx.data.info.name} is a {ctx.data.info.purpose} snapshot; the test "
            "split is never exported for training (export it as coco or coco-ct to inspect it)"
        )
    leaked = [e.media_id for e in ctx.data.entries if e.split not in TRAINING_SPLITS]
    if leaked:
        raise IntegrityError(f"training snapshot holds non-training items: media {leaked[:10]}")
    if ctx.images == "none":
        raise BadInput("a YOLO export needs its images: use --images link or --images copy")
    index = class_indices(ctx)
    written: list[Path] = []
    pseudo: list[str] = []
    for entry in ctx.data.entries:
        name = ctx.unique_name(entry)
        image = ctx.out / "images" / entry.split / name
        ctx.place_image(entry, image)
        label = ctx.out / "labels" / entry.split / (Path(name).stem + ".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            f"{index[t.class_id]} " + " ".join(f"{v:.6f}" for v in t.box.to_yolo())
            for t in entry.targets
        ]
        label.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        written += [image, label]
        if entry.pseudo:
            pseudo.append(f"images/{entry.split}/{name}")
    splits = {e.split for e in ctx.data.entries}
    if "val" not in splits:
        ctx.warnings.append(
            "the val split is empty: training will validate on the train images (best-epoch "
            "selection only; promotion is still decided on the separate test snapshot)"
        )
    data_yaml = ctx.out / "data.yaml"
    data_yaml.write_text(
        _yaml(
            {
                "path": str(ctx.final.resolve()),
                "train": "images/train",
                "val": "images/val" if "val" in splits else "images/train",
                "nc": len(class_names(ctx)),
                "names": class_names(ctx),
            }
        ),
        encoding="utf-8",
    )
    (ctx.out / "classes.json").write_text(
        json.dumps({"yolo_index_to_class_id": _index_to_class_id(ctx, index)}, indent=2),
        encoding="utf-8",
    )
    written += [data_yaml, ctx.out / "classes.json"]
    if pseudo:
        listing = ctx.out / "pseudo_labels.txt"
        listing.write_text("\n".join(pseudo) + "\n", encoding="utf-8")
        written.append(listing)
    return written


def _index_to_class_id(ctx: ExportContext, index: dict[int, int]) -> dict[int, int]:
    if ctx.collapse is not None:
        return {0: ctx.data.classes.id_of(ctx.collapse)}
    return {i: cid for cid, i in index.items()}


def _yaml(data: dict[str, object]) -> str:
    """data.yaml by hand: flat keys and one mapping of names, quoted as JSON strings (valid
    YAML), so no YAML library is needed in the core install."""
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {json.dumps(v)}" for k, v in value.items()]
        elif isinstance(value, str):
            lines.append(f"{key}: {json.dumps(value)}")
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n"
