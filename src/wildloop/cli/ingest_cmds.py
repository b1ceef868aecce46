"""`wildloop ingest` and `wildloop import-labels`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from wildloop.audio.ingest import AudioIngestReport, ingest_audio_paths
from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, print_json, progress_bar
from wildloop.cli.process_cmds import print_shadow, print_summary
from wildloop.cli.split_cmds import print_hint
from wildloop.datasets.label_import import import_labels as import_labels_service
from wildloop.datasets.label_import import read_dataset
from wildloop.domain.class_mapping import ClassMapping
from wildloop.media.ingest import IngestReport, ingest_paths
from wildloop.media.split_groups import project_hint
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project


def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files or folders of images (recordings in audio projects)."),
    ],
    camera: Annotated[
        str | None,
        typer.Option(
            help="Camera (recorder/site) name for all files (default: each file's folder name)."
        ),
    ] = None,
    process: Annotated[
        bool, typer.Option("--process", help="Then run the champion on the new images.")
    ] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Scan, hash and check images; group them into sequences with frozen splits.

    In an audio project: decode each recording once in blocks, cut it into windows
    (audio.window_s, audio.hop_s) and freeze its split.
    """
    with open_project(project) as proj:
        if proj.config.modality == "audio":
            with progress_bar("ingest") as update:
                audio = ingest_audio_paths(proj, paths, site=camera, progress=update)
            _report(audio, as_json)
            return
        with progress_bar("ingest") as update:
            report = ingest_paths(proj, paths, camera=camera, progress=update)
        hint = project_hint(proj)
        if process:
            _report(report, as_json)
            _process_new(proj)
            return
    _report(report, as_json)
    if not as_json:
        print_hint(hint)


def _process_new(proj: Project) -> None:

    submitted = submit_process(proj, created_by=proj.author("admin"))
    print_shadow(submitted)
    status = run_with_progress(proj, submitted.job_id, f"process ({submitted.version_name})")
    print_status(status)
    if status["result"]:
        print_summary(status["result"])


def _report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
        return
    made = (
        f"{report.windows} new windows"
        if isinstance(report, AudioIngestReport)
        else f"{report.sequences_created} new sequences"
    )
    console.print(
        f"scanned {report.scanned}: added {report.added}, already there {report.skipped}, "
        f"retried {report.retried}, duplicates {report.duplicates}, failed {report.failed}; "
        f"{made}"
    )
    for path, reason in report.failures[:20]:
        errors.print(f"[red]failed[/] {escape(path)}: {escape(reason)}")
    if report.failed > 20:
        errors.print(f"... and {report.failed - 20} more (see `wildloop status`)")
    for path, original in report.duplicate_examples[:5]:
        errors.print(f"[yellow]duplicate[/] {escape(path)} (same content as {escape(original)})")


def import_labels(
    path: Annotated[
        Path,
        typer.Argument(
            help="data.yaml (YOLO), a COCO / COCO-CT JSON file, or a Camtrap DP package "
            "(its folder or datapackage.json)."
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto, yolo, coco or camtrap-dp.")] = "auto",
    images: Annotated[
        Path | None,
        typer.Option(help="Folder COCO file names are relative to (default: its folder)."),
    ] = None,
    author: Annotated[str, typer.Option(help="Author recorded on the imported labels.")] = "import",
    class_map: Annotated[
        list[str] | None, typer.Option("--map", help="Rename a class: 'theirs=ours' (repeatable).")
    ] = None,
    add_classes: Annotated[
        bool,
        typer.Option("--add-classes", help="Add the dataset's unknown classes to the project."),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Write a new revision over items that already have labels.")
    ] = False,
    camera: Annotated[str | None, typer.Option(help="Camera name for new images.")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import ground-truth boxes as human labels, ingesting images the project lacks."""
    rename = dict(ClassMapping.parse(class_map).rename)
    with open_project(project) as proj:
        dataset = read_dataset(path, fmt, images)
        with progress_bar("import") as update:
            report = import_labels_service(
                proj,
                dataset,
                author=author,
                class_map=rename,
                add_classes=add_classes,
                overwrite=overwrite,
                camera=camera,
                progress=update,
            )
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{report.images} images: labelled {report.labelled} ({report.boxes} boxes, "
        f"{report.empty} empty), kept existing labels on {report.kept_existing}, "
        f"failed {len(report.failed)}"
        + (f", ingested without labels {report.unlabelled}" if report.unlabelled else "")
    )
    for note in report.notes:
        errors.print(f"[yellow]note[/] {escape(note)}")
    if report.sequence_conflicts:
        errors.print(
            f"[yellow]{report.sequence_conflicts} images were already ingested and keep their "
            "own sequences and frozen splits (the file's sequence ids were not applied)"
        )
    for failed_path, reason in report.failed[:20]:
        errors.print(f"[red]failed[/] {escape(failed_path)}: {escape(reason)}")
