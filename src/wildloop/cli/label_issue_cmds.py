"""`wildloop label-issues [find|list|decide]`: reviewed boxes whose class the out-of-fold
crop classifier doubts, and a second reviewer's decision on each."""

from __future__ import annotations

from typing import Annotated

import typer

from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.curation.label_issues import decide as decide_issue
from wildloop.curation.label_issues import issue_view, list_issues
from wildloop.curation.label_issues_job import submit_label_issues
from wildloop.users.accounts import tool_actor

app = typer.Typer(
    help="Likely label errors among reviewed boxes, for a second reviewer.",
    no_args_is_help=True,
)
ActorOption = Annotated[str, typer.Option("--as", help="Who does this (for the audit trail).")]


@app.command()
def find(
    by: Annotated[
        str,
        typer.Option(
            help="What a fold holds out: box (best on isolated slips) or burst (also finds a "
            "wrong class repeated over a whole burst, with many more false alarms)."
        ),
    ] = "box",
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find the likely label errors again (a job): boxes without a crop vector are embedded
    first, then out-of-fold class probabilities and cleanlab rank the reviewed boxes."""
    with open_project(project) as proj:
        job_id = submit_label_issues(proj, created_by=proj.author(actor), by=by)
        status = run_with_progress(proj, job_id, "label issues")
    if as_json:
        print_json(status)
        return
    print_status(status)


@app.command("list")
def list_(
    status: Annotated[str, typer.Option(help="open, kept or changed.", show_default=True)] = "open",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many to show.")] = 50,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """List label issues, most doubtful first: the given class and who gave it beside the
    suggested class, each with the out-of-fold probability."""
    with open_project(project) as proj, proj.db.session() as session:
        views = list_issues(session, proj.classes, status=status, limit=limit)
    if as_json:
        print_json([v.__dict__ | {"stale": v.stale} for v in views])
        return
    if not views:
        console.print(f"No {status} label issues.")
        return
    for v in views:
        console.print(
            f"#{v.rank:<4} issue {v.id:<6} media {v.media_id:<8} given {v.given_class or 'empty'} "
            f"({v.given_probability:.0%}, by {v.labelled_by}) -> suggested {v.suggested_class} "
            f"({v.suggested_probability:.0%})" + (" [saved since]" if v.stale else ""),
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def decide(
    issue: Annotated[int, typer.Argument(min=1, help="Issue id, as `list` shows it.")],
    decision: Annotated[
        str, typer.Argument(help="keep (the given class) or change (to the suggested one).")
    ],
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide one issue as a second reviewer (audited; the labeller cannot, unless admin)."""
    with open_project(project) as proj:
        user_id = proj.author(actor)
        with proj.db.session() as session:
            decide_issue(
                session,
                issue,
                decision.strip().lower(),
                actor=tool_actor(session, user_id),
                classes=proj.classes,
            )
            view = issue_view(session, proj.classes, issue)
    if as_json:
        print_json(view.__dict__ | {"stale": view.stale})
        return
    console.print(
        f"issue {view.id}: {view.status} (media {view.media_id}: "
        f"{view.suggested_class if view.status == 'changed' else view.given_class or 'empty'})",
        highlight=False,
    )
