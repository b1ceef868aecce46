"""The Models page: registry, comparison, gated promotion, training and the retraining log.

The page renders what is known at once; the comparison (which may have to run the models
over the test set) is computed in the background and arrives as an HTML fragment the page
polls for. Actions go through the same JSON API as scripts (``/api/v1/promotion``,
``/training``, ``/training/classifier``, ``/loop``, ``/pipelines``, ``/rollback``), so the
gate and the roles are checked in one place.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from wildloop.errors import NotFound, WildloopError
from wildloop.evaluation.class_thresholds import latest_thresholds
from wildloop.evaluation.compare_job import ComparisonRun
from wildloop.evaluation.shadow import DISAGREE, current_pair, disagreements, shadow_status
from wildloop.project import Project
from wildloop.review.dashboard import jobs_view
from wildloop.store.types import MAX_ID
from wildloop.training.job import training_params
from wildloop.training.retraining_log import retraining_log, write_chart
from wildloop.users.roles import Actor
from wildloop.web.api_models import comparison_run
from wildloop.web.api_review import project_of
from wildloop.web.api_shadow import Outcome
from wildloop.web.auth import current_actor
from wildloop.web.models_view import (
    aliased,
    chart_key,
    models_overview,
    triggers_status,
    two_stage_view,
)
from wildloop.web.pages import PageActor, render

router = APIRouter(include_in_schema=False)
IMMUTABLE = "private, max-age=31536000, immutable"
JOB_KINDS = ("train", "loop", "predict")
_chart_lock = threading.Lock()
ActorDep = Annotated[Actor, Depends(current_actor)]


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, actor: PageActor) -> Response:
    project = project_of(request)
    overview = models_overview(project)
    with project.db.session() as session:
        jobs = [j for j in jobs_view(session, active_only=True) if j.kind in JOB_KINDS]
    return render(
        request,
        "models.html",
        actor,
        overview=overview,
        chart_key=overview.chart_key,
        triggers=triggers_status(project),
        two_stage=two_stage_view(overview.versions),
        image_project=project.config.modality != "audio",
        training=training_params(project),
        jobs=jobs,
        thresholds=_thresholds_view(project) if overview.champion else None,
        shadow=shadow_status(project) if project.config.modality != "audio" else None,
        **_comparison_context(request, actor, overview.champion, overview.challenger),
    )


def _thresholds_view(project: Project) -> dict[str, Any]:
    """The champion's newest per-class thresholds beside the ones in effect, each with its
    PR curve as SVG points (recall across, precision up), so an admin applies them with the
    curve in view."""
    settings = project.config.thresholds
    current = {c.name: settings.per_class.get(c.name, settings.default) for c in project.classes}
    try:
        found = latest_thresholds(project, "champion").as_dict()
    except NotFound:
        return {"set": None, "current": current, "rows": []}
    rows = []
    for name, values in found["classes"].items():
        curve, chosen = values["curve"], values["threshold"]
        points = " ".join(
            f"{100 * r:.1f},{60 * (1 - p):.1f}"
            for r, p in zip(curve["recall"], curve["precision"], strict=True)
        )
        rows.append({"name": name, "current": current.get(name), "points": points, **chosen})
    return {"set": found, "current": current, "rows": rows}


@router.get("/models/shadow", response_class=HTMLResponse)
def shadow_page(
    request: Request,
    actor: PageActor,
    outcome: Outcome | None = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    """Where the challenger disagreed with the champion in shadow runs, a page at a time,
    each item linked to the review screen (which shows the champion's answer)."""
    project = project_of(request)
    with project.db.session() as session:
        champion, challenger = current_pair(session)
        page, cursor = disagreements(
            session, champion, challenger, outcome=outcome, after=after, limit=100
        )
    return render(
        request,
        "shadow.html",
        actor,
        status=shadow_status(project),
        items=page,
        next_after=cursor,
        outcome=outcome,
        outcomes=DISAGREE,
    )


@router.get("/models/comparison", response_class=HTMLResponse)
def comparison_fragment(request: Request, actor: PageActor, refresh: bool = False) -> Response:
    """The comparison panel alone: 202 while it is computing, 200 once it is there."""
    pair = aliased(project_of(request))
    context = _comparison_context(
        request, actor, pair.get("champion"), pair.get("challenger"), refresh
    )
    status = 202 if context["comparison"]["state"] == "computing" else 200
    return render(request, "_comparison.html", actor, status_code=status, **context)


@router.get("/models/retraining-chart.png")
def retraining_chart(request: Request, actor: ActorDep, v: str | None = None) -> FileResponse:
    """The metrics-over-versions chart, drawn once per change of what it shows."""
    project = project_of(request)
    rows = retraining_log(project)
    key = chart_key(rows)
    if key is None:
        raise NotFound("no version has been evaluated on a test snapshot yet")
    path = project.path("runs") / "charts" / f"retraining-{key}.png"
    with _chart_lock:
        if not path.is_file():
            _draw_atomically(project, rows, path)
    cache = IMMUTABLE if v == key else "no-cache"
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": cache})


@router.get("/models/figures/{folder}/{name}")
def comparison_figure(folder: str, name: str, request: Request, actor: ActorDep) -> FileResponse:
    """A comparison figure (PR curves, confusion matrix, ...); its URL carries the file's
    modification time, so a redrawn figure gets a new URL and the old one stays cacheable."""
    base = (project_of(request).path("runs") / "comparisons").resolve()
    path = (base / folder / name).resolve()
    if path.parent.parent != base or path.suffix != ".png" or not path.is_file():
        raise NotFound(f"no comparison figure {folder}/{name}")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": IMMUTABLE})


def _comparison_context(
    request: Request,
    actor: Actor,
    champion: dict[str, Any] | None,
    challenger: dict[str, Any] | None,
    refresh: bool = False,
) -> dict[str, Any]:
    """What the comparison panel shows: nothing to compare, computing, failed, or the result."""
    project = project_of(request)
    context: dict[str, Any] = {"gate": project.config.gate.model_dump()}
    if challenger is None:
        message = "No challenger yet: train one."
        return context | {"comparison": {"state": "none", "message": message}}
    if champion is not None and champion["id"] == challenger["id"]:
        message = (
            f"The challenger ({challenger['name']}) is the champion: train a new challenger "
            "to compare."
        )
        return context | {"comparison": {"state": "none", "message": message}}
    try:
        run = comparison_run(request, actor, "challenger", "champion", refresh)
    except WildloopError as exc:
        return context | {"comparison": {"state": "failed", "error": str(exc)}}
    return context | {"comparison": _present(project, run)}


def _present(project: Project, run: ComparisonRun) -> dict[str, Any]:
    out = run.as_dict()
    result = out["comparison"]
    if result is None:
        return out
    base = project.path("runs") / "comparisons"
    figures = []
    for key, file in result["figures"].items():
        path = Path(file)
        if path.is_file():
            rel = path.relative_to(base)
            figures.append(
                {
                    "key": key,
                    "title": _figure_title(key),
                    "url": f"/models/figures/{quote(rel.parts[0])}/{quote(rel.name)}"
                    f"?v={path.stat().st_mtime_ns}",
                }
            )
    out["figures"] = figures
    return out


def _figure_title(key: str) -> str:
    if key.startswith("confusion_"):
        return f"Confusion matrix: {key.removeprefix('confusion_')}"
    return {
        "pr_curves": "Precision-recall per class (IoU 0.5)",
        "reliability": "Reliability diagram (calibration)",
        "class_deltas": "Per-class AP50-95 change",
    }.get(key, key)


def _draw_atomically(project: Project, rows: list[dict[str, Any]], path: Path) -> None:
    """Draw beside the target and rename: a request never reads half a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".chart-", dir=path.parent) as tmp:
        write_chart(project, rows, Path(tmp) / path.name).replace(path)
