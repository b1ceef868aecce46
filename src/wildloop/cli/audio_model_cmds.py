"""`wildloop audio train|predict|evaluate|calibrate|import-raven|export-raven|export-events`.

Heads are models like any other: `wildloop promote`, `wildloop model list` and `wildloop
reprocess --model ID` work on them unchanged; these commands are the audio-specific steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from wildloop.audio.calibrate import calibrate_head
from wildloop.audio.evaluation import evaluate_head
from wildloop.audio.head_job import start_head_training
from wildloop.audio.raven_io import export_raven, import_raven
from wildloop.audio.summary_export import export_summary
from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, print_json, wait_and_report
from wildloop.errors import BadInput
from wildloop.processing.predict_job import submit_process, submit_reprocess
from wildloop.registry.versions import get_version

ActorOption = Annotated[str, typer.Option("--as", help="Who does this (for the audit trail).")]
ModelOption = Annotated[str, typer.Option("--model", help="Head version: id, name or alias.")]


def train(
    hidden: Annotated[
        int | None, typer.Option(help="Hidden units (0: logistic regression, default).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Most epochs (early stopping on val).")] = None,
    embedder: Annotated[
        str | None, typer.Option(help="Embedding backend key (default: the stored one).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Run it here and show progress.")] = True,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train a head on the reviewed train/val windows' embeddings; registered as challenger."""
    with open_project(project) as proj:
        started = start_head_training(
            proj,
            embedder=embedder,
            overrides={"hidden": hidden, "max_epochs": epochs},
            created_by=proj.author(actor),
        )
        errors.print(
            f"head training job {started.job_id} on {started.snapshot.name} "
            f"({started.embedder} embeddings)"
        )
        if not wait:
            if as_json:
                print_json({"job_id": started.job_id})
            return
        result = wait_and_report(proj, started.job_id, as_json)
    if result is None:
        return
    console.print(
        f"challenger: {result.get('model')} (id {result.get('model_version_id')}), "
        f"{result.get('epochs_run')} epochs (best {result.get('best_epoch')}) in "
        f"{result.get('seconds', 0):.2f} s; next: `wildloop promote`"
    )


