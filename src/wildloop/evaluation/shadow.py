"""How often the challenger agrees with the champion on the items a shadow run covered.

No human label is needed: an item counts as agreed when both models name the same top class
above the per-class thresholds (``review.predictions.threshold_for``, the bar the review
screen shows boxes at) and, for boxes, every class's boxes pair up one to one at IoU >= 0.5
(``evaluation.matching``, the matcher every metric uses). Judging takes a scan of both
models' boxes, so it is a job (``shadow-agreement``, background, one chunk) that stores one
row per item (``shadow_comparisons``, only for items not judged yet, all of a pair again when
the thresholds changed) and the figures as its result; requests read those rows and that
result. A finished shadow run asks for a refresh.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, aliased

from wildloop.config import ThresholdSettings
from wildloop.errors import BadInput
from wildloop.evaluation.matching import greedy_match, iou_matrix
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import active_job_id
from wildloop.processing.shadow import AGREEMENT_KIND_NAME, SHADOW_KIND_NAME, shadow_pair
from wildloop.project import Project
from wildloop.review.predictions import threshold_for
from wildloop.store.tables import (
    Job,
    ModelVersion,
    Prediction,
    PredictionSet,
    ShadowComparison,
)

IOU = 0.5
OUTCOMES = ("agree", "champion_only", "challenger_only", "different_class", "different_boxes")
DISAGREE = OUTCOMES[1:]
_BATCH = 500
PAGE_MAX = 500

Box = tuple[float, float, float, float] | None


@dataclass(frozen=True)
class Answer:
    """One box (or whole-image label, ``box`` None) a model showed above its threshold."""

    class_name: str
    score: float
    box: Box


@dataclass(frozen=True)
class Verdict:
    outcome: str
    champion: Answer | None  # the top answer of each model, None for "nothing"
    challenger: Answer | None
    per_class: dict[str, bool]


def judge(champion: Sequence[Answer], challenger: Sequence[Answer]) -> Verdict:
    """The verdict on one item from each model's shown answers (see the module doc)."""
    top_c = max(champion, key=lambda a: a.score, default=None)
    top_h = max(challenger, key=lambda a: a.score, default=None)
    names = sorted({a.class_name for a in champion} | {a.class_name for a in challenger})
    per_class = {
        name: _same_boxes(
            [a for a in champion if a.class_name == name],
            [a for a in challenger if a.class_name == name],
        )
        for name in names
    }
    if top_c is None and top_h is None:
        outcome = "agree"
    elif top_h is None:
        outcome = "champion_only"
    elif top_c is None:
        outcome = "challenger_only"
    elif top_c.class_name != top_h.class_name:
        outcome = "different_class"
    else:
        outcome = "agree" if all(per_class.values()) else "different_boxes"
    return Verdict(outcome, top_c, top_h, per_class)


def _same_boxes(ours: list[Answer], theirs: list[Answer]) -> bool:
    """Both name the class and, where both have boxes, they pair up one to one."""
    if not ours or not theirs:
        return False
    if any(a.box is None for a in ours) or any(a.box is None for a in theirs):
        return True  # whole-image labels: naming the class is all there is to agree on
    if len(ours) != len(theirs):
        return False
    ours = sorted(ours, key=lambda a: -a.score)
    dt = np.asarray([a.box for a in ours], dtype=np.float64).reshape(-1, 4)
    gt = np.asarray([a.box for a in theirs], dtype=np.float64).reshape(-1, 4)
    return bool((greedy_match(iou_matrix(dt, gt), IOU) >= 0).all())


def thresholds_digest(thresholds: ThresholdSettings) -> str:
    """What the verdicts depend on besides the two models (a change rebuilds them)."""
    shown = {"default": thresholds.default, "per_class": dict(sorted(thresholds.per_class.items()))}
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:16]


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project = ctx.project
    champion, challenger = int(ctx.params["champion"]), int(ctx.params["challenger"])
    thresholds = project.config.thresholds
    digest = thresholds_digest(thresholds)
    with project.db.session() as session:
        if _last_digest(session, champion, challenger, ctx.job_id) not in (None, digest):
            session.execute(
                delete(ShadowComparison).where(
                    ShadowComparison.champion_version_id == champion,
                    ShadowComparison.challenger_version_id == challenger,
                )
            )
    judged = 0
    while True:  # again until none is left: shadow sets may land while this job runs
        with project.db.session() as session:
            todo = _unjudged(session, champion, challenger)
        if not todo:
            break
        ctx.set_total(judged + len(todo))
        for start in range(0, len(todo), _BATCH):
            batch = todo[start : start + _BATCH]
            with project.db.session() as session:
                ours = _answers(session, champion, batch, thresholds)
                theirs = _answers(session, challenger, batch, thresholds)
                rows = [
                    _row(champion, challenger, m, judge(ours.get(m, []), theirs.get(m, [])))
                    for m in batch
                ]
                session.execute(insert(ShadowComparison), rows)
            ctx.progress(judged + start + len(batch))
        judged += len(todo)
    with project.db.session() as session:
        ctx.message(f"judged {judged} new items; thresholds {digest}")
        _remember_digest(session, ctx.job_id, digest)
    return ChunkOutcome(done=judged)


