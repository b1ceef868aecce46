"""The ``repeat-decision`` job: label a large repeat group's frames as hard negatives (or,
after an undo, give them their labels back) in chunks, outside any request.

``review.repeat_decisions`` writes the decision, its region and its audit at once and submits
this job when the group has more than ``SYNC_FRAMES`` frames. A chunk is one transaction: each
frame's label revision and its ``repeat_decision_frames`` row commit together, so a chunk that
runs again (a worker killed after its commit, a retry) finds those frames done and writes
nothing twice. A decision undone before its job ran labels nothing more.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.project import Project
from wildloop.review.repeat_decisions import (
    KIND_NAME,
    label_frames,
    labelled_count,
    restore_frames,
)
from wildloop.store.bulk import lock_row
from wildloop.store.tables import Job, RepeatDecision, RepeatDecisionFrame


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    media_ids = [int(m) for m in ctx.payload["media_ids"]]
    decision_id = int(ctx.params["decision_id"])
    actor_id = int(ctx.params["actor_id"])
    with ctx.project.db.session() as session:
        # Hold the decision while this chunk writes: an undo waits for it and then sees its
        # frames, or it sees the undo; never frames labelled after an undo read the list.
        lock_row(session, RepeatDecision, decision_id)
        row = session.get(RepeatDecision, decision_id, populate_existing=True)
        if row is None:
            return ChunkOutcome(done=0, failed=len(media_ids))
        if ctx.params["mode"] == "undo":
            out = restore_frames(session, row, media_ids, actor_id, ctx.project.classes)
            message = f"{len(out['restored'])} restored, {len(out['kept'])} kept"
        elif row.undone_at is not None:
            message = "the decision was undone: nothing more to label"
        else:
            labelled, skipped = label_frames(
                session,
                row,
                media_ids,
                [int(p) for p in ctx.params["prediction_ids"]],
                actor_id,
                ctx.project.classes,
                float(ctx.params["min_score"]),
            )
            message = f"{labelled} frames labelled, {skipped} skipped"
    ctx.progress(len(media_ids), message=message)
    return ChunkOutcome(done=len(media_ids))


def _finalize(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        params = session.get_one(Job, job_id).params
        decision_id = int(params["decision_id"])
        if params["mode"] == "undo":
            outcomes = dict(
                session.execute(
                    select(RepeatDecisionFrame.undo_outcome, func.count())
                    .where(RepeatDecisionFrame.decision_id == decision_id)
                    .group_by(RepeatDecisionFrame.undo_outcome)
                ).all()
            )
            return {
                "decision_id": decision_id,
                "restored": int(outcomes.get("restored", 0)),
                "kept": int(outcomes.get("kept", 0)),
            }
        return {"decision_id": decision_id, "labelled": labelled_count(session, decision_id)}


REPEAT_DECISION_KIND = JobKind(name=KIND_NAME, run_chunk=_run_chunk, finalize=_finalize)
