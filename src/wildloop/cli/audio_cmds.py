"""`wildloop audio embed|search|queue`: embeddings, search by example, the review queue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wildloop.audio.active import review_queue
from wildloop.audio.embed_job import submit_embed
from wildloop.audio.search import search_by_clip, search_by_window, submit_index
from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.errors import BadInput

app = typer.Typer(
    help="Audio projects: window embeddings, search by example, the review queue.",
    no_args_is_help=True,
)


@app.command()
def embed(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Embed every window that has no vector from the configured embedder yet (once)."""
    with open_project(project) as proj:
        submitted = submit_embed(proj, created_by=proj.author("admin"))
        status = run_with_progress(proj, submitted.job_id, f"embed ({submitted.embedder})")
    if as_json:
        print_json(status)
        return
    print_status(status)


@app.command()
def index(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Bring the search index up to date with the stored embeddings (new ones only)."""
    with open_project(project) as proj:
        job_id = submit_index(proj, created_by=proj.author("admin"))
        status = run_with_progress(proj, job_id, "index")
    if as_json:
        print_json(status)
        return
    print_status(status)


@app.command()
def search(
    window: Annotated[int | None, typer.Option(help="Id of the example window.")] = None,
    clip: Annotated[Path | None, typer.Option(help="An example audio file instead.")] = None,
    k: Annotated[int, typer.Option("-k", help="How many windows to list.")] = 20,
    same_recording: Annotated[
        bool, typer.Option(help="Also list windows of the example's own recording.")
    ] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the windows that sound most like an example window or clip, most alike first."""
    if (window is None) == (clip is None):
        raise BadInput("give exactly one of --window ID or --clip FILE")
    with open_project(project) as proj:
        hits = (
            search_by_window(proj, window, k, same_recording)
            if window is not None
            else search_by_clip(proj, clip, k)  # type: ignore[arg-type]
        )
    if as_json:
        print_json([h.as_dict() for h in hits])
        return
    table = Table("window", "score", "site", "recording", "from s", "to s", "reviewed")
    for h in hits:
        table.add_row(
            str(h.media_id),
            f"{h.score:.3f}",
            h.site or "",
            h.path.split("#", 1)[0],
            f"{h.t_start:.1f}",
            f"{h.t_end:.1f}",
            "yes" if h.reviewed else "",
        )
    console.print(table)


@app.command()
def queue(
    size: Annotated[int, typer.Option("-n", help="How many windows to list.")] = 20,
    model: Annotated[
        str, typer.Option(help="Head whose uncertainty orders the queue (alias or name).")
    ] = "champion",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """The next windows to review: the head's least certain, spread over sounds and recordings."""
    with open_project(project) as proj:
        items = review_queue(proj, size, model)
    if as_json:
        print_json([i.__dict__ for i in items])
        return
    table = Table("window", "uncertainty", "head says", "score")
    for item in items:
        table.add_row(
            str(item.media_id),
            "" if item.uncertainty is None else f"{item.uncertainty:.3f}",
            item.top_class or "",
            "" if item.top_score is None else f"{item.top_score:.3f}",
        )
    console.print(table)
