"""`wildloop train|evaluate|compare|promote|retrain-log|triggers|loop`: the retraining loop."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, job_printer, print_json, wait_and_report
from wildloop.errors import Conflict, NotFound
from wildloop.evaluation.comparison import compare_named
from wildloop.evaluation.evaluator import evaluate_model
from wildloop.evaluation.promotion import promote_challenger
from wildloop.jobs.executor import run_job
from wildloop.jobs.records import cancel_job, job_status
from wildloop.jobs.training_guard import active_training
from wildloop.project import Project
from wildloop.registry.versions import get_version
from wildloop.training.job import start_training
from wildloop.training.loop import run_loop
from wildloop.training.loop_job import LoopStep
from wildloop.training.retraining_log import as_csv, retraining_log, write_chart
from wildloop.training.triggers import check_triggers, run_triggers, set_triggers

ActorOption = Annotated[str, typer.Option("--actor", help="Who is acting (audit trail).")]
BaseOption = Annotated[
    Path | None,
    typer.Option(help="Start from this .pt (yolov8n.pt, MegaDetector...) instead of the champion."),
]
EpochsOption = Annotated[int | None, typer.Option(help="Epochs (default: training.epochs).")]
BatchOption = Annotated[int | None, typer.Option(help="Batch size (default: training.batch).")]
ImgszOption = Annotated[int | None, typer.Option(help="Image size (default: training.imgsz).")]
PatienceOption = Annotated[int | None, typer.Option(help="Early-stop patience in epochs.")]
DeviceOption = Annotated[str | None, typer.Option(help="cpu, 0, cuda:0 (default: GPU if any).")]

train_app = typer.Typer(
    help="Train a challenger from the current training snapshot (one training at a time).",
    invoke_without_command=True,
)
triggers_app = typer.Typer(
    help="Automatic training: after N reviewed items or on a schedule, each trigger "
    "retraining its own stage (the detector, or only the crop classifier)."
)


def _overrides(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@train_app.callback()
def train(
    ctx: typer.Context,
    base: BaseOption = None,
    epochs: EpochsOption = None,
    batch: BatchOption = None,
    imgsz: ImgszOption = None,
    patience: PatienceOption = None,
    device: DeviceOption = None,
    collapse: Annotated[
        str | None,
        typer.Option(
            help="Train every box as this one project class (a class-agnostic detector, e.g. "
            "animal, whose boxes a crop classifier of the finer classes names)."
        ),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Run it here and show progress per epoch.")] = True,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a training job; the result is registered as challenger (never promoted here)."""
    if ctx.invoked_subcommand is not None:
        return

    overrides = _overrides(
        epochs=epochs,
        batch=batch,
        imgsz=imgsz,
        patience=patience,
        device=device,
        collapse=collapse,
    )
    with open_project(project) as proj:
        started = start_training(
            proj, base=base, overrides=overrides, created_by=proj.author(actor)
        )
        errors.print(
            f"training job {started.job_id} on {started.snapshot.name}: {started.start.explanation}"
        )
        if not wait:
            if as_json:
                print_json({"job_id": started.job_id, "start": started.start.as_dict()})
            return
        result = wait_and_report(proj, started.job_id, as_json)
    if result is not None:
        console.print(
            f"challenger: {result.get('model')} (id {result.get('model_version_id')}), "
            f"{result.get('epochs_run')} epochs, best val mAP50-95 "
            f"{(result.get('val') or {}).get('val_map50_95', 0):.4f}; next: `wildloop promote`"
        )


@train_app.command("cancel")
def train_cancel(actor: ActorOption = "admin", project: ProjectOption = None) -> None:
    """Cancel the training in progress (it stops within one batch)."""

    with open_project(project) as proj:
        active = active_training(proj)
        if active is None:
            raise NotFound("no training is in progress")
        with proj.db.session() as session:
            cancel_job(session, active["id"], proj.author(actor))
    console.print(f"cancelled training job {active['id']}")


