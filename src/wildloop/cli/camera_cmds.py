"""`wildloop camera list|set`: deployment metadata and clock fixes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.cli.split_cmds import print_hint
from wildloop.domain.splits import GroupBy
from wildloop.media.camera_priors import list_priors, set_prior
from wildloop.media.cameras import CameraChange, list_cameras, update_camera
from wildloop.media.split_groups import project_hint

app = typer.Typer(
    help="Cameras (deployments): place, coordinates, clock offset.", no_args_is_help=True
)


@app.command("list")
def list_command(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """List cameras with their metadata and media counts."""
    with open_project(project) as proj, proj.db.session() as session:
        cameras = list_cameras(session)
    if as_json:
        print_json(cameras)
        return
    table = Table("camera", "location", "lat", "lon", "clock offset s", "media")
    for c in cameras:
        table.add_row(
            c["name"],
            c["location"] or "",
            str(c["latitude"] or ""),
            str(c["longitude"] or ""),
            str(c["clock_offset_seconds"]),
            str(c["media"]),
        )
    console.print(table)


@app.command("set")
def set_command(
    name: Annotated[str, typer.Argument(help="Camera name.")],
    location: Annotated[str | None, typer.Option(help="Site name.")] = None,
    lat: Annotated[float | None, typer.Option(help="Latitude (WGS84).")] = None,
    lon: Annotated[float | None, typer.Option(help="Longitude (WGS84).")] = None,
    clock_offset: Annotated[
        int | None,
        typer.Option(help="Seconds to add to the camera's clock; capture times shift to match."),
    ] = None,
    author: Annotated[str, typer.Option(help="Who makes the change (audit log).")] = "cli",
    project: ProjectOption = None,
) -> None:
    """Set a camera's place and coordinates, or fix its clock offset."""
    with open_project(project) as proj:
        actor = proj.author(author)
        with proj.db.session() as session:
            update_camera(session, name, CameraChange(location, lat, lon, clock_offset), actor)
        hint = project_hint(proj)
    console.print(f"Updated camera {name}.")
    if location is not None and proj.config.splits.group_by is not GroupBy.SEQUENCE:
        console.print(
            "Sequences already split keep their splits (they are frozen); new ones follow the "
            "new location. `wildloop splits regroup` moves the old ones if you want that."
        )
    print_hint(hint)


priors_app = typer.Typer(
    help="Location priors: the classes each camera can see, and a parent for the others. "
    "[priors] mode in wildloop.toml picks hard (roll up or drop) or soft (down-weight).",
    no_args_is_help=True,
)
app.add_typer(priors_app, name="priors")


@priors_app.command("list")
def priors_list_command(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """List each camera's allow-list and roll-up class."""
    with open_project(project) as proj, proj.db.session() as session:
        priors = list_priors(session)
    if as_json:
        print_json(priors)
        return
    table = Table("camera", "allowed", "roll-up")
    for p in priors:
        table.add_row(p["camera"], ", ".join(p["allowed"] or ["(any)"]), p["rollup"] or "")
    console.print(table)


@priors_app.command("set")
def priors_set_command(
    name: Annotated[str, typer.Argument(help="Camera name.")],
    classes: Annotated[
        str, typer.Argument(help="Comma-separated classes seen here; '' clears the prior.")
    ],
    rollup: Annotated[
        str | None, typer.Option(help="Parent class for predictions not allowed here.")
    ] = None,
    author: Annotated[str, typer.Option(help="Who makes the change (audit log).")] = "cli",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set a camera's allow-list (and roll-up); applies to predictions made from now on."""
    with open_project(project) as proj:
        actor = proj.author(author)
        with proj.db.session() as session:
            stored = set_prior(session, name, classes.split(","), rollup, proj.classes.names, actor)
    if as_json:
        print_json(stored)
        return
    allowed = ", ".join(stored["allowed"] or ["any class"])
    console.print(f"Camera {name} allows {allowed}; roll-up: {stored['rollup'] or 'none'}.")
