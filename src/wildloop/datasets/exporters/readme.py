"""The README written into every export: what the snapshot holds and what to worry about."""

from __future__ import annotations

from pathlib import Path

from wildloop.datasets.exporters.context import ExportContext
from wildloop.domain.paths import readable_path


def dataset_warnings(ctx: ExportContext) -> list[str]:
    """Warnings about the data itself: thin classes, excluded boxes, pseudo-labels."""
    counts = ctx.data.info.counts
    minimum = ctx.project.config.datasets.min_class_examples
    out = []
    for name, per_split in counts.get("boxes_per_class", {}).items():
        total = sum(per_split.values())
        if total == 0:
            out.append(f"class {name} has no examples in this snapshot (it is kept, with none)")
        elif total < minimum:
            out.append(f"class {name} has only {total} examples (fewer than {minimum})")
    splits = counts.get("splits", {})
    excluded = sum(s.get("excluded_boxes", 0) for s in splits.values())
    if excluded:
        out.append(
            f"{excluded} boxes are not training targets (marked invalid or false positive); "
            "animals under invalid boxes count as background"
        )
    pseudo = sum(s.get("pseudo", 0) for s in splits.values())
    if pseudo:
        out.append(
            f"{pseudo} items carry pseudo-labels (model predictions, not human labels); they "
            "are listed in pseudo_labels.txt / marked pseudo_label"
        )
    waiting = counts.get("marked", {}).get("waiting_for_labels", 0)
    if waiting:
        out.append(
            f"{waiting} items marked as missed or false positive have no corrected labels yet "
            "and are not in this snapshot: label them to use them"
        )
    if counts.get("skipped_unsplit"):
        out.append(f"{counts['skipped_unsplit']} reviewed items have no split and were left out")
    return out


def write_readme(ctx: ExportContext, fmt: str, files: list[Path]) -> Path:
    info = ctx.data.info
    counts = info.counts
    splits = counts.get("splits", {})
    lines = [
        f"# {ctx.project.config.name}: {fmt} export of snapshot `{info.name}`",
        "",
        f"- snapshot id {info.id}, purpose **{info.purpose}**, "
        f"created {info.created_at:%Y-%m-%d %H:%M} UTC",
        f"- content hash `{info.content_hash}`",
        f"- {counts.get('items', 0)} items in {counts.get('sequences', 0)} sequences",
        "- splits are frozen per sequence: no image and no sequence is in two splits",
    ]
    if info.purpose == "training":
        lines.append("- the test split is not in this export: it is never used for training")
    if ctx.images == "none":
        lines.append(f"- image paths are relative to `{readable_path(ctx.image_root)}`")
    lines += ["", "## Splits", "", "| split | items | boxes | negatives (empty) | pseudo |"]
    lines.append("|---|---:|---:|---:|---:|")
    for split, s in splits.items():
        lines.append(
            f"| {split} | {s.get('items', 0)} | {s.get('boxes', 0)} | "
            f"{s.get('negatives', 0)} | {s.get('pseudo', 0)} |"
        )
    split_names = list(splits)
    lines += ["", "## Classes (boxes per split; images in brackets)", ""]
    lines.append("| id | class | " + " | ".join(split_names) + " | total |")
    lines.append("|---:|---|" + "---:|" * (len(split_names) + 1))
    boxes = counts.get("boxes_per_class", {})
    images = counts.get("images_per_class", {})
    for c in ctx.data.classes:
        b, i = boxes.get(c.name, {}), images.get(c.name, {})
        cells = [f"{b.get(s, 0)} ({i.get(s, 0)})" for s in split_names]
        lines.append(f"| {c.id} | {c.name} | " + " | ".join(cells) + f" | {sum(b.values())} |")
    warnings = dataset_warnings(ctx) + ctx.warnings
    lines += ["", "## Warnings", ""]
    lines += [f"- {w}" for w in warnings] or ["- none"]
    lines += ["", "## Files", ""]
    lines += sorted({f"- `{f.relative_to(ctx.out)}`" for f in files if f.parent == ctx.out})
    path = ctx.out / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
