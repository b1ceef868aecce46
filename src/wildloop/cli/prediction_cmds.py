"""`wildloop predictions import-md|export-md|validate-md` (MegaDetector batch JSON) and
`wildloop predictions settings` (what a version's sets were made with)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.interchange import megadetector
from wildloop.processing.prediction_settings import settings_of_version
from wildloop.registry.versions import get_version

app = typer.Typer(help="Prediction sets in exchange formats.", no_args_is_help=True)


@app.command("import-md")
def import_md(
    file: Annotated[Path, typer.Argument(help="MegaDetector batch output JSON.")],
    name: Annotated[str, typer.Option(help="Name of the external model version to create.")],
    root: Annotated[
        Path | None, typer.Option(help="Folder the JSON's file paths are relative to.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import MegaDetector results as the prediction set of a new external model version."""
    with open_project(project) as proj:
        report = megadetector.import_file(
            proj, file, name, image_root=root, actor_id=proj.author("admin")
        )
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{name}: {report.matched} of {report.images} images matched "
        f"({report.failed_images} failed in MegaDetector), {report.detections} detections"
        + (
            f", {report.below_threshold} below the store threshold skipped"
            if report.below_threshold
            else ""
        )
    )
    if report.unmatched:
        console.print(
            f"[yellow]{len(report.unmatched)} files not found among ingested media[/] "
            f"(e.g. {report.unmatched[0]}); ingest them first or pass --root"
        )


@app.command("export-md")
def export_md(
    out: Annotated[Path, typer.Argument(help="Where to write the JSON.")],
    model: Annotated[str, typer.Option(help="Version id, name or alias.")] = "champion",
    root: Annotated[Path | None, typer.Option(help="Make file paths relative to this.")] = None,
    project: ProjectOption = None,
) -> None:
    """Export a version's predictions as MegaDetector JSON (Timelapse reads it)."""
    with open_project(project) as proj, proj.db.session() as session:
        data = megadetector.export(
            session,
            model,
            image_root=root,
            min_score=proj.config.thresholds.store,
            classes=proj.classes,
        )
    megadetector.write(data, out)
    console.print(f"wrote {len(data['images'])} images to {out}")


@app.command("settings")
def settings(
    model: Annotated[str, typer.Option(help="Version id, name or alias.")] = "champion",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """The settings (location priors, smoothing, store thresholds, pipeline hand-off) a
    version's prediction sets were made with, and how many sets each."""
    with open_project(project) as proj, proj.db.session() as session:
        version = get_version(session, model)
        name, found = version.name, settings_of_version(session, version.id)
    if as_json:
        print_json({"model": name, "settings": found})
        return
    if not found:
        console.print(f"{name} has no prediction sets yet")
    for row in found:
        console.print(f"{name}: {row['sets']} sets made with {row['described']}")


@app.command("validate-md")
def validate_md(file: Annotated[Path, typer.Argument(help="JSON file to check.")]) -> None:
    """Check a MegaDetector batch output file; lists every problem found."""
    data = megadetector.load(file)
    console.print(
        f"{file}: valid MegaDetector {data['info']['format_version']} output, "
        f"{len(data['images'])} images"
    )
