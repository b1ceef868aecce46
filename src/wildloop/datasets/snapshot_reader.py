"""Reading a snapshot back: every item it pins, its labels resolved to training targets,
the content hash checked again, and the counts per split and class."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.datasets.snapshot_model import (
    CHUNK,
    Candidate,
    SnapshotData,
    SnapshotEntry,
    SnapshotInfo,
    Target,
    chunks,
    snapshot_hash,
)
from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassDef, ClassMap
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.paths import map_root, path_from_text
from wildloop.errors import IntegrityError, NotFound
from wildloop.project import Project
from wildloop.review.hidden_regions import HiddenRegions
from wildloop.review.labels import to_label_set
from wildloop.store.tables import (
    Camera,
    LabelRevision,
    Media,
    MediaSequence,
    Prediction,
    PredictionSet,
    Snapshot,
    SnapshotItem,
    User,
)


def get_snapshot(project: Project, ref: int | str) -> SnapshotInfo:
    """A snapshot by id or name."""
    with project.db.session() as session:
        row = (
            session.get(Snapshot, ref)
            if isinstance(ref, int)
            else session.scalar(select(Snapshot).where(Snapshot.name == ref))
        )
        if row is None and isinstance(ref, str) and ref.isdigit():
            row = session.get(Snapshot, int(ref))
        if row is None:
            raise NotFound(f"no snapshot {ref!r}; list them with `wildloop snapshot list`")
        return SnapshotInfo.of(row)


def load_snapshot(project: Project, ref: int | str, *, verify: bool = True) -> SnapshotData:
    """Everything a snapshot pins, with training targets resolved; with ``verify`` the
    content hash is recomputed and a mismatch raises IntegrityError."""
    info = get_snapshot(project, ref)
    with project.db.session() as session:
        data = load_entries(session, info, verify=verify)
    roots = project.config.storage.media_roots  # a train worker on another machine
    if not roots:
        return data
    return replace(
        data, entries=tuple(replace(e, path=map_root(e.path, roots)) for e in data.entries)
    )


def load_entries(session: Session, info: SnapshotInfo, *, verify: bool) -> SnapshotData:
    classes = ClassMap(ClassDef(c["id"], c["name"]) for c in info.params["classes"])
    pseudo = info.params.get("pseudo_labels", {})
    items = session.execute(
        select(
            SnapshotItem,
            Media.path,
            Media.sha256,
            Media.width,
            Media.height,
            Media.captured_at,
            Media.frame_num,
            Media.camera_id,
            Camera.name.label("camera"),
            MediaSequence.key.label("sequence_key"),
        )
        .join(Media, Media.id == SnapshotItem.media_id)
        .outerjoin(Camera, Camera.id == Media.camera_id)
        .outerjoin(MediaSequence, MediaSequence.id == Media.sequence_id)
        .where(SnapshotItem.snapshot_id == info.id)
        .order_by(SnapshotItem.media_id)
    ).all()
    revisions = _revisions(session, [r[0].label_revision_id for r in items])
    set_ids = [
        int(r[0].prediction_set_id)
        for r in items
        if r[0].label_revision_id is None and r[0].prediction_set_id is not None
    ]
    predicted = (
        pseudo_boxes(
            session,
            set_ids,
            float(pseudo["threshold"]),
            classes,
            HiddenRegions.from_params(pseudo.get("hidden_regions", [])),
        )
        if set_ids
        else {}
    )
    entries = []
    for row in items:
        item: SnapshotItem = row[0]
        if item.label_revision_id is not None:
            labels, author, at, label_hash = revisions[item.label_revision_id]
        else:
            labels = pseudo_label_set(predicted.get(item.prediction_set_id or -1, []))
            author, at, label_hash = None, None, labels.content_hash()
        if verify and label_hash != item.content_hash:
            raise IntegrityError(
                f"snapshot {info.name}: labels of media {item.media_id} no longer match the "
                "hash recorded in the snapshot"
            )
        entries.append(
            SnapshotEntry(
                media_id=item.media_id,
                path=path_from_text(row.path),
                sha256=row.sha256 or "",
                width=row.width or 0,
                height=row.height or 0,
                split=item.split,
                camera=row.camera,
                camera_id=row.camera_id,
                sequence_key=row.sequence_key,
                frame_num=row.frame_num,
                captured_at=row.captured_at,
                label_revision_id=item.label_revision_id,
                prediction_set_id=item.prediction_set_id,
                content_hash=item.content_hash,
                empty=labels.empty,
                # Image boxes only: an audio window's labels are spans, read per window.
                targets=tuple(
                    Target(int(b.class_id or 0), b.box)
                    for b in labels.boxes
                    if b.trainable and b.box is not None
                ),
                excluded_boxes=sum(1 for b in labels.boxes if not b.trainable),
                labelled_by=author,
                labelled_at=at,
            )
        )
    data = SnapshotData(info, classes, tuple(entries))
    if verify:
        candidates = [
            Candidate(
                e.media_id,
                e.sha256,
                e.split,
                e.label_revision_id,
                e.prediction_set_id,
                e.content_hash,
            )
            for e in entries
        ]
        if snapshot_hash(info.purpose, info.params, candidates) != info.content_hash:
            raise IntegrityError(f"snapshot {info.name} no longer matches its content hash")
    return data


def _revisions(
    session: Session, revision_ids: Iterable[int | None]
) -> dict[int, tuple[LabelSet, str, datetime, str]]:
    """Label sets of these revisions, with author name, time and stored hash."""
    ids = sorted({r for r in revision_ids if r is not None})
    out: dict[int, tuple[LabelSet, str, datetime, str]] = {}
    for chunk in chunks(ids, CHUNK):
        rows = session.execute(
            select(LabelRevision, User.username)
            .join(User, User.id == LabelRevision.author_id)
            .where(LabelRevision.id.in_(chunk))
        ).all()
        for revision, username in rows:
            out[revision.id] = (
                to_label_set(revision),
                username,
                revision.created_at,
                revision.content_hash,
            )
    return out


def snapshot_counts(data: SnapshotData) -> dict[str, Any]:
    """Items, boxes and negatives per split; boxes and images per class per split."""
    splits: dict[str, Counter[str]] = defaultdict(Counter)
    boxes: dict[str, Counter[str]] = {c.name: Counter() for c in data.classes}
    images: dict[str, Counter[str]] = {c.name: Counter() for c in data.classes}
    for e in data.entries:
        s = splits[e.split]
        s["items"] += 1
        s["boxes"] += len(e.targets)
        s["negatives"] += 0 if e.targets else 1
        s["pseudo"] += 1 if e.pseudo else 0
        s["excluded_boxes"] += e.excluded_boxes
        seen = set()
        for t in e.targets:
            name = data.classes.name_of(t.class_id)
            boxes[name][e.split] += 1
            seen.add(name)
        for name in seen:
            images[name][e.split] += 1
    return {
        "items": len(data.entries),
        "sequences": len({e.group for e in data.entries}),
        "splits": {k: dict(v) for k, v in sorted(splits.items())},
        "boxes_per_class": {k: dict(v) for k, v in boxes.items()},
        "images_per_class": {k: dict(v) for k, v in images.items()},
    }


def pseudo_boxes(
    session: Session,
    set_ids: list[int],
    threshold: float,
    classes: ClassMap,
    hidden: HiddenRegions | None = None,
) -> dict[int, list[Target]]:
    """The boxes of these prediction sets that become pseudo-labels: a project class, the
    threshold, and outside the false-positive regions ``hidden`` (the snapshot's own)."""
    known = {c.id for c in classes}
    out: dict[int, list[Target]] = defaultdict(list)
    for chunk in chunks(set_ids, CHUNK):
        query = select(Prediction).where(
            Prediction.prediction_set_id.in_(chunk),
            Prediction.score >= threshold,
            Prediction.class_id.is_not(None),
        )
        if hidden is not None:
            query = (
                query.join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
                .join(Media, Media.id == PredictionSet.media_id)
                .where(hidden.shows(Prediction, Media.camera_id))
            )
        for p in session.execute(query.order_by(Prediction.id)).scalars():
            if p.class_id in known and None not in (p.x, p.y, p.w, p.h):
                box = Box.clipped(p.x or 0, p.y or 0, p.w or 0, p.h or 0)
                out[p.prediction_set_id].append(Target(int(p.class_id or 0), box))
    return out


def pseudo_label_set(targets: list[Target]) -> LabelSet:
    return LabelSet(boxes=tuple(LabelBoxValue(box=t.box, class_id=t.class_id) for t in targets))
