"""Likely label errors among reviewed boxes: found by the ``label-issues`` job, decided by a
second reviewer.

An issue names one box of one label revision (the media's current one when it was found),
the class a person gave it and the class the out-of-fold crop classifier suggests, with both
probabilities. A decision keeps the given class or changes the box to the suggested one; a
change is an ordinary label save (``review.labels.save_labels``) from the revision the issue
was found at, so a screen that went stale meanwhile gets a Conflict, and both the decision
and the save are audited. The person who labelled the box cannot decide it (the point is a
second opinion); an admin can, and the audit entry says so (``own_label``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from wildloop import audit
from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.errors import BadInput, Conflict, NotFound, PermissionDenied
from wildloop.review.labels import current_labels, save_labels
from wildloop.store.tables import LabelBox, LabelIssue, LabelRevision, Media, Prediction, User
from wildloop.users.roles import Actor, require_writer

DECISIONS = {"keep": "kept", "change": "changed"}
STATUSES = ("open", "kept", "changed")


@dataclass(frozen=True)
class ReviewedBox:
    """One animal box of a reviewed image's current labels."""

    label_box_id: int
    media_id: int
    revision: int
    box_index: int
    class_id: int
    author_id: int
    split: str | None
    group: str  # frames that belong together (their burst) share one fold


def reviewed_boxes(session: Session) -> list[ReviewedBox]:
    """Every trainable box (a class, not excluded, not a false positive) of the current
    labels of reviewed images, in media and box order."""
    rows = session.execute(
        select(
            LabelBox.id,
            LabelBox.class_id,
            LabelBox.x,
            LabelBox.invalid_reason,
            LabelBox.false_positive,
            Media.id.label("media_id"),
            Media.label_revision,
            Media.split,
            Media.sequence_id,
            LabelRevision.author_id,
        )
        .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
        .join(
            Media,
            (Media.id == LabelRevision.media_id) & (Media.label_revision == LabelRevision.revision),
        )
        .where(Media.kind == "image", Media.reviewed.is_(True), Media.status == "ok")
        .order_by(Media.id, LabelBox.id)
    ).all()
    out: list[ReviewedBox] = []
    index: dict[int, int] = {}
    for r in rows:
        position = index.get(r.media_id, 0)
        index[r.media_id] = position + 1  # the box's place in its revision, as loaded
        if r.class_id is None or r.x is None or r.invalid_reason or r.false_positive:
            continue
        group = f"s{r.sequence_id}" if r.sequence_id is not None else f"m{r.media_id}"
        out.append(
            ReviewedBox(
                label_box_id=int(r.id),
                media_id=int(r.media_id),
                revision=int(r.label_revision),
                box_index=position,
                class_id=int(r.class_id),
                author_id=int(r.author_id),
                split=r.split,
                group=group,
            )
        )
    return out


@dataclass(frozen=True)
class IssueView:
    id: int
    kind: str  # box: a box's class is doubted; empty: a frame reviewed as empty
    rank: int
    status: str
    media_id: int
    label_box_id: int | None
    prediction_id: int | None
    revision: int
    current_revision: int
    box: list[float]
    split: str | None
    given_class: str | None  # None: reviewed as empty (no animal)
    given_probability: float
    labelled_by: str | None
    suggested_class: str
    suggested_probability: float
    quality: float
    decided_by: str | None
    decided_at: datetime | None

    @property
    def stale(self) -> bool:
        """The media was saved again since the issue was found: refresh to judge it anew."""
        return self.current_revision != self.revision


