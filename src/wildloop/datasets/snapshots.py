"""Immutable dataset snapshots: exactly which media and which label revisions form a dataset.

A training snapshot holds the reviewed items of the frozen train and val splits (every box
of every class, corrections included, reviewed empty frames as negatives) and, only when
asked for, pseudo-labelled items marked as such. A test snapshot holds the reviewed items of
the test split; it is what every model is evaluated on and it is never exported for training.

Label revisions are never updated or deleted, so a snapshot item that names a revision id
and its content hash pins those labels for good. The snapshot's own hash covers every media
hash, split, revision and label hash, and is checked again whenever a snapshot is loaded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from wildloop.datasets.snapshot_model import (
    CHUNK,
    SPLITS_OF,
    Candidate,
    PseudoLabels,
    Purpose,
    SnapshotData,
    SnapshotEntry,
    SnapshotInfo,
    Target,
    chunks,
    snapshot_hash,
)
from wildloop.datasets.snapshot_reader import (
    get_snapshot,
    load_entries,
    load_snapshot,
    pseudo_boxes,
    pseudo_label_set,
    snapshot_counts,
)
from wildloop.domain.classes import ClassMap
from wildloop.errors import BadInput, IntegrityError
from wildloop.project import Project
from wildloop.review.hidden_regions import HiddenRegions, hidden_regions
from wildloop.store.tables import (
    LabelRevision,
    Media,
    MediaSequence,
    PredictionSet,
    Snapshot,
    SnapshotItem,
)

__all__ = [
    "PseudoLabels",
    "Purpose",
    "SnapshotData",
    "SnapshotEntry",
    "SnapshotInfo",
    "Target",
    "create_snapshot",
    "get_snapshot",
    "latest_snapshot",
    "list_snapshots",
    "load_snapshot",
    "snapshot_counts",
    "snapshot_hash",
]


# --- creating ----------------------------------------------------------------------------


def create_snapshot(
    project: Project,
    purpose: Purpose,
    *,
    name: str | None = None,
    pseudo_labels: PseudoLabels | None = None,
    created_by: int | None = None,
    reuse_identical: bool = True,
) -> tuple[SnapshotInfo, bool]:
    """Freeze the current reviewed items of ``purpose``'s splits; return it and whether it is
    new. With ``reuse_identical`` a snapshot equal to the latest one of the same purpose is
    returned instead of a copy (the test set stays the same object until labels change)."""
    if purpose not in SPLITS_OF:
        raise BadInput(f"snapshot purpose must be training or test, not {purpose!r}")
    if pseudo_labels is not None and purpose == "test":
        raise BadInput("a test snapshot holds human labels only; pseudo-labels are for training")
    classes = project.classes
    params: dict[str, Any] = {
        "classes": [{"id": c.id, "name": c.name} for c in classes],
        "splits": list(SPLITS_OF[purpose]),
        "pseudo_labels": (
            {
                "enabled": True,
                "model_version_id": pseudo_labels.model_version_id,
                "threshold": pseudo_labels.threshold,
            }
            if pseudo_labels
            else {"enabled": False}
        ),
    }
    with project.db.session() as session:
        candidates, skipped = _reviewed_items(session, SPLITS_OF[purpose])
        if pseudo_labels is not None:
            # The regions in force are part of what the snapshot pins: its pseudo-labels
            # leave out the boxes they hide, now and when the snapshot is read again.
            hidden = hidden_regions(session)
            if hidden is not None:
                params["pseudo_labels"]["hidden_regions"] = hidden.as_params()
            candidates += _pseudo_items(session, pseudo_labels, classes, hidden)
        content_hash = snapshot_hash(purpose, params, candidates)
        if reuse_identical:
            latest = session.scalar(
                select(Snapshot)
                .where(Snapshot.purpose == purpose)
                .order_by(Snapshot.id.desc())
                .limit(1)
            )
            if latest is not None and latest.content_hash == content_hash:
                return SnapshotInfo.of(latest), False
        row = Snapshot(
            name=name or _next_name(session, purpose),
            purpose=purpose,
            content_hash=content_hash,
            counts={},
            params=params,
            created_by=created_by,
        )
        if session.scalar(select(func.count()).where(Snapshot.name == row.name)):
            raise BadInput(f"a snapshot named {row.name!r} already exists; choose another name")
        session.add(row)
        session.flush()
        for chunk in chunks(candidates, CHUNK):
            session.execute(
                insert(SnapshotItem),
                [
                    {
                        "snapshot_id": row.id,
                        "media_id": c.media_id,
                        "split": c.split,
                        "label_revision_id": c.label_revision_id,
                        "prediction_set_id": c.prediction_set_id,
                        "content_hash": c.content_hash,
                    }
                    for c in chunk
                ],
            )
        data = load_entries(session, SnapshotInfo.of(row), verify=False)
        # Counts derive from the frozen items and are written once, in the same transaction.
        row.counts = snapshot_counts(data) | {
            "skipped_unsplit": skipped,
            "marked": _marked_counts(session, SPLITS_OF[purpose]),
        }
        session.flush()
        return SnapshotInfo.of(row), True


def _reviewed_items(session: Session, splits: tuple[str, ...]) -> tuple[list[Candidate], int]:
    """Reviewed good images and audio windows of these splits at their current label
    revision (recordings are never items: their windows are); also the number of reviewed
    items left out because they have no split yet."""
    rows = session.execute(
        select(
            Media.id,
            Media.sha256,
            Media.split,
            MediaSequence.split.label("sequence_split"),
            MediaSequence.key,
            LabelRevision.id.label("revision_id"),
            LabelRevision.content_hash,
        )
        .join(
            LabelRevision,
            (LabelRevision.media_id == Media.id) & (LabelRevision.revision == Media.label_revision),
        )
        .outerjoin(MediaSequence, MediaSequence.id == Media.sequence_id)
        .where(Media.status == "ok", Media.kind.in_(("image", "window")), Media.reviewed.is_(True))
        .order_by(Media.id)
    ).all()
    out: list[Candidate] = []
    skipped = 0
    for r in rows:
        if r.sequence_split is not None and r.sequence_split != r.split:
            raise IntegrityError(
                f"media {r.id} is in split {r.split} but its sequence {r.key} is in "
                f"{r.sequence_split}; splits must follow sequences (run `wildloop status`)"
            )
        if r.split is None:
            skipped += 1
            continue
        if r.split in splits:
            out.append(
                Candidate(r.id, r.sha256 or "", r.split, r.revision_id, None, r.content_hash)
            )
    return out, skipped


def _marked_counts(session: Session, splits: tuple[str, ...]) -> dict[str, int]:
    """Items flagged as missed / false positive: how many are labelled (and so in the
    snapshot) and how many still wait for their corrected labels."""
    rows = session.execute(
        select(Media.reviewed, func.count())
        .where(Media.status == "ok", Media.marked.is_not(None), Media.split.in_(splits))
        .group_by(Media.reviewed)
    ).all()
    counts = {bool(reviewed): int(n) for reviewed, n in rows}
    return {"labelled": counts.get(True, 0), "waiting_for_labels": counts.get(False, 0)}


def _pseudo_items(
    session: Session, source: PseudoLabels, classes: ClassMap, hidden: HiddenRegions | None
) -> list[Candidate]:
    """Unreviewed train/val images with at least one shown prediction above the threshold."""
    rows = session.execute(
        select(Media.id, Media.sha256, Media.split, PredictionSet.id.label("set_id"))
        .join(PredictionSet, PredictionSet.media_id == Media.id)
        .where(
            PredictionSet.model_version_id == source.model_version_id,
            PredictionSet.status == "ok",
            Media.status == "ok",
            Media.kind == "image",
            Media.reviewed.is_(False),
            Media.split.in_(("train", "val")),
        )
        .order_by(Media.id)
    ).all()
    boxes = pseudo_boxes(session, [r.set_id for r in rows], source.threshold, classes, hidden)
    return [
        Candidate(
            r.id,
            r.sha256 or "",
            r.split,
            None,
            r.set_id,
            pseudo_label_set(boxes[r.set_id]).content_hash(),
        )
        for r in rows
        if boxes.get(r.set_id)
    ]


def _next_name(session: Session, purpose: str) -> str:
    count = session.scalar(select(func.count()).where(Snapshot.purpose == purpose)) or 0
    return f"{purpose}-{count + 1:04d}"


def list_snapshots(project: Project, purpose: str | None = None) -> list[SnapshotInfo]:
    with project.db.session() as session:
        query = select(Snapshot).order_by(Snapshot.id)
        if purpose:
            query = query.where(Snapshot.purpose == purpose)
        return [SnapshotInfo.of(row) for row in session.scalars(query)]


def latest_snapshot(project: Project, purpose: Purpose) -> SnapshotInfo | None:
    with project.db.session() as session:
        row = session.scalar(
            select(Snapshot)
            .where(Snapshot.purpose == purpose)
            .order_by(Snapshot.id.desc())
            .limit(1)
        )
        return SnapshotInfo.of(row) if row else None
