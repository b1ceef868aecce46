"""`wildloop init` and `wildloop status`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.cli.split_cmds import print_hint, print_split_groups
from wildloop.media.summary import media_summary
from wildloop.project import Project


def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new project.")],
    name: Annotated[str, typer.Option(help="Project name.")],
    classes: Annotated[str, typer.Option(help="Comma-separated class names, e.g. buck,doe,fawn.")],
    modality: Annotated[str, typer.Option(help="image or audio.")] = "image",
    database_url: Annotated[
        str, typer.Option(help="PostgreSQL URL; empty for SQLite inside the project.")
    ] = "",
) -> None:
    """Create a project: wildloop.toml, a migrated database and artifact folders."""
    project = Project.init(directory, name, classes.split(","), modality, database_url)
    console.print(
        f"Created project [bold]{name}[/] in {project.root} with classes "
        f"{', '.join(project.classes.names)} ({project.db.engine.dialect.name})."
    )
    project.close()


def status(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Counts of media by status, split and camera."""
    with open_project(project) as proj:
        summary = media_summary(proj)
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"wildloop project {summary['project']}")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("media", str(summary["media"]))
    for group in ("by_status", "by_split", "by_camera"):
        for key, count in summary[group].items():
            table.add_row(f"{group[3:]}: {key}", str(count))
    table.add_row("sequences", str(summary["sequences"]))
    table.add_row("reviewed", str(summary["reviewed"]))
    console.print(table)
    print_split_groups(summary["splits"])
    print_hint(summary["hint"])
