"""`wildloop queue`: the unreviewed items most worth reviewing next, with why."""

from __future__ import annotations

from typing import Annotated

import typer

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.jobs.local import run_job
from wildloop.review.queue import value_queue


def queue(
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many items to list.")] = 20,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """List unreviewed items by review value: uncertain, disputed (burst, challenger) or
    unlike anything reviewed, spread over bursts and cameras."""
    with open_project(project) as proj:
        page = value_queue(proj, limit=limit)
        if page.refreshing is not None:
            # The stored order is stale: run its refresh job here, as `wildloop serve` would.
            run_job(proj, page.refreshing)
            page = value_queue(proj, limit=limit)
        items = page.items
    if as_json:
        print_json([{**i.__dict__, "reasons": list(i.reasons)} for i in items])
        return
    if not items:
        console.print("Nothing to review: every item is reviewed (or none is processed yet).")
        return
    for i in items:
        why = "; ".join(i.reasons) or "no signal (reviewed in archive order)"
        score = f"{i.top_score:.2f}" if i.top_score is not None else "-"
        console.print(
            f"{i.media_id:>8}  {i.value:5.2f}  {i.camera or '-':<12} "
            f"{i.top_class or 'nothing':<12} {score:>5}  {why}",
            highlight=False,
            soft_wrap=True,
        )
