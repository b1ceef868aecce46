"""`wildloop snapshot create|list|show` and `wildloop export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, print_json
from wildloop.datasets.exporters import FORMATS, export_snapshot
from wildloop.datasets.exporters.camtrap_dp_validation import validate_camtrap_dp
from wildloop.datasets.snapshots import (
    PseudoLabels,
    SnapshotInfo,
    create_snapshot,
    get_snapshot,
    list_snapshots,
)
from wildloop.errors import BadInput
from wildloop.registry import aliases

app = typer.Typer(
    help="Dataset snapshots: frozen sets of media and label revisions.", no_args_is_help=True
)


@app.command("create")
def create(
    purpose: Annotated[
        str, typer.Option(help="training (reviewed train/val items) or test (reviewed test items).")
    ] = "training",
    name: Annotated[str | None, typer.Option(help="Name (default: <purpose>-NNNN).")] = None,
    pseudo_labels: Annotated[
        bool | None,
        typer.Option(help="Add unreviewed items labelled by the champion (marked as such)."),
    ] = None,
    pseudo_threshold: Annotated[
        float | None, typer.Option(help="Lowest champion confidence kept as a pseudo-label.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Freeze which items and label revisions form a dataset (identical content is reused)."""
    with open_project(project) as proj:
        settings = proj.config.datasets
        pseudo = None
        if pseudo_labels if pseudo_labels is not None else settings.pseudo_labels:
            with proj.db.session() as session:
                champion = aliases.resolve(session, "champion")
            if champion is None:
                raise BadInput("pseudo-labels come from the champion, and there is none yet")
            pseudo = PseudoLabels(champion, pseudo_threshold or settings.pseudo_label_threshold)
        info, created = create_snapshot(proj, purpose, name=name, pseudo_labels=pseudo)  # type: ignore[arg-type]
    if as_json:
        print_json(info.as_dict() | {"created": created})
        return
    console.print(("created " if created else "unchanged since ") + _line(info))


@app.command("list")
def list_command(
    purpose: Annotated[str | None, typer.Option(help="training or test.")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Snapshots with their item counts per split."""
    with open_project(project) as proj:
        infos = list_snapshots(proj, purpose)
    if as_json:
        print_json([i.as_dict() for i in infos])
        return
    table = Table(
        "id", "name", "purpose", "items", "train", "val", "test", "pseudo", "created", "hash"
    )
    for i in infos:
        splits = i.counts.get("splits", {})
        table.add_row(
            str(i.id),
            i.name,
            i.purpose,
            str(i.counts.get("items", 0)),
            *(str(splits.get(s, {}).get("items", 0)) for s in ("train", "val", "test")),
            str(sum(s.get("pseudo", 0) for s in splits.values())),
            f"{i.created_at:%Y-%m-%d %H:%M}",
            i.content_hash[:12],
        )
    console.print(table)


@app.command("show")
def show(
    snapshot: Annotated[str, typer.Argument(help="Snapshot id or name.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Counts per split and per class of one snapshot."""
    with open_project(project) as proj:
        info = get_snapshot(proj, snapshot)
    if as_json:
        print_json(info.as_dict())
        return
    console.print(_line(info))
    table = Table("class", "train", "val", "test")
    for name, per_split in info.counts.get("boxes_per_class", {}).items():
        table.add_row(name, *(str(per_split.get(s, 0)) for s in ("train", "val", "test")))
    console.print(table)


def _line(info: SnapshotInfo) -> str:
    return (
        f"snapshot {info.name} (id {info.id}, {info.purpose}): {info.counts.get('items', 0)} "
        f"items in {info.counts.get('sequences', 0)} sequences, hash {info.content_hash[:12]}"
    )


def export(
    format: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")],
    snapshot: Annotated[
        str | None,
        typer.Option(help="Snapshot id or name (default: the current training snapshot)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder (default: exports/<snapshot>-<format>).")
    ] = None,
    images: Annotated[
        str | None, typer.Option(help="link, copy or none (default: link for yolo, else none).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing export folder.")] = False,
    coordinates: Annotated[
        str | None,
        typer.Option(help="LAT,LON written for cameras without coordinates (Camtrap DP)."),
    ] = None,
    validate: Annotated[
        bool, typer.Option(help="Check a Camtrap DP export with frictionless (offline).")
    ] = True,
    per: Annotated[
        str,
        typer.Option(
            help="csv rows: box (corrections.csv) or event (events.csv: count per event/class)."
        ),
    ] = "box",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a snapshot as YOLO, COCO, COCO Camera Traps, Camtrap DP or a corrections CSV."""
    if images not in (None, "link", "copy", "none"):
        raise BadInput("--images must be link, copy or none")
    fallback = _coordinates(coordinates)
    with open_project(project) as proj:
        ref: int | str
        ref = create_snapshot(proj, "training")[0].id if snapshot is None else snapshot
        result = export_snapshot(
            proj,
            ref,
            format,
            out=out,
            images=images,  # type: ignore[arg-type]  # one of the three, checked above
            overwrite=overwrite,
            coordinates=fallback,
            per=per,
        )
    problems: list[str] = []
    if format == "camtrap-dp" and validate:
        problems = validate_camtrap_dp(result.folder)
    if as_json:
        print_json(result.as_dict() | {"validation_problems": problems})
    else:
        console.print(
            f"exported {result.snapshot} as {format} to {result.folder} ({result.files} files)"
        )
        for warning in result.warnings:
            errors.print(f"[yellow]warning[/] {warning}")
        if format == "camtrap-dp" and validate:
            console.print(
                "Camtrap DP 1.0.2 validation: " + ("valid" if not problems else "INVALID")
            )
            for p in problems:
                errors.print(f"[red]invalid[/] {p}")
    if problems:
        raise typer.Exit(6)


def _coordinates(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise BadInput("--coordinates must be LAT,LON, e.g. 38.95,-92.33") from None
    return lat, lon
