"""`wildloop repeats [decide|undo]`: boxes the champion finds at one place of one camera,
frame after frame, and one decision per group (false positive or real)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.model_cmds import ActorOption
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.project import Project
from wildloop.review.repeat_decisions import decide as decide_group
from wildloop.review.repeat_decisions import decision_status, undo_outcomes
from wildloop.review.repeat_decisions import undo as undo_decision
from wildloop.review.repeats import repeat_group, repeat_groups

app = typer.Typer(help="Repeat detections: one decision per group instead of one per frame.")

MinFrames = Annotated[
    int, typer.Option(min=2, help="Frames a box must recur in to count as a repeat.")
]
MinBursts = Annotated[int, typer.Option(min=1, help="Bursts it must recur across.")]
IouOption = Annotated[
    float, typer.Option(min=0.5, max=1.0, help="Overlap that counts as the same place.")
]


@app.callback(invoke_without_command=True)
def repeats(
    ctx: typer.Context,
    min_frames: MinFrames = 10,
    min_bursts: MinBursts = 3,
    iou: IouOption = 0.85,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """List undecided repeat detections (a rock, a branch the model fires on in every frame):
    likely static false positives, one group per place and camera, with example frames."""
    if ctx.invoked_subcommand is not None:
        return
    with open_project(project) as proj, proj.db.session() as session:
        groups = repeat_groups(
            session,
            min_score=proj.config.thresholds.default,
            iou=iou,
            min_items=min_frames,
            min_bursts=min_bursts,
        )
    if as_json:
        print_json(
            [
                {
                    "group": g.key,
                    "camera": g.camera,
                    "box": [g.anchor.x, g.anchor.y, g.anchor.w, g.anchor.h],
                    "frames": len(g.media_ids),
                    "bursts": g.bursts,
                    "media_ids": list(g.media_ids),
                    "prediction_ids": list(g.prediction_ids),
                }
                for g in groups
            ]
        )
        return
    if not groups:
        console.print("No repeat detections found.")
        return
    for g in groups:
        b = g.anchor
        examples = ", ".join(str(m) for m in g.media_ids[:5])
        console.print(
            f"group {g.key:<8} {g.camera:<12} box x={b.x:.2f} y={b.y:.2f} w={b.w:.2f} h={b.h:.2f}: "
            f"{len(g.media_ids)} frames in {g.bursts} bursts (e.g. media {examples})",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def decide(
    group: Annotated[int, typer.Argument(help="Group id, as `wildloop repeats` lists it.")],
    false_positive: Annotated[
        bool,
        typer.Option(
            "--false-positive/--real",
            help="False positive: hide the boxes at that place of the camera and label the "
            "frames as hard negatives. Real: keep them, take the group off the list.",
        ),
    ],
    min_frames: MinFrames = 10,
    min_bursts: MinBursts = 3,
    iou: IouOption = 0.85,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide a whole repeat group at once (audited; `wildloop repeats undo` reverts it)."""
    with open_project(project) as proj:
        author = proj.author(actor)
        with proj.db.session() as session:
            found = repeat_group(
                session,
                group,
                min_score=proj.config.thresholds.default,
                iou=iou,
                min_items=min_frames,
                min_bursts=min_bursts,
            )
            row = decide_group(
                session,
                found,
                "false_positive" if false_positive else "real",
                actor_id=author,
                classes=proj.classes,
                iou=iou,
                min_score=proj.config.thresholds.default,
            )
            decision_id, job_id = row.id, row.job_id
        if job_id is not None:  # a large group: its frames are a job's work, run here
            _run(proj, job_id, f"hard negatives of decision {decision_id}")
        with proj.db.session() as session:
            status = decision_status(session, decision_id)
        out = {
            "decision": decision_id,
            "kind": status["decision"],
            "labelled": status["labelled"],
            "job": job_id,
        }
    if as_json:
        print_json(out)
        return
    console.print(
        f"decision {out['decision']}: group {group} is {out['kind']}; "
        f"{out['labelled']} frames labelled as hard negatives",
        highlight=False,
    )


@app.command()
def undo(
    decision: Annotated[int, typer.Argument(help="Decision id, as `decide` printed it.")],
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Undo a decision: its boxes show again and the frames it labelled get their labels back
    (frames someone saved since keep theirs)."""
    with open_project(project) as proj:
        author = proj.author(actor)
        with proj.db.session() as session:
            out = undo_decision(session, decision, actor_id=author, classes=proj.classes)
        if "job_id" in out:
            _run(proj, out["job_id"], f"restoring the frames of decision {decision}")
            with proj.db.session() as session:
                out |= undo_outcomes(session, decision)
    if as_json:
        print_json(out)
        return
    console.print(
        f"decision {decision} undone: {len(out['restored'])} frames restored, "
        f"{len(out['kept'])} kept (saved since)",
        highlight=False,
    )


def _run(project: Project, job_id: int, label: str) -> dict[str, Any]:
    """Run the decision's job in this process (another worker may share its chunks); its
    result, or exit 1 saying why it did not succeed."""
    status = run_with_progress(project, job_id, label)
    if status["state"] != "succeeded":
        print_status(status)
        raise typer.Exit(1)
    return dict(status.get("result") or {})