@train_app.command("status")
def train_status(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """The training in progress, with its epoch curve so far."""

    with open_project(project) as proj:
        active = active_training(proj)
        status = None
        if active:
            with proj.db.session() as session:
                status = job_status(session, active["id"])
    if as_json:
        print_json(status)
        return
    if status is None:
        console.print("no training in progress")
        return
    console.print(f"job {status['id']} {status['state']}: {status['message']}")
    for point in (status.get("result") or {}).get("curves", []):
        console.print(f"  epoch {point['epoch']}: val mAP50-95 {point.get('val_map50_95', 0):.4f}")


def evaluate(
    model: Annotated[str, typer.Argument(help="Model id, name or alias.")] = "challenger",
    snapshot: Annotated[str | None, typer.Option(help="Test snapshot (default: current).")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score a model on the frozen test snapshot (stored per model and snapshot)."""

    with open_project(project) as proj:
        with proj.db.session() as session:
            version_id = get_version(session, model).id
        record, _ = evaluate_model(proj, version_id, snapshot)
    if as_json:
        print_json(record.as_dict())
        return
    m = record.metrics
    console.print(
        f"{record.model_name} on {record.snapshot_name} ({m['images']} images, "
        f"{m['sequences']} sequences): mAP50 {m['map50']:.4f}, mAP50-95 {m['map50_95']:.4f}, "
        f"precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
        f"ECE {m['calibration']['ece']:.3f}"
    )
    table = Table("class", "boxes", "AP50", "AP50-95", "precision", "recall")
    for name, c in m["per_class"].items():
        table.add_row(
            name,
            str(c["truth_boxes"]),
            *(_f(c[k]) for k in ("ap50", "ap50_95", "precision", "recall")),
        )
    console.print(table)


def compare(
    challenger: Annotated[str, typer.Argument(help="Model id, name or alias.")] = "challenger",
    champion: Annotated[str, typer.Argument(help="Model id, name or alias.")] = "champion",
    snapshot: Annotated[str | None, typer.Option(help="Test snapshot (default: current).")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Champion against challenger on the same test items: deltas, interval, figures, verdict."""

    with open_project(project) as proj:
        result = compare_named(proj, challenger, champion, snapshot)
    if as_json:
        print_json(result.as_dict())
        return
    _print_comparison(result)


def promote(
    model: Annotated[str, typer.Argument(help="Model id, name or alias.")] = "challenger",
    force: Annotated[
        bool, typer.Option(help="Promote even if the gate refuses (needs --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why the gate is overridden (logged).")] = None,
    reprocess: Annotated[
        bool | None, typer.Option(help="Queue a reprocess with the new champion afterwards.")
    ] = None,
    snapshot: Annotated[str | None, typer.Option(help="Test snapshot (default: current).")] = None,
    wait: Annotated[
        bool, typer.Option(help="Run the reprocess here (else a worker or the app runs it).")
    ] = True,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Promote the challenger if it beats the champion on the test snapshot (the gate)."""
    with open_project(project) as proj:
        gated_promotion(
            proj,
            model,
            force=force,
            reason=reason,
            actor=actor,
            snapshot=snapshot,
            reprocess=reprocess,
            wait=wait,
            as_json=as_json,
        )


def gated_promotion(
    proj: Project,
    model: str,
    *,
    force: bool,
    reason: str | None,
    actor: str,
    snapshot: str | None = None,
    reprocess: bool | None = None,
    wait: bool = True,
    as_json: bool = False,
) -> None:
    """The gate, printed: every command that can replace the champion ends here (exit code
    of ``Conflict`` when the gate refuses)."""

    result = promote_challenger(
        proj,
        model,
        force=force,
        reason=reason,
        actor_id=proj.author(actor),
        snapshot=snapshot,
        reprocess=reprocess,
    )
    if not as_json:
        _print_comparison(result.comparison)
        verdict = "PROMOTED" + (" (override)" if result.forced else "")
        console.print(
            f"[bold]{verdict if result.promoted else 'REFUSED'}[/]: " + "; ".join(result.reasons)
        )
        if result.thresholds:
            console.print(f"thresholds: {result.thresholds}")
    if result.reprocess_job_id and wait:
        status = run_with_progress(proj, result.reprocess_job_id, "reprocess")
        if not as_json:
            print_status(status)
    elif result.reprocess_job_id and not as_json:
        console.print(
            f"reprocess queued as job {result.reprocess_job_id} "
            "(`wildloop worker` or the web app runs it)"
        )
    if as_json:
        print_json(result.as_dict())
    if not result.promoted:
        if not as_json:
            errors.print("the champion stays; `--force --reason TEXT` overrides the gate (logged)")
        raise typer.Exit(Conflict.exit_code)


def retrain_log(
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    chart: Annotated[Path | None, typer.Option(help="Write the chart here (PNG).")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every model version: date, items added, precision, recall, mAP50, mAP50-95, notes."""

    with open_project(project) as proj:
        rows = retraining_log(proj)
        figure = write_chart(proj, rows, chart)
    if as_json:
        print_json({"rows": rows, "chart": str(figure)})
        return
    if csv:
        console.print(as_csv(rows), end="", markup=False, highlight=False)
        return
    table = Table(
        "date",
        "version",
        "stage",
        "trigger",
        "items",
        "added",
        "test set",
        "P",
        "R",
        "mAP50",
        "mAP50-95",
        "notes",
    )
    for r in rows:
        table.add_row(
            r["date"],
            r["version"] + (" *" if r["champion"] else ""),
            r["stage"],
            r["trigger"] or "",
            _f(r["items"]),
            _f(r["items_added"]),
            r["test_snapshot"] or "",
            *(_f(r[k]) for k in ("precision", "recall", "map50", "map50_95")),
            r["notes"] if len(r["notes"]) <= 90 else r["notes"][:89] + "…",
        )
    console.print(table)
    console.print(f"* champion; full notes with --json or --csv; chart: {figure}")


@triggers_app.command("check")
def triggers_check(
    run: Annotated[bool, typer.Option(help="Start the training if a trigger is due.")] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Is a training due (N new reviewed items, or the schedule)? For cron: add --run."""

    with open_project(project) as proj:
        if run:
            check, started = run_triggers(proj)
        else:
            check, started = check_triggers(proj), None
    if as_json:
        print_json(check.as_dict() | {"job_id": started.job_id if started else None})
        return
    due = f"due: {check.due} ({check.stage})" if check.due else "not due"
    console.print(f"{due} ({check.reason})")
    if started:
        console.print(
            f"started {check.stage} training job {started.job_id} (run it with `wildloop worker`)"
        )


@triggers_app.command("set")
def triggers_set(
    after_reviewed: Annotated[
        int | None,
        typer.Option(min=0, help="Retrain the detector after N new reviewed items (0: off)."),
    ] = None,
    classifier_after_reviewed: Annotated[
        int | None,
        typer.Option(
            min=0, help="Retrain only the crop classifier after N new reviewed items (0: off)."
        ),
    ] = None,
    schedule: Annotated[
        str | None, typer.Option(help="Cron expression, e.g. '0 3 * * 0' ('' turns it off).")
    ] = None,
    schedule_stage: Annotated[
        str | None, typer.Option(help="The stage the schedule retrains: detector or classifier.")
    ] = None,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change the triggers (written to wildloop.toml, audited); options left out stay."""
    changes = {
        "after_reviewed": after_reviewed,
        "classifier_after_reviewed": classifier_after_reviewed,
        "schedule": schedule,
        "schedule_stage": schedule_stage,
    }
    with open_project(project) as proj:
        settings = set_triggers(proj, changes, proj.author(actor))
    if as_json:
        print_json(settings)
        return
    console.print(
        f"detector after {settings['after_reviewed'] or 'off'} new reviewed items; classifier "
        f"after {settings['classifier_after_reviewed'] or 'off'}; schedule "
        f"{settings['schedule'] or 'off'}"
        + (f" ({settings['schedule_stage']})" if settings["schedule"] else "")
    )


@triggers_app.command("watch")
def triggers_watch(
    interval: Annotated[float, typer.Option(help="Seconds between checks.")] = 60.0,
    project: ProjectOption = None,
) -> None:
    """Check the triggers forever, training in this process when one is due."""

    with open_project(project) as proj:
        while True:
            check, started = run_triggers(proj)
            if started:
                errors.print(f"{check.reason}: training job {started.job_id}")
                run_job(proj, started.job_id, progress=job_printer())
            time.sleep(interval)


def loop(
    base: BaseOption = None,
    epochs: EpochsOption = None,
    batch: BatchOption = None,
    imgsz: ImgszOption = None,
    patience: PatienceOption = None,
    device: DeviceOption = None,
    force: Annotated[
        bool, typer.Option(help="Promote even if the gate refuses (needs --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why the gate is overridden (logged).")] = None,
    reprocess: Annotated[
        bool | None, typer.Option(help="Reprocess the archive after promotion.")
    ] = None,
    stage: Annotated[
        str,
        typer.Option(
            help="What retrains: detector, or classifier (the fast loop: only the crop "
            "classifier, paired with the champion's detector)."
        ),
    ] = "detector",
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """snapshot -> train -> evaluate -> gate -> promote -> reprocess, reporting each step."""

    def show(step: LoopStep) -> None:
        if not as_json:
            colour = {"done": "green", "refused": "yellow", "skipped": "dim"}.get(
                step.status, "red"
            )
            console.print(
                f"[{colour}]{step.name:<9} {step.status:<8}[/] {step.seconds:7.1f}s  {step.detail}"
            )

    overrides = _overrides(
        epochs=epochs, batch=batch, imgsz=imgsz, patience=patience, device=device
    )
    with open_project(project) as proj:
        report = run_loop(
            proj,
            base=base,
            overrides=overrides,
            force=force,
            reason=reason,
            reprocess=reprocess,
            actor_id=proj.author(actor),
            on_step=show,
            on_job=None if as_json else job_printer(),
            stage=stage,
        )
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(
            f"loop finished in {report.seconds:.1f}s: "
            + ("promoted" if report.promoted else "champion kept")
        )


def _print_comparison(result: Any) -> None:
    old = result.champion
    audio = "macro_f1" in result.challenger.metrics  # audio heads are gated on macro-F1
    key, label = ("macro_f1", "macro-F1") if audio else ("map50_95", "mAP50-95")
    unit, per_class, column = ("windows", "f1", "F1") if audio else ("boxes", "ap50_95", "AP50-95")
    console.print(
        f"test snapshot {result.snapshot_name}: challenger {result.challenger.model_name} "
        f"{label} {result.challenger.metrics[key]:.4f}"
        + (f" vs champion {old.model_name} {old.metrics[key]:.4f}" if old else " (no champion)")
    )
    if result.interval:
        i = result.interval
        console.print(
            f"95% interval of the difference ({i.samples} resamples of {i.groups} "
            f"{'recordings' if audio else 'sequences'}): [{i.low:+.4f}, {i.high:+.4f}]"
        )
    table = Table("class", unit, f"champion {column}", f"challenger {column}", "delta")
    for row in result.class_table():
        table.add_row(
            row["class"],
            str(row[f"truth_{unit}"]),
            _f(row[f"champion_{per_class}"]),
            _f(row[f"challenger_{per_class}"]),
            _f(row["delta"], signed=True),
        )
    console.print(table)
    for name, path in result.figures.items():
        console.print(f"  {name}: {path}")


def _f(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:+.4f}" if signed else f"{value:.4f}"
    return str(value)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app (keeps cli/app.py to one line per module)."""
    app.add_typer(train_app, name="train")
    app.command()(evaluate)
    app.command()(compare)
    app.command()(promote)
    app.command("retrain-log")(retrain_log)
    app.add_typer(triggers_app, name="triggers")
    app.command()(loop)
