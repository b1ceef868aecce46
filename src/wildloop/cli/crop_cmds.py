"""`wildloop crops index|similar`: the crop vector index and the boxes nearest one box."""

from __future__ import annotations

from typing import Annotated

import typer

from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.crops.index import similar_boxes, submit_crop_index

app = typer.Typer(help="Crop embeddings of detected boxes.", no_args_is_help=True)


@app.command()
def index(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Rebuild the vector index of the stored crop embeddings (a job)."""
    with open_project(project) as proj:
        job_id = submit_crop_index(proj, created_by=proj.author("admin"))
        status = run_with_progress(proj, job_id, "crop index")
    if as_json:
        print_json(status)
        return
    print_status(status)


@app.command()
def similar(
    prediction: Annotated[int, typer.Option(min=1, help="Id of the example box (prediction).")],
    k: Annotated[int, typer.Option("-k", min=1, max=500, help="How many boxes to list.")] = 20,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """The boxes whose crops look most like the example's (from the crop index)."""
    with open_project(project) as proj:
        found = similar_boxes(proj, prediction, k)
    if as_json:
        print_json([{"prediction_id": p, "media_id": m, "similarity": s} for p, m, s in found])
        return
    for prediction_id, media_id, score in found:
        console.print(f"{prediction_id:>10}  media {media_id:>8}  {score:.3f}", highlight=False)
