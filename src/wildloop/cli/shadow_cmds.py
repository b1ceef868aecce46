"""`wildloop shadow ...`: the challenger predicting beside the champion on new items."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.evaluation.shadow import DISAGREE, current_pair, disagreements, shadow_status
from wildloop.processing.predict_job import submit_shadow_recent
from wildloop.processing.shadow import RECENT_DEFAULT, request_agreement, set_share
from wildloop.project import Project

app = typer.Typer(
    help="Shadow runs: the challenger predicts beside the champion on a share of new items.",
    no_args_is_help=True,
)


@app.command("set")
def set_(
    share: Annotated[
        float,
        typer.Option(
            "--share", min=0, max=1, help="Share of new items the challenger also predicts."
        ),
    ],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set shadow.share in wildloop.toml (audited); 0 turns shadow runs off."""
    with open_project(project) as proj:
        after = set_share(proj, share, proj.author("cli"))
    if as_json:
        print_json(after)
        return
    console.print(f"shadow share: {after['share']:g} of new items")


@app.command()
def run(
    share: Annotated[
        float | None,
        typer.Option(
            "--share", min=0, max=1, help="Share to run (default: shadow.share in wildloop.toml)."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="How many of the most recent images.")
    ] = RECENT_DEFAULT,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the challenger now over its share of the most recent images, then judge the
    agreement (both as jobs, in this process)."""
    with open_project(project) as proj:
        submitted = submit_shadow_recent(
            proj, share=share, limit=limit, created_by=proj.author("cli")
        )
        if submitted is not None:
            status = run_with_progress(proj, submitted.job_id, f"shadow ({submitted.version_name})")
            if status["state"] != "succeeded":
                print_status(status)
                raise typer.Exit(1)
        _judge(proj)
        out = shadow_status(proj)
    _print(out, as_json, None if submitted is None else submitted.items)


@app.command()
def status(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """The share, the pair and the agreement figures last judged."""
    with open_project(project) as proj:
        out = shadow_status(proj)
    _print(out, as_json)


@app.command("disagreements")
def list_disagreements(
    outcome: Annotated[
        str | None, typer.Option(help=f"Only one kind: {', '.join(DISAGREE)}.")
    ] = None,
    after: Annotated[int | None, typer.Option(help="Media id the page starts after.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Items per page.")] = 50,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Items where the challenger's answer differs from the champion's (one page)."""
    with open_project(project) as proj, proj.db.session() as session:
        champion, challenger = current_pair(session)
        page, cursor = disagreements(
            session, champion, challenger, outcome=outcome, after=after, limit=limit
        )
    if as_json:
        print_json({"items": [d.as_dict() for d in page], "next": cursor})
        return
    for d in page:
        said = f"{d.champion_class or 'nothing'} / {d.challenger_class or 'nothing'}"
        console.print(f"#{d.media_id}  {d.outcome.replace('_', ' ')}  {said}")
    if cursor is not None:
        console.print(f"next page: --after {cursor}")


def _judge(proj: Project) -> None:
    with proj.db.session() as session:
        job_id = request_agreement(session)
    if job_id is not None:
        status = run_with_progress(proj, job_id, "shadow agreement")
        if status["state"] != "succeeded":
            print_status(status)
            raise typer.Exit(1)


def _print(out: dict[str, Any], as_json: bool, ran: int | None = None) -> None:
    if as_json:
        print_json(out if ran is None else {**out, "ran": ran})
        return
    console.print(f"share: {out['share']:g}")
    if out["challenger"] is None:
        console.print("no challenger that differs from the champion: nothing shadows")
        return
    console.print(f"challenger {out['challenger']['name']} beside {out['champion']['name']}")
    figures = out["figures"]
    if not figures:
        console.print("no agreement figures yet (`wildloop shadow run`)")
        return
    rate = figures["agreement"]
    console.print(
        f"shadowed {figures['shadowed']}, judged {figures['compared']}: agreement "
        f"{'-' if rate is None else f'{100 * rate:.1f}%'}"
    )
    console.print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in figures["outcomes"].items()))
    for row in figures["per_class"]:
        console.print(
            f"  {row['class']}: {row['agreed']}/{row['items']} ({100 * row['agreement']:.1f}%)"
        )