def list_issues(
    session: Session,
    classes: ClassMap,
    *,
    status: str = "open",
    after_rank: int = 0,
    limit: int = 100,
) -> list[IssueView]:
    """Issues of ``status``, most doubtful first (keyset pagination on rank)."""
    if status not in STATUSES:
        raise BadInput(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    query = (
        _issue_query()
        .where(LabelIssue.status == status, LabelIssue.rank > after_rank)
        .order_by(LabelIssue.rank, LabelIssue.id)
        .limit(limit)
    )
    rows = session.execute(query).all()
    return [_view(classes, r) for r in rows]


def issue_view(session: Session, classes: ClassMap, issue_id: int) -> IssueView:
    row = session.execute(_issue_query().where(LabelIssue.id == issue_id)).one_or_none()
    if row is None:
        raise NotFound(f"label issue {issue_id} does not exist")
    return _view(classes, row)


def _issue_query() -> Any:
    labeller, decider = aliased(User), aliased(User)
    return (
        select(
            LabelIssue,
            Media.label_revision,
            func.coalesce(LabelBox.x, Prediction.x).label("x"),
            func.coalesce(LabelBox.y, Prediction.y).label("y"),
            func.coalesce(LabelBox.w, Prediction.w).label("w"),
            func.coalesce(LabelBox.h, Prediction.h).label("h"),
            labeller.username.label("labeller"),
            decider.username.label("decider"),
        )
        .join(Media, Media.id == LabelIssue.media_id)
        .outerjoin(LabelBox, LabelBox.id == LabelIssue.label_box_id)
        .outerjoin(Prediction, Prediction.id == LabelIssue.prediction_id)
        .outerjoin(labeller, labeller.id == LabelIssue.labelled_by)
        .outerjoin(decider, decider.id == LabelIssue.decided_by)
    )


def _view(classes: ClassMap, r: Any) -> IssueView:
    i: LabelIssue = r.LabelIssue
    return IssueView(
        id=i.id,
        kind="empty" if i.label_box_id is None else "box",
        rank=i.rank,
        status=i.status,
        media_id=i.media_id,
        label_box_id=i.label_box_id,
        prediction_id=i.prediction_id,
        revision=i.revision,
        current_revision=int(r.label_revision),
        box=[float(v or 0.0) for v in (r.x, r.y, r.w, r.h)],
        split=i.split,
        given_class=None if i.given_class_id is None else _name(classes, i.given_class_id),
        given_probability=i.given_probability,
        labelled_by=r.labeller,
        suggested_class=_name(classes, i.suggested_class_id),
        suggested_probability=i.suggested_probability,
        quality=i.quality,
        decided_by=r.decider,
        decided_at=i.decided_at,
    )


def decide(
    session: Session,
    issue_id: int,
    decision: str,
    *,
    actor: Actor,
    classes: ClassMap,
    expected_revision: int | None = None,
) -> LabelIssue:
    """Keep the given class or change the box to the suggested one (see the module doc).

    ``expected_revision`` is the media revision the decider's screen showed (default: the
    one the issue was found at); a different current revision is a Conflict."""
    require_writer(actor)
    if decision not in DECISIONS:
        raise BadInput(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    issue = session.get(LabelIssue, issue_id)
    if issue is None:
        raise NotFound(f"label issue {issue_id} does not exist")
    if issue.status != "open":
        who = session.scalar(select(User.username).where(User.id == issue.decided_by))
        raise Conflict(f"label issue {issue_id} was already decided ({issue.status}) by {who}")
    own = issue.labelled_by == actor.id
    if own and not actor.is_admin:
        raise PermissionDenied(
            f"{actor.username} labelled this box; a second reviewer (or an admin) decides it"
        )
    expected = issue.revision if expected_revision is None else expected_revision
    current = session.scalar(select(Media.label_revision).where(Media.id == issue.media_id))
    if expected != issue.revision or current != issue.revision:
        raise Conflict(
            f"media {issue.media_id} is at label revision {current}, the issue was found at "
            f"revision {issue.revision}: reload the issues (or refresh them) and decide again"
        )
    claimed = session.execute(
        update(LabelIssue)
        .where(LabelIssue.id == issue_id, LabelIssue.status == "open")
        .values(
            status=DECISIONS[decision],
            decided_by=actor.id,
            decided_at=datetime.now(UTC).replace(tzinfo=None),
        )
        .returning(LabelIssue.id)
    ).all()
    if len(claimed) != 1:  # another reviewer decided it since it was read
        raise Conflict(f"label issue {issue_id} was decided by someone else meanwhile; reload")
    written = None
    if decision == "change":
        written = _change(session, issue, actor.id, classes).revision
    session.refresh(issue)
    audit.record(
        session,
        actor_id=actor.id,
        action="label_issues.decide",
        entity="label_issue",
        entity_id=issue.id,
        before={"status": "open"},
        after={
            "decision": decision,
            "media_id": issue.media_id,
            "box_index": issue.box_index,
            "given": None if issue.given_class_id is None else _name(classes, issue.given_class_id),
            "given_probability": round(issue.given_probability, 4),
            "suggested": _name(classes, issue.suggested_class_id),
            "suggested_probability": round(issue.suggested_probability, 4),
            "labelled_by": issue.labelled_by,
            "own_label": own,
            "revision_written": written,
        },
    )
    return issue


def _change(session: Session, issue: LabelIssue, actor_id: int, classes: ClassMap) -> Any:
    labels = current_labels(session, issue.media_id, revision=issue.revision) or LabelSet()
    if issue.label_box_id is None:
        changed = _with_champion_box(session, issue, labels)
    else:
        boxes = list(labels.boxes)
        at = issue.box_index
        if at >= len(boxes) or boxes[at].class_id != issue.given_class_id:
            raise Conflict(f"label issue {issue.id} no longer matches its box: refresh the issues")
        boxes[at] = dataclasses.replace(boxes[at], class_id=issue.suggested_class_id)
        changed = dataclasses.replace(labels, boxes=tuple(boxes))
    return save_labels(
        session,
        issue.media_id,
        changed,
        author_id=actor_id,
        classes=classes,
        expected_revision=issue.revision,
        source="label-issues",
        action="label_issues.change",
    )


def _with_champion_box(session: Session, issue: LabelIssue, labels: LabelSet) -> LabelSet:
    """A frame reviewed as empty, now with the champion's box as an animal of the suggested
    class (the person's correction of that prediction, in place of its false-positive mark;
    the frame's other false-positive marks stay)."""
    p = session.get(Prediction, issue.prediction_id) if issue.prediction_id else None
    if p is None or p.x is None or p.y is None or p.w is None or p.h is None or not labels.empty:
        raise Conflict(f"label issue {issue.id} no longer matches its frame: refresh the issues")
    box = Box.clipped(p.x, p.y, p.w, p.h)
    prediction = p
    value = LabelBoxValue(box, issue.suggested_class_id, corrects_prediction_id=prediction.id)
    others = tuple(b for b in labels.boxes if b.corrects_prediction_id != prediction.id)
    return LabelSet(boxes=(*others, value), empty=False, note=labels.note)


def _name(classes: ClassMap, class_id: int) -> str:
    return classes.display_name(class_id) or f"class {class_id}"
