"""Individuals and their sightings: create, edit, assign, unassign, merge, split.

Every change is audited in its own transaction and needs the reviewer or admin role, as
labels do. Edits pass the version they started from; a conditional UPDATE on
``individuals.version`` lets exactly one of two concurrent edits win (the other gets a
Conflict), the same check labels make on ``media.label_revision``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.domain.classes import ClassMap
from wildloop.errors import BadInput, Conflict, NotFound
from wildloop.store.tables import Camera, Individual, LabelBox, LabelRevision, Media, Sighting
from wildloop.users.roles import Actor, require_writer

SOURCES = ("person", "suggestion")
MAX_NAME = 120


def _class_id(classes: ClassMap, name: str) -> int:
    if name not in classes:
        raise BadInput(f"unknown class {name!r}; project classes: {', '.join(classes.names)}")
    return classes.id_of(name)


def _individual(session: Session, individual_id: int) -> Individual:
    row = session.get(Individual, individual_id)
    if row is None:
        raise NotFound(f"individual {individual_id} does not exist")
    return row


def _live(session: Session, individual_id: int) -> Individual:
    row = _individual(session, individual_id)
    if row.merged_into_id is not None:
        raise BadInput(
            f"individual {individual_id} was merged into {row.merged_into_id}; use that one"
        )
    return row


def _bump(session: Session, individual_id: int, expected: int | None) -> int:
    """Bump the individual's version, refusing when it moved past ``expected``."""
    current = _live(session, individual_id).version
    base = current if expected is None else expected
    claimed = session.execute(
        update(Individual)
        .where(Individual.id == individual_id, Individual.version == base)
        .values(version=base + 1)
        .returning(Individual.version)
        .execution_options(synchronize_session=False)
    ).all()
    if len(claimed) != 1:
        raise Conflict(
            f"individual {individual_id} changed (now version {current}) after you loaded "
            f"version {base}; reload it and apply your change again"
        )
    session.expire_all()
    return base + 1


def _record(
    session: Session,
    actor: Actor,
    action: str,
    individual_id: int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """The audit entry of one change to an individual (``individual.<action>``)."""
    audit.record(
        session,
        actor_id=actor.id,
        action=f"individual.{action}",
        entity="individual",
        entity_id=individual_id,
        before=before,
        after=after,
    )


def _check_name(session: Session, name: str, other_than: int | None = None) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise BadInput(f"an individual's name needs 1 to {MAX_NAME} characters")
    taken = session.scalar(select(Individual.id).where(Individual.name == name))
    if taken is not None and taken != other_than:
        raise Conflict(f"an individual named {name!r} exists already (id {taken})")
    return name


def describe(row: Individual, classes: ClassMap) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "class": classes.display_name(row.class_id),
        "notes": row.notes,
        "cover_sighting_id": row.cover_sighting_id,
        "version": row.version,
        "merged_into_id": row.merged_into_id,
    }


def create_individual(
    session: Session,
    actor: Actor,
    *,
    name: str,
    class_name: str,
    classes: ClassMap,
    notes: str | None = None,
) -> Individual:
    """A new individual of a project class (the class sightings must share)."""
    require_writer(actor)
    row = Individual(
        name=_check_name(session, name),
        class_id=_class_id(classes, class_name),
        notes=notes,
        version=1,
        created_by=actor.id,
    )
    session.add(row)
    session.flush()
    _record(session, actor, "create", row.id, after=describe(row, classes))
    return row


def edit_individual(
    session: Session,
    actor: Actor,
    individual_id: int,
    *,
    classes: ClassMap,
    expected_version: int | None,
    name: str | None = None,
    notes: str | None = None,
    cover_sighting_id: int | None = None,
) -> Individual:
    """Rename, annotate or pick the cover of an individual (fields left None stay)."""
    require_writer(actor)
    before = describe(_live(session, individual_id), classes)
    if name is not None:
        name = _check_name(session, name, other_than=individual_id)
    if cover_sighting_id is not None:
        owner = session.scalar(
            select(Sighting.individual_id).where(Sighting.id == cover_sighting_id)
        )
        if owner != individual_id:
            raise BadInput(
                f"sighting {cover_sighting_id} is not one of individual {individual_id}'s"
            )
    _bump(session, individual_id, expected_version)
    row = _individual(session, individual_id)
    if name is not None:
        row.name = name
    if notes is not None:
        row.notes = notes
    if cover_sighting_id is not None:
        row.cover_sighting_id = cover_sighting_id
    session.flush()
    _record(session, actor, "edit", individual_id, before=before, after=describe(row, classes))
    return row


