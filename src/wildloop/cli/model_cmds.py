"""`wildloop model list|show|register|promote|rollback|quantize`.

Replacing the champion always goes through the promotion gate (``wildloop promote``'s code):
only the first champion, when there is none to compare with, and the ``challenger`` alias
are plain alias moves (audited).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.loop_cmds import gated_promotion
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, print_json
from wildloop.domain.class_mapping import ClassMapping
from wildloop.errors import BadInput
from wildloop.evaluation.class_thresholds import follow_champion
from wildloop.evaluation.parity import latest_parity
from wildloop.evaluation.promotion import make_first_champion
from wildloop.evaluation.quantize_job import submit_quantize
from wildloop.individuals.projection import REID_ALIAS
from wildloop.models.registration import missing_classes, register_model
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import (
    QUANTIZED,
    Provenance,
    describe_version,
    get_version,
    list_versions,
)

app = typer.Typer(help="Model registry: versions and the champion alias.", no_args_is_help=True)
ActorOption = Annotated[str, typer.Option("--as", help="Who does this (for the audit trail).")]
ForceOption = Annotated[
    bool, typer.Option(help="Replace the champion even if the gate refuses (needs --reason).")
]
ReprocessOption = Annotated[
    bool | None,
    typer.Option(help="Queue a reprocess with the new champion (default: triggers setting)."),
]


@app.command("list")
def list_(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Every registered version, newest first, with its aliases."""
    with open_project(project) as proj, proj.db.session() as session:
        versions = list_versions(session)
    if as_json:
        print_json(versions)
        return
    table = Table("id", "name", "aliases", "source", "format", "classes", "sha256", "created")
    for v in versions:
        table.add_row(
            str(v["id"]),
            v["name"] + (" (retired)" if v["retired"] else ""),
            ",".join(v["aliases"]),
            v["source"],
            v["format"] or "-",
            str(len(v["classes"])),
            (v["sha256"] or "-")[:12],
            (v["created_at"] or "")[:19],
        )
    console.print(table)


@app.command()
def show(
    model: Annotated[str, typer.Argument(help="Id, name or alias.")],
    project: ProjectOption = None,
) -> None:
    """One version with its provenance, as JSON (a quantised copy: with its parity verdict)."""
    with open_project(project) as proj, proj.db.session() as session:
        version = get_version(session, model)
        described = describe_version(version)
        if version.source == QUANTIZED:
            described["parity"] = latest_parity(session, version.id)
        print_json(described)


