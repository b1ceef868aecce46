"""`wildloop events list|show`: bursts of photos as events, their counts and the model's
suggestion (labelling an event is the review screen's or the API's: one key, one action)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.review import grid
from wildloop.review.actions import ReviewContext
from wildloop.review.events import MAX_PAGE, event_view, events_page

app = typer.Typer(help="Events: the frames of one burst as one sighting.", no_args_is_help=True)


@app.command("list")
def list_events(
    camera: Annotated[str | None, typer.Option(help="Only this camera's events.")] = None,
    unreviewed: Annotated[
        bool, typer.Option("--unreviewed", help="Only events with a frame left to review.")
    ] = False,
    after: Annotated[int | None, typer.Option(min=0, help="Start after this event id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_PAGE, help="How many to list.")] = 50,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """List events in id order with their frames and reviewed frames."""
    with open_project(project) as proj, proj.db.session() as session:
        page = events_page(session, camera=camera, unreviewed=unreviewed, cursor=after, limit=limit)
    if as_json:
        print_json({"items": [dataclasses.asdict(e) for e in page.items], "next": page.next_cursor})
        return
    for e in page.items:
        start = f"{e.started_at:%Y-%m-%d %H:%M:%S}" if e.started_at else "-"
        console.print(
            f"{e.id:>8}  {e.camera or '-':<12} {start:<19}  "
            f"{e.reviewed_frames}/{e.frames} frames reviewed",
            highlight=False,
        )
    if page.next_cursor is not None:
        console.print(f"more: --after {page.next_cursor}", highlight=False)


@app.command()
def show(
    event: Annotated[int, typer.Argument(min=1, help="Event (sequence) id.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """One event: its frames, the count per labelled class (the most in one frame) and the
    model's suggestion, smoothed over the event."""
    with open_project(project) as proj, proj.db.session() as session:
        ctx = ReviewContext(classes=proj.classes, thresholds=proj.config.thresholds)
        view = event_view(
            session, ctx, event, grid.champion_id(session), proj.config.smoothing.weak
        )
    if as_json:
        print_json(dataclasses.asdict(view))
        return
    console.print(
        f"event {view.id}: {view.camera or 'no camera'}, {len(view.frames)} frames "
        f"({view.reviewed_frames} reviewed), split {view.split}",
        highlight=False,
    )
    console.print(view.suggestion_text, highlight=False)
    counts = ", ".join(f"{c} ×{n}" for c, n in view.counts.items())
    console.print(f"labelled: {counts or 'nothing yet'}", highlight=False)
    for f in view.frames:
        boxes = ", ".join(
            f"{b.class_name or '?'}" + (f" {b.score:.2f}" if b.score is not None else "")
            for b in f.boxes
        )
        status = "reviewed" if f.reviewed else "unreviewed"
        console.print(f"  {f.id:>8}  {status:<10}  {boxes or '-'}", highlight=False)
