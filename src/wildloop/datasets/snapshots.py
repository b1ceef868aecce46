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

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassDef, ClassMap
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.errors import BadInput, IntegrityError, NotFound
from wildloop.project import Project
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

Purpose = Literal["training", "test"]
SPLITS_OF: dict[str, tuple[str, ...]] = {"training": ("train", "val"), "test": ("test",)}
CHUNK = 500


@dataclass(frozen=True)
class PseudoLabels:
    """Where pseudo-labels come from: one model version's predictions above a threshold."""

    model_version_id: int
    threshold: float


@dataclass(frozen=True)
class Target:
    """One box a model should learn (or be scored against): a class and where."""

    class_id: int
    box: Box


@dataclass(frozen=True)
class SnapshotEntry:
    media_id: int
    path: Path
    sha256: str
    width: int
    height: int
    split: str
    camera: str | None
    camera_id: int | None
    sequence_key: str | None
    frame_num: int | None
    captured_at: datetime | None
    label_revision_id: int | None
    prediction_set_id: int | None
    content_hash: str
    empty: bool
    targets: tuple[Target, ...]
    excluded_boxes: int
    labelled_by: str | None
    labelled_at: datetime | None

    @property
    def pseudo(self) -> bool:
        return self.label_revision_id is None

    @property
    def group(self) -> str:
        """The unit that must never straddle splits: the sequence, or the frame alone."""
        return self.sequence_key or f"media/{self.media_id}"


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    name: str
    purpose: str
    content_hash: str
    counts: dict[str, Any]
    params: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: Snapshot) -> SnapshotInfo:
        return cls(
            row.id, row.name, row.purpose, row.content_hash, row.counts, row.params, row.created_at
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "purpose": self.purpose,
            "content_hash": self.content_hash,
            "counts": self.counts,
            "params": self.params,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class SnapshotData:
    info: SnapshotInfo
    classes: ClassMap
    entries: tuple[SnapshotEntry, ...]

    def split(self, name: str) -> list[SnapshotEntry]:
        return [e for e in self.entries if e.split == name]


@dataclass(frozen=True)
class _Candidate:
    media_id: int
    sha256: str
    split: str
    label_revision_id: int | None
    prediction_set_id: int | None
    content_hash: str


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
            candidates += _pseudo_items(session, pseudo_labels, classes)
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
        for chunk in _chunks(candidates, CHUNK):
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
        data = _load(session, SnapshotInfo.of(row), verify=False)
        # Counts derive from the frozen items and are written once, in the same transaction.
        row.counts = snapshot_counts(data) | {"skipped_unsplit": skipped}
        session.flush()
        return SnapshotInfo.of(row), True


def snapshot_hash(purpose: str, params: dict[str, Any], items: Sequence[_Candidate]) -> str:
    """One hash over everything that defines the dataset, independent of row order."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"purpose": purpose, "params": params}, sort_keys=True).encode())
    for c in sorted(items, key=lambda c: c.media_id):
        line = (
            f"{c.media_id}:{c.sha256}:{c.split}:{c.label_revision_id}:"
            f"{c.prediction_set_id}:{c.content_hash}\n"
        )
        digest.update(line.encode())
    return digest.hexdigest()


def _reviewed_items(session: Session, splits: tuple[str, ...]) -> tuple[list[_Candidate], int]:
    """Reviewed good images of these splits at their current label revision; also the
    number of reviewed items left out because they have no split yet."""
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
        .where(Media.status == "ok", Media.kind == "image", Media.reviewed.is_(True))
        .order_by(Media.id)
    ).all()
    out: list[_Candidate] = []
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
                _Candidate(r.id, r.sha256 or "", r.split, r.revision_id, None, r.content_hash)
            )
    return out, skipped


def _pseudo_items(session: Session, source: PseudoLabels, classes: ClassMap) -> list[_Candidate]:
    """Unreviewed train/val images with at least one prediction above the threshold."""
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
    boxes = _pseudo_boxes(session, [r.set_id for r in rows], source.threshold, classes)
    return [
        _Candidate(
            r.id,
            r.sha256 or "",
            r.split,
            None,
            r.set_id,
            _pseudo_label_set(boxes[r.set_id]).content_hash(),
        )
        for r in rows
        if boxes.get(r.set_id)
    ]


def _pseudo_boxes(
    session: Session, set_ids: list[int], threshold: float, classes: ClassMap
) -> dict[int, list[Target]]:
    known = {c.id for c in classes}
    out: dict[int, list[Target]] = defaultdict(list)
    for chunk in _chunks(set_ids, CHUNK):
        for p in session.execute(
            select(Prediction)
            .where(
                Prediction.prediction_set_id.in_(chunk),
                Prediction.score >= threshold,
                Prediction.class_id.is_not(None),
            )
            .order_by(Prediction.id)
        ).scalars():
            if p.class_id in known and None not in (p.x, p.y, p.w, p.h):
                box = Box.clipped(p.x or 0, p.y or 0, p.w or 0, p.h or 0)
                out[p.prediction_set_id].append(Target(int(p.class_id or 0), box))
    return out


def _pseudo_label_set(targets: list[Target]) -> LabelSet:
    return LabelSet(boxes=tuple(LabelBoxValue(box=t.box, class_id=t.class_id) for t in targets))


def _next_name(session: Session, purpose: str) -> str:
    count = session.scalar(select(func.count()).where(Snapshot.purpose == purpose)) or 0
    return f"{purpose}-{count + 1:04d}"


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- reading -----------------------------------------------------------------------------


def list_snapshots(project: Project, purpose: str | None = None) -> list[SnapshotInfo]:
    with project.db.session() as session:
        query = select(Snapshot).order_by(Snapshot.id)
        if purpose:
            query = query.where(Snapshot.purpose == purpose)
        return [SnapshotInfo.of(row) for row in session.scalars(query)]


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


def latest_snapshot(project: Project, purpose: Purpose) -> SnapshotInfo | None:
    with project.db.session() as session:
        row = session.scalar(
            select(Snapshot)
            .where(Snapshot.purpose == purpose)
            .order_by(Snapshot.id.desc())
            .limit(1)
        )
        return SnapshotInfo.of(row) if row else None


def load_snapshot(project: Project, ref: int | str, *, verify: bool = True) -> SnapshotData:
    """Everything a snapshot pins, with training targets resolved; with ``verify`` the
    content hash is recomputed and a mismatch raises IntegrityError."""
    info = get_snapshot(project, ref)
    with project.db.session() as session:
        return _load(session, info, verify=verify)


def _load(session: Session, info: SnapshotInfo, *, verify: bool) -> SnapshotData:
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
    set_ids = [r[0].prediction_set_id for r in items if r[0].label_revision_id is None]
    pseudo_boxes = (
        _pseudo_boxes(session, set_ids, float(pseudo["threshold"]), classes) if set_ids else {}
    )
    entries = []
    for row in items:
        item: SnapshotItem = row[0]
        if item.label_revision_id is not None:
            labels, author, at, label_hash = revisions[item.label_revision_id]
        else:
            labels = _pseudo_label_set(pseudo_boxes.get(item.prediction_set_id or -1, []))
            author, at, label_hash = None, None, labels.content_hash()
        if verify and label_hash != item.content_hash:
            raise IntegrityError(
                f"snapshot {info.name}: labels of media {item.media_id} no longer match the "
                "hash recorded in the snapshot"
            )
        entries.append(
            SnapshotEntry(
                media_id=item.media_id,
                path=Path(row.path),
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
                targets=tuple(
                    Target(int(b.class_id or 0), b.box) for b in labels.boxes if b.trainable
                ),
                excluded_boxes=sum(1 for b in labels.boxes if not b.trainable),
                labelled_by=author,
                labelled_at=at,
            )
        )
    data = SnapshotData(info, classes, tuple(entries))
    if verify:
        candidates = [
            _Candidate(
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
    for chunk in _chunks(ids, CHUNK):
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