def _row(champion: int, challenger: int, media_id: int, verdict: Verdict) -> dict[str, Any]:
    c, h = verdict.champion, verdict.challenger
    return {
        "champion_version_id": champion,
        "challenger_version_id": challenger,
        "media_id": media_id,
        "outcome": verdict.outcome,
        "champion_class": c.class_name if c else None,
        "champion_score": c.score if c else None,
        "challenger_class": h.class_name if h else None,
        "challenger_score": h.score if h else None,
        "per_class": verdict.per_class,
    }


def _remember_digest(session: Session, job_id: int, digest: str) -> None:
    job = session.get(Job, job_id)
    if job is not None:
        job.params = {**(job.params or {}), "thresholds": digest}


def _last_digest(session: Session, champion: int, challenger: int, job_id: int) -> str | None:
    """The thresholds the pair's rows were judged under (the last finished job's)."""
    for params in session.scalars(
        select(Job.params)
        .where(Job.kind == AGREEMENT_KIND_NAME, Job.state == "succeeded", Job.id != job_id)
        .order_by(Job.id.desc())
        .limit(50)
    ):
        if params.get("champion") == champion and params.get("challenger") == challenger:
            return str(params.get("thresholds")) if params.get("thresholds") else None
    return None


def _unjudged(session: Session, champion: int, challenger: int) -> list[int]:
    """Items both versions predicted (ok sets) with no verdict for the pair yet."""
    ours, theirs = aliased(PredictionSet), aliased(PredictionSet)
    judged = select(ShadowComparison.media_id).where(
        ShadowComparison.champion_version_id == champion,
        ShadowComparison.challenger_version_id == challenger,
        ShadowComparison.media_id == ours.media_id,
    )
    return list(
        session.scalars(
            select(ours.media_id)
            .join(theirs, theirs.media_id == ours.media_id)
            .where(
                ours.model_version_id == champion,
                ours.status == "ok",
                theirs.model_version_id == challenger,
                theirs.status == "ok",
                ~judged.exists(),
            )
            .order_by(ours.media_id)
        )
    )


def _answers(
    session: Session, version_id: int, media_ids: list[int], thresholds: ThresholdSettings
) -> dict[int, list[Answer]]:
    """Per item, what ``version_id`` shows above each class's threshold."""
    rows = session.execute(
        select(
            PredictionSet.media_id,
            Prediction.class_name,
            Prediction.score,
            Prediction.x,
            Prediction.y,
            Prediction.w,
            Prediction.h,
        )
        .join(Prediction, Prediction.prediction_set_id == PredictionSet.id)
        .where(
            PredictionSet.model_version_id == version_id,
            PredictionSet.media_id.in_(media_ids),
            Prediction.score >= thresholds.store,
        )
    ).all()
    out: dict[int, list[Answer]] = defaultdict(list)
    for r in rows:
        if r.score < threshold_for(thresholds, r.class_name):
            continue
        box = None if r.x is None else (float(r.x), float(r.y), float(r.w), float(r.h))
        out[int(r.media_id)].append(Answer(str(r.class_name), float(r.score), box))
    return out


