"""What reviewers said each audio window holds: the set of classes of its label revision.

A window's label is a set of classes (whole-window spans or time-frequency boxes, several
species at once allowed); false positives and boxes excluded with a reason are not classes.
An empty revision ("nothing") is the empty set. Heads train on these sets and evaluation
scores against them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.store.tables import LabelBox

CHUNK = 500


def classes_of_revisions(
    session: Session, revision_ids: Sequence[int | None]
) -> dict[int, frozenset[int]]:
    """Class ids per label revision (every given revision is present, possibly empty)."""
    ids = sorted({r for r in revision_ids if r is not None})
    out: dict[int, set[int]] = {r: set() for r in ids}
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(LabelBox.revision_id, LabelBox.class_id).where(
                LabelBox.revision_id.in_(ids[start : start + CHUNK]),
                LabelBox.class_id.is_not(None),
                LabelBox.false_positive.is_(False),
                LabelBox.invalid_reason.is_(None),
            )
        ).all()
        for revision_id, class_id in rows:
            if class_id is not None:
                out[int(revision_id)].add(int(class_id))
    return {r: frozenset(c) for r, c in out.items()}
