"""Options every command shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wildloop.project import PROJECT_ENV, Project

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        envvar=PROJECT_ENV,
        help="Project folder (default: $WILDLOOP_PROJECT or the current folder).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def open_project(path: Path | None) -> Project:
    return Project.open(path)


RuntimeOption = Annotated[
    str | None,
    typer.Option(help="Model runtime for this run: auto, onnx or torch (default: the config)."),
]
DeviceOption = Annotated[
    str | None,
    typer.Option(help="Device for this run: auto, cpu, cuda or cuda:N (default: the config)."),
]


def override_inference(project: Project, runtime: str | None, device: str | None) -> None:
    """Apply --runtime/--device to this process only (the project file is not changed)."""
    settings = project.config.inference
    project.config.inference = settings.model_copy(
        update={k: v for k, v in (("runtime", runtime), ("device", device)) if v}
    )