def agreement_figures(session: Session, champion: int, challenger: int) -> dict[str, Any]:
    """The pair's figures from its stored verdicts (the job's result)."""
    outcomes: Counter[str] = Counter()
    per_class: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome, classes in session.execute(
        select(ShadowComparison.outcome, ShadowComparison.per_class).where(
            ShadowComparison.champion_version_id == champion,
            ShadowComparison.challenger_version_id == challenger,
        )
    ):
        outcomes[outcome] += 1
        for name, agreed in (classes or {}).items():
            per_class[name]["items"] += 1
            per_class[name]["agreed"] += int(bool(agreed))
    compared = sum(outcomes.values())
    shadowed = session.scalar(
        select(func.count())
        .select_from(PredictionSet)
        .join(Job, Job.id == PredictionSet.job_id)
        .where(PredictionSet.model_version_id == challenger, Job.kind == SHADOW_KIND_NAME)
    )
    return {
        "champion_id": champion,
        "challenger_id": challenger,
        "shadowed": int(shadowed or 0),
        "compared": compared,
        "agreed": outcomes["agree"],
        "agreement": round(outcomes["agree"] / compared, 4) if compared else None,
        "outcomes": {name: outcomes[name] for name in OUTCOMES},
        "per_class": [
            {
                "class": name,
                "items": counts["items"],
                "agreed": counts["agreed"],
                "agreement": round(counts["agreed"] / counts["items"], 4),
            }
            for name, counts in sorted(per_class.items())
        ],
    }


def _finalize(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        params = job.params or {}
        figures = agreement_figures(session, int(params["champion"]), int(params["challenger"]))
    return {**figures, "thresholds": params.get("thresholds")}


def latest_agreement(session: Session, champion: int, challenger: int) -> Job | None:
    """The pair's newest finished agreement job (its result holds the figures)."""
    for job in session.scalars(
        select(Job)
        .where(Job.kind == AGREEMENT_KIND_NAME, Job.state == "succeeded")
        .order_by(Job.id.desc())
        .limit(50)
    ):
        params = job.params or {}
        if params.get("champion") == champion and params.get("challenger") == challenger:
            return job
    return None


def shadow_status(project: Project) -> dict[str, Any]:
    """What the Models page, ``GET /api/v1/shadow`` and ``wildloop shadow status`` show: the
    share, the pair, and the pair's last stored figures (None until a job judged them)."""
    with project.db.session() as session:
        pair = shadow_pair(session)
        refreshing = active_job_id(session, AGREEMENT_KIND_NAME)
        out: dict[str, Any] = {
            "share": project.config.shadow.share,
            "champion": None,
            "challenger": None,
            "figures": None,
            "computed_at": None,
            "refreshing_job": refreshing,
        }
        if pair is None:
            return out
        champion = session.get(ModelVersion, pair[0])
        out["champion"] = {"id": pair[0], "name": champion.name if champion else None}
        out["challenger"] = {"id": pair[1].id, "name": pair[1].name}
        job = latest_agreement(session, pair[0], pair[1].id)
        if job is not None:
            out["figures"] = job.result
            out["computed_at"] = job.finished_at.isoformat() if job.finished_at else None
    return out


def current_pair(session: Session) -> tuple[int, int]:
    """(champion id, challenger id) a shadow run compares; BadInput when there is none."""
    pair = shadow_pair(session)
    if pair is None:
        raise BadInput(
            "no shadow run: set a challenger that differs from the champion "
            "(`wildloop model alias challenger VERSION`)"
        )
    return pair[0], pair[1].id


@dataclass(frozen=True)
class Disagreement:
    media_id: int
    outcome: str
    champion_class: str | None
    champion_score: float | None
    challenger_class: str | None
    challenger_score: float | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def disagreements(
    session: Session,
    champion: int,
    challenger: int,
    *,
    outcome: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[Disagreement], int | None]:
    """One page of the pair's disagreements by media id (keyset: ``after`` is the last id
    of the previous page), and the cursor of the next page (None at the end)."""
    if outcome is not None and outcome not in DISAGREE:
        raise BadInput(f"outcome {outcome!r} is not one of {', '.join(DISAGREE)}")
    if not 1 <= limit <= PAGE_MAX:
        raise BadInput(f"limit {limit} must be from 1 to {PAGE_MAX}")
    query = (
        select(ShadowComparison)
        .where(
            ShadowComparison.champion_version_id == champion,
            ShadowComparison.challenger_version_id == challenger,
            ShadowComparison.outcome.in_([outcome] if outcome else list(DISAGREE)),
        )
        .order_by(ShadowComparison.media_id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(ShadowComparison.media_id > after)
    rows = list(session.scalars(query))
    page = [
        Disagreement(
            r.media_id,
            r.outcome,
            r.champion_class,
            r.champion_score,
            r.challenger_class,
            r.challenger_score,
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return page, (page[-1].media_id if more and page else None)


AGREEMENT_KIND = JobKind(
    name=AGREEMENT_KIND_NAME, run_chunk=_run_chunk, finalize=_finalize, background=True
)
