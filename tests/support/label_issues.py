"""Open label issues planted on review fixtures: a box saved by one person and the issue
row the ``label-issues`` job would write for it (the job itself is tested on generated
photos in tests/curation, with a real embedder and cleanlab)."""

from __future__ import annotations

from sqlalchemy import select

from wildloop.domain.boxes import Box
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import LabelBox, LabelIssue


def plant_issue(
    project: Project,
    media_id: int,
    labeller: str,
    rank: int,
    given: str = "doe",
    suggested: str = "buck",
) -> int:
    """Label ``media_id`` with one ``given`` box as ``labeller``; return the open issue's id
    suggesting ``suggested`` instead."""
    classes = project.classes
    with project.db.session() as session:
        revision = save_labels(
            session,
            media_id,
            LabelSet(boxes=(LabelBoxValue(Box(0.2, 0.3, 0.25, 0.3), classes.id_of(given)),)),
            author_id=project.author(labeller),
            classes=classes,
            expected_revision=None,
        )
        session.flush()
        box_id = session.scalars(
            select(LabelBox.id).where(LabelBox.revision_id == revision.id)
        ).one()
        issue = LabelIssue(
            media_id=media_id,
            label_box_id=box_id,
            revision=revision.revision,
            box_index=0,
            labelled_by=revision.author_id,
            split="train",
            given_class_id=classes.id_of(given),
            suggested_class_id=classes.id_of(suggested),
            given_probability=0.08,
            suggested_probability=0.85,
            quality=0.08,
            rank=rank,
            status="open",
        )
        session.add(issue)
        session.flush()
        return issue.id
