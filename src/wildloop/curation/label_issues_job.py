"""The ``label-issues`` job: rank reviewed boxes whose class the crop classifier doubts.

Steps (one chunk, one writer; the handler may run again from the top after a wait):
1. Reviewed boxes without a crop vector are embedded by the ``individual-embed`` job (the
   one path that cuts and embeds human boxes), submitted as a child and waited for.
2. Out-of-fold probabilities (``curation.confident``) over the boxes of every class with at
   least two non-test boxes; test-split boxes are scored by a head fitted on the rest.
3. cleanlab's issues, and the frames reviewed as empty where the champion is sure of an
   animal (``curation.empty_frames``), ranked together by label quality, replace the open
   ones; a box already decided (kept or changed) is never raised again. Boxes of rarer
   classes, and boxes whose image could not be read, are counted in the result and skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wildloop.crops.embedder import crop_embedder_key
from wildloop.crops.vectors import label_box_vectors
from wildloop.curation.confident import FOLDS, label_issues, out_of_fold_probabilities
from wildloop.curation.empty_frames import sure_empty_issues
from wildloop.curation.label_issues import ReviewedBox, reviewed_boxes
from wildloop.errors import BadInput
from wildloop.individuals.embed_job import submit_label_embedding
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind, stored_result
from wildloop.jobs.records import active_job_id, submit_job
from wildloop.project import Project
from wildloop.store.tables import Job, LabelIssue

KIND_NAME = "label-issues"
MIN_PER_CLASS = 2
FOLDS_BY = ("box", "burst")


def submit_label_issues(
    project: Project, created_by: int | None = None, *, by: str = "box", seed: int = 0
) -> int:
    """Queue a refresh of the label issues, or return the one already queued or running.

    ``by`` says what a fold holds out: single boxes (a box's burst-mates may vouch for it:
    strongest on isolated slips, blind to a wrong class repeated over a whole burst) or
    whole bursts (judged by other bursts only: finds such repeats, at far lower precision
    on a weak crop embedder; see docs/review.md)."""
    if by not in FOLDS_BY:
        raise BadInput(f"folds are by {' or '.join(FOLDS_BY)}, not {by!r}")
    key = crop_embedder_key(project)
    with project.db.session() as session:
        running = active_job_id(session, KIND_NAME)
        if running is not None:
            return running
        params = {"embedder": key, "folds": FOLDS, "by": by, "seed": seed}
        return submit_job(session, KIND_NAME, params, [{}], total=1, created_by=created_by)


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project = ctx.project
    key = str(ctx.params["embedder"])
    with project.db.session() as session:
        boxes = reviewed_boxes(session)
        vectors = label_box_vectors(session, key, [b.label_box_id for b in boxes])
        created_by = session.scalar(select(Job.created_by).where(Job.id == ctx.job_id))
    if len(vectors) < len(boxes):
        child = ctx.child("embed", lambda: submit_label_embedding(project, created_by))
        ctx.wait_for([child])  # raises until the child is done; this runs again from the top
    result = find_issues(
        project,
        ctx.job_id,
        key,
        folds=int(ctx.params["folds"]),
        by=str(ctx.params.get("by", "box")),
        seed=int(ctx.params["seed"]),
    )
    with project.db.session() as session:
        session.execute(update(Job).where(Job.id == ctx.job_id).values(result=result))
    ctx.message(
        f"{result['issues']} likely label errors among {result['boxes']} reviewed boxes, "
        f"{result['empty_frames']} empty frames the champion is sure of"
    )
    return ChunkOutcome(done=1)


def find_issues(
    project: Project, job_id: int | None, key: str, *, folds: int, by: str, seed: int
) -> dict[str, Any]:
    """Compute the issues of the reviewed boxes with ``key`` vectors and store them (the open
    ones replaced); returns counts for the job's result."""
    with project.db.session() as session:
        boxes = reviewed_boxes(session)
        vectors = label_box_vectors(session, key, [b.label_box_id for b in boxes])
        decided = _decided_boxes(session)
    embedded = [b for b in boxes if b.label_box_id in vectors]
    usable = common_classes(embedded)
    result: dict[str, Any] = {
        "embedder": key,
        "boxes": len(boxes),
        "unembedded": len(boxes) - len(embedded),
        "rare_class_boxes": len(embedded) - len(usable),
        "classes": len({b.class_id for b in usable}),
        "test_boxes": sum(b.split == "test" for b in usable),
        "folds": folds,
        "by": by,
        "issues": 0,
    }
    rows: list[LabelIssue] = []
    if result["classes"] >= 2:
        rows = _issues(usable, vectors, folds, by, seed, decided, job_id)
    with project.db.session() as session:
        # Boxes decided while the heads were fitted stay decided: no second issue for them.
        rows = [r for r in rows if r.label_box_id not in _decided_boxes(session)]
        empty = sure_empty_issues(session, job_id=job_id)
        ranked = sorted(rows + empty, key=lambda r: (r.quality, r.media_id, r.box_index))
        for rank, row in enumerate(ranked, 1):
            row.rank = rank
        session.execute(delete(LabelIssue).where(LabelIssue.status == "open"))
        session.add_all(ranked)
    result["issues"] = len(rows)
    result["empty_frames"] = len(empty)
    return result


def _decided_boxes(session: Session) -> set[int]:
    """Label boxes whose issue a reviewer already kept or changed."""
    return {
        int(box_id)
        for box_id in session.scalars(
            select(LabelIssue.label_box_id).where(
                LabelIssue.status != "open", LabelIssue.label_box_id.is_not(None)
            )
        )
        if box_id is not None
    }


def common_classes(boxes: list[ReviewedBox]) -> list[ReviewedBox]:
    """Boxes of classes with at least MIN_PER_CLASS boxes outside the test split."""
    counts: dict[int, int] = {}
    for b in boxes:
        if b.split != "test":
            counts[b.class_id] = counts.get(b.class_id, 0) + 1
    return [b for b in boxes if counts.get(b.class_id, 0) >= MIN_PER_CLASS]


def _issues(
    boxes: list[ReviewedBox],
    vectors: dict[int, Any],
    folds: int,
    by: str,
    seed: int,
    decided: set[int],
    job_id: int | None,
) -> list[LabelIssue]:
    class_ids = sorted({b.class_id for b in boxes})
    column = {c: i for i, c in enumerate(class_ids)}
    x = np.stack([vectors[b.label_box_id] for b in boxes])
    labels = np.array([column[b.class_id] for b in boxes])
    probs = out_of_fold_probabilities(
        x,
        labels,
        len(class_ids),
        groups=[b.group for b in boxes] if by == "burst" else None,
        held_out=np.array([b.split == "test" for b in boxes]),
        folds=folds,
        seed=seed,
    )
    found = [i for i in label_issues(labels, probs) if boxes[i.row].label_box_id not in decided]
    return [
        LabelIssue(
            job_id=job_id,
            media_id=boxes[i.row].media_id,
            label_box_id=boxes[i.row].label_box_id,
            revision=boxes[i.row].revision,
            box_index=boxes[i.row].box_index,
            labelled_by=boxes[i.row].author_id,
            split=boxes[i.row].split,
            given_class_id=boxes[i.row].class_id,
            suggested_class_id=class_ids[i.suggested],
            given_probability=float(probs[i.row, labels[i.row]]),
            suggested_probability=float(probs[i.row, i.suggested]),
            quality=i.quality,
            rank=0,  # ranked with the empty-frame issues by find_issues
            status="open",
        )
        for i in found
    ]


LABEL_ISSUES_KIND = JobKind(name=KIND_NAME, run_chunk=_run_chunk, finalize=stored_result)
