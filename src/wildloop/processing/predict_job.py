"""The ``predict`` job kind: run one model version over a list of media, chunk by chunk.

``process`` submits the media the champion has not seen and resolves ``champion`` again for
every chunk, so a promotion takes effect mid-job without restarting workers; ``reprocess``
pins the version it was asked for. A chunk first drops the items that already have a set
for its version, so running it again (after a crash, on another worker) adds exactly the
missing ones: no duplicates, no gaps.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.audio import head_job
from wildloop.audio.predict import run_window_chunk
from wildloop.crops.embedder import crop_stage, project_crop_embedder, uses_detector_features
from wildloop.crops.yolo_cls import YoloClsClassifier
from wildloop.domain.model_kinds import CLASSIFIER, PIPELINE
from wildloop.errors import BadInput, JobFailed
from wildloop.inference import runtime as runtimes
from wildloop.inference.crops import CropEmbedder, CropStage
from wildloop.inference.pipeline import (
    ItemResult,
    Pipeline,
    PipelineItem,
    PipelineOptions,
    StageTimes,
)
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.local import run_job
from wildloop.jobs.records import submit_job
from wildloop.media.camera_priors import priors_for_media
from wildloop.models.detector_features import load_feature_detector
from wildloop.models.detectors import load_detector
from wildloop.processing import summary
from wildloop.processing.location_priors import apply_priors
from wildloop.processing.prediction_settings import settings_for, settings_row
from wildloop.processing.selection import Scope, media_query, parse_scope
from wildloop.processing.sequence_smoothing import smooth_results, whole_bursts
from wildloop.processing.shadow import (
    RECENT_DEFAULT,
    SHADOW_KIND_NAME,
    recent_media,
    request_agreement,
    select_shadowed,
    shadow_pair,
)
from wildloop.processing.two_stage import SecondStage, load_classifier
from wildloop.processing.writer import write_results
from wildloop.project import Project
from wildloop.registry.aliases import resolve
from wildloop.registry.pipelines import stages
from wildloop.registry.versions import get_version, project_class_ids
from wildloop.review.queue import REFRESH_EVERY, request_refresh
from wildloop.store.tables import Job, Media, ModelVersion, PredictionSet
from wildloop.store.types import utcnow

WRITE_EVERY = 256
SHADOW_CHUNK = 64  # items per shadow chunk: what a more urgent job may wait behind
EVALUATION_BOXES = 100  # boxes kept per test item, counting those below `thresholds.store`
# Stage seconds summed over every chunk this process ran (benchmarks and logs read it).
STAGE_TOTALS = StageTimes()


@dataclass(frozen=True)
class Submitted:
    job_id: int
    version_id: int
    version_name: str
    items: int
    media_ids: tuple[int, ...] = field(default=(), repr=False, compare=False)
    shadow: Submitted | None = None  # the challenger's background job beside this one


def submit_process(
    project: Project, *, model: str = "champion", created_by: int | None = None
) -> Submitted:
    """A job over every good image that ``model`` (default: the champion) has not seen;
    for the champion, a shadow run of ``[shadow] share`` of them beside it."""
    submitted = _submit(project, "process", model, Scope(), unseen_only=True, created_by=created_by)
    if model == "champion":
        shadow = submit_shadow(project, submitted.media_ids, created_by=created_by)
        return replace(submitted, shadow=shadow)
    return submitted


def submit_reprocess(
    project: Project,
    *,
    model: str = "champion",
    scope: list[str] | str | None = None,
    compare_to: str | None = None,
    created_by: int | None = None,
) -> Submitted:
    """A job that runs ``model`` over ``scope`` (items it already covered are skipped)."""
    return _submit(
        project,
        "reprocess",
        model,
        parse_scope(scope),
        unseen_only=False,
        compare_to=compare_to,
        created_by=created_by,
    )


def submit_items(
    project: Project,
    model: str | int,
    media_ids: Sequence[int],
    *,
    purpose: str = "evaluate",
    created_by: int | None = None,
) -> Submitted:
    """A job over exactly ``media_ids`` with one pinned version (evaluation, shadow runs)."""
    return _submit(
        project,
        purpose,
        str(model),
        None,
        unseen_only=False,
        media_ids=list(media_ids),
        created_by=created_by,
    )


def submit_arrivals(
    project: Project, media_ids: Sequence[int], *, created_by: int | None = None
) -> Submitted | None:
    """A job that runs the champion over just-arrived ``media_ids`` (following the alias, as
    ``process`` does), and a shadow run of ``[shadow] share`` of them beside it; None when
    there is no champion or it does not run on images."""
    with project.db.session() as session:
        champion = resolve(session, "champion")
        version = session.get(ModelVersion, champion) if champion is not None else None
        if version is None or version.task == head_job.TASK:
            return None
    submitted = _submit(
        project,
        "process",
        "champion",
        None,
        unseen_only=False,
        media_ids=list(media_ids),
        created_by=created_by,
    )
    shadow = submit_shadow(project, submitted.media_ids, created_by=created_by)
    return replace(submitted, shadow=shadow)


def submit_shadow(
    project: Project,
    media_ids: Sequence[int],
    *,
    share: float | None = None,
    created_by: int | None = None,
) -> Submitted | None:
    """A background ``shadow`` job: the challenger (pinned now) over the ``share`` (default
    ``[shadow] share``) of ``media_ids`` that ``domain.shadow`` selects. None when the share
    selects nothing or no challenger can shadow the champion. Its sets are the challenger's
    own; the champion's stay the model's answer everywhere."""
    share = project.config.shadow.share if share is None else share
    if share <= 0 or not media_ids:
        return None
    with project.db.session() as session:
        pair = shadow_pair(session)
        if pair is None:
            return None
        challenger = pair[1]
        try:
            _require_runnable(challenger)
        except BadInput:
            return None
        chosen = select_shadowed(session, media_ids, share)
    if not chosen:
        return None
    return _submit(
        project,
        "shadow",
        str(challenger.id),
        None,
        unseen_only=False,
        media_ids=chosen,
        created_by=created_by,
        kind=SHADOW_KIND_NAME,
        # Short chunks: a champion's job or a training arriving meanwhile waits for one.
        chunk_size=min(SHADOW_CHUNK, project.config.inference.chunk_size),
    )


def submit_shadow_recent(
    project: Project,
    *,
    share: float | None = None,
    limit: int = RECENT_DEFAULT,
    created_by: int | None = None,
) -> Submitted | None:
    """``wildloop shadow run``: a shadow run over the ``limit`` most recent images now."""
    if not 1 <= limit <= 1_000_000:
        raise BadInput(f"limit {limit} must be from 1 to 1000000")
    if share is not None and not 0 <= share <= 1:
        raise BadInput(f"share {share!r} must be a number from 0 to 1")
    with project.db.session() as session:
        recent = recent_media(session, limit)
    return submit_shadow(project, recent, share=share, created_by=created_by)


def predict_items(project: Project, model_version_id: int, media_ids: Sequence[int]) -> None:
    """Run ``model_version_id`` over ``media_ids`` in this process and store the sets.

    What the evaluator calls for test items a model has not seen; raises JobFailed when the
    job fails (items that fail alone are stored as failed sets, not raised).
    """

    submitted = submit_items(project, model_version_id, media_ids)
    status = run_job(project, submitted.job_id, workers=project.config.jobs.local_workers)
    if status["state"] != "succeeded":
        raise JobFailed(f"prediction job {submitted.job_id} {status['state']}: {status['error']}")


def _submit(
    project: Project,
    purpose: str,
    model: str,
    scope: Scope | None,
    *,
    unseen_only: bool,
    compare_to: str | None = None,
    created_by: int | None = None,
    media_ids: list[int] | None = None,
    kind: str = "predict",
    chunk_size: int | None = None,
) -> Submitted:
    chunk_size = chunk_size or project.config.inference.chunk_size
    with project.db.session() as session:
        version = get_version(session, model)
        _require_runnable(version)
        before = _before_version(session, version, compare_to) if media_ids is None else None
        if scope is not None:
            query = media_query(
                session,
                scope,
                version.id if unseen_only else None,
                kind="window" if version.task == head_job.TASK else "image",
            )
            rows = [(r[0], r[1]) for r in session.execute(query.add_columns(Media.sequence_id))]
        else:
            rows = _with_sequences(session, sorted(set(media_ids or [])))
        ids = [media_id for media_id, _ in rows]
        # Whole bursts per chunk, so smoothing never sees half a burst.
        chunks = [{"media_ids": chunk} for chunk in whole_bursts(rows, chunk_size)]
        follows_alias = purpose == "process" and model in ("champion", "challenger")
        params = {
            "purpose": purpose,
            "model": model if follows_alias else str(version.id),
            "model_version_id": version.id,
            "model_name": version.name,
            "scope": scope.describe() if scope is not None else f"{len(ids)} listed items",
            "compare_to": before,
            # Fixed now, so every chunk applies the same settings and its sets record them.
            "settings": (
                settings_for(project.config, version) if version.task != head_job.TASK else None
            ),
        }
        job_id = submit_job(
            session,
            kind,
            params,
            chunks,
            total=len(ids),
            created_by=created_by,
            message=f"{purpose} {len(ids)} items with {version.name}",
        )
    return Submitted(job_id, version.id, version.name, len(ids), tuple(ids))


def _with_sequences(session: Session, media_ids: list[int]) -> list[tuple[int, int | None]]:
    """``(media id, sequence id)`` of the listed items, in id order (unknown ids kept: the
    chunk counts them as done)."""
    sequence: dict[int, int | None] = {}
    for start in range(0, len(media_ids), 500):
        part = media_ids[start : start + 500]
        sequence |= dict(
            session.execute(select(Media.id, Media.sequence_id).where(Media.id.in_(part))).all()
        )
    return [(m, sequence.get(m)) for m in media_ids]


def _require_runnable(version: ModelVersion) -> None:
    if version.task == head_job.TASK and version.artifact_sha256:
        return
    if version.task == PIPELINE:
        return
    if version.task == CLASSIFIER:
        raise BadInput(
            f"model {version.name!r} is a crop classifier: it names boxes but finds none; "
            "run a pipeline that pairs it with a detector (`wildloop model pipeline`)"
        )
    if version.source == "external" or not version.onnx_sha256:
        raise BadInput(
            f"model {version.name!r} has no artifact wildloop can run (its predictions were "
            "imported); choose a registered model"
        )


def _before_version(session: Session, version: ModelVersion, compare_to: str | None) -> int | None:
    """The version to compare against: the one given, else the champion if different."""
    if compare_to:
        return get_version(session, compare_to).id
    champion = resolve(session, "champion")
    if champion is not None and champion != version.id:
        return champion
    latest_other = session.scalar(
        select(PredictionSet.model_version_id)
        .where(PredictionSet.model_version_id != version.id)
        .order_by(PredictionSet.id.desc())
        .limit(1)
    )
    return latest_other


def run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project = ctx.project
    settings = project.config.inference
    media_ids: list[int] = ctx.payload["media_ids"]
    with project.db.session() as session:
        version = get_version(session, ctx.params["model"])
        done_ids = set(
            session.scalars(
                select(PredictionSet.media_id).where(
                    PredictionSet.model_version_id == version.id,
                    PredictionSet.media_id.in_(media_ids),
                )
            )
        )
        todo = session.execute(
            select(Media.id, Media.path, Media.split, Media.sequence_id)
            .where(Media.id.in_([m for m in media_ids if m not in done_ids]))
            .order_by(Media.id)
        ).all()
    if version.task == head_job.TASK:  # audio windows: a head on stored embeddings
        skipped = len(media_ids) - len(todo)
        return run_window_chunk(ctx, version, [row.id for row in todo], skipped)
    choice = runtimes.choose(settings.runtime, settings.device)
    cpus = os.cpu_count() or 1
    parallel = choice.kind == "onnx" and not choice.device.startswith("cuda")
    model_workers = settings.model_workers or (min(cpus, 4) if parallel else 1)
    threads = max(1, cpus // model_workers) if parallel else 0
    made_with = ctx.params.get("settings") or settings_for(project.config, version)
    store = float(made_with["thresholds"]["store"])
    detector, second = _stages(project, version)
    features = None
    runtime: runtimes.DetectorRuntime
    if project.config.crops.embed and uses_detector_features(project):
        if choice.kind != "onnx":
            raise BadInput(
                "crops.model = detector pools an ONNX detector's feature maps: set "
                "[inference] runtime = onnx (or pick an image embedder for the torch runtime)"
            )
        runtime, features = load_feature_detector(project, detector, threads=threads)
    else:
        runtime = load_detector(project, detector, choice, threads=threads)
    options = PipelineOptions(
        imgsz=detector.imgsz or 640,
        batch_size=settings.batch_size or (128 if choice.device.startswith("cuda") else 16),
        conf=store,
        iou=float(made_with["inference"]["iou"]),
        max_det=int(made_with["inference"]["max_det"]),
        reduced_decode=settings.reduced_decode,
        decode_workers=settings.decode_workers,
        model_workers=model_workers,
    )
    stage = _crop_stage(project, second, features)
    pipeline = Pipeline(runtime, options, crops=stage)
    crop_key = stage.embedder.key if stage is not None and stage.embedder is not None else None
    class_ids = project_class_ids(version, project.classes)
    done, failed = len(done_ids), 0
    pending: list[ItemResult] = []
    # Items that vanished from the media table since submission count as done (nothing to do).
    done += len(media_ids) - len(done_ids) - len(todo)

    smoothing = made_with["smoothing"]
    sequence_of = {row.id: row.sequence_id for row in todo if row.sequence_id is not None}
    mode, factor = made_with["priors"]["mode"], float(made_with["priors"]["factor"])
    with project.db.session() as session:
        priors = priors_for_media(session, [row.id for row in todo])
        settings_id = settings_row(session, made_with)

    def named(results: list[ItemResult]) -> list[ItemResult]:
        """The cameras' priors (a pipeline's second stage applied them to its full scores),
        then smoothing within bursts."""
        if priors and second is None:
            results = [apply_priors(r, priors, version.classes, mode, factor) for r in results]
        if smoothing["enabled"]:
            results = smooth_results(results, sequence_of, version.classes, smoothing["weak"])
        return results

    def flush() -> None:
        nonlocal done, failed
        started = time.perf_counter()
        pending[:] = named(pending)
        with project.db.session() as session:
            write_results(
                session,
                version.id,
                version.classes,
                class_ids,
                pending,
                ctx.job_id,
                shown_from=store,
                crop_embedder=crop_key,
                settings_id=settings_id,
            )
        pipeline.times.write += time.perf_counter() - started
        failed += sum(1 for r in pending if not r.ok)
        done += sum(1 for r in pending if r.ok)
        pending.clear()
        ctx.progress(done, failed)

    # Test items keep low-scoring boxes too: evaluations rank every detection (COCO style).
    test_conf = min(store, float(made_with["thresholds"]["store_test"]))
    items = (
        PipelineItem(
            row.id,
            project.media_file(row.path),  # this machine's view of the server's paths
            test_conf if row.split == "test" else None,
        )
        for row in todo
    )
    for results in pipeline.run(items):
        if second is not None:
            results = [second.name_boxes(r, priors.get(r.key), mode, factor) for r in results]
        pending.extend(_evaluation_cap(r, store) for r in results)
        # A smoothed chunk is written at its end: a burst is smoothed as a whole.
        if len(pending) >= WRITE_EVERY and not smoothing["enabled"]:
            flush()
        else:
            ctx.check_cancelled()
    if pending:
        flush()
    STAGE_TOTALS.merge(pipeline.times)
    return ChunkOutcome(done=done, failed=failed)


def _stages(project: Project, version: ModelVersion) -> tuple[ModelVersion, SecondStage | None]:
    """The detector to run and, for a pipeline, its second stage."""
    if version.task != PIPELINE:
        return version, None
    with project.db.session() as session:
        detector, classifier_version = stages(session, version)
        session.expunge_all()
    classifier = load_classifier(project, classifier_version)
    return detector, SecondStage.of(version, detector, classifier)


def _crop_stage(
    project: Project, second: SecondStage | None, features: CropEmbedder | None = None
) -> CropStage | None:
    """The project's crop stage; a pipeline always runs its classifier's crop model on the
    boxes it hands on: the embedder a head was trained on (with the head's padding), or a
    YOLO-cls network itself (its own crop size and padding, beside the project's embedder
    when that is on)."""
    stage = crop_stage(project, features)
    if second is None:
        return stage
    settings = project.config.crops
    floor = min(settings.min_score, second.min_box_score) if stage else second.min_box_score
    classifier = second.classifier
    if isinstance(classifier, YoloClsClassifier):
        return CropStage(
            stage.embedder if stage else None,
            padding=settings.padding,
            min_score=floor,
            max_per_item=settings.max_per_image,
            classifier=classifier.model,
            classifier_padding=classifier.padding,
        )
    embedder = project_crop_embedder(project)
    if embedder.key != classifier.embedder:
        raise BadInput(
            f"the classifier reads {classifier.embedder} crop vectors but the project's "
            f"crop embedder is {embedder.key}; set crops.model back or train it again"
        )
    return CropStage(
        embedder,
        padding=classifier.padding,
        min_score=floor,
        max_per_item=settings.max_per_image,
    )


def _evaluation_cap(result: ItemResult, store: float) -> ItemResult:
    """At most EVALUATION_BOXES boxes per item below the store threshold's (best first):
    the COCO evaluation counts 100 detections per image and class."""
    if len(result.detections) <= EVALUATION_BOXES:  # nearly every item: nothing to count
        return result
    shown = sum(1 for d in result.detections if d.score >= store)
    limit = max(shown, EVALUATION_BOXES)
    if len(result.detections) <= limit:
        return result
    best = sorted(result.detections, key=lambda d: d.score, reverse=True)[:limit]
    return replace(result, detections=tuple(best))


def finalize(project: Project, job_id: int) -> dict[str, Any]:
    """The job's stored result: counts and, for a reprocess, the before/after summary."""
    started = utcnow()
    result = summary.summarise_job(project, job_id)
    result["summary_seconds"] = round((utcnow() - started).total_seconds(), 3)
    return result


def finalize_shadow(project: Project, job_id: int) -> dict[str, Any]:
    """A shadow run's result (counts), then the refreshes its new sets call for: the
    agreement figures and, for a run of ``REFRESH_EVERY`` items or more, the review queue's
    order (its disagreement signal). A device's one-photo shadow job does not recompute the
    whole order: the queue's own staleness rules pick those sets up."""
    result = finalize(project, job_id)
    with project.db.session() as session:
        result["agreement_job"] = request_agreement(session)
        items = session.get_one(Job, job_id).progress_total or 0
        result["queue_job"] = request_refresh(session) if items >= REFRESH_EVERY else None
    return result


PREDICT_KIND = JobKind(name="predict", run_chunk=run_chunk, finalize=finalize)
SHADOW_KIND = JobKind(
    name=SHADOW_KIND_NAME, run_chunk=run_chunk, finalize=finalize_shadow, background=True
)
