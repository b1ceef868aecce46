"""Console output shared by commands: Rich console, progress bars, JSON printing, and the
wait for a training job that several commands start."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from wildloop.jobs.executor import run_job
from wildloop.jobs.records import cancel_job
from wildloop.project import Project

FAILED_EXIT = 7  # a job that ran and did not succeed
INTERRUPTED_EXIT = 130

console = Console()
errors = Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int | None], None]]:
    """Yield a callback ``update(done, total)`` that drives a Rich progress bar."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def job_printer() -> Callable[[dict[str, Any]], None]:
    """A progress callback that prints each new job message (one line per epoch) to stderr."""
    last: dict[str, Any] = {"message": None}

    def show(status: dict[str, Any]) -> None:
        if status.get("message") and status["message"] != last["message"]:
            last["message"] = status["message"]
            errors.print(f"[dim]job {status['id']} ({status['kind']}):[/] {status['message']}")

    return show


def wait_and_report(project: Project, job_id: int, as_json: bool) -> dict[str, Any] | None:
    """Run a training job here until it finishes, printing its messages as it goes.

    Returns the job's result when it succeeded and ``as_json`` is off (the caller prints its
    own summary); with ``as_json`` prints the final status and returns None. A job that did
    not succeed exits with code 7 (after its JSON status, if asked), and Ctrl-C cancels the
    job and exits with 130.
    """
    try:
        status = run_job(project, job_id, progress=job_printer())
    except KeyboardInterrupt:
        with project.db.session() as session:
            cancel_job(session, job_id)
        errors.print(f"cancelled job {job_id}")
        raise typer.Exit(INTERRUPTED_EXIT) from None
    if as_json:
        print_json(status)
    if status["state"] != "succeeded":
        errors.print(f"[red]training {status['state']}[/]: {status.get('error') or ''}")
        raise typer.Exit(FAILED_EXIT)
    return None if as_json else dict(status["result"] or {})


def reliability_table(bins: list[dict[str, Any]]) -> Table:
    """A reliability table (confidence bin, crops, mean confidence, accuracy); empty bins are
    left out."""
    table = Table("confidence", "count", "mean confidence", "accuracy", title="reliability")
    for b in bins:
        if b["count"]:
            table.add_row(
                f"{b['low']:.1f}-{b['high']:.1f}",
                str(b["count"]),
                f"{b['mean_confidence']:.3f}",
                f"{b['accuracy']:.3f}",
            )
    return table
