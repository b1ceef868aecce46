"""Putting ingested frames into sequences and giving each new sequence its frozen split.

Time-gap grouping runs per camera over frames that have no sequence yet, in time order, with
the camera's existing sequences loaded so late frames extend a burst instead of starting a
new one. A sequence's split is set when it is created, from the key of its group (the
sequence, its camera or its camera's location, per ``splits.group_by``), and never changed
afterwards except by an explicit regroup (``media.regroup``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from wildloop.domain.sequences import SequenceSpan, group_frames
from wildloop.domain.splits import GroupBy, SplitRatios, assign_split, group_key
from wildloop.project import Project
from wildloop.store.bulk import insert_or_skip, lock_row
from wildloop.store.tables import Camera, Media, MediaSequence

UPDATE_BATCH = 5000


class SequenceCache:
    """Sequences by explicit key (an imported seq_id), created on first sight."""

    def __init__(self, ratios: SplitRatios, salt: str, group_by: GroupBy) -> None:
        self._ratios, self._salt, self._group_by = ratios, salt, group_by
        self._by_key: dict[str, MediaSequence] = {}

    def get(self, session: Session, key: str, camera_id: int | None) -> MediaSequence:
        sequence = self._by_key.get(key)
        if sequence is None:
            sequence = session.scalar(select(MediaSequence).where(MediaSequence.key == key))
            if sequence is None:
                group = sequence_group(session, self._group_by, key, camera_id)
                split = assign_split(group, self._ratios, self._salt)
                # Another import may create the same sequence at this instant: take theirs.
                session.execute(
                    insert_or_skip(session, MediaSequence, ["key"]).values(
                        key=key, camera_id=camera_id, split=str(split)
                    )
                )
                sequence = session.scalars(
                    select(MediaSequence).where(MediaSequence.key == key)
                ).one()
            session.expunge(sequence)
            self._by_key[key] = sequence
        return sequence


def sequence_group(session: Session, by: GroupBy, key: str, camera_id: int | None) -> str:
    """The group key a new sequence of ``camera_id`` takes its split from."""
    if by is GroupBy.SEQUENCE or camera_id is None:
        return key
    camera = session.execute(
        select(Camera.name, Camera.location).where(Camera.id == camera_id)
    ).one()
    return group_key(by, key, camera.name, camera.location)


def assign_sequences(project: Project, camera_ids: Iterable[int]) -> int:
    """Group unsequenced good frames of these cameras; return how many sequences were made."""
    settings = project.config
    created = 0
    for camera_id in sorted(camera_ids):
        with project.db.session() as session:
            created += _assign_camera(
                session,
                camera_id,
                settings.ingest.sequence_gap_seconds,
                settings.splits.ratios(),
                settings.splits.salt,
                settings.splits.group_by,
            )
    return created


def _assign_camera(
    session: Session,
    camera_id: int,
    gap: float,
    ratios: SplitRatios,
    salt: str,
    by: GroupBy,
) -> int:
    # Two ingests of one camera at once would group the same frames into sequences of the
    # same key: the second waits here, then finds them grouped.
    lock_row(session, Camera, camera_id)
    camera = session.execute(
        select(Camera.name, Camera.location).where(Camera.id == camera_id)
    ).one_or_none()
    camera_name, location = (camera.name, camera.location) if camera else ("?", None)
    stored = session.execute(
        select(
            MediaSequence.id,
            MediaSequence.key,
            MediaSequence.split,
            MediaSequence.started_at,
            MediaSequence.ended_at,
        )
        .where(MediaSequence.camera_id == camera_id, MediaSequence.started_at.is_not(None))
        .order_by(MediaSequence.started_at)
    ).all()
    split_of = {row.id: row.split for row in stored}
    existing = [
        SequenceSpan(ref=r.id, start=r.started_at, end=r.ended_at, key=r.key) for r in stored
    ]
    before = {span.ref: (span.start, span.end) for span in existing}
    frames = session.execute(
        select(Media.id, Media.captured_at)
        .where(
            Media.camera_id == camera_id,
            Media.status == "ok",
            Media.sequence_id.is_(None),
            Media.captured_at.is_not(None),
        )
        .order_by(Media.captured_at, Media.id)
    ).all()
    assignments = list(
        group_frames(camera_name, ((m, t) for m, t in frames if t is not None), existing, gap)
    )
    if not assignments:
        return 0

    new_spans = [span for span in existing if span.ref is None]
    for span in new_spans:
        group = group_key(by, span.key, camera_name, location)
        split = str(assign_split(group, ratios, salt))
        span.ref = session.execute(
            insert(MediaSequence)
            .values(
                key=span.key,
                camera_id=camera_id,
                started_at=span.start,
                ended_at=span.end,
                split=split,
            )
            .returning(MediaSequence.id)
        ).scalar_one()
        split_of[span.ref] = split
    for span in existing:
        if span.ref in before and before[span.ref] != (span.start, span.end):
            session.execute(
                update(MediaSequence)
                .where(MediaSequence.id == span.ref)
                .values(started_at=span.start, ended_at=span.end)
            )
    rows = [
        {"id": a.media_id, "sequence_id": a.span.ref, "split": split_of[a.span.ref]}
        for a in assignments
        if a.span.ref is not None
    ]
    for start in range(0, len(rows), UPDATE_BATCH):
        session.execute(update(Media), rows[start : start + UPDATE_BATCH])
    return len(new_spans)
