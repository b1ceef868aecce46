"""Console output shared by commands: Rich console, progress bars, JSON printing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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
