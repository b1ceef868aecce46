"""JSON API for individuals: profiles, sightings, merges, re-ID suggestions, checks.

Thin over ``wildloop.individuals``: the services check roles, classes and versions, so the
API refuses exactly what the CLI refuses. Suggestions only read stored vectors; embedding
the boxes is a job (``POST /individuals/embed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from wildloop.evaluation.reid_switch_job import DEFAULT_MIN_SIMILARITY, roll_back, submit_promotion
from wildloop.individuals import profiles
from wildloop.individuals.bursts import TrackMode, follow_track
from wildloop.individuals.checks import all_checks
from wildloop.individuals.embed_job import submit_label_embedding
from wildloop.individuals.embedders import embedder_status
from wildloop.individuals.projection import reid_space
from wildloop.individuals.reid import MAX_K, BoxIdentity, Candidate, photo_identities, suggest
from wildloop.individuals.suggest_job import submit_suggestions
from wildloop.project import Project
from wildloop.store.tables import Sighting
from wildloop.store.types import MAX_ID, MAX_INTEGER
from wildloop.training.reid_job import MAX_EPOCHS, start_embedder_training
from wildloop.users.roles import Actor, require_admin, require_writer
from wildloop.web.auth import current_actor
from wildloop.web.params import Id

router = APIRouter(tags=["individuals"])
ActorDep = Annotated[Actor, Depends(current_actor)]
IndividualId = Annotated[int, Path(ge=1, le=MAX_ID, description="individual id")]
Version = Annotated[int, Field(ge=1, le=MAX_INTEGER)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class IndividualIn(_In):
    name: str = Field(max_length=profiles.MAX_NAME)
    class_name: str = Field(alias="class", max_length=120)
    notes: str | None = Field(default=None, max_length=4000)


class IndividualPatch(_In):
    version: Version | None = Field(default=None, description="version you edited")
    name: str | None = Field(default=None, max_length=profiles.MAX_NAME)
    notes: str | None = Field(default=None, max_length=4000)
    cover_sighting_id: Id | None = None


class SightingIn(_In):
    label_box_id: Id
    source: Literal["person", "suggestion"] = "person"
    score: float | None = Field(default=None, ge=-1, le=1)
    version: Version | None = None
    track: TrackMode = Field(
        default="none",
        description="the rest of the box's burst track: suggest it, assign it, or leave it",
    )


class SplitIn(_In):
    name: str = Field(max_length=profiles.MAX_NAME, description="the new individual's name")
    sighting_ids: list[Id] = Field(min_length=1, max_length=2000)


class SuggestAllIn(_In):
    min_similarity: float = Field(default=0.8, ge=-1, le=1)


class MergeIn(_In):
    absorb_id: Id = Field(description="the individual whose sightings move")


T = TypeVar("T")


def project_of(request: Request) -> Project:
    return request.app.state.project  # type: ignore[no-any-return]


def _in_session(request: Request, call: Callable[[Session, Project], T]) -> T:
    """Run one service call in one transaction of the app's project."""
    project = project_of(request)
    with project.db.session() as session:
        return call(session, project)


def _sighting(row: Sighting) -> dict[str, Any]:
    return {"sighting_id": row.id, "individual_id": row.individual_id, "source": row.source}


@router.get("/individuals")
def list_individuals(request: Request, actor: ActorDep) -> list[dict[str, Any]]:
    """Every live individual with its sighting count and first and last seen."""
    return _in_session(request, lambda s, p: profiles.list_individuals(s, p.classes))


@router.post("/individuals", status_code=201)
def create_individual(request: Request, actor: ActorDep, body: IndividualIn) -> dict[str, Any]:
    return _in_session(
        request,
        lambda s, p: profiles.describe(
            profiles.create_individual(
                s,
                actor,
                name=body.name,
                class_name=body.class_name,
                classes=p.classes,
                notes=body.notes,
            ),
            p.classes,
        ),
    )


