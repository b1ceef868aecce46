"""Shadow runs: which new items the challenger predicts beside the champion, and the share.

A shadow run stores the challenger's answers as its own prediction sets (one per item and
version, as every run does); the review screen, the grid, exports and analytics read the
champion's sets only, so a shadow answer is never shown as the model's. The ``shadow`` job
that makes them is a background kind (claimed only when nothing else waits, lowest broker
priority): see ``predict_job.submit_shadow``. The choice of items is
``domain.shadow.shadowed``: a stable share by content hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.audio import head_job
from wildloop.domain.model_kinds import CLASSIFIER
from wildloop.domain.shadow import shadowed
from wildloop.errors import BadInput
from wildloop.jobs.records import active_job_id, submit_job
from wildloop.project import Project
from wildloop.registry.aliases import resolve
from wildloop.store.tables import Media, ModelVersion

SHADOW_KIND_NAME = "shadow"
AGREEMENT_KIND_NAME = "shadow-agreement"
RECENT_DEFAULT = 500


def shadow_pair(session: Session) -> tuple[int, ModelVersion] | None:
    """(champion id, challenger) when a challenger can shadow the champion: both set,
    different, and the challenger names boxes on images itself (not an audio head, not a bare
    crop classifier); else None. Resolved at each submission, so a moved alias shadows from
    then on."""
    champion = resolve(session, "champion")
    challenger = resolve(session, "challenger")
    if champion is None or challenger is None or champion == challenger:
        return None
    version = session.get(ModelVersion, challenger)
    if version is None or version.retired or version.task in (head_job.TASK, CLASSIFIER):
        return None
    return champion, version


def select_shadowed(session: Session, media_ids: Sequence[int], share: float) -> list[int]:
    """The ids among ``media_ids`` (good images) a shadow run of ``share`` covers, sorted."""
    if share <= 0 or not media_ids:
        return []
    chosen: list[int] = []
    ids = sorted(set(media_ids))
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Media.id, Media.sha256).where(
                Media.id.in_(ids[start : start + 500]),
                Media.kind == "image",
                Media.status == "ok",
            )
        ).all()
        chosen += [int(r.id) for r in rows if shadowed(str(r.sha256), share)]
    return sorted(chosen)


def recent_media(session: Session, limit: int = RECENT_DEFAULT) -> list[int]:
    """The ``limit`` most recently ingested good images (by id), for an on-demand run."""
    return sorted(
        session.scalars(
            select(Media.id)
            .where(Media.kind == "image", Media.status == "ok")
            .order_by(Media.id.desc())
            .limit(limit)
        )
    )


def request_agreement(session: Session) -> int | None:
    """The queued or running agreement job (``evaluation.shadow`` runs it), or a new one for
    the current pair; None when no challenger shadows the champion."""
    active = active_job_id(session, AGREEMENT_KIND_NAME)
    if active is not None:
        return active
    pair = shadow_pair(session)
    if pair is None:
        return None
    champion, challenger = pair[0], pair[1].id
    return submit_job(
        session,
        AGREEMENT_KIND_NAME,
        {"champion": champion, "challenger": challenger},
        [{}],
        total=None,
        message=f"queued: shadow agreement of version {challenger} with {champion}",
    )


def set_share(project: Project, share: float, actor_id: int | None = None) -> dict[str, Any]:
    """Change ``[shadow] share`` (validated as the config file is), save it and audit it;
    returns the settings now in effect. Applies to items ingested from now on."""
    settings = project.config.shadow
    before = settings.model_dump()
    try:
        updated = type(settings).model_validate(before | {"share": share})
    except ValidationError:
        raise BadInput(f"share {share!r} must be a number from 0 to 1") from None
    after = updated.model_dump()
    if after != before:
        with project.db.session() as session:
            audit.record(
                session,
                actor_id=actor_id,
                action="shadow.set",
                entity="project",
                entity_id=project.config.name,
                before=before,
                after=after,
            )
        project.config.shadow = updated
        project.save_config()
    return after
