"""Changing the re-ID embedder, as a job: promote a candidate through the gate (or roll
back to the baseline), then bring what is stored in line with the embedder that serves.

Requests never compute: the gate scores both embedders over every test sighting, and a
new embedder needs vectors of every human box (a user's own model embeds crops itself) and
its pending suggestions re-scored. So the API and the CLI only queue this job (a roll back
moves the alias at once, audited, and queues the refresh). One chunk: one writer.
"""

from __future__ import annotations

from typing import Any

from wildloop.domain.model_kinds import REID_EMBEDDER
from wildloop.errors import BadInput
from wildloop.evaluation.promotion import check_override
from wildloop.evaluation.reid_gate import promote_embedder
from wildloop.individuals.embed_job import embed_media, missing_media
from wildloop.individuals.embedders import (
    MODEL,
    embedder_status,
    kind_of,
    roll_back_to_baseline,
)
from wildloop.individuals.projection import reid_space
from wildloop.individuals.suggest_job import rescore_pending
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import submit_job
from wildloop.project import Project
from wildloop.registry.versions import get_version
from wildloop.store.tables import Job
from wildloop.users.roles import Actor, require_admin

KIND_NAME = "reid-embedder-switch"
DEFAULT_MIN_SIMILARITY = 0.8


def submit_promotion(
    project: Project,
    actor: Actor,
    model: str | int,
    *,
    force: bool = False,
    reason: str | None = None,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> int:
    """Queue: gate ``model`` against what serves; if it is promoted, refresh vectors and
    suggestions. Admins only; an override needs a reason."""
    require_admin(actor, "change the re-ID embedder")
    check_override(force, reason)
    with project.db.session() as session:
        version = get_version(session, model)
        if version.task != REID_EMBEDDER:
            raise BadInput(f"model {version.name!r} is not a re-ID embedder")
        params = {
            "action": "promote",
            "model_version_id": version.id,
            "force": force,
            "reason": reason,
            "min_similarity": min_similarity,
        }
        return submit_job(session, KIND_NAME, params, [{}], total=1, created_by=actor.id)


def roll_back(
    project: Project,
    actor: Actor,
    expected: int | None = None,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> dict[str, Any]:
    """The baseline serves again from now (audited), and a job refreshes what is stored."""
    with project.db.session() as session:
        previous = roll_back_to_baseline(session, actor, expected)
    if previous is None:
        raise BadInput("the baseline already serves: there is nothing to roll back")
    return {"previous": previous, "job_id": submit_refresh(project, actor.id, min_similarity)}


def submit_refresh(
    project: Project, created_by: int | None, min_similarity: float = DEFAULT_MIN_SIMILARITY
) -> int:
    with project.db.session() as session:
        params = {"action": "refresh", "min_similarity": min_similarity}
        return submit_job(session, KIND_NAME, params, [{}], total=1, created_by=created_by)


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project, params = ctx.project, ctx.params
    with project.db.session() as session:
        actor_id = int(session.get_one(Job, ctx.job_id).created_by or 0)
    if params["action"] == "promote":
        with project.db.session() as session:
            challenger = get_version(session, int(params["model_version_id"]))
            own_key = str(challenger.params["embedder"]) if kind_of(challenger) == MODEL else None
        if own_key is not None:  # a user's model compares in vectors of its own
            media = missing_media(project, own_key)
            ctx.message(f"embedding {len(media)} photos with {challenger.name} ({own_key})")
            embed_media(project, [own_key], media, ctx.message)
        ctx.message("comparing with the serving re-ID embedder on the test individuals")
        outcome = promote_embedder(
            project,
            int(params["model_version_id"]),
            force=bool(params["force"]),
            reason=params.get("reason"),
            actor_id=actor_id or None,
        )
        if not outcome["promoted"]:
            ctx.message("not promoted: " + "; ".join(outcome["decision"]["reasons"]))
            return ChunkOutcome(done=1)
    refresh(ctx, actor_id, float(params["min_similarity"]))
    return ChunkOutcome(done=1)


def refresh(ctx: ChunkContext, actor_id: int, min_similarity: float) -> None:
    """Vectors of the serving embedder for every current human box, then the pending
    suggestions re-scored in its space."""
    project = ctx.project
    with project.db.session() as session:
        key, _ = reid_space(session, project)
    media = missing_media(project, key)
    ctx.message(f"embedding {len(media)} photos with {key}")
    done, failed = embed_media(project, [key], media, ctx.message)
    counts = rescore_pending(project, actor_id, min_similarity)
    ctx.message(
        f"{done} photos embedded ({failed} unreadable); suggestions: {counts['rescored']} "
        f"kept, {counts['changed']} changed, {counts['withdrawn']} withdrawn"
    )


def _finalize(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        params = session.get_one(Job, job_id).params
        status = embedder_status(session, project)
    result: dict[str, Any] = {"action": params["action"], "serving": status["serving"]}
    if params["action"] == "promote":
        wanted = int(params["model_version_id"])
        result["promoted"] = status["serving"]["model_version_id"] == wanted
        result["gate"] = next(
            (c["gate"] for c in status["candidates"] if c["model_version_id"] == wanted), None
        )
    return result


SWITCH_KIND = JobKind(name=KIND_NAME, run_chunk=_run_chunk, finalize=_finalize)
