"""The ``analytics-rebuild`` job: fills the sums the report reads after an upgrade.

A project upgraded with labels already in it has no sums yet (migration 0021 cannot group
events), so its report is computed from the labels on every request: seconds at half a
million labelled photos. The first request for the report asks for this job (requests never
compute); once it has run, saves keep the sums up to date. ``wildloop analytics rebuild``
does the same work in the foreground.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import active_job_id, submit_job
from wildloop.tallies import maintained

REBUILD_KIND_NAME = "analytics-rebuild"


def request_rebuild(session: Session, created_by: int | None = None) -> int | None:
    """The queued or running rebuild, or a new one when the sums are not built; None when
    they are (in the caller's transaction)."""
    if maintained.is_built(session):
        return None
    active = active_job_id(session, REBUILD_KIND_NAME)
    if active is not None:
        return active
    return submit_job(
        session,
        REBUILD_KIND_NAME,
        {},
        [{}],
        total=1,
        created_by=created_by,
        message="building the analytics sums from the labels",
    )


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    with ctx.project.db.session() as session:
        stored = maintained.rebuild(session)  # one transaction: saves wait, then refresh
    ctx.message(f"analytics sums built from {stored} detections")
    return ChunkOutcome(done=1)


REBUILD_KIND = JobKind(name=REBUILD_KIND_NAME, run_chunk=_run_chunk)
