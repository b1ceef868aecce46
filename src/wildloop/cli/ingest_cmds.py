"""`wildloop ingest`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, print_json, progress_bar
from wildloop.media.ingest import IngestReport, ingest_paths
from wildloop.project import Project


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of images.")],
    camera: Annotated[
        str | None,
        typer.Option(help="Camera name for all files (default: each file's folder name)."),
    ] = None,
    process: Annotated[
        bool, typer.Option("--process", help="Then run the champion on the new images.")
    ] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Scan, hash and check images; group them into sequences with frozen splits."""
    with open_project(project) as proj:
        with progress_bar("ingest") as update:
            report = ingest_paths(proj, paths, camera=camera, progress=update)
        if process:
            _report(report, as_json)
            _process_new(proj)
            return
    _report(report, as_json)


def _process_new(proj: Project) -> None:
    from wildloop.cli.job_cmds import print_status, run_with_progress
    from wildloop.cli.process_cmds import print_summary
    from wildloop.processing.predict_job import submit_process

    submitted = submit_process(proj, created_by=proj.author("admin"))
    status = run_with_progress(proj, submitted.job_id, f"process ({submitted.version_name})")
    print_status(status)
    if status["result"]:
        print_summary(status["result"])


def _report(report: IngestReport, as_json: bool) -> None:
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
