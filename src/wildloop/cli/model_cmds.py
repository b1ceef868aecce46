"""`wildloop model list|show|register|promote|rollback`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.registry import aliases
from wildloop.registry.versions import (
    Provenance,
    describe_version,
    get_version,
    list_versions,
    register_model,
)

app = typer.Typer(help="Model registry: versions and the champion alias.", no_args_is_help=True)
ActorOption = Annotated[str, typer.Option("--as", help="Who does this (for the audit trail).")]


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
    """One version with its provenance, as JSON."""
    with open_project(project) as proj, proj.db.session() as session:
        print_json(describe_version(get_version(session, model)))


@app.command()
def register(
    path: Annotated[Path, typer.Argument(help="An Ultralytics .pt or an .onnx detector.")],
    name: Annotated[str, typer.Option(help="A unique name for this version.")],
    classes: Annotated[
        str | None, typer.Option(help="Class names in model order (if the file lacks them).")
    ] = None,
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: from the file).")] = None,
    parent: Annotated[str | None, typer.Option(help="Version this one derives from.")] = None,
    notes: Annotated[str | None, typer.Option(help="Free text.")] = None,
    promote: Annotated[bool, typer.Option(help="Make it champion right away.")] = False,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store a detector in the project (content-addressed) and record it as a version."""
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
            provenance=Provenance(source="registered", parent_id=parent_id, notes=notes),
            actor_id=actor_id,
        )
        if promote:
            with proj.db.session() as session:
                aliases.promote(session, version.id, actor_id, reason="registered with --promote")
    if as_json:
        print_json(describe_version(version))
        return
    console.print(
        f"registered {version.name} as version {version.id} "
        f"({len(version.classes)} classes, sha256 {(version.artifact_sha256 or '')[:12]}…"
        + (", ONNX exported" if version.artifact_format == "pt" else "")
        + (", now champion" if promote else "")
        + ")"
    )


@app.command()
def promote(
    model: Annotated[str, typer.Argument(help="Id or name of the version.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail).")] = None,
    alias: Annotated[str, typer.Option(help="champion or challenger.")] = "champion",
    actor: ActorOption = "admin",
    project: ProjectOption = None,
) -> None:
    """Point the alias at a version in one atomic switch (workers pick it up live)."""
    with open_project(project) as proj:
        actor_id = proj.author(actor)
        with proj.db.session() as session:
            version = get_version(session, model)
            move = aliases.promote(session, version.id, actor_id, reason, alias=alias)
    console.print(f"{alias}: {move.previous_id or 'none'} -> {move.version_id} ({version.name})")


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
    console.print(f"champion: {move.previous_id} -> {move.version_id}")
