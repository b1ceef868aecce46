"""Analytics over HTTP: the whole report as JSON, each table as CSV, and the page.

The default report reads sums kept up to date as labels are saved (tallies.maintained), well
under a second at a million media (bench/analytics_report.py); other queries group the
detections in the request and say so (``computed``, ``computed_note``). The page draws its
charts as inline SVG on the server: no script, no chart library, nothing fetched.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from wildloop.analytics.rebuild_job import request_rebuild
from wildloop.analytics.report import (
    TABLES,
    ActivityReport,
    AnalyticsQuery,
    Per,
    Source,
    activity_report,
)
from wildloop.domain.activity import Period
from wildloop.users.roles import Actor
from wildloop.web.analytics_charts import charts
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor
from wildloop.web.pages import PageActor, render

router = APIRouter(tags=["analytics"])
pages = APIRouter(include_in_schema=False)
ActorDep = Annotated[Actor, Depends(current_actor)]
Table = StrEnum("Table", {t: t for t in TABLES})  # type: ignore[misc]


def analytics_query(
    source: Annotated[Source, Query(description="labels, or labels+predictions")] = Source.LABELS,
    interval: Annotated[
        int, Query(ge=0, le=10080, description="independence interval, minutes")
    ] = 30,
    period: Annotated[Period, Query(description="bins for counts and occupancy")] = Period.MONTH,
    since: Annotated[datetime | None, Query(description="camera-local, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="camera-local, exclusive")] = None,
    per: Annotated[
        Per, Query(description="detection: independent detections; event: sequences")
    ] = Per.DETECTION,
) -> AnalyticsQuery:
    return AnalyticsQuery(source, interval, period, _naive(since), _naive(until), per)


QueryDep = Annotated[AnalyticsQuery, Depends(analytics_query)]


def _naive(when: datetime | None) -> datetime | None:
    """Capture times are camera-local wall clock: an offset in the query is dropped."""
    return when.replace(tzinfo=None) if when else None


def _report(request: Request, query: AnalyticsQuery) -> ActivityReport:
    project = project_of(request)
    with project.db.session() as session:
        report = activity_report(session, project.classes, project.config.thresholds, query)
        job = request_rebuild(session)  # sums missing after an upgrade: a job builds them
        if job is not None:
            report.computed_note += f" (job {job} is building them)"
        return report


@router.get("/analytics")
def analytics(request: Request, actor: ActorDep, query: QueryDep) -> dict[str, Any]:
    """Counts over time, diel activity, rates per 100 trap-nights and naive occupancy."""
    return _report(request, query).as_dict()


@router.get("/analytics/{table}.csv", response_class=Response)
def analytics_csv(request: Request, actor: ActorDep, table: Table, query: QueryDep) -> Response:
    """One table of the report as CSV (counts, diel, rates, occupancy, sites, individuals)."""
    text = _report(request, query).csv(str(table.value))
    headers = {"Content-Disposition": f'attachment; filename="{table.value}.csv"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


@pages.get("/analytics", response_class=HTMLResponse)
def analytics_page(request: Request, actor: PageActor, query: QueryDep) -> Response:
    report = _report(request, query)
    params = {
        "source": str(query.source),
        "interval": query.interval_minutes,
        "period": str(query.period),
        "since": query.since.isoformat() if query.since else "",
        "until": query.until.isoformat() if query.until else "",
        "per": str(query.per),
    }
    return render(
        request,
        "analytics.html",
        actor,
        report=report,
        params=params,
        qs=urlencode({k: v for k, v in params.items() if v != ""}),
        tables=TABLES,
        sources=[str(s) for s in Source],
        periods=[str(p) for p in Period],
        pers=[str(p) for p in Per],
        charts=charts(report),
    )