@app.command()
def quantize(
    model: Annotated[str, typer.Argument(help="Id, name or alias of the detector to quantise.")],
    calibration: Annotated[
        int, typer.Option(help="Train-split images to calibrate with (static).")
    ] = 200,
    method: Annotated[
        str, typer.Option(help="static (calibrated, QDQ per-channel) or dynamic.")
    ] = "static",
    name: Annotated[str | None, typer.Option(help="Name of the new version.")] = None,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Derive an int8 version (its parent: MODEL) for cheaper CPU workers, then score it and
    its parent on the test split (a job). It may become champion in its parent's place only
    if its mAP50-95 is within gate.parity_tolerance of the parent's."""
    with open_project(project) as proj:
        job_id = submit_quantize(
            proj,
            model,
            method=method,
            calibration=calibration,
            name=name,
            created_by=proj.author(actor),
        )
        status = run_with_progress(proj, job_id, "quantising")
    if status["state"] != "succeeded":
        print_status(status)
        raise typer.Exit(1)
    result = status["result"] or {}
    if as_json:
        print_json(result)
        return
    console.print(f"registered {result['name']} (id {result['version_id']})", highlight=False)
    parity = result.get("parity")
    if parity is None:
        console.print(f"parity not checked: {result.get('parity_error')}", highlight=False)
        return
    verdict = "passes" if parity["passed"] else "fails"
    console.print(f"parity gate {verdict}: {'; '.join(parity['reasons'])}", highlight=False)


@app.command()
def register(
    path: Annotated[Path, typer.Argument(help="An Ultralytics .pt or an .onnx detector.")],
    name: Annotated[str, typer.Option(help="A unique name for this version.")],
    classes: Annotated[
        str | None, typer.Option(help="Class names in model order (if the file lacks them).")
    ] = None,
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: from the file).")] = None,
    class_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="Read a model class as a project class: 'theirs=ours' (repeatable)."
        ),
    ] = None,
    add_classes: Annotated[
        bool,
        typer.Option("--add-classes", help="Add the model's unknown classes to the project."),
    ] = False,
    parent: Annotated[str | None, typer.Option(help="Version this one derives from.")] = None,
    notes: Annotated[str | None, typer.Option(help="Free text.")] = None,
    promote: Annotated[
        bool,
        typer.Option(help="Make it champion: right away if there is none, else through the gate."),
    ] = False,
    force: ForceOption = False,
    reason: Annotated[str | None, typer.Option(help="Why the gate is overridden.")] = None,
    reprocess: ReprocessOption = None,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store a detector in the project (content-addressed) and record it as a version.

    Its classes must be project classes: an unknown one is refused unless --map or
    --add-classes says how to read it."""
    if force and not promote:
        raise BadInput("--force only applies with --promote")
    with open_project(project) as proj:
        actor_id = proj.author(actor)
        parent_id = None
        if parent:
            with proj.db.session() as session:
                parent_id = get_version(session, parent).id
        version = register_model(
            proj,
            path,
            name,
            classes=[c.strip() for c in classes.split(",")] if classes else None,
            imgsz=imgsz,
            mapping=ClassMapping.parse(class_map, add_classes=add_classes),
            provenance=Provenance(source="registered", parent_id=parent_id, notes=notes),
            actor_id=actor_id,
        )
        lacking = missing_classes(proj, version)
        if lacking:
            errors.print(
                f"[yellow]warning[/] {version.name} never predicts these project classes: "
                + ", ".join(lacking)
            )
        if as_json and not promote:
            print_json(describe_version(version))
            return
        (errors if as_json else console).print(
            f"registered {version.name} as version {version.id} "
            f"({len(version.classes)} classes, sha256 {(version.artifact_sha256 or '')[:12]}…"
            + (", ONNX exported" if version.artifact_format == "pt" else "")
            + ")"
        )
        if promote:
            _to_champion(
                proj, version.id, version.name, force, reason, actor, reprocess, as_json=as_json
            )


@app.command()
def promote(
    model: Annotated[str, typer.Argument(help="Id or name of the version.")],
    alias: Annotated[str, typer.Option(help="champion (gated) or challenger.")] = "champion",
    force: ForceOption = False,
    reason: Annotated[
        str | None, typer.Option(help="Why (kept in the audit trail; required with --force).")
    ] = None,
    reprocess: ReprocessOption = None,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Point an alias at a version. champion: only through the gate (the version must beat
    the champion on the test snapshot, or --force --reason); the first champion and the
    challenger alias move directly. Workers pick the change up live."""
    if alias not in aliases.ALIASES:
        raise BadInput(f"unknown alias {alias!r}; use champion or challenger")
    if alias == REID_ALIAS:
        raise BadInput(
            "reid-champion moves through the re-ID gate: "
            "`wildloop individuals evaluate-embedder MODEL --promote`"
        )
    with open_project(project) as proj:
        with proj.db.session() as session:
            version = get_version(session, model)
            version_id, name = version.id, version.name
            if alias == "challenger":
                if force:
                    raise BadInput("--force applies to the champion only")
                move = aliases.move_alias(
                    session, "challenger", version_id, proj.author(actor), reason
                )
        if alias == "challenger":
            _print_move(move, name, as_json)
            return
        _to_champion(proj, version_id, name, force, reason, actor, reprocess, as_json=as_json)


def _to_champion(
    proj: Project,
    version_id: int,
    name: str,
    force: bool,
    reason: str | None,
    actor: str,
    reprocess: bool | None,
    *,
    as_json: bool,
) -> None:
    """The first champion directly; any later one through the gate."""

    with proj.db.session() as session:
        move = make_first_champion(
            session, version_id, proj.author(actor), reason, classes=proj.classes
        )
    if move is not None:
        note = follow_champion(proj, move.version_id, proj.author(actor))
        _print_move(move, name, as_json, note)
        return
    gated_promotion(
        proj,
        str(version_id),
        force=force,
        reason=reason,
        actor=actor,
        reprocess=reprocess,
        as_json=as_json,
    )


def _print_move(
    move: aliases.AliasMove, name: str, as_json: bool, thresholds: str | None = None
) -> None:
    if as_json:
        print_json(
            {
                "alias": move.alias,
                "previous_id": move.previous_id,
                "version_id": move.version_id,
                # What became of the per-class thresholds (they follow the champion only).
                **({"thresholds": thresholds} if move.alias == "champion" else {}),
            }
        )
        return
    console.print(f"{move.alias}: {move.previous_id or 'none'} -> {move.version_id} ({name})")
    if thresholds:
        console.print(f"thresholds: {thresholds}")


@app.command()
def rollback(
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail).")] = None,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
) -> None:
    """Move champion back to the version before the current one."""
    with open_project(project) as proj:
        actor_id = proj.author(actor)
        with proj.db.session() as session:
            move = aliases.rollback(session, actor_id, reason)
        note = follow_champion(proj, move.version_id, actor_id)
    console.print(f"champion: {move.previous_id} -> {move.version_id}")
    if note:
        console.print(f"thresholds: {note}")
