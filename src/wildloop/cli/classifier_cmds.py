"""`wildloop model train-classifier|pipeline`: the two-stage model's own steps.

A crop classifier and a pipeline are versions like any other: `wildloop model list`,
`wildloop promote` and `wildloop reprocess --model ID` work on them unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, print_json, reliability_table, wait_and_report
from wildloop.domain.model_kinds import DEFAULT_MIN_BOX_SCORE
from wildloop.registry.pipelines import register_pipeline
from wildloop.registry.versions import describe_version
from wildloop.training.classifier_job import start_classifier_training

ActorOption = Annotated[str, typer.Option("--as", help="Who does this (for the audit trail).")]


def train_classifier(
    method: Annotated[
        str,
        typer.Option(
            help="head: a head over frozen crop embeddings (default); yolo-cls: an Ultralytics "
            "classification network trained end to end."
        ),
    ] = "head",
    epochs: Annotated[int | None, typer.Option(help="yolo-cls: epochs (default 20).")] = None,
    crop_size: Annotated[
        int | None, typer.Option(help="yolo-cls: crop side in pixels (default 128).")
    ] = None,
    start_weights: Annotated[
        Path | None,
        typer.Option(help="yolo-cls: a classification .pt to fine-tune (default: untrained)."),
    ] = None,
    hidden: Annotated[
        int | None, typer.Option(help="Hidden units (0: logistic regression, default).")
    ] = None,
    padding: Annotated[
        float | None, typer.Option(help="Context around each box (default: crops.padding).")
    ] = None,
    min_box_score: Annotated[
        float | None,
        typer.Option(
            help=f"Detector score from which boxes go on (default {DEFAULT_MIN_BOX_SCORE})."
        ),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Run it here and show progress.")] = True,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train a crop classifier on the reviewed train/val boxes (minutes on a CPU); paired
    with the champion's detector in a pipeline made challenger."""
    with open_project(project) as proj:
        started = start_classifier_training(
            proj,
            overrides={
                "hidden": hidden,
                "padding": padding,
                "min_box_score": min_box_score,
                "method": method,
                "epochs": epochs,
                "crop_size": crop_size,
                "start_weights": str(start_weights) if start_weights else None,
            },
            created_by=proj.author(actor),
        )
        errors.print(f"classifier training job {started.job_id} on {started.snapshot.name}")
        if not wait:
            if as_json:
                print_json({"job_id": started.job_id})
            return
        result = wait_and_report(proj, started.job_id, as_json)
    if result is None:
        return
    test = result.get("test") or {}
    console.print(
        f"classifier: {result.get('model')} (id {result.get('model_version_id')}), "
        f"{len(result.get('classes') or [])} classes; test crops: top-1 {test.get('top1')}, "
        f"macro-F1 {test.get('macro_f1')}"
    )
    calibration = test.get("calibration")
    if calibration and calibration.get("crops"):
        console.print(
            f"calibration on test crops: ECE {calibration['ece']:.4f} "
            f"({len(calibration['bins'])} bins), Brier {calibration['brier']:.4f}, "
            f"NLL {_figure(calibration['nll'])}"
        )
        console.print(reliability_table(calibration["bins"]))
    if result.get("pipeline"):
        console.print(f"challenger: {result['pipeline']} (id {result['pipeline_id']})")


def _figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def pipeline(
    detector: Annotated[str, typer.Argument(help="Detector version: id, name or alias.")],
    classifier: Annotated[str, typer.Argument(help="Crop classifier version: id or name.")],
    name: Annotated[str, typer.Option(help="Name of the new pipeline version.")],
    min_box_score: Annotated[
        float, typer.Option(help="Detector score from which boxes go to the classifier.")
    ] = DEFAULT_MIN_BOX_SCORE,
    handoff: Annotated[
        str | None,
        typer.Option(
            help="Detector classes handed on, comma-separated (default: all but "
            "empty/person/vehicle)."
        ),
    ] = None,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pair a detector version with a crop classifier version as a new pipeline version."""
    with open_project(project) as proj:
        version = register_pipeline(
            proj,
            name,
            detector,
            classifier,
            min_box_score=min_box_score,
            handoff=[c.strip() for c in handoff.split(",") if c.strip()] if handoff else None,
            actor_id=proj.author(actor),
        )
        described = describe_version(version)
    if as_json:
        print_json(described)
        return
    console.print(
        f"pipeline {described['name']} (id {described['id']}): detector "
        f"{described['detector_id']} + classifier {described['classifier_id']}, "
        f"classes {', '.join(described['classes'])}"
    )


def register(app: typer.Typer) -> None:
    """Add these commands to the `wildloop model` group."""
    app.command("train-classifier")(train_classifier)
    app.command()(pipeline)