@router.post("/individuals/embed", status_code=202)
def embed_boxes(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Queue crop vectors for current human boxes that lack them (what suggestions read)."""
    require_writer(actor)
    return {"job_id": submit_label_embedding(project_of(request), created_by=actor.id)}


class EmbedderTrainIn(_In):
    epochs: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)
    dim: int | None = Field(default=None, ge=2, le=4096)


@router.post("/individuals/embedder/train", status_code=202)
def train_embedder(request: Request, actor: ActorDep, body: EmbedderTrainIn) -> dict[str, Any]:
    """Queue the re-ID embedder's fine-tuning on confirmed sightings (registered, gated)."""
    require_admin(actor, "start a training")
    job_id = start_embedder_training(
        project_of(request), epochs=body.epochs, dim=body.dim, created_by=actor.id
    )
    return {"job_id": job_id}


@router.get("/individuals/embedder")
def embedder(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Which re-ID embedder serves suggestions (the baseline crop vectors, a fine-tuned
    projection or a user's own model) and every candidate with its last gate figures."""
    return _in_session(request, lambda s, p: embedder_status(s, p))


class EmbedderPromoteIn(_In):
    model: str = Field(min_length=1, max_length=200, description="version id or name")
    force: bool = Field(default=False, description="promote even if the gate refuses")
    reason: str | None = Field(default=None, max_length=2000, description="why, with force")
    min_similarity: float = Field(
        default=DEFAULT_MIN_SIMILARITY, ge=-1, le=1, description="least re-scored suggestion"
    )


@router.post("/individuals/embedder/promote", status_code=202)
def promote_embedder(request: Request, actor: ActorDep, body: EmbedderPromoteIn) -> dict[str, Any]:
    """Queue the gate for a re-ID embedder; if it is promoted, the job embeds and re-scores
    the stored suggestions with it (admins)."""
    job_id = submit_promotion(
        project_of(request),
        actor,
        body.model,
        force=body.force,
        reason=body.reason,
        min_similarity=body.min_similarity,
    )
    return {"job_id": job_id}


class EmbedderRollbackIn(_In):
    expected: Id | None = Field(
        default=None, description="the version you saw serving (refused if another serves)"
    )
    min_similarity: float = Field(default=DEFAULT_MIN_SIMILARITY, ge=-1, le=1)


@router.post("/individuals/embedder/rollback")
def rollback_embedder(
    request: Request, actor: ActorDep, body: EmbedderRollbackIn
) -> dict[str, Any]:
    """The baseline (plain crop vectors) serves again now; a job re-scores suggestions."""
    return roll_back(project_of(request), actor, body.expected, body.min_similarity)


@router.post("/individuals/suggestions", status_code=202)
def suggest_all(request: Request, actor: ActorDep, body: SuggestAllIn) -> dict[str, Any]:
    """Queue suggested sightings for every unassigned, embedded human box."""
    require_writer(actor)
    job_id = submit_suggestions(project_of(request), body.min_similarity, created_by=actor.id)
    return {"job_id": job_id}


@router.get("/individuals/{individual_id}")
def individual(request: Request, actor: ActorDep, individual_id: IndividualId) -> dict[str, Any]:
    return _in_session(
        request, lambda s, p: profiles.individual_detail(s, individual_id, p.classes)
    )


@router.patch("/individuals/{individual_id}")
def edit_individual(
    request: Request, actor: ActorDep, individual_id: IndividualId, body: IndividualPatch
) -> dict[str, Any]:
    return _in_session(
        request,
        lambda s, p: profiles.describe(
            profiles.edit_individual(
                s,
                actor,
                individual_id,
                classes=p.classes,
                expected_version=body.version,
                name=body.name,
                notes=body.notes,
                cover_sighting_id=body.cover_sighting_id,
            ),
            p.classes,
        ),
    )


@router.post("/individuals/{individual_id}/sightings", status_code=201)
def assign(
    request: Request, actor: ActorDep, individual_id: IndividualId, body: SightingIn
) -> dict[str, Any]:
    """Assign a human box to the individual, or confirm a suggested one."""

    def change(s: Session, p: Project) -> dict[str, Any]:
        row = profiles.assign(
            s,
            actor,
            individual_id,
            body.label_box_id,
            classes=p.classes,
            source=body.source,
            score=body.score,
            expected_version=body.version,
        )
        mode = body.track if body.source == "person" else "none"
        track = follow_track(
            s, actor, individual_id, row.label_box_id, classes=p.classes, mode=mode
        )
        return _sighting(row) | {"track_sightings": track}

    return _in_session(request, change)


@router.post("/individuals/{individual_id}/merge")
def merge(
    request: Request, actor: ActorDep, individual_id: IndividualId, body: MergeIn
) -> dict[str, Any]:
    moved = _in_session(
        request, lambda s, _: profiles.merge(s, actor, individual_id, body.absorb_id)
    )
    return {"kept": individual_id, "absorbed": body.absorb_id, "sightings_moved": moved}


@router.post("/individuals/{individual_id}/split", status_code=201)
def split(
    request: Request, actor: ActorDep, individual_id: IndividualId, body: SplitIn
) -> dict[str, Any]:
    """Move sightings into a new individual of the same class."""
    return _in_session(
        request,
        lambda s, p: profiles.describe(
            profiles.split(
                s, actor, individual_id, body.sighting_ids, name=body.name, classes=p.classes
            ),
            p.classes,
        ),
    )


@router.delete("/sightings/{sighting_id}")
def unassign(
    request: Request,
    actor: ActorDep,
    sighting_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    version: Annotated[int | None, Query(ge=1, le=MAX_INTEGER)] = None,
) -> dict[str, Any]:
    _in_session(
        request, lambda s, _: profiles.unassign(s, actor, sighting_id, expected_version=version)
    )
    return {"unassigned": sighting_id}


class MoveIn(_In):
    individual_id: Id = Field(description="the individual the sighting moves to")
    version: Version | None = Field(default=None, description="version of the one it leaves")


@router.post("/sightings/{sighting_id}/move")
def move(
    request: Request,
    actor: ActorDep,
    sighting_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: MoveIn,
) -> dict[str, Any]:
    """Move a sighting to another individual of its class."""
    return _in_session(
        request,
        lambda s, _: _sighting(
            profiles.move(s, actor, sighting_id, body.individual_id, expected_version=body.version)
        ),
    )


@router.get("/label-boxes/{label_box_id}/suggestions")
def suggestions(
    request: Request,
    actor: ActorDep,
    label_box_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 5,
) -> list[dict[str, Any]]:
    """The individuals of the box's class whose sightings look most like it, best first."""

    def run(s: Session, p: Project) -> list[Candidate]:
        key, projection = reid_space(s, p)
        return suggest(s, key, label_box_id, k, projection)

    found = _in_session(request, run)
    return [asdict(c) for c in found]


@router.get("/media/{media_id}/identities")
def identities(
    request: Request,
    actor: ActorDep,
    media_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 5,
) -> list[dict[str, Any]]:
    """The photo's current animal boxes: whose sighting each is, and its top-k candidate
    individuals (a stored suggestion first), for the review screen's number keys."""

    def run(s: Session, p: Project) -> list[BoxIdentity]:
        key, projection = reid_space(s, p)
        return photo_identities(s, key, media_id, k, projection)

    found = _in_session(request, run)
    return [
        asdict(b) | {"class": project_of(request).classes.display_name(b.class_id)} for b in found
    ]


@router.get("/checks/individuals")
def checks(request: Request, actor: ActorDep) -> dict[str, list[dict[str, Any]]]:
    """Contradictory classes, impossible travel and split straddles, each with its fix."""
    return _in_session(request, lambda s, p: all_checks(s, p.classes))
