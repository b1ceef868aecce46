"""`wildloop thresholds ...`: per-class thresholds of a model read from reviewed items."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.errors import BadInput
from wildloop.evaluation.class_thresholds import (
    DEFAULT_SPLITS,
    apply_thresholds,
    latest_thresholds,
)
from wildloop.evaluation.thresholds_job import submit_thresholds

app = typer.Typer(
    help="Per-class thresholds from reviewed items: compute, show, apply.", no_args_is_help=True
)

ModelOption = Annotated[str, typer.Option("--model", help="Model version: id, name or alias.")]


@app.command()
def compute(
    model: ModelOption = "champion",
    precision: Annotated[
        float | None,
        typer.Option("--precision", min=0, max=1, help="Target precision (default 0.9)."),
    ] = None,
    best_f1: Annotated[
        bool, typer.Option("--best-f1", help="Choose the threshold of best F1 instead.")
    ] = False,
    split: Annotated[
        list[str] | None,
        typer.Option("--split", help="Reviewed splits to read (repeatable; default val, test)."),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Match the model's boxes to reviewed boxes (IoU >= 0.5) and store, per class, the PR
    curve and the threshold for the target precision (a job)."""
    if best_f1 and precision is not None:
        raise BadInput("give either --precision or --best-f1, not both")
    with open_project(project) as proj:
        job_id = submit_thresholds(
            proj,
            model,
            mode="best_f1" if best_f1 else "precision",
            target_precision=0.9 if precision is None else precision,
            splits=split or list(DEFAULT_SPLITS),
            created_by=proj.author("cli"),
        )
        status = run_with_progress(proj, job_id, "class thresholds")
        if status["state"] != "succeeded":
            print_status(status)
            raise typer.Exit(1)
        found = latest_thresholds(proj, model).as_dict()
    _show(found, as_json)


@app.command()
def show(
    model: ModelOption = "champion", project: ProjectOption = None, as_json: JsonOption = False
) -> None:
    """The newest computed thresholds of the model, with their curves under --json."""
    with open_project(project) as proj:
        found = latest_thresholds(proj, model).as_dict()
    _show(found, as_json)


@app.command()
def apply(
    model: ModelOption = "champion", project: ProjectOption = None, as_json: JsonOption = False
) -> None:
    """Write the newest computed thresholds into the project's `thresholds.per_class`
    (audited; classes without a threshold keep theirs)."""
    with open_project(project) as proj:
        result = apply_thresholds(proj, model, actor=None)
    if as_json:
        print_json(result)
        return
    for name, value in sorted(result["after"].items()):
        old = result["before"].get(name)
        was = "" if old is None else f" (was {old:g})"
        console.print(f"{name:<20} {value:g}{was}", highlight=False)


def _show(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(found)
        return
    target = (
        f"precision >= {found['target_precision']:g}" if found["mode"] == "precision" else "best F1"
    )
    console.print(
        f"set {found['id']}: {found['model']}, {target}, {found['items']} reviewed items "
        f"({', '.join(found['splits'])})",
        highlight=False,
    )
    for name, values in found["classes"].items():
        t = values["threshold"]
        if t["threshold"] is None:
            console.print(
                f"{name:<20} none   ({t['positives']} boxes reviewed, {values['boxes']} predicted)",
                highlight=False,
            )
            continue
        console.print(
            f"{name:<20} {t['threshold']:.3f}  precision {t['precision']:.3f}  "
            f"recall {t['recall']:.3f}  ({t['positives']} boxes reviewed)",
            highlight=False,
        )