def predict(
    model: ModelOption = "champion",
    every: Annotated[
        bool, typer.Option("--all", help="Every window (a reprocess), not only unseen ones.")
    ] = False,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score windows with a head (stored embeddings; new prediction sets, labels untouched)."""
    with open_project(project) as proj:
        with proj.db.session() as session:
            if get_version(session, model).task != "audio-head":
                raise BadInput(f"{model} is not an audio head; use `wildloop process`")
        author = proj.author(actor)
        submitted = (
            submit_reprocess(proj, model=model, created_by=author)
            if every
            else submit_process(proj, model=model, created_by=author)
        )
        status = run_with_progress(proj, submitted.job_id, f"predict ({submitted.version_name})")
    if as_json:
        print_json(status)
        return
    print_status(status)


def evaluate(
    model: ModelOption = "challenger",
    snapshot: Annotated[str | None, typer.Option(help="Test snapshot (default: current).")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score a head on the frozen test windows (stored once per version and snapshot)."""
    with open_project(project) as proj:
        with proj.db.session() as session:
            version_id = get_version(session, model).id
        record, _ = evaluate_head(proj, version_id, snapshot)
    if as_json:
        print_json(record.as_dict())
        return
    m = record.metrics
    console.print(
        f"{record.model_name} on {record.snapshot_name} ({m['windows']} windows): accuracy "
        f"{m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, mAP {_f(m['map'])}, "
        f"ROC-AUC {_f(m['macro_roc_auc'])}, ECE {m['calibration']['ece']:.4f}"
    )
    table = Table("class", "windows", "precision", "recall", "F1", "AP", "ROC-AUC")
    for name, v in m["per_class"].items():
        table.add_row(
            name,
            str(v["support"]),
            _f(v["precision"]),
            _f(v["recall"]),
            _f(v["f1"]),
            _f(v["ap"]),
            _f(v["roc_auc"]),
        )
    console.print(table)


def calibrate(
    model: ModelOption = "champion",
    precision: Annotated[float, typer.Option(help="Target precision per class.")] = 0.9,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per-class thresholds for a target precision, and calibration, from reviewed windows.

    Uses reviewed validation and test windows; events and exports use these thresholds.
    """
    with open_project(project) as proj:
        result = calibrate_head(proj, model, target_precision=precision)
    if as_json:
        print_json(result)
        return
    table = Table("class", "reviewed +", "threshold", "precision", "recall", "ECE")
    for name, v in result["classes"].items():
        t = v["threshold"]
        table.add_row(
            name,
            str(t["positives"]),
            _f(t["threshold"]),
            _f(t["precision"]),
            _f(t["recall"]),
            _f(v["ece"]),
        )
    console.print(table)
    console.print(f"  reliability: {result['figures']['reliability']}")


def import_raven_cmd(
    table: Annotated[Path, typer.Argument(help="A Raven selection table (.txt, tab-separated).")],
    recording: Annotated[
        Path | None,
        typer.Option(help="The recording the table belongs to, if it has no Begin Path."),
    ] = None,
    column: Annotated[
        str | None, typer.Option(help="Column holding the class (default: Species/Annotation).")
    ] = None,
    class_map: Annotated[
        list[str] | None, typer.Option("--map", help="Rename a class: 'theirs=ours' (repeatable).")
    ] = None,
    add_classes: Annotated[
        bool, typer.Option("--add-classes", help="Add classes the project lacks.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Replace labels of windows that already have some.")
    ] = False,
    author: Annotated[str, typer.Option(help="Author of the imported labels.")] = "raven",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Raven selections become labels on the windows they overlap (bad rows fail alone)."""
    rename = dict(_pair(item) for item in class_map or [])
    with open_project(project) as proj:
        report = import_raven(
            proj,
            table,
            recording=recording,
            column=column,
            class_map=rename,
            add_classes=add_classes,
            overwrite=overwrite,
            author=author,
        )
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{report.selections} selections: {report.windows_labelled} windows labelled "
        f"({report.boxes} boxes), {report.kept_existing} already labelled kept, "
        f"{len(report.failed)} rows failed"
    )
    for line, reason in report.failed:
        console.print(f"  line {line}: {reason}", highlight=False)


def export_raven_cmd(
    out: Annotated[Path, typer.Argument(help="Folder for one selection table per recording.")],
    column: Annotated[str, typer.Option(help="Name of the class column.")] = "Species",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reviewed window labels as Raven selection tables (one per recording)."""
    with open_project(project) as proj:
        report = export_raven(proj, out, column=column)
    if as_json:
        print_json(report.as_dict())
        return
    console.print(f"{report.selections} selections in {len(report.files)} tables under {out}")


def export_events(
    out: Annotated[Path, typer.Argument(help="JSON file to write.")],
    model: ModelOption = "champion",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Events per recording (class, start, end, max score, model version) as JSON."""
    with open_project(project) as proj:
        result = export_summary(proj, out, model)
    if as_json:
        print_json(result)
        return
    console.print(f"{result['events']} events in {result['recordings']} recordings: {out}")


def register(app: typer.Typer) -> None:
    """Add these commands to the `wildloop audio` group."""
    app.command()(train)
    app.command()(predict)
    app.command()(evaluate)
    app.command()(calibrate)
    app.command("import-raven")(import_raven_cmd)
    app.command("export-raven")(export_raven_cmd)
    app.command("export-events")(export_events)


def _pair(item: str) -> tuple[str, str]:
    theirs, sep, ours = item.partition("=")
    if not sep or not theirs.strip() or not ours.strip():
        raise BadInput(f"--map {item!r}: write it as 'theirs=ours'")
    return theirs.strip(), ours.strip()


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
