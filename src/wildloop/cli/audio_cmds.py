"""`wildloop audio embed|search|queue`: embeddings, search by example, the review queue."""

from __future__ import annotations

import typer

from wildloop.audio.embed_job import submit_embed
from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import print_json

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
