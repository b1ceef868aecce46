"""`wildloop process`, `wildloop reprocess` and `wildloop prune`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import (
    DeviceOption,
    JsonOption,
    ProjectOption,
    RuntimeOption,
    open_project,
    override_inference,
)
from wildloop.cli.output import console, print_json
from wildloop.processing.predict_job import Submitted, submit_process, submit_reprocess
from wildloop.processing.prune import prune_version
from wildloop.processing.selection import SCOPE_HELP
from wildloop.project import Project

WaitOption = Annotated[
    bool,
    typer.Option("--wait/--no-wait", help="Run here with a progress bar, or leave to workers."),
]


def process(
    model: Annotated[str, typer.Option(help="Id, name or alias.")] = "champion",
    wait: WaitOption = True,
    runtime: RuntimeOption = None,
    device: DeviceOption = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the champion on every image it has not seen yet."""
    with open_project(project) as proj:
        override_inference(proj, runtime, device)
        submitted = submit_process(proj, model=model, created_by=proj.author("admin"))
        _finish(proj, submitted, wait, as_json, "process")


def reprocess(
    model: Annotated[str, typer.Option(help="champion, or a version id or name.")] = "champion",
    scope: Annotated[list[str] | None, typer.Option(help=SCOPE_HELP)] = None,
    compare_to: Annotated[
        str | None, typer.Option(help="Version for the before/after summary (default: champion).")
    ] = None,
    wait: WaitOption = True,
    runtime: RuntimeOption = None,
    device: DeviceOption = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a version over the archive again; labels are untouched, older sets are kept."""
    with open_project(project) as proj:
        override_inference(proj, runtime, device)
        submitted = submit_reprocess(
            proj, model=model, scope=scope, compare_to=compare_to, created_by=proj.author("admin")
        )
        _finish(proj, submitted, wait, as_json, "reprocess")


def prune(
    model: Annotated[str, typer.Option(help="The version to retire and prune.")],
    project: ProjectOption = None,
) -> None:
    """Delete a retired version's prediction sets (sets a label refers to are kept)."""
    with open_project(project) as proj, proj.db.session() as session:
        report = prune_version(session, model, proj.author("admin"))
    console.print(
        f"{report.name}: retired; {report.sets_deleted} prediction sets deleted, "
        f"{report.sets_kept} kept because human labels refer to them"
    )


def print_shadow(submitted: Submitted) -> None:
    """Say that a shadow run was queued beside the champion's job, and who runs it."""
    if submitted.shadow is not None:
        console.print(
            f"shadow run: {submitted.shadow.items} items with the challenger "
            f"{submitted.shadow.version_name} queued as job {submitted.shadow.job_id} "
            "(background: `wildloop serve` or `wildloop worker` runs it; "
            "`wildloop shadow status` for the agreement)"
        )


def _finish(project: Project, submitted: Submitted, wait: bool, as_json: bool, label: str) -> None:
    if not as_json:
        print_shadow(submitted)
    if not wait:
        if as_json:
            print_json({"job_id": submitted.job_id, "items": submitted.items})
        else:
            console.print(
                f"job {submitted.job_id} queued: {submitted.items} items with "
                f"{submitted.version_name}; run `wildloop worker` to process it"
            )
        return
    status = run_with_progress(project, submitted.job_id, f"{label} ({submitted.version_name})")
    if as_json:
        print_json(status)
        return
    print_status(status)
    if status["result"]:
        print_summary(status["result"])


def print_summary(result: dict[str, Any]) -> None:
    """The before/after table a reprocess ends with."""
    if "after" not in result:
        return
    after, before = result["after"], result.get("before")
    table = Table(
        "class",
        *([f"before ({before['name']})"] if before else []),
        f"after ({after['name']})",
        title=f"detections ≥ {result['display_threshold']} on {result['items']} items "
        "(count, mean confidence)",
    )
    names = sorted(set(after["per_class"]) | set(before["per_class"] if before else {}))
    for name in names:
        row = [name]
        for side in ([before] if before else []) + [after]:
            cell = side["per_class"].get(name)
            row.append(f"{cell['count']} ({cell['mean_confidence']:.2f})" if cell else "0")
        table.add_row(*row)
    console.print(table)
    if result.get("settings_described"):
        console.print(f"made with: {result['settings_described']}")
    if before:
        console.print(f"top class changed on {result['top_class_changed']['count']} items")
    reviewed = result["reviewed_disagreeing"]
    console.print(
        f"{reviewed['count']} of {reviewed['reviewed']} reviewed items now disagree with "
        "their human label (labels are unchanged)"
    )
