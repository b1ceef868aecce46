"""`wildloop ingest`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, print_json, progress_bar
from wildloop.media.ingest import ingest_paths


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of images.")],
    camera: Annotated[
        str | None,
        typer.Option(help="Camera name for all files (default: each file's folder name)."),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Scan, hash and check images; group them into sequences with frozen splits."""
    with open_project(project) as proj, progress_bar("ingest") as update:
        report = ingest_paths(proj, paths, camera=camera, progress=update)
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"scanned {report.scanned}: added {report.added}, already there {report.skipped}, "
        f"retried {report.retried}, duplicates {report.duplicates}, failed {report.failed}; "
        f"{report.sequences_created} new sequences"
    )
    for path, reason in report.failures[:20]:
        errors.print(f"[red]failed[/] {path}: {reason}")
    if report.failed > 20:
        errors.print(f"... and {report.failed - 20} more (see `wildloop status`)")
    for path, original in report.duplicate_examples[:5]:
        errors.print(f"[yellow]duplicate[/] {path} (same content as {original})")