def _current_box(session: Session, label_box_id: int) -> tuple[LabelBox, int]:
    """The box and its media id, refusing boxes of an older label revision, boxes with no
    geometry and false-positive records: only what a person says is an animal now."""
    found = session.execute(
        select(LabelBox, LabelRevision.media_id, LabelRevision.revision, Media.label_revision)
        .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
        .join(Media, Media.id == LabelRevision.media_id)
        .where(LabelBox.id == label_box_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"label box {label_box_id} does not exist")
    box, media_id, revision, current = found
    if revision != current:
        raise BadInput(
            f"label box {label_box_id} belongs to revision {revision} of media {media_id}, "
            f"which is now at revision {current}; use a box of the current labels"
        )
    if box.false_positive or box.class_id is None or box.x is None:
        raise BadInput(f"label box {label_box_id} is not an animal box")
    return box, int(media_id)


def assign(
    session: Session,
    actor: Actor,
    individual_id: int,
    label_box_id: int,
    *,
    classes: ClassMap,
    source: str = "person",
    score: float | None = None,
    expected_version: int | None = None,
) -> Sighting:
    """Make the box a sighting of the individual. A box of another class is refused (a
    doe's box never joins a buck); a box already in another individual is a Conflict
    (unassign it first); a person assigning a suggested sighting confirms it."""
    require_writer(actor)
    if source not in SOURCES:
        raise BadInput(f"unknown sighting source {source!r}; use one of {', '.join(SOURCES)}")
    individual = _live(session, individual_id)
    box, media_id = _current_box(session, label_box_id)
    if box.class_id != individual.class_id:
        raise BadInput(
            f"label box {label_box_id} is a {classes.display_name(box.class_id)}, "
            f"individual {individual.name} a {classes.display_name(individual.class_id)}: "
            "a box joins only an individual of its class"
        )
    existing = session.scalar(select(Sighting).where(Sighting.label_box_id == label_box_id))
    if existing is not None and existing.individual_id != individual_id:
        raise Conflict(
            f"label box {label_box_id} is a sighting of individual {existing.individual_id}; "
            "unassign it there first"
        )
    if existing is not None and (existing.source == source or source == "suggestion"):
        return existing
    _bump(session, individual_id, expected_version)
    before = _sighting_view(existing) if existing else None
    if existing is None:
        existing = Sighting(
            individual_id=individual_id,
            label_box_id=label_box_id,
            media_id=media_id,
            class_id=box.class_id,
            source=source,
            score=score,
            created_by=actor.id,
        )
        session.add(existing)
    else:
        existing.source = source
    session.flush()
    _record(
        session,
        actor,
        "confirm" if before else "assign",
        individual_id,
        before=before,
        after=_sighting_view(existing),
    )
    return existing


def unassign(
    session: Session, actor: Actor, sighting_id: int, *, expected_version: int | None = None
) -> None:
    """Take a box out of its individual (a wrong suggestion or a mistaken assignment)."""
    require_writer(actor)
    row = session.get(Sighting, sighting_id)
    if row is None:
        raise NotFound(f"sighting {sighting_id} does not exist")
    individual_id = row.individual_id
    before = _sighting_view(row)
    _bump(session, individual_id, expected_version)
    session.delete(session.get_one(Sighting, sighting_id))
    session.execute(
        update(Individual)
        .where(Individual.id == individual_id, Individual.cover_sighting_id == sighting_id)
        .values(cover_sighting_id=None)
    )
    _record(session, actor, "unassign", individual_id, before=before)


def move(
    session: Session,
    actor: Actor,
    sighting_id: int,
    to_individual_id: int,
    *,
    expected_version: int | None = None,
) -> Sighting:
    """Move a sighting to another individual of its class (the photo shows another animal);
    ``expected_version`` is the version of the individual it leaves. The moved sighting
    counts as a person's: a reviewer chose where it belongs."""
    require_writer(actor)
    row = session.get(Sighting, sighting_id)
    if row is None:
        raise NotFound(f"sighting {sighting_id} does not exist")
    from_id, before = row.individual_id, _sighting_view(row)
    target = _live(session, to_individual_id)
    if to_individual_id == from_id:
        raise BadInput(f"sighting {sighting_id} is individual {from_id}'s already")
    if target.class_id != row.class_id:
        raise BadInput(
            f"sighting {sighting_id} is of another class than {target.name}: a box joins "
            "only an individual of its class"
        )
    _bump(session, from_id, expected_version)
    _bump(session, to_individual_id, None)
    session.execute(
        update(Sighting)
        .where(Sighting.id == sighting_id)
        .values(individual_id=to_individual_id, source="person")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Individual)
        .where(Individual.id == from_id, Individual.cover_sighting_id == sighting_id)
        .values(cover_sighting_id=None)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    moved = session.get_one(Sighting, sighting_id)
    after = _sighting_view(moved) | {"individual_id": to_individual_id}
    _record(session, actor, "move", from_id, before=before, after=after)
    return moved


def merge(session: Session, actor: Actor, keep_id: int, absorb_id: int) -> int:
    """Move every sighting of ``absorb_id`` into ``keep_id``; the absorbed individual
    stays as a record pointing at the kept one. Returns how many sightings moved."""
    require_writer(actor)
    if keep_id == absorb_id:
        raise BadInput("an individual cannot be merged into itself")
    keep, absorb = _live(session, keep_id), _live(session, absorb_id)
    if keep.class_id != absorb.class_id:
        raise BadInput(
            f"{keep.name} and {absorb.name} are of different classes and cannot be merged"
        )
    moved = list(session.scalars(select(Sighting.id).where(Sighting.individual_id == absorb_id)))
    _bump(session, keep_id, None)
    _bump(session, absorb_id, None)
    session.execute(
        update(Sighting)
        .where(Sighting.individual_id == absorb_id)
        .values(individual_id=keep_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Individual)
        .where(Individual.id == absorb_id)
        .values(merged_into_id=keep_id, cover_sighting_id=None)
        .execution_options(synchronize_session=False)
    )
    _record(
        session,
        actor,
        "merge",
        keep_id,
        before={"absorbed": absorb_id, "sightings": moved},
        after={"sightings_moved": len(moved)},
    )
    return len(moved)


def split(
    session: Session,
    actor: Actor,
    individual_id: int,
    sighting_ids: list[int],
    *,
    name: str,
    classes: ClassMap,
) -> Individual:
    """Move some sightings of an individual into a new individual of the same class (two
    animals found in one profile); the undo of a merge is a split back."""
    require_writer(actor)
    source = _live(session, individual_id)
    wanted = sorted(set(sighting_ids))
    if not wanted:
        raise BadInput("name at least one sighting to split off")
    owned = set(
        session.scalars(
            select(Sighting.id).where(
                Sighting.id.in_(wanted), Sighting.individual_id == individual_id
            )
        )
    )
    if missing := [i for i in wanted if i not in owned]:
        raise BadInput(
            f"sightings {', '.join(map(str, missing))} are not individual {individual_id}'s"
        )
    _bump(session, individual_id, None)
    row = Individual(
        name=_check_name(session, name),
        class_id=source.class_id,
        version=1,
        created_by=actor.id,
    )
    session.add(row)
    session.flush()
    session.execute(
        update(Sighting)
        .where(Sighting.id.in_(wanted))
        .values(individual_id=row.id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Individual)
        .where(Individual.id == individual_id, Individual.cover_sighting_id.in_(wanted))
        .values(cover_sighting_id=None)
        .execution_options(synchronize_session=False)
    )
    _record(
        session,
        actor,
        "split",
        individual_id,
        before={"sightings": wanted},
        after=describe(row, classes) | {"sightings": wanted},
    )
    return row


def _sighting_view(row: Sighting) -> dict[str, Any]:
    return {
        "sighting_id": row.id,
        "label_box_id": row.label_box_id,
        "media_id": row.media_id,
        "class_id": row.class_id,
        "source": row.source,
        "score": row.score,
    }


def list_individuals(session: Session, classes: ClassMap) -> list[dict[str, Any]]:
    """Every live individual with its sighting count and first and last seen."""
    counts = (
        select(
            Sighting.individual_id,
            func.count(Sighting.id).label("sightings"),
            func.min(Media.captured_at).label("first_seen"),
            func.max(Media.captured_at).label("last_seen"),
        )
        .join(Media, Media.id == Sighting.media_id)
        .group_by(Sighting.individual_id)
        .subquery()
    )
    rows = session.execute(
        select(Individual, counts.c.sightings, counts.c.first_seen, counts.c.last_seen)
        .outerjoin(counts, counts.c.individual_id == Individual.id)
        .where(Individual.merged_into_id.is_(None))
        .order_by(Individual.id)
    ).all()
    return [
        describe(row, classes)
        | {
            "sightings": int(n or 0),
            "first_seen": first.isoformat() if first else None,
            "last_seen": last.isoformat() if last else None,
        }
        for row, n, first, last in rows
    ]


def individual_detail(session: Session, individual_id: int, classes: ClassMap) -> dict[str, Any]:
    """An individual and its sightings (media, camera, time), oldest first, with the
    cameras it was seen at and when it was first and last seen."""
    row = _individual(session, individual_id)
    sightings = session.execute(
        select(Sighting, Media.captured_at, Camera.name, Media.sha256)
        .join(Media, Media.id == Sighting.media_id)
        .outerjoin(Camera, Camera.id == Media.camera_id)
        .where(Sighting.individual_id == individual_id)
        .order_by(Media.captured_at, Sighting.id)
    ).all()
    times = [at for _, at, _, _ in sightings if at is not None]
    return describe(row, classes) | {
        "first_seen": min(times).isoformat() if times else None,
        "last_seen": max(times).isoformat() if times else None,
        "cameras": sorted({camera for _, _, camera, _ in sightings if camera}),
        "sightings": [
            _sighting_view(s)
            | {
                "captured_at": at.isoformat() if at else None,
                "camera": camera,
                "class": classes.display_name(s.class_id),
                "sha256": sha,
            }
            for s, at, camera, sha in sightings
        ],
    }
