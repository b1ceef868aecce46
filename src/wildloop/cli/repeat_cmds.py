"""`wildloop repeats`: boxes the champion finds at one place of one camera, frame after frame."""

from __future__ import annotations

from typing import Annotated

import typer

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.review.repeats import repeat_groups


def repeats(
    min_frames: Annotated[
        int, typer.Option(min=2, help="Frames a box must recur in to count as a repeat.")
    ] = 10,
    min_bursts: Annotated[int, typer.Option(min=1, help="Bursts it must recur across.")] = 3,
    iou: Annotated[
        float, typer.Option(min=0.5, max=1.0, help="Overlap that counts as the same place.")
    ] = 0.85,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """List repeat detections (a rock, a branch the model fires on in every frame): likely
    static false positives, one group per place and camera, with example frames."""
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
            f"{g.camera:<12} box x={b.x:.2f} y={b.y:.2f} w={b.w:.2f} h={b.h:.2f}: "
            f"{len(g.media_ids)} frames in {g.bursts} bursts (e.g. media {examples})",
            highlight=False,
            soft_wrap=True,
        )
